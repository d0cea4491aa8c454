"""The ``finetune`` job: fine-tuning on top of a pretrained model (``kedro run --pipelines=finetune``)."""

from kedro_gpt.pipelines.finetune.pipeline import create_pipeline

__all__ = ["create_pipeline"]
