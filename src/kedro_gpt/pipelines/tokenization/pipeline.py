"""The tokenization pipeline: split → train sentencepiece → encode packed shards."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.tokenization.nodes import encode_corpus, split_corpus, train_tokenizer


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                split_corpus,
                ["clean_documents", "params:tokenization"],
                "split_documents",
                name="split_corpus",
            ),
            Node(
                train_tokenizer,
                ["split_documents", "params:tokenization"],
                "tokenizer",
                name="train_tokenizer",
            ),
            Node(
                encode_corpus,
                ["split_documents", "tokenizer", "params:tokenization"],
                ["train_tokens", "val_tokens", "tokenization_report", "tokenization_metrics"],
                name="encode_corpus",
            ),
        ]
    )
