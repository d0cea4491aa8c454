"""The tuning stage: one node that runs the study on the token shards (``kedro run
--pipelines=sweep`` chains it after the data stages)."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.tuning.nodes import run_sweep


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                run_sweep,
                ["train_tokens", "val_tokens", "tokenizer", "params:pretraining", "params:sweep"],
                ["sweep_report", "sweep_best_parameters", "sweep_plots", "sweep_ablation"],
                name="run_sweep",
            )
        ]
    )
