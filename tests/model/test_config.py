"""GPTConfig validation, dict round trip, GPT-2 layout flag, presets."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.model import GPT, PRESETS, GPTConfig, model_config
from kedro_gpt.model.config import GPT2_SWITCHES


def test_defaults_are_the_gpt2_layout() -> None:
    assert GPTConfig().is_gpt2_layout


@pytest.mark.parametrize(
    ("switch", "value"),
    [
        ("rope", True),
        ("qk_norm", True),
        ("relu2", True),
        ("tie_embeddings", False),
        ("zero_init_proj", True),
        ("logit_softcap", 30.0),
        ("value_embeddings", True),
        ("reverse", True),
    ],
)
def test_any_switch_leaves_the_gpt2_layout(switch: str, value: object) -> None:
    assert switch in GPT2_SWITCHES
    assert not GPTConfig(**{switch: value}).is_gpt2_layout


def test_dict_round_trip() -> None:
    config = GPTConfig(vocab_size=100, n_layer=3, rope=True, logit_softcap=15.0, dropout=0.1)
    d = config.to_dict()
    assert d["n_layer"] == 3 and d["logit_softcap"] == 15.0
    assert GPTConfig.from_dict(d) == config


def test_unknown_key_is_named() -> None:
    with pytest.raises(ValueError, match="'n_layers'"):
        GPTConfig.from_dict({"n_layers": 4})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_embd": 100, "n_head": 3}, "n_embd .100. must be divisible by n_head .3."),
        ({"n_embd": 30, "n_head": 2, "rope": True}, "rope needs an even head dimension"),
        ({"n_layer": 0}, "n_layer must be a positive integer"),
        ({"block_size": True}, "block_size must be a positive integer"),
        ({"vocab_size": "2048"}, "vocab_size must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"logit_softcap": 0.0}, "logit_softcap must be a positive number"),
        ({"rope": "yes"}, "rope must be true or false"),
    ],
)
def test_bad_values_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GPTConfig(**kwargs)


def test_model_config_layers_preset_and_overrides() -> None:
    config = model_config("cpu-small", 500, dropout=0.1, rope=True)
    assert config.vocab_size == 500
    assert config.n_layer == PRESETS["cpu-small"]["n_layer"]
    assert config.dropout == 0.1 and config.rope
    assert model_config(None, 77) == GPTConfig(vocab_size=77)


def test_model_config_names_unknown_preset_and_key() -> None:
    with pytest.raises(ValueError, match="'gpt3'.*cpu-small"):
        model_config("gpt3", 100)
    with pytest.raises(ValueError, match="'nlayer'"):
        model_config("gpt2", 100, nlayer=3)


@pytest.mark.parametrize(
    ("preset", "expected"),
    # Parameter counts of the released GPT-2 checkpoints (vocabulary 50257, tied head).
    [("gpt2", 124_439_808), ("gpt2-medium", 354_823_168), ("gpt2-xl", 1_557_611_200)],
)
def test_gpt2_presets_have_the_published_parameter_counts(preset: str, expected: int) -> None:
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = GPT(model_config(preset, 50257))
    assert model.num_params(non_embedding=False) == expected


@pytest.mark.parametrize(
    ("n_layer", "tables", "fed"),
    [(1, 1, [0]), (2, 1, [0, 0]), (4, 2, [0, 1, 0, 1]), (12, 3, [0, 1, 2, *[None] * 6, 0, 1, 2])],
)
def test_value_embedding_tables_feed_the_first_and_last_layers(n_layer, tables, fed) -> None:
    config = GPTConfig(n_layer=n_layer, value_embeddings=True)
    assert config.value_embed_tables == tables
    assert [config.value_embed_layer_table(i) for i in range(n_layer)] == fed
    assert GPTConfig(n_layer=n_layer).value_embed_tables == 0


def test_a_saved_config_from_before_reverse_loads_as_forward() -> None:
    saved = GPTConfig().to_dict()
    del saved["reverse"]
    assert GPTConfig.from_dict(saved, require_all=True).reverse is False
    del saved["n_layer"]
    with pytest.raises(ValueError, match="missing GPTConfig key.*'n_layer'"):
        GPTConfig.from_dict(saved, require_all=True)
