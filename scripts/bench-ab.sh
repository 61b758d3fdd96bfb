#!/usr/bin/env bash
# A/B comparison of scanner binaries on one lab: runs each binary in turn, ROUNDS times,
# against the same generated realistic world (bench.sh's lab, flags and transport) and prints
# each run's scanner CPU (user + sys), wall time and peak RSS. Alternating runs on one lab is
# the fair way to compare builds on a noisy machine.
#
#   cp target/release/stsscan /tmp/before   # ... change, rebuild ...
#   scripts/bench-ab.sh 20000 3 /tmp/before target/release/stsscan
#
# The lab is examples/bench_lab from BENCH_TARGET_DIR (built if missing); lab start and scan
# flags come from scripts/bench-lib.sh. Loopback only; ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 3 ]] || { echo "usage: $0 DOMAINS ROUNDS BINARY..." >&2; exit 2; }
N=$1; R=$2; shift 2
export CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-perf}
cargo build --release -q --example bench_lab
BIN=$CARGO_TARGET_DIR/release
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
work=$(mktemp -d /tmp/stsscan-ab.XXXXXX)
trap 'stop_lab "$work"; rm -rf "$work"' EXIT
start_lab "$work" "$N" "${BLOCK:-213}" 0
scan_flags "$work/lab-ca.pem"
for r in $(seq 1 "$R"); do
  for b in "$@"; do
    rm -rf "$work/out"
    /usr/bin/time -o "$work/time" -f "%U %S %e %M" "$b" scan "$work/domains.txt" -o "$work/out" \
      "${SCAN_FLAGS[@]}" --progress quiet >/dev/null 2>"$work/scan.log" \
      || { echo "$b failed:" >&2; tail -5 "$work/scan.log" >&2; exit 1; }
    read -r u s e m <"$work/time"
    printf '%s round %d: CPU %.2f s (user %.2f, sys %.2f), wall %.1f s, peak RSS %d MiB\n' \
      "$b" "$r" "$(echo "$u + $s" | bc)" "$u" "$s" "$e" "$((m / 1024))"
  done
done
