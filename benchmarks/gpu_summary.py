"""The figures of a GPU run, read back from the project's MLflow store and reports: each training
run's median tokens/s and MFU (the first logging interval, which holds torch.compile, left out),
the matmul peak they are measured against, the GPU's memory and its utilisation while training;
with ``--english``, the English recipe's bits per character, samples and transfer table.

    python benchmarks/gpu_summary.py --last        # the latest training run (gpu_check.sh)
    python benchmarks/gpu_summary.py --english     # every run, then the English reports

sqlite3 on ``mlflow.db`` and ``transfer.latest`` for the reports (stdlib and PyYAML), so it
runs wherever the run ran.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
from pathlib import Path

from transfer import latest

REPORTS = Path("data/english/08_reporting")


def _series(db: sqlite3.Connection, run: str, key: str) -> list[tuple[int, float]]:
    """``(timestamp ms, value)`` of one metric, in logging order."""
    return db.execute(
        "select timestamp, value from metrics where run_uuid=? and key=? order by step, timestamp",
        (run, key),
    ).fetchall()


def describe_run(db: sqlite3.Connection, run: str, name: str) -> str | None:
    """One line for a training run; ``None`` for a run that logged no training speed."""
    speed = _series(db, run, "train/tokens_per_s")[1:]
    if not speed:
        return None
    mfu = [v for _, v in _series(db, run, "train/mfu")[1:]]
    line = f"{name}: median {statistics.median(v for _, v in speed):,.0f} tokens/s"
    if mfu:
        line += f", MFU {100 * statistics.median(mfu):.1f}%"
    peak = db.execute(
        "select value from params where run_uuid=? and key like '%run.matmul_peak_flops'", (run,)
    ).fetchone()
    if peak:
        line += f" of a measured {float(peak[0]) / 1e12:.3g} TFLOP/s peak"
    memory = [v for _, v in _series(db, run, "system/gpu_0_memory_usage_megabytes")]
    if memory:
        line += f"; GPU memory max {max(memory):,.0f} MB"
    training_from = speed[0][0]  # system metrics before the first training log: start-up, compile
    busy = [
        v for t, v in _series(db, run, "system/gpu_0_utilization_percentage") if t >= training_from
    ]
    if busy:
        line += f", utilisation median {statistics.median(busy):.0f}% while training"
    return line


def newest(relative: Path) -> dict:
    """The newest version of a versioned JSON report (``transfer.latest``), or ``{}``."""
    return latest(Path.cwd(), str(relative)) if relative.is_dir() else {}


def english_reports() -> list[str]:
    """Bits per character and samples of the two language models, then each transfer table."""
    lines = []
    for label, report in (
        ("Wikipedia model", newest(REPORTS / "evaluation_report.json")),
        ("reviews-adapted model", newest(REPORTS / "adapt" / "evaluation_report.json")),
    ):
        if report:
            facts = {k: report[k] for k in ("num_params", "model", "training")}
            bpc = report["validation"]["bits_per_char"]
            lines.append(f"{label}: {bpc:.3f} bits/char held out; {json.dumps(facts)}")
            lines += [f"  {p!r} -> {t!r}"[:400] for p, t in report.get("samples", {}).items()]
    for label, report in (
        ("Wikipedia", newest(REPORTS / "finetune_report.json")),
        ("Wikipedia + reviews", newest(REPORTS / "adapt" / "finetune_report.json")),
    ):
        if report:
            scratch = report.get("scratch_baseline", {})
            members = [round(m["test_accuracy"], 3) for m in report.get("members", [])]
            twins = [round(m["accuracy"], 3) for m in scratch.get("members", [])]
            lines.append(f"transfer from the {label} model: {json.dumps(report['metrics'])}")
            lines.append(f"  members {members}; scratch members {twins}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("mlflow.db"))
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--last", action="store_true", help="the latest training run only")
    which.add_argument("--english", action="store_true", help="also the English reports")
    args = parser.parse_args()
    db = sqlite3.connect(args.db)
    runs = db.execute("select run_uuid, name from runs order by start_time").fetchall()
    lines = [line for run, name in runs if (line := describe_run(db, run, name))]
    if args.last:
        lines = lines[-1:]
    print("\n".join(lines) if lines else f"no training metrics in {args.db}")
    if args.english:
        print("\n".join(english_reports()))


if __name__ == "__main__":
    main()
