"""What every request handler shares: the model bundle, the settings, the engine and the metrics,
reached through FastAPI dependencies (:data:`ServedDep`, :func:`authorize`).

A request takes the :class:`Served` model current when it starts (a lease, from the app's
:class:`~kedro_gpt.serving.slot.ModelSlot`) and keeps it to its last byte: when a new model is
installed mid-request, the request still ends on the model it started with, and that model's
engine stops once its last lease is returned."""

from __future__ import annotations

import hmac
import threading
import time
from typing import Annotated, Any

import torch
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kedro_gpt.finetune.batches import classification_row, classifier_ids, collate
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import classifier_from_state
from kedro_gpt.serving.drift import DriftMonitor
from kedro_gpt.serving.engine import GenerationEngine
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.metrics import Metrics
from kedro_gpt.serving.settings import ServerSettings
from kedro_gpt.tokenizer.special_tokens import ENDOFTEXT, find_token_id


def model_version(bundle: ModelBundle) -> str:
    """The registry version (``models:/NAME/3`` → ``"3"``) or the catalog version of a bundle;
    ``""`` for a folder."""
    lineage = bundle.info.get("lineage") or {}
    loaded = bundle.info.get("loaded_from") or {}
    return str(lineage.get("registered_version") or loaded.get("version") or "")


class Served:
    """The bundle, settings, engine, metrics and special token ids of one served model."""

    def __init__(
        self, bundle: ModelBundle, settings: ServerSettings, metrics: Metrics | None = None
    ) -> None:
        self.bundle = bundle
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.version = model_version(bundle)
        self._leases = 0
        self._retired = False
        self._lock = threading.Lock()
        self.drift = DriftMonitor(
            bundle.model,
            bundle.tokenizer,
            self.metrics,
            self.version,
            reference_loss=bundle.info.get("best_val_loss"),
            summary_s=settings.drift_summary_s,
        )
        self.engine = GenerationEngine(
            bundle.model,
            max_queue=settings.max_queue,
            batching=settings.batching,
            max_batch_size=settings.max_batch_size,
            batch_window_ms=settings.batch_window_ms,
            on_batch=self.metrics.batch_size.observe,
            on_tokens=self.metrics.generated_tokens.labels(self.version).inc,
            on_idle=self.drift.score_one if settings.drift else None,
        )
        self.eot = find_token_id(bundle.tokenizer, ENDOFTEXT)
        self.max_prompt_tokens = settings.max_prompt_tokens or bundle.config.block_size
        self.created = int(time.time())
        head = bundle.info.get("classifier")  # saved by the fine-tuning stage's classification task
        self.classifier = classifier_from_state(bundle.backbones, head).eval() if head else None
        self.labels: list[str] = list(head["labels"]) if head else []

    def acquire(self) -> None:
        with self._lock:
            self._leases += 1

    def release(self) -> None:
        with self._lock:
            self._leases -= 1
            done = self._retired and self._leases == 0
        if done:
            self._stop()

    def retire(self) -> None:
        """No new request will get this model; its engine stops when the last one ends."""
        with self._lock:
            self._retired = True
            done = self._leases == 0
        if done:
            self._stop()

    def _stop(self) -> None:  # joins the worker: never on the event loop
        threading.Thread(target=self.engine.stop, name="kedro-gpt-retire", daemon=True).start()

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        """Label and per-label probabilities of each text (its first ``block_size`` tokens; an
        ensemble's mean probabilities)."""
        assert self.classifier is not None
        block = self.bundle.config.block_size
        head = self.bundle.info["classifier"]
        sp = self.bundle.tokenizer
        rows = [classification_row(classifier_ids(sp, t, head), 0, block) for t in texts]
        x, _ = collate([r for r in rows if r is not None], self.classifier.pad_id)
        with torch.inference_mode():
            x = x.to(self.bundle.model.pos_ids.device)
            probs = torch.softmax(self.classifier(x)[0], dim=-1).tolist()
        return [
            {
                "index": i,
                "label": self.labels[max(range(len(p)), key=p.__getitem__)],
                "scores": dict(zip(self.labels, p, strict=True)),
            }
            for i, p in enumerate(probs)
        ]

    def decode(self, ids: list[int]) -> str:
        return self.bundle.tokenizer.decode(ids)

    def check_model(self, name: str) -> None:
        """404 unless ``name`` is the served model's id."""
        if name != self.settings.model_name:
            raise APIError(
                404,
                f"model {name!r} not found; this server serves {self.settings.model_name!r}",
                param="model",
                code="model_not_found",
            )

    def check_generates(self) -> None:
        """400 for a backward model (``GPTConfig.reverse``): it reads right to left, so it has no
        continuation to give; it serves ``/v1/classify`` only."""
        if self.bundle.config.reverse:
            raise APIError(
                400,
                f"model {self.settings.model_name!r} is a backward language model (reverse: "
                "true); it cannot continue a prompt and serves /v1/classify only",
                param="model",
                code="backward_model",
            )


def get_served(request: Request) -> Served:
    """The current model, leased to this request until its response ends (the lease is returned
    by :class:`~kedro_gpt.serving.middleware.RequestMetrics`)."""
    served = request.app.state.slot.acquire()
    request.state.served = served
    return served


ServedDep = Annotated[Served, Depends(get_served)]
_BEARER = HTTPBearer(auto_error=False)


def authorize(
    served: ServedDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> None:
    """With an API key configured, a request needs ``Authorization: Bearer <key>`` (compared in
    constant time)."""
    key = served.settings.api_key
    if key is None:
        return
    # header values arrive decoded as latin-1: encoding back gives the bytes that were sent
    given = b"" if creds is None else creds.credentials.encode("latin-1")
    if not hmac.compare_digest(given, key.encode("utf-8")):
        raise APIError(
            401,
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            code="invalid_api_key",
        )
