"""Turn the configured sources into the concrete files and URLs to read, in a stable order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from kedro_gpt.ingest.config import SourceConfig
from kedro_gpt.ingest.errors import IngestionError

logger = logging.getLogger(__name__)

#: File extension -> document format.
EXTENSION_FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".warc": "warc",  # Common Crawl: CC-MAIN-…warc.gz
    ".wet": "wet",  # CC-MAIN-…warc.wet.gz
}
#: Compression extension -> codec.
EXTENSION_COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


@dataclass(frozen=True)
class Input:
    """One file or URL to read.

    ``source`` is what the documents' ``source`` column holds: the path as configured (with the
    matched file name for a glob) or the URL. ``format`` is None only for a URL whose extension
    says nothing; the response's Content-Type then decides.
    """

    source: str
    spec: SourceConfig
    path: Path | None
    format: str | None
    compression: str


@dataclass
class ResolvedSource:
    """A configured source with its inputs; ``duplicates`` were already read by an earlier source."""

    spec: SourceConfig
    inputs: list[Input]
    duplicates: list[str] = field(default_factory=list)


def detect_format(name: str) -> tuple[str | None, str]:
    """``(format, compression)`` from a file name, e.g. ``corpus.jsonl.zst`` -> ``(jsonl, zstd)``.

    The format is None when the extension is not one we know.
    """
    suffixes = [s.lower() for s in PurePosixPath(name).suffixes]
    compression = "none"
    if suffixes and suffixes[-1] in EXTENSION_COMPRESSIONS:
        compression = EXTENSION_COMPRESSIONS[suffixes.pop()]
    fmt = EXTENSION_FORMATS.get(suffixes[-1]) if suffixes else None
    return fmt, compression


def _file_input(spec: SourceConfig, path: Path, source: str) -> Input:
    fmt, compression = detect_format(path.name)
    fmt = spec.format or fmt
    if fmt is None:
        raise IngestionError(
            f"{source}: cannot tell the format from the file name; set 'format' on source "
            f"{spec.label!r} (txt, md, html, jsonl, csv, parquet, warc or wet) or narrow its 'glob'"
        )
    return Input(source, spec, path, fmt, spec.compression or compression)


def resolve_source(spec: SourceConfig) -> list[Input]:
    """The inputs of one source; raises IngestionError for a missing path or an empty glob."""
    if spec.url is not None:
        fmt, compression = detect_format(urlsplit(spec.url).path)
        return [Input(spec.url, spec, None, spec.format or fmt, spec.compression or compression)]
    assert spec.path is not None
    root = Path(spec.path).expanduser()
    shown = PurePosixPath(root.as_posix())
    if not root.exists():
        raise IngestionError(f"source path not found: {spec.path} (resolved to {root.absolute()})")
    if spec.glob is None:
        if root.is_dir():
            raise IngestionError(
                f"source path {spec.path} is a folder: add a 'glob' such as \"*.txt\" to say "
                "which files to read"
            )
        return [_file_input(spec, root, str(shown))]
    if not root.is_dir():
        raise IngestionError(f"source path {spec.path} has a 'glob' but is not a folder")
    files = sorted(p for p in root.glob(spec.glob) if p.is_file())
    if not files:
        raise IngestionError(f"glob {spec.glob!r} in {spec.path} matched no files")
    return [
        _file_input(spec, file, str(shown / file.relative_to(root).as_posix())) for file in files
    ]


def resolve_sources(specs: list[SourceConfig]) -> list[ResolvedSource]:
    """Resolve every source up front, so a bad one fails before anything is read.

    A file that two sources both match is read once, by the first; the later one lists it
    under ``duplicates``.
    """
    seen: set[Path] = set()
    resolved: list[ResolvedSource] = []
    for spec in specs:
        item = ResolvedSource(spec, [])
        for entry in resolve_source(spec):
            key = entry.path.resolve() if entry.path is not None else None
            if key is not None and key in seen:
                logger.warning("%s: already read by an earlier source; skipped", entry.source)
                item.duplicates.append(entry.source)
                continue
            if key is not None:
                seen.add(key)
            item.inputs.append(entry)
        resolved.append(item)
    return resolved
