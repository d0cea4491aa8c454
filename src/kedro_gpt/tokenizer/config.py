"""Typed parameters of the tokenization stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kedro_gpt.config import StrictModel


class SplitConfig(StrictModel):
    """How the corpus is split into train and validation text.

    ``document``: a whole document goes to validation when the hash of its id falls below
    ``val_fraction``. ``position``: the last ``val_fraction`` of every document's characters is
    validation — for a single long text this is nanoGPT's split (``data[int(n * 0.9):]``).
    """

    mode: Literal["document", "position"] = "position"
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    seed: int = 0


class SentencePieceConfig(StrictModel):
    """Sentencepiece trainer options (see the sentencepiece docs for each).

    ``normalization_rule_name``: ``identity`` (the default) keeps ``decode(encode(text)) == text``;
    ``nfkc_cf`` applies NFKC and case folding before encoding, so ``The`` and ``the`` are one
    piece and decoded text is lower case (for tasks whose text is lower case, as rt-polarity's is);
    ``nfkc`` applies NFKC only. The rule is stored in the model, so every later encode applies it.
    """

    model_type: Literal["bpe", "unigram"] = "bpe"
    vocab_size: int = Field(2048, ge=64, le=2**20)
    byte_fallback: bool = True
    character_coverage: float = Field(1.0, gt=0.0, le=1.0)
    split_digits: bool = True
    normalization_rule_name: Literal["identity", "nfkc", "nfkc_cf"] = "identity"
    input_sentence_size: int = Field(2_000_000, ge=0)
    max_sentence_length: int = Field(16384, ge=16)
    num_threads: int = Field(0, ge=0, description="0 = all cores")
    seed: int = 0


class EncodeConfig(StrictModel):
    """Parallel encoding into packed shards."""

    num_threads: int = Field(0, ge=0, description="0 = all cores")
    chunk_chars: int = Field(
        65536, ge=1024, description="long documents are cut at newlines into chunks"
    )
    batch_documents: int = Field(256, ge=1)


class TokenizationConfig(StrictModel):
    split: SplitConfig = SplitConfig()
    sentencepiece: SentencePieceConfig = SentencePieceConfig()
    encode: EncodeConfig = EncodeConfig()

    @model_validator(mode="after")
    def _vocab_holds_specials(self) -> TokenizationConfig:
        if self.sentencepiece.byte_fallback and self.sentencepiece.vocab_size < 300:
            raise ValueError(
                "sentencepiece.vocab_size must be ≥ 300 with byte_fallback (256 byte pieces)"
            )
        return self
