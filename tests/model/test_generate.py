"""generate / stream_generate: cache equivalence, batching, sampling, stops, sliding window."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.model import generate, stream_generate
from kedro_gpt.model.decode import DecodePlan
from kedro_gpt.model.kv_cache import KVCache
from kedro_gpt.model.lora import apply_lora

from .helpers import SWITCH_COMBOS, combo_id

PROMPTS = [[1, 2, 3, 4, 5], [9], [7, 7, 30, 2, 40, 41, 11, 3, 3]]


@pytest.mark.parametrize("combo", SWITCH_COMBOS, ids=combo_id)
def test_cached_equals_uncached_greedy(make_model, combo: dict) -> None:
    model = make_model(**combo)
    prompt = torch.tensor([[3, 14, 15, 9, 26, 5], [2, 7, 18, 28, 18, 28]])
    # 6 + 20 > block_size 16: the sliding window takes over after 10 new tokens
    cached = generate(model, prompt, 20, temperature=0)
    assert cached == generate(model, prompt, 20, temperature=0, use_cache=False)
    assert len({tuple(row) for row in cached}) == 2 and len(set(cached[0])) > 3  # not degenerate


@pytest.mark.parametrize("rope", [False, True])
def test_batched_prompts_of_different_lengths_equal_one_by_one(make_model, rope: bool) -> None:
    model = make_model(rope=rope, qk_norm=rope)
    for new in (5, 14):  # inside the block, then past it (the window slides for the long row)
        batched = generate(model, PROMPTS, new, temperature=0)
        alone = [generate(model, [p], new, temperature=0)[0] for p in PROMPTS]
        assert batched == alone
        assert batched == generate(model, PROMPTS, new, temperature=0, use_cache=False)


@pytest.mark.parametrize("combo", SWITCH_COMBOS, ids=combo_id)
@pytest.mark.parametrize("padded", [False, True])
def test_decode_plan_step_equals_forward_cached(make_model, combo: dict, padded: bool) -> None:
    model = make_model(**combo).eval()
    plan = DecodePlan.of(model)
    assert plan is not None
    prompt = torch.tensor([[0, 0, 3, 14, 15], [2, 7, 18, 28, 18]])
    caches = [KVCache.allocate(model.config, 2, 12) for _ in range(2)]
    with torch.no_grad():
        for cache in caches:
            cache.pad = torch.tensor([2, 0]) if padded else None
            model.forward_cached(prompt, cache, 0)
        pointers = [t.data_ptr() for t in caches[1].k + caches[1].v]
        tokens = torch.tensor([5, 9])
        for col in range(5, 12):
            want = model.forward_cached(tokens[:, None], caches[0], col)
            got = plan.step(tokens, caches[1], col)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
            tokens = want.argmax(-1)
        for a, b in zip(caches[0].k + caches[0].v, caches[1].k + caches[1].v, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert [t.data_ptr() for t in caches[1].k + caches[1].v] == pointers  # written in place
    with pytest.raises(ValueError, match="exceeds its capacity 12"):
        plan.step(tokens, caches[1], 12)


def test_decode_plan_leaves_lora_and_hooked_models_to_the_module_path(make_model) -> None:
    model = make_model()
    handle = model.transformer.h[0].register_forward_hook(lambda *args: None)
    assert DecodePlan.of(model) is None
    handle.remove()
    assert DecodePlan.of(model) is not None
    apply_lora(model, rank=2, alpha=4, target_modules=["attn.c_attn"])
    assert DecodePlan.of(model) is None


def test_kv_cache_is_allocated_once_and_never_moves(make_model) -> None:
    model = make_model()
    seen: list[tuple[int, int]] = []

    def record(module, args) -> None:  # attn(x, rope, kv, start_pos, mask)
        seen.append((args[2][0].data_ptr(), args[0].shape[1]))

    handle = model.transformer.h[1].attn.register_forward_pre_hook(record)
    try:
        generate(model, [[1, 2, 3]], 12, temperature=0)  # 3 + 12 <= 16: no window sliding
    finally:
        handle.remove()
    assert len(seen) == 12  # one prefill, then one call per new token but the last
    assert seen[0][1] == 3 and all(t == 1 for _, t in seen[1:])
    assert len({ptr for ptr, _ in seen}) == 1


def test_sliding_window_beyond_block_size(make_model) -> None:
    model = make_model()
    long_prompt = list(range(40))  # longer than block_size 16: cropped to its last 16 tokens
    out = generate(model, [long_prompt], 25, temperature=0)[0]
    assert len(out) == 25
    assert out == generate(model, [long_prompt], 25, temperature=0, use_cache=False)[0]
    assert out == generate(model, [long_prompt[-16:]], 25, temperature=0)[0]


def test_seeded_sampling_is_reproducible_and_leaves_global_rng_alone(make_model) -> None:
    model = make_model()
    state = torch.random.get_rng_state()
    kwargs = {"temperature": 1.0, "top_k": 20, "top_p": 0.95}
    a = generate(model, PROMPTS, 15, seed=123, **kwargs)
    b = generate(model, PROMPTS, 15, seed=123, **kwargs)
    c = generate(model, PROMPTS, 15, seed=124, **kwargs)
    generate(model, PROMPTS, 5, seed=None, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a == b and a != c
    assert a != generate(model, PROMPTS, 15, temperature=0)  # it did sample


def test_top_k_1_and_tiny_top_p_are_greedy(make_model) -> None:
    model = make_model()
    greedy = generate(model, PROMPTS, 10, temperature=0)
    assert generate(model, PROMPTS, 10, temperature=1.5, top_k=1, seed=0) == greedy
    assert generate(model, PROMPTS, 10, temperature=1.5, top_p=1e-6, seed=0) == greedy


def test_stop_tokens_end_each_row(make_model) -> None:
    model = make_model()
    full = generate(model, PROMPTS, 12, temperature=0)
    stop = full[0][4]
    out = generate(model, PROMPTS, 12, temperature=0, stop_tokens=[stop, 63])
    for row, got in zip(full, out, strict=True):
        cut = min((row.index(t) for t in (stop, 63) if t in row), default=len(row))
        assert got == row[:cut]
    assert out[0] == full[0][: full[0].index(stop)] and len(out[0]) <= 4


def test_stream_generate_matches_generate(make_model) -> None:
    model = make_model(rope=True)
    prompt = [5, 6, 7, 8]
    for kwargs in ({"temperature": 0}, {"temperature": 0.9, "top_k": 10, "seed": 3}):
        expected = generate(model, [prompt], 20, **kwargs)[0]
        assert list(stream_generate(model, prompt, 20, **kwargs)) == expected
        assert list(stream_generate(model, torch.tensor([prompt]), 20, **kwargs)) == expected
    stop = expected[6]
    streamed = list(stream_generate(model, prompt, 20, stop_tokens=[stop], **kwargs))
    assert streamed == expected[: expected.index(stop)]


def test_generate_restores_training_mode_and_ignores_dropout(make_model) -> None:
    model = make_model(dropout=0.5)
    model.train()
    a = generate(model, PROMPTS, 8, temperature=0)
    assert model.training
    assert a == generate(model.eval(), PROMPTS, 8, temperature=0)


def test_zero_new_tokens(make_model) -> None:
    model = make_model()
    assert generate(model, PROMPTS, 0) == [[], [], []]
    assert list(stream_generate(model, PROMPTS[0], 0)) == []


@pytest.mark.parametrize(
    ("prompts", "kwargs", "message"),
    [
        ([[1, 2], []], {}, "prompt 1 is empty"),
        ([[1, 64]], {}, r"prompt 0, position 1: token 64 is not an id in \[0, 64\)"),
        ([[1, -1]], {}, "token -1 is not an id"),
        ([], {}, "holds no prompt"),
        (torch.ones(2, 3), {}, "integer tensor"),
        ([[1]], {"temperature": -1.0}, "temperature must be >= 0"),
        ([[1]], {"top_p": 0.0}, "top_p must be in"),
        ([[1]], {"stop_tokens": ["x"]}, "stop_tokens must be token ids"),
    ],
)
def test_bad_arguments_are_named(make_model, prompts, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(make_model(), prompts, 3, **kwargs)


def test_bad_counts_are_named(make_model) -> None:
    model = make_model()
    with pytest.raises(ValueError, match="max_new_tokens must be a non-negative integer"):
        generate(model, [[1]], -1)
    with pytest.raises(ValueError, match="takes one prompt, got a batch of 2"):
        list(stream_generate(model, [[1], [2]], 3))
