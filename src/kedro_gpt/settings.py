"""Project settings (see Kedro's configuration docs)."""

import warnings

from kedro.config import OmegaConfigLoader

# Upstream notices a user can do nothing about, kept out of `kedro run` and notebooks: Kedro 1.7
# and kedro-mlflow 2.0 call OmegaConf 2.4's deprecated register_new_resolver; kedro-mlflow's
# pyfunc model has no type hints, which MLflow reports once, when the class is defined.
warnings.filterwarnings("ignore", r"register_new_resolver\(\) is deprecated", UserWarning)
with warnings.catch_warnings(record=True):
    import kedro_mlflow.mlflow  # noqa: F401

from kedro_gpt.hooks import (  # noqa: E402 - after the filters above
    ExternalBaseModelHooks,
    LineageHooks,
    ParameterCheckHooks,
    RunIsolationHooks,
)

HOOKS = (ParameterCheckHooks(), RunIsolationHooks(), LineageHooks(), ExternalBaseModelHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/<env>/ and conf/local/ override single keys of conf/base/ (deep merge), not whole sections
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
    "config_patterns": {
        "mlflow": ["mlflow*", "mlflow*/**"],
    },
}
