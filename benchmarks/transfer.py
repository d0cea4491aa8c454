"""The transfer table of the English recipe (issue 12): rt-polarity accuracy on the fixed test split
for classifiers fine-tuned from the Shakespeare model, the Wikipedia model and the
Wikipedia + reviews model, beside majority / TF-IDF + LR / NB-weighted LR / from-scratch baselines
measured in the same runs, and the models' bits per character on held-out Wikipedia articles and
held-out reviews.

Every row is a real ``kedro run`` in a scratch copy of the project (``--workdir``), with the
corpora linked from ``../shared/data`` into ``data/english/01_raw``. Budgets default to the
``english`` environment's (60 / 20 minutes, then 3 epochs a classifier);
smaller ones make a quicker, labelled table.

Phase ``pretrain`` trains the three language models (~90 min at the recipe's budgets); phase
``finetune`` measures the transfer techniques one at a time on the Wikipedia + reviews model
(``--technique-minutes`` each; skipped when ``--techniques`` names one), picks the best by
validation accuracy, fine-tunes every starting point with it (conf/english's settings, its
restarts and ensemble included: five fits a row, about 25 minutes, and as many scratch fits for
the Wikipedia + reviews row), and chat-tunes the Wikipedia and Shakespeare models (~2 hours;
``--ensemble 1`` for one fit a row, ~55 min).

    python benchmarks/transfer.py                        # both phases at the recipe's budgets
    python benchmarks/transfer.py --phase pretrain       # then, later:  --phase finetune
    python benchmarks/transfer.py --pretrain-minutes 30 --adapt-minutes 10 --classify-minutes 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CORPORA = {
    "wiki_en_2015_AA.txt.gz": SHARED / "pretrain_wikipedia_en" / "wiki_en_2015_AA.txt.gz",
    "imdb_unsup_dedup.txt.gz": SHARED / "imdb_unsup" / "imdb_unsup_dedup.txt.gz",
}
KEDRO = Path(sys.executable).with_name("kedro")


def prepare(workdir: Path) -> Path:
    """A scratch project: pyproject, conf, the bundled raw data, the corpora linked in."""
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "src").mkdir(parents=True)
    shutil.copy(ROOT / ".telemetry", workdir)
    refresh_conf(workdir)
    shutil.copytree(ROOT / "data" / "01_raw", workdir / "data" / "01_raw")
    raw = workdir / "data" / "english" / "01_raw"
    raw.mkdir(parents=True)
    for name, source in CORPORA.items():
        if not source.is_file():
            raise SystemExit(f"missing corpus {source}")
        (raw / name).symlink_to(source)
    return workdir


def refresh_conf(workdir: Path) -> None:
    """The project's pyproject and conf (all but ``local``) copied over the scratch project's,
    so a phase run later runs with today's settings, not those of the day the copy was made."""
    shutil.copy(ROOT / "pyproject.toml", workdir)
    if (workdir / "conf").exists():
        shutil.rmtree(workdir / "conf")
    shutil.copytree(ROOT / "conf", workdir / "conf", ignore=shutil.ignore_patterns("local"))
    (workdir / "conf" / "local").mkdir()


def kedro_run(workdir: Path, *args: str, log: Path) -> float:
    """One ``kedro run``; its output goes to ``log``; returns the wall time in seconds."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    start = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ kedro run {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            [str(KEDRO), "run", *args], cwd=workdir, env=env, stdout=out, stderr=out, check=False
        )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"kedro run {' '.join(args)} failed after {seconds:.0f} s: see {log}")
    print(f"kedro run {' '.join(args)}: {seconds / 60:.1f} min", flush=True)
    return seconds


def latest(workdir: Path, relative: str) -> dict[str, Any]:
    folder = workdir / relative
    version = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[-1]
    return json.loads((folder / version / folder.name).read_text())


def _params(**values: Any) -> str:
    return "--params=" + ",".join(f"{k}={v}" for k, v in values.items())


def pretrain(args: argparse.Namespace) -> dict[str, float]:
    """Phase 1: the English model, its review-adapted version and the default (Shakespeare) model."""
    work = prepare(args.workdir)
    log = args.workdir / "runs.log"
    return {
        "english pretrain": kedro_run(
            work,
            "--env=english",
            "--pipelines=pretrain",
            _params(**{"pretraining.training.max_minutes": args.pretrain_minutes}),
            log=log,
        ),
        "english adapt": kedro_run(
            work,
            "--env=english",
            "--pipelines=adapt",
            _params(**{"adapt.pretraining.training.max_minutes": args.adapt_minutes}),
            log=log,
        ),
        "shakespeare pretrain": kedro_run(work, "--pipelines=pretrain", log=log),
    }


# Transfer techniques, measured one at a time on the Wikipedia + reviews model (ULMFiT's three
# and the pooling); the benchmark picks the best by validation accuracy for the table's rows.
# The first six pool the last token (conf/base's default; conf/english now pools the mean, the
# winner of these rows) and none but one detokenizes (conf/english does now), so they mean what
# they meant when first measured. Each fits once; the table's rows restart as conf/english says.
LAST = {"pooling": "last", "detokenize": "false"}
TECHNIQUES: dict[str, dict[str, Any]] = {
    "plain (one LR, all layers)": LAST,
    "mean pooling": {"pooling": "mean", "detokenize": "false"},
    "head warm-up (100 steps)": {**LAST, "head_warmup_steps": 100},
    "discriminative LRs (x0.7 a layer)": {**LAST, "layer_lr_decay": 0.7},
    "gradual unfreezing": {**LAST, "gradual_unfreezing": "true"},
    "all three": {
        **LAST,
        "head_warmup_steps": 100,
        "layer_lr_decay": 0.7,
        "gradual_unfreezing": "true",
    },
    "mean pooling + detokenized text": {"pooling": "mean", "detokenize": "true"},
    "concat pooling + detokenized text": {"pooling": "concat", "detokenize": "true"},
    "mean pooling + auxiliary LM loss (0.5)": {
        "pooling": "mean",
        "detokenize": "false",
        "lm_loss_weight": 0.5,
    },
}


ONE_FIT = {"restarts": 1, "ensemble": 1}  # techniques are compared on single fits


def _english_finetuning() -> dict[str, Any]:
    """conf/english's fine-tuning settings as dotted parameters, so the default-env row (the
    Shakespeare model) fine-tunes exactly as the English rows do."""
    path = ROOT / "conf" / "english" / "parameters_finetuning.yml"
    finetuning = yaml.safe_load(path.read_text())["finetuning"]
    values = {f"finetuning.training.{k}": v for k, v in finetuning["training"].items()}
    values.update(
        {f"finetuning.classification.{k}": v for k, v in finetuning["classification"].items()}
    )
    return {k: "null" if v is None else v for k, v in values.items()}


def _classify(minutes: float | None, scratch: bool, technique: dict[str, Any]) -> str:
    values = {
        **_english_finetuning(),
        "finetuning.task": "classification",
        "finetuning.training.max_minutes": "null" if minutes is None else minutes,
        "finetuning.classification.scratch_baseline": str(scratch).lower(),
        **{f"finetuning.classification.{k}": v for k, v in technique.items()},
    }
    return _params(**values)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Phase 2: the techniques one at a time, then one row per starting point, then chat."""
    work, log, english = args.workdir, args.workdir / "runs.log", "--env=english"
    refresh_conf(work)
    adapted_report = "data/english/08_reporting/adapt/finetune_report.json"
    times: dict[str, float] = {}
    techniques: dict[str, dict[str, Any]] = {}
    for name in args.techniques if len(args.techniques) > 1 else ():  # one: nothing to choose
        times[f"technique: {name}"] = kedro_run(
            work,
            english,
            "--pipelines=finetune_adapted",
            _classify(args.technique_minutes, False, {**TECHNIQUES[name], **ONE_FIT}),
            log=log,
        )
        techniques[name] = latest(work, adapted_report)["metrics"]
    best = max(
        techniques, key=lambda name: techniques[name]["val_accuracy"], default=args.techniques[0]
    )
    chosen = {**TECHNIQUES[best], **({"ensemble": args.ensemble} if args.ensemble else {})}
    rows = {
        "Wikipedia + reviews": ("finetune_adapted", english, True, adapted_report),
        "Wikipedia": ("finetune", english, False, "data/english/08_reporting/finetune_report.json"),
        "Shakespeare (default pretraining)": (
            "finetune",
            None,
            False,
            "data/08_reporting/finetune_report.json",
        ),
    }
    reports = {}
    for name, (pipeline, env, scratch, report) in rows.items():
        times[f"classify from {name}"] = kedro_run(
            work,
            *([env] if env else []),
            f"--pipelines={pipeline}",
            _classify(args.classify_minutes, scratch, chosen),
            log=log,
        )
        reports[name] = latest(work, report)
    chat = {
        "finetuning.task": "chat",
        "finetuning.training.max_minutes": args.chat_minutes,
        "finetuning.training.max_epochs": "null",  # both chat rows: the same minutes
    }
    chats = {}
    chat_rows = (
        ("Wikipedia", english, "data/english/08_reporting/finetune_report.json"),
        ("Shakespeare (default pretraining)", None, "data/08_reporting/finetune_report.json"),
    )
    for name, env, report in chat_rows if args.chat else ():
        times[f"chat from {name}"] = kedro_run(
            work, *([env] if env else []), "--pipelines=finetune", _params(**chat), log=log
        )
        chats[name] = latest(work, report)
    return {
        "times_s": times,
        "techniques": techniques,
        "chosen_technique": best,
        "classification": {name: r["metrics"] for name, r in reports.items()},
        "examples": reports["Wikipedia"]["examples"],
        "chat": {name: r["metrics"] for name, r in chats.items()},
        "chat_samples": {name: r["samples"] for name, r in chats.items()},
        "wikipedia_eval": latest(work, "data/english/08_reporting/evaluation_report.json"),
        "reviews_eval": latest(work, "data/english/08_reporting/adapt/evaluation_report.json"),
        "budgets_min": {
            "pretrain": args.pretrain_minutes,
            "adapt": args.adapt_minutes,
            "technique": args.technique_minutes,
            "classify": args.classify_minutes,
            "chat": args.chat_minutes,
        },
    }


def table(result: dict[str, Any]) -> str:
    """The transfer tables in Markdown: techniques, one row per starting point (baselines from the
    same runs), chat."""
    lines = []
    if result["techniques"]:
        lines += [
            "| technique (Wikipedia + reviews model) | val acc | test acc |",
            "|---|---|---|",
        ]
    for name, m in result["techniques"].items():
        chosen = " (chosen)" if name == result["chosen_technique"] else ""
        lines.append(f"| {name}{chosen} | {m['val_accuracy']:.3f} | {m['accuracy']:.3f} |")
    lines += [
        "",
        f"Technique: {result['chosen_technique']}.",
        "",
        "| starting point | fine-tuned acc | its members' mean | macro-F1 | same GPT from scratch "
        "| majority | TF-IDF + LR | NB-weighted LR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in result["classification"].items():
        lines.append(
            f"| {name} | {m['accuracy']:.3f} | {m.get('members_mean_accuracy', float('nan')):.3f} "
            f"| {m['macro_f1']:.3f} | "
            f"{m.get('scratch_accuracy', float('nan')):.3f} | {m['majority_accuracy']:.3f} | "
            f"{m['tfidf_logreg_accuracy']:.3f} | {m['nb_logreg_accuracy']:.3f} |"
        )
    if result["chat"]:
        lines += [
            "",
            "| chat from | response loss (nats/token) | BLEU | chrF |",
            "|---|---|---|---|",
        ]
    for name, m in result["chat"].items():
        lines.append(
            f"| {name} | {m['response_loss']:.3f} | {m.get('bleu', float('nan')):.1f} | "
            f"{m.get('chrf', float('nan')):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kedro-gpt-transfer"))
    parser.add_argument("--phase", choices=["pretrain", "finetune", "all"], default="all")
    parser.add_argument("--pretrain-minutes", type=float, default=60.0)
    parser.add_argument("--adapt-minutes", type=float, default=20.0)
    # none: conf/english's epochs budget; a number: that many minutes a fit
    parser.add_argument("--classify-minutes", type=float, default=None)
    parser.add_argument("--technique-minutes", type=float, default=2.0)
    parser.add_argument("--chat-minutes", type=float, default=3.0)
    parser.add_argument(
        "--ensemble",
        type=int,
        default=None,
        help="classifiers per starting-point row (default: conf/english's ensemble)",
    )
    parser.add_argument(
        "--techniques",
        type=lambda text: [name.strip() for name in text.split(";")],
        default=list(TECHNIQUES),
        help="';'-separated technique names to measure (default: all): " + "; ".join(TECHNIQUES),
    )
    parser.add_argument("--no-chat", dest="chat", action="store_false", help="skip the chat rows")
    args = parser.parse_args()
    if unknown := set(args.techniques) - set(TECHNIQUES):
        parser.error(f"unknown --techniques {sorted(unknown)}; known: {'; '.join(TECHNIQUES)}")
    times_file = args.workdir / "pretrain_times.json"
    if args.phase in ("pretrain", "all"):
        times = pretrain(args)
        times_file.write_text(json.dumps(times, indent=2))
        print(json.dumps(times, indent=2))
    if args.phase == "pretrain":
        return
    result = run(args)
    result["times_s"] = {**json.loads(times_file.read_text()), **result["times_s"]}
    out = args.workdir / "transfer.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    print(json.dumps({k: result[k] for k in ("times_s", "budgets_min", "examples")}, indent=2))
    print(f"everything: {out}")


if __name__ == "__main__":
    main()
