#!/usr/bin/env bash
# The GPU runs on a machine with no package index (docs/benchmarks.md, "On a GPU"): unpack the
# bundle that benchmarks/gpu_bundle.sh made over the image's own Python, write any corpus carried
# as zstd back as the .txt.gz that conf/english reads, then run gpu_check.sh and/or phases of
# gpu_recipe.sh, each under its own time limit, and copy the logs, mlflow.db and reports to $OUT.
#   bash benchmarks/gpu_offline.sh check pretrain finetune     # the order given
# BUNDLE (default .gpu/site312.tar.xz) and CORPORA (default .gpu: *.txt.zst files) say where the
# carried files are; LIMIT_S (default 560) is the whole run's deadline; OUT (default gpu-out).
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
BUNDLE=${BUNDLE:-.gpu/site312.tar.xz}
CORPORA=${CORPORA:-.gpu}
LIMIT_S=${LIMIT_S:-560}
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
left() { echo $((LIMIT_S - 20 - ($(date +%s) - T0))); }  # 20 s kept for copying the results
{ python3 -V; nvidia-smi; nproc; } > "$OUT/machine.txt" 2>&1
if [[ -f $BUNDLE && ! -d .site/site312 ]]; then
  python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall('.site')" "$BUNDLE" || exit 9
fi
export PYTHONPATH=$PWD/.site/site312:$PWD/src KEDRO="python3 -m kedro" PYTHON=python3
export KEDRO_DISABLE_TELEMETRY=true PYTHONUNBUFFERED=1
mkdir -p data/english/01_raw
for zst in "$CORPORA"/*.txt.zst; do
  [[ -f $zst ]] || continue
  gz=data/english/01_raw/$(basename "${zst%.zst}").gz
  [[ -f $gz ]] || python3 - "$zst" "$gz" <<'PY' || exit 8
import gzip, os, shutil, sys
import zstandard
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as raw, gzip.open(dst + ".tmp", "wb", compresslevel=1) as out:
    shutil.copyfileobj(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True), out, 1 << 22)
os.replace(dst + ".tmp", dst)
PY
done
echo "set-up: $(($(date +%s) - T0)) s" | tee "$OUT/times.txt"
for phase in "$@"; do
  if [[ $phase == check ]]; then
    timeout "$(left)" bash benchmarks/gpu_check.sh > "$OUT/check.log" 2>&1
  else
    timeout "$(left)" bash benchmarks/gpu_recipe.sh "$phase" > "$OUT/$phase.log" 2>&1
  fi
  echo "$phase: rc=$? at $(($(date +%s) - T0)) s" | tee -a "$OUT/times.txt"
done
timeout 15 python3 benchmarks/gpu_summary.py --english > "$OUT/summary.txt" 2>&1
cut -c1-400 "$OUT/summary.txt"
cp mlflow.db "$OUT/" 2>/dev/null
tar czf "$OUT/reports.tar.gz" data/english/08_reporting data/08_reporting 2>/dev/null
echo "done at $(($(date +%s) - T0)) s"
