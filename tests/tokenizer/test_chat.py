"""The chat template: rendering, encoding, and the assistant-only loss mask."""

from __future__ import annotations

import pytest

from kedro_gpt.tokenizer.chat import encode_chat, render_chat, stop_token_ids
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.train import train_sentencepiece

CONVERSATION = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is a list?"},
    {"role": "assistant", "content": "A mutable sequence."},
]


@pytest.fixture(scope="module")
def sp(shakespeare_text):
    return train_sentencepiece([shakespeare_text[:100_000]], SentencePieceConfig(vocab_size=400))


def test_encoding_decodes_to_the_rendered_text(sp):
    ids, mask = encode_chat(sp, CONVERSATION, add_generation_prompt=False)
    assert sp.decode(ids) == render_chat(CONVERSATION)
    assert len(ids) == len(mask)


def test_only_assistant_content_and_its_end_token_carry_loss(sp):
    ids, mask = encode_chat(sp, CONVERSATION)
    learned = [i for i, m in zip(ids, mask, strict=True) if m]
    assert sp.decode(learned) == "A mutable sequence.<|endoftext|>"
    assert learned[-1] in stop_token_ids(sp)


def test_generation_prompt_ends_with_assistant_header(sp):
    ids, mask = encode_chat(sp, CONVERSATION[:2], add_generation_prompt=True)
    assert sp.decode(ids).endswith("<|assistant|>\n") and not any(mask)


def test_unknown_role_is_a_clear_error(sp):
    with pytest.raises(ValueError, match="message 1: unknown role 'bot'"):
        encode_chat(sp, [CONVERSATION[0], {"role": "bot", "content": "hi"}])
