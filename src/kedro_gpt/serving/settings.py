"""Server settings: the optional API key and every limit on a request (the address to listen on
is uvicorn's, given to :func:`kedro_gpt.serving.server.serve`)."""

from __future__ import annotations

from pydantic import Field

from kedro_gpt.config import StrictModel


class ServerSettings(StrictModel):
    """Limits are answered, never crashed on: 400/413 for a request over a limit, 429 when the
    queue is full, 503 when a request waited longer than ``queue_timeout_s`` for the model; a
    generation still running after ``request_timeout_s`` ends there with finish_reason
    ``length`` (what was generated is returned). A client has ``read_timeout_s`` to send a
    whole request (headers and body); a body over ``max_body_bytes`` is refused unread (413)."""

    model_name: str = "kedro-gpt"
    api_key: str | None = Field(None, description="require 'Authorization: Bearer <key>'")
    docs: bool = Field(True, description="serve /docs, /redoc and /openapi.json (no key needed)")
    max_body_bytes: int = Field(1_048_576, ge=1, description="largest request body (413 above)")
    read_timeout_s: float = Field(
        20.0, gt=0, description="time to receive a whole request; the connection is cut after"
    )
    max_prompt_tokens: int | None = Field(
        None, ge=1, description="longest prompt in tokens; None = the model's block_size"
    )
    max_tokens_limit: int = Field(512, ge=1, description="largest max_tokens a request may ask")
    default_max_tokens: int = Field(16, ge=0, description="OpenAI's default for completions")
    max_prompts: int = Field(16, ge=1, description="prompts in one completions request")
    request_timeout_s: float = Field(
        60.0, gt=0, description="a running generation is cut here (finish_reason 'length')"
    )
    queue_timeout_s: float = Field(30.0, gt=0, description="longer in the queue: 503")
    max_queue: int = Field(64, ge=1, description="requests waiting for the model")
    batching: bool = True
    max_batch_size: int = Field(8, ge=1)
    batch_window_ms: float = Field(5.0, ge=0, description="wait this long to gather a batch")
    feedback_url: str | None = Field(
        None, description="SQLAlchemy URL of the feedback database; None: no /v1/feedback"
    )
    follow_interval_s: float = Field(
        30.0, ge=0, description="how often to ask whether the followed alias moved; 0 = never"
    )
    drift: bool = Field(True, description="score received prompts when idle (drift metrics)")
    drift_summary_s: float = Field(300.0, gt=0, description="seconds between drift log lines")
