"""LoRA adapters: start as the identity update, train only adapters, merge exactly."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.model.lora import LoRALinear, apply_lora, lora_param_count, merge_lora


def _perturb_adapters(model):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALinear):
                module.lora_B.normal_(std=0.05)


def test_fresh_adapters_leave_the_logits_unchanged(bundle):
    x = torch.randint(0, bundle.config.vocab_size, (2, 16))
    before = bundle.model(x)[0]
    apply_lora(bundle.model, rank=4, alpha=8, target_modules=["attn.c_attn", "mlp.c_fc"])
    torch.testing.assert_close(bundle.model(x)[0], before)


def test_only_adapters_are_trainable(bundle):
    names = apply_lora(bundle.model, rank=4, alpha=8, target_modules=["attn.c_attn"])
    assert names == ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]
    trainable = {n for n, p in bundle.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert lora_param_count(bundle.model) == 2 * 4 * (32 + 96)


def test_merged_weights_give_the_same_logits_as_adapter_plus_base(bundle):
    bundle.model.eval()
    x = torch.randint(0, bundle.config.vocab_size, (2, 16))
    base = bundle.model(x)[0]
    apply_lora(bundle.model, rank=4, alpha=16, target_modules=["attn.c_attn", "attn.c_proj"])
    _perturb_adapters(bundle.model)
    adapted = bundle.model(x)[0]
    assert not torch.allclose(adapted, base, atol=1e-4)  # the adapters do change the model
    assert merge_lora(bundle.model) == 4
    assert not any(isinstance(m, LoRALinear) for m in bundle.model.modules())
    torch.testing.assert_close(bundle.model(x)[0], adapted, atol=1e-5, rtol=1e-5)


def test_merged_model_saves_as_a_plain_gpt(bundle, tmp_path):
    from kedro_gpt.model.bundle import ModelBundle

    apply_lora(bundle.model, rank=2, alpha=4)
    _perturb_adapters(bundle.model)
    merge_lora(bundle.model)
    bundle.model.eval()
    bundle.save(tmp_path)
    loaded = ModelBundle.load(tmp_path)
    x = torch.randint(0, bundle.config.vocab_size, (1, 8))
    torch.testing.assert_close(loaded.model(x)[0], bundle.model(x)[0])


def test_unknown_target_module_names_the_layers(bundle):
    with pytest.raises(ValueError, match="match no linear layer.*attn.c_attn"):
        apply_lora(bundle.model, rank=2, alpha=4, target_modules=["q_proj"])
