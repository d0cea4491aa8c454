"""A GPT-2 folder as ``transformers`` saves it, with a byte-level BPE ``tokenizer.json`` trained by
``tokenizers``: what a local copy of GPT-2 looks like, at test size (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch

from kedro_gpt.tokenizer.special_tokens import ENDOFTEXT

GPT2_SHAPE = {"n_layer": 2, "n_head": 2, "n_embd": 32}


def train_byte_level_bpe(text: str, vocab_size: int = 400):
    """GPT-2's tokenizer design (byte-level BPE, ``<|endoftext|>`` its one special token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer


def make_gpt2_folder(text: str, folder: Path, n_positions: int = 64, seed: int = 0) -> Path:
    """Save a random small ``GPT2LMHeadModel`` and a tokenizer trained on ``text`` to ``folder``
    with ``save_pretrained``: ``config.json``, ``model.safetensors``, ``tokenizer.json``…"""
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = train_byte_level_bpe(text)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=ENDOFTEXT, eos_token=ENDOFTEXT
    )
    fast.save_pretrained(folder)
    eot = tokenizer.token_to_id(ENDOFTEXT)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(),
        n_positions=n_positions,
        bos_token_id=eot,
        eos_token_id=eot,
        **GPT2_SHAPE,
    )
    model = GPT2LMHeadModel(config).eval()
    noise = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # larger weights than the init, so logits differ clearly per token
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=noise) * 0.1)
    model.save_pretrained(folder)
    return folder
