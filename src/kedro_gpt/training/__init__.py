"""One training loop for pretraining and fine-tuning: schedule, optimizers, batches, evaluation,
checkpoints, throughput/MFU, callbacks and DDP launch (no Kedro, no MLflow here)."""

from kedro_gpt.training.callbacks import TrainCallback
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.data import BatchSource, RandomWindows
from kedro_gpt.training.evaluate import Evaluator, ShardEvaluator
from kedro_gpt.training.launch import launch
from kedro_gpt.training.loop import train
from kedro_gpt.training.result import TrainingDiverged, TrainResult
from kedro_gpt.training.spec import ShardsSpec, TrainSpec

__all__ = [
    "BatchSource",
    "Evaluator",
    "RandomWindows",
    "ShardEvaluator",
    "ShardsSpec",
    "TrainCallback",
    "TrainConfig",
    "TrainResult",
    "TrainSpec",
    "TrainingDiverged",
    "launch",
    "train",
]
