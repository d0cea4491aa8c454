"""Serving a model: an OpenAI-compatible FastAPI app, its batching engine, and the ``kedro-gpt`` CLI."""

from kedro_gpt.serving.app import create_app
from kedro_gpt.serving.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
