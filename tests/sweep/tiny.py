"""Real, tiny trials for the sweep tests: the training tests' 2-layer model on Tiny Shakespeare
bytes, a few dozen steps on one thread. Also a worker process:

    python -m tests.sweep.tiny '<SweepConfig JSON>' WORKDIR
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from kedro_gpt.datasets.token_shards import TokenShardsDataset
from kedro_gpt.sweep.config import SweepConfig
from kedro_gpt.sweep.study import PruningCallback, TrainTrial, TrialOutcome, run_study
from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.training import train
from tests.conftest import PROJECT_ROOT
from tests.training.conftest import char_tokens, tiny_config, tiny_model, write_peak_cache
from tests.training.test_loop import evaluator, windows

SHAKESPEARE = PROJECT_ROOT / "data" / "01_raw" / "tinyshakespeare" / "input.txt"


def peak_cache(folder: Path) -> None:
    """A fixed matmul-peak figure for this process and its children (as the loop tests)."""
    os.environ["KEDRO_GPT_CACHE_DIR"] = str(write_peak_cache(folder))


def token_splits(root: Path) -> dict[str, TokenShards]:
    text = SHAKESPEARE.read_text(encoding="utf-8")[:30_000]
    out = {}
    for name, part in (("train", text[:27_000]), ("val", text[27_000:])):
        ds = TokenShardsDataset(str(root / name))
        if not ds.exists():
            ds.save(
                TokenShards(shards=[char_tokens(part)], meta={"dtype": "uint16", "vocab_size": 64})
            )
        out[name] = ds.load()
    return out


def trainer(splits: dict[str, TokenShards], root: Path, steps: int = 30) -> TrainTrial:
    """Each trial: the tiny model for ``steps`` steps, evaluated every 5, pruned by the study."""

    def train_trial(trial: Any, overrides: dict[str, Any]) -> TrialOutcome:
        settings = {k.removeprefix("training."): v for k, v in overrides.items()}
        config = tiny_config(max_steps=steps, eval_interval=5, final_eval=False, **settings)
        result = train(
            tiny_model(),
            windows(splits),
            config,
            root / f"trial_{trial.number}",
            evaluator=evaluator(splits),
            callbacks=[PruningCallback(trial)],
        )
        assert result.best_val_loss is not None
        return TrialOutcome(result.best_val_loss, result.step, result.tokens, result.elapsed_s)

    return train_trial


def main() -> None:
    config = SweepConfig.model_validate_json(sys.argv[1])
    root = Path(sys.argv[2])
    peak_cache(root / "peak")
    run_study(config, trainer(token_splits(root / "tokens"), root / f"runs_{os.getpid()}"))


if __name__ == "__main__":
    main()
