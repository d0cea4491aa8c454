from pathlib import Path

import pytest
import yaml

from kedro_gpt.config import ConfigError, parse_params
from kedro_gpt.ingest import IngestionConfig, SourceConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def parse(params: dict) -> IngestionConfig:
    return parse_params(IngestionConfig, params, "ingestion")


def test_empty_source_list_names_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"parameters 'ingestion' -> sources: List should have"):
        parse({"sources": []})


def test_missing_sources_key_names_it() -> None:
    with pytest.raises(ConfigError, match=r"'ingestion' -> sources: Field required"):
        parse({})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({}, "exactly one of 'path' or 'url'"),
        ({"path": "a.txt", "url": "http://x/a.txt"}, "exactly one of 'path' or 'url'"),
        ({"url": "http://x/", "glob": "*.txt"}, "'glob' needs a 'path'"),
        ({"url": "ftp://x/a.txt"}, "must be an http\\(s\\) URL"),
        ({"path": "d", "glob": "/abs/*.txt"}, "must be relative"),
        ({"path": "d", "glob": "../*.txt"}, "must be relative"),
        ({"path": "  "}, "path: Value error, must not be empty"),
        ({"path": "a.txt", "format": "pdf"}, "format: Input should be"),
        ({"path": "a.txt", "text_feild": "body"}, "text_feild: Extra inputs are not permitted"),
    ],
)
def test_bad_source_names_its_index_and_key(source: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=r"'ingestion' -> sources\.0") as err:
        parse({"sources": [source]})
    assert err.match(message)


@pytest.mark.parametrize(
    ("key", "value"), [("batch_size", 0), ("batch_max_mb", 0), ("url_timeout_s", -1)]
)
def test_bad_number_names_the_key(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"'ingestion' -> {key}: Input should be greater"):
        parse({"sources": [{"path": "a.txt"}], key: value})


def test_repeated_source_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"sources\[1\] repeats sources\[0\] \(d/\*\.txt\)"):
        parse({"sources": [{"path": "d", "glob": "*.txt"}, {"path": "d/", "glob": "*.txt"}]})


def test_defaults_and_labels() -> None:
    config = parse({"sources": [{"path": "a.txt"}, {"path": "d", "glob": "*.md"}]})
    assert (config.batch_size, config.batch_max_mb, config.url_timeout_s) == (1000, 32.0, 30.0)
    assert [s.label for s in config.sources] == ["a.txt", "d/*.md"]
    assert SourceConfig(url="https://example.org/a").label == "https://example.org/a"
    assert config.sources[0].text_field == "text"


LIMITS = (
    "url_timeout_s",
    "url_deadline_s",
    "url_max_mb",
    "max_file_mb",
    "max_document_mb",
    "binary_control_ratio",
)


@pytest.mark.parametrize("key", LIMITS)
def test_limit_must_be_positive(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"'ingestion' -> {key}: Input should be greater"):
        parse({"sources": [{"path": "a.txt"}], key: 0})


def test_conf_base_states_the_model_defaults() -> None:
    """One default per limit: the model's, which conf/base repeats so a reader sees it."""
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_ingestion.yml").read_text())
    fields = IngestionConfig.model_fields
    for key in (*LIMITS, "batch_size", "batch_max_mb"):
        assert params["ingestion"][key] == fields[key].default, key


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"path": "a.txt", "sha256": "abc"}, "sha256: String should match pattern"),
        ({"path": "d", "glob": "*.txt", "sha256": "0" * 64}, "'sha256' checks one file"),
    ],
)
def test_bad_checksum_is_rejected(source: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse({"sources": [source]})
