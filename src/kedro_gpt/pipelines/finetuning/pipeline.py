"""The fine-tuning pipeline: snapshot the feedback table; fine-tune, report and plot; register
the result in MLflow."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.finetuning.nodes import (
    finetune,
    finetune_bidirectional,
    register_finetuned_model,
    snapshot_feedback,
)

# The node that starts from a base model. `ExternalBaseModelHooks` finds it by this tag: with
# `finetuning.base_model.path` or `.mlflow_uri` set, its `gpt_model` input is not loaded.
BASE_MODEL_READER = "reads_base_model"


def create_pipeline(bidirectional: bool = False, **kwargs) -> Pipeline:
    """``bidirectional=True``: the classifier ensemble adds a twin from ``backward_model`` (a
    backward language model) for each member."""
    inputs = ["gpt_model", "task_files", "params:finetuning", "feedback_snapshot"]
    if bidirectional:
        inputs.insert(1, "backward_model")
    return Pipeline(
        [
            Node(snapshot_feedback, "feedback_db", "feedback_snapshot", name="snapshot_feedback"),
            Node(
                finetune_bidirectional if bidirectional else finetune,
                inputs,
                [
                    "finetuned_model",
                    "finetune_report",
                    "finetune_metrics",
                    "finetune_samples",
                    "finetune_plot",
                ],
                name="finetune",
                tags=[BASE_MODEL_READER],
            ),
            Node(
                register_finetuned_model,
                ["finetuned_model", "finetune_report", "params:finetuning"],
                "finetune_registration",
                name="register_finetuned_model",
            ),
        ]
    )
