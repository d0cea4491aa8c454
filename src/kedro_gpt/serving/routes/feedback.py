"""``POST /v1/feedback``: a rated (or corrected) answer, stored as one row of the feedback
database; 201 with its id once committed. 503 when the server has no feedback database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kedro_gpt.feedback.schema import FeedbackIn
from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.served import ServedDep, authorize

router = APIRouter(dependencies=[Depends(authorize)])


@router.post("/v1/feedback", status_code=201, responses=s.ERROR_RESPONSES)
async def feedback(body: FeedbackIn, served: ServedDep, request: Request) -> Any:
    store = request.app.state.feedback
    if store is None:
        raise APIError(
            503,
            "this server keeps no feedback: start it with a feedback database (--feedback-db)",
            code="feedback_disabled",
        )
    row = await run_in_threadpool(store.add, body, served.version)
    return {"object": "feedback", "id": row}
