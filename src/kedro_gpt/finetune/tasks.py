"""The four fine-tuning tasks, each: build rows → train with the one loop → score → baselines.

Every function takes the starting :class:`ModelBundle` (left untouched: the model is copied) and
returns a :class:`TaskResult` whose bundle holds the fine-tuned GPT with any LoRA merged in.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.model_selection import train_test_split

from kedro_gpt.finetune.adapt import finalize_backbone, prepare_backbone
from kedro_gpt.finetune.batches import (
    PaddedBatches,
    Row,
    RowsEvaluator,
    classification_row,
    fixed_batches,
    lm_row,
)
from kedro_gpt.finetune.config import FinetuningConfig, GenerationParams
from kedro_gpt.evaluation.metrics import (
    classification_metrics,
    confusion_figure,
    majority_baseline,
    text_metrics,
)
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.model.generate import generate
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.chat import Message, encode_chat, render_chat, stop_token_ids
from kedro_gpt.tokenizer.special_tokens import PAD, eos_id, special_token_id
from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.checkpoint import load_weights
from kedro_gpt.training.data import RandomWindows
from kedro_gpt.training.device import resolve_precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import Evaluator, ShardEvaluator
from kedro_gpt.training.loop import train
from kedro_gpt.training.result import TrainResult

logger = logging.getLogger(__name__)


@dataclass
class TaskResult:
    bundle: ModelBundle
    report: dict[str, Any]
    metrics: dict[str, float]
    samples: str = ""
    figure: Figure | None = None
    history: dict[str, Any] = field(default_factory=dict)


def _train(
    model: torch.nn.Module,
    batches: Any,
    evaluator: Evaluator,
    config: FinetuningConfig,
    out_dir: Path,
    callbacks: Sequence[TrainCallback],
    model_config: dict[str, Any],
) -> TrainResult:
    """Run the shared loop, then load the best checkpoint's weights (lowest held-out loss)."""
    result = train(
        model,
        batches,
        config.training,
        out_dir,
        evaluator=evaluator,
        callbacks=callbacks,
        model_config=model_config,
    )
    if result.best_path:
        load_weights(model, result.best_path)
    return result


def _fit_language_model(
    model: GPT,
    batches: Any,
    evaluator: Evaluator,
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback],
) -> tuple[GPT, TrainResult, dict[str, Any], float]:
    """Score ``model`` before, adapt it (full / freeze / LoRA), train it, fold adapters back.

    Returns the trained model, the run, the adaptation info and the held-out loss before.
    """
    base_loss = _eval_loss(model, evaluator, config)
    adapt = prepare_backbone(model, config)
    result = _train(
        model,
        batches,
        evaluator,
        config,
        Path(config.checkpoint_dir),
        callbacks,
        model.config.to_dict(),
    )
    return finalize_backbone(model), result, adapt, base_loss


def _eval_loss(model: torch.nn.Module, evaluator: Evaluator, config: FinetuningConfig) -> float:
    precision = resolve_precision(config.training.device, config.training.dtype)
    model.to(precision.device)
    return float(evaluator.evaluate(model, precision, DistContext(), full=True)["loss"])


def _split(items: list[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    if len(items) < 2:
        raise ValueError(f"need at least 2 examples to hold some out, got {len(items)}")
    order = np.random.default_rng(seed).permutation(len(items))
    n_eval = min(max(1, round(fraction * len(items))), len(items) - 1)
    return [items[i] for i in order[n_eval:]], [items[i] for i in order[:n_eval]]


def _info(bundle: ModelBundle, config: FinetuningConfig, result: TrainResult, **extra: Any):
    base = {k: bundle.info.get(k) for k in ("source", "step", "tokens", "tokenizer_sha256")}
    return {
        "source": "finetuning",
        "task": config.task,
        "base_model": {**base, **(bundle.info.get("lineage") or {})},
        "tokenizer_sha256": bundle.info.get("tokenizer_sha256"),
        "step": result.step,
        "tokens": result.tokens,
        "elapsed_s": result.elapsed_s,
        "stopped_by": result.stopped_by,
        "best_val_loss": result.best_val_loss,
        "finetuning": config.model_dump(mode="json"),
        **extra,
    }


# -- chat and text-to-text -----------------------------------------------------------------


def conversation_rows(
    sp: Any, conversations: Sequence[Sequence[Message]], block_size: int
) -> tuple[list[Row], int]:
    """Rows with loss on assistant tokens only (see :func:`lm_row` for long conversations);
    returns the rows and how many conversations had no assistant token to score."""
    rows, dropped = [], 0
    for conversation in conversations:
        row = lm_row(*encode_chat(sp, conversation), block_size)
        if row is None:
            dropped += 1
        else:
            rows.append(row)
    return rows, dropped


@torch.no_grad()
def generate_answers(
    model: GPT, sp: Any, prompts: Sequence[Sequence[Message]], max_new_tokens: int
) -> list[str]:
    """Greedy assistant answers to conversations that end with a user turn."""
    stops = stop_token_ids(sp)
    answers: list[str] = []
    for i in range(0, len(prompts), 8):
        ids = [encode_chat(sp, p, add_generation_prompt=True)[0] for p in prompts[i : i + 8]]
        new = generate(model, ids, max_new_tokens, temperature=0.0, stop_tokens=stops)
        answers += [sp.decode(row).strip() for row in new]
    return answers


def generation_report(
    model: GPT,
    sp: Any,
    held_out: Sequence[Sequence[Message]],
    params: GenerationParams,
) -> tuple[dict[str, float], list[dict[str, str]]]:
    chosen = list(held_out[: params.eval_examples])
    if not chosen:
        return {}, []
    prompts = [list(c[:-1]) for c in chosen]
    references = [c[-1]["content"] for c in chosen]
    answers = generate_answers(model, sp, prompts, params.max_new_tokens)
    samples = [
        {"prompt": render_chat(p, add_generation_prompt=True), "reference": r, "generated": a}
        for p, r, a in zip(prompts, references, answers, strict=True)
    ]
    return text_metrics(answers, references), samples


def _samples_text(samples: Sequence[dict[str, str]], limit: int) -> str:
    return "\n".join(
        f"=== example {i + 1} ===\n{s['prompt']}{s['generated']}\n--- reference ---\n"
        f"{s['reference']}\n"
        for i, s in enumerate(samples[:limit])
    )


def run_conversations(
    bundle: ModelBundle,
    conversations: Sequence[Sequence[Message]],
    held_out: Sequence[Sequence[Message]] | None,
    config: FinetuningConfig,
    generation: GenerationParams,
    callbacks: Sequence[TrainCallback] = (),
    eval_fraction: float = 0.1,
) -> TaskResult:
    """Instruction / chat tuning (and text-to-text): loss on assistant tokens only.

    ``held_out`` None: a seeded ``eval_fraction`` of ``conversations`` is held out.
    """
    sp = bundle.tokenizer
    train_convs, eval_convs = (
        _split(list(conversations), eval_fraction, config.seed)
        if held_out is None
        else (list(conversations), list(held_out))
    )
    block = bundle.config.block_size
    train_rows, dropped_train = conversation_rows(sp, train_convs, block)
    eval_rows, dropped_eval = conversation_rows(sp, eval_convs, block)
    if not train_rows or not eval_rows:
        raise ValueError(
            f"no {'training' if not train_rows else 'held-out'} conversation has an assistant "
            "turn with text to learn"
        )
    pad = special_token_id(sp, PAD)
    model = copy.deepcopy(bundle.model)
    evaluator = RowsEvaluator(eval_rows, config.training.batch_size, pad)
    batches = PaddedBatches(train_rows, config.training.batch_size, pad, seed=config.seed)
    model, result, adapt, base_loss = _fit_language_model(
        model, batches, evaluator, config, callbacks
    )
    response_loss = _eval_loss(model, evaluator, config)
    scores, samples = generation_report(model, sp, eval_convs, generation)
    metrics = {
        "response_loss": response_loss,
        "response_perplexity": math.exp(min(response_loss, 700)),
        "base_response_loss": base_loss,
        **scores,
    }
    report = {
        "task": config.task,
        "examples": {
            "train": len(train_rows),
            "eval": len(eval_rows),
            "dropped_no_answer": dropped_train + dropped_eval,
        },
        "adaptation": adapt,
        "metrics": metrics,
        "samples": samples[: generation.samples_logged],
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }
    info = _info(bundle, config, result, metrics=metrics, adaptation=adapt)
    return TaskResult(
        ModelBundle(model.cpu(), sp, info),
        report,
        metrics,
        _samples_text(samples, generation.samples_logged),
        history=result.to_dict(),
    )


def run_text2text(
    bundle: ModelBundle,
    train_pairs: Sequence[tuple[str, str]],
    eval_pairs: Sequence[tuple[str, str]],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """Source → target rewriting as chat turns; adds the copy-the-input baseline."""
    from kedro_gpt.finetune.data import pair_conversation

    params = config.text2text
    pairs = list(train_pairs[: params.max_train] if params.max_train else train_pairs)
    convs = [pair_conversation(s, t, params.instruction) for s, t in pairs]
    held = [pair_conversation(s, t, params.instruction) for s, t in eval_pairs]
    result = run_conversations(bundle, convs, held, config, params.generation, callbacks)
    scored = list(eval_pairs[: params.generation.eval_examples])
    if scored:
        copy_scores = text_metrics([s for s, _ in scored], [t for _, t in scored])
        result.metrics.update({f"copy_baseline_{k}": v for k, v in copy_scores.items()})
        result.report["metrics"] = result.metrics
        result.bundle.info["metrics"] = result.metrics
    return result


# -- classification --------------------------------------------------------------------------


def _classification_rows(sp: Any, examples, label_index: dict[str, int], block: int):
    rows, labels = [], []
    for text, label in examples:
        row = classification_row(sp.encode(text), label_index[label], block)
        if row is not None:
            rows.append(row)
            labels.append(label_index[label])
    return rows, labels


@torch.no_grad()
def predict_labels(model: GPTClassifier, rows: Sequence[Row], batch_size: int) -> list[int]:
    device = next(model.parameters()).device
    out: list[int] = []
    for x, _ in fixed_batches(rows, batch_size, model.pad_id):
        out += model.predict(x.to(device)).cpu().tolist()
    return out


def run_classification(
    bundle: ModelBundle,
    examples: Sequence[tuple[str, str]],
    labels: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """A classification head on the backbone; baselines: majority class and from scratch."""
    params = config.classification
    sp = bundle.tokenizer
    examples = list(examples)
    if params.max_examples and len(examples) > params.max_examples:
        picks = np.random.default_rng(config.seed).permutation(len(examples))
        examples = [examples[i] for i in sorted(picks[: params.max_examples])]
    label_index = {label: i for i, label in enumerate(labels)}
    counts = {label: sum(1 for _, lab in examples if lab == label) for label in labels}
    stratify = [lab for _, lab in examples] if min(counts.values()) >= 2 else None
    train_ex, eval_ex = train_test_split(
        examples, test_size=params.eval_fraction, random_state=config.seed, stratify=stratify
    )
    block = bundle.config.block_size
    pad = special_token_id(sp, PAD)
    train_rows, train_labels = _classification_rows(sp, train_ex, label_index, block)
    eval_rows, eval_labels = _classification_rows(sp, eval_ex, label_index, block)
    evaluator = RowsEvaluator(eval_rows, config.training.batch_size, pad)
    batch = config.training.batch_size

    def fit(
        backbone: GPT, out_dir: Path, cbs, adapt: bool, run_config: FinetuningConfig
    ) -> tuple[GPTClassifier, Any, Any]:
        info = prepare_backbone(backbone, run_config) if adapt else {"mode": "full"}
        model = GPTClassifier(backbone, len(labels), pad, params.pooling)
        run = _train(
            model,
            PaddedBatches(train_rows, batch, pad, seed=config.seed),
            evaluator,
            run_config,
            out_dir,
            cbs,
            {**backbone.config.to_dict(), "num_labels": len(labels)},
        )
        finalize_backbone(model.backbone)
        return model, run, info

    model, result, adapt = fit(
        copy.deepcopy(bundle.model), Path(config.checkpoint_dir), callbacks, True, config
    )
    finetuned = classification_metrics(eval_labels, predict_labels(model, eval_rows, batch), labels)
    majority = classification_metrics(
        eval_labels, majority_baseline(train_labels, eval_labels), labels
    )
    metrics = {
        "accuracy": finetuned["accuracy"],
        "macro_f1": finetuned["macro_f1"],
        "eval_loss": _eval_loss(model, evaluator, config),
        "majority_accuracy": majority["accuracy"],
        "majority_macro_f1": majority["macro_f1"],
    }
    report: dict[str, Any] = {
        "task": "classification",
        "labels": list(labels),
        "examples": {"train": len(train_rows), "eval": len(eval_rows), "per_label": counts},
        "adaptation": adapt,
        "finetuned": finetuned,
        "majority_baseline": majority,
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }
    if params.scratch_baseline:
        # the same budget in optimizer steps (a wall-clock budget would depend on the load)
        same_steps = config.training.model_copy(
            update={"max_steps": max(result.step, 1), "max_minutes": None, "max_tokens": None}
        )
        scratch_config = config.model_copy(update={"training": same_steps})
        torch.manual_seed(config.seed)
        scratch_model, scratch_run, _ = fit(
            GPT(copy.deepcopy(bundle.config)),
            Path(config.checkpoint_dir) / "scratch",
            (),
            False,
            scratch_config,
        )
        scratch = classification_metrics(
            eval_labels, predict_labels(scratch_model, eval_rows, batch), labels
        )
        metrics.update(scratch_accuracy=scratch["accuracy"], scratch_macro_f1=scratch["macro_f1"])
        report["scratch_baseline"] = {**scratch, "steps": scratch_run.step}
    report["metrics"] = metrics
    head = model.head_state()
    info = _info(
        bundle,
        config,
        result,
        metrics=metrics,
        adaptation=adapt,
        classifier={"labels": list(labels), **head},
    )
    figure = confusion_figure(
        finetuned["confusion_matrix"], labels, f"fine-tuned: accuracy {finetuned['accuracy']:.3f}"
    )
    return TaskResult(
        ModelBundle(model.backbone.cpu(), sp, info),
        report,
        metrics,
        figure=figure,
        history=result.to_dict(),
    )


def load_classifier(bundle: ModelBundle) -> tuple[GPTClassifier, list[str]]:
    """The classifier stored in a fine-tuned bundle (backbone + head from ``info``)."""
    state = bundle.info.get("classifier")
    if not state:
        raise ValueError("this model bundle holds no classification head")
    return GPTClassifier.from_head_state(bundle.model, state), list(state["labels"])


# -- continued pretraining -----------------------------------------------------------------


def run_continued_pretraining(
    bundle: ModelBundle,
    texts: Sequence[str],
    config: FinetuningConfig,
    callbacks: Sequence[TrainCallback] = (),
) -> TaskResult:
    """Keep training the language model on new text (last ``val_fraction`` of each text held out)."""
    sp = bundle.tokenizer
    params = config.continued_pretraining
    block = bundle.config.block_size
    train_shards, val_shards, chars, nbytes = [], [], 0, 0
    for text in texts:
        cut = int(len(text) * (1 - params.val_fraction))
        train_shards.append(np.asarray([*sp.encode(text[:cut]), eos_id(sp)], dtype=np.int64))
        val_shards.append(np.asarray(sp.encode(text[cut:]), dtype=np.int64))
        chars += len(text[cut:])
        nbytes += len(text[cut:].encode())
    meta = {"text_chars": chars, "text_bytes": nbytes}
    batch = config.training.batch_size
    evaluator = ShardEvaluator(
        val_shards, meta, block, batch, config.training.eval_batches, config.seed
    )
    model = copy.deepcopy(bundle.model)
    batches = RandomWindows(
        train_shards, block, batch, seed=config.seed, name="continued pretraining"
    )
    model, result, adapt, base_loss = _fit_language_model(
        model, batches, evaluator, config, callbacks
    )
    precision = resolve_precision(config.training.device, config.training.dtype)
    final = evaluator.evaluate(model.to(precision.device), precision, DistContext(), full=True)
    metrics = {
        "val_loss": final["loss"],
        "val_bits_per_char": final.get("bits_per_char", float("nan")),
        "base_val_loss": base_loss,
    }
    report = {
        "task": "continued_pretraining",
        "tokens": {
            "train": int(sum(map(len, train_shards))),
            "val": int(sum(map(len, val_shards))),
        },
        "adaptation": adapt,
        "metrics": metrics,
        "training": {k: v for k, v in result.to_dict().items() if k not in {"history", "evals"}},
    }
    info = _info(bundle, config, result, metrics=metrics, adaptation=adapt)
    return TaskResult(ModelBundle(model.cpu(), sp, info), report, metrics, history=result.to_dict())
