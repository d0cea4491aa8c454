"""Which weights a fine-tuning run trains: all, all but the lowest layers, or LoRA adapters."""

from __future__ import annotations

from typing import Any

from torch import nn

from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.model.lora import apply_lora, lora_param_count, merge_lora


def freeze_lower_layers(model: GPT, n: int) -> None:
    """Freeze the embeddings and the lowest ``n`` blocks (the LM head stays trainable unless it
    is tied to the token embeddings)."""
    if n > model.config.n_layer:
        raise ValueError(f"freeze_layers {n} exceeds the model's {model.config.n_layer} layers")
    frozen: list[nn.Module] = [model.transformer.wte, *model.transformer.h[:n]]
    if "wpe" in model.transformer:
        frozen.append(model.transformer.wpe)
    for module in frozen:
        for param in module.parameters():
            param.requires_grad_(False)


def prepare_backbone(model: GPT, config: FinetuningConfig) -> dict[str, Any]:
    """Set up ``model`` for the configured mode; returns what is trained."""
    total = sum(p.numel() for p in model.parameters())
    info: dict[str, Any] = {"mode": config.mode}
    if config.dropout is not None:
        model.set_dropout(config.dropout)
        info["dropout"] = config.dropout
    if config.mode == "freeze":
        freeze_lower_layers(model, config.freeze_layers)
        info["freeze_layers"] = config.freeze_layers
    elif config.mode == "lora":
        lora = config.lora
        info["lora_modules"] = apply_lora(
            model, lora.rank, lora.alpha, lora.dropout, lora.target_modules
        )
        info["lora"] = lora.model_dump()
        info["lora_params"] = lora_param_count(model)
    info["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    info["total_params"] = total
    return info


def finalize_backbone(model: GPT) -> GPT:
    """Merge any LoRA adapters into the weights, make every parameter trainable again and put
    back the model's own dropout."""
    merge_lora(model)
    model.set_dropout(model.config.dropout)
    for param in model.parameters():
        param.requires_grad_(True)
    return model.eval()
