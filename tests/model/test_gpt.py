"""The GPT module: shapes, loss, initialisation, parameter bookkeeping, cached forward."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F

from kedro_gpt.model import GPT, IGNORE_INDEX, GPTConfig, KVCache, generate

from .helpers import SWITCH_COMBOS, combo_id


def test_forward_shapes_and_dtype(make_model) -> None:
    model = make_model()
    idx = torch.randint(0, 64, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 64) and logits.dtype == torch.float32
    assert loss is None
    _, loss = model(idx, idx)
    assert loss.shape == () and torch.isfinite(loss)


def test_forward_rejects_sequences_longer_than_block_size(make_model) -> None:
    with pytest.raises(ValueError, match="length 17 exceeds the model's block_size 16"):
        make_model()(torch.zeros(1, 17, dtype=torch.long))


def test_loss_at_init_is_about_ln_vocab() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, block_size=32, n_layer=2, n_head=2, n_embd=64))
    idx = torch.randint(0, 512, (8, 32))
    _, loss = model(idx, torch.randint(0, 512, (8, 32)))
    assert abs(loss.item() - math.log(512)) < 0.05


def test_loss_ignores_masked_targets(make_model) -> None:
    model = make_model()
    idx = torch.randint(0, 64, (2, 12))
    targets = torch.randint(0, 64, (2, 12))
    targets[0, :5] = IGNORE_INDEX
    targets[1, 7:] = IGNORE_INDEX
    logits, loss = model(idx, targets)
    keep = targets != IGNORE_INDEX
    manual = -F.log_softmax(logits, dim=-1)[keep].gather(1, targets[keep][:, None]).mean()
    torch.testing.assert_close(loss, manual)
    # dividing by all positions instead of the unmasked ones would differ by 24/14
    assert loss.item() != pytest.approx(manual.item() * keep.sum().item() / keep.numel())


def test_fully_masked_batch_gives_zero_loss_and_zero_grads(make_model) -> None:
    model = make_model()
    idx = torch.randint(0, 64, (2, 8))
    _, loss = model(idx, torch.full_like(idx, IGNORE_INDEX))
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_tied_embeddings_share_one_tensor(make_model) -> None:
    tied = make_model(randomized=False)
    assert tied.lm_head.weight is tied.transformer.wte.weight
    untied = make_model(randomized=False, tie_embeddings=False)
    assert untied.lm_head.weight.data_ptr() != untied.transformer.wte.weight.data_ptr()
    assert untied.num_params(non_embedding=False) == tied.num_params(non_embedding=False) + 64 * 32


def test_parameter_names_map_onto_hf_gpt2(make_model) -> None:
    model = make_model(randomized=False, n_layer=1)
    per_layer = [
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    ]  # fmt: skip
    expected = {"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight"}
    expected |= {"transformer.ln_f.bias", "lm_head.weight"}
    expected |= {f"transformer.h.0.{name}" for name in per_layer}
    state = model.state_dict()
    assert set(state) == expected
    assert state["transformer.h.0.attn.c_attn.weight"].shape == (96, 32)  # HF Conv1D: (32, 96)
    assert state["transformer.wpe.weight"].shape == (16, 32)
    modern = make_model(
        randomized=False, n_layer=1, rope=True, qk_norm=True, bias=False
    ).state_dict()
    assert "transformer.wpe.weight" not in modern
    assert {"transformer.h.0.attn.q_norm.weight", "transformer.h.0.attn.k_norm.weight"} <= set(
        modern
    )
    assert not any(k.endswith(".bias") for k in modern)


def test_gpt2_initialisation() -> None:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=256, block_size=64, n_layer=8, n_head=4, n_embd=256)
    model = GPT(config)
    block = model.transformer.h[3]
    assert block.mlp.c_fc.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.transformer.wpe.weight.std().item() == pytest.approx(0.02, rel=0.05)
    for proj in (block.attn.c_proj.weight, block.mlp.c_proj.weight):
        assert proj.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert not block.attn.c_attn.bias.any()
    zero = GPT(GPTConfig(**{**config.to_dict(), "zero_init_proj": True})).transformer.h[3]
    assert not zero.attn.c_proj.weight.any() and not zero.mlp.c_proj.weight.any()
    assert zero.mlp.c_fc.weight.std().item() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"tie_embeddings": False}, {"qk_norm": True, "rope": True}, {"bias": False}],
    ids=["gpt2", "untied", "qknorm-rope", "nobias"],
)
def test_param_groups_cover_every_parameter_once(make_model, overrides: dict) -> None:
    model = make_model(randomized=False, **overrides)
    decay, no_decay = model.param_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    grouped = [id(p) for g in (decay, no_decay) for p in g["params"]]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == {id(p) for p in model.parameters()}
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    torch.optim.AdamW(model.param_groups(0.1), lr=1e-3)  # a valid optimizer spec


def test_hidden_matrix_params_are_the_block_matrices(make_model) -> None:
    model = make_model(randomized=False, tie_embeddings=False, qk_norm=True)
    hidden = {id(p) for p in model.hidden_matrix_params()}
    expected = {
        id(p)
        for name, p in model.named_parameters()
        if name.startswith("transformer.h.") and p.dim() == 2
    }
    assert hidden == expected and len(hidden) == 4 * model.config.n_layer
    for outside in (
        model.transformer.wte.weight,
        model.transformer.wpe.weight,
        model.lm_head.weight,
    ):
        assert id(outside) not in hidden


def test_num_params_and_flops_per_token() -> None:
    V, T, L, H, C = 100, 24, 3, 4, 32
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C))
    per_block = (
        (2 * 2 * C) + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    )
    total = V * C + T * C + L * per_block + 2 * C
    assert model.num_params(non_embedding=False) == total
    assert model.num_params() == total - T * C  # wpe out; wte stays as the tied head
    assert model.flops_per_token() == 6 * (total - T * C) + 12 * L * H * (C // H) * T
    untied = GPT(
        GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C, tie_embeddings=False)
    )
    assert untied.num_params() == total - T * C  # the untied head counts, the lookup table not


@pytest.mark.parametrize("combo", SWITCH_COMBOS[::3], ids=combo_id)
def test_forward_cached_matches_forward(make_model, combo: dict) -> None:
    model = make_model(**combo).eval()
    idx = torch.randint(0, 64, (2, 12))
    full = model(idx)[0]
    cache = KVCache.allocate(model.config, 2, 16)
    torch.testing.assert_close(model.forward_cached(idx[:, :7], cache, 0), full[:, 6])
    for t in range(7, 10):  # one token at a time
        torch.testing.assert_close(model.forward_cached(idx[:, t : t + 1], cache, t), full[:, t])
    # a chunk after cached tokens (causal with an offset)
    torch.testing.assert_close(model.forward_cached(idx[:, 10:12], cache, 10), full[:, 11])


def test_kv_cache_is_written_in_place(make_model) -> None:
    model = make_model(rope=True).eval()
    cache = KVCache.allocate(model.config, 1, 16)
    pointers = [t.data_ptr() for t in cache.k + cache.v]
    model.forward_cached(torch.tensor([[1, 2, 3]]), cache, 0)
    for pos in range(3, 16):
        model.forward_cached(torch.tensor([[pos]]), cache, pos)
        assert [t.data_ptr() for t in cache.k + cache.v] == pointers
    assert cache.k[1][:, :, 15].abs().sum() > 0  # the last column was written
    with pytest.raises(ValueError, match="exceed its capacity 16"):
        model.forward_cached(torch.tensor([[0]]), cache, 16)


def test_left_padded_rows_match_unpadded(make_model) -> None:
    # the cached and the full forward sum in different orders: float32 rounding, not a bug, differs
    close = functools.partial(torch.testing.assert_close, atol=1e-4, rtol=1e-4)
    for rope in (False, True):
        model = make_model(rope=rope).eval()
        short, long = [5, 9, 2], [7, 1, 3, 3, 8, 4]
        cache = KVCache.allocate(model.config, 2, 16)
        cache.pad = torch.tensor([3, 0])
        batch = torch.tensor([[0, 0, 0, *short], long])
        logits = model.forward_cached(batch, cache, 0)
        close(logits[0], model(torch.tensor([short]))[0][0, -1])
        close(logits[1], model(torch.tensor([long]))[0][0, -1])
        step = model.forward_cached(torch.tensor([[11], [12]]), cache, 6)
        close(step[0], model(torch.tensor([[*short, 11]]))[0][0, -1])
        close(step[1], model(torch.tensor([[*long, 12]]))[0][0, -1])


def test_rope_tables_stay_float32_when_the_model_is_cast(make_model) -> None:
    model = make_model(rope=True).to(torch.bfloat16)
    assert model.rotary.cos.dtype == torch.float32
    assert model.lm_head.weight.dtype == torch.bfloat16
    logits, _ = model(torch.randint(0, 64, (1, 8)))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    out = generate(model, [[1, 2, 3], [4]], 20, temperature=0)  # cache in bf16, window slides
    assert [len(row) for row in out] == [20, 20]
