"""The evaluate pipeline: score model versions side by side, promote the candidate, report."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.evaluate.nodes import evaluate_models, promote_model, write_report


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                evaluate_models,
                ["gpt_model", "eval_files", "split_documents", "params:evaluate"],
                ["evaluate_report", "evaluate_metrics"],
                name="evaluate_models",
            ),
            Node(
                promote_model,
                ["evaluate_report", "params:evaluate"],
                ["promotion", "model_card"],
                name="promote_model",
            ),
            Node(
                write_report,
                ["evaluate_report", "promotion"],
                ["evaluate_markdown", "evaluate_plot"],
                name="write_evaluate_report",
            ),
        ]
    )
