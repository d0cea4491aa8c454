"""The data pipeline: ingestion → cleaning → tokenization."""

from kedro.pipeline import Pipeline

from kedro_gpt.pipelines.cleaning import create_pipeline as cleaning
from kedro_gpt.pipelines.ingestion import create_pipeline as ingestion
from kedro_gpt.pipelines.tokenization import create_pipeline as tokenization


def create_pipeline(**kwargs) -> Pipeline:
    return ingestion() + cleaning() + tokenization()
