"""The comparison pipeline: score model versions side by side, promote the candidate, report."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.comparison.nodes import compare_models, promote_model, write_report


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                compare_models,
                ["gpt_model", "eval_files", "split_documents", "params:comparison"],
                ["comparison_report", "comparison_metrics"],
                name="compare_models",
            ),
            Node(
                promote_model,
                ["comparison_report", "params:comparison"],
                ["promotion", "model_card"],
                name="promote_model",
            ),
            Node(
                write_report,
                ["comparison_report", "promotion"],
                ["comparison_markdown", "comparison_plot"],
                name="write_comparison_report",
            ),
        ]
    )
