"""A drift signal: how surprised the served model is by the prompts it receives.

Each prompt's text (a completion prompt, or a chat's user turns) is offered to the monitor
(a bounded queue: under load, prompts are dropped rather than delaying anyone); the engine's
worker scores them only while no request waits. Exported per model version as Prometheus
metrics: a histogram of bits per character and the mean over the last ``window`` prompts, and
the same mean in nats per token beside the model's own held-out loss (``best_val_loss``) when its
training recorded one. Every ``summary_s`` seconds one log line sums it up. A mean well above
the held-out figure says traffic has moved away from the training data.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Any

import torch

from kedro_gpt.model.gpt import GPT
from kedro_gpt.serving.metrics import Metrics

logger = logging.getLogger(__name__)
LN2 = math.log(2)


class DriftMonitor:
    def __init__(
        self,
        model: GPT,
        tokenizer: Any,
        metrics: Metrics,
        version: str,
        reference_loss: float | None = None,
        window: int = 500,
        queue: int = 256,
        summary_s: float = 300.0,
    ) -> None:
        self.model, self.tokenizer, self.metrics, self.version = model, tokenizer, metrics, version
        self.reference_loss = reference_loss
        self._pending: deque[str] = deque(maxlen=queue)  # oldest dropped when full
        self._scores: deque[tuple[float, float]] = deque(maxlen=window)  # (bpc, nats/token)
        self._lock = threading.Lock()
        self.summary_s = summary_s
        self._last_summary = time.monotonic()
        self.scored = 0

    def offer(self, text: str) -> None:
        """Queue ``text`` for scoring (cheap: called on the request path)."""
        if text.strip():
            self._pending.append(text)

    def score_one(self) -> bool:
        """Score the oldest queued prompt (the engine worker calls this when idle); whether there
        was one."""
        try:
            text = self._pending.popleft()
        except IndexError:
            self._maybe_summarize()
            return False
        ids = self.tokenizer.encode(text)[: self.model.config.block_size + 1]
        if len(ids) < 2:
            return True
        x = torch.tensor([ids[:-1]], device=self.model.pos_ids.device)
        y = torch.tensor([ids[1:]], device=self.model.pos_ids.device)
        with torch.inference_mode():
            nats = float(self.model(x, y)[1]) * (len(ids) - 1)
        chars = len(self.tokenizer.decode(ids[1:])) or 1  # the text the scored tokens spell
        bpc, per_token = nats / LN2 / chars, nats / (len(ids) - 1)
        with self._lock:
            self._scores.append((bpc, per_token))
            self.scored += 1
            mean_bpc, mean_loss = self._means()
        self.metrics.prompt_bpc.labels(self.version).observe(bpc)
        self.metrics.prompt_bpc_mean.labels(self.version).set(mean_bpc)
        self.metrics.prompt_loss_mean.labels(self.version).set(mean_loss)
        self._maybe_summarize()
        return True

    def _means(self) -> tuple[float, float]:
        n = len(self._scores)
        return sum(s[0] for s in self._scores) / n, sum(s[1] for s in self._scores) / n

    def summary(self) -> dict[str, Any]:
        with self._lock:
            if not self._scores:
                return {"model_version": self.version, "prompts": 0}
            mean_bpc, mean_loss = self._means()
            out = {
                "model_version": self.version,
                "prompts": len(self._scores),
                "scored_total": self.scored,
                "mean_bits_per_char": mean_bpc,
                "mean_loss": mean_loss,
            }
        if self.reference_loss:
            out["reference_loss"] = self.reference_loss
            out["loss_ratio"] = mean_loss / self.reference_loss
        return out

    def _maybe_summarize(self) -> None:
        now = time.monotonic()
        if now - self._last_summary < self.summary_s:
            return
        self._last_summary = now
        summary = self.summary()
        if summary["prompts"]:
            logger.info("drift: %s", summary)
