"""The tokenizer interface the code base relies on: the subset of ``SentencePieceProcessor``
that models, fine-tuning, evaluation and serving call.

``sentencepiece.SentencePieceProcessor`` satisfies it as is; :class:`HFTokenizer` adapts a
Hugging Face ``tokenizers.Tokenizer`` (GPT-2's byte-level BPE) to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class TextTokenizer(Protocol):
    """Text to token ids and back, with sentencepiece's method names and semantics."""

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``: no BOS/EOS added; special tokens written in it are one id each."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``, special tokens written out; exact inverse of :meth:`encode`."""
        ...

    def piece_to_id(self, piece: str) -> int:
        """The id of a vocabulary piece; :meth:`unk_id` when there is none."""
        ...

    def id_to_piece(self, token_id: int) -> str:
        """The vocabulary piece of an id."""
        ...

    def unk_id(self) -> int:
        """What :meth:`piece_to_id` returns for an unknown piece."""
        ...

    def get_piece_size(self) -> int:
        """Number of ids (the model's vocabulary must be at least this large)."""
        ...
