"""Request and response bodies of the OpenAI-compatible endpoints (the fields we support).

Unknown request fields are a 400 that names them, so a client never believes an unsupported
option (``logprobs``, ``n`` > 1, penalties) took effect. Types are strict (``max_tokens: true``
or ``"5"`` is a 400, not 1 or 5), text must be valid Unicode (a lone surrogate such as
``"\\ud800"`` is a 400), and sampling values too small to sample in float32 are refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kedro_gpt.unicode_text import Text

MIN_TEMPERATURE = 1e-3  # below it logits / temperature overflow float32 (nan probabilities)
MIN_TOP_P = 1e-6  # below it top_p rounds to 0 in float32 and no token is left


def _sampleable_temperature(value: float) -> float:
    if 0 < value < MIN_TEMPERATURE:
        raise ValueError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE:g}")
    return value


def _sampleable_top_p(value: float) -> float:
    if value < MIN_TOP_P:
        raise ValueError(f"must be at least {MIN_TOP_P:g} (use temperature 0 for greedy)")
    return value


Stop = Text | Annotated[list[Text], Field(max_length=4)] | None
STRICT = ConfigDict(extra="forbid", strict=True)


class _Request(BaseModel):
    model_config = STRICT

    model: Text = Field(..., description="the served model's id (GET /v1/models)")
    temperature: Annotated[float, AfterValidator(_sampleable_temperature)] = Field(
        1.0, ge=0.0, le=2.0, description=f"0 = greedy; else at least {MIN_TEMPERATURE:g}"
    )
    top_p: Annotated[float, AfterValidator(_sampleable_top_p)] = Field(1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1, description="extension: keep the k likeliest tokens")
    n: Literal[1] = Field(1, description="only one choice per prompt")
    stream: bool = False
    stop: Stop = Field(None, description="up to 4 strings that end the text (not returned)")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    user: Text | None = None
    presence_penalty: float = Field(0.0, ge=0.0, le=0.0, description="not supported: 0 only")
    frequency_penalty: float = Field(0.0, ge=0.0, le=0.0, description="not supported: 0 only")
    stream_options: dict[str, bool] | None = None


class CompletionRequest(_Request):
    prompt: Text | Annotated[list[Text], Field(min_length=1)]
    max_tokens: int | None = Field(None, ge=0)
    echo: Literal[False] = False
    logprobs: None = None


class ChatMessage(BaseModel):
    model_config = STRICT

    role: Literal["system", "user", "assistant"]
    content: Text


class ChatCompletionRequest(_Request):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_tokens: int | None = Field(None, ge=0)
    max_completion_tokens: int | None = Field(None, ge=0)
    logprobs: Literal[False] | None = None


class ClassifyRequest(BaseModel):
    model_config = STRICT

    model: Text
    input: Text | list[Text]


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
    model_version: str = Field("", description="registry or catalog version; '' for a folder")
    queued: int
    running: int


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 429, 500, 503)
}
