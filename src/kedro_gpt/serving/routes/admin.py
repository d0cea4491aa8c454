"""``POST /admin/reload``: load the served model reference again now (the registry alias's
current version, or the catalog's latest) and switch to it between requests. Needs the API key:
a server started without one has no admin endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.served import ServedDep, authorize

router = APIRouter(dependencies=[Depends(authorize)])


@router.post("/admin/reload", responses=s.ERROR_RESPONSES)
async def reload(served: ServedDep, request: Request, force: bool = False) -> Any:
    if served.settings.api_key is None:
        raise APIError(403, "admin endpoints need an API key: start the server with --api-key")
    follower = request.app.state.follower
    if follower is None:
        raise APIError(400, "this server serves a fixed model (no --model reference to reload)")
    try:
        return await run_in_threadpool(follower.check, force)
    except (OSError, ValueError) as err:  # the reference is gone or the new model is unreadable
        raise APIError(502, f"could not load the new model: {err}", code="reload_failed") from None
