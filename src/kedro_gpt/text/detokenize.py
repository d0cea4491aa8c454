"""Penn-Treebank-style token text (``"fun , wasabi ."``) back to running text, with sacremoses.

Task sets such as rt-polarity ship pre-tokenized; a model pretrained on running text reads them
as they were written when they are rejoined. A classifier trained on rejoined text records it
(``detokenize`` in its head state) so that scoring and serving rejoin their inputs too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sacremoses import MosesDetokenizer


@functools.cache
def _detokenizer() -> MosesDetokenizer:
    return MosesDetokenizer(lang="en")


def detokenized(text: str) -> str:
    """``text`` with its space-separated tokens rejoined as English running text."""
    return _detokenizer().detokenize(text.split())


def classifier_input(text: str, head: Mapping[str, Any]) -> str:
    """``text`` as the classifier with this head state was trained to read it."""
    return detokenized(text) if head.get("detokenize") else text
