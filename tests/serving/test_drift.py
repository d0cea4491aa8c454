"""The drift signal: prompts a real server receives are scored while it is idle, per model
version, and text unlike the training data scores visibly higher."""

from __future__ import annotations

import logging
import re
import time

import httpx

from kedro_gpt.serving.drift import DriftMonitor
from kedro_gpt.serving.metrics import Metrics

from .conftest import running_server

VERSE = "ROMEO: But soft, what light through yonder window breaks? It is the east."
NOISE = "q#7Zx!k@9Lw$2Vb%8Nm^4Jc&6Hf*1Gd(3Ps)5Rt_0Ye+Ou"


def _metric(text: str, name: str) -> float:
    match = re.search(rf'^{name}{{model_version=""}} (\S+)$', text, re.M)
    assert match, f"{name} not exported"
    return float(match.group(1))


def _mean_after(url: str, prompt: str, n: int, seen: float) -> float:
    for _ in range(n):
        body = {"model": "kedro-gpt", "prompt": prompt, "max_tokens": 1}
        assert httpx.post(f"{url}/v1/completions", json=body).status_code == 200
    deadline = time.monotonic() + 30
    while True:  # scored once the server is idle
        text = httpx.get(f"{url}/metrics").text
        if _metric(text, "kedro_gpt_prompt_bits_per_char_count") >= seen + n:
            return _metric(text, "kedro_gpt_prompt_bits_per_char_mean")
        assert time.monotonic() < deadline, "prompts were not scored"
        time.sleep(0.05)


def test_prompts_unlike_the_training_text_raise_the_drift_metric(tiny_bundle):
    with running_server(tiny_bundle) as url:
        in_domain = _mean_after(url, VERSE, 5, 0)
        mixed = _mean_after(url, NOISE, 5, 5)
    assert mixed > in_domain * 1.2, (in_domain, mixed)


def test_the_summary_compares_with_the_held_out_loss(tiny_bundle, caplog):
    monitor = DriftMonitor(
        tiny_bundle.model, tiny_bundle.tokenizer, Metrics(), "3", reference_loss=2.0, summary_s=0
    )
    assert monitor.summary() == {"model_version": "3", "prompts": 0}
    for text in (VERSE, "", NOISE):
        monitor.offer(text)
    with caplog.at_level(logging.INFO, logger="kedro_gpt.serving.drift"):
        assert monitor.score_one() and monitor.score_one()
        assert not monitor.score_one()  # the empty prompt was never queued
    summary = monitor.summary()
    assert summary["prompts"] == 2 and summary["mean_bits_per_char"] > 0
    assert summary["loss_ratio"] == summary["mean_loss"] / 2.0
    assert "drift: {'model_version': '3'" in caplog.text


def test_a_full_queue_drops_prompts_instead_of_growing(tiny_bundle):
    monitor = DriftMonitor(tiny_bundle.model, tiny_bundle.tokenizer, Metrics(), "", queue=3)
    for i in range(10):
        monitor.offer(f"prompt {i}")
    assert list(monitor._pending) == ["prompt 7", "prompt 8", "prompt 9"]
