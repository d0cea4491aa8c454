"""The pretraining pipeline: train a GPT on the token shards."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.pretraining.nodes import plot_loss_curves, pretrain


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                pretrain,
                ["train_tokens", "val_tokens", "tokenizer", "params:pretraining"],
                ["gpt_model", "training_history"],
                name="pretrain",
            ),
            Node(plot_loss_curves, "training_history", "loss_curve", name="plot_loss_curves"),
        ]
    )
