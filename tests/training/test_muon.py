"""Muon: torch's algorithm, with the orthogonalisation in a dtype the device multiplies fast."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.training import muon as muon_module
from kedro_gpt.training.device import cpu_has_bf16_matmul
from kedro_gpt.training.muon import Muon, newton_schulz_dtype, orthogonalize


def _run(optimizer_class, steps: int = 3) -> list[torch.Tensor]:
    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(48, 16)), torch.nn.Parameter(torch.randn(16, 40))]
    opt = optimizer_class(weights, lr=0.02, weight_decay=0.1)
    for step in range(steps):
        for i, w in enumerate(weights):
            w.grad = torch.sin(
                torch.arange(w.numel(), dtype=torch.float32) * (step + i + 1)
            ).view_as(w)
        opt.step()
    return [w.detach().clone() for w in weights]


def test_with_bf16_it_is_torchs_muon(monkeypatch):
    monkeypatch.setattr(muon_module, "newton_schulz_dtype", lambda device: torch.bfloat16)
    for ours, theirs in zip(_run(Muon), _run(torch.optim.Muon), strict=True):
        torch.testing.assert_close(ours, theirs, atol=0, rtol=0)


def test_float32_orthogonalises_as_well_and_is_chosen_where_bf16_is_emulated():
    torch.manual_seed(1)
    update = torch.randn(64, 24)
    coefficients = (3.4445, -4.7750, 2.0315)
    fp32 = orthogonalize(update, coefficients, 5, 1e-7, torch.float32)
    bf16 = orthogonalize(update, coefficients, 5, 1e-7, torch.bfloat16).float()
    assert fp32.dtype == torch.float32 and fp32.shape == update.shape
    singular = torch.linalg.svdvals(fp32)
    assert 0.5 < singular.min() and singular.max() < 1.5  # Muon's near-orthogonal update
    torch.testing.assert_close(fp32, bf16, atol=0.05, rtol=0.05)
    expected = torch.bfloat16 if cpu_has_bf16_matmul() else torch.float32
    assert newton_schulz_dtype(torch.device("cpu")) == expected
    assert newton_schulz_dtype(torch.device("cuda")) == torch.bfloat16


@pytest.mark.parametrize("rule", ["original", "match_rms_adamw"])
def test_learning_rate_adjustment_matches_torch(rule):
    from torch.optim._muon import _adjust_lr

    for shape in (torch.Size([48, 16]), torch.Size([16, 40])):
        assert muon_module.adjusted_lr(0.02, rule, shape) == pytest.approx(
            _adjust_lr(0.02, rule, shape)
        )
