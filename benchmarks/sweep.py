"""The sweep's goal: a TPE study of short pretraining trials on Tiny Shakespeare, then the best
configuration retrained at the default budget and scored like ``quality.py`` (bits per character
on every character of nanoGPT's validation split), beside the hand-tuned default in the same run.

Selection never sees the scored text: trials train on the first 90 % of the training tokens and
are compared (and pruned) on the validation loss of the last 10 % of them; only the retrained
best and the default are scored on nanoGPT's validation split. Trials validate every tenth of
their time budget (``training.eval_interval_minutes``), so the pruner compares every trial at
the same shares of it. Each trial is a nested MLflow run under the sweep's parent run (an SQLite
store in ``--out``; ``mlflow ui --backend-store-uri sqlite:///<out>/mlflow.db`` shows it).

    .venv/bin/python benchmarks/sweep.py --minutes 30 --trial-minutes 1            # the goal
    .venv/bin/python benchmarks/sweep.py --pruner none --n-trials 20 --no-retrain   # unpruned
    .venv/bin/python benchmarks/sweep.py --minutes 1 --trial-minutes 0.2 --retrain-minutes 0.2 \\
        --no-write                                                                  # smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, write_section  # noqa: E402
from quality import MUON, SMALL, splits, train_and_score  # noqa: E402

from kedro_gpt.model.config import GPTConfig  # noqa: E402
from kedro_gpt.model.gpt import GPT  # noqa: E402
from kedro_gpt.sweep.config import SweepConfig  # noqa: E402
from kedro_gpt.sweep.plots import study_plots  # noqa: E402
from kedro_gpt.sweep.study import (  # noqa: E402
    PruningCallback,
    TrialOutcome,
    run_study,
    study_report,
)
from kedro_gpt.tracking.sweep_runs import log_trial_to_parent, trial_run  # noqa: E402
from kedro_gpt.training.config import TrainConfig  # noqa: E402
from kedro_gpt.training.data import RandomWindows  # noqa: E402
from kedro_gpt.training.evaluate import ShardEvaluator  # noqa: E402
from kedro_gpt.training.loop import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 2048
EXPERIMENT = "sweep-benchmark"
HEAD_DIM = 32  # n_head = n_embd // HEAD_DIM, as the cpu-small preset (4 heads of 32)
SPACE: dict[str, dict[str, Any]] = {
    "training.learning_rate": {"type": "float", "low": 1e-3, "high": 1.5e-2, "log": True},
    "training.muon_lr": {"type": "float", "low": 0.005, "high": 0.08, "log": True},
    "training.warmup_steps": {"type": "int", "low": 0, "high": 100, "step": 10},
    "training.batch_size": {"type": "categorical", "choices": [8, 16, 32]},
    "training.weight_decay": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.05},
    "training.decay_fraction": {"type": "float", "low": 0.1, "high": 0.5, "step": 0.1},
    "model.n_layer": {"type": "categorical", "choices": [2, 3, 4, 5, 6]},
    "model.n_embd": {"type": "categorical", "choices": [96, 128, 160, 192]},
    "model.block_size": {"type": "categorical", "choices": [64, 128, 256]},
    "model.dropout": {"type": "categorical", "choices": [0.0, 0.05, 0.1]},
}


def default_point() -> dict[str, Any]:
    """The hand-tuned default (``quality.py``'s cpu-small shape with Muon + WSD) as a point of
    ``SPACE``: what ``--start-from-default`` tries first."""
    training = TrainConfig(**MUON, max_minutes=1).model_dump()
    model = {**GPTConfig().to_dict(), **SMALL}
    return {
        key: (training if key.startswith("training.") else model)[key.split(".", 1)[1]]
        for key in SPACE
    }


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dotted overrides as (model switches on the cpu-small shape, TrainConfig settings)."""
    model = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("model.")}
    training = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("training.")}
    switches = {**SMALL, **model}
    switches["n_head"] = max(1, int(switches["n_embd"]) // HEAD_DIM)
    return switches, {**MUON, **training}


def make_trainer(trial_minutes: float, threads: int, folder: Path, study: str):
    """The function that trains one trial: the first 90 % of the training tokens, validated on
    the last 10 % every tenth of the budget."""
    train_ids, _, size, meta = splits(VOCAB)
    cut = int(len(train_ids) * 0.9)
    fit_ids, select_ids = train_ids[:cut], train_ids[cut:]

    def train_trial(trial: optuna.Trial, overrides: dict[str, Any]) -> TrialOutcome:
        switches, settings = split_overrides(overrides)
        config = GPTConfig(**{"vocab_size": size, **switches})
        torch.manual_seed(1337)
        model = GPT(config)
        train_config = TrainConfig(
            **{
                "max_minutes": trial_minutes,
                "eval_interval": 10**9,
                "eval_interval_minutes": trial_minutes / 10,
                "eval_batches": 16,
                "checkpoint_interval": 10**9,
                "log_interval": 50,
                "progress_bar": False,
                "num_threads": threads,
                "device": "cpu",
                "dtype": "float32",
                "seed": 1337,
                **settings,
            }
        )
        batches = RandomWindows([fit_ids], config.block_size, train_config.batch_size, seed=1337)
        evaluator = ShardEvaluator([select_ids], meta, config.block_size, 16, 16, seed=0)
        with trial_run(study, trial.number, overrides) as tracker:
            result = train(
                model,
                batches,
                train_config,
                folder / f"trial_{trial.number:04d}",
                evaluator=evaluator,
                callbacks=[tracker, PruningCallback(trial, by_eval_count=True)],
                model_config=config.to_dict(),
            )
        assert result.best_val_loss is not None
        return TrialOutcome(result.best_val_loss, result.step, result.tokens, result.elapsed_s)

    return train_trial


def sweep(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Run the study under an MLflow parent run; return its report."""
    config = SweepConfig(
        space=SPACE,
        sampler="tpe",
        pruner=args.pruner,
        n_trials=args.n_trials,
        timeout_minutes=args.minutes,
        storage=f"sqlite:///{out / 'optuna.db'}",
        study_name=args.study or f"tinyshakespeare-{args.pruner}-{int(time.time())}",
        seed=args.seed,
        enqueue=[default_point()] if args.start_from_default else [],
    )
    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:  # artifacts beside the store, in out
        mlflow.create_experiment(EXPERIMENT, artifact_location=(out / "artifacts").as_uri())
    mlflow.set_experiment(EXPERIMENT)
    with (
        mlflow.start_run(run_name=f"sweep {config.study_name}"),
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params({"sweep.pruner": args.pruner, "sweep.trial_minutes": args.trial_minutes})
        t0 = time.perf_counter()
        trainer = make_trainer(args.trial_minutes, args.threads, Path(tmp), config.study_name)
        study = run_study(config, trainer, [log_trial_to_parent])
        wall = time.perf_counter() - t0
        report = study_report(study, config)
        report["wall_s"] = wall
        mlflow.log_dict(report, "sweep/sweep_report.json")
        for name, figure in study_plots(study).items():
            mlflow.log_figure(figure, f"sweep/sweep_plots/{name}.png")
        best = report["best"]
        if best:
            mlflow.log_metric("best_val_loss", best["value"])
    return report


def summary(report: dict[str, Any], trial_minutes: float) -> dict[str, Any]:
    """Trials per state, the time they took, and the time the same trials would have taken
    unpruned (every trial runs its whole budget then)."""
    trials = [t for t in report["trials"] if t["state"] in ("complete", "pruned")]
    spent = sum(t["elapsed_s"] or 0.0 for t in trials)
    complete = [t["elapsed_s"] for t in trials if t["state"] == "complete" and t["elapsed_s"]]
    full = sum(complete) / len(complete) if complete else trial_minutes * 60
    return {
        "counts": report["counts"],
        "trial_seconds": spent,
        "wall_s": report["wall_s"],
        "mean_complete_trial_s": full,
        "unpruned_estimate_s": full * len(trials),
        "best": report["best"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=None, help="the sweep's wall time")
    parser.add_argument("--n-trials", type=int, default=None)
    parser.add_argument("--trial-minutes", type=float, default=1.0)
    parser.add_argument("--retrain-minutes", type=float, default=2.5)
    parser.add_argument(
        "--pruner", choices=["median", "successive_halving", "none"], default="median"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--study", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "sweep")
    parser.add_argument(
        "--start-from-default",
        action="store_true",
        help="the study's first trial is the hand-tuned default (study.enqueue_trial)",
    )
    parser.add_argument("--no-retrain", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.minutes is None and args.n_trials is None:
        parser.error("give --minutes or --n-trials")
    args.out.mkdir(parents=True, exist_ok=True)
    report = sweep(args, args.out)
    result = summary(report, args.trial_minutes)
    print(json.dumps(result, default=str), flush=True)
    (args.out / f"{report['study']}.json").write_text(json.dumps(report, indent=2, default=str))
    if args.no_retrain or not report["best"]:
        return
    switches, settings = split_overrides(report["best"]["overrides"])
    rows = {
        "default": train_and_score(VOCAB, SMALL, MUON, args.retrain_minutes, args.threads),
        "sweep best": train_and_score(
            VOCAB, switches, settings, args.retrain_minutes, args.threads
        ),
    }
    for name, row in rows.items():
        print(json.dumps({"name": name, **row}), flush=True)
    text = (
        f"Command: `.venv/bin/python benchmarks/sweep.py --minutes {args.minutes} --trial-minutes "
        f"{args.trial_minutes} --pruner {args.pruner}"
        f"{' --start-from-default' if args.start_from_default else ''}`. "
        f"{machine_line(machine_info(('torch', 'optuna')))}\n\n"
        f"Study `{report['study']}`: {result['counts']} in {result['wall_s'] / 60:.1f} min "
        f"(trial time {result['trial_seconds'] / 60:.1f} min; unpruned the same trials would take "
        f"~{result['unpruned_estimate_s'] / 60:.1f} min). Best trial "
        f"{report['best']['number']}: selection loss {report['best']['value']:.4f}, "
        f"`{report['best']['overrides']}`.\n\n"
        "| config | steps | tokens | bits/char |\n|---|---|---|---|\n"
        + "\n".join(
            f"| {name} | {row['steps']:,} | {row['tokens']:,} | **{row['bits_per_char']:.3f}** |"
            for name, row in rows.items()
        )
    )
    print(text)
    if not args.no_write:
        write_section(text, "## Sweep (generated)")


if __name__ == "__main__":
    main()
