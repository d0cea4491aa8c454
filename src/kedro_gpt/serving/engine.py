"""The generation engine: one worker thread runs the model; waiting requests are batched.

Requests enter a bounded queue (full → :class:`QueueFull`, answered 429); one that waits past
its ``queue_deadline`` is answered ``("timeout", …)`` (503) even while a batch runs. The worker
takes the oldest request and, with batching on, every waiting request with the same sampling settings
(up to ``max_batch_size``, after waiting ``batch_window_ms`` for more to arrive), and decodes
them together with the model's KV cache: left-padded prompts, one forward pass per step for
the whole batch. A request joins the next batch when the current one has finished (no
continuous batching). Each row ends at its own stop token, ``max_tokens``, deadline or
cancellation; the batch ends when every row has. Tokens reach the request's asyncio queue
through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from kedro_gpt.model.generate import token_steps
from kedro_gpt.model.gpt import GPT

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """More requests are waiting than the queue holds."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None


@dataclass
class GenRequest:
    """One prompt to complete; events are ``("token", id)``, ``("done", reason)``, ``("error", msg)``."""

    prompt_ids: list[int]
    max_tokens: int
    sampling: Sampling
    stop_ids: frozenset[int]
    deadline: float
    loop: asyncio.AbstractEventLoop
    queue_deadline: float = float("inf")
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: int = 0
    enqueued: float = field(default_factory=time.monotonic)

    def send(self, kind: str, value: Any) -> None:
        self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def batch_key(self) -> tuple | None:
        """Requests with equal keys may share a batch; a seeded request runs alone (reproducible)."""
        return None if self.sampling.seed is not None else (self.sampling,)


class GenerationEngine:
    """Owns the model; ``submit`` from the event loop, the worker thread does the rest."""

    def __init__(
        self,
        model: GPT,
        *,
        max_queue: int = 64,
        batching: bool = True,
        max_batch_size: int = 8,
        batch_window_ms: float = 5.0,
        on_batch: Callable[[int], None] | None = None,
        on_tokens: Callable[[int], None] | None = None,
        on_idle: Callable[[], bool] | None = None,
    ) -> None:
        self.model = model
        self.max_queue = max_queue
        self.max_batch_size = max_batch_size if batching else 1
        self.batch_window = batch_window_ms / 1000 if batching else 0.0
        self._on_batch = on_batch or (lambda n: None)
        self._on_tokens = on_tokens or (lambda n: None)
        self._on_idle = on_idle  # low-priority work, one item per call, while no request waits
        self._pending: deque[GenRequest] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.running = 0

    @property
    def queued(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="kedro-gpt-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for req in self._pending:
            req.send("error", "server shutting down")
        self._pending.clear()

    def submit(self, req: GenRequest) -> None:
        """Queue ``req``; raises :class:`QueueFull` when ``max_queue`` requests already wait."""
        with self._cond:
            if len(self._pending) >= self.max_queue:
                raise QueueFull(f"{len(self._pending)} requests are already waiting")
            self._pending.append(req)
            self._cond.notify()

    # -- worker thread ---------------------------------------------------------------------------

    def _expire_queued(self) -> None:
        """Answer (and drop) waiting requests past their queue deadline or cancelled."""
        if not self._pending:
            return
        now = time.monotonic()
        with self._cond:
            expired = [r for r in self._pending if now > r.queue_deadline or r.cancelled.is_set()]
            for req in expired:
                self._pending.remove(req)
        for req in expired:
            if not req.cancelled.is_set():
                req.send("timeout", "the request waited too long for the model")

    def _idle_until_work(self) -> None:
        """Run ``on_idle`` (one item at a time) until a request waits or the engine stops."""
        while self._on_idle is not None:
            with self._cond:
                if self._pending or self._stopping:
                    return
            try:
                busy = self._on_idle()
            except Exception:  # idle work must never stop the worker
                logger.exception("idle work failed")
                busy = False
            if not busy:
                with self._cond:
                    if not self._pending and not self._stopping:
                        self._cond.wait(timeout=0.5)

    def _next_batch(self) -> list[GenRequest]:
        self._idle_until_work()
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait(timeout=0.5)
            if self._stopping:
                return []
            if self.batch_window and len(self._pending) < self.max_batch_size:
                self._cond.wait(timeout=self.batch_window)  # let a burst of requests arrive
            first = self._pending.popleft()
            batch = [first]
            if first.batch_key is not None:
                for req in list(self._pending):
                    if len(batch) >= self.max_batch_size:
                        break
                    if req.batch_key == first.batch_key:
                        self._pending.remove(req)
                        batch.append(req)
            return batch

    def _work(self) -> None:
        while True:
            self._expire_queued()
            batch = self._next_batch()
            if not batch:
                return
            now = time.monotonic()
            live = []
            for req in batch:
                if req.cancelled.is_set():
                    continue
                if now > min(req.deadline, req.queue_deadline):
                    req.send("timeout", "the request waited too long for the model")
                elif req.max_tokens == 0:
                    req.send("done", "length")
                else:
                    live.append(req)
            if not live:
                continue
            self.running = len(live)
            self._on_batch(len(live))
            try:
                self._run(live)
            except Exception as err:  # a bug must not kill the worker: fail this batch only
                logger.exception("generation failed")
                for req in live:
                    req.send("error", f"generation failed: {type(err).__name__}: {err}")
            finally:
                self.running = 0

    def _run(self, batch: list[GenRequest]) -> None:
        s = batch[0].sampling
        steps = token_steps(
            self.model,
            [r.prompt_ids for r in batch],
            max(r.max_tokens for r in batch),
            temperature=s.temperature,
            top_k=s.top_k,
            top_p=None if s.top_p is None or s.top_p >= 1.0 else s.top_p,
            seed=s.seed,
            use_cache=True,
        )
        active = set(range(len(batch)))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for tokens in steps:
                    self._on_tokens(self._emit(batch, tokens.tolist(), active))
                    self._expire_queued()
                    if not active:
                        break
        except Exception as err:  # only the rows still running fail; finished ones keep their end
            logger.exception("generation failed")
            for i in active:
                batch[i].send("error", f"generation failed: {type(err).__name__}: {err}")
            return
        finally:
            steps.close()
            self.model.train(was_training)
        for i in active:  # the steps ran out (max_tokens of the longest row)
            batch[i].send("done", "length")

    @staticmethod
    def _emit(batch: list[GenRequest], tokens: list[int], active: set[int]) -> int:
        """Send each running row its token (or its end); returns how many tokens were sent."""
        now = time.monotonic()
        emitted = 0
        for i, token in enumerate(tokens):
            if i not in active:
                continue
            req = batch[i]
            if req.cancelled.is_set():
                active.discard(i)
            elif token in req.stop_ids:
                active.discard(i)
                req.send("done", "stop")
            else:
                req.generated += 1
                emitted += 1
                req.send("token", token)
                if req.generated >= req.max_tokens or now > req.deadline:
                    active.discard(i)
                    req.send("done", "length")
        return emitted
