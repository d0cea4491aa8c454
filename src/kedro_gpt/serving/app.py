"""The OpenAI-compatible FastAPI app around one :class:`ModelBundle` at a time.

``POST /v1/completions`` and ``/v1/chat/completions`` (JSON, or server-sent events with
``stream: true`` ending in ``data: [DONE]``), ``GET /v1/models``, ``GET /health``,
``GET /metrics`` (Prometheus), ``POST /v1/classify`` (a model with a classification head),
``POST /v1/feedback`` (a rated answer, into the feedback database), ``POST /admin/reload``,
the playground page at ``/``, and ``/docs``, ``/redoc``, ``/openapi.json`` unless
``settings.docs`` is off. The routes live in :mod:`kedro_gpt.serving.routes`; every error has an
OpenAI body (:mod:`kedro_gpt.serving.errors`).

Given ``reload`` (and ``version``), the app follows a model reference: :mod:`.slot`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kedro_gpt.feedback.store import FeedbackStore
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.serving.errors import install_error_handlers
from kedro_gpt.serving.metrics import Metrics
from kedro_gpt.serving.middleware import BodyLimit, RequestMetrics
from kedro_gpt.serving.routes import ROUTERS
from kedro_gpt.serving.settings import ServerSettings
from kedro_gpt.serving.slot import ModelFollower, ModelSlot


def create_app(
    bundle: ModelBundle,
    settings: ServerSettings | None = None,
    *,
    reload: Callable[[], ModelBundle] | None = None,
    version: Callable[[], str] | None = None,
) -> FastAPI:
    """An app serving ``bundle``; the generation worker starts and stops with the app.

    ``reload`` loads the model reference again (``POST /admin/reload``); with ``version`` too
    (the version the reference names now), the app checks every ``settings.follow_interval_s``
    and switches when it changes."""
    settings = settings or ServerSettings()
    metrics = Metrics()
    slot = ModelSlot(bundle, settings, metrics)
    follower = ModelFollower(slot, reload, version, settings.follow_interval_s) if reload else None
    feedback = FeedbackStore(settings.feedback_url) if settings.feedback_url else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slot.start()
        if follower is not None:
            follower.start()
        try:
            yield
        finally:
            if follower is not None:
                follower.stop()
            slot.stop()
            if feedback is not None:
                feedback.close()

    docs = settings.docs
    app = FastAPI(
        title="kedro-gpt",
        version="1",
        description="An OpenAI-compatible API for a kedro-gpt model.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.slot = slot
    app.state.follower = follower
    app.state.feedback = feedback
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: counts every answer
    for router in ROUTERS:
        app.include_router(router)
    return app
