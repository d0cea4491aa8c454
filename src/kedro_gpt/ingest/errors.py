"""Errors for input ingestion cannot use; each message names the file, URL, key or cap."""


class IngestionError(ValueError):
    """A source that cannot be ingested: missing file, empty glob, failed fetch, missing column."""


class UnreadableInput(OSError):
    """One file or download whose bytes cannot be used: truncated, a wrong sha256, too slow.

    Ingestion skips the input, counts it under ``unreadable_files`` and carries on.
    """


class OversizeInput(OSError):
    """One file or download over a size cap (``url_max_mb`` or ``max_file_mb``).

    Ingestion keeps the documents read before the cap, counts the input under
    ``oversize_files`` and carries on.
    """
