"""The composite ``finetune`` pipeline (today the fine-tuning stage alone; it starts from the
latest ``gpt_model`` that ``pretrain`` wrote, or the one pinned with ``--load-versions``)."""

from kedro.pipeline import Pipeline

from kedro_gpt.pipelines.finetuning import create_pipeline as finetuning


def create_pipeline(**kwargs) -> Pipeline:
    return finetuning()
