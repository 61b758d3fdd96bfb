# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # MTA-STS study: the tables of a measurement paper from an stsscan dataset
#
# This notebook reproduces, from one `stsscan scan` (or `stsscan demo`) dataset, the tables a
# measurement study of email transport security reports:
#
# 1. **Adoption** — `_mta-sts` TXT, valid and usable policies, the mode split, TLS-RPT with and
#    without MTA-STS.
# 2. **Misconfiguration classes** of domains that publish an `_mta-sts` TXT, and their shares.
# 3. **MX provider concentration**.
# 4. **STARTTLS and certificate validity per MX**.
# 5. **Delivery-breaking enforce policies** (an RFC 8461 sender would not deliver).
# 6. **Over time** — adoption and breakage for every scan in the dataset.
#
# Sections 1–5 describe the latest scan; section 6 the whole history. Every table is one SQL
# query over `read_parquet('…/domains/**/*.parquet', hive_partitioning = true,
# union_by_name = true)` (and `…/mx/…`) with at most one join (`union_by_name`: scans written
# by different schema versions read together); columns and status values are documented in
# `docs/schema.md`.
#
# Parameters (environment variables):
#
# | variable | meaning | default |
# |---|---|---|
# | `STSSCAN_DATA` | the dataset directory (`--out` of the scan) | `stsscan-demo` |
# | `STSSCAN_NOTEBOOK_OUT` | where charts (PNG) and tables (CSV) are written | `notebook-out` |
# | `STSSCAN_SCAN_ID` | the scan of sections 1–5 | the latest scan |
# | `STSSCAN_EXPECT_LAB` | `1`: also check the figures against the lab's documented targets (`docs/lab.md`) and require two scans | unset |
#
# The assertion cells make a headless run (`scripts/notebooks/run.sh`) fail when a table that
# must not be empty is empty or when shares do not add up.

# %%
import json
import os
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

DATA = Path(os.environ.get("STSSCAN_DATA", "stsscan-demo"))
OUT = Path(os.environ.get("STSSCAN_NOTEBOOK_OUT", "notebook-out"))
EXPECT_LAB = os.environ.get("STSSCAN_EXPECT_LAB", "") == "1"
(OUT / "tables").mkdir(parents=True, exist_ok=True)
pd.set_option("display.max_colwidth", 80)
pd.set_option("display.width", 160)

assert (DATA / "domains").is_dir(), f"no dataset at {DATA} (set STSSCAN_DATA)"
con = duckdb.connect()


def sql_path(p: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(p).replace("'", "''") + "'"


con.execute(f"""
CREATE VIEW domains_all AS
SELECT * FROM read_parquet({sql_path(DATA / "domains" / "**" / "*.parquet")}, hive_partitioning = true, union_by_name = true);
CREATE VIEW mx_all AS
SELECT * FROM read_parquet({sql_path(DATA / "mx" / "**" / "*.parquet")}, hive_partitioning = true, union_by_name = true);
""")


def table(name: str, query: str) -> pd.DataFrame:
    """Runs `query`, saves the result as OUT/tables/NAME.csv, shows it and returns it."""
    df = con.sql(query).df()
    df.to_csv(OUT / "tables" / f"{name}.csv", index=False)
    display(Markdown(f"**{name}**"))
    display(df)
    return df


def assert_shares(df: pd.DataFrame, col: str = "share_pct") -> None:
    """Shares of a partition add up to 100 % (rounding aside)."""
    total = float(df[col].sum())
    assert abs(total - 100.0) < 0.05 * max(1, len(df)), f"{col} sums to {total}, not 100"


def save(fig, name: str) -> None:
    """Writes a chart to OUT/NAME.png and shows it."""
    fig.tight_layout()
    fig.savefig(OUT / f"{name}.png", dpi=110)
    plt.show()
    plt.close(fig)


# %% [markdown]
# Shared definitions, as SQL macros so every section (and every scan in section 6) classifies
# a domain the same way:
#
# * a **mail domain** publishes MX records with hosts (`mx_kind` `hosts` or `mixed-null`); a
#   domain without MX but with an address has an *implicit* MX (RFC 5321 §5.1), counted
#   apart because most such domains are web-only;
# * a domain **publishes MTA-STS** when exactly one or several TXT RRs at `_mta-sts.D` begin
#   with `v=STSv1` (`sts_txt` is `valid`, `invalid` or `multiple`; a failed lookup is neither);
# * its **misconfiguration class** is the first problem a sender meets, in the order of
#   RFC 8461 §3–§5: the TXT record, the policy fetch, the policy host's certificate, the policy
#   syntax, then the MX hosts. The first six classes make the policy useless or break delivery
#   under enforce (the "misconfigured" share of the studies); the `some-mx-*` classes are
#   partial problems a sender survives.

# %%
_ = con.execute("""
CREATE MACRO is_mail_domain(mx_kind) AS mx_kind IN ('hosts', 'mixed-null');
CREATE MACRO publishes_sts(sts_txt) AS sts_txt IN ('valid', 'invalid', 'multiple');
CREATE MACRO sts_class(sts_txt, policy_fetch, policy_cert, policy_valid, enforce_deliverable,
                       all_mx_covered, all_mx_starttls, all_mx_cert_valid) AS
  CASE
    WHEN NOT publishes_sts(sts_txt) THEN NULL
    WHEN sts_txt = 'invalid' THEN 'txt-invalid'
    WHEN sts_txt = 'multiple' THEN 'txt-multiple'
    WHEN policy_fetch IS DISTINCT FROM 'ok' THEN 'policy-fetch-failed'
    WHEN policy_cert IS DISTINCT FROM 'valid' THEN 'policy-cert-invalid'
    WHEN policy_valid IS DISTINCT FROM true THEN 'policy-invalid'
    WHEN enforce_deliverable = false THEN 'no-mx-would-pass'
    WHEN all_mx_covered = false THEN 'some-mx-not-covered'
    WHEN all_mx_starttls = false THEN 'some-mx-without-starttls'
    WHEN all_mx_cert_valid = false THEN 'some-mx-cert-invalid'
    ELSE 'ok'
  END;
CREATE MACRO is_misconfigured(class) AS
  class IN ('txt-invalid', 'txt-multiple', 'policy-fetch-failed', 'policy-cert-invalid',
            'policy-invalid', 'no-mx-would-pass');
CREATE MACRO breaks_delivery(policy_usable, policy_mode, enforce_deliverable) AS
  coalesce(policy_usable AND policy_mode = 'enforce' AND enforce_deliverable = false, false);
""")

# %% [markdown]
# ## 0. The scans in the dataset

# %%
scans = table(
    "scans",
    """
SELECT scan_id, any_value(scan_date) AS scan_date, min(scanned_at) AS started,
       count(*) AS input_lines,
       count(*) FILTER (WHERE input_status = 'ok') AS domains
FROM domains_all GROUP BY scan_id ORDER BY started
""",
)
assert len(scans) >= 1, "the dataset holds no scan"
if EXPECT_LAB:
    assert len(scans) >= 2, "a lab history needs two scans"
SCAN = os.environ.get("STSSCAN_SCAN_ID") or str(scans["scan_id"].iloc[-1])
assert SCAN in set(scans["scan_id"]), f"scan {SCAN} is not in the dataset"
con.execute(f"""
CREATE VIEW d AS SELECT * FROM domains_all WHERE scan_id = '{SCAN}' AND input_status = 'ok';
CREATE VIEW m AS SELECT * FROM mx_all WHERE scan_id = '{SCAN}';
""")
display(Markdown(f"Sections 1–5 describe scan **{SCAN}**."))

# %% [markdown]
# The scan's manifest (`OUT/manifest/scan_id=ID.json`) counts every status column; the
# Parquet rows must agree with it, or the dataset is incomplete.

# %%
manifest = json.loads((DATA / "manifest" / f"scan_id={SCAN}.json").read_text())
assert manifest["status"] == "complete", f"scan {SCAN} is {manifest['status']}"
counted = con.sql(f"""
SELECT coalesce(sts_txt, 'null') AS v, count(*) AS n FROM domains_all
WHERE scan_id = '{SCAN}' GROUP BY ALL
""").fetchall()
assert dict(counted) == manifest["counts"]["statuses"]["domains.sts_txt"], (
    counted,
    manifest["counts"]["statuses"]["domains.sts_txt"],
)
((mx_rows,),) = con.sql("SELECT count(*) FROM m").fetchall()
assert mx_rows == manifest["counts"]["mx"], (mx_rows, manifest["counts"]["mx"])
display(Markdown(f"Manifest agrees: {manifest['counts']['domains']} domain rows, {mx_rows} MX rows."))

# %% [markdown]
# ## 1. Adoption
#
# Shares of all scanned domains and of mail domains. "Usable" is RFC 8461's chain: a valid
# TXT record, a policy fetched with HTTP 200 over a certificate valid for `mta-sts.D`, and a
# valid policy.

# %%
counts = con.sql("""
SELECT
  count(*) AS "scanned domains",
  count(*) FILTER (WHERE is_mail_domain(mx_kind)) AS "mail domains (MX records)",
  count(*) FILTER (WHERE mx_kind = 'implicit') AS "implicit MX (address only)",
  count(*) FILTER (WHERE mx_kind = 'null') AS "null MX (RFC 7505)",
  count(*) FILTER (WHERE publishes_sts(sts_txt)) AS "_mta-sts TXT published",
  count(*) FILTER (WHERE sts_txt = 'valid') AS "_mta-sts TXT valid",
  count(*) FILTER (WHERE sts_txt = 'lookup-failed') AS "_mta-sts TXT lookup failed",
  count(*) FILTER (WHERE policy_fetch = 'ok') AS "policy fetched (HTTP 200)",
  count(*) FILTER (WHERE policy_valid) AS "policy valid",
  count(*) FILTER (WHERE policy_usable) AS "policy usable",
  count(*) FILTER (WHERE policy_usable AND policy_mode = 'enforce') AS "usable, mode enforce",
  count(*) FILTER (WHERE tlsrpt = 'valid') AS "TLS-RPT valid",
  count(*) FILTER (WHERE tlsrpt = 'valid' AND NOT publishes_sts(sts_txt))
    AS "TLS-RPT valid, no MTA-STS"
FROM d
""").df().iloc[0]
adoption = pd.DataFrame({"measure": counts.index, "domains": counts.values.astype("int64")})
adoption["pct_of_scanned"] = (100 * adoption["domains"] / counts["scanned domains"]).round(3)
adoption["pct_of_mail"] = (
    100 * adoption["domains"] / max(1, counts["mail domains (MX records)"])
).round(3)
adoption.to_csv(OUT / "tables" / "adoption.csv", index=False)
display(Markdown("**adoption**"))
display(adoption)
A = dict(zip(adoption["measure"], adoption["domains"]))
assert A["scanned domains"] > 0, "no domain was scanned"
assert A["_mta-sts TXT published"] > 0, "no domain publishes MTA-STS: adoption is 0"
assert A["policy usable"] > 0, "no usable policy"
assert A["_mta-sts TXT valid"] <= A["_mta-sts TXT published"] <= A["scanned domains"]
assert A["policy usable"] <= A["policy valid"] <= A["policy fetched (HTTP 200)"]

# %% [markdown]
# Mode split of the valid policies (RFC 8461 §5: `enforce`, `testing`, `none`).

# %%
modes = table(
    "mode_split",
    """
SELECT policy_mode AS mode, count(*) AS policies,
       count(*) FILTER (WHERE policy_usable) AS usable,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM d WHERE policy_valid
GROUP BY ALL ORDER BY policies DESC
""",
)
assert len(modes) > 0, "no valid policy: the mode split is empty"
assert set(modes["mode"]) <= {"enforce", "testing", "none"}, set(modes["mode"])
assert_shares(modes)
# The split partitions the valid policies (shares adding up is not enough: rows could be lost).
assert modes["policies"].sum() == A["policy valid"] and modes["usable"].sum() == A["policy usable"]

# %% [markdown]
# TLS-RPT (RFC 8460) with and without MTA-STS: studies find it often published alone.

# %%
tlsrpt = table(
    "tlsrpt_by_mta_sts",
    """
SELECT CASE WHEN publishes_sts(sts_txt) THEN 'publishes MTA-STS' ELSE 'no MTA-STS' END AS mta_sts,
       count(*) AS domains,
       count(*) FILTER (WHERE tlsrpt = 'valid') AS tlsrpt_valid,
       count(*) FILTER (WHERE tlsrpt IN ('invalid', 'multiple')) AS tlsrpt_broken,
       round(100.0 * count(*) FILTER (WHERE tlsrpt = 'valid') / count(*), 2) AS tlsrpt_valid_pct,
       round(100.0 * count(*) FILTER (WHERE tlsrpt = 'valid')
             / sum(count(*) FILTER (WHERE tlsrpt = 'valid')) OVER (), 2) AS share_of_tlsrpt_pct
FROM d GROUP BY ALL ORDER BY mta_sts
""",
)
assert tlsrpt["tlsrpt_valid"].sum() > 0, "no TLS-RPT record"
assert_shares(tlsrpt, "share_of_tlsrpt_pct")
assert tlsrpt["domains"].sum() == A["scanned domains"]
assert tlsrpt["tlsrpt_valid"].sum() == A["TLS-RPT valid"]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
funnel = adoption[adoption["measure"].isin([
    "_mta-sts TXT published", "_mta-sts TXT valid", "policy fetched (HTTP 200)",
    "policy valid", "policy usable", "usable, mode enforce", "TLS-RPT valid",
])]
ax1.barh(funnel["measure"], funnel["pct_of_scanned"], color="tab:blue")
ax1.invert_yaxis()
ax1.set_xlabel("% of scanned domains")
ax1.set_title("Adoption")
ax2.pie(modes["policies"], labels=modes["mode"], autopct="%.1f %%")
ax2.set_title("Mode of valid policies")
save(fig, "adoption")

# %% [markdown]
# ## 2. Misconfiguration classes
#
# Domains that publish an `_mta-sts` TXT, by the first problem a sender meets.

# %%
classes = table(
    "misconfiguration_classes",
    """
WITH c AS (
  SELECT sts_class(sts_txt, policy_fetch, policy_cert, policy_valid, enforce_deliverable,
                   all_mx_covered, all_mx_starttls, all_mx_cert_valid) AS class
  FROM d WHERE publishes_sts(sts_txt)
)
SELECT class, is_misconfigured(class) AS misconfigured, count(*) AS domains,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM c GROUP BY ALL ORDER BY domains DESC
""",
)
assert len(classes) > 0, "no domain publishes MTA-STS"
assert_shares(classes)
assert classes["domains"].sum() == A["_mta-sts TXT published"], "a domain without a class"
misconfigured_pct = float(classes.loc[classes["misconfigured"], "share_pct"].sum())
display(Markdown(f"**Misconfigured** (policy useless or no MX would pass): {misconfigured_pct:.1f} % "
                 "of the domains that publish MTA-STS."))

# %% [markdown]
# The same classes, split by the status that explains them (the fetch outcome, the
# certificate verdict, the parse error code, the RFC 8460 result type).

# %%
class_detail = table(
    "misconfiguration_detail",
    """
WITH c AS (
  SELECT sts_class(sts_txt, policy_fetch, policy_cert, policy_valid, enforce_deliverable,
                   all_mx_covered, all_mx_starttls, all_mx_cert_valid) AS class, *
  FROM d WHERE publishes_sts(sts_txt)
)
SELECT class,
       CASE class
         WHEN 'txt-invalid' THEN coalesce(sts_txt_error, '?')
         WHEN 'txt-multiple' THEN 'two or more v=STSv1 records'
         WHEN 'policy-fetch-failed' THEN coalesce(policy_fetch, '?')
         WHEN 'policy-cert-invalid' THEN coalesce(policy_cert, '?')
         WHEN 'policy-invalid' THEN coalesce(policy_error, '?')
         ELSE coalesce(rfc8460_result, '-')
       END AS detail,
       count(*) AS domains,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_of_problems_pct
FROM c WHERE class <> 'ok' GROUP BY ALL ORDER BY class, domains DESC
""",
)
assert_shares(class_detail, "share_of_problems_pct")
assert class_detail["domains"].sum() == classes.loc[classes["class"] != "ok", "domains"].sum()

# %% [markdown]
# RFC 8460 result types (§4.3) of the MTA-STS domains: the failure a sending MTA would put in
# a TLS report, so the study lines up with the reports domains receive.

# %%
rfc8460 = table(
    "rfc8460_results",
    """
SELECT coalesce(rfc8460_result, '(no failure)') AS result_type, count(*) AS domains,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM d WHERE publishes_sts(sts_txt) GROUP BY ALL ORDER BY domains DESC
""",
)
assert_shares(rfc8460)
assert rfc8460["domains"].sum() == A["_mta-sts TXT published"]

# %% [markdown]
# The most frequent findings (every check's code, with its severity) across all domains.

# %%
findings = table(
    "top_findings",
    """
SELECT code, severity, count(DISTINCT domain) AS domains
FROM (SELECT domain, unnest(findings, recursive := true) FROM d)
GROUP BY ALL ORDER BY domains DESC, code LIMIT 20
""",
)
assert len(findings) > 0, "no finding at all"
assert set(findings["severity"]) <= {"error", "warning", "info"}

# %%
fig, ax = plt.subplots(figsize=(8, 4))
colors = ["tab:red" if m else ("tab:green" if c == "ok" else "tab:orange")
          for c, m in zip(classes["class"], classes["misconfigured"])]
ax.barh(classes["class"], classes["share_pct"], color=colors)
ax.invert_yaxis()
ax.set_xlabel("% of domains publishing MTA-STS")
ax.set_title(f"Misconfiguration classes (red: misconfigured, {misconfigured_pct:.1f} %)")
save(fig, "misconfiguration_classes")

# %% [markdown]
# ## 3. MX provider concentration
#
# Each mail domain is attributed to the provider of its primary MX host (lowest preference,
# then name). The provider is the host's last two labels — a stand-in for the registrable
# domain (a real-internet study should use the Public Suffix List here). The ten largest
# providers serving more than one domain are listed; the rest are pooled, and providers that
# serve a single domain (self-hosted mail, mostly) form their own row.

# %%
providers = table(
    "mx_providers",
    """
WITH prim AS (
  SELECT domain, first(mx_host ORDER BY mx_preference, mx_host) AS mx_host
  FROM m WHERE domain IN (SELECT domain FROM d WHERE is_mail_domain(mx_kind))
  GROUP BY domain
), p AS (
  SELECT regexp_extract(mx_host, '[^.]+\\.[^.]+$') AS provider, count(*) AS domains
  FROM prim GROUP BY ALL
), ranked AS (
  SELECT *, row_number() OVER (ORDER BY domains DESC, provider) AS rank,
         count(*) FILTER (WHERE domains > 1) OVER () - 10 AS others,
         count(*) FILTER (WHERE domains = 1) OVER () AS singles
  FROM p
), bucketed AS (
  SELECT CASE WHEN domains = 1 THEN 'single-domain providers (' || singles || ')'
              WHEN rank <= 10 THEN provider
              ELSE 'other providers (' || others || ')' END AS provider, rank, domains
  FROM ranked
)
SELECT provider, sum(domains)::BIGINT AS domains,
       round(100.0 * sum(domains) / sum(sum(domains)) OVER (), 2) AS share_pct
FROM bucketed GROUP BY provider ORDER BY min(rank)
""",
)
assert len(providers) > 0, "no MX host"
assert_shares(providers)
# Every mail domain has MX rows (a host without an address still has one), so every mail
# domain is attributed to exactly one provider.
assert providers["domains"].sum() == A["mail domains (MX records)"], providers["domains"].sum()

# %%
concentration = table(
    "mx_concentration",
    """
WITH per_host AS (
  SELECT mx_host, count(DISTINCT domain) AS domains
  FROM m WHERE domain IN (SELECT domain FROM d WHERE is_mail_domain(mx_kind))
  GROUP BY mx_host
)
SELECT (SELECT count(*) FROM d WHERE is_mail_domain(mx_kind)) AS mail_domains,
       count(*) AS unique_mx_hosts,
       round(count(*) / (SELECT count(*) FROM d WHERE is_mail_domain(mx_kind)), 3)
         AS hosts_per_mail_domain,
       round(100.0 * count(*) FILTER (WHERE domains = 1) / count(*), 2) AS hosts_serving_one_domain_pct,
       max(domains) AS max_domains_per_host
FROM per_host
""",
)
assert concentration["unique_mx_hosts"].iloc[0] > 0

# %%
fig, ax = plt.subplots(figsize=(8, 4))
ax.barh(providers["provider"], providers["share_pct"], color="tab:purple")
ax.invert_yaxis()
ax.set_xlabel("% of mail domains (primary MX)")
ax.set_title("MX provider concentration")
save(fig, "mx_providers")

# %% [markdown]
# ## 4. STARTTLS and certificate validity per MX
#
# The unit is an MX endpoint: a distinct (MX host, address) pair of the mail domains' MX
# records, whatever the number of domains pointing at it (the scanner probes each address
# once). `mx_cert` is judged for the host name (chain and name, RFC 6125). Implicit MX (the
# domain's own address) are left out: most are web servers.

# %%
con.execute("""
CREATE VIEW endpoints AS
SELECT mx_host, address, any_value(smtp) AS smtp, any_value(starttls) AS starttls,
       any_value(mx_cert) AS mx_cert, any_value(tls_version) AS tls_version,
       any_value(starttls_injection) AS starttls_injection,
       any_value(address_refused) AS address_refused, count(DISTINCT domain) AS domains
FROM m
WHERE address IS NOT NULL AND domain IN (SELECT domain FROM d WHERE is_mail_domain(mx_kind))
GROUP BY mx_host, address
""")
smtp = table(
    "mx_smtp_outcomes",
    """
SELECT coalesce(smtp, 'not-probed (' || coalesce(address_refused, '?') || ')') AS smtp,
       count(*) AS endpoints, sum(domains)::BIGINT AS domains_pointing,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM endpoints GROUP BY ALL ORDER BY endpoints DESC
""",
)
assert len(smtp) > 0, "no MX endpoint"
assert_shares(smtp)

# %%
certs = table(
    "mx_cert_verdicts",
    """
SELECT mx_cert, count(*) AS endpoints, sum(domains)::BIGINT AS domains_pointing,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM endpoints WHERE mx_cert IS NOT NULL GROUP BY ALL ORDER BY endpoints DESC
""",
)
assert len(certs) > 0, "no MX certificate was seen"
assert_shares(certs)

# %%
mx_summary = table(
    "mx_tls_summary",
    """
SELECT count(*) AS endpoints,
       round(100.0 * count(*) FILTER (WHERE starttls) / count(*), 2) AS starttls_offered_pct,
       round(100.0 * count(*) FILTER (WHERE smtp = 'ok') / count(*), 2) AS tls_established_pct,
       round(100.0 * count(*) FILTER (WHERE smtp = 'ok' AND mx_cert = 'valid') / count(*), 2)
         AS tls_with_valid_cert_pct,
       count(*) FILTER (WHERE tls_version = 'TLSv1.3') AS tls13,
       count(*) FILTER (WHERE tls_version = 'TLSv1.2') AS tls12,
       count(*) FILTER (WHERE starttls_injection) AS starttls_injection
FROM endpoints
""",
)
mail_domains_tls = table(
    "mail_domains_tls",
    """
SELECT count(*) AS mail_domains,
       round(100.0 * count(*) FILTER (WHERE all_mx_starttls) / count(*), 2) AS all_mx_starttls_pct,
       round(100.0 * count(*) FILTER (WHERE all_mx_cert_valid) / count(*), 2) AS all_mx_cert_valid_pct
FROM d WHERE is_mail_domain(mx_kind)
""",
)
assert mx_summary["endpoints"].iloc[0] > 0
assert smtp["endpoints"].sum() == mx_summary["endpoints"].iloc[0]
assert certs["endpoints"].sum() <= mx_summary["endpoints"].iloc[0]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
# Log scale: the failures are rare next to `ok`/`valid`; the bars carry the endpoint counts.
ax1.bar_label(ax1.barh(smtp["smtp"], smtp["share_pct"], color="tab:cyan"), smtp["endpoints"])
ax1.set_xscale("log")
ax1.invert_yaxis()
ax1.set_xlabel("% of MX endpoints (log scale)")
ax1.set_title("SMTP / STARTTLS outcome")
ax2.bar_label(ax2.barh(certs["mx_cert"], certs["share_pct"], color="tab:olive"), certs["endpoints"])
ax2.set_xscale("log")
ax2.invert_yaxis()
ax2.set_xlabel("% of MX endpoints with a certificate (log scale)")
ax2.set_title("MX certificate verdict")
save(fig, "mx_tls")

# %% [markdown]
# ## 5. Delivery-breaking enforce policies
#
# RFC 8461 §5: "'enforce': In this mode, Sending MTAs MUST NOT deliver the message to hosts
# that fail MX matching or certificate validation or that do not support STARTTLS." A usable
# enforce policy whose MX hosts all fail breaks the domain's inbound mail from MTA-STS senders.
# `testing` policies in the same state would break when switched to `enforce`.

# %%
breaking = table(
    "delivery_breaking",
    """
SELECT count(*) FILTER (WHERE publishes_sts(sts_txt)) AS publish_mta_sts,
       count(*) FILTER (WHERE policy_usable AND policy_mode = 'enforce') AS usable_enforce,
       count(*) FILTER (WHERE breaks_delivery(policy_usable, policy_mode, enforce_deliverable))
         AS breaking_enforce,
       round(100.0 * breaking_enforce / nullif(publish_mta_sts, 0), 2) AS breaking_pct_of_mta_sts,
       round(100.0 * breaking_enforce / nullif(usable_enforce, 0), 2) AS breaking_pct_of_enforce,
       count(*) FILTER (WHERE policy_usable AND policy_mode = 'testing'
                        AND enforce_deliverable = false) AS testing_would_break
FROM d
""",
)
B = breaking.iloc[0]
assert B["breaking_enforce"] <= B["usable_enforce"] <= B["publish_mta_sts"]

# %%
breaking_why = table(
    "delivery_breaking_reasons",
    """
SELECT coalesce(rfc8460_result, '?') AS result_type, all_mx_covered, all_mx_starttls,
       all_mx_cert_valid, count(*) AS domains,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
FROM d WHERE breaks_delivery(policy_usable, policy_mode, enforce_deliverable)
GROUP BY ALL ORDER BY domains DESC
""",
)
if len(breaking_why):
    assert_shares(breaking_why)
    assert int(breaking_why["domains"].sum()) == int(B["breaking_enforce"])

# %% [markdown]
# Why each MX host of a breaking domain fails (the one join: `domains` × `mx` on
# `(scan_id, domain)`).

# %%
breaking_mx = table(
    "delivery_breaking_mx",
    """
SELECT mx.mx_policy_match, coalesce(mx.smtp, 'not-probed') AS smtp,
       coalesce(mx.mx_cert, '-') AS mx_cert, coalesce(mx.rfc8460_result, '-') AS result_type,
       count(DISTINCT (mx.domain, mx.mx_host)) AS domain_mx_pairs
FROM d JOIN m AS mx USING (scan_id, domain)
WHERE breaks_delivery(d.policy_usable, d.policy_mode, d.enforce_deliverable)
GROUP BY ALL ORDER BY domain_mx_pairs DESC
""",
)
if B["breaking_enforce"] > 0:
    assert len(breaking_mx) > 0 or con.sql("""
        SELECT count(*) FROM d WHERE breaks_delivery(policy_usable, policy_mode, enforce_deliverable)
        AND coalesce(mx_count, 0) > 0""").fetchall()[0][0] == 0
    # No MX of a breaking domain may pass every check (otherwise the sender would deliver).
    assert not ((breaking_mx["mx_policy_match"] == True) & (breaking_mx["smtp"] == "ok")  # noqa: E712
                & (breaking_mx["mx_cert"] == "valid")).any(), "a breaking domain has a passing MX"

# %%
examples = table(
    "delivery_breaking_examples",
    """
SELECT domain, mx_hosts, policy_mx, rfc8460_result
FROM d WHERE breaks_delivery(policy_usable, policy_mode, enforce_deliverable)
ORDER BY domain LIMIT 10
""",
)

# %% [markdown]
# ## 6. Over time
#
# Every scan of the dataset, in the order it started, with the same definitions.

# %%
history = table(
    "history",
    """
WITH c AS (
  SELECT scan_id, scan_date, scanned_at, sts_txt, policy_usable, policy_mode, tlsrpt,
         breaks_delivery(policy_usable, policy_mode, enforce_deliverable) AS breaking,
         is_misconfigured(sts_class(sts_txt, policy_fetch, policy_cert, policy_valid,
                                    enforce_deliverable, all_mx_covered, all_mx_starttls,
                                    all_mx_cert_valid)) AS misconfigured
  FROM domains_all WHERE input_status = 'ok'
)
SELECT scan_id, any_value(scan_date) AS scan_date, min(scanned_at) AS started,
       count(*) AS domains,
       round(100.0 * count(*) FILTER (WHERE publishes_sts(sts_txt)) / count(*), 3) AS mta_sts_pct,
       round(100.0 * count(*) FILTER (WHERE policy_usable) / count(*), 3) AS usable_pct,
       round(100.0 * count(*) FILTER (WHERE policy_usable AND policy_mode = 'enforce') / count(*), 3)
         AS enforce_pct,
       round(100.0 * count(*) FILTER (WHERE tlsrpt = 'valid') / count(*), 3) AS tlsrpt_pct,
       round(100.0 * count(*) FILTER (WHERE misconfigured)
             / nullif(count(*) FILTER (WHERE publishes_sts(sts_txt)), 0), 2)
         AS misconfigured_pct_of_mta_sts,
       round(100.0 * count(*) FILTER (WHERE breaking)
             / nullif(count(*) FILTER (WHERE publishes_sts(sts_txt)), 0), 2)
         AS breaking_pct_of_mta_sts,
       count(*) FILTER (WHERE breaking) AS breaking_domains
FROM c GROUP BY scan_id ORDER BY started
""",
)
assert len(history) == len(scans)
assert (history["mta_sts_pct"] > 0).all(), "a scan without any MTA-STS domain"
latest = history[history["scan_id"] == SCAN].iloc[0]
assert latest["breaking_domains"] == B["breaking_enforce"]

# %%
labels = [f"{str(r.scan_date)[:10]}\n{r.scan_id}" for r in history.itertuples()]
x = range(len(history))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
for col, name in [("mta_sts_pct", "MTA-STS TXT"), ("usable_pct", "usable policy"),
                  ("enforce_pct", "usable enforce"), ("tlsrpt_pct", "TLS-RPT")]:
    ax1.plot(x, history[col], marker="o", label=name)
ax1.set_xticks(list(x), labels, fontsize=7)
ax1.set_ylabel("% of scanned domains")
ax1.set_ylim(bottom=0)
ax1.set_title("Adoption over time")
ax1.legend()
for col, name in [("misconfigured_pct_of_mta_sts", "misconfigured"),
                  ("breaking_pct_of_mta_sts", "delivery-breaking enforce")]:
    ax2.plot(x, history[col], marker="o", label=name)
ax2.set_xticks(list(x), labels, fontsize=7)
ax2.set_ylabel("% of domains publishing MTA-STS")
ax2.set_ylim(bottom=0)
ax2.set_title("Breakage over time")
ax2.legend()
save(fig, "over_time")

# %% [markdown]
# ## Lab check
#
# When the dataset is a lab scan (`STSSCAN_EXPECT_LAB=1`), the figures must land near the
# targets the lab is built to (`docs/lab.md`, measured over 100 000 names: MX 61.4 %,
# MTA-STS 2.1 %, misconfigured 33 %, delivery-breaking 3.4 %, TLS-RPT 3.1 %). The bands are
# wide (a few thousand domains per scan), but a wrong denominator or a misread column falls
# outside them.

# %%
if EXPECT_LAB:
    scanned = A["scanned domains"]
    checks = {
        "mail domains %": (100 * A["mail domains (MX records)"] / scanned, 45, 75),
        "provider-hosted %": (float(providers["share_pct"].iloc[:2].sum()), 15, 45),
        "MTA-STS %": (100 * A["_mta-sts TXT published"] / scanned, 1.0, 3.5),
        "TLS-RPT %": (100 * A["TLS-RPT valid"] / scanned, 1.5, 5.0),
        "misconfigured % of MTA-STS": (misconfigured_pct, 20, 50),
        "breaking % of MTA-STS": (float(B["breaking_pct_of_mta_sts"]), 0.5, 8),
    }
    for name, (value, lo, hi) in checks.items():
        display(Markdown(f"{name}: {value:.2f} (expected {lo}–{hi})"))
        assert lo <= value <= hi, f"{name} = {value:.2f}, outside [{lo}, {hi}]"
    assert B["breaking_enforce"] > 0 and len(examples) > 0
print("all tables computed; charts and CSV tables in", OUT)
