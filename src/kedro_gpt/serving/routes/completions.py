"""``POST /v1/completions``: one prompt or several, as JSON or (one prompt) server-sent events."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request

from kedro_gpt.serving import generation as g
from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.engine import GenRequest
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.served import Served, ServedDep, authorize
from kedro_gpt.serving.textstream import TextStream

ENDPOINT = "/v1/completions"
router = APIRouter(dependencies=[Depends(authorize)])


@router.post(ENDPOINT, response_model=s.Completion, responses=s.ERROR_RESPONSES)
async def completions(body: s.CompletionRequest, served: ServedDep, request: Request) -> Any:
    served.check_model(body.model)
    served.check_generates()
    limit = served.settings.max_prompts
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if len(prompts) > limit:
        raise APIError(400, f"at most {limit} prompts per request", param="prompt")
    if body.stream and len(prompts) > 1:
        raise APIError(400, "streaming takes a single prompt", param="prompt")
    max_new = g.max_tokens(served, body.max_tokens, served.settings.default_max_tokens)
    encoded = await g.encode_prompts(served, prompts)
    stop_ids = frozenset() if served.eot is None else frozenset({served.eot})
    reqs = g.submit_all(served, body, encoded, max_new, stop_ids)
    cid, started = f"cmpl-{uuid.uuid4().hex}", time.monotonic()
    if body.stream:
        first = await g.first_event(reqs[0])
        return g.event_stream(_events(served, body, reqs[0], first, cid, started))
    results = await g.complete_all(
        request, reqs, lambda: TextStream(served.decode, g.stops(body.stop))
    )
    served.metrics.latency.labels(ENDPOINT).observe(time.monotonic() - started)
    return s.Completion(
        id=cid,
        created=int(time.time()),
        model=served.settings.model_name,
        choices=[
            s.CompletionChoice(index=i, text=text, finish_reason=reason)
            for i, (text, reason) in enumerate(results)
        ],
        usage=g.usage(reqs),
    )


async def _events(
    served: Served,
    body: s.CompletionRequest,
    req: GenRequest,
    first: tuple[str, Any],
    cid: str,
    started: float,
) -> AsyncIterator[str]:
    def chunk(text: str, reason: str | None) -> dict:
        return s.Completion(
            id=cid,
            created=int(time.time()),
            model=served.settings.model_name,
            choices=[s.CompletionChoice(index=0, text=text, finish_reason=reason)],
        ).model_dump()

    stream = TextStream(served.decode, g.stops(body.stop))
    async for kind, value in g.stream_text(req, stream, first):
        if kind == "text":
            yield g.sse(chunk(value, None))
        elif kind == "done":
            yield g.sse(chunk(value[0], value[1]))
            if g.include_usage(body):
                yield g.sse(
                    {**chunk("", None), "choices": [], "usage": g.usage([req]).model_dump()}
                )
        else:
            yield g.sse(value)
    served.metrics.latency.labels(ENDPOINT).observe(time.monotonic() - started)
    yield "data: [DONE]\n\n"
