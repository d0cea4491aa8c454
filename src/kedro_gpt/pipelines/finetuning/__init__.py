"""Fine-tuning: adapt a pretrained model to a task (chat, classification, text-to-text, more text)."""

from kedro_gpt.pipelines.finetuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
