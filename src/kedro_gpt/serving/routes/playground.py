"""``GET /``: the playground, one HTML page and its script (no build step, nothing fetched from
elsewhere). Open without a key: the page asks for it and sends it only in the Authorization
header of its API calls."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter()
STATIC = files("kedro_gpt.serving") / "static"
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def playground() -> HTMLResponse:
    return HTMLResponse((STATIC / "playground.html").read_text("utf-8"), headers=NO_STORE)


@router.get("/playground.js", include_in_schema=False)
async def playground_script() -> Response:
    script = (STATIC / "playground.js").read_text("utf-8")
    return Response(script, media_type="text/javascript; charset=utf-8", headers=NO_STORE)
