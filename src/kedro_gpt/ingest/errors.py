"""The error ingestion raises for input it cannot use; the message names the file, URL or key."""


class IngestionError(ValueError):
    """A source that cannot be ingested: missing file, empty glob, failed fetch, missing column."""
