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
}


def parameter_keys(dataset_names: Iterable[str]) -> list[str]:
    """The top-level parameters keys among a pipeline's inputs (``params:x`` and ``params:x.y``)."""
    keys = {
        n.removeprefix("params:").split(".")[0] for n in dataset_names if n.startswith("params:")
    }
    return sorted(keys)


def check_parameters(keys: Iterable[str], load: Callable[[str], Any]) -> None:
    """Validate each key's parameters with its stage model; raises ``ConfigError`` naming the key."""
    for key in keys:
        target = PARAMETER_MODELS.get(key)
        if target is None:
            continue
        module, name = target.split(":")
        parse_params(getattr(importlib.import_module(module), name), load(key), key)
