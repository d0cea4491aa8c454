"""The cleaning report: what came in, what was kept, and what each rule dropped.

Every document that enters is either kept or counted under the first rule that rejected it, so
``documents_in == documents_kept + sum(dropped[r]["documents"])`` and the same for bytes (UTF-8
bytes of the *input* text; ``bytes_out`` is the size of the cleaned text that was kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: Rules that are not quality filters: they come before (extraction) or after (dedup) them.
EXTRACTION_RULES = ("extraction_failed", "empty")
DEDUP_RULES = ("exact_duplicate", "near_duplicate")


class CleaningReport:
    """Counts documents and bytes in, kept and dropped per rule, with a few example ids per rule."""

    def __init__(self, rules: Iterable[str], max_examples: int = 3) -> None:
        self.rules = list(rules)
        self.max_examples = max_examples
        self.documents_in = self.bytes_in = 0
        self.documents_kept = self.bytes_kept = self.bytes_out = 0
        self.html_documents = self.changed_by_normalization = 0
        self.seconds = 0.0
        self.dropped: dict[str, dict[str, Any]] = {
            rule: {"documents": 0, "bytes": 0, "examples": []} for rule in self.rules
        }

    def keep(self, bytes_in: int, bytes_out: int) -> None:
        self.documents_in += 1
        self.bytes_in += bytes_in
        self.documents_kept += 1
        self.bytes_kept += bytes_in
        self.bytes_out += bytes_out

    def drop(self, rule: str, doc_id: str, bytes_in: int, reason: str) -> None:
        if rule not in self.dropped:
            raise KeyError(f"unknown cleaning rule {rule!r}; known: {self.rules}")
        self.documents_in += 1
        self.bytes_in += bytes_in
        entry = self.dropped[rule]
        entry["documents"] += 1
        entry["bytes"] += bytes_in
        if len(entry["examples"]) < self.max_examples:
            entry["examples"].append({"id": doc_id, "reason": reason})

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        """A JSON-able dict; ``extra`` keys (settings, timings) are added at the top level."""
        return {
            "documents_in": self.documents_in,
            "documents_kept": self.documents_kept,
            "documents_dropped": self.documents_in - self.documents_kept,
            "bytes_in": self.bytes_in,
            "bytes_kept": self.bytes_kept,
            "bytes_out": self.bytes_out,
            "html_documents": self.html_documents,
            "changed_by_normalization": self.changed_by_normalization,
            "seconds": round(self.seconds, 3),
            "rules": list(self.rules),
            "dropped": {rule: dict(entry) for rule, entry in self.dropped.items()},
            **extra,
        }

    def metrics(self) -> dict[str, float]:
        """Flat figures for a metrics tracker (``dropped.<rule>`` counts documents)."""
        figures = {
            "documents_in": self.documents_in,
            "documents_kept": self.documents_kept,
            "bytes_in": self.bytes_in,
            "bytes_kept": self.bytes_kept,
            "bytes_out": self.bytes_out,
            "kept_fraction": self.documents_kept / self.documents_in if self.documents_in else 0.0,
            "seconds": self.seconds,
        }
        figures.update({f"dropped.{r}": e["documents"] for r, e in self.dropped.items()})
        return {key: float(value) for key, value in figures.items()}

    def summary(self) -> str:
        """One line: in, kept, and the rules that dropped anything."""
        drops = ", ".join(
            f"{rule}: {e['documents']}" for rule, e in self.dropped.items() if e["documents"]
        )
        return (
            f"{self.documents_in} documents in ({self.bytes_in} bytes), "
            f"{self.documents_kept} kept; dropped by rule: {drops or 'none'}"
        )


class PendingDict(dict):
    """A dict that a stream fills when it ends; reading it before then raises.

    A node returns it beside a generator of batches: Kedro's sequential runner saves the stream
    first, so the dict is complete when saved. A runner that saved it earlier (``--async`` saves
    outputs in parallel) gets a clear error instead of an empty or partial report.
    """

    def __init__(self, name: str) -> None:
        super().__init__(pending=True)  # one key, so that every reader goes through items()
        self.name = name
        self.ready = False

    def fill(self, values: Mapping[str, Any]) -> None:
        """Replace the content with ``values`` and allow reading."""
        super().clear()
        super().update(values)
        self.ready = True

    def _check(self) -> None:
        if not self.ready:
            raise RuntimeError(
                f"{self.name} was read before the stream that fills it was consumed; save the "
                f"stream output first (run without --async)"
            )

    def __getitem__(self, key: str) -> Any:
        self._check()
        return super().__getitem__(key)

    def __iter__(self) -> Iterator[str]:
        self._check()
        return super().__iter__()

    def __len__(self) -> int:
        self._check()
        return super().__len__()

    def get(self, key: str, default: Any = None) -> Any:
        self._check()
        return super().get(key, default)

    def keys(self):  # noqa: ANN201 - dict's own view types
        self._check()
        return super().keys()

    def values(self):  # noqa: ANN201
        self._check()
        return super().values()

    def items(self):  # noqa: ANN201
        self._check()
        return super().items()
