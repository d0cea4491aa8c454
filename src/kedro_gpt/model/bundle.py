"""A trained model as one folder: weights, config and the tokenizer that goes with them.

``model.safetensors`` (tied weights stored once), ``config.json`` (``{"model": GPTConfig,
"info": {...}}``) and the tokenizer: ``tokenizer.model`` (sentencepiece, what kedro-gpt trains)
or ``tokenizer.json`` (a Hugging Face tokenizer such as GPT-2's BPE, see
:class:`~kedro_gpt.tokenizer.hf_tokenizer.HFTokenizer`). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.generate import generate
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.files import (
    SENTENCEPIECE_FILE,
    load_tokenizer,
    save_tokenizer,
    tokenizer_file,
)
from kedro_gpt.tokenizer.protocol import TextTokenizer

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = SENTENCEPIECE_FILE  # or tokenizer.json: see kedro_gpt.tokenizer.files


def is_model_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds the weights, the config and a tokenizer of a model bundle."""
    folder = Path(folder)
    has_files = all((folder / f).is_file() for f in (WEIGHTS_FILE, CONFIG_FILE))
    return has_files and tokenizer_file(folder) is not None


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
    tokenizer: TextTokenizer
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    def save(self, folder: str | Path) -> None:
        """Write the three files into ``folder`` (which must exist): the tokenizer as
        ``tokenizer.model`` (sentencepiece) or ``tokenizer.json`` (:class:`HFTokenizer`)."""
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
        save_tokenizer(self.tokenizer, folder)

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ModelBundle:
        folder = Path(folder)
        for name in (WEIGHTS_FILE, CONFIG_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"model folder {folder} has no {name}")
        tokenizer = load_tokenizer(folder)  # tokenizer.model or tokenizer.json
        meta = json.loads((folder / CONFIG_FILE).read_text())
        if not isinstance(meta, dict) or "model" not in meta:
            raise ValueError(
                f"{folder / CONFIG_FILE} is not a kedro-gpt model config (no 'model' key); "
                "a transformers GPT-2 folder becomes a model folder with `kedro-gpt import-hf`"
            )
        config = GPTConfig.from_dict(meta["model"])
        return cls(load_gpt(folder, config, device), tokenizer, meta.get("info", {}))

    def generate_text(self, prompt: str, max_new_tokens: int = 200, **sampling: Any) -> str:
        """Sample a continuation of ``prompt`` (see :func:`kedro_gpt.model.generate.generate`)."""
        ids = self.tokenizer.encode(prompt) or [self.tokenizer.piece_to_id("\n")]
        (new,) = generate(self.model, [ids], max_new_tokens, **sampling)
        return self.tokenizer.decode(new)
