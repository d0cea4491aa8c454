"""Chat (instruction) tuning and text-to-text rewriting: loss on assistant tokens only, greedy
answers scored with BLEU / chrF, the copy-the-input baseline for rewriting."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch

from kedro_gpt.evaluation.metrics import text_metrics
from kedro_gpt.finetune.batches import PaddedBatches, Row, RowsEvaluator, lm_row
from kedro_gpt.finetune.config import FinetuningConfig, GenerationParams
from kedro_gpt.finetune.fit import (
    TaskResult,
    eval_loss,
    finetuned_info,
    fit_language_model,
    holdout_split,
)
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.generate import generate
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.chat import Message, encode_chat, render_chat, stop_token_ids
from kedro_gpt.tokenizer.special_tokens import PAD, special_token_id
from kedro_gpt.training.callbacks import TrainCallback


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
        holdout_split(list(conversations), eval_fraction, config.seed)
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
    model, result, adapt, base_loss = fit_language_model(
        model, batches, evaluator, config, callbacks
    )
    response_loss = eval_loss(model, evaluator, config)
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
    info = finetuned_info(bundle, config, result, metrics=metrics, adaptation=adapt)
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
