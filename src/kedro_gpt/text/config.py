"""Typed settings of the cleaning stage (the ``cleaning`` parameters key).

The defaults here equal ``conf/base/parameters_cleaning.yml``, so a notebook that builds
``CleaningConfig()`` cleans exactly as ``kedro run`` does. Quality thresholds follow Gopher
(Rae et al. 2021, appendix A); where a threshold would drop Tiny Shakespeare, the YAML says so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kedro_gpt.config import StrictModel

Extractor = Literal["resiliparse", "trafilatura", "selectolax"]


class HtmlConfig(StrictModel):
    """HTML to text: which extractor, and whether it keeps only the main content."""

    extractor: Extractor = "resiliparse"
    main_content: bool = True


class NormalizeConfig(StrictModel):
    """Unicode and whitespace normalisation; each step is a switch."""

    fix_mojibake: bool = True
    nfc: bool = True
    remove_control_chars: bool = True
    newlines: bool = True
    strip_trailing_spaces: bool = False
    max_blank_lines: int | None = Field(2, ge=0)
    trim_blank_lines: bool = True


class LengthFilterConfig(StrictModel):
    enabled: bool = True
    min_chars: int = Field(200, ge=0)
    max_chars: int | None = Field(None, ge=1)
    min_words: int = Field(50, ge=0)
    max_words: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> LengthFilterConfig:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must be >= min_chars")
        if self.max_words is not None and self.max_words < self.min_words:
            raise ValueError("max_words must be >= min_words")
        return self


class WordLengthFilterConfig(StrictModel):
    enabled: bool = True
    min_mean: float = Field(3.0, ge=0)
    max_mean: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> WordLengthFilterConfig:
        if self.max_mean < self.min_mean:
            raise ValueError("max_mean must be >= min_mean")
        return self


class AlphaFilterConfig(StrictModel):
    enabled: bool = True
    min_alpha_word_fraction: float = Field(0.8, ge=0, le=1)


class SymbolFilterConfig(StrictModel):
    enabled: bool = True
    max_symbol_word_ratio: float = Field(0.1, ge=0)


class RepeatedLinesConfig(StrictModel):
    enabled: bool = True
    max_duplicate_fraction: float = Field(0.30, ge=0, le=1)
    max_duplicate_char_fraction: float = Field(0.20, ge=0, le=1)


class RepeatedNgramsConfig(StrictModel):
    enabled: bool = True
    max_top_ngram_char_fraction: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16}
    )
    max_duplicate_ngram_char_fraction: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )

    @model_validator(mode="after")
    def _ranges(self) -> RepeatedNgramsConfig:
        for name in ("max_top_ngram_char_fraction", "max_duplicate_ngram_char_fraction"):
            for n, limit in getattr(self, name).items():
                if n < 1:
                    raise ValueError(f"{name}: n-gram size {n} must be >= 1")
                if not 0 <= limit <= 1:
                    raise ValueError(f"{name}[{n}]: {limit} must be between 0 and 1")
        return self


class LanguageFilterConfig(StrictModel):
    enabled: bool = False
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    min_score: float = Field(0.5, ge=0, le=1)
    sample_chars: int = Field(10_000, ge=100)


class FiltersConfig(StrictModel):
    """Quality filters, applied in this order; the first that rejects a document drops it."""

    length: LengthFilterConfig = LengthFilterConfig()
    word_length: WordLengthFilterConfig = WordLengthFilterConfig()
    alpha: AlphaFilterConfig = AlphaFilterConfig()
    symbols: SymbolFilterConfig = SymbolFilterConfig()
    repeated_lines: RepeatedLinesConfig = RepeatedLinesConfig()
    repeated_paragraphs: RepeatedLinesConfig = RepeatedLinesConfig()
    repeated_ngrams: RepeatedNgramsConfig = RepeatedNgramsConfig()
    language: LanguageFilterConfig = LanguageFilterConfig()


class ExactDedupConfig(StrictModel):
    enabled: bool = True


class NearDedupConfig(StrictModel):
    enabled: bool = True
    threshold: float = Field(0.8, gt=0, lt=1)
    num_perm: int = Field(128, ge=16, le=1024)
    shingle_size: int = Field(5, ge=1)
    seed: int = 1
    index: Literal["memory", "buckets"] = Field(
        "memory",
        description="memory: one in-memory LSH index, each document compared with those kept "
        "before it; buckets: signatures and band buckets on disk, duplicates resolved by "
        "connected components after the pass (memory bounded by the batch: for large corpora)",
    )
    work_dir: str | None = Field(
        None,
        description="buckets: the folder for the signature and band files (deleted after the "
        "run); null = a temporary folder; a shared path when band tasks run on other machines",
    )


class DedupConfig(StrictModel):
    exact: ExactDedupConfig = ExactDedupConfig()
    near: NearDedupConfig = NearDedupConfig()


class ClusterConfig(StrictModel):
    """A Dask cluster to prepare batches on instead of local processes."""

    address: str | None = Field(
        None,
        description="a running Dask scheduler, e.g. tcp://10.0.0.5:8786; null = start a local "
        "cluster of local_workers processes for this run",
    )
    local_workers: int = Field(2, ge=1)


class CleaningConfig(StrictModel):
    """Everything the cleaning pass needs."""

    batch_size: int = Field(128, ge=1)
    workers: int = Field(
        0,
        ge=0,
        description="processes preparing batches (extract, normalise, filter, MinHash); 0 = every "
        "core; the output is the same for any number",
    )
    cluster: ClusterConfig | None = Field(
        None, description="prepare batches on a Dask cluster (same output); null = local processes"
    )
    max_examples: int = Field(3, ge=0)
    html: HtmlConfig = HtmlConfig()
    normalize: NormalizeConfig = NormalizeConfig()
    filters: FiltersConfig = FiltersConfig()
    dedup: DedupConfig = DedupConfig()
