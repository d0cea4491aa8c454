"""Exact and MinHash near-duplicate detection; the first occurrence is kept."""

from __future__ import annotations

import numpy as np

from kedro_gpt.text.config import NearDedupConfig
from kedro_gpt.text.dedup import ExactDeduplicator, NearDeduplicator, dedup_text, shingle_hashes


def near() -> NearDeduplicator:
    c = NearDedupConfig()  # the defaults: threshold 0.8, 128 permutations, 5-word shingles
    return NearDeduplicator(c.threshold, c.num_perm, c.shingle_size, c.seed)


def change_words(text: str, positions: list[int]) -> str:
    words = text.split()
    for p in positions:
        words[p] = "zebra"
    return " ".join(words)


def test_dedup_text_ignores_case_whitespace_and_compatibility_forms():
    assert dedup_text("  Hello\n\n  WORLD\tﬁne ") == "hello world fine"


def test_exact_dedup_keeps_the_first():
    dedup = ExactDeduplicator()
    assert dedup.check_and_add("a", "To be, or not to be") is None
    assert dedup.check_and_add("b", "to be,  or NOT\nto be") == "a"
    assert dedup.check_and_add("c", "To be, or not to be!") is None
    assert len(dedup) == 2


def test_near_dedup_catches_a_few_changed_words(excerpts):
    dedup = near()
    original = excerpts[0]
    n_words = len(original.split())
    assert n_words > 400
    assert dedup.check_and_add("first", original) is None
    match = dedup.check_and_add("copy", change_words(original, [50, 150, 250]))
    assert match is not None and match[0] == "first" and match[1] >= 0.8
    assert len(dedup) == 1  # the copy is not indexed


def test_near_dedup_keeps_different_texts(excerpts):
    dedup = near()
    for i, text in enumerate(excerpts):
        assert dedup.check_and_add(str(i), text) is None
    assert len(dedup) == len(excerpts)


def test_near_dedup_below_threshold_is_kept(excerpts):
    dedup = near()
    dedup.check_and_add("first", excerpts[0])
    # every 10th word changed: about half the 5-word shingles differ
    words = len(excerpts[0].split())
    assert (
        dedup.check_and_add("edited", change_words(excerpts[0], list(range(0, words, 10)))) is None
    )


def test_shingle_hashes_are_stable_and_distinct():
    a = shingle_hashes("one two three four five six", 5)
    assert a.dtype == np.uint32 and len(a) == 2
    assert np.array_equal(a, shingle_hashes("ONE two  three four\nfive six", 5))
    assert len(shingle_hashes("short text", 5)) == 1


def test_signature_equals_datasketchs_value_by_value_update(excerpts, monkeypatch):
    """``minhash`` hands datasketch each chunk of shingle hashes as one item: the signature is the
    one a MinHash updated with every hash on its own gives, also across chunks."""
    monkeypatch.setattr("kedro_gpt.text.dedup.SHINGLE_CHUNK", 50)
    hasher = near()
    for text in excerpts[:5]:
        values = shingle_hashes(text, hasher.shingle_size)
        assert len(values) > 50  # more than one chunk
        one_by_one = hasher._empty()
        for value in values:
            one_by_one.update(value)
        assert np.array_equal(hasher.minhash(text).hashvalues, one_by_one.hashvalues)
