"""The cleaning parameters: YAML defaults equal the model's, and bad values name their key."""

from __future__ import annotations

import pytest

from kedro_gpt.config import ConfigError, parse_params
from kedro_gpt.text.config import CleaningConfig
from tests.text.conftest import default_params


def test_yaml_defaults_equal_the_model_defaults():
    assert parse_params(CleaningConfig, default_params(), "cleaning") == CleaningConfig()


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"html": {"extractor": "lynx"}}, "html.extractor"),
        ({"filters": {"length": {"min_words": -1}}}, "filters.length.min_words"),
        ({"filters": {"length": {"min_chars": 500, "max_chars": 100}}}, "filters.length"),
        (
            {"filters": {"alpha": {"min_alpha_word_fraction": 1.5}}},
            "filters.alpha.min_alpha_word_fraction",
        ),
        (
            {"filters": {"repeated_ngrams": {"max_top_ngram_char_fraction": {2: 2.0}}}},
            "filters.repeated_ngrams",
        ),
        ({"dedup": {"near": {"threshold": 1.0}}}, "dedup.near.threshold"),
        ({"dedup": {"near": {"shingle_size": 0}}}, "dedup.near.shingle_size"),
        ({"normalize": {"max_blank_lines": -2}}, "normalize.max_blank_lines"),
        ({"normalize": {"nfkc": True}}, "normalize.nfkc"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_values_name_the_key(params, names):
    with pytest.raises(ConfigError, match=rf"parameters 'cleaning' -> {names}"):
        parse_params(CleaningConfig, params, "cleaning")
