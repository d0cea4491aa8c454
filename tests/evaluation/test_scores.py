"""Evaluation helpers: contamination overlap, thresholds, text scores, reports, model cards."""

from __future__ import annotations

import math

from kedro_gpt.evaluation.contamination import corpus_hashes, ngram_hashes, overlap
from kedro_gpt.evaluation.report import comparison_figure, markdown_report, model_card
from kedro_gpt.evaluation.scores import chat_scores, text_scores
from kedro_gpt.evaluation.thresholds import check_thresholds
from kedro_gpt.finetune.config import GenerationParams

TRAIN = ["the quick brown fox jumps over the lazy dog", "a stitch in time saves nine stitches"]


def test_copied_text_overlaps_and_fresh_text_does_not():
    train = corpus_hashes(TRAIN, 3)
    copied = overlap(["The quick brown fox jumps!"], train, 3)
    fresh = overlap(["completely different words are written here"], train, 3)
    assert copied["overlap"] == 1.0 and copied["texts_with_overlap"] == 1.0
    assert fresh["overlap"] == 0.0 and fresh["eval_ngrams"] == 4
    half = overlap(["the quick brown", "purple elephants dance slowly"], train, 3)
    assert half["texts_with_overlap"] == 0.5 and 0 < half["overlap"] < 1


def test_short_texts_have_no_ngrams():
    assert len(ngram_hashes("two words", 3)) == 0
    assert overlap([], corpus_hashes([], 3), 3)["overlap"] == 0.0


def test_thresholds_say_which_failed():
    metrics = {"val.bits_per_char": 2.0, "qa.bleu": 1.0, "nan": float("nan")}
    assert check_thresholds(metrics, {"val.bits_per_char": {"max": 2.5}}) == []
    failed = check_thresholds(
        metrics,
        {"val.bits_per_char": {"max": 1.5}, "qa.bleu": {"min": 5}, "missing": {"min": 0}},
    )
    assert failed == [
        "val.bits_per_char = 2 is above the maximum 1.5",
        "qa.bleu = 1 is below the minimum 5",
        "missing: no value was measured",
    ]


def test_text_and_chat_scores(bundle, shakespeare_text):
    scores = text_scores(bundle, shakespeare_text[:3000], batch_size=4, device="cpu")
    assert scores["bits_per_char"] > 0 and scores["tokens"] > 100
    assert math.isclose(scores["bits_per_char"], scores["bits_per_byte"])  # ASCII text
    convs = [[{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "Romeo."}]] * 3
    values, samples = chat_scores(
        bundle, convs, 2, GenerationParams(eval_examples=2, max_new_tokens=3), "cpu"
    )
    assert values["response_loss"] > 0 and {"bleu", "chrf"} <= set(values)
    assert len(samples) == 2


def test_markdown_report_and_card():
    results = {"a": {"val.bits_per_char": 2.0}, "b": {"val.bits_per_char": 1.5, "qa.chrf": 9.0}}
    contamination = {"val": {"ngram": 8.0, "overlap": 0.5, "texts_with_overlap": 1.0}}
    md = markdown_report(
        results,
        contamination,
        ["val: 50.0% of its 8-grams occur"],
        {"enabled": True, "promoted": False, "model": "b", "failed": ["qa.chrf too low"]},
        {"a": {"ROMEO:": " hi"}},
    )
    assert "| val.bits_per_char | 2 | 1.5 |" in md and "| qa.chrf | – | 9 |" in md
    assert "**warning**: val: 50.0%" in md and "- qa.chrf too low" in md
    assert "ROMEO: hi" in md
    comparison_figure(results)
    card = model_card(
        "b",
        results["b"],
        {"source": "pretraining", "step": 3, "model_config": {"n_layer": 2}},
        {"registered_model": "kedro-gpt", "registered_version": "4", "run_id": "r"},
        {"promotion": {}},
        "abc123",
    )
    assert "`kedro-gpt` version `4`" in card and "abc123" in card and '"n_layer": 2' in card
