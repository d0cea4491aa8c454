"""A training callback that writes TensorBoard event files (MLflow stays the system of record).

Scalars: ``train/<name>`` (loss, lr, grad_norm, tokens_per_s, mfu) at every log step,
``val_sampled/<name>`` at each periodic evaluation and ``val_full/<name>`` for the full final pass,
``summary/<name>`` at the end; the run's configuration as text at the start; with a ``sampler``,
text the model writes (``samples/best``) each time a validation gives a new best checkpoint.
``tensorboard --logdir <folder>`` shows every run written under it side by side.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.result import TrainResult

#: Text a checkpoint folder's model writes (for the ``samples`` text tab).
Sampler = Callable[[Path], str]

TRAIN_SCALARS = ("loss", "lr", "grad_norm", "tokens_per_s", "mfu")
EVAL_SCALARS = ("loss", "perplexity", "bits_per_token", "bits_per_byte", "bits_per_char")


def _scalars(metrics: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    return {
        name: float(metrics[name])
        for name in names
        if isinstance(metrics.get(name), int | float) and math.isfinite(float(metrics[name]))
    }


class TensorBoardCallback(TrainCallback):
    """Write one run's events under ``log_dir`` (created; one folder per run)."""

    def __init__(self, log_dir: str | Path, sampler: Sampler | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # tensorboard itself is an optional dependency
            raise ImportError(
                "tensorboard_dir is set but TensorBoard is not installed: "
                "pip install 'kedro-gpt[tensorboard]'"
            ) from err
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.sampler = sampler

    def on_train_start(self, info: dict[str, Any]) -> None:
        shown = json.dumps(info, indent=2, default=str)
        self.writer.add_text("run/info", f"```\n{shown}\n```", 0)

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        for name, value in _scalars(metrics, TRAIN_SCALARS).items():
            self.writer.add_scalar(f"train/{name}", value, step)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        group = "val_full" if metrics.get("final") else "val_sampled"
        for name, value in _scalars(metrics, EVAL_SCALARS).items():
            self.writer.add_scalar(f"{group}/{name}", value, step)
        self.writer.flush()

    def on_checkpoint(self, step: int, path: Path, is_best: bool) -> None:
        if is_best and self.sampler is not None:
            text = self.sampler(path)
            self.writer.add_text("samples/best", f"```\n{text}\n```", step)
            self.writer.flush()

    def on_train_end(self, result: TrainResult) -> None:
        summary = {
            "steps": result.step,
            "tokens": result.tokens,
            "elapsed_s": result.elapsed_s,
            "best_val_loss": result.best_val_loss,
        }
        for name, value in summary.items():
            if isinstance(value, int | float) and math.isfinite(float(value)):
                self.writer.add_scalar(f"summary/{name}", float(value), result.step)
        self.writer.close()


def checkpoint_sampler(
    tokenizer: Any, prompt: str, max_new_tokens: int = 64, seed: int = 0
) -> Sampler:
    """A ``Sampler``: loads the checkpoint folder's GPT and continues ``prompt`` (top-k 50,
    temperature 0.8, a fixed seed, so samples differ only by the weights)."""
    from kedro_gpt.model.config import GPTConfig
    from kedro_gpt.model.generate import generate
    from kedro_gpt.model.gpt import GPT
    from kedro_gpt.training.checkpoint import load_weights, read_config

    def sample(folder: Path) -> str:
        model = GPT(GPTConfig.from_dict(read_config(folder)["model"]))
        load_weights(model, folder)
        ids = tokenizer.encode(prompt) or [0]
        new = generate(model, [ids], max_new_tokens, temperature=0.8, top_k=50, seed=seed)[0]
        return prompt + tokenizer.decode(new)

    return sample
