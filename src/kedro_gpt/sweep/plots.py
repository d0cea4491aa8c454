"""Optuna's own plots of a study (matplotlib), for the parent run's artifacts."""

from __future__ import annotations

import logging
import warnings

import optuna
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


def study_plots(study: optuna.Study) -> dict[str, Figure]:
    """Optimisation history, parameter importances and parallel coordinates; a plot the study
    cannot have yet (importances need two completed trials that differ) is left out."""
    from optuna.visualization import matplotlib as ovm

    makers = {
        "optimization_history": ovm.plot_optimization_history,
        "param_importances": ovm.plot_param_importances,
        "parallel_coordinate": ovm.plot_parallel_coordinate,
    }
    figures: dict[str, Figure] = {}
    for name, make in makers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib backend experimental
            try:
                axes = make(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as err:
                logger.info("sweep plot %s skipped: %s", name, err)
                continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.set_size_inches(9, 5)
        figure.tight_layout()
        figures[name] = figure
    return figures
