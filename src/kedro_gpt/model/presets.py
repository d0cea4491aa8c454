"""Named model sizes: a CPU default and the four GPT-2 sizes (Radford et al. 2019)."""

from __future__ import annotations

from typing import Any

from kedro_gpt.model.config import GPTConfig

PRESETS: dict[str, dict[str, Any]] = {
    # ~1.1M parameters with a 2048 vocabulary (nanoGPT's shakespeare-cpu shape, block 128):
    # measured ~3-6k training tokens/s (batch 16) on 2 shared CPU cores.
    "cpu-small": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128},
    "gpt2": {"n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 1024},
    "gpt2-medium": {"n_layer": 24, "n_head": 16, "n_embd": 1024, "block_size": 1024},
    "gpt2-large": {"n_layer": 36, "n_head": 20, "n_embd": 1280, "block_size": 1024},
    "gpt2-xl": {"n_layer": 48, "n_head": 25, "n_embd": 1600, "block_size": 1024},
}


def model_config(preset: str | None, vocab_size: int, **overrides: Any) -> GPTConfig:
    """A ``GPTConfig``: ``GPTConfig`` defaults, then the preset's values, then ``overrides``.

    The vocabulary size comes from the tokenizer. An unknown preset or override key is a
    ``ValueError`` that names it.
    """
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = {**(PRESETS[preset] if preset else {}), **overrides, "vocab_size": vocab_size}
    return GPTConfig.from_dict(values)
