"""ASGI middleware: the request body limit, and request counts for /metrics."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kedro_gpt.serving.errors import error_body
from kedro_gpt.serving.metrics import Metrics

CLOSE = {"Connection": "close"}
VERSION_HEADER = b"x-model-version"  # the rest of a refused body is not worth reading


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit; FastAPI re-raises HTTP exceptions
    met while reading a body, so it becomes a 413 with an OpenAI error body."""

    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes", headers=CLOSE)


class BodyLimit:
    """Refuse a body over ``max_bytes`` before anything parses it: at once when its
    Content-Length says so (nothing is read), else as soon as the bytes received pass it
    (a chunked body)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            status, message = (
                (413, str(BodyTooLarge(self.max_bytes).detail))
                if length.isdigit()
                else (400, f"invalid Content-Length {length!r}")
            )
            code = "body_too_large" if status == 413 else "invalid_request"
            response = JSONResponse(error_body(status, message, code=code), status, headers=CLOSE)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Count every answered request by route, status and model version
    (``kedro_gpt_requests_total``), and return the request's model lease once the last byte of
    the response (a whole stream) is sent."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        state = scope.setdefault("state", {})  # shared with the request: it holds the lease

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if "served" in state:  # which model answered (the playground's feedback says)
                    version = state["served"].version.encode("latin-1", "replace")
                    message["headers"] = [*message.get("headers", []), (VERSION_HEADER, version)]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint = getattr(scope.get("route"), "path", "other")
            served = state.get("served")
            version = "" if served is None else served.version
            self.metrics.requests.labels(endpoint, str(status), version).inc()
            if served is not None:
                served.release()
