"""``kedro run --pipelines=retrain``: snapshot the feedback, fine-tune the current champion on the
chat sets and the feedback, register the result, compare it with the champion, and promote it
when it passes the thresholds. One command a user can schedule (cron, Airflow, ...).

Datasets live under the ``retrain`` namespace (``retrain.finetuned_model``, ...; the catalog's
``{namespace}.*`` factories); the stage's own and the comparison's nodes are reused as they are.
"""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.comparison.nodes import compare_models, promote_model, write_report
from kedro_gpt.pipelines.finetuning.nodes import register_finetuned_model, snapshot_feedback
from kedro_gpt.pipelines.retraining.nodes import finetune_champion, plan_retraining

NS = "retrain"


def create_pipeline(**kwargs) -> Pipeline:
    def ns(name: str) -> str:
        return f"{NS}.{name}"

    finetuning, comparison = ns("finetuning_params"), ns("comparison_params")
    return Pipeline(
        [
            Node(
                plan_retraining,
                ["params:finetuning", "params:comparison", "params:retrain"],
                [finetuning, comparison],
                name="plan_retraining",
            ),
            Node(
                snapshot_feedback, "feedback_db", ns("feedback_snapshot"), name="snapshot_feedback"
            ),
            Node(
                finetune_champion,
                ["task_files", finetuning, ns("feedback_snapshot")],
                [
                    ns("finetuned_model"),
                    ns("finetune_report"),
                    ns("finetune_metrics"),
                    ns("finetune_samples"),
                    ns("finetune_plot"),
                ],
                name="finetune_champion",
            ),
            Node(
                register_finetuned_model,
                [ns("finetuned_model"), ns("finetune_report"), finetuning],
                ns("finetune_registration"),
                name="register_retrained_model",
            ),
            Node(
                compare_models,
                [
                    ns("finetuned_model"),
                    "eval_files",
                    "split_documents",
                    comparison,
                    ns("finetune_registration"),
                ],
                [ns("comparison_report"), ns("comparison_metrics")],
                name="compare_with_champion",
            ),
            Node(
                promote_model,
                [ns("comparison_report"), comparison],
                [ns("promotion"), ns("model_card")],
                name="promote_retrained_model",
            ),
            Node(
                write_report,
                [ns("comparison_report"), ns("promotion")],
                [ns("comparison_markdown"), ns("comparison_plot")],
                name="write_retraining_report",
            ),
        ]
    )
