"""The OpenAI-compatible FastAPI app around one :class:`ModelBundle`.

``POST /v1/completions`` and ``/v1/chat/completions`` (JSON, or server-sent events with
``stream: true`` ending in ``data: [DONE]``), ``GET /v1/models``, ``GET /health``,
``GET /metrics`` (Prometheus), ``POST /v1/classify`` (a model with a classification head), and
``/docs``, ``/redoc``, ``/openapi.json`` unless ``settings.docs`` is off. The routes live in
:mod:`kedro_gpt.serving.routes`; every error has an OpenAI body (:mod:`kedro_gpt.serving.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.serving.errors import install_error_handlers
from kedro_gpt.serving.middleware import BodyLimit, RequestMetrics
from kedro_gpt.serving.routes import ROUTERS
from kedro_gpt.serving.served import Served
from kedro_gpt.serving.settings import ServerSettings


def create_app(bundle: ModelBundle, settings: ServerSettings | None = None) -> FastAPI:
    """An app serving ``bundle``; the generation worker starts and stops with the app."""
    settings = settings or ServerSettings()
    served = Served(bundle, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served.engine.start()
        try:
            yield
        finally:
            served.engine.stop()

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
    app.state.served = served
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=served.metrics)  # outermost: counts every answer
    for router in ROUTERS:
        app.include_router(router)
    return app
