#!/usr/bin/env bash
# Profiles the scanner (not the lab) on a generated realistic lab world with perf.
#
#   scripts/profile.sh                 # 20 000 domains, multiplexed DNS transport
#   N=50000 TRANSPORT=hickory scripts/profile.sh
#   EXTRA="--probe none --fetch-policy never" scripts/profile.sh   # more scan flags (DNS only)
#
# Same set-up as scripts/bench.sh (release build, lab in its own process, same scan flags);
# records the scanner with `perf record --call-graph dwarf` and prints the top of the flat
# (self) and inclusive (children) reports, and the samples by part of the scan and kind of
# code (scripts/perf_groups.py). perf.data stays in OUT (default target dir/profile)
# for `perf report -i` or a flamegraph. Everything stays on loopback and ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20000}
TRANSPORT=${TRANSPORT:-multiplexed}
CONC=${CONC:-500}
BLOCK=${BLOCK:-212}
FREQ=${FREQ:-299}
export CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-perf}
BIN=$CARGO_TARGET_DIR/release
OUT=${OUT:-$CARGO_TARGET_DIR/profile}
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
cargo build --release -q --bin stsscan --example bench_lab
mkdir -p "$OUT"
work=$(mktemp -d /tmp/stsscan-prof.XXXXXX)
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
trap 'stop_lab "$work"; rm -rf "$work"' EXIT
start_lab "$work" "$N" "$BLOCK" 0
scan_flags "$work/lab-ca.pem"
read -r -a EXTRA_FLAGS <<<"${EXTRA:-}"
perf record -q -F "$FREQ" --call-graph dwarf,32768 -o "$OUT/perf.data" -- \
  "$BIN/stsscan" scan "$work/domains.txt" -o "$work/out" "${SCAN_FLAGS[@]}" "${EXTRA_FLAGS[@]}" \
  --progress lines 2>"$OUT/scan.log" >/dev/null
grep -E "STARTTLS probes" "$OUT/scan.log" || true
# (no `head` in a pipeline: it would end perf with SIGPIPE under pipefail)
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9.]+%' >"$OUT/self.all" || true
perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9.]+%' >"$OUT/children.all" || true
sed -n "1,${TOP:-40}p" "$OUT/self.all" >"$OUT/self.txt"
sed -n "1,${TOP:-60}p" "$OUT/children.all" >"$OUT/children.txt"
perf script -i "$OUT/perf.data" -F comm,ip,sym 2>/dev/null \
  | python3 scripts/perf_groups.py >"$OUT/groups.txt" || true
echo "== self (top)"; cat "$OUT/self.txt"
echo "== inclusive (top)"; cat "$OUT/children.txt"
echo "== by part of the scan (scripts/perf_groups.py)"; cat "$OUT/groups.txt"
