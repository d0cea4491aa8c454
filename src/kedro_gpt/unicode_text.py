"""``Text``: a string field that must be valid Unicode (a lone surrogate such as ``"\\ud800"``,
which JSON can carry but UTF-8 cannot, is a validation error instead of a crash later)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def valid_unicode(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"not valid Unicode: a lone surrogate at character {err.start}") from None
    return text


Text = Annotated[str, AfterValidator(valid_unicode)]
