"""The MLflow pyfunc flavour of a kedro-gpt model: prompts in, generated continuations out.

``mlflow models serve --env-manager local -m models:/<name>/<version>`` serves it; a request is
``{"inputs": ["ROMEO:"], "params": {"max_new_tokens": 50}}``.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc

SAMPLING_DEFAULTS: dict[str, Any] = {
    "max_new_tokens": 100,
    "temperature": 0.8,
    "top_k": 50,
    "seed": 0,
}


class GPTTextGenerator(mlflow.pyfunc.PythonModel):
    """Loads the model folder logged as the ``model`` artifact and completes prompts."""

    def load_context(self, context) -> None:  # noqa: ANN001 - MLflow's signature
        from kedro_gpt.model.bundle import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts["model"])

    def predict(self, context, model_input: list[str], params=None) -> list[str]:  # noqa: ANN001
        """Continue each prompt; ``params`` overrides SAMPLING_DEFAULTS (max_new_tokens, temperature…)."""
        sampling = {**SAMPLING_DEFAULTS, **(params or {})}
        max_new = int(sampling.pop("max_new_tokens"))
        return [self.bundle.generate_text(str(p), max_new, **sampling) for p in model_input]
