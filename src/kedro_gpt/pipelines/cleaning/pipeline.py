"""The cleaning pipeline: documents → clean_documents, with a report and MLflow metrics."""

from kedro.pipeline import Node, Pipeline

from kedro_gpt.pipelines.cleaning.nodes import clean_documents


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                clean_documents,
                ["documents", "params:cleaning"],
                ["clean_documents", "cleaning_report", "cleaning_metrics"],
                name="clean_documents",
            )
        ]
    )
