"""Request and response bodies of the OpenAI-compatible endpoints (the fields we support).

Unknown request fields are a 400 that names them, so a client never believes an unsupported
option (``logprobs``, ``n`` > 1, penalties) took effect.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Stop = str | Annotated[list[str], Field(max_length=4)] | None


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(..., description="the served model's id (GET /v1/models)")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1, description="extension: keep the k likeliest tokens")
    n: Literal[1] = Field(1, description="only one choice per prompt")
    stream: bool = False
    stop: Stop = Field(None, description="up to 4 strings that end the text (not returned)")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    user: str | None = None
    presence_penalty: float = Field(0.0, ge=0.0, le=0.0, description="not supported: 0 only")
    frequency_penalty: float = Field(0.0, ge=0.0, le=0.0, description="not supported: 0 only")
    stream_options: dict[str, bool] | None = None


class CompletionRequest(_Request):
    prompt: str | Annotated[list[str], Field(min_length=1)]
    max_tokens: int | None = Field(None, ge=0)
    echo: Literal[False] = False
    logprobs: None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatCompletionRequest(_Request):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_tokens: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    logprobs: Literal[False] | None = None


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    input: str | list[str]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


FinishReason = Literal["stop", "length"] | None


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: None = None
    finish_reason: FinishReason


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: Delta
    logprobs: None = None
    finish_reason: FinishReason


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "kedro-gpt"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    queued: int
    running: int


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail
