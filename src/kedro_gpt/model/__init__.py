"""The GPT model (GPT-2 layout plus optional modern switches) and text generation."""

from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.generate import generate, stream_generate
from kedro_gpt.model.gpt import GPT, IGNORE_INDEX
from kedro_gpt.model.kv_cache import KVCache
from kedro_gpt.model.presets import PRESETS, model_config

__all__ = [
    "GPT",
    "IGNORE_INDEX",
    "PRESETS",
    "GPTConfig",
    "KVCache",
    "generate",
    "model_config",
    "stream_generate",
]
