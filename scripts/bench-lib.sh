# shellcheck shell=bash disable=SC2034  # sourced; SCAN_FLAGS and LAB_PID are used by the caller
# Shared by scripts/bench.sh, bench-ab.sh, profile.sh, callgrind.sh and compare-checkdmarc.sh
# (sourced, not run): starting the bench lab (examples/bench_lab, in its own process) and the
# scan flags every benchmark uses. start_lab expects BIN (the release dir holding stsscan and
# examples/bench_lab).

# bench_workdir NAME: sets `work` to a new /tmp/stsscan-NAME.XXXXXX and `lab_dir` to empty; on
# exit, stops the lab of `lab_dir` if one is still running and removes `work`.
bench_workdir() {
  work=$(mktemp -d "/tmp/stsscan-$1.XXXXXX")
  lab_dir=
  trap 'if [[ -n "$lab_dir" ]]; then stop_lab "$lab_dir"; fi; rm -rf "$work"' EXIT
}

# machine: the core count and CPU model, for the first line of a benchmark's output.
machine() { echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"; }

# start_lab DIR DOMAINS BLOCK DNS_DELAY_MS: starts the lab in the background (LAB_PID), waits
# for DIR/lab.env and sources it (DNS, HTTPS_PORT, SMTP_PORT). The lab's own CPU time (user,
# system) lands in DIR/lab.time when it has stopped.
start_lab() {
  local dir=$1
  /usr/bin/time -o "$dir/lab.time" -f "%U %S" \
    "$BIN/examples/bench_lab" "$dir" "$2" "$3" "$4" 7200 >"$dir/lab.log" 2>&1 &
  LAB_PID=$!
  for _ in $(seq 1 600); do [[ -s "$dir/lab.env" ]] && break; sleep 0.5; done
  [[ -s "$dir/lab.env" ]] || { echo "lab did not start" >&2; cat "$dir/lab.log" >&2; return 1; }
  # shellcheck disable=SC1091
  source "$dir/lab.env"
}

# stop_lab DIR: asks the lab to stop and waits for it (it then writes DIR/counters.env).
stop_lab() {
  touch "$1/stop"
  if [[ -n "${LAB_PID:-}" ]]; then wait "$LAB_PID" 2>/dev/null || true; fi
  LAB_PID=
}

# scan_flags CA_FILE: sets SCAN_FLAGS to the flags of a benchmark scan of a lab whose DNS,
# HTTPS_PORT and SMTP_PORT are set (start_lab sets them; its CA is DIR/lab-ca.pem): lab
# resolver and CA, the lab's ports, concurrency CONC (500), DNS transport
# TRANSPORT (multiplexed), probe sharing PROBE_DEDUP (address, the scan default), generous
# per-address limits (the lab's pooled MX serve thousands of domains) and the timeouts of
# `stsscan demo`.
scan_flags() {
  SCAN_FLAGS=(--resolver "$DNS" --allow-private --ca-file "$1" --no-default-roots
    --https-port "$HTTPS_PORT" --smtp-port "$SMTP_PORT" --concurrency "${CONC:-500}"
    --dns-timeout 2s --dns-attempts 3 --connect-timeout 2s --fetch-timeout 3s --smtp-timeout 3s
    --session-deadline 8s --per-address-rate 10000 --per-address-connections 4
    --dns-transport "${TRANSPORT:-multiplexed}" --probe-dedup "${PROBE_DEDUP:-address}")
}

# lab_counters DIR: after stop_lab, waits (up to 10 s) for the lab's DIR/counters.env and sources
# it (LAB_DNS_QUERIES, LAB_SMTP_CONNS, ...).
lab_counters() {
  local _
  for _ in $(seq 1 50); do [[ -s "$1/counters.env" ]] && break; sleep 0.2; done
  # shellcheck disable=SC1091
  source "$1/counters.env"
}

# scan_summary LOG: reads the scanner's summary line from LOG into PROBES, REPROBES (SNI
# re-probes), SAMECERT (re-probes that got the shared certificate again), FETCHES and EVICTED
# (first-probe results evicted from the bounded cache: address results, or (address, name)
# results under --probe-dedup address+name; a later request for one probes again).
scan_summary() {
  local sum
  sum=$(grep "STARTTLS probes" "$1")
  PROBES=$(sed -E 's/.*STARTTLS probes ([0-9]+).*/\1/' <<<"$sum")
  REPROBES=$(sed -E 's/.*probes [0-9]+ \(([0-9]+) repeated.*/\1/' <<<"$sum")
  SAMECERT=$(sed -E 's/.*as SNI, ([0-9]+) of them got the same.*/\1/' <<<"$sum")
  FETCHES=$(sed -E 's/.*policy fetches ([0-9]+),.*/\1/' <<<"$sum")
  EVICTED=$(sed -E 's/.* ([0-9]+) evicted, [0-9]+ re-probe results evicted.*/\1/' <<<"$sum")
}

# floor_for_mix DNS_PER_DOMAIN HANDSHAKES_PER_DOMAIN DNS4 HANDSHAKE PARQUET_1000 SIG: the floor
# per domain for a scan's mix, in the unit of the costs given (ns from the criterion benches,
# instructions from callgrind): DNS exchanges (DNS4 is the four exchanges of a domain), full
# client handshakes (probes + policy fetches), the Parquet rows of one domain. Prints three
# numbers: the floor; the stricter floor, every intermediate's signature already known (the
# scanner's memo); the strictest, both chain signatures known (only the handshake's own
# CertificateVerify left). SIG is the cost of one signature verification.
floor_for_mix() {
  local floor
  floor=$(echo "$1 * $3 / 4 + $2 * $4 + $5 / 1000" | bc -l)
  echo "$floor $(echo "$floor - $2 * $6" | bc -l) $(echo "$floor - 2 * $2 * $6" | bc -l)"
}
