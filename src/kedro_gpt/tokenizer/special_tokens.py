"""Reserved special tokens, shared by pretraining (document separator) and chat fine-tuning."""

from __future__ import annotations

import sentencepiece as spm

ENDOFTEXT = "<|endoftext|>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
PAD = "<|pad|>"
SPECIAL_TOKENS: tuple[str, ...] = (ENDOFTEXT, SYSTEM, USER, ASSISTANT, PAD)
NEWLINE = "\n"


def special_token_id(sp: spm.SentencePieceProcessor, token: str) -> int:
    """The id of a reserved token; a clear error for a tokenizer trained without it."""
    token_id = sp.piece_to_id(token)
    if token_id == sp.unk_id() or sp.id_to_piece(token_id) != token:
        raise ValueError(
            f"tokenizer has no special token {token!r}: train it with kedro_gpt's tokenizer"
        )
    return token_id


def eos_id(sp: spm.SentencePieceProcessor) -> int:
    """The ``<|endoftext|>`` id placed between documents."""
    return special_token_id(sp, ENDOFTEXT)
