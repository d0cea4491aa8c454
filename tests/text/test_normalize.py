"""Unicode and whitespace normalisation: each step, and each switch."""

from __future__ import annotations

import random
import re._parser
import unicodedata

import pytest
from ftfy.badness import BADNESS_RE, is_bad

from kedro_gpt.text.config import NormalizeConfig
from kedro_gpt.text.normalize import (
    _BADNESS_MARGIN,
    Normalizer,
    fix_mojibake,
    limit_blank_lines,
    looks_bad,
    normalize_newlines,
    remove_control_chars,
    strip_trailing_spaces,
    to_nfc,
    trim_blank_lines,
)

MOJIBAKE = "The Mona Lisa doesnâ€™t have eyebrows. CafÃ© au lait."
FIXED = "The Mona Lisa doesn’t have eyebrows. Café au lait."


def test_fix_mojibake_repairs_utf8_read_as_windows_1252():
    assert fix_mojibake(MOJIBAKE) == FIXED


def test_fix_mojibake_leaves_good_text_alone():
    good = "“Curly quotes”, ﬁ ligatures, full-width Ａ and naïve café stay as they are."
    assert fix_mojibake(good) == good
    assert fix_mojibake("plain ASCII\r\n") == "plain ASCII\r\n"


def test_looks_bad_answers_as_ftfy_is_bad():
    """The search around non-ASCII runs gives ftfy's answer: on mojibake and good text set at
    every offset in ASCII prose, and on random mixes of the characters ftfy's regex names."""
    _, widest = re._parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags).getwidth()
    assert widest <= _BADNESS_MARGIN - 1  # a match lies within the margin searched
    prose = "The quick brown fox, at 9 a.m., jumps over the lazy dog. " * 3
    pieces = ["â€™", "Ã©", "Ã ", "Â ", "ÃƒÂ©", "ГўВЂВ", "“quoted”", "naïve", "Ø³Ø§", "√±", "½"]
    texts = [prose[:k] + piece + prose[k:] for piece in pieces for k in range(0, 60, 7)]
    alphabet = "aZ .,!?\n" + "".join(sorted(set(re.sub(r"[\x00-\x7f]", "", BADNESS_RE.pattern))))
    rng = random.Random(0)
    texts += ["".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(3000)]
    texts += ["ab " * rng.randint(0, 9) + "".join(rng.choices(alphabet, k=3)) for _ in range(3000)]
    answers = [is_bad(text) for text in texts]
    assert 100 < sum(answers) < len(texts) - 100  # both answers are well represented
    assert [looks_bad(text) for text in texts] == answers


def test_nfc_composes():
    decomposed = "Cafe\u0301"
    assert to_nfc(decomposed) == "Café"
    assert unicodedata.is_normalized("NFC", to_nfc(decomposed))


def test_control_chars_removed_but_tab_newline_kept():
    assert remove_control_chars("a\x00b\x07c\x1bd\x7fe\x85f\ufeffg\th\ni\rj") == "abcdefg\th\ni\rj"


def test_newlines():
    assert normalize_newlines("a\r\nb\rc\nd") == "a\nb\nc\nd"


def test_trailing_spaces():
    assert strip_trailing_spaces("a  \nb\t\n  c \n") == "a\nb\n  c\n"


def test_blank_line_runs_are_capped():
    text = "a\n\n\n\n\nb\n\n \t\n\nc\n\nd"
    assert limit_blank_lines(text, 2) == "a\n\n\nb\n\n\nc\n\nd"
    assert limit_blank_lines(text, 0) == "a\nb\nc\nd"


def test_trim_blank_lines_keeps_final_newline_and_indentation():
    assert trim_blank_lines("\n \n  indented\nlast\n\n  \n") == "  indented\nlast\n"
    assert trim_blank_lines("no newline at end  ") == "no newline at end  "
    assert trim_blank_lines("\n\n") == ""


DIRTY = "\n\nCafe\u0301 doesnâ€™t\x00 stop  \r\n\r\n\r\n\r\n\r\nend\n\n"


def test_normalizer_all_steps():
    config = NormalizeConfig(strip_trailing_spaces=True, max_blank_lines=1)
    assert Normalizer(config)(DIRTY) == "Café doesn’t stop\n\nend\n"


@pytest.mark.parametrize(
    ("switch", "survivor"),
    [
        ("fix_mojibake", "â€™"),
        ("nfc", "e\u0301"),
        ("remove_control_chars", "\x00"),
        ("newlines", "\r\n"),
        ("trim_blank_lines", "\n\nCaf"),
    ],
)
def test_each_switch_turns_its_step_off(switch, survivor):
    on = Normalizer(NormalizeConfig(strip_trailing_spaces=True))(DIRTY)
    off = Normalizer(NormalizeConfig(strip_trailing_spaces=True, **{switch: False}))(DIRTY)
    assert survivor not in on
    assert survivor in off


def test_blank_line_limit_off():
    text = "a\n\n\n\n\nb"
    assert Normalizer(NormalizeConfig(max_blank_lines=None))(text) == text
    assert Normalizer(NormalizeConfig())(text) == "a\n\n\nb"


def test_trailing_spaces_kept_by_default():
    assert Normalizer(NormalizeConfig())("And  \nTwice being  \n") == "And  \nTwice being  \n"
