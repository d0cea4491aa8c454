"""Fine-tuning: task data, batch sources with loss masks, adapters, metrics and baselines.

Plain Python (no Kedro, no MLflow): the same :func:`kedro_gpt.training.train` loop trains every
task; only the batch source and the model wrapper differ.
"""
