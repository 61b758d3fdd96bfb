#!/usr/bin/env bash
# Executes the MTA-STS study notebook headless against a dataset, so it cannot rot.
#
#   scripts/notebooks/run.sh DATA_DIR [OUT_DIR]   execute the notebook (OUT_DIR: target/notebook-out)
#   scripts/notebooks/run.sh --sync               regenerate mtasts_study.ipynb from mtasts_study.py
#
# 1. Creates a venv (target/notebook-venv, or $NOTEBOOK_VENV) and installs requirements.txt
#    (again only when that file changed).
# 2. If DATA_DIR holds no dataset, makes a two-scan lab history there: `stsscan demo` with
#    seeds 1 and 2 ($NOTEBOOK_DOMAINS domains each, default 10000), using the binary $STSSCAN
#    (default: ${CARGO_TARGET_DIR:-target}/debug/stsscan). The notebook then also checks its
#    figures against the lab's targets (STSSCAN_EXPECT_LAB=1).
# 3. Checks that the committed .ipynb has the cells of the .py source (jupytext percent
#    format), executes the .py source as a notebook with a time limit, and writes the executed
#    notebook, the charts (PNG) and the tables (CSV) to OUT_DIR.
# Exits non-zero when any cell fails, including the notebook's assertion cells.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${NOTEBOOK_VENV:-$ROOT/target/notebook-venv}"
PYTHON="${PYTHON:-python3}"
CELL_TIMEOUT=120   # seconds per cell
RUN_TIMEOUT=170    # seconds for the whole execution

usage() {
  echo "usage: $0 DATA_DIR [OUT_DIR] | $0 --sync" >&2
  exit 2
}
[ $# -ge 1 ] || usage

# -- 1. the venv --------------------------------------------------------------------------
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  { echo "run.sh: Python >= 3.11 required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2; exit 1; }
want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "== notebook: installing $HERE/requirements.txt into $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$HERE/requirements.txt"
  echo "$want" >"$VENV/.requirements.sha256"
fi
PY="$VENV/bin/python"

if [ "$1" = "--sync" ]; then
  "$PY" -m jupytext --quiet --to ipynb --output "$HERE/mtasts_study.ipynb" "$HERE/mtasts_study.py"
  echo "wrote $HERE/mtasts_study.ipynb"
  exit 0
fi

DATA="$(mkdir -p "$1" && cd "$1" && pwd)"
OUT="$(mkdir -p "${2:-$ROOT/target/notebook-out}" && cd "${2:-$ROOT/target/notebook-out}" && pwd)"
start=$(date +%s)

# -- 2. a lab history when DATA_DIR is empty ------------------------------------------------
if [ -z "$(find "$DATA" -path '*/domains/*' -name '*.parquet' -print -quit)" ]; then
  STSSCAN="${STSSCAN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/stsscan}"
  [ -x "$STSSCAN" ] || { echo "run.sh: no stsscan binary at $STSSCAN (cargo build, or set STSSCAN)" >&2; exit 1; }
  for seed in 1 2; do
    echo "== notebook: lab scan, seed $seed, ${NOTEBOOK_DOMAINS:-10000} domains -> $DATA"
    rc=0
    "$STSSCAN" demo --domains "${NOTEBOOK_DOMAINS:-10000}" --seed "$seed" --out "$DATA" \
      --progress quiet >"$OUT/demo-seed$seed.log" 2>&1 || rc=$?
    # demo exits 1 when the scan disagrees with the lab's ground truth on some domain: the
    # dataset is still complete (the notebook checks the manifest); anything else is fatal.
    if [ "$rc" -eq 1 ]; then
      echo "run.sh: warning: demo seed $seed disagrees with the ground truth on some domains" >&2
      grep -m1 "Agreement" "$OUT/demo-seed$seed.log" >&2 || true
    elif [ "$rc" -ne 0 ]; then
      cat "$OUT/demo-seed$seed.log" >&2
      echo "run.sh: demo seed $seed failed (exit $rc)" >&2
      exit 1
    fi
  done
  export STSSCAN_EXPECT_LAB="${STSSCAN_EXPECT_LAB:-1}"
fi

# -- 3. execute ---------------------------------------------------------------------------
"$PY" - "$HERE/mtasts_study.py" "$HERE/mtasts_study.ipynb" <<'EOF'
import sys
import jupytext
src, committed = (jupytext.read(p) for p in sys.argv[1:3])
cells = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]
if cells(src) != cells(committed):
    sys.exit(f"run.sh: {sys.argv[2]} is out of date with {sys.argv[1]}: run 'run.sh --sync'")
EOF
rm -f "$OUT"/*.png "$OUT"/tables/*.csv "$OUT/mtasts_study.ipynb"
"$PY" -m jupytext --quiet --to ipynb --output "$OUT/mtasts_study.ipynb" "$HERE/mtasts_study.py"
echo "== notebook: executing against $DATA"
export STSSCAN_DATA="$DATA" STSSCAN_NOTEBOOK_OUT="$OUT" MPLBACKEND=module://matplotlib_inline.backend_inline
timeout --kill-after=10 "$RUN_TIMEOUT" "$PY" -m jupyter nbconvert --to notebook --execute --inplace \
  --ExecutePreprocessor.timeout="$CELL_TIMEOUT" --ExecutePreprocessor.kernel_name=python3 \
  "$OUT/mtasts_study.ipynb"
ls "$OUT"/*.png >/dev/null
echo "== notebook: ok in $(($(date +%s) - start)) s: $OUT/mtasts_study.ipynb, $(ls "$OUT"/*.png | wc -l) charts, $(ls "$OUT"/tables/*.csv | wc -l) tables"
