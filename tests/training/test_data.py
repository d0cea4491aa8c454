"""Batch sources: random windows of memmapped shards, and the every-token-once blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kedro_gpt.training.data import BatchSource, RandomWindows, reading_order, sequential_blocks


def test_windows_are_shifted_slices_of_a_shard(splits):
    shards = list(splits["train"].shards)
    src = RandomWindows(shards, block_size=16, batch_size=8, seed=3)
    assert isinstance(src, BatchSource)
    x, y = src.next_batch()
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    joined = [np.asarray(s).astype(np.int64) for s in shards]
    for row_x, row_y in zip(x.numpy(), y.numpy(), strict=True):
        window = np.concatenate([row_x, row_y[-1:]])
        hits = [
            np.flatnonzero(
                np.all(np.lib.stride_tricks.sliding_window_view(s, 17) == window, axis=1)
            )
            for s in joined
        ]
        assert any(len(h) for h in hits)


def test_sampling_is_seeded_and_resumes_from_its_state(splits):
    shards = list(splits["train"].shards)
    a = RandomWindows(shards, 16, 4, seed=1)
    first = [a.next_batch()[0] for _ in range(3)]
    b = RandomWindows(shards, 16, 4, seed=1)
    b.next_batch()
    state = b.state_dict()
    c = RandomWindows(shards, 16, 4, seed=1)
    c.load_state_dict(state)
    assert torch.equal(c.next_batch()[0], first[1])
    assert not torch.equal(RandomWindows(shards, 16, 4, seed=2).next_batch()[0], first[0])


def test_ranks_split_the_global_batch_of_one_process(splits):
    """Rank r of R with accumulation a draws the micro-batches r·a… of one process with R·a."""
    shards = list(splits["train"].shards)
    single = RandomWindows(shards, 16, 4, seed=5, grad_accum_steps=4)
    ranks = [
        RandomWindows(shards, 16, 4, seed=5, rank=r, world_size=2, grad_accum_steps=2)
        for r in range(2)
    ]
    for _step in range(3):
        expected = [single.next_batch()[0] for _ in range(4)]
        got = [src.next_batch()[0] for src in ranks for _ in range(2)]
        assert all(torch.equal(e, g) for e, g in zip(expected, got, strict=True))


def test_shards_are_chosen_in_proportion_to_their_windows():
    big = np.zeros(10_000, dtype=np.uint16)
    small = np.ones(1_016, dtype=np.uint16)  # 1000 windows of 17 tokens vs 9984
    src = RandomWindows([big, small, np.ones(5, dtype=np.uint16)], 16, 2000, seed=0)
    share = float((src.next_batch()[0][:, 0] == 1).float().mean())
    assert share == pytest.approx(1000 / 10_984, abs=0.02)


def test_too_short_shards_are_a_clear_error():
    with pytest.raises(ValueError, match="too short for block_size 16"):
        RandomWindows([np.zeros(10, dtype=np.uint16)], 16, 2, seed=0)


def test_sequential_blocks_score_every_token_once_across_ranks():
    shards = [np.arange(50, dtype=np.uint32), np.arange(100, 133, dtype=np.uint32)]
    for world in (1, 2, 3):
        targets = []
        for rank in range(world):
            for x, y in sequential_blocks(shards, 16, 2, rank=rank, world_size=world):
                assert x.shape == y.shape and x.shape[1] == 16
                keep = y != -100
                # inputs and targets stay aligned: each target follows its input token
                assert torch.all(y[keep] == x[keep] + 1)
                targets.extend(y[keep].tolist())
        expected = [*range(1, 50), *range(101, 133)]
        assert sorted(targets) == expected


def test_state_carries_over_to_another_split_of_the_same_global_batch(splits):
    shards = list(splits["train"].shards)
    single = RandomWindows(shards, 16, 4, seed=5, grad_accum_steps=4)
    for _ in range(8):  # two optimizer steps
        single.next_batch()
    rank1 = RandomWindows(shards, 16, 4, seed=5, rank=1, world_size=2, grad_accum_steps=2)
    rank1.load_state_dict(single.state_dict())
    step3 = [single.next_batch()[0] for _ in range(4)]
    assert torch.equal(rank1.next_batch()[0], step3[2])
    single.next_batch()  # mid-step: not a resumable position
    with pytest.raises(ValueError, match="middle of an optimizer step"):
        rank1.load_state_dict(single.state_dict())


def test_a_backward_model_reads_every_shard_back_to_front():
    shards = [np.arange(10, dtype=np.uint16), np.arange(100, 107, dtype=np.uint16)]
    backward = reading_order(shards, reverse=True)
    assert [list(s) for s in backward] == [list(range(9, -1, -1)), list(range(106, 99, -1))]
    assert [list(s) for s in reading_order(shards, reverse=False)] == [list(s) for s in shards]
    # each window's targets are the token before its input in the text
    x, y = RandomWindows(backward, 4, 8, seed=3).next_batch()
    assert torch.equal(y, x - 1)
    # every token but each shard's last scored once, in reverse order
    scored = [t for _, y in sequential_blocks(backward, 4, 2) for t in y.flatten().tolist()]
    assert sorted(t for t in scored if t != -100) == [*range(9), *range(100, 106)]
