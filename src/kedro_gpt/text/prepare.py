"""The per-document, stateless part of cleaning: extract → normalise → filter → dedup keys.

``DocumentPass.prepare`` gives a ``Prepared`` document (with its exact digest and MinHash
signature) or why it was ``Dropped``; the same in any process, so workers can run it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.dedup import MinHasher, exact_digest
from kedro_gpt.text.extract import extract_html
from kedro_gpt.text.filters import TextView, build_filters
from kedro_gpt.text.normalize import Normalizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dropped:
    """Why a document was dropped: the rule and a human-readable reason."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Prepared:
    """A document that passed extraction, normalisation and the filters, with its dedup keys
    (computed where it was prepared, perhaps in a worker process)."""

    text: str
    title: str | None
    digest: bytes | None
    signature: np.ndarray | None


#: What preparing one document gives: the outcome, and whether normalisation changed its text.
Preparation = tuple[Prepared | Dropped, bool]


class DocumentPass:
    """The per-document, stateless part of cleaning: extract, normalise, filter, and compute the
    dedup keys. Any number of copies (one per worker) give the same answers."""

    def __init__(self, config: CleaningConfig) -> None:
        self.config = config
        self.normalize = Normalizer(config.normalize)
        self.filters = build_filters(config.filters)
        near = config.dedup.near
        self.minhasher = (
            MinHasher(near.num_perm, near.shingle_size, near.seed) if near.enabled else None
        )

    def extract(self, text: str, fmt: str) -> tuple[str, str | None]:
        """The document's text (HTML is extracted) and the title the page gives, if any."""
        if fmt != "html":
            return text, None
        page = extract_html(text, self.config.html.extractor, self.config.html.main_content)
        return page.text, page.title

    def prepare(self, doc_id: str, text: str | None, fmt: str) -> Preparation:
        """One document through extraction, normalisation and the filters."""
        try:
            text, title = self.extract(text or "", fmt)
        except Exception as err:  # noqa: BLE001 - any extractor failure is a counted skip
            reason = f"{type(err).__name__}: {err}"[:300]
            logger.warning("document %s: HTML extraction failed (%s); skipped", doc_id, reason)
            return Dropped("extraction_failed", reason), False
        normalized = self.normalize(text)
        changed = normalized != text
        if not normalized.strip():
            return Dropped("empty", "no text after extraction and normalisation"), changed
        view = TextView(normalized)
        for rule in self.filters:
            reason = rule(view)
            if reason is not None:
                return Dropped(rule.name, reason), changed
        digest = exact_digest(normalized) if self.config.dedup.exact.enabled else None
        signature = (
            self.minhasher.minhash(normalized).hashvalues if self.minhasher is not None else None
        )
        return Prepared(normalized, title, digest, signature), changed

    def prepare_all(self, rows: list[tuple[str, str | None, str]]) -> list[Preparation]:
        """``prepare`` for each ``(id, text, format)``, in order."""
        return [self.prepare(doc_id, text, fmt) for doc_id, text, fmt in rows]
