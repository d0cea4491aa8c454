"""Autoregressive generation with a preallocated KV cache.

How a batch of prompts of different lengths runs: the prompts are **left-padded** into one
``[B, P]`` tensor and prefilled together; ``KVCache.pad`` tells attention to ignore each row's
padding and shifts each row's positions so its first real token is position 0. Decode steps
then advance all rows one column at a time, so each row computes exactly what it would alone
(greedy results equal one-by-one generation; a test checks it).

Beyond ``block_size``: the cache holds at most ``block_size`` positions. Once a sequence would
outgrow it, generation falls back to a sliding window: every further step recomputes the cache
from the last ``block_size`` tokens (the same context the uncached path crops to), so each of
those steps costs a full ``block_size`` prefill. Learned positions (and the hidden states of
later layers) depend on where the window starts, so the cache cannot simply be shifted.

``use_cache=False`` is the reference path: each step calls ``model(...)`` on the cropped
context, batched when all prompts have the same length and one prompt at a time otherwise.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor

from kedro_gpt.model.decode import DecodePlan
from kedro_gpt.model.gpt import GPT
from kedro_gpt.model.kv_cache import KVCache
from kedro_gpt.model.sampling import check_sampling, sample_next

PromptIds = Tensor | Sequence[Sequence[int]]


@torch.no_grad()
def generate(
    model: GPT,
    prompt_ids: PromptIds,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    stop_tokens: Sequence[int] = (),
    seed: int | None = None,
    use_cache: bool = True,
) -> list[list[int]]:
    """New tokens for each prompt (``[B, T]`` tensor or lists of ids, lengths may differ).

    Each row ends before its first stop token (which is not returned) or after
    ``max_new_tokens``. ``seed`` drives a private ``torch.Generator``: the same seed gives the
    same tokens and the global RNG is left alone. The model runs in eval mode and is put back
    in its previous mode afterwards.
    """
    rows = _prompt_rows(prompt_ids, model.config.vocab_size)
    _check_args(max_new_tokens, temperature, top_k, top_p, stop_tokens)
    if max_new_tokens == 0:
        return [[] for _ in rows]
    kwargs = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed}
    if not use_cache and len({len(r) for r in rows}) > 1:
        return [
            generate(
                model, [r], max_new_tokens, stop_tokens=stop_tokens, use_cache=False, **kwargs
            )[0]
            for r in rows
        ]
    stops = {operator.index(t) for t in stop_tokens}
    with _eval_mode(model):
        steps = token_steps(model, rows, max_new_tokens, use_cache=use_cache, **kwargs)
        if not stops:  # no per-step host sync at all: one transfer at the end
            return torch.stack(list(steps), dim=1).tolist()
        out: list[list[int]] = [[] for _ in rows]
        running = set(range(len(rows)))
        for tokens in steps:
            for i, token in enumerate(tokens.tolist()):  # the one host sync per step
                if i in running:
                    if token in stops:
                        running.discard(i)
                    else:
                        out[i].append(token)
            if not running:
                break
        return out


@torch.no_grad()
def stream_generate(
    model: GPT,
    prompt_ids: Tensor | Sequence[int] | Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    stop_tokens: Sequence[int] = (),
    seed: int | None = None,
    use_cache: bool = True,
) -> Iterator[int]:
    """Yield the new tokens of one prompt as they are sampled; same arguments as ``generate``.

    The prompt is a list of ids, a 1-D tensor, or a batch of one. Stops before the first stop
    token. The model stays in eval mode until the iterator is exhausted or closed.
    """
    if isinstance(prompt_ids, Tensor) and prompt_ids.dim() == 1:
        prompt_ids = prompt_ids[None]
    elif not isinstance(prompt_ids, Tensor) and len(prompt_ids) and _is_int(prompt_ids[0]):
        prompt_ids = [prompt_ids]  # type: ignore[list-item]
    rows = _prompt_rows(prompt_ids, model.config.vocab_size)  # type: ignore[arg-type]
    if len(rows) != 1:
        raise ValueError(f"stream_generate takes one prompt, got a batch of {len(rows)}")
    _check_args(max_new_tokens, temperature, top_k, top_p, stop_tokens)
    stops = {operator.index(t) for t in stop_tokens}
    with _eval_mode(model):
        steps = token_steps(
            model,
            rows,
            max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            use_cache=use_cache,
        )
        for tokens in steps:
            token = int(tokens.item())  # the one host sync per step
            if token in stops:
                return
            yield token


def token_steps(
    model: GPT,
    rows: list[list[int]],
    max_new_tokens: int,
    *,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    seed: int | None,
    use_cache: bool,
) -> Iterator[Tensor]:
    """Yield the sampled tokens ``[B]`` (on the model's device) step by step.

    Rows of different lengths need ``use_cache`` (the cached path handles left padding).
    """
    if max_new_tokens == 0:
        return
    block_size = model.config.block_size
    device = model.pos_ids.device
    lengths = [len(r) for r in rows]
    P, N = max(lengths), max_new_tokens
    seq = torch.zeros(len(rows), P + N, dtype=torch.long)  # left-padded prompts + new tokens
    for i, row in enumerate(rows):
        seq[i, P - len(row) : P] = torch.tensor(row, dtype=torch.long)
    seq = seq.to(device)
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    sample = partial(
        sample_next, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
    )

    if not use_cache:
        for step in range(N):
            end = P + step
            logits = model(seq[:, max(0, end - block_size) : end])[0][:, -1]
            tokens = sample(logits)
            seq[:, end] = tokens
            yield tokens
        return

    pad = torch.tensor([P - n for n in lengths], device=device) if min(lengths) < P else None
    capacity = min(block_size, P + N)
    dtype = next(model.parameters()).dtype
    cache = KVCache.allocate(model.config, len(rows), capacity, device=device, dtype=dtype)
    plan = DecodePlan.of(model)  # the fast one-token step, when the model's modules allow it

    def prefill(end: int) -> tuple[Tensor, int]:
        """(Re)fill the cache with the last ``capacity`` columns of ``seq[:, :end]``."""
        start = max(0, end - capacity)
        if pad is not None:
            cache.pad = (pad - start).clamp_min(0)
        return model.forward_cached(seq[:, start:end], cache, 0), end - start

    logits, filled = prefill(P)
    for step in range(N):
        tokens = sample(logits)
        seq[:, P + step] = tokens
        yield tokens
        if step + 1 == N:
            return
        if filled < capacity:
            if plan is None:
                logits = model.forward_cached(tokens[:, None], cache, filled)
            else:
                logits = plan.step(tokens, cache, filled)
            filled += 1
        else:  # the window is full: slide it by recomputing the cache (see module docstring)
            logits, filled = prefill(P + step + 1)


def _is_int(x: object) -> bool:
    try:
        operator.index(x)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def _prompt_rows(prompt_ids: PromptIds, vocab_size: int) -> list[list[int]]:
    """The prompts as lists of ints, each non-empty and inside the vocabulary."""
    if isinstance(prompt_ids, Tensor):
        if prompt_ids.dim() != 2 or prompt_ids.is_floating_point() or prompt_ids.is_complex():
            raise ValueError(
                f"prompt_ids must be an integer tensor [B, T], got {prompt_ids.dtype} "
                f"of shape {list(prompt_ids.shape)}"
            )
        rows = prompt_ids.tolist()
    else:
        rows = [list(row) for row in prompt_ids]
    if not rows:
        raise ValueError("prompt_ids holds no prompt")
    for i, row in enumerate(rows):
        if not row:
            raise ValueError(f"prompt {i} is empty: generation needs at least one token")
        for j, token in enumerate(row):
            if not _is_int(token) or not 0 <= token < vocab_size:
                raise ValueError(
                    f"prompt {i}, position {j}: token {token!r} is not an id in [0, {vocab_size})"
                )
        rows[i] = [operator.index(t) for t in row]
    return rows


def _check_args(
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    stop_tokens: Sequence[int],
) -> None:
    if not _is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}")
    check_sampling(temperature, top_k, top_p)
    bad = [t for t in stop_tokens if not _is_int(t)]
    if bad:
        raise ValueError(f"stop_tokens must be token ids, got {bad!r}")


@contextmanager
def _eval_mode(model: GPT) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
