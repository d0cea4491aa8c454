"""The pretraining pipeline: train a GPT on the token shards, from scratch or from a model."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.pretraining.nodes import (
    continue_pretraining,
    plot_loss_curves,
    pretrain,
    pretrain_backward,
)


def create_pipeline(from_model: bool = False, backward: bool = False, **kwargs) -> Pipeline:
    """``from_model=True``: continue training ``base_model`` (its architecture, tokenizer and
    weights) on the token shards instead of starting from random weights. ``backward=True``:
    from random weights, a model that reads each text back to front (``pretrain_backward``)."""
    if from_model:
        train = Node(
            continue_pretraining,
            ["base_model", "train_tokens", "val_tokens", "params:pretraining"],
            ["gpt_model", "training_history"],
            name="continue_pretraining",
        )
    else:
        train = Node(
            pretrain_backward if backward else pretrain,
            ["train_tokens", "val_tokens", "tokenizer", "params:pretraining"],
            ["gpt_model", "training_history"],
            name="pretrain_backward" if backward else "pretrain",
        )
    return Pipeline(
        [train, Node(plot_loss_curves, "training_history", "loss_curve", name="plot_loss_curves")]
    )
