"""Reserved special tokens, shared by pretraining (document separator) and chat fine-tuning."""

from __future__ import annotations

from kedro_gpt.tokenizer.protocol import TextTokenizer

ENDOFTEXT = "<|endoftext|>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
PAD = "<|pad|>"
SPECIAL_TOKENS: tuple[str, ...] = (ENDOFTEXT, SYSTEM, USER, ASSISTANT, PAD)
NEWLINE = "\n"


def find_token_id(sp: TextTokenizer, token: str) -> int | None:
    """The id of the piece ``token`` itself, or None when the tokenizer lacks it."""
    token_id = sp.piece_to_id(token)
    if token_id == sp.unk_id() or sp.id_to_piece(token_id) != token:
        return None
    return token_id


def special_token_id(sp: TextTokenizer, token: str) -> int:
    """The id of a reserved token; a clear error for a tokenizer trained without it."""
    token_id = find_token_id(sp, token)
    if token_id is None:
        raise ValueError(
            f"tokenizer has no special token {token!r}: train it with kedro_gpt's tokenizer "
            "(or import a transformers model with `kedro-gpt import-hf`, which adds it)"
        )
    return token_id


def eos_id(sp: TextTokenizer) -> int:
    """The ``<|endoftext|>`` id placed between documents."""
    return special_token_id(sp, ENDOFTEXT)
