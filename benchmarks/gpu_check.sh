#!/usr/bin/env bash
# GPU check (for a machine with a CUDA GPU): ~200 optimizer steps of GPT-2 124M with `--env=gpu`
# (bf16 autocast, torch.compile, SDPA flash attention) on the bundled corpus; prints tokens/s and
# MFU against the GPU's bf16 matmul peak measured on the spot. Meant to finish in under 5 minutes.
#   bash benchmarks/gpu_check.sh            # from the project root
set -euo pipefail
cd "$(dirname "$0")/.."
export KEDRO_DISABLE_TELEMETRY=true PYTHONUNBUFFERED=1
STEPS=${STEPS:-200}
ACCUM=${ACCUM:-4}   # 16 × 1024 × 4 = 65,536 tokens per step (conf/gpu uses 32 for ~0.5M)

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# KEDRO / PYTHON: where the project's dependencies are in the system Python rather than .venv,
#   KEDRO="python3 -m kedro" PYTHON=python3 bash benchmarks/gpu_check.sh
KEDRO=${KEDRO:-.venv/bin/kedro}
PYTHON=${PYTHON:-.venv/bin/python}
[[ $KEDRO != .venv/bin/kedro || -x .venv/bin/kedro ]] || make install
$PYTHON -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

start=$(date +%s)
$KEDRO run --env=gpu --pipelines=data
$KEDRO run --env=gpu --pipelines=pretraining --params \
  "pretraining.training.max_steps=${STEPS},pretraining.training.grad_accum_steps=${ACCUM},pretraining.training.warmup_steps=20,pretraining.training.eval_interval=100000,pretraining.training.checkpoint_interval=100000,pretraining.training.log_interval=20,pretraining.checkpoint_dir=data/06_models/checkpoints/gpu-check" \
  2>&1 | tee /tmp/kedro_gpt_gpu_check.log
echo "wall time: $(( $(date +%s) - start )) s"

$PYTHON benchmarks/gpu_summary.py --last
