"""One rated exchange as the playground (or any client) sends it to ``POST /v1/feedback``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kedro_gpt.config import StrictModel
from kedro_gpt.unicode_text import Text

MAX_TEXT = 32_000  # characters in a prompt, an answer or an edited answer
MAX_COMMENT = 2_000
MAX_MESSAGES = 64


class FeedbackMessage(StrictModel):
    role: Literal["system", "user", "assistant"]
    content: Text = Field(max_length=MAX_TEXT)


class Sampling(StrictModel):
    """The sampling settings that produced the answer (recorded, never trusted for anything)."""

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=0)
    seed: int | None = None


class FeedbackIn(StrictModel):
    """A chat exchange (``messages``, the conversation before the answer) or a completion
    (``prompt``), the ``answer`` the model gave, and at least one of ``rating``, ``comment`` or
    ``edited_answer`` (the corrected text, the most useful of the three)."""

    messages: list[FeedbackMessage] | None = Field(None, min_length=1, max_length=MAX_MESSAGES)
    prompt: Text | None = Field(None, max_length=MAX_TEXT)
    answer: Text = Field(max_length=MAX_TEXT)
    rating: Literal["up", "down"] | None = None
    comment: Text | None = Field(None, max_length=MAX_COMMENT)
    edited_answer: Text | None = Field(None, max_length=MAX_TEXT)
    model: Text | None = Field(None, max_length=200, description="the served model's name")
    model_version: Text | None = Field(
        None, max_length=200, description="the answer's X-Model-Version header; default: now's"
    )
    sampling: Sampling = Sampling()

    @model_validator(mode="after")
    def _complete(self) -> FeedbackIn:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("send either messages (chat) or prompt (completion), not both")
        if self.rating is None and not self.comment and not self.edited_answer:
            raise ValueError("feedback needs a rating, a comment or an edited_answer")
        return self

    @property
    def mode(self) -> str:
        return "chat" if self.messages is not None else "completion"
