"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "kedro_gpt_requests",
            "HTTP requests by endpoint, status and the model version that answered",
            ["endpoint", "status", "model_version"],
            registry=r,
        )
        self.latency = Histogram(
            "kedro_gpt_request_seconds",
            "Time to answer a generation request",
            ["endpoint"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.prompt_tokens = Counter("kedro_gpt_prompt_tokens", "Prompt tokens read", registry=r)
        self.generated_tokens = Counter(
            "kedro_gpt_generated_tokens",
            "Tokens generated, by model version",
            ["model_version"],
            registry=r,
        )
        self.model_info = Gauge(
            "kedro_gpt_model_info", "1 for the model version served now", ["version"], registry=r
        )
        self.model_switches = Counter(
            "kedro_gpt_model_switches", "Times a new model version was installed", registry=r
        )
        self.batch_size = Histogram(
            "kedro_gpt_batch_size",
            "Requests decoded together",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.prompt_bpc = Histogram(
            "kedro_gpt_prompt_bits_per_char",
            "Bits per character of received prompts under the served model (drift)",
            ["model_version"],
            buckets=(0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 12),
            registry=r,
        )
        self.prompt_bpc_mean = Gauge(
            "kedro_gpt_prompt_bits_per_char_mean",
            "Mean bits per character of the recent prompts (drift)",
            ["model_version"],
            registry=r,
        )
        self.prompt_loss_mean = Gauge(
            "kedro_gpt_prompt_loss_mean",
            "Mean nats per token of the recent prompts; compare with the model's held-out loss",
            ["model_version"],
            registry=r,
        )
        self.queued = Gauge("kedro_gpt_queued_requests", "Requests waiting", registry=r)
        self.running = Gauge("kedro_gpt_running_requests", "Requests being decoded", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
