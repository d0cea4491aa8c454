"""What every request handler shares: the model bundle, the settings, the engine and the metrics,
reached through FastAPI dependencies (:data:`ServedDep`, :func:`authorize`)."""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

import torch
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kedro_gpt.finetune.batches import classification_row, collate
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.serving.engine import GenerationEngine
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.metrics import Metrics
from kedro_gpt.serving.settings import ServerSettings
from kedro_gpt.tokenizer.special_tokens import ENDOFTEXT, find_token_id


class Served:
    """The bundle, settings, engine, metrics and special token ids of one app."""

    def __init__(self, bundle: ModelBundle, settings: ServerSettings) -> None:
        self.bundle = bundle
        self.settings = settings
        self.metrics = Metrics()
        self.engine = GenerationEngine(
            bundle.model,
            max_queue=settings.max_queue,
            batching=settings.batching,
            max_batch_size=settings.max_batch_size,
            batch_window_ms=settings.batch_window_ms,
            on_batch=self.metrics.batch_size.observe,
            on_tokens=self.metrics.generated_tokens.inc,
        )
        self.eot = find_token_id(bundle.tokenizer, ENDOFTEXT)
        self.max_prompt_tokens = settings.max_prompt_tokens or bundle.config.block_size
        self.created = int(time.time())
        head = bundle.info.get("classifier")  # saved by the fine-tuning stage's classification task
        self.classifier = GPTClassifier.from_head_state(bundle.model, head).eval() if head else None
        self.labels: list[str] = list(head["labels"]) if head else []

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        """Label and per-label probabilities of each text (its first ``block_size`` tokens)."""
        assert self.classifier is not None
        block = self.bundle.config.block_size
        rows = [classification_row(self.bundle.tokenizer.encode(t), 0, block) for t in texts]
        x, _ = collate([r for r in rows if r is not None], self.classifier.pad_id)
        with torch.inference_mode():
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


def get_served(request: Request) -> Served:
    return request.app.state.served


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
