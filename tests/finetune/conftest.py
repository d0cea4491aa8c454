"""Fixtures: the tiny bundle (tests/bundle_fixtures.py) and a small fine-tuning config."""

from __future__ import annotations

from kedro_gpt.finetune.config import FinetuningConfig
from tests.bundle_fixtures import bundle, sp  # noqa: F401 - fixtures


def tiny_config(tmp_path, **overrides) -> FinetuningConfig:
    """A few optimizer steps on CPU."""
    training = {
        "batch_size": 4,
        "max_steps": 6,
        "learning_rate": 3e-3,
        "warmup_steps": 1,
        "eval_interval": 3,
        "eval_batches": 2,
        "log_interval": 3,
        "checkpoint_interval": 100,
        "progress_bar": False,
        "device": "cpu",
        "final_eval": False,
        **overrides.pop("training", {}),
    }
    return FinetuningConfig.model_validate(
        {"training": training, "checkpoint_dir": str(tmp_path / "ckpt"), **overrides}
    )
