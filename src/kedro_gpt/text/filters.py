"""Document quality filters after Gopher (Rae et al. 2021, appendix A): length, word length,
alphabetic words, symbols, repeated lines, paragraphs and n-grams, and (optional) language id.

Each filter is a callable ``filter(doc) -> reason | None``: ``None`` keeps the document, a string
says why it is dropped. ``doc`` is a ``TextView``, which splits the text once for all filters.
The statistics are plain functions, usable on their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from kedro_gpt.text.config import (
    AlphaFilterConfig,
    FiltersConfig,
    LanguageFilterConfig,
    LengthFilterConfig,
    RepeatedLinesConfig,
    RepeatedNgramsConfig,
    SymbolFilterConfig,
    WordLengthFilterConfig,
)

# A whitespace-separated word without a letter (only non-word characters, digits, underscores):
# fewer matches, and a cheaper scan, than finding the words that hold one.
_NO_LETTER_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])+(?!\S)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_HASH_SEED = 0x6B656472


class TextView:
    """A document's text with its words, lines and paragraphs, each split once on first use.

    Words are whitespace-separated tokens; lines and paragraphs leave out blank ones.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return self.text.split()

    @cached_property
    def lines(self) -> list[str]:
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [p for p in _PARAGRAPH_BREAK.split(self.text.strip()) if p.strip()]

    @cached_property
    def ngram_index(self) -> NgramIndex:
        return NgramIndex(self.words)


# ---- statistics ---------------------------------------------------------------------------------


def mean_word_length(words: Sequence[str]) -> float:
    """Mean characters per word (0 for no words)."""
    return sum(map(len, words)) / len(words) if words else 0.0


def alpha_word_fraction(text: str, n_words: int) -> float:
    """Fraction of the ``n_words`` whitespace-separated words that hold at least one letter
    (``n_words`` is ``len(text.split())``)."""
    return (n_words - len(_NO_LETTER_WORD.findall(text))) / n_words if n_words else 0.0


def symbol_word_ratios(text: str, n_words: int) -> dict[str, float]:
    """Hash symbols and ellipses (``...`` or ``…``) per word, each on its own."""
    if not n_words:
        return {"hash": 0.0, "ellipsis": 0.0}
    ellipses = text.count("...") + text.count("\u2026")
    return {"hash": text.count("#") / n_words, "ellipsis": ellipses / n_words}


def duplicate_fractions(items: Sequence[str], total_chars: int) -> tuple[float, float]:
    """Gopher's duplicate statistics of lines or paragraphs.

    Returns (fraction of items that repeat an earlier item, characters in those repeats divided by
    ``total_chars``).
    """
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return (count / len(items) if items else 0.0), (chars / total_chars if total_chars else 0.0)


class NgramIndex:
    """Word n-gram statistics over 64-bit n-gram hashes (numpy, no n-gram strings built).

    Each distinct word gets a random 64-bit value; an n-gram's hash is a polynomial of its words'
    values. A collision needs two different n-grams with equal 64-bit hashes: negligible.
    """

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, words: Sequence[str]) -> None:
        # ids in order of first appearance (pandas' hash table: 5x a dict in a Python loop)
        word_ids, distinct = pd.factorize(np.asarray(words, dtype=object), use_na_sentinel=False)
        rng = np.random.default_rng(_HASH_SEED)
        table = rng.integers(0, 2**63, size=max(len(distinct), 1), dtype=np.int64).astype(np.uint64)
        self.values = table[word_ids] if len(words) else np.zeros(0, dtype=np.uint64)
        self.lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.cum_chars = np.concatenate(([0], np.cumsum(self.lengths)))
        self._hashes: dict[int, np.ndarray] = {}

    @property
    def n_words(self) -> int:
        return len(self.values)

    def hashes(self, n: int) -> np.ndarray:
        """Hash of the n-gram starting at every word position (``n_words - n + 1`` values)."""
        if n not in self._hashes:
            if n > self.n_words:
                self._hashes[n] = np.zeros(0, dtype=np.uint64)
            elif n == 1:
                self._hashes[n] = self.values.copy()
            else:
                previous = self.hashes(n - 1)[:-1]
                with np.errstate(over="ignore"):
                    self._hashes[n] = previous * self._MULTIPLIER + self.values[n - 1 :]
        return self._hashes[n]

    def top_ngram_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram: its length (words joined by single
        spaces) times its number of occurrences; 0 when no n-gram occurs twice."""
        hashes = self.hashes(n)
        if len(hashes) < 2:
            return 0
        _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        top = int(np.argmax(counts))
        if counts[top] < 2:
            return 0
        start = int(first[top])
        length = int(self.cum_chars[start + n] - self.cum_chars[start]) + n - 1
        return length * int(counts[top])

    def duplicate_ngram_chars(self, n: int) -> int:
        """Characters of the words covered by n-grams that repeat an earlier n-gram."""
        hashes = self.hashes(n)
        if len(hashes) < 2:
            return 0
        # A stable sort puts each n-gram's first occurrence first among its equals.
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        starts = order[1:][ordered[1:] == ordered[:-1]]  # distinct positions: plain += below
        if not len(starts):
            return 0
        cover = np.zeros(self.n_words + 1, dtype=np.int64)
        cover[starts] += 1
        cover[starts + n] -= 1
        covered = np.cumsum(cover[:-1]) > 0
        return int(self.lengths[covered].sum())


# ---- filters ------------------------------------------------------------------------------------


class Filter(Protocol):
    """A quality filter: ``name`` is its rule in the cleaning report."""

    @property
    def name(self) -> str: ...

    def __call__(self, doc: TextView) -> str | None: ...


@dataclass(frozen=True)
class LengthFilter:
    """Characters and words within bounds (``None``: no upper bound)."""

    config: LengthFilterConfig
    name: ClassVar[str] = "length"

    def __call__(self, doc: TextView) -> str | None:
        c = self.config
        chars, words = len(doc.text), len(doc.words)
        if chars < c.min_chars:
            return f"{chars} chars < min_chars {c.min_chars}"
        if c.max_chars is not None and chars > c.max_chars:
            return f"{chars} chars > max_chars {c.max_chars}"
        if words < c.min_words:
            return f"{words} words < min_words {c.min_words}"
        if c.max_words is not None and words > c.max_words:
            return f"{words} words > max_words {c.max_words}"
        return None


@dataclass(frozen=True)
class WordLengthFilter:
    """Mean word length within bounds (Gopher: 3 to 10 characters)."""

    config: WordLengthFilterConfig
    name: ClassVar[str] = "word_length"

    def __call__(self, doc: TextView) -> str | None:
        mean = mean_word_length(doc.words)
        if not self.config.min_mean <= mean <= self.config.max_mean:
            return (
                f"mean word length {mean:.2f} outside "
                f"[{self.config.min_mean}, {self.config.max_mean}]"
            )
        return None


@dataclass(frozen=True)
class AlphaFilter:
    """Enough words that hold a letter (Gopher: 80%)."""

    config: AlphaFilterConfig
    name: ClassVar[str] = "alpha_ratio"

    def __call__(self, doc: TextView) -> str | None:
        fraction = alpha_word_fraction(doc.text, len(doc.words))
        if fraction < self.config.min_alpha_word_fraction:
            return (
                f"alphabetic word fraction {fraction:.3f} < {self.config.min_alpha_word_fraction}"
            )
        return None


@dataclass(frozen=True)
class SymbolFilter:
    """Few hash symbols and ellipses per word (Gopher: 0.1 for either)."""

    config: SymbolFilterConfig
    name: ClassVar[str] = "symbol_ratio"

    def __call__(self, doc: TextView) -> str | None:
        for symbol, ratio in symbol_word_ratios(doc.text, len(doc.words)).items():
            if ratio > self.config.max_symbol_word_ratio:
                return f"{symbol} per word {ratio:.3f} > {self.config.max_symbol_word_ratio}"
        return None


@dataclass(frozen=True)
class RepeatedItemsFilter:
    """Too many repeated lines or paragraphs (Gopher: 30% of them, or 20% of the characters)."""

    config: RepeatedLinesConfig
    unit: str  # "lines" or "paragraphs"

    @property
    def name(self) -> str:
        return f"repeated_{self.unit}"

    def __call__(self, doc: TextView) -> str | None:
        items = doc.lines if self.unit == "lines" else doc.paragraphs
        fraction, char_fraction = duplicate_fractions(items, len(doc.text))
        if fraction > self.config.max_duplicate_fraction:
            return f"duplicate {self.unit} {fraction:.3f} > {self.config.max_duplicate_fraction}"
        if char_fraction > self.config.max_duplicate_char_fraction:
            return (
                f"chars in duplicate {self.unit} {char_fraction:.3f} > "
                f"{self.config.max_duplicate_char_fraction}"
            )
        return None


@dataclass(frozen=True)
class RepeatedNgramsFilter:
    """Gopher's n-gram repetition: the top 2-4-gram and the duplicate 5-10-grams cover few chars."""

    config: RepeatedNgramsConfig
    name: ClassVar[str] = "repeated_ngrams"

    def __call__(self, doc: TextView) -> str | None:
        total = len(doc.text)
        if not total:
            return None
        index = doc.ngram_index
        for n, limit in sorted(self.config.max_top_ngram_char_fraction.items()):
            fraction = index.top_ngram_chars(n) / total
            if fraction > limit:
                return f"top {n}-gram covers {fraction:.3f} of chars > {limit}"
        for n, limit in sorted(self.config.max_duplicate_ngram_char_fraction.items()):
            fraction = index.duplicate_ngram_chars(n) / total
            if fraction > limit:
                return f"duplicate {n}-grams cover {fraction:.3f} of chars > {limit}"
        return None


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    """py3langid's model with normalised probabilities (loaded once: about a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@dataclass(frozen=True)
class LanguageFilter:
    """The language py3langid finds in the first ``sample_chars`` is allowed, with enough score."""

    config: LanguageFilterConfig
    name: ClassVar[str] = "language"

    def __post_init__(self) -> None:
        _language_identifier()  # load now, not on the first document

    def __call__(self, doc: TextView) -> str | None:
        sample = doc.text[: self.config.sample_chars]
        language, score = _language_identifier().classify(sample)
        if language not in self.config.languages:
            return f"language {language} ({score:.2f}) not in {self.config.languages}"
        if score < self.config.min_score:
            return f"language {language} score {score:.2f} < {self.config.min_score}"
        return None


def build_filters(config: FiltersConfig) -> list[Filter]:
    """The enabled filters, cheapest first (the order the report counts drops in)."""
    candidates: list[tuple[bool, Filter]] = [
        (config.length.enabled, LengthFilter(config.length)),
        (config.word_length.enabled, WordLengthFilter(config.word_length)),
        (config.alpha.enabled, AlphaFilter(config.alpha)),
        (config.symbols.enabled, SymbolFilter(config.symbols)),
        (config.repeated_lines.enabled, RepeatedItemsFilter(config.repeated_lines, "lines")),
        (
            config.repeated_paragraphs.enabled,
            RepeatedItemsFilter(config.repeated_paragraphs, "paragraphs"),
        ),
        (config.repeated_ngrams.enabled, RepeatedNgramsFilter(config.repeated_ngrams)),
    ]
    filters = [f for enabled, f in candidates if enabled]
    if config.language.enabled:  # built only when on: it loads the py3langid model
        filters.append(LanguageFilter(config.language))
    return filters


#: Every rule a filter can drop a document by, in the order they apply.
FILTER_RULES = (
    "length",
    "word_length",
    "alpha_ratio",
    "symbol_ratio",
    "repeated_lines",
    "repeated_paragraphs",
    "repeated_ngrams",
    "language",
)
