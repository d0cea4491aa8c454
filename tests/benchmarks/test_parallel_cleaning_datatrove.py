"""The per-core datatrove comparison of benchmarks/parallel_cleaning.py, on a tiny corpus."""

from __future__ import annotations

import importlib

import pyarrow as pa
import pytest

from tests.conftest import PROJECT_ROOT, TINY_SHAKESPEARE

pytest.importorskip("datatrove")

BENCHMARKS = PROJECT_ROOT / "benchmarks"


@pytest.fixture
def parallel_cleaning(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their helper as `_common`
    return importlib.import_module("parallel_cleaning")


def _table(texts: list[str]) -> pa.Table:
    return pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})


@pytest.fixture(scope="module")
def tiny_documents() -> list[str]:
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    text = text[: text.index("\n", 80_000) + 1]
    lines = text.splitlines(keepends=True)
    docs = [
        "".join(lines[i : i + len(lines) // 40]) for i in range(0, len(lines), len(lines) // 40)
    ]
    return docs[:40]


def test_whitespace_words_keep_some_documents_at_a_positive_rate(
    parallel_cleaning, tiny_documents: list[str]
) -> None:
    assert len(tiny_documents) == 40
    rate = parallel_cleaning.datatrove_rate(_table(tiny_documents), "whitespace")
    assert rate["seconds"] > 0
    assert rate["mb_s"] > 0
    assert 1 <= rate["kept"] <= 40


def test_a_ten_word_document_is_rejected(parallel_cleaning) -> None:
    from datatrove.data import Document
    from datatrove.pipeline.filters import GopherQualityFilter
    from datatrove.utils.text import split_into_words

    text = "the cat and the dog sat on a mat together"
    words = parallel_cleaning._whitespace_words()
    # the hook: a WordTokenizer given as the filters' language splits their words
    assert split_into_words(text, words) == text.split()
    doc = Document(text=text, id="short")
    assert GopherQualityFilter(language=words).filter(doc) == (False, "gopher_short_doc")
    assert parallel_cleaning.datatrove_rate(_table([text]), "whitespace")["kept"] == 0


INFO = {"cpu": "cpu", "cores": 2, "ram_gib": 1, "os": "os", "python": "3", "packages": {}}


def test_section_reports_the_ratio_or_the_skip(parallel_cleaning) -> None:
    row = {"seconds": 2.0, "runs": [2.0], "mb_s": 1.0, "speedup": 1.0, "of_ceiling": 0.5}
    result = {
        "documents": 3,
        "kept": 2,
        "text_mb": 2.0,
        "ceiling": 2.0,
        "ceilings": [{"ceiling": 2.0}],
        "rows": {"one process (workers: 1)": row},
        "datatrove": {
            "rows": {
                "whitespace": {"seconds": 1.0, "runs": [1.0], "mb_s": 0.5, "kept": 2, "ratio": 2.0}
            },
            "skipped": {"spacy": "spaCy is not installed"},
            "versions": {"datatrove": "0.10.1", "spacy": None},
        },
    }
    text = parallel_cleaning.section(result, "cmd", {**INFO, "date": "d"})
    assert "| whitespace words (`str.split`) | 1.0 (1.0) | 0.50 | 2 | 2.00x |" in text
    assert (
        "Skipped datatrove with spaCy words (its English default): spaCy is not installed." in text
    )
    result["datatrove"] = {"rows": {}, "skipped": {"whitespace": "datatrove is not installed"}}
    assert "datatrove's Gopher filters skipped: datatrove is not installed." in (
        parallel_cleaning.section(result, "cmd", {**INFO, "date": "d"})
    )
