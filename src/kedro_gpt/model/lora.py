"""LoRA (Hu et al. 2021): low-rank adapters on chosen ``nn.Linear`` layers, merged on save.

``apply_lora`` swaps each target linear for a :class:`LoRALinear` that keeps the original (frozen)
layer and adds ``(alpha / rank) · B · A · dropout(x)``, with ``B`` zero-initialised so training
starts from the base model exactly. ``merge_lora`` folds the adapters back into plain
``nn.Linear`` weights (``W + (alpha / rank) · B · A``), so the saved model is an ordinary GPT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable rank-``rank`` update."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        self.base = base
        self.rank = rank
        self.scaling = alpha / rank
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        weight = base.weight
        self.lora_A = nn.Parameter(
            torch.empty(rank, base.in_features, device=weight.device, dtype=weight.dtype)
        )
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, rank, device=weight.device, dtype=weight.dtype)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        for param in base.parameters():
            param.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        update = self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()
        return self.base(x) + self.scaling * update

    def delta_weight(self) -> Tensor:
        """The update to ``base.weight`` that the adapter stands for."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def merged(self) -> nn.Linear:
        """A plain linear layer with the adapter folded in."""
        out = nn.Linear(
            self.base.in_features,
            self.base.out_features,
            bias=self.base.bias is not None,
            device=self.base.weight.device,
            dtype=self.base.weight.dtype,
        )
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out


def _matches(name: str, targets: Sequence[str]) -> bool:
    return any(name == t or name.endswith(f".{t}") for t in targets)


def apply_lora(
    model: nn.Module,
    rank: int,
    alpha: float,
    dropout: float = 0.0,
    target_modules: Sequence[str] = ("attn.c_attn", "attn.c_proj"),
) -> list[str]:
    """Freeze every parameter of ``model`` and put adapters on the linears named by
    ``target_modules`` (a suffix of the module name, e.g. ``attn.c_attn`` or ``mlp.c_fc``).

    Returns the adapted module names; no match is a ``ValueError`` that lists the linears.
    """
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    chosen = [n for n in linears if _matches(n, target_modules)]
    if not chosen:
        raise ValueError(
            f"LoRA target_modules {list(target_modules)} match no linear layer; the model has "
            f"{', '.join(sorted({n.split('.', 3)[-1] for n in linears}))}"
        )
    for param in model.parameters():
        param.requires_grad_(False)
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), rank, alpha, dropout))
    return chosen


def merge_lora(model: nn.Module) -> int:
    """Replace every :class:`LoRALinear` in ``model`` by its merged ``nn.Linear``; returns how many."""
    adapted = [(n, m) for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name, module in adapted:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.merged())
    return len(adapted)


def lora_param_count(model: nn.Module) -> int:
    """Trainable adapter parameters."""
    return sum(
        m.lora_A.numel() + m.lora_B.numel() for m in model.modules() if isinstance(m, LoRALinear)
    )
