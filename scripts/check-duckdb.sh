#!/usr/bin/env bash
# Checks that DuckDB reads the Parquet dataset the writer produces, the way a notebook would:
# read_parquet('OUT/<table>/**/*.parquet', hive_partitioning = true, union_by_name = true).
# Not part of CI (needs the duckdb Python package: `pip install duckdb`). Writes a small
# two-scan dataset with the `write_demo_dataset` test into a temporary directory, then queries it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import duckdb' 2>/dev/null; then
  echo "error: the duckdb Python package is missing (pip install duckdb)" >&2
  exit 2
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
STSSCAN_DEMO_OUT="$out" cargo test -q --test output -- --exact write_demo_dataset >/dev/null
OUT="$out" python3 - <<'PY'
import os
import duckdb

out = os.environ["OUT"]
con = duckdb.connect()
dom = f"read_parquet('{out}/domains/**/*.parquet', hive_partitioning = true, union_by_name = true)"
mx = f"read_parquet('{out}/mx/**/*.parquet', hive_partitioning = true, union_by_name = true)"

def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")

types = dict((r[0], r[1]) for r in con.sql(f"DESCRIBE SELECT * FROM {dom}").fetchall())
check(types["scanned_at"] == "TIMESTAMP WITH TIME ZONE", "scanned_at is a UTC timestamp")
check(types["policy_mx"] == "VARCHAR[]", "policy_mx is a list of strings")
check(types["findings"].startswith("STRUCT(code VARCHAR"), "findings is a list of structs")
check(types["input_line"] == "UBIGINT", "input_line is uint64")
check("scan_date" in types, "scan_date comes from the Hive partition")

rows = con.sql(f"SELECT scan_date::VARCHAR, scan_id, count(*) FROM {dom} GROUP BY ALL ORDER BY 1").fetchall()
check(rows == [("2026-03-14", "demo-1", 3), ("2026-03-15", "demo-2", 2)], f"both scans, one query: {rows}")

modes = con.sql(f"SELECT scan_id, policy_mode FROM {dom} WHERE domain = 'example.com' AND input_status = 'ok' ORDER BY scan_id").fetchall()
check(modes == [("demo-1", "enforce"), ("demo-2", "testing")], f"history of one domain: {modes}")

joined = con.sql(
    f"SELECT d.scan_id, count(*) FROM {dom} d JOIN {mx} m USING (scan_id, domain) "
    "WHERE d.input_status = 'ok' GROUP BY ALL ORDER BY 1"
).fetchall()
check(joined == [("demo-1", 2), ("demo-2", 1)], f"domains x mx join: {joined}")

kv = dict(con.sql(f"SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata('{out}/domains/scan_date=2026-03-14/scan_id=demo-1/part-00000.parquet')").fetchall())
check(kv.get("schema_version") == "4" and kv.get("scan_id") == "demo-1", "key-value metadata")
print("duckdb", duckdb.__version__, "reads the dataset")
PY
