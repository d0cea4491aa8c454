"""Project settings (see Kedro's configuration docs)."""

from kedro.config import OmegaConfigLoader

from kedro_gpt.hooks import (
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
