from pathlib import Path

import pytest
import yaml

from kedro_gpt.ingest import IngestionConfig, IngestionError, SourceConfig, detect_format
from kedro_gpt.ingest.sources import resolve_source, resolve_sources

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", ("txt", "none")),
        ("A.MD", ("md", "none")),
        ("page.htm", ("html", "none")),
        ("page.html.gz", ("html", "gzip")),
        ("corpus.v2.jsonl.zst", ("jsonl", "zstd")),
        ("rows.csv", ("csv", "none")),
        ("rows.parquet", ("parquet", "none")),
        ("image.png", (None, "none")),
        ("data.gz", (None, "gzip")),
        ("README", (None, "none")),
    ],
)
def test_detect_format(name: str, expected: tuple) -> None:
    assert detect_format(name) == expected


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(IngestionError, match=f"source path not found: {missing}"):
        resolve_source(SourceConfig(path=str(missing)))


def test_glob_matching_nothing_names_the_glob(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(IngestionError, match=rf"glob '\*\.md' in {tmp_path} matched no files"):
        resolve_source(SourceConfig(path=str(tmp_path), glob="*.md"))


def test_folder_without_glob_asks_for_one(tmp_path: Path) -> None:
    with pytest.raises(IngestionError, match=f"{tmp_path} is a folder: add a 'glob'"):
        resolve_source(SourceConfig(path=str(tmp_path)))


def test_glob_on_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(IngestionError, match="has a 'glob' but is not a folder"):
        resolve_source(SourceConfig(path=str(tmp_path / "a.txt"), glob="*"))


def test_unknown_extension_names_the_file_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "notes.rst").write_text("x")
    with pytest.raises(IngestionError, match=r"notes\.rst: cannot tell the format.*set 'format'"):
        resolve_source(SourceConfig(path=str(tmp_path), glob="*"))
    [entry] = resolve_source(SourceConfig(path=str(tmp_path), glob="*", format="txt"))
    assert (entry.format, entry.compression) == ("txt", "none")


def test_glob_is_sorted_recursive_and_sources_are_relative_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ["corpus/b.txt", "corpus/a.txt", "corpus/sub/c.txt", "corpus/skip.md"]:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("x")
    (tmp_path / "corpus" / "dir.txt").mkdir()  # a folder that matches is not a file
    entries = resolve_source(SourceConfig(path="./corpus", glob="**/*.txt"))
    assert [e.source for e in entries] == ["corpus/a.txt", "corpus/b.txt", "corpus/sub/c.txt"]
    assert all(e.path is not None and e.path.is_file() for e in entries)


def test_a_file_matched_twice_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("y")
    first, second = resolve_sources(
        [SourceConfig(path=str(tmp_path / "a.txt")), SourceConfig(path=str(tmp_path), glob="*")]
    )
    assert [e.source for e in first.inputs] == [str(tmp_path / "a.txt")]
    assert [e.source for e in second.inputs] == [str(tmp_path / "b.txt")]
    assert second.duplicates == [str(tmp_path / "a.txt")]


def test_url_format_comes_from_its_path_or_is_left_to_the_response() -> None:
    [page] = resolve_source(SourceConfig(url="http://127.0.0.1:9/docs/page.html?x=1"))
    assert (page.source, page.path, page.format) == (
        "http://127.0.0.1:9/docs/page.html?x=1",
        None,
        "html",
    )
    [bare] = resolve_source(SourceConfig(url="http://127.0.0.1:9/page"))
    assert bare.format is None
    [forced] = resolve_source(
        SourceConfig(url="http://127.0.0.1:9/dump", format="jsonl", compression="zstd")
    )
    assert (forced.format, forced.compression) == ("jsonl", "zstd")


def test_default_sources_are_the_bundled_corpus_without_licence_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_ingestion.yml").read_text())
    config = IngestionConfig.model_validate(params["ingestion"])
    sources = [e.source for item in resolve_sources(config.sources) for e in item.inputs]
    assert sources == [
        "data/01_raw/tinyshakespeare/input.txt",
        "data/01_raw/html/britannica/britannica_1911_shakespeare.html",
        "data/01_raw/html/python_docs/appetite.html",
        "data/01_raw/html/python_docs/controlflow.html",
        "data/01_raw/html/python_docs/interpreter.html",
        "data/01_raw/html/python_docs/introduction.html",
    ]
