"""The transfer table of the English recipe (issue 12): rt-polarity accuracy on the fixed test split
for classifiers fine-tuned from the Shakespeare model, the Wikipedia model and the
Wikipedia + reviews model, beside majority / TF-IDF + LR / NB-weighted LR / from-scratch baselines
measured in the same runs, and the models' bits per character on held-out Wikipedia articles and
held-out reviews.

Every row is a real ``kedro run`` in a scratch copy of the project (``--workdir``), with the
corpora linked from ``../shared/data`` into ``data/english/01_raw``. Budgets default to the
``english`` environment's (60 / 20 / 5 minutes); smaller ones make a quicker, labelled table.

    python benchmarks/transfer.py                        # the recipe's budgets (~2 h on 2 cores)
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
    shutil.copy(ROOT / "pyproject.toml", workdir)
    shutil.copy(ROOT / ".telemetry", workdir)
    shutil.copytree(ROOT / "conf", workdir / "conf", ignore=shutil.ignore_patterns("local"))
    (workdir / "conf" / "local").mkdir()
    shutil.copytree(ROOT / "data" / "01_raw", workdir / "data" / "01_raw")
    raw = workdir / "data" / "english" / "01_raw"
    raw.mkdir(parents=True)
    for name, source in CORPORA.items():
        if not source.is_file():
            raise SystemExit(f"missing corpus {source}")
        (raw / name).symlink_to(source)
    return workdir


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = prepare(args.workdir)
    log = args.workdir / "runs.log"
    english = "--env=english"
    classify = {
        "finetuning.task": "classification",
        "finetuning.classification.max_examples": "null",
        "finetuning.training.max_minutes": args.classify_minutes,
    }
    times = {
        "english pretrain": kedro_run(
            work,
            english,
            "--pipelines=pretrain",
            _params(**{"pretraining.training.max_minutes": args.pretrain_minutes}),
            log=log,
        ),
        "english adapt": kedro_run(
            work,
            english,
            "--pipelines=adapt",
            _params(**{"adapt.pretraining.training.max_minutes": args.adapt_minutes}),
            log=log,
        ),
        "classify from Wikipedia": kedro_run(
            work, english, "--pipelines=finetune", _params(**classify), log=log
        ),
        "classify from Wikipedia + reviews": kedro_run(
            work, english, "--pipelines=finetune_adapted", _params(**classify), log=log
        ),
        "shakespeare pretrain": kedro_run(work, "--pipelines=pretrain", log=log),
        "classify from Shakespeare": kedro_run(
            work, "--pipelines=finetune", _params(**classify), log=log
        ),
    }
    reports = {
        "Shakespeare (default pretraining)": latest(work, "data/08_reporting/finetune_report.json"),
        "Wikipedia": latest(work, "data/english/08_reporting/finetune_report.json"),
        "Wikipedia + reviews": latest(work, "data/english/08_reporting/adapt/finetune_report.json"),
    }
    return {
        "times_s": times,
        "classification": {name: r["metrics"] for name, r in reports.items()},
        "examples": reports["Wikipedia"]["examples"],
        "wikipedia_eval": latest(work, "data/english/08_reporting/evaluation_report.json"),
        "reviews_eval": latest(work, "data/english/08_reporting/adapt/evaluation_report.json"),
        "budgets_min": {
            "pretrain": args.pretrain_minutes,
            "adapt": args.adapt_minutes,
            "classify": args.classify_minutes,
        },
    }


def table(result: dict[str, Any]) -> str:
    """The transfer table in Markdown: one row per starting point, baselines from the same runs."""
    lines = [
        "| starting point | fine-tuned acc | macro-F1 | same GPT from scratch | majority | "
        "TF-IDF + LR | NB-weighted LR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in result["classification"].items():
        lines.append(
            f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
            f"{m.get('scratch_accuracy', float('nan')):.3f} | {m['majority_accuracy']:.3f} | "
            f"{m['tfidf_logreg_accuracy']:.3f} | {m['nb_logreg_accuracy']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kedro-gpt-transfer"))
    parser.add_argument("--pretrain-minutes", type=float, default=60.0)
    parser.add_argument("--adapt-minutes", type=float, default=20.0)
    parser.add_argument("--classify-minutes", type=float, default=5.0)
    args = parser.parse_args()
    result = run(args)
    out = args.workdir / "transfer.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    print(json.dumps({k: result[k] for k in ("times_s", "budgets_min", "examples")}, indent=2))
    print(f"everything: {out}")


if __name__ == "__main__":
    main()
