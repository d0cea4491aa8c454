"""Turn generated token ids into text deltas, holding back what a stop string could still claim.

Sentencepiece's byte fallback may split one character over several tokens: text that ends in an
incomplete character (decoded as U+FFFD) is held back until the character is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"


class TextStream:
    """Feed ids one at a time with :meth:`push`; each returns the text now safe to emit."""

    def __init__(self, decode: Callable[[list[int]], str], stop: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stop = [s for s in stop if s]
        self._ids: list[int] = []
        self._emitted = 0
        self.text = ""
        self.stopped = False

    def push(self, token: int) -> str:
        """Add a token; returns the new text (may be ``""``). Sets ``stopped`` at a stop string."""
        if self.stopped:
            return ""
        self._ids.append(token)
        self.text = self._decode(self._ids)
        for s in self._stop:
            at = self.text.find(s)
            if at >= 0:
                self.text = self.text[:at]
                self.stopped = True
                return self._flush(len(self.text))
        safe = len(self.text)
        if self.text.endswith(REPLACEMENT):
            safe = len(self.text.rstrip(REPLACEMENT))
        for s in self._stop:  # the longest tail of the text that is a prefix of a stop string
            for k in range(min(len(s) - 1, len(self.text)), 0, -1):
                if self.text.endswith(s[:k]):
                    safe = min(safe, len(self.text) - k)
                    break
        return self._flush(safe)

    def finish(self) -> str:
        """The rest of the text, once generation has ended."""
        return self._flush(len(self.text))

    def _flush(self, upto: int) -> str:
        upto = max(upto, self._emitted)
        delta = self.text[self._emitted : upto]
        self._emitted = upto
        return delta
