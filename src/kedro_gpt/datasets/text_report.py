"""A text report (samples, model card, Markdown report) that kedro-viz can preview."""

from __future__ import annotations

import html

from kedro_datasets._typing import HTMLPreview
from kedro_datasets.text import TextDataset


class TextReportDataset(TextDataset):
    """kedro-datasets' ``TextDataset`` (versioned, fsspec) with a preview of its latest version."""

    def preview(self, max_chars: int = 4000) -> HTMLPreview:
        """The first ``max_chars`` characters, as preformatted text."""
        text = self.load()
        cut = text[:max_chars] + ("\n…" if len(text) > max_chars else "")
        return HTMLPreview(f"<pre>{html.escape(cut)}</pre>")
