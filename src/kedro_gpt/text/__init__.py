"""Text cleaning: HTML extraction, normalisation, quality filters, deduplication, the report.

Plain functions and classes over strings and Arrow batches; nothing here knows of Kedro.
"""

from kedro_gpt.text.clean import Cleaner, EmptyCorpusError, clean_batches
from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.dedup import ExactDeduplicator, NearDeduplicator, dedup_text
from kedro_gpt.text.extract import EXTRACTORS, Extraction, extract_html
from kedro_gpt.text.filters import TextView, build_filters
from kedro_gpt.text.normalize import Normalizer
from kedro_gpt.text.report import CleaningReport

__all__ = [
    "EXTRACTORS",
    "Cleaner",
    "CleaningConfig",
    "CleaningReport",
    "EmptyCorpusError",
    "ExactDeduplicator",
    "Extraction",
    "NearDeduplicator",
    "Normalizer",
    "TextView",
    "build_filters",
    "clean_batches",
    "dedup_text",
    "extract_html",
]
