"""Quality per compute: bits per character on exactly nanoGPT's Tiny Shakespeare validation split.

Each configuration trains on the first 90 % of Tiny Shakespeare for a wall-clock budget and is
scored on every character of the last 10 % (``data[int(n * 0.9):]``, nanoGPT's split): total nats
of the validation tokens ÷ the split's 111,540 characters ÷ ln 2, so character-level and BPE
tokenizers are compared on the same characters. The steps done are reported too, since
wall-clock budgets are noisy on a shared machine. Run it on an otherwise idle machine.

The configurations run as the sweep's ablation mode (``kedro_gpt.sweep``, as ``kedro run
--pipelines=sweep`` with ``sweep.mode: ablation``): row 0 is the base (the ``baseline`` settings),
each named configuration one row of changes against it, and the study lives in ``--storage``, so
a killed run resumes with the rows it has not finished.

    .venv/bin/python benchmarks/quality.py --minutes 2.5 --configs first     # the ablation table
    .venv/bin/python benchmarks/quality.py --minutes 2.5 --configs second    # on the 4x128 shape
    .venv/bin/python benchmarks/quality.py --minutes 10 --configs best 4x128+muon-wsd+dropout0.1
    .venv/bin/python benchmarks/quality.py --minutes 0.1 --configs baseline --no-write   # smoke
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, write_section  # noqa: E402

from kedro_gpt.model.config import GPTConfig  # noqa: E402
from kedro_gpt.model.gpt import GPT  # noqa: E402
from kedro_gpt.sweep.config import SweepConfig  # noqa: E402
from kedro_gpt.sweep.study import ROW, TrialOutcome, run_study  # noqa: E402
from kedro_gpt.tokenizer.config import SentencePieceConfig  # noqa: E402
from kedro_gpt.tokenizer.split import split_offset  # noqa: E402
from kedro_gpt.tokenizer.train import train_sentencepiece  # noqa: E402
from kedro_gpt.training.config import TrainConfig  # noqa: E402
from kedro_gpt.training.data import RandomWindows  # noqa: E402
from kedro_gpt.training.device import resolve_precision  # noqa: E402
from kedro_gpt.training.distributed import DistContext  # noqa: E402
from kedro_gpt.training.evaluate import ShardEvaluator  # noqa: E402
from kedro_gpt.training.loop import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "01_raw" / "tinyshakespeare" / "input.txt"
SHAPE = {"n_layer": 6, "n_head": 6, "n_embd": 192, "block_size": 256}
# name -> (vocab: "char" or a BPE size, model switches and shape overrides, training overrides).
# Each row adds one change to the row it names in its comment (or to "rope-qknorm-relu2").
BEST_SWITCHES = {"rope": True, "qk_norm": True, "relu2": True}
SMALL = {**BEST_SWITCHES, "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128}
CONFIGS: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {
    "char-gpt2": ("char", {}, {}),  # nanoGPT's setting: characters, GPT-2 layout
    "baseline": (2048, {}, {}),  # + a 2048-piece BPE vocabulary
    "rope": (2048, {"rope": True}, {}),  # + rotary positions
    "rope-lr3e-3": (2048, {"rope": True}, {"learning_rate": 3e-3}),  # + 3x the learning rate
    "rope-qknorm": (2048, {"rope": True, "qk_norm": True}, {"learning_rate": 3e-3}),
    "rope-qknorm-relu2": (2048, BEST_SWITCHES, {"learning_rate": 3e-3}),
    "+untied-zero-softcap": (
        2048,
        {**BEST_SWITCHES, "tie_embeddings": False, "zero_init_proj": True, "logit_softcap": 30.0},
        {"learning_rate": 3e-3},
    ),
    "+value-embed": (2048, {**BEST_SWITCHES, "value_embeddings": True}, {"learning_rate": 3e-3}),
    "+muon-wsd": (
        2048,
        BEST_SWITCHES,
        {"learning_rate": 3e-3, "optimizer": "muon", "schedule": "wsd"},
    ),
    "+vocab-4096": (4096, BEST_SWITCHES, {"learning_rate": 3e-3}),
    "+shape-4x128": (  # the cpu-small preset's shape
        2048,
        SMALL,
        {"learning_rate": 3e-3},
    ),
}
MUON = {"learning_rate": 3e-3, "optimizer": "muon", "schedule": "wsd"}
UNTIED = {"tie_embeddings": False, "zero_init_proj": True, "logit_softcap": 30.0}
FIRST_SWEEP = list(CONFIGS)
SECOND_SWEEP: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {
    # on the cpu-small shape (the 2.5-minute winner above)
    "4x128+muon-wsd": (2048, SMALL, MUON),
    "4x128+muon+untied-zero-softcap": (2048, {**SMALL, **UNTIED}, MUON),
    "4x128+muon+untied+value-embed": (2048, {**SMALL, **UNTIED, "value_embeddings": True}, MUON),
    "4x128+muon+untied+value-embed+bf16": (
        2048,
        {**SMALL, **UNTIED, "value_embeddings": True},
        {**MUON, "dtype": "bfloat16"},
    ),
    "6x192+muon+untied+value-embed+bf16": (
        2048,
        {**BEST_SWITCHES, **UNTIED, "value_embeddings": True},
        {**MUON, "dtype": "bfloat16"},
    ),
}
CONFIGS |= SECOND_SWEEP
CONFIGS |= {  # for the 10-minute budget, where ~20 epochs of the 2048-piece corpus overfit
    "4x128+muon-wsd+dropout0.1": (2048, {**SMALL, "dropout": 0.1}, MUON),
    "4x128+muon-wsd+dropout0.2": (2048, {**SMALL, "dropout": 0.2}, MUON),
    "6x192+muon-wsd+dropout0.2": (2048, {**BEST_SWITCHES, "dropout": 0.2}, MUON),
}
GROUPS = {
    "best": ["4x128+muon-wsd"],  # the 2.5-minute winner (the conf/base defaults)
    "all": list(CONFIGS),
    "first": FIRST_SWEEP,
    "second": list(SECOND_SWEEP),
}


@functools.cache
def splits(vocab: Any) -> tuple[np.ndarray, np.ndarray, int, dict[str, int]]:
    text = CORPUS.read_text(encoding="utf-8")
    k = split_offset(len(text), 0.1)
    train_text, val_text = text[:k], text[k:]
    if vocab == "char":
        chars = sorted(set(text))
        lookup = {c: i for i, c in enumerate(chars)}
        encode = lambda s: [lookup[c] for c in s]  # noqa: E731
        size = len(chars)
    else:
        sp = train_sentencepiece([train_text], SentencePieceConfig(vocab_size=vocab))
        encode, size = sp.encode, sp.get_piece_size()
    meta = {"text_chars": len(val_text), "text_bytes": len(val_text.encode())}
    return (
        np.array(encode(train_text), np.uint16),
        np.array(encode(val_text), np.uint16),
        size,
        meta,
    )


def train_and_score(
    vocab: Any,
    switches: dict[str, Any],
    overrides: dict[str, Any],
    minutes: float,
    threads: int,
    seed: int = 1337,
) -> dict[str, Any]:
    """Train from scratch on the first 90 % for ``minutes``; score every validation character.
    ``switches`` change the model (``SHAPE`` plus GPTConfig fields), ``overrides`` TrainConfig."""
    train_ids, val_ids, size, meta = splits(vocab)
    config = GPTConfig(**{"vocab_size": size, "dropout": 0.0, **SHAPE, **switches})
    torch.manual_seed(seed)
    model = GPT(config)
    settings = {
        "optimizer": "adamw",  # the baseline rows; MUON rows override these two
        "schedule": "cosine",
        "batch_size": 16,
        "learning_rate": 1e-3,
        "warmup_steps": 50,
        "max_minutes": minutes,
        "eval_interval": 10**9,
        "checkpoint_interval": 10**9,
        "log_interval": 50,
        "final_eval": False,
        "progress_bar": False,
        "num_threads": threads,
        "seed": seed,
        "device": "cpu",
        "dtype": "float32",
        "min_lr_ratio": 0.1,
        **overrides,
    }
    batches = RandomWindows([train_ids], config.block_size, settings["batch_size"], seed=seed)
    with tempfile.TemporaryDirectory() as out:
        result = train(model, batches, TrainConfig(**settings), out, model_config=config.to_dict())
    evaluator = ShardEvaluator([val_ids], meta, config.block_size, 16, 1, seed=0)
    metrics = evaluator.evaluate(
        model, resolve_precision("cpu", "float32"), DistContext(), full=True
    )
    return {
        "vocab": vocab,
        "switches": switches,
        "overrides": overrides,
        "steps": result.step,
        "tokens": result.tokens,
        "minutes": minutes,
        "bits_per_char": metrics["bits_per_char"],
        "nats_per_char": metrics["bits_per_char"] * math.log(2),
    }


def as_change(name: str) -> dict[str, Any]:
    """A configuration as one ablation row: dotted overrides of the baseline's settings."""
    vocab, switches, overrides = CONFIGS[name]
    return {
        "tokenizer.vocab": vocab,
        **{f"model.{k}": v for k, v in switches.items()},
        **{f"training.{k}": v for k, v in overrides.items()},
    }


def train_row(minutes: float, threads: int):
    """The sweep's trial function for an ablation row: train, then bits per character."""

    def train_trial(trial: Any, overrides: dict[str, Any]) -> TrialOutcome:
        parts: dict[str, dict[str, Any]] = {"tokenizer": {}, "model": {}, "training": {}}
        for key, value in overrides.items():
            section, name = key.split(".", 1)
            parts[section][name] = value
        vocab = parts["tokenizer"].get("vocab", 2048)
        started = time.perf_counter()
        row = train_and_score(vocab, parts["model"], parts["training"], minutes, threads)
        trial.set_user_attr("nats_per_char", row["nats_per_char"])
        elapsed = time.perf_counter() - started
        return TrialOutcome(row["bits_per_char"], row["steps"], row["tokens"], elapsed)

    return train_trial


def ablation(names: list[str], minutes: float, threads: int, storage: str) -> list[dict[str, Any]]:
    """Each configuration as a row of the sweep's ablation mode (row 0, the base, is the
    ``baseline`` settings); a killed run resumes from ``storage``. One dict per row."""
    config = SweepConfig(
        mode="ablation",
        ablation=[as_change(name) for name in names],
        storage=storage,
        study_name=f"quality-{minutes:g}min-{'-'.join(names)}"[:200],
    )
    study = run_study(config, train_row(minutes, threads))
    labels = ["base (baseline)", *names]
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name != "COMPLETE":
            continue
        rows.append(
            {
                "name": labels[trial.params[ROW]],
                "row": trial.params[ROW],
                "steps": trial.user_attrs["steps"],
                "tokens": trial.user_attrs["tokens"],
                "bits_per_char": trial.value,
                "nats_per_char": trial.user_attrs["nats_per_char"],
            }
        )
    rows.sort(key=lambda r: r["row"])
    base = rows[0]["bits_per_char"] if rows and rows[0]["row"] == 0 else None
    for row in rows:
        row["delta_vs_base"] = None if base is None else row["bits_per_char"] - base
    return rows


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.5)
    parser.add_argument(
        "--configs", nargs="+", default=["all"], help=f"names or groups {list(GROUPS)}"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument(
        "--storage",
        default=f"sqlite:///{ROOT / 'data' / 'benchmarks' / 'quality.db'}",
        help="the ablation study's database: a killed run resumes (a new --configs list or "
        "--minutes is a new study)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    names = [n for c in args.configs for n in GROUPS.get(c, [c])]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; known: {list(CONFIGS)} or groups {list(GROUPS)}")
    rows = ablation(names, args.minutes, args.threads, args.storage)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    table = "\n".join(
        [
            "| config | change against the base | steps | tokens | bits/char | vs base |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r['name']} | {as_change(r['name']) if r['row'] else '-'} | {r['steps']:,} "
                f"| {r['tokens']:,} | **{r['bits_per_char']:.3f}** | "
                f"{_signed(r['delta_vs_base'])} |"
                for r in rows
            ),
        ]
    )
    text = (
        f"Command: `.venv/bin/python benchmarks/quality.py --minutes {args.minutes} --configs "
        f"{' '.join(args.configs)}`. {machine_line(machine_info(('torch',)))}\n\n"
        f"Shape {SHAPE}, batch 16, AdamW unless noted, {args.minutes} min of training each, scored on all "
        f"111,540 characters of nanoGPT's validation split.\n\n{table}"
    )
    print(text)
    if not args.no_write:
        write_section(text, f"## Quality per compute ({args.minutes:g} min)")


if __name__ == "__main__":
    main()
