"""The caps one ingestion run reads under, in bytes, with the parameter names messages quote."""

from __future__ import annotations

from dataclasses import dataclass, fields

from kedro_gpt.ingest.config import IngestionConfig

MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """The input caps of an ``IngestionConfig`` (which holds their defaults)."""

    url_timeout_s: float
    url_deadline_s: float
    url_max_mb: float
    max_file_mb: float
    max_document_mb: float
    binary_control_ratio: float

    @classmethod
    def from_config(cls, config: IngestionConfig) -> Limits:
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    @property
    def url_max_bytes(self) -> int:
        return int(self.url_max_mb * MB)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_document_bytes(self) -> int:
        return int(self.max_document_mb * MB)

    def named(self, name: str) -> str:
        """``name=value`` as a message quotes it, e.g. ``max_file_mb=8``."""
        return f"{name}={getattr(self, name):g}"
