#!/usr/bin/env bash
# Measures the lab servers: DNS queries/s (dnsperf, UDP, ~SECS seconds), TLS handshakes/s
# of an HTTPS host with one client (openssl s_time -new, SECS seconds), and full TLS
# handshakes/s with CONC concurrent tokio-rustls clients against one HTTPS host and one SMTP
# host via STARTTLS (examples/lab_handshakes.rs, SECS seconds each), against the test world
# served by the ignored test `servers::perf::serve_lab_for_perf` (dev builds of lab and
# clients, dependencies at opt-level 1: numbers are lower than release builds would give).
# Everything runs on loopback and ends by itself.
#
#   scripts/lab-perf.sh            # SECS=10 CONC=64
#   SECS=5 CONC=256 scripts/lab-perf.sh
#   WORKERS=1 scripts/lab-perf.sh  # one UDP DNS worker task (default 2)
#
# Needs: dnsperf (Debian package dnsperf), openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
CONC=${CONC:-64}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
for t in dnsperf openssl; do
  command -v "$t" >/dev/null || { echo "error: $t not installed" >&2; exit 2; }
done
work=$(mktemp -d)
info="$work/lab.env"
cleanup() { touch "$info.stop"; if [[ -n "${pid:-}" ]]; then wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

echo "building the lab test binary and the handshake client..." >&2
cargo test --test lab --no-run -q 2>/dev/null || cargo test --test lab --no-run
cargo build --example lab_handshakes -q 2>/dev/null || cargo build --example lab_handshakes
hs="$CARGO_TARGET_DIR/debug/examples/lab_handshakes"
STSSCAN_LAB_PERF_WORKERS=${WORKERS:-2} STSSCAN_LAB_PERF_INFO="$info" STSSCAN_LAB_PERF_SECONDS=$((4 * SECS + 60)) \
  cargo test -q --test lab servers::perf::serve_lab_for_perf -- --ignored --exact --nocapture \
  >"$work/lab.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [[ -s "$info" ]] && break; sleep 0.5; done
[[ -s "$info" ]] || { echo "error: lab did not start" >&2; cat "$work/lab.log" >&2; exit 1; }
# shellcheck disable=SC1090
source "$info"
echo "lab: DNS $DNS_IP:$DNS_PORT, HTTPS $HTTPS, SMTP $SMTP; machine: $(nproc) cores, $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg)"

q="$work/queries.txt"
for _ in $(seq 1 200); do
  printf '%s\n' "_mta-sts.valid.test TXT" "valid.test MX" "mta-sts.valid.test A" \
    "multi.test TXT" "nx.test TXT" "valid.test AAAA" "cname.test TXT" "nullmx.test MX"
done >"$q"

echo "== DNS (dnsperf, UDP, ${SECS}s, 4 clients, up to 200 outstanding)"
dnsperf -s "$DNS_IP" -p "$DNS_PORT" -d "$q" -l "$SECS" -c 4 -T 2 -q 200 -t 2 2>&1 |
  grep -E "Queries sent|Queries completed|Queries lost|Queries per second|Average Latency|Response codes"

echo "== TLS handshakes (openssl s_time -new, ${SECS}s, no session reuse)"
openssl s_time -connect "$HTTPS" -new -time "$SECS" 2>&1 | grep -E "connections in|connections/user sec" || true

echo "== TLS handshakes, $CONC concurrent tokio-rustls clients, ${SECS}s each (full, verified, no resumption)"
"$hs" https "$HTTPS" mta-sts.valid.test "$CA" "$CONC" "$SECS"
"$hs" smtp "$SMTP" mx.valid.test "$CA" "$CONC" "$SECS"

touch "$info.stop"
wait "$pid" || true
grep -E "lab served" "$work/lab.log" || true
