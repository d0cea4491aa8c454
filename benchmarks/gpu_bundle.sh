#!/usr/bin/env bash
# The project's run-time dependencies for a GPU machine that cannot reach a package index and
# whose own Python already holds torch, numpy, pandas, pyarrow, sentencepiece, scikit-learn and
# the like (a CUDA image): wheels for its Python, only of the packages it lacks, installed into
# one folder and packed as one .tar.xz (~23 MB). The list is what `kedro run` imports for the
# data, pretraining, evaluation and fine-tuning pipelines (traced with `python -X importtime`),
# less what such an image has: kedro-viz, the full mlflow server and HTML extraction stay out.
#   bash benchmarks/gpu_bundle.sh [OUT]        # OUT defaults to .gpu/site312.tar.xz
# On the GPU machine, from the project root, with the bundle (and the corpora as .txt.zst) in .gpu/:
#   bash benchmarks/gpu_offline.sh check pretrain finetune
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.gpu/site312.tar.xz}
PY=${PY:-3.12}
# the versions that ran on the H200 on 2026-12-04 (pydantic and pydantic-core must match)
PACKAGES=(
  alembic==1.20.1 annotated-types==0.8.0 appdirs==1.4.4 blinker==1.9.0 brotli==1.2.1
  cachetools==7.3.3 cffi==2.1.1 colorlog==6.12.0 cryptography==50.0.2 databricks-sdk==0.167.0
  datasketch==2.0.0 dynaconf==3.3.5 fastapi==0.165.0 fastwarc==2.0.1 flask==3.1.3 ftfy==6.3.1
  gitdb==4.0.12 gitpython==3.2.1 google-auth==2.63.0 h11==0.16.0 importlib-metadata==9.1.0
  itsdangerous==2.2.0 kedro==1.7.0 kedro-datasets==9.6.0 kedro-mlflow==2.0.3 mako==1.4.3
  mlflow-skinny==3.17.2 mlflow-tracing==3.17.2 more-itertools==11.2.1 omegaconf==2.4.0
  opentelemetry-api==1.45.2 opentelemetry-proto==1.45.2 opentelemetry-sdk==1.45.2
  opentelemetry-semantic-conventions==0.66b2 optuna==5.1.0 orjson==3.13.0 parse==1.22.4
  pyasn1==0.6.5 pyasn1-modules==0.4.2 pycparser==3.12 pydantic==2.14.4 pydantic-core==2.50.5
  pytz==2026.6 resiliparse==2.0.1 sacremoses==0.2.0 selectolax==1.0.2 smmap==5.0.3 sniffio==1.3.1
  sqlalchemy==2.1.9 sqlparse==0.6.1 starlette==1.10.0 tomli-w==1.2.0 typing-inspection==0.4.5
  uvicorn==0.55.0 wcwidth==0.9.4 zstandard==0.25.0
)
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
  manylinux2014_x86_64; do PLATFORMS+=(--platform "$p"); done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --no-deps: the pins above agree with each other, and the image supplies the rest
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" \
  --implementation cp "${PLATFORMS[@]}" -d "$work/wheels" "${PACKAGES[@]}"
python3 -m pip install -q --no-deps --no-compile --only-binary=:all: --python-version "$PY" \
  --implementation cp "${PLATFORMS[@]}" --target "$work/site312" "$work"/wheels/*.whl
mkdir -p "$(dirname "$OUT")"
tar -cf - -C "$work" site312 | xz -9 -T2 -c > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$OUT: $(du -h "$OUT" | cut -f1), $(ls "$work/wheels" | wc -l) wheels for Python $PY"
