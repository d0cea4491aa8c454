"""Every stage's parameters: conf/base validates, and a value written in conf/base is the code's
default (one value per parameter: the YAML shows what a user edits, the model holds the default)."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from kedro_gpt.config import ConfigError
from kedro_gpt.pipelines.parameters import PARAMETER_MODELS, check_parameters, parameter_keys
from kedro_gpt.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[2] / "conf" / "base"


def _model(key: str) -> type[BaseModel]:
    module, name = PARAMETER_MODELS[key].split(":")
    return getattr(importlib.import_module(module), name)


def _base(key: str) -> dict[str, Any]:
    """What conf/base sets under ``key`` (globals resolved), not what the code fills in."""
    return _base_parameters()[key]


@functools.cache
def _base_parameters() -> dict[str, Any]:
    loader = OmegaConfigLoader(str(CONF.parent), env="base", **CONFIG_LOADER_ARGS)
    return dict(loader["parameters"])


def _differences(
    model: type[BaseModel], values: dict[str, Any], path: str, defaults=None
) -> list[str]:
    """Leaves of ``values`` whose value is not the code's default (a nested model's default
    instance, when it has one, gives the defaults of its fields)."""
    out = []
    for name, value in values.items():
        field = model.model_fields.get(name)
        if field is None:
            continue  # a model that takes free keys (e.g. GPT config overrides)
        default = field.get_default(call_default_factory=True)
        if defaults is not None and name in defaults:
            default = defaults[name]
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if isinstance(value, dict):
                nested = default.model_dump() if isinstance(default, BaseModel) else default
                nested = nested if isinstance(nested, dict) else None
                out += _differences(annotation, value, f"{path}.{name}", nested)
            continue
        if default is None or default is PydanticUndefined or isinstance(default, dict):
            continue  # unset / required (a budget), or user data keyed by name (sets, files)
        if value != default:
            out.append(f"{path}.{name}: conf/base {value!r} != code {default!r}")
    return out


@pytest.mark.parametrize("key", sorted(PARAMETER_MODELS))
def test_conf_base_validates_and_repeats_the_code_defaults(key):
    check_parameters([key], _base)
    differences = _differences(_model(key), _base(key), key)
    assert differences == [], "\n".join(differences)


def test_a_typo_is_an_error_naming_the_key_and_field():
    with pytest.raises(ConfigError, match=r"parameters 'tokenization' -> sentencepiece.vocab_sise"):
        check_parameters(["tokenization"], lambda k: {"sentencepiece": {"vocab_sise": 500}})


def test_parameter_keys_are_the_stage_keys_a_pipeline_reads():
    names = {"params:cleaning", "params:finetuning.task", "documents", "params:adapt.cleaning"}
    assert parameter_keys(names) == ["adapt.cleaning", "cleaning", "finetuning"]


def test_namespaced_parameters_are_checked_with_their_stage_model():
    adapt = _base_parameters()["adapt"]
    check_parameters(["adapt.ingestion", "adapt.pretraining"], lambda k: adapt[k.split(".")[1]])
    with pytest.raises(ConfigError, match=r"parameters 'adapt.cleaning' -> filterz"):
        check_parameters(["adapt.cleaning"], lambda k: {"filterz": {}})
