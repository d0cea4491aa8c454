"""The main job: ingestion → cleaning → tokenization → pretraining → evaluation."""

from kedro.pipeline import Pipeline

from kedro_gpt.pipelines.cleaning import create_pipeline as cleaning
from kedro_gpt.pipelines.evaluation import create_pipeline as evaluation
from kedro_gpt.pipelines.ingestion import create_pipeline as ingestion
from kedro_gpt.pipelines.pretraining import create_pipeline as pretraining
from kedro_gpt.pipelines.tokenization import create_pipeline as tokenization


def create_pipeline(**kwargs) -> Pipeline:
    return ingestion() + cleaning() + tokenization() + pretraining() + evaluation()
