"""Train a sentencepiece model whose pieces round-trip text exactly, with our special tokens."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator

import sentencepiece as spm

from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.special_tokens import NEWLINE, SPECIAL_TOKENS

logger = logging.getLogger(__name__)


def _lines(texts: Iterable[str], max_len: int) -> Iterator[str]:
    """Sentencepiece trains on lines; newlines themselves are a reserved piece."""
    for text in texts:
        for line in text.split(NEWLINE):
            if line:
                yield line[:max_len]


def train_sentencepiece(
    texts: Iterable[str], config: SentencePieceConfig
) -> spm.SentencePieceProcessor:
    """Train on ``texts`` and return the processor.

    With the default normalisation (``identity``) and no dummy prefix or whitespace folding,
    ``decode(encode(text)) == text`` for any text (unknown characters go through byte fallback);
    ``nfkc`` gives that up for compatibility characters (``ﬁ`` decodes as ``fi``) and ``nfkc_cf``
    for case too (``config.normalization_rule_name``); none of them touches whitespace.
    ``\\n`` and the special tokens are user-defined pieces: a special token is never split.
    """
    model = io.BytesIO()
    sentences = _lines(texts, config.max_sentence_length)
    first = next(sentences, None)
    if first is None:
        raise ValueError("cannot train a tokenizer: the training split has no text")

    def chained() -> Iterator[str]:
        yield first
        yield from sentences

    spm.set_random_generator_seed(config.seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=chained(),
            model_writer=model,
            model_type=config.model_type,
            vocab_size=config.vocab_size,
            byte_fallback=config.byte_fallback,
            character_coverage=config.character_coverage,
            split_digits=config.split_digits,
            input_sentence_size=config.input_sentence_size,
            shuffle_input_sentence=True,
            max_sentence_length=config.max_sentence_length,
            num_threads=config.num_threads or os.cpu_count() or 1,
            seed_sentencepiece_size=1_000_000,
            user_defined_symbols=[NEWLINE, *SPECIAL_TOKENS],
            normalization_rule_name=config.normalization_rule_name,
            add_dummy_prefix=False,
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            hard_vocab_limit=False,
            minloglevel=2,
        )
    except RuntimeError as err:
        raise ValueError(
            f"sentencepiece training failed ({err}); check parameters 'tokenization.sentencepiece'"
        ) from err
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    if processor.get_piece_size() < config.vocab_size:
        logger.warning(
            "tokenizer has %d pieces, fewer than vocab_size=%d: the training text is small",
            processor.get_piece_size(),
            config.vocab_size,
        )
    return processor
