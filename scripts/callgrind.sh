#!/usr/bin/env bash
# Instruction counts (valgrind's callgrind) of the scanner per domain and of the floor's work,
# and their ratio: a second reading of issue 6's "≤ 2 × the floor" that does not move with the
# load of a shared VM (CPU time here moves by up to ≈ 20 % between identical runs).
#
#   scripts/callgrind.sh              # 10 000 domains
#   N=2000 CONC=8 scripts/callgrind.sh
#
# 1. The floor (benches/floor_count.rs, the work of benches/floor.rs repeated K and 2K times;
#    the difference divided by K, so one-time costs cancel): instructions of the four DNS
#    exchanges of a domain, of the client half of one full TLS handshake, of one signature
#    verification and of the Parquet rows of 1 000 domains.
# 2. The scanner under callgrind on a generated realistic lab world (the lab runs natively in
#    its own process, as in bench.sh), minus an empty scan under callgrind (start-up and
#    shut-down), divided by N. The floor is weighted by this scan's mix exactly as bench.sh
#    does (DNS queries counted by the lab, probes + policy fetches, one row set per domain).
# 3. The same scan natively on a fresh lab, to check that the outcome counts match: valgrind
#    runs the scanner ≈ 25 × slower, so the scan runs at concurrency CONC (16) with five times
#    bench.sh's timeouts, and the check makes sure that no time-out changed the work.
#
# Callgrind counts user-space instructions only: the kernel's share of the scanner's CPU
# (sys time: socket calls) is outside both sides of this ratio; bench.sh's ratio includes it.
# Valgrind's virtual CPU has no SHA extensions, AVX-512 or ADX, so some crypto code paths
# differ from native ones (the same for the floor and the scanner where they share code).
# Results stay in OUT (default: target dir/callgrind): the callgrind.out files for
# callgrind_annotate or kcachegrind, and self/inclusive top lists. Everything stays on loopback
# and ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}
CONC=${CONC:-16}
BLOCK=${BLOCK:-216}
TOP=${TOP:-40}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "callgrind: error: N must be a positive integer, got '$N'" >&2; exit 2; }
[[ "$CONC" =~ ^[1-9][0-9]*$ ]] || { echo "callgrind: error: CONC must be a positive integer, got '$CONC'" >&2; exit 2; }
for tool in valgrind callgrind_annotate jq bc; do
  command -v "$tool" >/dev/null || { echo "callgrind: error: $tool is not installed (apt-get install valgrind jq bc)" >&2; exit 1; }
done
export CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-perf}
BIN=$CARGO_TARGET_DIR/release
OUT=${OUT:-$CARGO_TARGET_DIR/callgrind}
echo "building release binaries in $CARGO_TARGET_DIR ..." >&2
cargo build --release -q --bin stsscan --example bench_lab
FC=$(cargo build --release -q --bench floor_count --message-format=json \
  | jq -r 'select(.target.name == "floor_count" and .executable != null) | .executable')
[[ -x "$FC" ]] || { echo "callgrind: error: floor_count was not built" >&2; exit 1; }
mkdir -p "$OUT"
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
bench_workdir callgrind
echo "machine: $(machine); $(valgrind --version)"

# total_ir FILE: the instruction count a callgrind output file records.
total_ir() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

# count OP TOGGLE K: instructions of one repetition of OP, collected inside TOGGLE only.
count() {
  local op=$1 toggle=$2 k=$3 n ir=()
  for n in "$k" $((2 * k)); do
    valgrind --tool=callgrind --toggle-collect="$toggle" --log-file="$OUT/valgrind-floor.log" \
      --callgrind-out-file="$OUT/floor-$op-$n.out" "$FC" "$op" "$n"
    ir+=("$(total_ir "$OUT/floor-$op-$n.out")")
  done
  echo "(${ir[1]} - ${ir[0]}) / $k" | bc -l
}

echo "counting the floor ..." >&2
DNS4=$(count dns4 '*floor_op_dns4*' 100)
TLS=$(count handshake '*floor_client_*' 20)
BOTH=$(count handshake '*floor_op_handshake*' 20)
PQ=$(count parquet '*floor_op_parquet*' 2)
NOMEMO=$(count webpki_no_memo '*floor_op_webpki_no_memo*' 40)
MEMO=$(count judge_memo_hit '*floor_op_judge_memo_hit*' 40)
SIG=$(echo "($NOMEMO - $MEMO) / 2" | bc -l)
printf 'floor (instructions): DNS exchange %.0f, full TLS client handshake %.0f (both halves %.0f), one signature verification %.0f, Parquet %.0f per domain\n' \
  "$(echo "$DNS4 / 4" | bc -l)" "$TLS" "$BOTH" "$SIG" "$(echo "$PQ / 1000" | bc -l)"

# The scan flags of bench.sh at concurrency CONC, every time-out five times longer.
scan_flags_slow() {
  scan_flags "$1"
  local i
  for i in "${!SCAN_FLAGS[@]}"; do
    case "${SCAN_FLAGS[$i]}" in
      --dns-timeout | --connect-timeout) SCAN_FLAGS[i + 1]=10s ;;
      --fetch-timeout | --smtp-timeout) SCAN_FLAGS[i + 1]=15s ;;
      --session-deadline) SCAN_FLAGS[i + 1]=40s ;;
    esac
  done
}

# outcomes LOG: the scan summary's outcome counts, without timings and cache statistics
# (which depend on scheduling, not on the work).
outcomes() { grep -E '^  ' "$1" | grep -v 'manifest:' | sed -E 's/; address cache:.*//'; }

echo "scanning $N domains under callgrind (concurrency $CONC) ..." >&2
lab_dir=$work/cg
mkdir -p "$lab_dir"
start_lab "$lab_dir" "$N" "$BLOCK" 0
scan_flags_slow "$lab_dir/lab-ca.pem"
: >"$work/empty.txt"
valgrind --tool=callgrind --log-file="$OUT/valgrind-empty.log" --callgrind-out-file="$OUT/scan-empty.out" \
  "$BIN/stsscan" scan "$work/empty.txt" -o "$work/cg/out-empty" "${SCAN_FLAGS[@]}" --progress quiet
valgrind --tool=callgrind --log-file="$OUT/valgrind-scan.log" --callgrind-out-file="$OUT/scan.out" \
  "$BIN/stsscan" scan "$lab_dir/domains.txt" -o "$work/cg/out" "${SCAN_FLAGS[@]}" --progress lines \
  2>"$OUT/scan.log" >/dev/null
stop_lab "$lab_dir"; lab_dir=
lab_counters "$work/cg"

echo "the same scan natively, to compare the outcomes ..." >&2
lab_dir=$work/native
mkdir -p "$lab_dir"
start_lab "$lab_dir" "$N" "$BLOCK" 0
scan_flags_slow "$lab_dir/lab-ca.pem"
/usr/bin/time -o "$work/native.time" -f "%U %S" "$BIN/stsscan" scan "$lab_dir/domains.txt" \
  -o "$work/native/out" "${SCAN_FLAGS[@]}" --progress lines 2>"$OUT/scan-native.log" >/dev/null
stop_lab "$lab_dir"; lab_dir=
if ! diff <(outcomes "$OUT/scan.log") <(outcomes "$OUT/scan-native.log") >"$OUT/outcomes.diff"; then
  echo "callgrind: error: the scan under callgrind reached other outcomes than the native scan (a time-out?); see $OUT/outcomes.diff; try a lower CONC" >&2
  exit 1
fi
echo "outcomes: identical to the native scan's ($(outcomes "$OUT/scan.log" | wc -l) summary lines)"

SCAN=$(total_ir "$OUT/scan.out")
EMPTY=$(total_ir "$OUT/scan-empty.out")
scan_summary "$OUT/scan.log"
per_domain=$(echo "($SCAN - $EMPTY) / $N" | bc -l)
dns=$(echo "$LAB_DNS_QUERIES / $N" | bc -l)
handshakes=$(echo "($PROBES + $FETCHES) / $N" | bc -l)
read -r floor floor_memo floor_memo2 < <(floor_for_mix "$dns" "$handshakes" "$DNS4" "$TLS" "$PQ" "$SIG")
read -r user sys <"$work/native.time"
printf 'scan: %.0f instructions in all, %.0f for an empty list: %.0f per domain; mix: %.2f DNS queries, %.3f handshakes (%d probes + %d policy fetches) per domain\n' \
  "$SCAN" "$EMPTY" "$per_domain" "$dns" "$handshakes" "$PROBES" "$FETCHES"
printf 'floor for this mix: %.0f instructions per domain (%.0f with memoized intermediates, %.0f with both chain signatures memoized)\n' \
  "$floor" "$floor_memo" "$floor_memo2"
printf 'scanner instructions per domain = %.2f x the floor, %.2f x the stricter floor, %.2f x the strictest (user space; target <= 2x)\n' \
  "$(echo "$per_domain / $floor" | bc -l)" "$(echo "$per_domain / $floor_memo" | bc -l)" "$(echo "$per_domain / $floor_memo2" | bc -l)"
printf 'native scan of the same world: %.0f µs CPU per domain, %.0f %% of it in the kernel\n' \
  "$(echo "($user + $sys) * 1000000 / $N" | bc -l)" "$(echo "100 * $sys / ($user + $sys)" | bc -l)"

callgrind_annotate --auto=no --threshold=100 "$OUT/scan.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' >"$OUT/self.all" || true
echo "== where the scan's instructions go (self, by origin; start-up included)"
awk -f scripts/callgrind/categories.awk "$OUT/self.all"
grep -v 'PROGRAM TOTALS' "$OUT/self.all" | sed -n "1,${TOP}p" \
  | sed -E 's#/root/.cargo/registry/src/[^/]+/##; s# \[[^]]*\]$##' >"$OUT/self.txt"
echo "== self (top $TOP functions; all in $OUT/self.all)"; cat "$OUT/self.txt"
