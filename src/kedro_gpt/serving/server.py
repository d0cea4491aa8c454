"""Run an app with uvicorn, with a deadline on reading each request.

uvicorn cuts a connection that is idle between requests (``timeout_keep_alive``) but waits
forever for a request that trickles in, a byte at a time. :func:`uvicorn_config` gives it a
protocol (uvicorn's own, httptools or h11) that answers 408 and closes the connection when a
request's headers and body have not all arrived ``read_timeout_s`` after the connection opened
or the previous response ended. A request that has arrived is never cut: its generation has its
own limits (``request_timeout_s``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from kedro_gpt.serving.errors import error_body
from kedro_gpt.serving.settings import ServerSettings

KEEP_ALIVE_S = 5  # uvicorn's default: an idle keep-alive connection is closed after it


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps(
        error_body(408, f"the request did not arrive within {seconds:g} s", code="timeout")
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def read_deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class with a ``seconds`` deadline on reading each request."""
    response = _timeout_response(seconds)

    class ReadDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _read_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_read_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_read_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
            super().connection_lost(exc)

        def _arm_read_deadline(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
            self._read_deadline = self.loop.call_later(seconds, self._read_deadline_passed)

        def _read_deadline_passed(self) -> None:
            cycle = self.cycle
            awaiting_headers = cycle is None or cycle.response_complete
            if self.transport.is_closing() or not (awaiting_headers or cycle.more_body):
                return  # the request is in: the app answers it
            if awaiting_headers or not cycle.response_started:
                self.transport.write(response)
            self.transport.close()

    return ReadDeadlineProtocol


def uvicorn_config(
    app: FastAPI, settings: ServerSettings, host: str, port: int, **kwargs: Any
) -> uvicorn.Config:
    """uvicorn's config for ``app`` with the read deadline of ``settings``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=read_deadline_protocol(settings.read_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        **kwargs,
    )


def serve(app: FastAPI, settings: ServerSettings, host: str, port: int) -> None:
    """Serve ``app`` until interrupted."""
    uvicorn.Server(uvicorn_config(app, settings, host, port, log_level="info")).run()
