"""HTML extraction with each maintained extractor, on real pages and a synthetic one."""

from __future__ import annotations

from typing import get_args

import pytest

from kedro_gpt.text.config import Extractor
from kedro_gpt.text.extract import EXTRACTORS, extract_html
from tests.text.conftest import BRITANNICA, PYTHON_DOCS, read

ALL = sorted(EXTRACTORS)


def test_every_configurable_extractor_exists():
    assert set(get_args(Extractor)) == set(EXTRACTORS)


def page(paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html><head>
<title>  The   Tempest </title><meta name="description" content="METADATA-TEXT">
<style>.x {{ color: red }} STYLE-TEXT</style><script>var SCRIPT_TEXT = 1;</script></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/a">NAVIGATION-LINK</a></li></ul></nav>
<main><article><h1>The Tempest</h1>
{body}
<!-- COMMENT-TEXT -->
</article></main>
<footer>FOOTER-TEXT Copyright 2024</footer>
<script>document.write("SCRIPT-TEXT-2")</script>
</body></html>"""


@pytest.mark.parametrize("extractor", ALL)
def test_drops_scripts_styles_navigation_and_metadata(extractor, excerpts):
    paragraphs = [p.replace("\n", " ") for p in excerpts[0].split("\n\n")]
    result = extract_html(page(paragraphs), extractor)
    for junk in ("SCRIPT", "STYLE", "METADATA", "NAVIGATION", "FOOTER", "COMMENT", "color: red"):
        assert junk not in result.text, (extractor, junk)
    words = result.text.split()
    for p in paragraphs:
        assert " ".join(p.split()) in " ".join(words), (extractor, p)
    assert result.title is not None and "Tempest" in result.title


@pytest.mark.parametrize("extractor", ALL)
def test_britannica_page(extractor):
    result = extract_html(read(BRITANNICA), extractor)
    assert result.title == "Britannica-11Th"
    assert "English poet, player" in result.text
    assert "latexmathml" not in result.text and "text_basic.css" not in result.text
    reference = read(BRITANNICA.with_name("britannica_1911_shakespeare.reference.txt"))
    assert len(result.text) > 0.9 * len(reference)


@pytest.mark.parametrize("extractor", ALL)
def test_python_docs_main_content_only(extractor):
    html = read(PYTHON_DOCS / "appetite.html")
    main = extract_html(html, extractor, main_content=True).text
    assert "If you do much work on computers" in main
    assert "Previous topic" not in main and "Quick search" not in main
    everything = extract_html(html, extractor, main_content=False).text
    assert "If you do much work on computers" in everything
    assert "Previous topic" in everything


def test_python_docs_code_keeps_its_layout():
    text = extract_html(read(PYTHON_DOCS / "controlflow.html"), "resiliparse").text
    assert ">>> for w in words:\n...     print(w, len(w))" in text


def test_unknown_extractor():
    with pytest.raises(ValueError, match="unknown HTML extractor 'lynx'"):
        extract_html("<p>x</p>", "lynx")


def test_page_without_text():
    assert extract_html("<html><head><script>x()</script></head><body></body></html>").text == ""
