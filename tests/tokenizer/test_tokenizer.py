"""Sentencepiece training, exact round trip, chunked parallel encoding and the split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from kedro_gpt.tokenizer.config import SentencePieceConfig, SplitConfig
from kedro_gpt.tokenizer.encode import EncodeStats, chunk_text, encode_documents
from kedro_gpt.tokenizer.special_tokens import SPECIAL_TOKENS, eos_id, special_token_id
from kedro_gpt.tokenizer.split import SPLIT_SCHEMA, split_batches, split_offset
from kedro_gpt.tokenizer.train import train_sentencepiece


@pytest.fixture(scope="module")
def sp(shakespeare_text):
    return train_sentencepiece([shakespeare_text[:300_000]], SentencePieceConfig(vocab_size=512))


def test_special_tokens_are_single_pieces(sp):
    for token in SPECIAL_TOKENS:
        ids = sp.encode(f"hello {token} world")
        assert special_token_id(sp, token) in ids
    assert sp.encode("\n") == [sp.piece_to_id("\n")]


@pytest.mark.parametrize(
    "text",
    [
        "First Citizen:\nBefore we proceed,  any further.\n\n",
        "  leading spaces",
        "naïve café ☃ 漢字\t",
    ],
)
def test_round_trip_is_exact(sp, text):
    assert sp.decode(sp.encode(text)) == text


def test_case_folding_tokenizer_folds_case_and_keeps_whitespace_and_specials(shakespeare_text):
    config = SentencePieceConfig(vocab_size=512, normalization_rule_name="nfkc_cf")
    folded = train_sentencepiece([shakespeare_text[:300_000]], config)
    assert folded.encode("First Citizen") == folded.encode("first citizen")
    text = "KING RICHARD:\n\tNow  is the winter ﬁne <|endoftext|>"
    assert (
        folded.decode(folded.encode(text))
        == "king richard:\n\tnow  is the winter fine <|endoftext|>"
    )
    assert special_token_id(folded, "<|endoftext|>") in folded.encode(text)


def test_chunked_parallel_encoding_equals_whole_encoding(sp, shakespeare_text):
    text = shakespeare_text[:200_000]
    chunks = chunk_text(text, 4096)
    assert "".join(chunks) == text and len(chunks) > 10
    stats = EncodeStats()
    (flat,) = list(encode_documents([[text]], sp, stats, num_threads=2, chunk_chars=4096))
    assert flat.tolist() == sp.encode(text)
    assert stats.tokens == len(flat) and stats.chars == len(text)


def test_eos_between_documents_only(sp):
    stats = EncodeStats()
    arrays = list(encode_documents([["ab", "cd"], ["ef"]], sp, stats))
    flat = np.concatenate(arrays).tolist()
    eos = eos_id(sp)
    assert flat.count(eos) == 2 and flat[0] != eos
    assert flat == sp.encode("ab") + [eos] + sp.encode("cd") + [eos] + sp.encode("ef")
    assert stats.documents == 3 and stats.as_dict()["vocab_used"] > 0


def test_empty_training_text_is_a_clear_error():
    with pytest.raises(ValueError, match="no text"):
        train_sentencepiece(["", "\n\n"], SentencePieceConfig(vocab_size=512))


def _batch(ids: list[str], texts: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"id": ids, "source": ["s"] * len(ids), "text": texts})


def test_position_split_matches_nanogpt(shakespeare_text):
    (batch,) = list(
        split_batches([_batch(["a"], [shakespeare_text])], SplitConfig(mode="position"))
    )
    rows = batch.to_pylist()
    n = len(shakespeare_text)
    assert [r["split"] for r in rows] == ["train", "val"]
    assert rows[1]["text"] == shakespeare_text[int(n * 0.9) :]  # nanoGPT's val characters
    assert rows[1]["char_start"] == split_offset(n, 0.1) == 1_003_854
    assert rows[0]["text"] + rows[1]["text"] == shakespeare_text
    assert batch.schema == SPLIT_SCHEMA


def test_document_split_is_deterministic_and_near_fraction():
    ids = [f"doc{i}" for i in range(2000)]
    batch = _batch(ids, ["x"] * len(ids))
    first = next(split_batches([batch], SplitConfig(mode="document", val_fraction=0.2))).to_pylist()
    again = next(split_batches([batch], SplitConfig(mode="document", val_fraction=0.2))).to_pylist()
    assert first == again
    val = sum(r["split"] == "val" for r in first)
    assert 0.17 < val / len(ids) < 0.23
