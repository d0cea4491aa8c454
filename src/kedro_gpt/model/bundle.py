"""A trained model as one folder: weights, config and the tokenizer that goes with them.

``model.safetensors`` (tied weights stored once), ``config.json`` (``{"model": GPTConfig,
"info": {...}}``) and ``tokenizer.model`` (sentencepiece). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import sentencepiece as spm
import torch

from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.generate import generate
from kedro_gpt.model.gpt import GPT

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.model"


def load_gpt(folder: str | Path, config: GPTConfig, device: str | torch.device = "cpu") -> GPT:
    """A GPT of ``config`` with the weights in ``folder/model.safetensors``, in eval mode."""
    model = GPT(config)
    path = Path(folder) / WEIGHTS_FILE
    missing, unexpected = safetensors.torch.load_model(
        model, str(path), strict=False, device=str(device)
    )
    if missing or unexpected:
        raise ValueError(
            f"{path} does not fit the model: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    return model.to(device).eval()


@dataclass
class ModelBundle:
    """A GPT, its tokenizer, and what is known of how it was made (``info``)."""

    model: GPT
    tokenizer: spm.SentencePieceProcessor
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    def save(self, folder: str | Path) -> None:
        """Write the three files into ``folder`` (which must exist)."""
        folder = Path(folder)
        safetensors.torch.save_model(self.model, str(folder / WEIGHTS_FILE))
        (folder / CONFIG_FILE).write_text(
            json.dumps(
                {"model": self.config.to_dict(), "info": self.info},
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
        (folder / TOKENIZER_FILE).write_bytes(self.tokenizer.serialized_model_proto())

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ModelBundle:
        folder = Path(folder)
        for name in (WEIGHTS_FILE, CONFIG_FILE, TOKENIZER_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"model folder {folder} has no {name}")
        meta = json.loads((folder / CONFIG_FILE).read_text())
        config = GPTConfig.from_dict(meta["model"])
        tokenizer = spm.SentencePieceProcessor(model_file=str(folder / TOKENIZER_FILE))
        return cls(load_gpt(folder, config, device), tokenizer, meta.get("info", {}))

    def generate_text(self, prompt: str, max_new_tokens: int = 200, **sampling: Any) -> str:
        """Sample a continuation of ``prompt`` (see :func:`kedro_gpt.model.generate.generate`)."""
        ids = self.tokenizer.encode(prompt) or [self.tokenizer.piece_to_id("\n")]
        (new,) = generate(self.model, [ids], max_new_tokens, **sampling)
        return self.tokenizer.decode(new)
