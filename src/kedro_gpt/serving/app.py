"""The OpenAI-compatible FastAPI app around one :class:`ModelBundle`.

``POST /v1/completions`` and ``/v1/chat/completions`` (JSON, or server-sent events with
``stream: true`` ending in ``data: [DONE]``), ``GET /v1/models``, ``GET /health``,
``GET /metrics`` (Prometheus), ``POST /v1/classify`` (labels and probabilities from a model the
fine-tuning stage gave a classification head; 400 for a model without one). Every error has an OpenAI body; see :mod:`kedro_gpt.serving.errors`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import torch
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from kedro_gpt.finetune.batches import classification_row, collate
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.serving import schemas as s
from kedro_gpt.serving.engine import GenerationEngine, GenRequest, QueueFull, Sampling
from kedro_gpt.serving.errors import APIError, error_body, install_error_handlers
from kedro_gpt.serving.metrics import CONTENT_TYPE, Metrics
from kedro_gpt.serving.settings import ServerSettings
from kedro_gpt.serving.textstream import TextStream
from kedro_gpt.tokenizer.chat import encode_chat
from kedro_gpt.tokenizer.special_tokens import ENDOFTEXT, find_token_id

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorResponse} for code in (400, 401, 404, 413, 429, 503)
}
GRACE_S = 10.0  # how long past its deadline a handler waits for the worker before giving up


class _Served:
    """What a request handler needs: the bundle, settings, engine, metrics, token ids."""

    def __init__(self, bundle: ModelBundle, settings: ServerSettings) -> None:
        self.bundle = bundle
        self.settings = settings
        self.metrics = Metrics()
        self.engine = GenerationEngine(
            bundle.model,
            max_queue=settings.max_queue,
            batching=settings.batching,
            max_batch_size=settings.max_batch_size,
            batch_window_ms=settings.batch_window_ms,
            on_batch=self.metrics.batch_size.observe,
            on_tokens=self.metrics.generated_tokens.inc,
        )
        self.eot = find_token_id(bundle.tokenizer, ENDOFTEXT)
        self.max_prompt_tokens = settings.max_prompt_tokens or bundle.config.block_size
        self.created = int(time.time())
        head = bundle.info.get("classifier")  # saved by the fine-tuning stage's classification task
        self.classifier = GPTClassifier.from_head_state(bundle.model, head).eval() if head else None
        self.labels: list[str] = list(head["labels"]) if head else []

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        """Label and per-label probabilities of each text (its first ``block_size`` tokens)."""
        assert self.classifier is not None
        block = self.bundle.config.block_size
        rows = [classification_row(self.bundle.tokenizer.encode(t), 0, block) for t in texts]
        x, _ = collate([r for r in rows if r is not None], self.classifier.pad_id)
        with torch.inference_mode():
            probs = torch.softmax(self.classifier(x)[0], dim=-1).tolist()
        return [
            {
                "index": i,
                "label": self.labels[max(range(len(p)), key=p.__getitem__)],
                "scores": dict(zip(self.labels, p, strict=True)),
            }
            for i, p in enumerate(probs)
        ]

    def decode(self, ids: list[int]) -> str:
        return self.bundle.tokenizer.decode(ids)


def create_app(bundle: ModelBundle, settings: ServerSettings | None = None) -> FastAPI:
    """An app serving ``bundle``; the generation worker starts and stops with the app."""
    settings = settings or ServerSettings()
    served = _Served(bundle, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served.engine.start()
        try:
            yield
        finally:
            served.engine.stop()

    app = FastAPI(
        title="kedro-gpt",
        version="1",
        description="An OpenAI-compatible API for a kedro-gpt model.",
        lifespan=lifespan,
    )
    app.state.served = served
    install_error_handlers(app)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "other")
        served.metrics.requests.labels(endpoint, str(response.status_code)).inc()
        return response

    @app.get("/health", response_model=s.Health)
    async def health() -> s.Health:
        return s.Health(
            model=settings.model_name, queued=served.engine.queued, running=served.engine.running
        )

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        served.metrics.queued.set(served.engine.queued)
        served.metrics.running.set(served.engine.running)
        return Response(served.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/models", response_model=s.ModelList, dependencies=[Depends(_authorize)])
    async def models() -> s.ModelList:
        return s.ModelList(data=[s.ModelCard(id=settings.model_name, created=served.created)])

    @app.post(
        "/v1/completions",
        response_model=s.Completion,
        responses=ERRORS,
        dependencies=[Depends(_authorize)],
    )
    async def completions(body: s.CompletionRequest) -> Any:
        _check_model(body.model, settings)
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) > settings.max_prompts:
            raise APIError(
                400, f"at most {settings.max_prompts} prompts per request", param="prompt"
            )
        if body.stream and len(prompts) > 1:
            raise APIError(400, "streaming takes a single prompt", param="prompt")
        max_tokens = _max_tokens(body.max_tokens, settings.default_max_tokens, settings)
        encoded = [_encode_prompt(served, p) for p in prompts]
        stop_ids = frozenset() if served.eot is None else frozenset({served.eot})
        reqs = _submit_all(served, body, encoded, max_tokens, stop_ids)
        cid, started = f"cmpl-{uuid.uuid4().hex}", time.monotonic()

        if body.stream:
            stream = TextStream(served.decode, _stops(body.stop))
            first = await _first_event(reqs[0])

            def chunk(text: str, reason: str | None) -> dict:
                return s.Completion(
                    id=cid,
                    created=int(time.time()),
                    model=settings.model_name,
                    choices=[s.CompletionChoice(index=0, text=text, finish_reason=reason)],
                ).model_dump()

            async def events() -> AsyncIterator[str]:
                async for kind, value in _stream_text(reqs[0], stream, first):
                    if kind == "text":
                        yield _sse(chunk(value, None))
                    elif kind == "done":
                        yield _sse(chunk(value[0], value[1]))
                        if _include_usage(body):
                            yield _sse(
                                {
                                    **chunk("", None),
                                    "choices": [],
                                    "usage": _usage(reqs).model_dump(),
                                }
                            )
                    else:
                        yield _sse(value)
                served.metrics.latency.labels("/v1/completions").observe(time.monotonic() - started)
                yield "data: [DONE]\n\n"

            return _event_stream(events())

        results = await asyncio.gather(
            *(_complete(r, TextStream(served.decode, _stops(body.stop))) for r in reqs)
        )
        served.metrics.latency.labels("/v1/completions").observe(time.monotonic() - started)
        return s.Completion(
            id=cid,
            created=int(time.time()),
            model=settings.model_name,
            choices=[
                s.CompletionChoice(index=i, text=text, finish_reason=reason)
                for i, (text, reason) in enumerate(results)
            ],
            usage=_usage(reqs),
        )

    @app.post(
        "/v1/chat/completions",
        response_model=s.ChatCompletion,
        responses=ERRORS,
        dependencies=[Depends(_authorize)],
    )
    async def chat_completions(body: s.ChatCompletionRequest) -> Any:
        _check_model(body.model, settings)
        if served.eot is None:
            raise APIError(
                400, "this model's tokenizer has no chat tokens", code="no_chat_template"
            )
        limit = body.max_completion_tokens if body.max_completion_tokens is not None else None
        requested = limit if limit is not None else body.max_tokens
        max_tokens = _max_tokens(requested, settings.max_tokens_limit, settings)
        try:
            ids, _ = encode_chat(
                served.bundle.tokenizer,
                [m.model_dump() for m in body.messages],
                add_generation_prompt=True,
            )
        except ValueError as err:
            raise APIError(400, str(err), param="messages", code="no_chat_template") from None
        _check_prompt_length(served, ids)
        (req,) = _submit_all(served, body, [ids], max_tokens, frozenset({served.eot}))
        cid, started = f"chatcmpl-{uuid.uuid4().hex}", time.monotonic()
        stream = TextStream(served.decode, _stops(body.stop))

        if body.stream:
            first = await _first_event(req)

            def chunk(delta: s.Delta, reason: str | None) -> dict:
                return s.ChatCompletionChunk(
                    id=cid,
                    created=int(time.time()),
                    model=settings.model_name,
                    choices=[s.ChatChunkChoice(index=0, delta=delta, finish_reason=reason)],
                ).model_dump(exclude_none=False)

            async def events() -> AsyncIterator[str]:
                yield _sse(chunk(s.Delta(role="assistant", content=""), None))
                async for kind, value in _stream_text(req, stream, first):
                    if kind == "text":
                        yield _sse(chunk(s.Delta(content=value), None))
                    elif kind == "done":
                        if value[0]:
                            yield _sse(chunk(s.Delta(content=value[0]), None))
                        yield _sse(chunk(s.Delta(), value[1]))
                        if _include_usage(body):
                            yield _sse(
                                {
                                    **chunk(s.Delta(), None),
                                    "choices": [],
                                    "usage": _usage([req]).model_dump(),
                                }
                            )
                    else:
                        yield _sse(value)
                served.metrics.latency.labels("/v1/chat/completions").observe(
                    time.monotonic() - started
                )
                yield "data: [DONE]\n\n"

            return _event_stream(events())

        text, reason = await _complete(req, stream)
        served.metrics.latency.labels("/v1/chat/completions").observe(time.monotonic() - started)
        return s.ChatCompletion(
            id=cid,
            created=int(time.time()),
            model=settings.model_name,
            choices=[
                s.ChatChoice(
                    index=0, message=s.AssistantMessage(content=text), finish_reason=reason
                )
            ],
            usage=_usage([req]),
        )

    @app.post("/v1/classify", responses=ERRORS, dependencies=[Depends(_authorize)])
    async def classify(body: s.ClassifyRequest) -> Any:
        _check_model(body.model, settings)
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
        data = await asyncio.to_thread(served.classify, texts)
        return {"object": "list", "model": settings.model_name, "data": data}

    return app


# -- helpers ---------------------------------------------------------------------------------------

_BEARER = HTTPBearer(auto_error=False)


def _authorize(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> None:
    """With an API key configured, a request needs ``Authorization: Bearer <key>``."""
    key = request.app.state.served.settings.api_key
    if key is not None and (creds is None or creds.credentials != key):
        raise APIError(
            401,
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            code="invalid_api_key",
        )


def _check_model(name: str, settings: ServerSettings) -> None:
    if name != settings.model_name:
        raise APIError(
            404,
            f"model {name!r} not found; this server serves {settings.model_name!r}",
            param="model",
            code="model_not_found",
        )


def _max_tokens(requested: int | None, default: int, settings: ServerSettings) -> int:
    value = min(default, settings.max_tokens_limit) if requested is None else requested
    if value > settings.max_tokens_limit:
        raise APIError(
            400,
            f"max_tokens {value} is above this server's limit of {settings.max_tokens_limit}",
            param="max_tokens",
            code="max_tokens_too_large",
        )
    return value


def _encode_prompt(served: _Served, prompt: str) -> list[int]:
    sp = served.bundle.tokenizer
    ids = sp.encode(prompt)
    if not ids:  # an empty prompt starts a new document
        ids = [served.eot if served.eot is not None else sp.piece_to_id("\n")]
    _check_prompt_length(served, ids)
    return ids


def _check_prompt_length(served: _Served, ids: list[int]) -> None:
    if len(ids) > served.max_prompt_tokens:
        raise APIError(
            413,
            f"the prompt has {len(ids)} tokens; this server accepts at most "
            f"{served.max_prompt_tokens}",
            param="prompt",
            code="context_length_exceeded",
        )


def _stops(stop: str | list[str] | None) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop or [])


def _include_usage(body: BaseModel) -> bool:
    return bool((getattr(body, "stream_options", None) or {}).get("include_usage"))


def _submit_all(
    served: _Served,
    body: s.CompletionRequest | s.ChatCompletionRequest,
    prompts: list[list[int]],
    max_tokens: int,
    stop_ids: frozenset[int],
) -> list[GenRequest]:
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
            req = GenRequest(ids, max_tokens, sampling, stop_ids, deadline, loop, queue_deadline)
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
        raise APIError(503 if "shutting down" in str(value) else 500, str(value))


async def _first_event(req: GenRequest) -> tuple[str, Any]:
    """Wait for the first event so a queued request's timeout is still a 503 status."""
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
        req.cancel()  # no-op when finished; frees the batch slot when the client went away


async def _stream_text(
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


def _usage(reqs: list[GenRequest]) -> s.Usage:
    prompt = sum(len(r.prompt_ids) for r in reqs)
    completion = sum(r.generated for r in reqs)
    return s.Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
