"""The streamed pass over Arrow batches: schema, titles, batching, errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA
from kedro_gpt.text.clean import Cleaner, EmptyCorpusError, clean_batches, clean_texts
from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.report import CleaningReport
from tests.text.conftest import PYTHON_DOCS


def rows(excerpts: list[str]) -> list[dict]:
    html = "<html><head><title>Page title</title></head><body><p>{}</p></body></html>"
    return [
        {
            "id": "t",
            "source": "a.txt",
            "format": "txt",
            "title": "Given",
            "url": None,
            "text": excerpts[0],
        },
        {
            "id": "h1",
            "source": "b.html",
            "format": "html",
            "title": None,
            "url": "http://x/b",
            "text": html.format(excerpts[1]),
        },
        {
            "id": "h2",
            "source": "c.html",
            "format": "html",
            "title": "Kept title",
            "url": None,
            "text": html.format(excerpts[2]),
        },
        {
            "id": "s",
            "source": "d.txt",
            "format": "txt",
            "title": None,
            "url": None,
            "text": "short",
        },
    ]


def test_batches_keep_schema_titles_and_order(excerpts):
    table = pa.Table.from_pylist(rows(excerpts), schema=DOCUMENT_SCHEMA)
    report = CleaningReport(Cleaner.rules())
    out = list(
        clean_batches(table.to_batches(max_chunksize=2), CleaningConfig(), DOCUMENT_SCHEMA, report)
    )
    assert len(out) == 2 and all(b.schema == DOCUMENT_SCHEMA for b in out)
    result = pa.Table.from_batches(out).to_pylist()
    assert [r["id"] for r in result] == ["t", "h1", "h2"]
    by_id = {r["id"]: r for r in result}
    assert by_id["t"]["text"] == excerpts[0] and by_id["t"]["title"] == "Given"
    assert by_id["h1"]["title"] == "Page title"  # filled from the page
    assert by_id["h2"]["title"] == "Kept title"  # the row's own title wins
    assert "<p>" not in by_id["h1"]["text"] and excerpts[1].split("\n")[0] in by_id["h1"]["text"]
    assert by_id["h1"]["url"] == "http://x/b" and by_id["h1"]["source"] == "b.html"
    assert report.documents_in == 4 and report.documents_kept == 3
    assert report.dropped["length"]["examples"][0]["id"] == "s"


def test_extra_columns_are_dropped_and_missing_ones_named(excerpts):
    table = pa.Table.from_pylist(rows(excerpts)[:1], schema=DOCUMENT_SCHEMA)
    extra = table.append_column("lang", pa.array(["en"]))
    (out,) = list(clean_batches(extra.to_batches(), CleaningConfig(), DOCUMENT_SCHEMA))
    assert out.schema == DOCUMENT_SCHEMA
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['format'\]"):
        list(
            clean_batches(
                table.drop_columns(["format", "url"]).to_batches(),
                CleaningConfig(),
                DOCUMENT_SCHEMA,
            )
        )


def test_empty_after_cleaning_says_which_rules_dropped_what(excerpts):
    table = pa.Table.from_pylist(rows(excerpts), schema=DOCUMENT_SCHEMA)
    config = CleaningConfig.model_validate({"filters": {"length": {"min_chars": 10**7}}})
    stream = clean_batches(table.to_batches(), config, DOCUMENT_SCHEMA)
    with pytest.raises(EmptyCorpusError) as err:
        list(stream)
    message = str(err.value)
    assert "cleaning kept no document" in message
    assert "4 documents in" in message and "length: 4" in message


def test_no_documents_at_all_is_an_error():
    with pytest.raises(EmptyCorpusError, match="0 documents in"):
        list(clean_batches([], CleaningConfig(), DOCUMENT_SCHEMA))


@pytest.mark.parametrize(
    ("extractor", "title"),
    [
        ("resiliparse", "1. Whetting Your Appetite — Python 3.11.2 documentation"),
        ("trafilatura", "1. Whetting Your Appetite¶"),
    ],
)
def test_the_extractor_parameter_is_used(extractor, title):
    html = (PYTHON_DOCS / "appetite.html").read_text(encoding="utf-8")
    config = CleaningConfig.model_validate({"html": {"extractor": extractor}})
    kept, _ = clean_texts([("a", "html", html)], config)
    assert kept["a"].title == title
    assert "If you do much work on computers" in kept["a"].text
