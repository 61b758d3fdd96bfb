"""checkdmarc restricted to the checks stsscan makes, for a like-for-like throughput figure.

    python checkdmarc_subset.py SAMPLE.txt OUT.json

For each domain of SAMPLE (one per line), sequentially as checkdmarc's own `check_domains`
does, calls only checkdmarc's `check_mta_sts`, `check_mx(check_mx_tls=True)` (with the policy's
mx patterns, as `check_domains` passes them) and `check_smtp_tls_reporting`, with checkdmarc's
defaults (system resolver, 2 s DNS timeout, no retries), and writes the results as a JSON list
shaped like the CLI's (`domain`, `mta_sts`, `mx`, `smtp_tls_reporting`). The SOA, NS, SPF,
DMARC, BIMI and domain-level DNSSEC checks of the CLI are skipped; check_mx still does its own
per-host work (CNAME, DNSSEC, TLSA and PTR lookups), which cannot be turned off.
"""

import json
import sys

from checkdmarc import check_mta_sts, check_mx, check_smtp_tls_reporting
from checkdmarc.utils import normalize_domain


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: checkdmarc_subset.py SAMPLE.txt OUT.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        domains = sorted({normalize_domain(line.strip()) for line in f if line.strip()})
    results = []
    for domain in domains:
        sts = check_mta_sts(domain)
        patterns = sts["policy"]["mx"] if sts.get("valid") else None
        mx = check_mx(domain, mta_sts_mx_patterns=patterns, check_mx_tls=True)
        tlsrpt = check_smtp_tls_reporting(domain)
        results.append(
            {"domain": domain, "mta_sts": sts, "mx": mx, "smtp_tls_reporting": tlsrpt}
        )
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
