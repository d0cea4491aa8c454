"""A Hugging Face ``tokenizers.Tokenizer`` (e.g. GPT-2's byte-level BPE ``tokenizer.json``)
behind the sentencepiece methods kedro-gpt calls (:class:`~.protocol.TextTokenizer`).

Semantics follow ``SentencePieceProcessor`` with kedro-gpt's user-defined symbols:

- ``encode`` adds no BOS/EOS (no post-processor tokens); added tokens written in the text
  (``<|user|>``) become their one id, as sentencepiece's user-defined symbols do.
- ``decode`` writes special tokens out (``skip_special_tokens=False``) so that it inverts
  ``encode`` exactly; an incomplete UTF-8 character at the end decodes to U+FFFD, which the
  streaming decoder (:mod:`kedro_gpt.serving.textstream`) holds back.
- ``piece_to_id`` takes a vocabulary string (``"Ġthe"``, ``"<|pad|>"``) or, failing that, a
  text that encodes to one token (``"\\n"`` → ``"Ċ"``), since callers ask for the newline id.
- ``unk_id`` is the model's unknown token, or :data:`NO_UNK` (-1, never a valid id) for
  byte-level BPE, which has none: every "is this token known" check then works unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import AddedToken, Tokenizer

NO_UNK = -1


class HFTokenizer:
    """Adapts a ``tokenizers.Tokenizer`` to :class:`~kedro_gpt.tokenizer.protocol.TextTokenizer`."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self._size: int | None = None
        self._unk: int | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> HFTokenizer:
        """Load a ``tokenizer.json``."""
        return cls(Tokenizer.from_file(str(path)))

    @classmethod
    def from_str(cls, text: str) -> HFTokenizer:
        """Load the JSON text of a ``tokenizer.json`` (see :meth:`to_str`)."""
        return cls(Tokenizer.from_str(text))

    # -- the sentencepiece subset -----------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def piece_to_id(self, piece: str) -> int:
        token_id = self.tokenizer.token_to_id(piece)
        if token_id is None:
            ids = self.encode(piece) if piece else []
            token_id = ids[0] if len(ids) == 1 else None
        return self.unk_id() if token_id is None else token_id

    def id_to_piece(self, token_id: int) -> str:
        piece = self.tokenizer.id_to_token(token_id) if token_id >= 0 else None
        if piece is None:
            raise IndexError(f"piece id {token_id} is out of range (size {self.get_piece_size()})")
        return piece

    def unk_id(self) -> int:
        if self._unk is None:
            self._unk = _unk_id(self.tokenizer)
        return self._unk

    def get_piece_size(self) -> int:
        """One more than the largest id (vocabulary and added tokens)."""
        if self._size is None:
            self._size = max(self.tokenizer.get_vocab(with_added_tokens=True).values()) + 1
        return self._size

    def vocab_size(self) -> int:
        return self.get_piece_size()

    # -- growing and saving -----------------------------------------------------------------

    def add_special_tokens(self, tokens: Iterable[str]) -> list[str]:
        """Add those of ``tokens`` it lacks as special tokens (new ids at the end); returns them."""
        missing = [t for t in dict.fromkeys(tokens) if self.tokenizer.token_to_id(t) is None]
        if missing:
            self.tokenizer.add_special_tokens(
                [AddedToken(t, special=True, normalized=False) for t in missing]
            )
            self._size = None
        return missing

    def to_str(self) -> str:
        """The ``tokenizer.json`` text."""
        return self.tokenizer.to_str()

    def save(self, path: str | Path) -> None:
        """Write ``tokenizer.json`` to ``path``."""
        Path(path).write_text(self.to_str(), encoding="utf-8")

    def __repr__(self) -> str:
        return f"HFTokenizer({type(self.tokenizer.model).__name__}, {self.get_piece_size()} ids)"


def _unk_id(tokenizer: Tokenizer) -> int:
    """The unknown token's id (BPE, WordPiece, WordLevel name it; Unigram stores its id)."""
    unk = getattr(tokenizer.model, "unk_token", None)
    if isinstance(unk, str):
        token_id = tokenizer.token_to_id(unk)
    else:
        token_id = json.loads(tokenizer.model.__getstate__()).get("unk_id")
    return NO_UNK if token_id is None else int(token_id)
