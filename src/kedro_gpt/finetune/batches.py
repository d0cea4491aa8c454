"""Fine-tuning batch sources: padded rows of ``(x, y)`` with ``y = -100`` where there is no loss.

A *row* is a pair of equal-length int64 arrays (inputs, targets) no longer than the model's
block. :class:`PaddedBatches` implements :class:`kedro_gpt.training.data.BatchSource` (random
rows, counter-based like ``RandomWindows``, so a resume continues the same sequence);
:func:`fixed_batches` walks rows in order for evaluation; :class:`RowsEvaluator` is the loop's
evaluator over held-out rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from kedro_gpt.text.detokenize import classifier_input
from kedro_gpt.tokenizer.protocol import TextTokenizer
from kedro_gpt.tokenizer.special_tokens import eos_id
from kedro_gpt.training.data import IGNORE_INDEX, TRAIN_STREAM
from kedro_gpt.training.device import Precision
from kedro_gpt.training.distributed import DistContext
from kedro_gpt.training.evaluate import metrics_from_nats, score_batches

Row = tuple[np.ndarray, np.ndarray]


def lm_row(ids: Sequence[int], loss_mask: Sequence[bool], block_size: int) -> Row | None:
    """Next-token row: targets are the following token where it carries loss, else -100.

    A sequence longer than ``block_size + 1`` tokens is cut to a window of that size: its head
    when the first scored token falls inside it, else a window that starts half a block before
    the first scored token (the end of the prompt and the start of the answer). ``None`` when
    nothing is scored.
    """
    mask_all = np.asarray(loss_mask, dtype=bool)
    scored = np.flatnonzero(mask_all[1:]) + 1
    if len(scored) == 0:
        return None
    start = 0
    if len(ids) > block_size + 1 and scored[0] > block_size:
        start = int(scored[0]) - block_size // 2
    tokens = np.asarray(ids[start : start + block_size + 1], dtype=np.int64)
    mask = mask_all[start : start + block_size + 1]
    x, y = tokens[:-1], np.where(mask[1:], tokens[1:], IGNORE_INDEX)
    if len(x) == 0 or not (y != IGNORE_INDEX).any():
        return None
    return x, y


def classification_row(ids: Sequence[int], label: int, block_size: int) -> Row | None:
    """The text's first ``block_size`` tokens; the label sits at the last one."""
    x = np.asarray(ids[:block_size], dtype=np.int64)
    if len(x) == 0:
        return None
    y = np.full(len(x), IGNORE_INDEX, dtype=np.int64)
    y[-1] = label
    return x, y


def classifier_ids(sp: TextTokenizer, text: str, head: Mapping[str, Any]) -> list[int]:
    """The ids a classifier with this head state reads for ``text``: rejoined first if it was
    trained on detokenized text, after ``<|endoftext|>`` if it was trained with a start token."""
    ids = sp.encode(classifier_input(text, head))
    return [eos_id(sp), *ids] if head.get("start_token") else ids


def collate(rows: Sequence[Row], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows to the longest one: ``x`` with ``pad_id``, ``y`` with -100."""
    width = max(len(x) for x, _ in rows)
    x = np.full((len(rows), width), pad_id, dtype=np.int64)
    y = np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64)
    for i, (xi, yi) in enumerate(rows):
        x[i, : len(xi)] = xi
        y[i, : len(yi)] = yi
    return torch.from_numpy(x), torch.from_numpy(y)


def fixed_batches(
    rows: Sequence[Row], batch_size: int, pad_id: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every row once, in order."""
    for i in range(0, len(rows), batch_size):
        yield collate(rows[i : i + batch_size], pad_id)


class PaddedBatches:
    """Random micro-batches of rows (a :class:`~kedro_gpt.training.data.BatchSource`)."""

    def __init__(self, rows: Sequence[Row], batch_size: int, pad_id: int, *, seed: int) -> None:
        if not rows:
            raise ValueError("no training rows: every example was empty or skipped")
        self.rows = list(rows)
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.seed = seed
        self.draws = 0

    @property
    def tokens_per_epoch(self) -> int:
        """The tokens the loop counts (padding included) while it draws as many rows as there
        are: rows × the expected width of a batch, the longest of ``batch_size`` random rows."""
        widths, counts = np.unique([len(x) for x, _ in self.rows], return_counts=True)
        below = np.cumsum(counts) / len(self.rows)  # P(a row is at most this wide)
        p_max = np.diff(below**self.batch_size, prepend=0.0)  # P(a batch is this wide)
        return max(1, round(len(self.rows) * float(np.dot(widths, p_max))))

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, TRAIN_STREAM, self.draws])
        self.draws += 1
        picks = rng.integers(0, len(self.rows), size=self.batch_size)
        return collate([self.rows[i] for i in picks], self.pad_id)

    def state_dict(self) -> dict[str, Any]:
        return {"draws": self.draws, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.draws = int(state["draws"])


class RowsEvaluator:
    """Mean loss over every held-out row (the loop's ``Evaluator``)."""

    def __init__(self, rows: Sequence[Row], batch_size: int, pad_id: int) -> None:
        if not rows:
            raise ValueError("no held-out rows to evaluate on")
        self.rows = list(rows)
        self.batch_size = batch_size
        self.pad_id = pad_id

    def evaluate(
        self, model: nn.Module, precision: Precision, dist: DistContext, *, full: bool
    ) -> dict[str, float]:
        batches = fixed_batches(self.rows, self.batch_size, self.pad_id)
        nats, count = score_batches(model, batches, precision, dist)
        return {**metrics_from_nats(nats, count), "final": 1.0 if full else 0.0}
