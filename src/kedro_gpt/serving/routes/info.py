"""``GET /health`` and ``GET /metrics`` (open without a key) and ``GET /v1/models``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.metrics import CONTENT_TYPE
from kedro_gpt.serving.served import ServedDep, authorize

router = APIRouter()


@router.get("/health", response_model=s.Health)
async def health(served: ServedDep) -> s.Health:
    engine = served.engine
    return s.Health(
        model=served.settings.model_name,
        model_version=served.version,
        queued=engine.queued,
        running=engine.running,
    )


@router.get("/metrics", response_class=Response)
async def metrics(served: ServedDep) -> Response:
    served.metrics.queued.set(served.engine.queued)
    served.metrics.running.set(served.engine.running)
    return Response(served.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/models", response_model=s.ModelList, dependencies=[Depends(authorize)])
async def models(served: ServedDep) -> s.ModelList:
    card = s.ModelCard(id=served.settings.model_name, created=served.created)
    return s.ModelList(data=[card])
