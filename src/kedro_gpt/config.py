"""Typed parameters: every node validates its parameters dict into a pydantic model here.

A bad value gets an error that names the parameters key and the offending field, for example
``parameters 'cleaning' -> filters.min_chars: Input should be greater than or equal to 0``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A parameters value that fails validation; the message names the key."""


class StrictModel(BaseModel):
    """Base for parameter models: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_params(model: type[M], params: dict[str, Any] | None, name: str) -> M:
    """Validate ``params`` (the dict under parameters key ``name``) into ``model``."""
    try:
        return model.model_validate(params or {})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"parameters '{name}' -> {problems}") from None
