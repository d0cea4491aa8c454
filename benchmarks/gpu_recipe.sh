#!/usr/bin/env bash
# The English recipe (issue 12) at a larger size on a CUDA GPU: Wikipedia pretraining, evaluation,
# review adaptation, then the rt-polarity transfer table (conf/english's five-member ensemble, the
# same model from scratch, majority / TF-IDF + LR / NB-weighted LR), with bf16 autocast
# (COMPILE=true adds torch.compile). Prints tokens/s, MFU, GPU memory, bits per character and the transfer table.
# Needs the two corpora in data/english/01_raw (docs/user_guide.md, "An English model").
#   bash benchmarks/gpu_recipe.sh                       # pretrain adapt finetune_adapted
#   bash benchmarks/gpu_recipe.sh pretrain finetune     # the Wikipedia model's row only
# Phases: pretrain (data, pretraining, evaluation), adapt (the reviews), finetune (from the
# Wikipedia model), finetune_adapted (from the adapted one), summary (print the figures only).
# KEDRO / PYTHON name the interpreter where the project is not in .venv (a machine whose system
# Python holds the dependencies): KEDRO="python3 -m kedro" PYTHON=python3 bash benchmarks/...
set -euo pipefail
cd "$(dirname "$0")/.."
export KEDRO_DISABLE_TELEMETRY=true PYTHONUNBUFFERED=1
PHASES=("$@")
[[ $# -gt 0 ]] || PHASES=(pretrain adapt finetune_adapted)
KEDRO=${KEDRO:-.venv/bin/kedro}
PYTHON=${PYTHON:-.venv/bin/python}
PRETRAIN_MINUTES=${PRETRAIN_MINUTES:-2}
ADAPT_MINUTES=${ADAPT_MINUTES:-1}
LAYERS=${LAYERS:-8} HEADS=${HEADS:-8} WIDTH=${WIDTH:-512} BLOCK=${BLOCK:-256}
BATCH=${BATCH:-64} ACCUM=${ACCUM:-4}   # 64 × 256 × 4 = 65,536 tokens per optimizer step
# torch.compile's warm-up counts against max_minutes: off for budgets of a few minutes
COMPILE=${COMPILE:-false} DEVICE=${DEVICE:-cuda} DTYPE=${DTYPE:-bfloat16}
FINETUNE_PARAMS=${FINETUNE_PARAMS:-}  # e.g. finetuning.classification.ensemble=3

train() {  # the GPU settings of one training stage's parameters (prefix: pretraining or adapt.pretraining)
  echo "$1.training.batch_size=${BATCH},$1.training.grad_accum_steps=${ACCUM},$1.training.device=${DEVICE},$1.training.dtype=${DTYPE},$1.training.compile=${COMPILE},$1.training.max_minutes=$2"
}
SIZE="pretraining.model.n_layer=${LAYERS},pretraining.model.n_head=${HEADS},pretraining.model.n_embd=${WIDTH},pretraining.model.block_size=${BLOCK}"

stage() {  # one timed kedro run
  local label=$1; shift
  local t
  t=$(date +%s)
  $KEDRO run --env=english "$@"
  echo "${label}: $(( $(date +%s) - t )) s"
}
for phase in "${PHASES[@]}"; do
  case $phase in
    pretrain)
      stage data --pipelines=data
      stage "pretraining + evaluation" --pipelines=pretraining,evaluation --params \
        "${SIZE},$(train pretraining "$PRETRAIN_MINUTES"),pretraining.training.eval_interval=200,pretraining.training.checkpoint_interval=200" ;;
    adapt) stage adapt --pipelines=adapt --params "$(train adapt.pretraining "$ADAPT_MINUTES")" ;;
    finetune|finetune_adapted)
      stage "$phase" --pipelines="$phase" ${FINETUNE_PARAMS:+--params "$FINETUNE_PARAMS"} ;;
    summary) ;;
    *) echo "unknown phase $phase (pretrain, adapt, finetune, finetune_adapted, summary)"; exit 2 ;;
  esac
done

$PYTHON benchmarks/gpu_summary.py --english
