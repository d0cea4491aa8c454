"""Typed ingestion parameters: which sources to read, how to batch them, and the input caps.

The defaults below are the only defaults; ``conf/base/parameters_ingestion.yml`` states the same
values so a reader sees them (a test keeps the two equal).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from kedro_gpt.config import StrictModel

Format = Literal["txt", "md", "html", "jsonl", "csv", "parquet", "warc", "wet"]
Compression = Literal["gzip", "zstd", "none"]


class SourceConfig(StrictModel):
    """One source: a file, a folder with a glob, or an http(s) URL.

    ``format`` and ``compression`` default to what the file extension says. ``text_field``,
    ``title_field`` and ``url_field`` name the JSONL field or CSV/Parquet column to read.
    """

    path: str | None = None
    glob: str | None = None
    url: str | None = None
    format: Format | None = None
    compression: Compression | None = None
    text_field: str = Field("text", min_length=1)
    title_field: str | None = Field(None, min_length=1)
    url_field: str | None = Field(None, min_length=1)
    sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$")
    document_per: Literal["file", "line", "blank_line"] = Field(
        "file",
        description="txt/md: one document per file, per non-empty line (one review a line), or "
        "per block of lines between blank lines (one article a block)",
    )

    warc_statuses: list[int] = Field(
        default_factory=lambda: [200],
        min_length=1,
        description="WARC: the HTTP statuses of the response records kept",
    )
    warc_mime_types: list[str] = Field(
        default_factory=lambda: ["text/html", "application/xhtml+xml", "text/plain"],
        min_length=1,
        description="WARC: the payload MIME types kept (HTML goes through cleaning's extractor)",
    )

    @field_validator("warc_mime_types")
    @classmethod
    def _lower_mime(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]

    @field_validator("path", "glob", "url")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _one_location(self) -> SourceConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' or 'url'")
        if self.glob is not None:
            if self.path is None:
                raise ValueError("'glob' needs a 'path' (the folder to search)")
            if self.sha256 is not None:
                raise ValueError("'sha256' checks one file or URL; it cannot go with a 'glob'")
            if PurePosixPath(self.glob).is_absolute() or ".." in PurePosixPath(self.glob).parts:
                raise ValueError(f"'glob' must be relative to 'path', got {self.glob!r}")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"'url' must be an http(s) URL, got {self.url!r}")
        if self.document_per != "file" and self.format not in (None, "txt", "md"):
            raise ValueError(f"'document_per' applies to txt and md files, not {self.format}")
        return self

    @property
    def label(self) -> str:
        """How reports and messages name this source: the URL, the path, or path/glob."""
        if self.url is not None:
            return self.url
        assert self.path is not None
        if self.glob is None:
            return self.path
        return f"{self.path.rstrip('/')}/{self.glob}"


class IngestionConfig(StrictModel):
    """Parameters under the ``ingestion`` key."""

    sources: list[SourceConfig] = Field(min_length=1)
    batch_size: int = Field(1000, ge=1, description="documents per Arrow batch at most")
    batch_max_mb: float = Field(32.0, gt=0, description="megabytes of text per batch at most")
    url_timeout_s: float = Field(
        30.0, gt=0, description="seconds a URL may keep us waiting for the next bytes"
    )
    url_deadline_s: float = Field(
        600.0, gt=0, description="seconds one download may take in all, headers to last byte"
    )
    url_max_mb: float = Field(1024.0, gt=0, description="megabytes one download may have at most")
    max_file_mb: float = Field(
        4096.0, gt=0, description="decompressed megabytes read from one file or URL at most"
    )
    max_document_mb: float = Field(
        8.0, gt=0, description="megabytes of UTF-8 text in one document at most"
    )
    binary_control_ratio: float = Field(
        0.05,
        gt=0,
        le=1,
        description="share of control bytes in a file's first 8 KiB above which it is binary",
    )

    @model_validator(mode="after")
    def _unique_sources(self) -> IngestionConfig:
        seen: dict[str, int] = {}
        for index, source in enumerate(self.sources):
            if source.label in seen:
                raise ValueError(
                    f"sources[{index}] repeats sources[{seen[source.label]}] ({source.label})"
                )
            seen[source.label] = index
        return self
