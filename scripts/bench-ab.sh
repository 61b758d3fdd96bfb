#!/usr/bin/env bash
# A/B comparison of scanner runs on one lab: runs each RUN in turn, ROUNDS times, against the
# same generated realistic world (bench.sh's lab, flags and transport) and prints each run's
# scanner CPU (user + sys) and CPU per domain, wall time and rate, and peak RSS. Alternating
# runs on one lab is the fair way to compare on a noisy machine.
#
#   cp target/release/stsscan /tmp/before   # ... change, rebuild ...
#   scripts/bench-ab.sh 20000 3 /tmp/before target/release/stsscan
#   scripts/bench-ab.sh 100000 2 "$B" "$B --concurrency 150"         # one binary, two settings
#   scripts/bench-ab.sh 100000 2 "$B" "MIMALLOC_PURGE_DELAY=-1 $B"   # an environment variable
#   WORLD=1000000 scripts/bench-ab.sh 100000 2 "$B"   # the first 100 000 names of a 1 M world
#   PIN_LAB=1 PIN_SCAN=0 scripts/bench-ab.sh 50000 2 "$B"   # lab and scanner on their own cores
#
# A RUN is one word: `[NAME=VALUE ...] BINARY [SCAN FLAGS ...]`. The assignments go to the
# scanner's environment; the flags are added to bench.sh's and replace a flag of the same
# name there (e.g. --concurrency). WORLD (default DOMAINS) sizes the lab's world; the runs scan
# its first DOMAINS names. PIN_LAB and PIN_SCAN are taskset CPU lists for the lab and the
# scanner. The lab is examples/bench_lab from BENCH_TARGET_DIR (built if missing); lab start
# and scan flags come from scripts/bench-lib.sh. Loopback only; ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: $0 DOMAINS ROUNDS RUN... (RUN: '[NAME=VALUE ...] BINARY [SCAN FLAGS ...]')" >&2; exit 2; }
[[ $# -ge 3 ]] || usage
N=$1; R=$2; shift 2
WORLD=${WORLD:-$N}
for v in N R WORLD; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ab: error: $v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
((WORLD >= N)) || { echo "bench-ab: error: WORLD ($WORLD) is smaller than DOMAINS ($N)" >&2; exit 2; }
# parse_run RUN: sets RUN_ENVS (the leading NAME=VALUE words), RUN_BIN and RUN_FLAGS.
parse_run() {
  local words
  read -r -a words <<<"$1"
  RUN_ENVS=()
  while [[ ${#words[@]} -gt 0 && "${words[0]}" == *=* ]]; do RUN_ENVS+=("${words[0]}"); words=("${words[@]:1}"); done
  RUN_BIN=${words[0]:-}
  RUN_FLAGS=("${words[@]:1}")
}
for spec in "$@"; do
  parse_run "$spec"
  [[ -n "$RUN_BIN" && -x "$RUN_BIN" ]] \
    || { echo "bench-ab: error: the run '$spec' names no executable binary" >&2; exit 2; }
done
export CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-perf}
cargo build --release -q --example bench_lab
BIN=$CARGO_TARGET_DIR/release
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
work=$(mktemp -d /tmp/stsscan-ab.XXXXXX)
trap 'stop_lab "$work"; rm -rf "$work"' EXIT
start_lab "$work" "$WORLD" "${BLOCK:-213}" 0
if [[ -n "${PIN_LAB:-}" ]]; then
  for p in $(pgrep -P "$LAB_PID"); do taskset -a -p -c "$PIN_LAB" "$p" >/dev/null; done
fi
scan_flags "$work/lab-ca.pem"
head -n "$N" "$work/domains.txt" >"$work/list.txt"
pin=()
[[ -n "${PIN_SCAN:-}" ]] && pin=(taskset -c "$PIN_SCAN")
echo "machine: $(machine), load $(cut -d' ' -f1-3 /proc/loadavg); $N domains of a $WORLD-domain world"
for r in $(seq 1 "$R"); do
  for spec in "$@"; do
    parse_run "$spec"
    # bench.sh's flags, without those the run sets itself (a flag and, if it has one, its value)
    flags=()
    skip=0
    for f in "${SCAN_FLAGS[@]}"; do
      if ((skip)) && [[ "$f" != --* ]]; then skip=0; continue; fi
      skip=0
      if [[ "$f" == --* ]] && printf '%s\n' ${RUN_FLAGS[@]+"${RUN_FLAGS[@]}"} | grep -qxF -- "$f"; then
        skip=1
        continue
      fi
      flags+=("$f")
    done
    rm -rf "$work/out"
    env ${RUN_ENVS[@]+"${RUN_ENVS[@]}"} ${pin[@]+"${pin[@]}"} /usr/bin/time -o "$work/time" -f "%U %S %e %M" \
      "$RUN_BIN" scan "$work/list.txt" -o "$work/out" "${flags[@]}" ${RUN_FLAGS[@]+"${RUN_FLAGS[@]}"} \
      --progress quiet >/dev/null 2>"$work/scan.log" \
      || { echo "bench-ab: error: the run '$spec' failed:" >&2; tail -5 "$work/scan.log" >&2; exit 1; }
    read -r u s e m <"$work/time"
    awk -v spec="$spec" -v r="$r" -v u="$u" -v s="$s" -v e="$e" -v m="$m" -v n="$N" 'BEGIN {
      printf "%s round %d: CPU %.2f s = %.1f µs/domain (user %.2f, sys %.2f), wall %.1f s = %.0f domains/s, peak RSS %d MiB\n",
        spec, r, u + s, (u + s) * 1e6 / n, u, s, e, (e > 0 ? n / e : 0), m / 1024 }'
  done
done
