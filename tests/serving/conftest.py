"""A real uvicorn server on loopback serving a tiny model, for the serving tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.serving import ServerSettings, create_app
from kedro_gpt.serving.server import uvicorn_config

from .tiny_bundle import save_tiny_bundle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(
    bundle: ModelBundle, app_options: dict | None = None, **settings
) -> Iterator[str]:
    """Serve ``bundle`` with uvicorn in a thread (``create_app``'s keyword ``app_options``);
    yields the base URL."""
    port = free_port()
    config = ServerSettings(**settings)
    app = create_app(bundle, config, **(app_options or {}))
    server = uvicorn.Server(
        uvicorn_config(app, config, "127.0.0.1", port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, shakespeare_text) -> Path:
    return save_tiny_bundle(shakespeare_text[:100_000], tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model_dir) -> ModelBundle:
    return ModelBundle.load(tiny_model_dir)


@pytest.fixture(scope="session")
def feedback_db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "feedback.db"


@pytest.fixture(scope="session")
def server(tiny_bundle, feedback_db) -> Iterator[str]:
    with running_server(
        tiny_bundle, max_tokens_limit=64, feedback_url=f"sqlite:///{feedback_db}"
    ) as url:
        yield url
