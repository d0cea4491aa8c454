"""Next-token choice: greedy, top-k, top-p never leave their allowed set."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.model.sampling import check_sampling, filter_logits, sample_next

LOGITS = torch.tensor([[2.0, 1.0, 0.5, 3.0, -1.0, 0.0, 2.5, -2.0]])
# softmax(LOGITS) sorted: idx 3 (.44), 6 (.27), 0 (.16), 1 (.06), 2 (.04), 5 (.02), 4, 7


def allowed(filtered: torch.Tensor) -> set[int]:
    return set(torch.isfinite(filtered[0]).nonzero().flatten().tolist())


def test_filter_logits_sets() -> None:
    assert allowed(filter_logits(LOGITS, top_k=3)) == {3, 6, 0}
    assert allowed(filter_logits(LOGITS, top_k=100)) == set(range(8))
    assert allowed(filter_logits(LOGITS, top_p=0.5)) == {3, 6}
    assert allowed(filter_logits(LOGITS, top_p=0.8)) == {3, 6, 0}
    assert allowed(filter_logits(LOGITS, top_p=1e-9)) == {3}
    assert allowed(filter_logits(LOGITS, top_k=2, top_p=0.99)) == {3, 6}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"top_k": 3}, {3, 6, 0}), ({"top_p": 0.8}, {3, 6, 0}), ({"top_k": 1}, {3})],
)
def test_samples_stay_inside_the_allowed_set(kwargs: dict, expected: set[int]) -> None:
    g = torch.Generator().manual_seed(0)
    logits = LOGITS.expand(4000, -1)
    drawn = set(sample_next(logits, temperature=1.0, generator=g, **kwargs).tolist())
    assert drawn == expected  # never outside, and every allowed token does come up


def test_greedy_and_seeded_sampling() -> None:
    assert sample_next(LOGITS, temperature=0).tolist() == [3]
    logits = LOGITS.expand(50, -1)
    a = sample_next(logits, generator=torch.Generator().manual_seed(7))
    b = sample_next(logits, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and len(set(a.tolist())) > 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-0.5, None, None), "temperature must be >= 0"),
        ((float("nan"), None, None), "temperature must be >= 0"),
        ((1.0, 0, None), "top_k must be a positive integer"),
        ((1.0, None, 0.0), r"top_p must be in \(0, 1\]"),
        ((1.0, None, 1.5), r"top_p must be in \(0, 1\]"),
    ],
)
def test_bad_sampling_arguments(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_sampling(*args)
