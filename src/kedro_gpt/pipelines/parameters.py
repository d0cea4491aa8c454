"""Each stage's parameters key and the typed model that validates it.

The nodes validate their own parameters; ``ParameterCheckHooks`` validates every key that a run's
nodes read before the first node starts, so a typo in ``tokenization`` fails in a second, not
after ingestion and cleaning have run. Models are imported by name, so a data-only run does not
import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from kedro_gpt.config import parse_params

PARAMETER_MODELS = {
    "ingestion": "kedro_gpt.ingest.config:IngestionConfig",
    "cleaning": "kedro_gpt.text.config:CleaningConfig",
    "tokenization": "kedro_gpt.tokenizer.config:TokenizationConfig",
    "pretraining": "kedro_gpt.pipelines.pretraining.config:PretrainingConfig",
    "evaluation": "kedro_gpt.pipelines.evaluation.config:EvaluationConfig",
    "finetuning": "kedro_gpt.finetune.config:FinetuningConfig",
    "comparison": "kedro_gpt.pipelines.comparison.config:ComparisonConfig",
    "sweep": "kedro_gpt.sweep.config:SweepConfig",
    "retrain": "kedro_gpt.retraining:RetrainConfig",
}


def parameter_keys(dataset_names: Iterable[str]) -> list[str]:
    """The stage parameters a pipeline reads, as dotted paths: ``params:cleaning`` and
    ``params:cleaning.filters`` give ``cleaning``; a namespaced ``params:adapt.cleaning`` gives
    ``adapt.cleaning``; keys that name no stage give their first part."""
    keys = set()
    for name in dataset_names:
        if not name.startswith("params:"):
            continue
        parts = name.removeprefix("params:").split(".")
        stage = next((i for i, part in enumerate(parts) if part in PARAMETER_MODELS), 0)
        keys.add(".".join(parts[: stage + 1]))
    return sorted(keys)


def check_parameters(keys: Iterable[str], load: Callable[[str], Any]) -> None:
    """Validate each key's parameters with its stage's model (``adapt.cleaning`` with cleaning's);
    raises ``ConfigError`` naming the key."""
    for key in keys:
        target = PARAMETER_MODELS.get(key.rsplit(".", 1)[-1])
        if target is None:
            continue
        module, name = target.split(":")
        parse_params(getattr(importlib.import_module(module), name), load(key), key)
