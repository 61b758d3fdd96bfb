"""Compare checkdmarc's JSON with stsscan's Parquet dataset and the lab's ground truth.

Run by scripts/compare-checkdmarc.sh (with the virtualenv's python, which has duckdb):

    compare.py --sample S.txt --truth truth.jsonl --checkdmarc cd.json --checkdmarc-time T
               --scan OUT --stsscan-time T [--subset-time T] [--disagreements D.tsv]

Prints both throughputs and their ratio, then compares, per domain of the sample, the
verdicts both tools give, in the vocabulary of docs/ground-truth.md:

* `sts_record`   — the `_mta-sts` TXT verdict: absent, valid, invalid, multiple, lookup-failed.
* `sts_policy`   — when both call the record valid: usable, fetch-failed (no 200 response),
                   cert-invalid (the policy host's certificate), invalid (policy syntax).
* `sts_mode`     — when both call the policy usable: enforce, testing, none.
* `tlsrpt`       — the `_smtp._tls` TXT verdict: absent, valid, invalid, multiple, lookup-failed.
* `mx_hosts`     — the explicit MX host names (a null MX "." and implicit MX excluded).
* `starttls`     — per MX host both report: STARTTLS offered (true/false; `-` unknown:
                   no EHLO reply, connection failed).
* `mx_cert`      — per MX host both report: the certificate valid for the host name
                   (true/false; `-` when no handshake completed or nothing says).

checkdmarc reports most outcomes as English error and warning strings; the classification
below follows the messages checkdmarc 6.0.x writes (mta_sts.py, smtp_tls_reporting.py,
smtp.py) and puts anything it does not recognise in an `unclassified:` value, printed like
any other, so a new checkdmarc wording shows up instead of being silently mis-sorted.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys

import duckdb

UNKNOWN = "-"

# --- checkdmarc ---------------------------------------------------------------------------

# dnspython / checkdmarc texts of a failed lookup (timeout, SERVFAIL, REFUSED, no answer).
DNS_FAILURE = re.compile(
    r"timed out|lifetime expired|All nameservers failed|SERVFAIL|REFUSED|"
    r"did not answer|NoNameservers|no nameservers|Connection refused|"
    r"DNS resolution failed|answered ",
    re.IGNORECASE,
)


def cd_txt(result: dict | None, kind: str) -> tuple[str, str]:
    """(record verdict, stage) of checkdmarc's mta_sts or smtp_tls_reporting result.

    stage is, for MTA-STS: record, usable, fetch-failed, cert-invalid, invalid."""
    if not isinstance(result, dict):
        return "unclassified:missing", "record"
    if result.get("valid") is True:
        return "valid", "usable"
    err = str(result.get("error", ""))
    name = "MTA-STS" if kind == "sts" else "SMTP TLS Reporting"
    if err.startswith(f"Multiple {name} records"):
        return "multiple", "record"
    if (
        err.startswith(f"An {name} DNS record does not exist")
        or err.startswith(f"An {name} record does not exist")
        or err == "The domain does not exist."
        or err.startswith("Found an SPF record")
        or " must be located at " in err
    ):
        return "absent", "record"
    if (
        err.startswith("Error: Expected")
        or "is missing the required" in err
        or err.startswith("The id value must be")
        or "is not a valid SMTP TLS Reporting URI" in err
        or err.startswith("The value of the extension field")
    ):
        return "invalid", "record"
    if kind == "sts":
        # Only reached after a valid record: the policy fetch or the policy itself failed.
        if "CERTIFICATE_VERIFY_FAILED" in err or "certificate verify failed" in err:
            return "valid", "cert-invalid"
        if (
            err.startswith("The MTA-STS policy fetch returned HTTP")
            or "HTTPSConnectionPool" in err
            or "SSLError" in err
            or "Read timed out" in err
            or "Connection aborted" in err
            or "RemoteDisconnected" in err
            or "ChunkedEncodingError" in err
            or "Exceeded " in err
        ):
            return "valid", "fetch-failed"
        if (
            err.startswith("Line ")
            or err.startswith("Missing required key")
            or "mode requires at least one mx value" in err
        ):
            return "valid", "invalid"
    if DNS_FAILURE.search(err):
        return "lookup-failed", "record"
    return "unclassified:" + err[:60], "record"


def cd_hosts(mx: dict | None) -> dict[str, dict]:
    """Per explicit MX host: {"starttls": bool|-, "cert": bool|-, "detail": str}."""
    if not isinstance(mx, dict):
        return {}
    warnings = [str(w) for w in mx.get("warnings", [])]
    hosts = {}
    for h in mx.get("hosts", []):
        name = str(h.get("hostname", "")).lower().rstrip(".")
        if name in ("", "."):
            continue
        if "starttls" not in h:
            hosts[name] = {"starttls": UNKNOWN, "cert": UNKNOWN, "detail": "not tested"}
            continue
        mine = [w for w in warnings if name in w]
        detail = "; ".join(mine)[:160]
        if h["starttls"] is True:
            hosts[name] = {"starttls": True, "cert": True, "detail": detail}
        elif any(w == f"STARTTLS is not supported on {name}." for w in mine):
            hosts[name] = {"starttls": False, "cert": UNKNOWN, "detail": detail}
        elif any(w.startswith(f"{name}: SSL error") for w in mine):
            # STARTTLS was advertised and accepted; the handshake failed.
            bad_cert = any("CERTIFICATE_VERIFY_FAILED" in w for w in mine)
            hosts[name] = {
                "starttls": True,
                "cert": False if bad_cert else UNKNOWN,
                "detail": detail,
            }
        elif any(re.match(rf"{re.escape(name)}: SMTP error code \d+$", w) for w in mine):
            # A numeric reply to STARTTLS (e.g. 454): it was advertised, then refused.
            hosts[name] = {"starttls": True, "cert": UNKNOWN, "detail": detail}
        else:
            hosts[name] = {"starttls": UNKNOWN, "cert": UNKNOWN, "detail": detail}
    return hosts


# --- stsscan and the truth (same vocabulary) -------------------------------------------------


def sts_stage(row: dict) -> str:
    if row.get("policy_usable"):
        return "usable"
    if row.get("policy_fetch") != "ok":
        return "fetch-failed"
    if row.get("policy_cert") != "valid":
        return "cert-invalid"
    return "invalid"


def host_verdicts(rows: list[dict]) -> dict[str, dict]:
    """Per MX host, from stsscan's mx rows (one per address) or the truth's (one per host)."""
    by_host: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_host[r["mx_host"]].append(r)
    out = {}
    for host, rs in by_host.items():
        st = {UNKNOWN if r.get("starttls") is None else bool(r["starttls"]) for r in rs}
        ce = {
            UNKNOWN if r.get("mx_cert") is None else r["mx_cert"] == "valid" for r in rs
        }
        smtp = sorted({str(r.get("smtp")) for r in rs})
        certs = sorted({str(r.get("mx_cert")) for r in rs})
        out[host] = {
            "starttls": st.pop() if len(st) == 1 else "mixed",
            "cert": ce.pop() if len(ce) == 1 else "mixed",
            "detail": f"smtp={','.join(smtp)} mx_cert={','.join(certs)}",
        }
    return out


def explicit_hosts(row: dict) -> list[str]:
    """The explicit MX host names of a stsscan row (`mx_hosts`) or a truth row (`mx` list)."""
    if row.get("mx_kind") not in ("hosts", "mixed-null"):
        return []
    if "mx_hosts" in row:
        names = row.get("mx_hosts") or []
    else:
        names = [m["mx_host"] for m in row.get("mx") or []]
    return sorted({h for h in names if h not in ("", ".")})


# --- loading ---------------------------------------------------------------------------------


def load_time(path: str | None) -> tuple[float, float, float] | None:
    """(wall s, CPU s, peak RSS MiB) from /usr/bin/time -f '%e %U %S %M'."""
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        last = [line for line in f.read().splitlines() if line.strip()][-1]
    wall, user, sys_, rss = last.split()
    return float(wall), float(user) + float(sys_), int(rss) / 1024


def load_scan(out: str) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    con = duckdb.connect()
    dom = f"read_parquet('{out}/domains/**/*.parquet', hive_partitioning = true)"
    mxt = f"read_parquet('{out}/mx/**/*.parquet', hive_partitioning = true)"
    cols = (
        "domain, sts_txt, policy_fetch, policy_cert, policy_valid, policy_mode, "
        "policy_usable, policy_error, policy_fetch_detail, tlsrpt, tlsrpt_error, "
        "mx_kind, mx_hosts"
    )
    cur = con.execute(f"SELECT {cols} FROM {dom} WHERE input_status = 'ok'")
    names = [d[0] for d in cur.description]
    domains = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
    cur = con.execute(f"SELECT domain, mx_host, address, starttls, mx_cert, smtp FROM {mxt}")
    names = [d[0] for d in cur.description]
    mx: dict[str, list[dict]] = collections.defaultdict(list)
    for r in cur.fetchall():
        row = dict(zip(names, r))
        mx[row["domain"]].append(row)
    return domains, mx


def load_truth(path: str, wanted: set[str]) -> dict[str, dict]:
    truth = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["domain"] in wanted:
                truth[row["domain"]] = row
    return truth


# --- comparison ------------------------------------------------------------------------------


def fmt(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, list):
        return ",".join(v) if v else "(none)"
    return str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--checkdmarc", required=True)
    ap.add_argument("--checkdmarc-time", required=True)
    ap.add_argument("--subset-time")
    ap.add_argument("--scan", required=True)
    ap.add_argument("--stsscan-time", required=True)
    ap.add_argument("--world-time")
    ap.add_argument("--world-n", type=int)
    ap.add_argument("--disagreements")
    ap.add_argument("--examples", type=int, default=40)
    a = ap.parse_args()

    with open(a.sample, encoding="utf-8") as f:
        sample = [line.strip().lower() for line in f if line.strip()]
    n = len(sample)

    # Throughput.
    cd_t, sts_t = load_time(a.checkdmarc_time), load_time(a.stsscan_time)
    sub_t = load_time(a.subset_time)
    world_t = load_time(a.world_time)
    print()
    print(f"== Throughput, {n} domains (wall clock for the whole sample, process start included)")
    runs = [("checkdmarc CLI --check-mx-tls (all checks)", cd_t)]
    if sub_t:
        runs.append(("checkdmarc, MTA-STS + MX/STARTTLS + TLS-RPT only", sub_t))
    runs.append(("stsscan scan", sts_t))
    if world_t and a.world_n:
        runs.append((f"stsscan scan, whole world ({a.world_n} domains)", world_t))
    for label, (wall, cpu, rss) in runs:
        count = a.world_n if label.startswith("stsscan scan, whole") else n
        print(
            f"  {label:<50} {wall:8.1f} s {count / wall:9.1f} domains/s"
            f"   CPU {cpu:7.1f} s   peak RSS {rss:6.1f} MiB"
        )
    ratio = cd_t[0] / sts_t[0]
    line = f"  stsscan / checkdmarc throughput: {ratio:.1f}x (CLI)"
    if sub_t:
        line += f", {sub_t[0] / sts_t[0]:.1f}x (subset)"
    print(line + " on the same sample   [issue-6 target: >= 200x]")
    if world_t and a.world_n:
        rate = a.world_n / world_t[0]
        line = f"  stsscan's whole-world rate / checkdmarc's rate: {rate / (n / cd_t[0]):.1f}x (CLI)"
        if sub_t:
            line += f", {rate / (n / sub_t[0]):.1f}x (subset)"
        print(line + "   (checkdmarc is sequential: its rate does not grow with N)")
    print(
        f"  CPU per domain: checkdmarc {1000 * cd_t[1] / n:.1f} ms, "
        f"stsscan {1000 * sts_t[1] / n:.2f} ms"
    )

    # Verdicts.
    with open(a.checkdmarc, encoding="utf-8") as f:
        cd_raw = json.load(f)
    if isinstance(cd_raw, dict):
        cd_raw = [cd_raw]
    cd = {str(r["domain"]).lower(): r for r in cd_raw}
    sts, sts_mx = load_scan(a.scan)
    truth = load_truth(a.truth, set(sample))

    agree: collections.Counter = collections.Counter()
    compared: collections.Counter = collections.Counter()
    diffs = []  # (domain, field, cd, sts, truth, scenario, detail)
    missing = collections.Counter()
    implicit_probed = 0
    mixed_hosts = 0

    def check(domain, field, cv, sv, tv, scenario, detail=""):
        compared[field] += 1
        if cv == sv:
            agree[field] += 1
        else:
            diffs.append((domain, field, fmt(cv), fmt(sv), fmt(tv), scenario, detail))

    for d in sample:
        c, s, t = cd.get(d), sts.get(d), truth.get(d)
        if c is None:
            missing["checkdmarc"] += 1
        if s is None:
            missing["stsscan"] += 1
        if t is None:
            missing["truth"] += 1
        if c is None or s is None:
            continue
        t = t or {}
        scen = t.get("scenario", "?")

        c_rec, c_stage = cd_txt(c.get("mta_sts"), "sts")
        cd_err = str((c.get("mta_sts") or {}).get("error", ""))[:120]
        s_detail = (
            f"sts_txt={s['sts_txt']} policy_fetch={s['policy_fetch']} "
            f"policy_cert={s['policy_cert']} policy_error={s['policy_error']}"
        )
        check(d, "sts_record", c_rec, s["sts_txt"], t.get("sts_txt"), scen, cd_err)
        if c_rec == "valid" and s["sts_txt"] == "valid":
            check(
                d, "sts_policy", c_stage, sts_stage(s),
                sts_stage(t) if t else None, scen, f"{cd_err} | {s_detail}",
            )
            if c_stage == "usable" and s.get("policy_usable"):
                check(
                    d, "sts_mode", c["mta_sts"]["policy"]["mode"], s["policy_mode"],
                    t.get("policy_mode"), scen,
                )

        c_rpt, _ = cd_txt(c.get("smtp_tls_reporting"), "tlsrpt")
        check(
            d, "tlsrpt", c_rpt, s["tlsrpt"], t.get("tlsrpt"), scen,
            str((c.get("smtp_tls_reporting") or {}).get("error", ""))[:120],
        )

        c_hosts = cd_hosts(c.get("mx"))
        s_hosts_list = explicit_hosts(s)
        check(
            d, "mx_hosts", sorted(c_hosts), s_hosts_list,
            explicit_hosts(t) if t else None, scen,
            f"mx_kind={s['mx_kind']} "
            + str((c.get("mx") or {}).get("error", ""))[:80],
        )
        if s["mx_kind"] == "implicit":
            implicit_probed += 1
        s_hosts = host_verdicts(sts_mx.get(d, []))
        t_hosts = host_verdicts(t.get("mx") or []) if t else {}
        for h in sorted(set(c_hosts) & set(s_hosts_list)):
            sv = s_hosts.get(h)
            if sv is None:
                continue
            if "mixed" in (sv["starttls"], sv["cert"]):
                mixed_hosts += 1
            tv = t_hosts.get(h, {})
            detail = f"checkdmarc: {c_hosts[h]['detail']} | stsscan: {sv['detail']}"
            check(
                d, "starttls", c_hosts[h]["starttls"], sv["starttls"],
                tv.get("starttls"), scen, detail,
            )
            check(
                d, "mx_cert", c_hosts[h]["cert"], sv["cert"], tv.get("cert"), scen, detail
            )

    for who, k in missing.items():
        if k:
            print(f"  warning: {k} sampled domains missing from {who}'s output")

    print()
    print("== Verdicts compared (docs/performance.md explains the fields and the classes)")
    print(
        f"  {'field':<11} {'compared':>8} {'agree':>7} {'differ':>7}"
        f"   where they differ: {'stsscan=truth':>13} {'checkdmarc=truth':>16}"
    )
    per_field = collections.defaultdict(list)
    for row in diffs:
        per_field[row[1]].append(row)
    for field in ["sts_record", "sts_policy", "sts_mode", "tlsrpt", "mx_hosts", "starttls", "mx_cert"]:
        rows = per_field.get(field, [])
        s_right = sum(1 for r in rows if r[3] == r[4])
        c_right = sum(1 for r in rows if r[2] == r[4])
        print(
            f"  {field:<11} {compared[field]:>8} {agree[field]:>7} {len(rows):>7}"
            f"   {'':>19}{s_right:>13} {c_right:>16}"
        )
    print(
        f"  not compared: {implicit_probed} domains with an implicit MX (RFC 5321 §5.1), "
        "probed by stsscan only; "
        f"{mixed_hosts} MX hosts whose addresses gave stsscan different results"
    )

    if diffs:
        print()
        print("== Disagreement classes (field: checkdmarc -> stsscan [truth]  scenarios)")
        classes = collections.defaultdict(lambda: [0, collections.Counter()])
        for dom, field, cv, sv, tv, scen, _ in diffs:
            key = (field, cv, sv, tv)
            classes[key][0] += 1
            classes[key][1][scen] += 1
        for (field, cv, sv, tv), (count, scens) in sorted(
            classes.items(), key=lambda kv: (-kv[1][0], kv[0])
        ):
            top = ", ".join(f"{s} {k}" for s, k in scens.most_common(3))
            print(f"  {count:>6}  {field}: {cv} -> {sv} [{tv}]  {top}")

        print()
        shown = diffs[: a.examples]
        print(f"== Disagreements ({len(shown)} of {len(diffs)} shown)")
        print(f"  {'domain':<28} {'field':<10} {'checkdmarc':<14} {'stsscan':<14} {'truth':<14} scenario")
        for dom, field, cv, sv, tv, scen, _ in shown:
            print(f"  {dom:<28} {field:<10} {cv[:14]:<14} {sv[:14]:<14} {tv[:14]:<14} {scen}")

    if a.disagreements:
        with open(a.disagreements, "w", encoding="utf-8") as f:
            f.write("domain\tfield\tcheckdmarc\tstsscan\ttruth\tscenario\tdetail\n")
            for row in diffs:
                f.write("\t".join(x.replace("\t", " ").replace("\n", " ") for x in row) + "\n")
        print(f"  all disagreements: {a.disagreements}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
