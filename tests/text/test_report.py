"""The cleaning report adds up on a corpus that trips every rule."""

from __future__ import annotations

import json

import pytest

from kedro_gpt.text.clean import Cleaner, clean_texts
from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.report import CleaningReport, PendingDict
from tests.text.test_filters import FRENCH


def mixed_corpus(excerpts: list[str]) -> list[tuple[str, str, str, str]]:
    """(id, format, text, rule expected to drop it or "kept")."""
    words = excerpts[0].split()
    distinct = list(dict.fromkeys(excerpts[1].split("\n")))[:40]
    paragraphs = "\n\n".join(
        ["\n".join(distinct[i : i + 5]) for i in range(0, 40, 5)] + ["Amen."] * 6
    )
    near_copy = excerpts[3].split()
    near_copy[20] = near_copy[120] = "zebra"
    return [
        ("good-0", "txt", excerpts[0], "kept"),
        ("good-html", "html", "<html><body><p>" + excerpts[2] + "</p></body></html>", "kept"),
        ("good-3", "md", excerpts[3], "kept"),
        ("broken-html", "html", "<p>\ud800 lone surrogate</p>", "extraction_failed"),
        (
            "blank-html",
            "html",
            "<html><head><script>x()</script></head><body></body></html>",
            "empty",
        ),
        ("blank-txt", "txt", " \n\t\n", "empty"),
        ("short", "txt", "Too short to keep.", "length"),
        ("tiny-words", "txt", "a b c d e f " * 60, "word_length"),
        ("numbers", "txt", "1234 5678 9012 word " * 30, "alpha_ratio"),
        ("hashtags", "txt", "#love #life #summer days " * 30, "symbol_ratio"),
        (
            "spam-lines",
            "txt",
            "\n".join(["Buy cheap watches now"] * 10 + distinct[:10]),
            "repeated_lines",
        ),
        ("amen", "txt", paragraphs, "repeated_paragraphs"),
        (
            "spam-ngrams",
            "txt",
            "\n".join(f"spam spam {a} {b}" for a, b in zip(words[::2], words[1::2], strict=False)),
            "repeated_ngrams",
        ),
        ("french", "txt", FRENCH, "language"),
        ("exact-copy", "txt", excerpts[0].upper(), "exact_duplicate"),
        ("near-copy", "txt", " ".join(near_copy), "near_duplicate"),
    ]


CONFIG = CleaningConfig.model_validate({"filters": {"language": {"enabled": True}}})


@pytest.fixture(scope="module")
def cleaned(excerpts):
    corpus = mixed_corpus(excerpts)
    kept, report = clean_texts(((i, f, t) for i, f, t, _ in corpus), CONFIG)
    return corpus, kept, report


def test_every_rule_drops_its_document(cleaned):
    corpus, kept, report = cleaned
    assert set(kept) == {i for i, _, _, rule in corpus if rule == "kept"}
    d = report.to_dict()
    for doc_id, _, _, rule in corpus:
        if rule != "kept":
            examples = [e["id"] for e in d["dropped"][rule]["examples"]]
            assert doc_id in examples, (doc_id, rule, d["dropped"][rule])
    assert set(d["dropped"]) == set(Cleaner.rules())
    assert all(d["dropped"][rule]["documents"] >= 1 for rule in Cleaner.rules())


def test_report_adds_up(cleaned):
    corpus, _, report = cleaned
    d = report.to_dict()
    assert d["documents_in"] == len(corpus)
    assert d["bytes_in"] == sum(len(t.encode("utf-8", "surrogatepass")) for _, _, t, _ in corpus)
    assert d["documents_in"] == d["documents_kept"] + sum(
        e["documents"] for e in d["dropped"].values()
    )
    assert d["bytes_in"] == d["bytes_kept"] + sum(e["bytes"] for e in d["dropped"].values())
    assert d["documents_dropped"] == len(corpus) - 3
    assert d["html_documents"] == 3
    assert 0 < d["bytes_out"] <= d["bytes_kept"]  # the HTML page lost its tags
    json.dumps(d)  # JSON-able


def test_examples_are_capped_and_carry_reasons():
    report = CleaningReport(["length"], max_examples=2)
    for i in range(5):
        report.drop("length", f"doc-{i}", 10, "too short")
    entry = report.to_dict()["dropped"]["length"]
    assert entry["documents"] == 5 and entry["bytes"] == 50
    assert entry["examples"] == [
        {"id": "doc-0", "reason": "too short"},
        {"id": "doc-1", "reason": "too short"},
    ]
    with pytest.raises(KeyError, match="unknown cleaning rule 'colour'"):
        report.drop("colour", "x", 1, "?")


def test_metrics_are_flat_floats(cleaned):
    _, _, report = cleaned
    metrics = report.metrics()
    assert metrics["documents_in"] == 16.0 and metrics["documents_kept"] == 3.0
    assert metrics["dropped.near_duplicate"] == 1.0
    assert all(isinstance(v, float) for v in metrics.values())


def test_summary_names_the_rules(cleaned):
    summary = cleaned[2].summary()
    assert summary.startswith("16 documents in")
    assert "empty: 2" in summary and "language: 1" in summary


def test_pending_dict_refuses_to_be_read_before_it_is_filled():
    pending = PendingDict("cleaning_report")
    with pytest.raises(RuntimeError, match="cleaning_report was read before"):
        json.dumps(pending)
    with pytest.raises(RuntimeError):
        json.dumps(pending, indent=2)
    with pytest.raises(RuntimeError):
        pending.items()
    pending.fill({"documents_in": 3})
    assert json.loads(json.dumps(pending, indent=2)) == {"documents_in": 3}
    assert dict(pending.items()) == {"documents_in": 3} and pending["documents_in"] == 3
