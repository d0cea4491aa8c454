"""HTML to plain text with a maintained extractor: resiliparse, trafilatura or selectolax.

Every extractor drops scripts, styles and metadata; with ``main_content=True`` it also drops
navigation, headers, footers and sidebars. ``benchmarks/html_extraction.py`` compares them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Extraction:
    """The visible text of a page and its ``<title>`` (``None`` when the page has none)."""

    text: str
    title: str | None


def _clean_title(title: str | None) -> str | None:
    title = " ".join(title.split()) if title else ""
    return title or None


def extract_resiliparse(html: str, main_content: bool = True) -> Extraction:
    """Resiliparse's ``extract_plain_text``: block structure kept, inline whitespace collapsed."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    text = extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=main_content,
        list_bullets=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
    )
    return Extraction(text, _clean_title(tree.title))


def extract_trafilatura(html: str, main_content: bool = True) -> Extraction:
    """Trafilatura's ``bare_extraction`` (main content, tables kept, comments dropped).

    The title comes from ``trafilatura.metadata.extract_title`` alone: full metadata extraction
    (dates, authors) would triple the time per page and cost seconds on the first one.
    """
    import trafilatura
    from trafilatura.metadata import extract_title
    from trafilatura.utils import load_html

    if not main_content:
        return Extraction(trafilatura.html2txt(html) or "", None)
    tree = load_html(html)
    if tree is None:
        return Extraction("", None)
    title = _clean_title(extract_title(tree))
    doc = trafilatura.bare_extraction(
        tree,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
        deduplicate=False,
    )
    return Extraction((doc.text or "") if doc is not None else "", title)


_DROP = (
    "script, style, noscript, template, iframe, svg, object, head, form, button"
    ", nav, header, footer, aside, [role=navigation], [role=banner], [role=contentinfo]"
    ", [role=complementary], [aria-hidden=true], [hidden]"
)
_DROP_ALWAYS = "script, style, noscript, template, iframe, svg, object, head"
_BLOCKS = (
    "p, div, section, article, main, h1, h2, h3, h4, h5, h6, li, dt, dd, pre, blockquote"
    ", tr, table, ul, ol, dl, hr, br, figure, figcaption"
)
_INLINE_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_BLANK_RUNS = re.compile(r"\n{3,}")


def extract_selectolax(html: str, main_content: bool = True) -> Extraction:
    """Selectolax (lexbor) with tag rules: no boilerplate model, only structural cues.

    Drops non-content tags (and navigation, header, footer, aside with ``main_content``), takes
    ``<main>``/``<article>``/``[role=main]`` when the page has one, ends block elements with a newline.
    """
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = _clean_title(title_node.text() if title_node else None)
    for node in tree.css(_DROP if main_content else _DROP_ALWAYS):
        node.remove()  # detach (not free): nested matches stay valid
    root = (tree.css_first("main, article, [role=main]") if main_content else None) or tree.body
    if root is None:
        return Extraction("", title)
    for node in root.css(_BLOCKS):
        node.insert_after("\n")
    text = _INLINE_SPACE.sub(" ", root.text(separator="", strip=False))
    text = _BLANK_RUNS.sub("\n\n", _SPACE_AROUND_NEWLINE.sub("\n", text))
    return Extraction(text.strip(), title)


#: The extractors ``cleaning.html.extractor`` can name.
EXTRACTORS: dict[str, Callable[[str, bool], Extraction]] = {
    "resiliparse": extract_resiliparse,
    "trafilatura": extract_trafilatura,
    "selectolax": extract_selectolax,
}


def extract_html(
    html: str, extractor: str = "resiliparse", main_content: bool = True
) -> Extraction:
    """Visible text and title of ``html`` with the named extractor (see ``EXTRACTORS``)."""
    try:
        fn = EXTRACTORS[extractor]
    except KeyError:
        raise ValueError(
            f"unknown HTML extractor {extractor!r}; choose one of {sorted(EXTRACTORS)}"
        ) from None
    return fn(html, main_content)
