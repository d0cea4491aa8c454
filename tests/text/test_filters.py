"""Quality filters: each rule drops what it should, keeps real prose, and can be switched off."""

from __future__ import annotations

from collections import Counter

import pytest

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
from kedro_gpt.text.filters import (
    AlphaFilter,
    LanguageFilter,
    LengthFilter,
    NgramIndex,
    RepeatedItemsFilter,
    RepeatedNgramsFilter,
    SymbolFilter,
    TextView,
    WordLengthFilter,
    alpha_word_fraction,
    build_filters,
    duplicate_fractions,
    mean_word_length,
    symbol_word_ratios,
)

FRENCH = (
    "Il était une fois, dans un petit village au bord de la mer, une vieille femme qui vivait "
    "seule avec son chat. Chaque matin, elle se levait avant le soleil pour aller chercher du pain "
    "chez le boulanger, puis elle marchait le long de la plage en regardant les bateaux des "
    "pêcheurs qui rentraient au port. Les enfants du village l'aimaient beaucoup, car elle leur "
    "racontait des histoires merveilleuses sur les pays lointains qu'elle avait visités dans sa "
    "jeunesse, quand elle était encore capitaine d'un grand navire marchand."
)


def view(text: str) -> TextView:
    return TextView(text)


# ---- statistics ---------------------------------------------------------------------------------


def test_statistics_on_a_small_text():
    text = "one two three\n\nfour 55 #six...\none two three\n"
    v = view(text)
    assert v.words == ["one", "two", "three", "four", "55", "#six...", "one", "two", "three"]
    assert v.lines == ["one two three", "four 55 #six...", "one two three"]
    assert v.paragraphs == ["one two three", "four 55 #six...\none two three"]
    assert mean_word_length(v.words) == pytest.approx(sum(map(len, v.words)) / 9)
    assert alpha_word_fraction(text, 9) == pytest.approx(8 / 9)
    assert symbol_word_ratios(text, 9) == {"hash": pytest.approx(1 / 9), "ellipsis": 1 / 9}
    assert duplicate_fractions(v.lines, len(text)) == (pytest.approx(1 / 3), 13 / len(text))


def test_alpha_word_fraction_counts_words_with_a_letter():
    """Against the definition word by word: a word counts when one of its characters is a
    letter (neither digits, ``_``, punctuation, nor symbols are; a numeric word character such
    as ``½``, neither letter nor digit, counts as the regex ``[^\\W\\d_]`` always did)."""
    words = ["naïve", "42", "__init__", "x1", "...", "—", "Ω", "3rd", "(a)", "_1_", "#", "ß"]
    text = " \n".join(words) + "  \t"
    expected = sum(any(c.isalpha() for c in w) for w in words) / len(words)
    assert expected == pytest.approx(7 / 12)
    assert alpha_word_fraction(text, len(text.split())) == pytest.approx(expected)


def test_ngram_index_matches_a_plain_count():
    words = "a b c a b c a b d e f g a b".split()
    index = NgramIndex(words)
    # most frequent 2-gram: "a b", 4 times, 3 chars each
    assert index.top_ngram_chars(2) == 12
    # 3-grams repeating an earlier one start at words 3, 4 and 5: words 3..7 covered, 5 chars
    assert index.duplicate_ngram_chars(3) == 5
    assert index.duplicate_ngram_chars(10) == 0
    assert NgramIndex([]).top_ngram_chars(2) == 0


def brute_force_ngram_chars(words: list[str], n: int) -> tuple[set[int], int]:
    """(top n-gram chars, one value per n-gram tied for most frequent; duplicate n-gram chars)
    counted with tuples of strings."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    most = max(counts.values())
    top = {len(" ".join(g)) * c for g, c in counts.items() if c == most} if most >= 2 else {0}
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i, gram in enumerate(grams):
        if gram in seen:
            covered[i : i + n] = [True] * n
        seen.add(gram)
    return top, sum(len(w) for w, c in zip(words, covered, strict=True) if c)


def test_ngram_index_matches_brute_force_on_repetitive_text(excerpts):
    """Real verse with repeated passages spliced in: every n's statistics equal a count of
    n-gram tuples (the index hashes n-grams and sorts the hashes)."""
    words = excerpts[0].split()
    words = words[:300] + words[50:120] + words[300:500] + words[60:70] * 3
    index = NgramIndex(words)
    for n in range(2, 11):
        tops, duplicate = brute_force_ngram_chars(words, n)
        assert duplicate > 0
        assert index.top_ngram_chars(n) in tops
        assert index.duplicate_ngram_chars(n) == duplicate


# ---- filters ------------------------------------------------------------------------------------


def test_length_filter(excerpts):
    f = LengthFilter(LengthFilterConfig(min_chars=200, min_words=50, max_chars=5000))
    assert f(view(excerpts[0])) is None
    assert "min_chars" in f(view("Too short."))
    assert "min_words" in f(view("Supercalifragilistic " * 20))
    assert "max_chars" in f(view(excerpts[0] * 2))
    assert "max_words" in LengthFilter(LengthFilterConfig(max_words=100))(view(excerpts[0]))


def test_word_length_filter(excerpts):
    f = WordLengthFilter(WordLengthFilterConfig())
    assert f(view(excerpts[1])) is None
    assert "mean word length" in f(view("a b c d e f " * 50))
    assert "mean word length" in f(view("Pneumonoultramicroscopicsilicovolcanoconiosis " * 60))


def test_alpha_filter(excerpts):
    f = AlphaFilter(AlphaFilterConfig())
    assert f(view(excerpts[2])) is None
    assert "alphabetic" in f(view("1234 5678 9012 word " * 30))


def test_symbol_filter(excerpts):
    f = SymbolFilter(SymbolFilterConfig())
    assert f(view(excerpts[3])) is None
    assert "hash" in f(view("#love #life #summer days " * 30))
    assert "ellipsis" in f(view("and then... well… maybe " * 30))


def test_repeated_lines_filter(excerpts):
    f = RepeatedItemsFilter(RepeatedLinesConfig(), "lines")
    assert f.name == "repeated_lines"
    assert f(view(excerpts[4])) is None
    spam = "\n".join(["Buy cheap watches now"] * 10 + excerpts[0].split("\n")[:10])
    assert "duplicate lines" in f(view(spam))
    # few repeats, but long ones: the character fraction trips
    long_line = "This very long line of text is repeated twice and holds most characters. " * 4
    text = "\n".join([long_line, "short one", long_line, "short two", "short three", "short four"])
    assert "chars in duplicate lines" in f(view(text))


def test_repeated_paragraphs_filter(excerpts):
    f = RepeatedItemsFilter(RepeatedLinesConfig(), "paragraphs")
    assert f.name == "repeated_paragraphs"
    assert f(view(excerpts[5])) is None
    lines = list(dict.fromkeys(excerpts[0].split("\n")))[:40]  # distinct lines
    paragraphs = ["\n".join(lines[i : i + 5]) for i in range(0, 40, 5)] + ["Amen."] * 6
    text = "\n\n".join(paragraphs)
    assert "duplicate paragraphs" in f(view(text))
    # the same text is no problem line by line
    assert RepeatedItemsFilter(RepeatedLinesConfig(), "lines")(view(text)) is None


def test_repeated_ngrams_filter(excerpts):
    f = RepeatedNgramsFilter(RepeatedNgramsConfig())
    assert f(view(excerpts[6])) is None
    words = excerpts[0].split()
    top = "\n".join(f"spam spam {a} {b}" for a, b in zip(words[::2], words[1::2], strict=False))
    assert "top 2-gram" in f(view(top))
    # a passage pasted three times: long repeated n-grams, but no single dominant short one
    assert "duplicate 5-grams" in f(view(" ".join(words[:200]) * 3))


def test_language_filter(excerpts):
    f = LanguageFilter(LanguageFilterConfig(enabled=True, languages=["en"]))
    assert f(view(excerpts[7])) is None
    assert "language fr" in f(view(FRENCH))
    assert LanguageFilter(LanguageFilterConfig(languages=["fr"]))(view(FRENCH)) is None
    unsure = LanguageFilter(LanguageFilterConfig(languages=["fr"], min_score=0.99))
    assert "score" in unsure(view("Le chat dort sur le canapé."))


def test_build_filters_order_and_switches():
    names = [f.name for f in build_filters(FiltersConfig())]
    assert names == [
        "length",
        "word_length",
        "alpha_ratio",
        "symbol_ratio",
        "repeated_lines",
        "repeated_paragraphs",
        "repeated_ngrams",
    ]  # language is off by default
    config = FiltersConfig.model_validate(
        {
            "length": {"enabled": False},
            "repeated_ngrams": {"enabled": False},
            "language": {"enabled": True},
        }
    )
    names = [f.name for f in build_filters(config)]
    assert "length" not in names and "repeated_ngrams" not in names and names[-1] == "language"
    assert (
        build_filters(
            FiltersConfig.model_validate(
                {
                    k: {"enabled": False}
                    for k in (
                        "length",
                        "word_length",
                        "alpha",
                        "symbols",
                        "repeated_lines",
                        "repeated_paragraphs",
                        "repeated_ngrams",
                    )
                }
            )
        )
        == []
    )
