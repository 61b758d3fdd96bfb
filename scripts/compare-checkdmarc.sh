#!/usr/bin/env bash
# Side-by-side comparison of stsscan and checkdmarc 6.x (issue 6, item 3) on the same sample
# of a generated lab world, in one run: throughput of both, and where their MTA-STS, TLS-RPT
# and STARTTLS verdicts differ (with the lab's ground truth next to each difference).
#
#   sudo scripts/compare-checkdmarc.sh                 # 2 000 domains of a 20 000-domain realistic world
#   sudo N=500 MIX=adversarial scripts/compare-checkdmarc.sh
#   sudo scripts/compare-checkdmarc.sh -n 300 --mix adversarial --no-subset
#
# Options (each also an environment variable):
#   -n N / N=              domains in the sample (default 2000)
#   --world W / WORLD=     domains in the generated world the sample is drawn from (default 20000)
#   --mix M / MIX=         realistic (default) or adversarial
#   --seed S / SEED=       world seed and sampling seed (default 1)
#   --no-subset / SUBSET=0 skip the second checkdmarc run limited to the three checks compared
#   --no-world / FULL=0    skip the extra stsscan scan of the whole world (its steady rate)
#   --out DIR / OUT=       where results are kept (default target/compare-checkdmarc)
#   CD_TIME_LIMIT=         seconds each checkdmarc run may take (default 1800); the run fails
#                          with a clear message when exceeded
#   --dns-delay-ms MS / DNS_DELAY_MS=  delay every lab DNS answer by MS milliseconds (default 0:
#                          loopback speed, checkdmarc's best case; 50 is a realistic resolver)
#   CONC=, TRANSPORT=      stsscan --concurrency (500) and --dns-transport (multiplexed, the default)
#   PROBE_DEDUP=           stsscan --probe-dedup (address, the default; address-once shows what
#                          probing each address only once costs in verdicts)
#   VENV=                  the virtualenv (default target/checkdmarc-venv, created and reused)
#   CARGO_TARGET_DIR=      the cargo target dir of the release build (default target)
#
# Needs root (a network namespace and ports 53/443/25), python3 with venv, and PyPI for the
# first run (checkdmarc 6.x and duckdb are installed into the virtualenv). Not part of CI.
#
# Everything runs inside a fresh network namespace `stsscan-cmp-PID` with only `lo` up: the
# lab serves its world on that namespace's loopback, and /etc/netns/NAME/resolv.conf (which
# `ip netns exec` mounts over /etc/resolv.conf) points at the lab's DNS server, so
# checkdmarc's OS-resolver lookups (requests, smtplib) and dnspython's default resolver reach
# the lab and nothing else; no route leaves the namespace. REQUESTS_CA_BUNDLE and
# SSL_CERT_FILE point at the lab's root CA. The namespace, its resolv.conf and the lab
# process are removed on exit, failure or Ctrl-C.
#
# Timing is wall clock for the whole sample, process start included, measured with
# /usr/bin/time (which also gives CPU seconds and peak RSS). checkdmarc is strictly
# sequential and in its CLI form also checks SOA, NS, SPF, DMARC, BIMI and DNSSEC; the
# "subset" run (scripts/compare/checkdmarc_subset.py) calls only checkdmarc's own
# check_mta_sts, check_mx(check_mx_tls=True) and check_smtp_tls_reporting, the work stsscan
# does, so the ratio is reported against both. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

die() { echo "compare-checkdmarc: error: $*" >&2; exit 1; }
say() { echo "compare-checkdmarc: $*" >&2; }

N=${N:-2000}
WORLD=${WORLD:-20000}
MIX=${MIX:-realistic}
SEED=${SEED:-1}
SUBSET=${SUBSET:-1}
FULL=${FULL:-1}
OUT=${OUT:-$ROOT/target/compare-checkdmarc}
CD_TIME_LIMIT=${CD_TIME_LIMIT:-1800}
CONC=${CONC:-500}
TRANSPORT=${TRANSPORT:-multiplexed}
PROBE_DEDUP=${PROBE_DEDUP:-address}
VENV=${VENV:-$ROOT/target/checkdmarc-venv}
BLOCK=${BLOCK:-64}
DNS_DELAY_MS=${DNS_DELAY_MS:-0}
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) N=${2:?-n needs a number}; shift 2 ;;
    --world) WORLD=${2:?--world needs a number}; shift 2 ;;
    --mix) MIX=${2:?--mix needs realistic or adversarial}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    --no-subset) SUBSET=0; shift ;;
    --no-world) FULL=0; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --dns-delay-ms) DNS_DELAY_MS=${2:?--dns-delay-ms needs a number}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
[[ "$WORLD" =~ ^[1-9][0-9]*$ ]] || die "WORLD must be a positive integer, got '$WORLD'"
[[ "$DNS_DELAY_MS" =~ ^[0-9]+$ ]] || die "DNS_DELAY_MS must be a whole number of milliseconds, got '$DNS_DELAY_MS'"
((N <= WORLD)) || die "the sample (N=$N) cannot be larger than the world (WORLD=$WORLD)"
[[ "$MIX" == realistic || "$MIX" == adversarial ]] || die "MIX must be realistic or adversarial, got '$MIX'"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer, got '$SEED'"
[[ "$CD_TIME_LIMIT" =~ ^[1-9][0-9]*$ ]] || die "CD_TIME_LIMIT must be a positive number of seconds"
((EUID == 0)) || die "must run as root (it creates a network namespace and binds ports 53/443/25)"
IP=$(command -v ip || echo /usr/sbin/ip)
[[ -x "$IP" ]] || die "the ip command (iproute2) is missing"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
command -v python3 >/dev/null || die "python3 is missing"

# Only a directory this script made (it holds the marker) is ever emptied.
if [[ -e "$OUT" && ! -e "$OUT/.compare-checkdmarc" && -n "$(ls -A "$OUT" 2>/dev/null)" ]]; then
  die "$OUT exists and was not made by this script; choose another --out"
fi

NS=stsscan-cmp-$$
labpid=
ns_created=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$labpid" ]] && kill -0 "$labpid" 2>/dev/null; then
    kill -INT "$labpid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$labpid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$labpid" 2>/dev/null || true
    wait "$labpid" 2>/dev/null || true
  fi
  if ((ns_created)); then
    # Anything still inside the namespace was started by this script (checkdmarc after a
    # time limit, a stray child): end it by pid before deleting the namespace.
    for p in $("$IP" netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    "$IP" netns del "$NS" 2>/dev/null || say "warning: could not delete network namespace $NS"
    rm -rf "/etc/netns/$NS"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# --- build and install --------------------------------------------------------------------
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
say "building stsscan (release) in $CARGO_TARGET_DIR ..."
cargo build --release --locked -q --bin stsscan || die "cargo build --release failed"
BIN=$CARGO_TARGET_DIR/release/stsscan
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

if [[ ! -x "$VENV/bin/checkdmarc" || ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  say "installing checkdmarc 6.x and duckdb into $VENV ..."
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'checkdmarc==6.*' duckdb ||
    die "pip install 'checkdmarc==6.*' duckdb failed"
fi
CD_VERSION=$("$VENV/bin/checkdmarc" --version 2>/dev/null) || die "checkdmarc does not run from $VENV"
[[ "$CD_VERSION" == 6.* ]] || die "expected checkdmarc 6.x in $VENV, found $CD_VERSION (delete the venv to reinstall)"

# --- work directory, world, truth, sample ---------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT/lab"
touch "$OUT/.compare-checkdmarc"
WORLD_ARGS=(--seed "$SEED" --domains "$WORLD" --mix "$MIX" --block "$BLOCK")
say "writing the ground truth of the world (seed $SEED, $WORLD domains, $MIX) ..."
"$BIN" lab truth "${WORLD_ARGS[@]}" --format jsonl --out "$OUT/truth.jsonl" ||
  die "stsscan lab truth failed"

# --- the namespace and the lab ---------------------------------------------------------------
"$IP" netns add "$NS" || die "ip netns add $NS failed"
ns_created=1
"$IP" -n "$NS" link set lo up || die "cannot bring lo up in $NS"
mkdir -p "/etc/netns/$NS"
# Until the lab has printed its address, the namespace resolves nothing.
echo "nameserver 127.$BLOCK.0.53" >"/etc/netns/$NS/resolv.conf"

say "starting the lab in network namespace $NS (DNS answers delayed by $DNS_DELAY_MS ms) ..."
"$IP" netns exec "$NS" "$BIN" lab serve "${WORLD_ARGS[@]}" --dir "$OUT/lab" --dns-delay-ms "$DNS_DELAY_MS" \
  >"$OUT/lab.log" 2>&1 &
labpid=$!
for _ in $(seq 1 600); do
  grep -q "^Ctrl-C to stop" "$OUT/lab.log" 2>/dev/null && break
  kill -0 "$labpid" 2>/dev/null || die "the lab exited before it was ready: $(tail -n 1 "$OUT/lab.log")"
  sleep 0.2
done
grep -q "^Ctrl-C to stop" "$OUT/lab.log" || die "the lab was not ready after 120 s (see $OUT/lab.log)"
DNS=$(awk '$1 == "dns" {print $2}' "$OUT/lab.log")
CA=$(awk '$1 == "ca" {print $2}' "$OUT/lab.log")
LIST=$(awk '$1 == "domains" {print $2}' "$OUT/lab.log")
read -r HTTPS_PORT SMTP_PORT < <(awk '$1 == "ports" {print $5, $7}' "$OUT/lab.log") || true
DNS_IP=${DNS%:*}
DNS_PORT=${DNS##*:}
[[ -n "$DNS_IP" && -s "$CA" && -s "$LIST" ]] || die "cannot read the lab's address, CA or list from $OUT/lab.log"
[[ "$DNS_PORT" == 53 && "$HTTPS_PORT" == 443 && "$SMTP_PORT" == 25 ]] ||
  die "the lab did not get ports 53/443/25 (got $DNS_PORT/$HTTPS_PORT/$SMTP_PORT); checkdmarc only uses those"
echo "nameserver $DNS_IP" >"/etc/netns/$NS/resolv.conf"
say "lab ready: DNS $DNS, CA $CA"

shuf -n "$N" --random-source=<(yes "$SEED") "$LIST" >"$OUT/sample.txt"
[[ $(wc -l <"$OUT/sample.txt") == "$N" ]] || die "could not sample $N domains from $LIST"

# A canary: the namespace's resolver answers from the lab (else every checkdmarc lookup would
# fail and the comparison would be meaningless).
first=$(head -n 1 "$OUT/sample.txt")
"$IP" netns exec "$NS" "$VENV/bin/python" -c '
import sys, dns.resolver
r = dns.resolver.Resolver()
assert r.nameservers == [sys.argv[2]], r.nameservers
try:
    r.resolve(sys.argv[1], "SOA", lifetime=5)
except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
    pass
' "$first" "$DNS_IP" 2>"$OUT/canary.log" ||
  die "the namespace's resolver does not answer from the lab (see $OUT/canary.log)"

# run_timed NAME CMD... -> wall/cpu/rss in $OUT/NAME.time; stderr in $OUT/NAME.log
run_timed() {
  local name=$1
  shift
  "$IP" netns exec "$NS" env REQUESTS_CA_BUNDLE="$CA" SSL_CERT_FILE="$CA" \
    /usr/bin/time -o "$OUT/$name.time" -f "%e %U %S %M" "$@" 2>"$OUT/$name.log"
}

# --- checkdmarc -----------------------------------------------------------------------------
say "checkdmarc $CD_VERSION --check-mx-tls on $N domains (sequential; limit ${CD_TIME_LIMIT}s) ..."
rc=0
run_timed checkdmarc timeout "$CD_TIME_LIMIT" "$VENV/bin/checkdmarc" --check-mx-tls \
  "$OUT/sample.txt" -o "$OUT/checkdmarc.json" || rc=$?
((rc != 124)) || die "checkdmarc did not finish $N domains within ${CD_TIME_LIMIT}s (raise CD_TIME_LIMIT or lower N)"
((rc == 0)) || die "checkdmarc failed with exit code $rc: $(tail -n 1 "$OUT/checkdmarc.log")"
[[ -s "$OUT/checkdmarc.json" ]] || die "checkdmarc wrote no $OUT/checkdmarc.json"

if ((SUBSET)); then
  say "checkdmarc subset (MTA-STS, MX + STARTTLS, TLS-RPT only) on $N domains ..."
  rc=0
  run_timed checkdmarc-subset timeout "$CD_TIME_LIMIT" "$VENV/bin/python" \
    "$ROOT/scripts/compare/checkdmarc_subset.py" "$OUT/sample.txt" "$OUT/checkdmarc-subset.json" || rc=$?
  ((rc != 124)) || die "the checkdmarc subset run did not finish within ${CD_TIME_LIMIT}s"
  ((rc == 0)) || die "the checkdmarc subset run failed with exit code $rc: $(tail -n 1 "$OUT/checkdmarc-subset.log")"
fi

# --- stsscan --------------------------------------------------------------------------------
# run_stsscan NAME LIST OUT: the scan flags of bench.sh (scripts/bench-lib.sh), which are the
# lab flags of src/cli/demo.rs (lab_scan_config).
run_stsscan() {
  scan_flags "$CA"
  run_timed "$1" timeout 600 "$BIN" scan "$2" -o "$3" "${SCAN_FLAGS[@]}" --progress quiet >/dev/null
}
say "stsscan scan on $N domains (concurrency $CONC, DNS transport $TRANSPORT, probe sharing $PROBE_DEDUP) ..."
rc=0
run_stsscan stsscan "$OUT/sample.txt" "$OUT/stsscan" || rc=$?
((rc != 124)) || die "stsscan did not finish $N domains within 600 s"
((rc == 0)) || die "stsscan scan failed with exit code $rc: $(tail -n 1 "$OUT/stsscan.log")"
if ((FULL)); then
  # A sample of a few thousand domains is bound by its slowest domain (an unanswered MX
  # query costs 3 attempts x 2 s), not by throughput; the whole world shows the steady rate.
  say "stsscan scan on the whole world ($WORLD domains) ..."
  rc=0
  run_stsscan stsscan-world "$LIST" "$OUT/stsscan-world" || rc=$?
  ((rc != 124)) || die "stsscan did not finish $WORLD domains within 600 s"
  ((rc == 0)) || die "stsscan scan of the world failed with exit code $rc: $(tail -n 1 "$OUT/stsscan-world.log")"
fi

# The lab is no longer needed; stop it before the (CPU-bound) comparison.
kill -INT "$labpid" 2>/dev/null || true
wait "$labpid" 2>/dev/null || true
labpid=

# --- compare --------------------------------------------------------------------------------
echo "machine: $(machine), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "world: seed $SEED, $WORLD domains, $MIX mix; sample: $N domains; checkdmarc $CD_VERSION; stsscan $("$BIN" --version | awk '{print $2}')"
args=(--sample "$OUT/sample.txt" --truth "$OUT/truth.jsonl" --checkdmarc "$OUT/checkdmarc.json"
  --checkdmarc-time "$OUT/checkdmarc.time" --scan "$OUT/stsscan" --stsscan-time "$OUT/stsscan.time"
  --disagreements "$OUT/disagreements.tsv")
if ((SUBSET)); then args+=(--subset-time "$OUT/checkdmarc-subset.time"); fi
if ((FULL)); then args+=(--world-time "$OUT/stsscan-world.time" --world-n "$WORLD"); fi
"$VENV/bin/python" "$ROOT/scripts/compare/compare.py" "${args[@]}" || die "the comparison failed"
say "results kept in $OUT (checkdmarc.json, stsscan/, truth.jsonl, disagreements.tsv)"
