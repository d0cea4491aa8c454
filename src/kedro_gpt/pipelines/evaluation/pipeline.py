"""The evaluation pipeline: score the trained model, sample from it, register it."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.evaluation.nodes import evaluate_model, register_trained_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                evaluate_model,
                ["gpt_model", "val_tokens", "params:evaluation"],
                ["evaluation_report", "evaluation_metrics", "samples"],
                name="evaluate_model",
            ),
            Node(
                register_trained_model,
                ["gpt_model", "evaluation_report", "params:evaluation"],
                "model_registration",
                name="register_model",
            ),
        ]
    )
