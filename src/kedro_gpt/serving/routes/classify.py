"""``POST /v1/classify``: labels and probabilities from a model the fine-tuning stage gave a
classification head; 400 for a model without one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.served import ServedDep, authorize

router = APIRouter(dependencies=[Depends(authorize)])


@router.post("/v1/classify", responses=s.ERROR_RESPONSES)
async def classify(body: s.ClassifyRequest, served: ServedDep) -> Any:
    served.check_model(body.model)
    settings = served.settings
    if served.classifier is None:
        raise APIError(
            400,
            f"model {settings.model_name!r} has no classification head; "
            "/v1/classify serves classification models only",
            param="model",
            code="no_classification_head",
        )
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts or len(texts) > settings.max_prompts:
        raise APIError(400, f"send 1 to {settings.max_prompts} texts in 'input'", param="input")
    if any(not t.strip() for t in texts):
        raise APIError(400, "every text in 'input' must be non-empty", param="input")
    data = await run_in_threadpool(served.classify, texts)
    return {"object": "list", "model": settings.model_name, "data": data}
