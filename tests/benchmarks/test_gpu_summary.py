"""benchmarks/gpu_summary.py on a real MLflow store laid out as a training run logs it: the peak
is a parameter (gpu_check.sh's first summary looked for a metric and found nothing on the H200),
the first interval (torch.compile) and the GPU's idle start-up are left out of the medians."""

from __future__ import annotations

from pathlib import Path

import mlflow

from tests.benchmarks.scripts import run_script


def test_a_training_run_is_summed_up_from_its_metrics_and_parameters(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    try:
        mlflow.set_experiment("gpu-summary")
        with mlflow.start_run(run_name="data · corpus"):
            mlflow.log_metric("tokenization/val/tokens", 10)
        with mlflow.start_run(run_name="pretraining · gpt2 · env=gpu"):
            mlflow.log_param("pretraining.run.matmul_peak_flops", 7.9e14)
            for at in (1_000, 1_200, 1_400, 1_600):  # start-up: idle before the first training log
                mlflow.log_metric("system/gpu_0_utilization_percentage", 0.0, timestamp=at)
                mlflow.log_metric("system/gpu_0_memory_usage_megabytes", 600.0, timestamp=at)
            for step, (speed, mfu) in enumerate([(4e4, 0.04), (5e5, 0.5), (5.2e5, 0.52)]):
                at = 2_000 + 1_000 * step
                mlflow.log_metric("train/tokens_per_s", speed, step=10 * step, timestamp=at)
                mlflow.log_metric("train/mfu", mfu, step=10 * step, timestamp=at)
                mlflow.log_metric("system/gpu_0_utilization_percentage", 100.0, timestamp=at)
                mlflow.log_metric("system/gpu_0_memory_usage_megabytes", 15_000.0, timestamp=at)
    finally:
        mlflow.set_tracking_uri(None)
    proc = run_script("gpu_summary.py", "--db", str(db), "--last")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == (
        "pretraining · gpt2 · env=gpu: median 510,000 tokens/s, MFU 51.0% of a measured "
        "790 TFLOP/s peak; GPU memory max 15,000 MB, utilisation median 100% while training"
    )
