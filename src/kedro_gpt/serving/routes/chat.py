"""``POST /v1/chat/completions``: messages rendered with the project's chat template."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from kedro_gpt.serving import generation as g
from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.engine import GenRequest
from kedro_gpt.serving.errors import APIError
from kedro_gpt.serving.served import Served, ServedDep, authorize
from kedro_gpt.serving.textstream import TextStream
from kedro_gpt.tokenizer.chat import encode_chat

ENDPOINT = "/v1/chat/completions"
router = APIRouter(dependencies=[Depends(authorize)])


@router.post(ENDPOINT, response_model=s.ChatCompletion, responses=s.ERROR_RESPONSES)
async def chat_completions(
    body: s.ChatCompletionRequest, served: ServedDep, request: Request
) -> Any:
    served.check_model(body.model)
    served.check_generates()
    if served.eot is None:
        raise APIError(400, "this model's tokenizer has no chat tokens", code="no_chat_template")
    requested = (
        body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    )
    max_new = g.max_tokens(served, requested, served.settings.max_tokens_limit)
    ids = await run_in_threadpool(_encode, served, body)
    (req,) = g.submit_all(served, body, [ids], max_new, frozenset({served.eot}))
    cid, started = f"chatcmpl-{uuid.uuid4().hex}", time.monotonic()
    if body.stream:
        first = await g.first_event(req)
        return g.event_stream(_events(served, body, req, first, cid, started))
    ((text, reason),) = await g.complete_all(
        request, [req], lambda: TextStream(served.decode, g.stops(body.stop))
    )
    served.metrics.latency.labels(ENDPOINT).observe(time.monotonic() - started)
    return s.ChatCompletion(
        id=cid,
        created=int(time.time()),
        model=served.settings.model_name,
        choices=[
            s.ChatChoice(index=0, message=s.AssistantMessage(content=text), finish_reason=reason)
        ],
        usage=g.usage([req]),
    )


def _encode(served: Served, body: s.ChatCompletionRequest) -> list[int]:
    try:
        ids, _ = encode_chat(
            served.bundle.tokenizer,
            [m.model_dump() for m in body.messages],
            add_generation_prompt=True,
        )
    except ValueError as err:
        raise APIError(400, str(err), param="messages", code="no_chat_template") from None
    g.check_prompt_length(served, ids)
    served.drift.offer("\n".join(m.content for m in body.messages if m.role == "user"))
    return ids


async def _events(
    served: Served,
    body: s.ChatCompletionRequest,
    req: GenRequest,
    first: tuple[str, Any],
    cid: str,
    started: float,
) -> AsyncIterator[str]:
    def chunk(delta: s.Delta, reason: str | None) -> dict:
        return s.ChatCompletionChunk(
            id=cid,
            created=int(time.time()),
            model=served.settings.model_name,
            choices=[s.ChatChunkChoice(index=0, delta=delta, finish_reason=reason)],
        ).model_dump(exclude_none=False)

    stream = TextStream(served.decode, g.stops(body.stop))
    yield g.sse(chunk(s.Delta(role="assistant", content=""), None))
    async for kind, value in g.stream_text(req, stream, first):
        if kind == "text":
            yield g.sse(chunk(s.Delta(content=value), None))
        elif kind == "done":
            if value[0]:
                yield g.sse(chunk(s.Delta(content=value[0]), None))
            yield g.sse(chunk(s.Delta(), value[1]))
            if g.include_usage(body):
                usage = g.usage([req]).model_dump()
                yield g.sse({**chunk(s.Delta(), None), "choices": [], "usage": usage})
        else:
            yield g.sse(value)
    served.metrics.latency.labels(ENDPOINT).observe(time.monotonic() - started)
    yield "data: [DONE]\n\n"
