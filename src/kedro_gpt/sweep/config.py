"""Typed parameters of a sweep: the search space, the budgets, the sampler, pruner and storage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kedro_gpt.config import StrictModel


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys: ``{"training": {"lr": 1}}`` -> ``{"training.lr": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class Dimension(StrictModel):
    """One searched parameter: ``int`` / ``float`` between ``low`` and ``high`` (``log`` scale, or
    a ``step``), or ``categorical`` among ``choices``."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0)
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> Dimension:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical dimension needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} dimension needs 'low' and 'high'")
        if not self.low < self.high:
            raise ValueError(f"empty range: low {self.low} is not below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range must have low > 0")
        if self.log and self.step is not None:
            raise ValueError("give 'log' or 'step', not both")
        return self

    def refusal(self, value: Any) -> str | None:
        """Why ``value`` is not a point of this dimension, or None when it is."""
        if self.type == "categorical":
            return None if value in (self.choices or []) else f"not one of {self.choices}"
        assert self.low is not None and self.high is not None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"not a number: {value!r}"
        if self.type == "int" and value != int(value):
            return f"not an integer: {value!r}"
        if not self.low <= value <= self.high:
            return f"outside [{self.low}, {self.high}]"
        steps = (value - self.low) / self.step if self.step is not None else 0.0
        if abs(steps - round(steps)) > 1e-6:
            return f"not on the grid of step {self.step} from {self.low}"
        return None


class SweepConfig(StrictModel):
    """Parameters under the ``sweep`` key. Every key of ``space``, ``base`` and ``ablation`` is a
    dotted path into the ``pretraining`` parameters (``training.learning_rate``,
    ``model.n_layer``)."""

    mode: Literal["search", "ablation"] = "search"
    space: dict[str, Dimension] = Field(default_factory=dict)
    base: dict[str, Any] = Field(
        default_factory=dict,
        description="overrides for every trial, e.g. the per-trial budget training.max_minutes: 1",
    )
    ablation: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"model.rope": False},
            {"model.relu2": False},
            {"training.optimizer": "adamw"},
        ],
        description="mode ablation: one set of overrides of base per row",
    )
    enqueue: list[dict[str, Any]] = Field(
        default_factory=list,
        description="mode search: points tried first (e.g. today's defaults), before the "
        "sampler's own; each gives some or all of the space's keys, the sampler the rest; "
        "a resumed study does not repeat them",
    )
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    pruner: Literal["median", "successive_halving", "none"] = "median"
    n_trials: int | None = Field(4, ge=1, description="trials in the study in all (resume counts)")
    timeout_minutes: float | None = Field(None, gt=0, description="this worker's wall-time budget")
    storage: str = Field(
        "sqlite:///data/sweeps/optuna.db",
        description="an SQLAlchemy URL: the study survives a killed run; several workers share it",
    )
    study_name: str = Field("pretraining", min_length=1)
    seed: int = 0
    heartbeat_seconds: int = Field(
        60, ge=1, description="a trial whose worker stopped beating this long is marked failed"
    )
    checkpoint_dir: str = "data/06_models/checkpoints/sweep"

    @field_validator("base", mode="before")
    @classmethod
    def _flat_base(cls, value: Any) -> Any:
        return flatten(value) if isinstance(value, dict) else value

    @field_validator("ablation", "enqueue", mode="before")
    @classmethod
    def _flat_rows(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [flatten(row) if isinstance(row, dict) else row for row in value]

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        if self.mode == "search" and not self.space:
            raise ValueError("mode search needs a non-empty 'space'")
        if self.mode == "ablation" and not self.ablation:
            raise ValueError("mode ablation needs a non-empty 'ablation' list")
        if self.sampler == "grid" and any(
            d.type != "categorical" and d.step is None for d in self.space.values()
        ):
            raise ValueError("the grid sampler needs categorical dimensions or int/float steps")
        if self.n_trials is None and self.timeout_minutes is None and self.mode == "search":
            raise ValueError("give n_trials or timeout_minutes: a search needs a total budget")
        for k, point in enumerate(self.enqueue):
            for key, value in point.items():
                if key not in self.space:
                    raise ValueError(f"enqueue[{k}]: '{key}' is not a key of 'space'")
                refusal = self.space[key].refusal(value)
                if refusal is not None:
                    raise ValueError(f"enqueue[{k}]: '{key}' = {value!r} is {refusal}")
        return self
