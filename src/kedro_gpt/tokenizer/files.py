"""A model folder's tokenizer: sentencepiece ``tokenizer.model`` or HF ``tokenizer.json``.

A folder holds one of the two; :func:`save_tokenizer` writes the file of the tokenizer's kind
(and removes a stale file of the other kind), :func:`load_tokenizer` reads whichever is there
(``tokenizer.model`` first).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sentencepiece as spm

from kedro_gpt.tokenizer.hf_tokenizer import HFTokenizer
from kedro_gpt.tokenizer.protocol import TextTokenizer

SENTENCEPIECE_FILE = "tokenizer.model"
HF_TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_FILES = (SENTENCEPIECE_FILE, HF_TOKENIZER_FILE)


def tokenizer_file(folder: str | Path) -> Path | None:
    """The tokenizer file in ``folder`` (``tokenizer.model`` first), or None."""
    for name in TOKENIZER_FILES:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def tokenizer_bytes(tokenizer: TextTokenizer) -> bytes:
    """What :func:`save_tokenizer` writes: the sentencepiece model proto or the JSON text."""
    if isinstance(tokenizer, HFTokenizer):
        return tokenizer.to_str().encode("utf-8")
    if isinstance(tokenizer, spm.SentencePieceProcessor):
        return tokenizer.serialized_model_proto()
    raise TypeError(
        f"cannot save a {type(tokenizer).__name__}: kedro-gpt saves sentencepiece "
        "processors and HFTokenizer"
    )


def tokenizer_sha256(tokenizer: TextTokenizer) -> str:
    """The sha256 of the saved tokenizer (identifies which tokenizer made a model's ids)."""
    return hashlib.sha256(tokenizer_bytes(tokenizer)).hexdigest()


def save_tokenizer(tokenizer: TextTokenizer, folder: str | Path) -> Path:
    """Write ``tokenizer`` into ``folder`` under the file name of its kind; returns the file."""
    folder = Path(folder)
    name = HF_TOKENIZER_FILE if isinstance(tokenizer, HFTokenizer) else SENTENCEPIECE_FILE
    path = folder / name
    path.write_bytes(tokenizer_bytes(tokenizer))
    for stale in TOKENIZER_FILES:
        if stale != name:
            (folder / stale).unlink(missing_ok=True)
    return path


def load_tokenizer(folder: str | Path) -> TextTokenizer:
    """The tokenizer saved in ``folder``; FileNotFoundError naming the folder when none is."""
    path = tokenizer_file(folder)
    if path is None:
        raise FileNotFoundError(
            f"model folder {folder} has no tokenizer: neither {SENTENCEPIECE_FILE} "
            f"(sentencepiece) nor {HF_TOKENIZER_FILE} (Hugging Face tokenizers)"
        )
    if path.name == SENTENCEPIECE_FILE:
        return spm.SentencePieceProcessor(model_file=str(path))
    return HFTokenizer.from_file(path)
