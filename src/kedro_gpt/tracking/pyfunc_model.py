"""The MLflow pyfunc flavour of a kedro-gpt model: text in, generated text out.

``mlflow models serve --env-manager local -m models:/<name>/<version>`` serves it; a request is
``{"inputs": ["ROMEO:"], "params": {"max_new_tokens": 50}}`` or a ``dataframe_records`` list
with a ``prompt`` column.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

SAMPLING_DEFAULTS: dict[str, Any] = {
    "max_new_tokens": 100,
    "temperature": 0.8,
    "top_k": 50,
    "seed": 0,
}


class GPTTextGenerator(mlflow.pyfunc.PythonModel):
    """Loads the model folder logged as the ``model`` artifact and completes prompts."""

    def load_context(self, context: Any) -> None:
        from kedro_gpt.model.bundle import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["model"])

    def predict(
        self, context: Any, model_input: Any, params: dict[str, Any] | None = None
    ) -> list[str]:
        if isinstance(model_input, pd.DataFrame):
            column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
            prompts = [str(p) for p in model_input[column]]
        elif isinstance(model_input, str):
            prompts = [model_input]
        else:
            prompts = [str(p) for p in model_input]
        sampling = {**SAMPLING_DEFAULTS, **(params or {})}
        max_new = int(sampling.pop("max_new_tokens"))
        return [self.bundle.generate_text(p, max_new, **sampling) for p in prompts]
