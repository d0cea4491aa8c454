"""Optimizer building: AdamW (decay on 2-D weights only), optionally Muon for hidden matrices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.muon import Muon


class Optimizers:
    """One or more optimizers stepped together (AdamW alone, or Muon + AdamW).

    Every param group carries its peak learning rate under ``peak_lr``; :meth:`set_lr_factor`
    scales all of them by the schedule's multiplier.
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers

    @property
    def param_groups(self) -> Iterator[dict[str, Any]]:
        for opt in self.optimizers:
            yield from opt.param_groups

    def set_lr_factor(self, factor: float) -> None:
        for group in self.param_groups:
            group["lr"] = group["peak_lr"] * factor

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def state_dict(self) -> list[dict[str, Any]]:
        return [opt.state_dict() for opt in self.optimizers]

    def load_state_dict(self, states: list[dict[str, Any]]) -> None:
        if len(states) != len(self.optimizers):
            raise ValueError(
                f"checkpoint holds {len(states)} optimizer state(s), this run builds "
                f"{len(self.optimizers)} (was the 'optimizer' setting changed?)"
            )
        for opt, state in zip(self.optimizers, states, strict=True):
            opt.load_state_dict(state)


def _decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    if hasattr(model, "param_groups"):
        return list(model.param_groups(weight_decay))
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def _muon(model: nn.Module, groups: list[dict[str, Any]], config: TrainConfig) -> Muon:
    """Muon over ``model.hidden_matrix_params()``, one group per ``lr_scale`` of ``groups``."""
    if not hasattr(model, "hidden_matrix_params"):
        raise ValueError("optimizer 'muon' needs a model with hidden_matrix_params()")
    hidden = [p for p in model.hidden_matrix_params() if p.requires_grad]
    if any(p.dim() != 2 for p in hidden):
        raise ValueError("hidden_matrix_params() must return 2-D tensors only (Muon)")
    scale_of = {id(p): float(g.get("lr_scale", 1.0)) for g in groups for p in g["params"]}
    by_scale: dict[float, list[nn.Parameter]] = {}
    for p in hidden:
        by_scale.setdefault(scale_of.get(id(p), 1.0), []).append(p)
    muon_groups = [
        {"params": params, "lr": config.muon_lr * scale, "lr_scale": scale}
        for scale, params in by_scale.items()
    ]
    return Muon(muon_groups, lr=config.muon_lr, weight_decay=config.weight_decay)


def build_optimizers(model: nn.Module, config: TrainConfig, device: torch.device) -> Optimizers:
    """AdamW over ``model.param_groups(weight_decay)``; with ``optimizer: muon`` the tensors of
    ``model.hidden_matrix_params()`` go to Muon instead (``training.muon``: torch's, orthogonalising
    in float32 on CPUs without bf16 matrix units).

    A group's optional ``lr_scale`` scales its peak learning rate (``learning_rate × lr_scale``,
    for Muon ``muon_lr × lr_scale``): discriminative fine-tuning. AdamW is ``fused`` (one kernel
    for all tensors; on CPU 4-6x faster than ``foreach`` here, see docs/benchmarks.md). Frozen
    parameters are left out.
    """
    groups = _decay_groups(model, config.weight_decay)
    optimizers: list[torch.optim.Optimizer] = []
    if config.optimizer == "muon":
        muon = _muon(model, groups, config)
        muon_ids = {id(p) for g in muon.param_groups for p in g["params"]}
        groups = [
            {**g, "params": [p for p in g["params"] if id(p) not in muon_ids]} for g in groups
        ]
        optimizers.append(muon)
    groups = [
        {**g, "params": [p for p in g["params"] if p.requires_grad]}
        for g in groups
        if any(p.requires_grad for p in g["params"])
    ]
    for g in groups:
        if "lr_scale" in g:
            g["lr"] = config.learning_rate * float(g["lr_scale"])
    if groups:
        optimizers.append(
            torch.optim.AdamW(
                groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), fused=True
            )
        )
    if not optimizers:
        raise ValueError("the model has no trainable parameters")
    for opt in optimizers:
        for group in opt.param_groups:
            group["peak_lr"] = group["lr"]
    return Optimizers(optimizers)
