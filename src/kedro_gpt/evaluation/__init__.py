"""Scoring any model, used by fine-tuning and by the comparison pipeline alike: held-out text,
task sets, contamination, promotion thresholds, reports and the model card. No Kedro, no MLflow."""
