"""The chat template, built on the reserved special tokens.

A conversation renders as one turn per message::

    <|system|>\\n{content}<|endoftext|>\\n<|user|>\\n{content}<|endoftext|>\\n<|assistant|>\\n{content}<|endoftext|>\\n

A prompt for generation ends with ``<|assistant|>\\n``; the model's turn ends at ``<|endoftext|>``,
which is the stop token. For training, only the assistant turns (their content and their closing
``<|endoftext|>``) carry loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kedro_gpt.tokenizer.protocol import TextTokenizer
from kedro_gpt.tokenizer.special_tokens import ASSISTANT, ENDOFTEXT, SYSTEM, USER, special_token_id

ROLE_TOKENS: dict[str, str] = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
Message = Mapping[str, str]


def _check(messages: Sequence[Message]) -> None:
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ROLE_TOKENS:
            raise ValueError(
                f"message {i}: unknown role {role!r}; use one of {', '.join(ROLE_TOKENS)}"
            )
        if not isinstance(message.get("content"), str):
            raise ValueError(f"message {i}: 'content' must be a string")


def render_chat(messages: Sequence[Message], add_generation_prompt: bool = False) -> str:
    """The conversation as text (for display, and for tokenizers that understand the template)."""
    _check(messages)
    text = "".join(f"{ROLE_TOKENS[m['role']]}\n{m['content']}{ENDOFTEXT}\n" for m in messages)
    return text + (f"{ASSISTANT}\n" if add_generation_prompt else "")


def encode_chat(
    sp: TextTokenizer, messages: Sequence[Message], add_generation_prompt: bool = False
) -> tuple[list[int], list[bool]]:
    """Token ids of the rendered conversation and, per token, whether it carries training loss."""
    _check(messages)
    end = special_token_id(sp, ENDOFTEXT)
    newline = sp.piece_to_id("\n")  # a piece of its own, or the one token "\n" encodes to
    ids: list[int] = []
    mask: list[bool] = []
    for message in messages:
        head = [special_token_id(sp, ROLE_TOKENS[message["role"]]), newline]
        body = [*sp.encode(message["content"]), end]
        learn = message["role"] == "assistant"
        ids += head + body + [newline]
        mask += [False] * len(head) + [learn] * len(body) + [False]
    if add_generation_prompt:
        ids += [special_token_id(sp, ASSISTANT), newline]
        mask += [False, False]
    return ids, mask


def stop_token_ids(sp: TextTokenizer) -> list[int]:
    """Tokens that end a generated assistant turn."""
    return [special_token_id(sp, ENDOFTEXT)]
