"""A trained model as one folder: weights, config and the tokenizer that goes with them.

``model.safetensors`` (tied weights stored once), ``config.json`` (``{"model": GPTConfig,
"info": {...}}``) and the tokenizer: ``tokenizer.model`` (sentencepiece, what kedro-gpt trains)
or ``tokenizer.json`` (a Hugging Face tokenizer such as GPT-2's BPE, see
:class:`~kedro_gpt.tokenizer.hf_tokenizer.HFTokenizer`). Nothing is ever unpickled.

A classifier ensemble keeps its further fine-tuned backbones beside the first, of the same shape,
as ``member1.safetensors``, ``member2.safetensors``, ... (``config.json``'s ``members`` counts them).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError

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


class ModelFolderError(ValueError):
    """A model folder that cannot be loaded; the message names the file and what is wrong."""


def member_file(k: int) -> str:
    """The weights file of an ensemble's member ``k`` (member 0 is ``model.safetensors``)."""
    return WEIGHTS_FILE if k == 0 else f"member{k}.safetensors"


def load_gpt(
    folder: str | Path,
    config: GPTConfig,
    device: str | torch.device = "cpu",
    weights: str = WEIGHTS_FILE,
) -> GPT:
    """A GPT of ``config`` with the weights in ``folder/weights``, in eval mode."""
    model = GPT(config)
    path = Path(folder) / weights
    try:
        missing, unexpected = safetensors.torch.load_model(
            model, str(path), strict=False, device=str(device)
        )
    except SafetensorError as err:
        raise ModelFolderError(f"{path} is not a readable safetensors file: {err}") from None
    except RuntimeError as err:  # load_state_dict: a tensor of the wrong shape
        problem = " ".join(str(err).split())
        raise ModelFolderError(f"{path} does not fit {CONFIG_FILE}'s model: {problem}") from None
    if missing or unexpected:
        raise ModelFolderError(
            f"{path} does not fit the model: missing {sorted(missing)}, unexpected {sorted(unexpected)}"
        )
    return model.to(device).eval()


def read_config(folder: str | Path) -> tuple[GPTConfig, dict[str, Any]]:
    """The model config and the ``info`` dict of ``folder/config.json``; every GPTConfig key
    must be there (a default would build another model than the weights')."""
    config, info, _ = _read_meta(folder)
    return config, info


def _read_meta(folder: str | Path) -> tuple[GPTConfig, dict[str, Any], list[GPTConfig]]:
    """:func:`read_config`'s config and info, and each backbone's config (the first model's, then
    an ensemble's further members'; they differ only in ``reverse`` when ``reverse`` lists each
    backbone's direction)."""
    path = Path(folder) / CONFIG_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFolderError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
        raise ModelFolderError(
            f"{path} is not a kedro-gpt model config (no 'model' key); "
            "a transformers GPT-2 folder becomes a model folder with `kedro-gpt import-hf`"
        )
    try:
        config = GPTConfig.from_dict(meta["model"], require_all=True)
    except (TypeError, ValueError) as err:
        raise ModelFolderError(f"{path}: {err}") from None
    info = meta.get("info") or {}
    members = meta.get("members", 0)
    if not isinstance(members, int) or isinstance(members, bool) or members < 0:
        raise ModelFolderError(f"{path}: 'members' must be a count of 0 or more, got {members!r}")
    directions = meta.get("reverse", [config.reverse] * (members + 1))
    if (
        not isinstance(directions, list)
        or len(directions) != members + 1
        or not all(isinstance(d, bool) for d in directions)
    ):
        raise ModelFolderError(
            f"{path}: 'reverse' must list true or false for each of the {members + 1} backbones, "
            f"got {directions!r}"
        )
    configs = [dataclasses.replace(config, reverse=d) for d in directions]
    return config, info if isinstance(info, dict) else {}, configs


def read_info(folder: str | Path) -> dict[str, Any]:
    """Only the ``info`` of ``folder/config.json`` (cheap: no weights), ``{}`` if unreadable."""
    try:
        meta = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    info = meta.get("info") if isinstance(meta, dict) else None
    return info if isinstance(info, dict) else {}


@dataclass
class ModelBundle:
    """A GPT, its tokenizer, and what is known of how it was made (``info``); ``members``: a
    classifier ensemble's further backbones (``model`` is the first; it alone generates text)."""

    model: GPT
    tokenizer: TextTokenizer
    info: dict[str, Any] = field(default_factory=dict)
    members: list[GPT] = field(default_factory=list)

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    @property
    def backbones(self) -> list[GPT]:
        """``model`` and the ensemble's further members, in order."""
        return [self.model, *self.members]

    def save(self, folder: str | Path) -> None:
        """Write the three files into ``folder`` (which must exist): the tokenizer as
        ``tokenizer.model`` (sentencepiece) or ``tokenizer.json`` (:class:`HFTokenizer`); and
        an ensemble's further members' weights."""
        folder = Path(folder)
        for k, member in enumerate(self.members, start=1):
            if dataclasses.replace(member.config, reverse=self.config.reverse) != self.config:
                raise ValueError(f"ensemble member {k}'s shape differs from the first model's")
        for k, model in enumerate(self.backbones):
            safetensors.torch.save_model(model, str(folder / member_file(k)))
            _as_if_opened(folder / member_file(k))
        meta: dict[str, Any] = {"model": self.config.to_dict(), "info": self.info}
        if self.members:
            meta["members"] = len(self.members)
        directions = [model.config.reverse for model in self.backbones]
        if len(set(directions)) > 1:  # forward and backward members (ULMFiT's bidirectional)
            meta["reverse"] = directions
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        save_tokenizer(self.tokenizer, folder)

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> ModelBundle:
        folder = Path(folder)
        for name in (WEIGHTS_FILE, CONFIG_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"model folder {folder} has no {name}")
        _, info, configs = _read_meta(folder)
        for k in range(1, len(configs)):
            if not (folder / member_file(k)).is_file():
                raise ModelFolderError(
                    f"model folder {folder} has no {member_file(k)} ({CONFIG_FILE} counts "
                    f"{len(configs) - 1} further ensemble members)"
                )
        tokenizer = _load_tokenizer(folder)
        first, *rest = (
            load_gpt(folder, config, device, member_file(k)) for k, config in enumerate(configs)
        )
        return cls(first, tokenizer, info, rest)

    def generate_text(self, prompt: str, max_new_tokens: int = 200, **sampling: Any) -> str:
        """Sample a continuation of ``prompt`` (see :func:`kedro_gpt.model.generate.generate`);
        a backward model (``GPTConfig.reverse``) samples the text before it instead."""
        ids = self.tokenizer.encode(prompt) or [self.tokenizer.piece_to_id("\n")]
        backward = self.config.reverse
        (new,) = generate(self.model, [ids[::-1] if backward else ids], max_new_tokens, **sampling)
        return self.tokenizer.decode(new[::-1] if backward else new)


def _load_tokenizer(folder: Path) -> TextTokenizer:
    """The folder's tokenizer; a file that sentencepiece or tokenizers cannot read is named."""
    try:
        return load_tokenizer(folder)  # tokenizer.model or tokenizer.json
    except FileNotFoundError:
        raise
    except Exception as err:  # sentencepiece: RuntimeError/OSError; tokenizers: Exception
        path = tokenizer_file(folder)
        problem = " ".join(str(err).split()) or type(err).__name__
        raise ModelFolderError(f"{path} is not a readable tokenizer: {problem}") from None


def _as_if_opened(path: Path) -> None:
    """The permissions a plain ``open`` would give (0666 less the umask): safetensors writes
    through a private temporary file (0600), which a server running as another user, such as
    the container's, could not read."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)
