#!/usr/bin/env bash
# Profiles the scanner (not the lab) on a generated realistic lab world with perf.
#
#   scripts/profile.sh                 # 20 000 domains, multiplexed DNS transport
#   N=50000 TRANSPORT=hickory scripts/profile.sh
#
# Same set-up as scripts/bench.sh (release build, lab in its own process, same scan flags);
# records the scanner with `perf record --call-graph dwarf` and prints the top of the flat
# (self) and inclusive (children) reports. perf.data stays in OUT (default target dir/profile)
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
labpid=
cleanup() { touch "$work/stop"; [[ -n "$labpid" ]] && wait "$labpid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$BIN/examples/bench_lab" "$work" "$N" "$BLOCK" 0 3600 >"$work/lab.log" 2>&1 &
labpid=$!
for _ in $(seq 1 600); do [[ -s "$work/lab.env" ]] && break; sleep 0.5; done
[[ -s "$work/lab.env" ]] || { echo "lab did not start" >&2; cat "$work/lab.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/lab.env"
perf record -q -F "$FREQ" --call-graph dwarf,32768 -o "$OUT/perf.data" -- \
  "$BIN/stsscan" scan "$work/domains.txt" -o "$work/out" \
  --resolver "$DNS" --allow-private --ca-file "$work/lab-ca.pem" --no-default-roots \
  --https-port "$HTTPS_PORT" --smtp-port "$SMTP_PORT" --concurrency "$CONC" \
  --dns-timeout 2s --dns-attempts 3 --connect-timeout 2s --fetch-timeout 3s --smtp-timeout 3s \
  --session-deadline 8s --per-address-rate 10000 --per-address-connections 4 \
  --dns-transport "$TRANSPORT" --progress lines 2>"$OUT/scan.log" >/dev/null
grep -E "STARTTLS probes" "$OUT/scan.log" || true
# (no `head` in a pipeline: it would end perf with SIGPIPE under pipefail)
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' >"$OUT/self.all" || true
perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9]' >"$OUT/children.all" || true
sed -n "1,${TOP:-40}p" "$OUT/self.all" >"$OUT/self.txt"
sed -n "1,${TOP:-60}p" "$OUT/children.all" >"$OUT/children.txt"
echo "== self (top)"; cat "$OUT/self.txt"
echo "== inclusive (top)"; cat "$OUT/children.txt"
