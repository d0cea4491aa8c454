"""Unicode and whitespace normalisation: mojibake repair (ftfy), NFC, control characters, blank lines.

Each step is a plain function; ``Normalizer`` chains the ones a ``NormalizeConfig`` switches on.
ASCII text with Unix newlines and at most ``max_blank_lines`` blank lines in a row passes through
every default step unchanged (Tiny Shakespeare must stay byte-identical).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import ftfy
from ftfy.badness import BADNESS_RE

from kedro_gpt.text.config import NormalizeConfig

# Only the encoding repairs: no quote uncurling, ligature or width changes, no HTML unescaping.
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)
_C1_OR_SURROGATE = re.compile("[\x80-\x9f\ud800-\udfff]")
# C0 and C1 controls except tab, newline and carriage return (newlines handles those), DEL, and
# U+FEFF (byte-order mark / zero-width no-break space).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
# Runs of non-ASCII characters, joined across ASCII gaps of up to 16 characters (fewer searches).
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f](?:[\x00-\x7f]{0,16}[^\x00-\x7f])*")
#: Every alternative of ftfy's BADNESS_RE holds a non-ASCII character and spans at most seven
#: characters, so a match lies within this many characters of a non-ASCII run.
_BADNESS_MARGIN = 8
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\n)*")


def looks_bad(text: str) -> bool:
    """``ftfy.badness.is_bad(text)``, searched only around the non-ASCII characters.

    ftfy's regex tries each of its dozens of alternatives at every position of the text (2.7 ms
    for 8,000 characters); English text is mostly ASCII, and no alternative matches without a
    non-ASCII character, so the same answer comes from searching a margin around each run of them.
    """
    for run in _NON_ASCII_RUN.finditer(text):
        start, end = max(0, run.start() - _BADNESS_MARGIN), run.end() + _BADNESS_MARGIN
        if BADNESS_RE.search(text, start, end):
            return True
    return False


def fix_mojibake(text: str) -> str:
    """Repair text decoded with the wrong codec (``doesnâ€™t`` → ``doesn’t``) with ftfy.

    ASCII text and text in which ftfy sees no sign of mojibake are returned as they are (fast).
    """
    if text.isascii() or (not looks_bad(text) and not _C1_OR_SURROGATE.search(text)):
        return text
    return ftfy.fix_text(text, _FTFY)


def to_nfc(text: str) -> str:
    """Unicode canonical composition (``e`` + combining acute → ``é``)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def remove_control_chars(text: str) -> str:
    """Drop control characters other than tab, newline and carriage return, and U+FEFF."""
    return _CONTROL.sub("", text)


def normalize_newlines(text: str) -> str:
    """Windows (``\\r\\n``) and old Mac (``\\r``) line ends become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def strip_trailing_spaces(text: str) -> str:
    """Remove spaces and tabs at the end of every line."""
    return _TRAILING_SPACE.sub("", text)


def limit_blank_lines(text: str, max_blank_lines: int) -> str:
    """Shorten every run of more than ``max_blank_lines`` blank lines to that many.

    A blank line is empty or holds only spaces and tabs; a shortened run keeps no spaces.
    """
    pattern = re.compile(r"\n(?:[ \t]*\n){" + str(max_blank_lines + 1) + ",}")
    return pattern.sub("\n" * (max_blank_lines + 1), text)


def trim_blank_lines(text: str) -> str:
    """Remove blank lines at the start and the end; a final newline is kept if there was one."""
    start = _LEADING_BLANK_LINES.match(text).end()
    body = text[start:].rstrip(" \t\n")
    tail = text[start + len(body) :]
    newline = tail.find("\n")
    if newline < 0 or not body:  # no trailing blank line: keep the last line's own spaces
        return body + (tail if body else "")
    return body + tail[:newline] + ("\n" if text.endswith("\n") else "")


class Normalizer:
    """The normalisation steps a ``NormalizeConfig`` switches on, in a fixed order."""

    def __init__(self, config: NormalizeConfig) -> None:
        steps: list[Callable[[str], str]] = []
        if config.fix_mojibake:
            steps.append(fix_mojibake)
        if config.nfc:
            steps.append(to_nfc)
        if config.remove_control_chars:
            steps.append(remove_control_chars)
        if config.newlines:
            steps.append(normalize_newlines)
        if config.strip_trailing_spaces:
            steps.append(strip_trailing_spaces)
        if config.max_blank_lines is not None:
            limit = config.max_blank_lines
            steps.append(lambda text: limit_blank_lines(text, limit))
        if config.trim_blank_lines:
            steps.append(trim_blank_lines)
        self.steps = steps

    def __call__(self, text: str) -> str:
        for step in self.steps:
            text = step(text)
        return text
