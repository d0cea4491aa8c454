"""Hyperparameter search and ablation over the pretraining parameters, with Optuna.

Plain Python, no Kedro and no MLflow: the Kedro node and the MLflow runs live in
``pipelines/sweep`` and ``tracking/sweep_runs.py``.
"""
