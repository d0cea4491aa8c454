"""The tokenization pipeline: split → train sentencepiece → encode packed shards."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.tokenization.nodes import (
    encode_corpus,
    model_tokenizer,
    split_corpus,
    train_tokenizer,
)


def create_pipeline(train: bool = True, **kwargs) -> Pipeline:
    """``train=False``: encode with the tokenizer of ``base_model`` instead of training one
    (domain adaptation keeps the base model's tokenizer and never retrains it)."""
    nodes = [
        Node(
            split_corpus,
            ["clean_documents", "params:tokenization"],
            "split_documents",
            name="split_corpus",
        ),
        Node(
            encode_corpus,
            ["split_documents", "tokenizer", "params:tokenization"],
            ["train_tokens", "val_tokens", "tokenization_report", "tokenization_metrics"],
            name="encode_corpus",
        ),
    ]
    if train:
        make = Node(
            train_tokenizer,
            ["split_documents", "params:tokenization"],
            "tokenizer",
            name="train_tokenizer",
        )
    else:
        make = Node(model_tokenizer, "base_model", "tokenizer", name="model_tokenizer")
    nodes.insert(1, make)
    return Pipeline(nodes)
