"""From a request body to the engine and back: encode prompts off the event loop, submit them,
gather the text (stopping when the client leaves), stream it as server-sent events.

A generation that fails is never a normal finish: before the response starts it is a 500 with an
OpenAI error body; inside a stream it is an ``{"error": …}`` event, with no ``finish_reason``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.engine import GenRequest, QueueFull, Sampling
from kedro_gpt.serving.errors import APIError, error_body
from kedro_gpt.serving.served import Served
from kedro_gpt.serving.textstream import TextStream

GRACE_S = 10.0  # how long past its deadline a handler waits for the worker before giving up
CLIENT_CLOSED = 499  # nginx's status for a client that went away before the answer


async def encode_prompts(served: Served, prompts: list[str]) -> list[list[int]]:
    """Token ids of each prompt, in a worker thread (a long prompt must not stall the loop);
    413 when one is longer than the server accepts."""
    return await run_in_threadpool(lambda: [_encode_prompt(served, p) for p in prompts])


def _encode_prompt(served: Served, prompt: str) -> list[int]:
    tok = served.bundle.tokenizer
    ids = tok.encode(prompt)
    served.drift.offer(prompt)
    if not ids:  # an empty prompt starts a new document
        ids = [served.eot if served.eot is not None else tok.piece_to_id("\n")]
    check_prompt_length(served, ids)
    return ids


def check_prompt_length(served: Served, ids: list[int]) -> None:
    if len(ids) > served.max_prompt_tokens:
        raise APIError(
            413,
            f"the prompt has {len(ids)} tokens; this server accepts at most "
            f"{served.max_prompt_tokens}",
            param="prompt",
            code="context_length_exceeded",
        )


def max_tokens(served: Served, requested: int | None, default: int) -> int:
    """The request's ``max_tokens`` (``default`` when absent); 400 above the server's limit."""
    limit = served.settings.max_tokens_limit
    value = min(default, limit) if requested is None else requested
    if value > limit:
        raise APIError(
            400,
            f"max_tokens {value} is above this server's limit of {limit}",
            param="max_tokens",
            code="max_tokens_too_large",
        )
    return value


def submit_all(
    served: Served,
    body: s.CompletionRequest | s.ChatCompletionRequest,
    prompts: list[list[int]],
    max_new: int,
    stop_ids: frozenset[int],
) -> list[GenRequest]:
    """Queue one generation per prompt; 429 (and none queued) when the queue is full."""
    loop = asyncio.get_running_loop()
    now = time.monotonic()
    deadline = now + served.settings.request_timeout_s
    queue_deadline = now + served.settings.queue_timeout_s
    sampling = Sampling(
        temperature=body.temperature, top_k=body.top_k, top_p=body.top_p, seed=body.seed
    )
    reqs: list[GenRequest] = []
    try:
        for ids in prompts:
            req = GenRequest(ids, max_new, sampling, stop_ids, deadline, loop, queue_deadline)
            served.engine.submit(req)
            reqs.append(req)
    except QueueFull as err:
        for req in reqs:
            req.cancel()
        raise APIError(429, f"the server is busy ({err}); retry later", code="queue_full") from None
    served.metrics.prompt_tokens.inc(sum(map(len, prompts)))
    return reqs


async def _next_event(req: GenRequest) -> tuple[str, Any]:
    wait = max(0.0, max(req.deadline, req.queue_deadline) - time.monotonic()) + GRACE_S
    try:
        return await asyncio.wait_for(req.events.get(), timeout=wait)
    except TimeoutError:
        req.cancel()
        return ("timeout", "the model did not answer in time")


def _raise_for(kind: str, value: Any) -> None:
    if kind == "timeout":
        raise APIError(503, f"{value}; retry later", code="timeout")
    if kind == "error":
        status = 503 if "shutting down" in str(value) else 500
        raise APIError(status, str(value), code="generation_failed")


async def first_event(req: GenRequest) -> tuple[str, Any]:
    """Wait for the first event so that a queued request's timeout or a failing first step is
    still an error status rather than a stream."""
    try:
        event = await _next_event(req)
        _raise_for(*event)
        return event
    except BaseException:
        req.cancel()
        raise


async def _complete(req: GenRequest, stream: TextStream) -> tuple[str, str]:
    """The whole text and finish reason of ``req``."""
    try:
        while True:
            kind, value = await _next_event(req)
            if kind == "token":
                stream.push(value)
                if stream.stopped:
                    return stream.text, "stop"
            elif kind == "done":
                return stream.text, value
            else:
                _raise_for(kind, value)
    finally:
        req.cancel()  # no-op when finished; frees the batch slot otherwise


async def _disconnected(request: Request) -> None:
    """Return when the client closes the connection (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def complete_all(
    request: Request, reqs: list[GenRequest], new_stream: Callable[[], TextStream]
) -> list[tuple[str, str]]:
    """Text and finish reason of every request; if the client disconnects first, every
    generation is cancelled (its batch slot freed) and the answer is a 499."""
    work = asyncio.ensure_future(asyncio.gather(*(_complete(r, new_stream()) for r in reqs)))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            return work.result()
        raise APIError(CLIENT_CLOSED, "the client closed the connection", code="client_closed")
    finally:
        for task in (work, gone):
            task.cancel()
        for req in reqs:
            req.cancel()


async def stream_text(
    req: GenRequest, stream: TextStream, first: tuple[str, Any]
) -> AsyncIterator[tuple[str, Any]]:
    """``("text", delta)`` …, then ``("done", (rest, reason))`` or ``("error", body)``."""
    event = first
    try:
        while True:
            kind, value = event
            if kind == "token":
                delta = stream.push(value)
                if stream.stopped:
                    yield "done", (delta, "stop")
                    return
                if delta:
                    yield "text", delta
            elif kind == "done":
                yield "done", (stream.finish(), value)
                return
            else:  # headers are sent: report the error in the stream, as OpenAI does
                status = 503 if kind == "timeout" else 500
                yield "error", error_body(status, str(value), code=kind)
                return
            event = await _next_event(req)
    finally:
        req.cancel()


def usage(reqs: list[GenRequest]) -> s.Usage:
    prompt = sum(len(r.prompt_ids) for r in reqs)
    completion = sum(r.generated for r in reqs)
    return s.Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def include_usage(body: s.CompletionRequest | s.ChatCompletionRequest) -> bool:
    return bool((body.stream_options or {}).get("include_usage"))


def stops(stop: str | list[str] | None) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop or [])


def sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
