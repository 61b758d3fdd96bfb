#!/usr/bin/env bash
# The lab must not use the scanner's grammar or verdict code: its ground truth comes from its
# own scenario definitions, so that it can catch the scanner's mistakes. Comments may name
# those modules; code may not.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '(crate|stsscan|super)::(records|assess)\b' src/lab | grep -vE '^[^:]+:[0-9]+:\s*//'; then
  echo "error: src/lab uses records/assess (see above); the lab must stay independent" >&2
  exit 1
fi
echo "layering ok: src/lab does not use records or assess"
