"""Does DPO on feedback make a chat model prefer the preferred answers? A measurement.

The feedback is what a playground would collect, written through the real feedback store:
every TruthfulQA question asked once, its best answer rated up and one of its incorrect answers
rated down (817 questions: human-written preferences, not generated ones). The chat model is
then fine-tuned with ``finetuning.mode: dpo`` on 80 % of the pairs, and the held-out 20 % give the
preference rate (how often the model finds the preferred answer more likely, per token) before
and after, and the DPO reward accuracy.

    python benchmarks/preference.py --model data/06_models/finetuned_model/<version>/finetuned_model
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from pathlib import Path

from kedro_gpt.feedback.schema import FeedbackIn
from kedro_gpt.feedback.store import FeedbackStore
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.run import run_task
from kedro_gpt.model.bundle import ModelBundle

ROOT = Path(__file__).resolve().parents[1]
TRUTHFULQA = ROOT / "data" / "01_raw" / "tasks" / "qa_truthfulqa" / "TruthfulQA.csv"


def truthfulqa_feedback(store: FeedbackStore, seed: int = 0) -> int:
    """One up-voted and one down-voted answer per question; the number of questions."""
    rng = random.Random(seed)
    with TRUTHFULQA.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        messages = [{"role": "user", "content": row["Question"]}]
        wrong = rng.choice([a.strip() for a in row["Incorrect Answers"].split(";") if a.strip()])
        store.add(FeedbackIn(messages=messages, answer=row["Best Answer"], rating="up"))
        store.add(FeedbackIn(messages=messages, answer=wrong, rating="down"))
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a chat model folder")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/kedro-gpt-preference.json"))
    args = parser.parse_args()
    bundle = ModelBundle.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeedbackStore(f"sqlite:///{tmp}/feedback.db")
        questions = truthfulqa_feedback(store)
        table = store.table()
        config = FinetuningConfig.model_validate(
            {
                "task": "chat",
                "mode": "dpo",
                "dpo": {"beta": args.beta, "eval_fraction": 0.2},
                "checkpoint_dir": f"{tmp}/ckpt",
                "training": {
                    "batch_size": 8,
                    "learning_rate": args.learning_rate,
                    "max_minutes": args.minutes,
                    "eval_interval": 25,
                    "checkpoint_interval": 25,
                    "early_stopping_patience": 6,
                    "progress_bar": False,
                },
            }
        )
        start = time.perf_counter()
        result = run_task(bundle, {}, config, feedback=table)
        seconds = time.perf_counter() - start
    out = {
        "model": str(args.model),
        "questions": questions,
        "pairs": result.report["examples"],
        "metrics": result.metrics,
        "steps": result.report["training"]["step"],
        "seconds": round(seconds, 1),
        "beta": args.beta,
        "learning_rate": args.learning_rate,
    }
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
