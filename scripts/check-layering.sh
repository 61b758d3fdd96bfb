#!/usr/bin/env bash
# The lab must not use the scanner's grammar or verdict code: its ground truth comes from its
# own scenario definitions, so that it can catch the scanner's mistakes.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '(crate|stsscan)::(records|assess)\b|use super::super::(records|assess)' src/lab; then
  echo "error: src/lab imports records/assess (see above); the lab must stay independent" >&2
  exit 1
fi
echo "layering ok: src/lab does not import records or assess"
