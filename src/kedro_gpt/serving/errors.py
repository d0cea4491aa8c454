"""OpenAI-style errors: ``{"error": {"message", "type", "param", "code"}}`` for every 4xx/5xx."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_overloaded",
}


class APIError(Exception):
    """An error answered with ``status`` and an OpenAI error body."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": _utf8(message),
            "type": TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": None if param is None else _utf8(param),
            "code": code,
        }
    }


def _utf8(text: str) -> str:
    """``text`` with lone surrogates (from a request's JSON) escaped, so the body encodes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(err: APIError, headers: dict[str, str] | None = None) -> JSONResponse:
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if err.status == 401 else {})}
    return JSONResponse(
        error_body(err.status, err.message, err.param, err.code), err.status, headers=headers
    )


def _validation_message(err: RequestValidationError) -> tuple[str, str | None]:
    problems, first_param = [], None
    for e in err.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        first_param = first_param or param
        problems.append(f"{param or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request", first_param


def install_error_handlers(app: FastAPI) -> None:
    """Map APIError, validation errors (FastAPI's 422 → 400) and HTTP errors to OpenAI bodies."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, err: APIError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(err)
        return error_response(APIError(400, message, param=param, code="invalid_request"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = getattr(err, "code", None)
        return error_response(APIError(err.status_code, str(err.detail), code=code), err.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, err: Exception) -> JSONResponse:
        return error_response(APIError(500, f"internal error: {type(err).__name__}"))
