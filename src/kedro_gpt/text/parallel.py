"""Cleaning on every core: worker processes prepare whole batches (extract, normalise, filter,
exact digest, MinHash signature), and the calling process deduplicates them in input order, so
the kept documents, their order and the report equal the single-process pass exactly.

At most ``2 × workers`` batches are in flight, so memory stays bounded however long the stream.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pyarrow as pa

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.prepare import DocumentPass, Preparation

#: One batch read: the batch, its columns as lists, its documents' preparations (None: do them here).
PreparedBatch = tuple[pa.RecordBatch, dict[str, list[Any]], list[Preparation] | None]

#: The worker's DocumentPass, set once when the worker starts.
_WORKER: dict[str, DocumentPass] = {}


def _start_worker(config: dict[str, Any]) -> None:
    _WORKER["pass"] = DocumentPass(CleaningConfig.model_validate(config))


def _prepare(rows: list[tuple[str, str | None, str]]) -> list[Preparation]:
    return _WORKER["pass"].prepare_all(rows)


def cpu_workers(workers: int) -> int:
    """``workers``, or every core the process may use when it is 0."""
    if workers > 0:
        return workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _rows(columns: dict[str, list[Any]]) -> list[tuple[str, str | None, str]]:
    return list(zip(columns["id"], columns["text"], columns["format"], strict=True))


def prepared_batches(
    batches: Iterable[pa.RecordBatch], config: CleaningConfig, workers: int
) -> Iterator[PreparedBatch]:
    """Each batch with its preparations, in input order; with ``workers`` > 1 they are made in
    that many processes (forkserver on Linux: no state of the caller, e.g. torch's threads, is
    inherited)."""
    if workers <= 1:
        for batch in batches:
            yield batch, batch.to_pydict(), None
        return
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_start_worker,
        initargs=(config.model_dump(mode="json"),),
    )
    pending: deque[tuple[int, pa.RecordBatch, dict[str, list[Any]], Future]] = deque()

    def finished() -> PreparedBatch:
        number, batch, columns, future = pending.popleft()
        try:
            return batch, columns, future.result()
        except BrokenProcessPool as err:
            first = columns["id"][0] if columns["id"] else "none"
            raise RuntimeError(
                f"a cleaning worker died while preparing batch {number} (first document "
                f"{first}); nothing of this run was kept as complete: {err}"
            ) from err

    try:
        for number, batch in enumerate(batches):
            columns = batch.to_pydict()
            pending.append((number, batch, columns, pool.submit(_prepare, _rows(columns))))
            if len(pending) >= 2 * workers:
                yield finished()
        while pending:
            yield finished()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
