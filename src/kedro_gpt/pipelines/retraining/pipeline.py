"""``kedro run --pipelines=retrain``: snapshot the feedback, fine-tune the current champion on the
chat sets and the feedback, register the result, compare it with the champion, and promote it
when it passes the thresholds. One command a user can schedule (cron, Airflow, ...).

Datasets live under the ``retrain`` namespace (``retrain.finetuned_model``, ...; the catalog's
``{namespace}.*`` factories); the fine-tuning and comparison stages' nodes are reused as they are.
"""

from kedro.pipeline import Node, Pipeline, pipeline

from kedro_gpt.pipelines.comparison.nodes import compare_models, promote_model, write_report
from kedro_gpt.pipelines.finetuning.nodes import register_finetuned_model, snapshot_feedback
from kedro_gpt.pipelines.retraining.nodes import finetune_champion, plan_retraining

NAMESPACE = "retrain"


def create_pipeline(**kwargs) -> Pipeline:
    nodes = Pipeline(
        [
            Node(
                plan_retraining,
                ["params:finetuning", "params:comparison", "params:retrain"],
                ["finetuning_params", "comparison_params"],
                name="plan_retraining",
            ),
            Node(snapshot_feedback, "feedback_db", "feedback_snapshot", name="snapshot_feedback"),
            Node(
                finetune_champion,
                ["task_files", "finetuning_params", "feedback_snapshot"],
                [
                    "finetuned_model",
                    "finetune_report",
                    "finetune_metrics",
                    "finetune_samples",
                    "finetune_plot",
                ],
                name="finetune_champion",
            ),
            Node(
                register_finetuned_model,
                ["finetuned_model", "finetune_report", "finetuning_params"],
                "finetune_registration",
                name="register_finetuned_model",
            ),
            Node(
                compare_models,
                [
                    "finetuned_model",
                    "eval_files",
                    "split_documents",
                    "comparison_params",
                    "finetune_registration",
                ],
                ["comparison_report", "comparison_metrics"],
                name="compare_with_champion",
            ),
            Node(
                promote_model,
                ["comparison_report", "comparison_params"],
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
    return pipeline(
        nodes,
        namespace=NAMESPACE,
        inputs={"task_files", "feedback_db", "eval_files", "split_documents"},
        parameters={
            "params:finetuning": "params:finetuning",
            "params:comparison": "params:comparison",
            "params:retrain": "params:retrain",
        },
    )
