"""A server that follows a model reference switches between requests: requests in flight end on
the model they started with, new ones get the new model, none fails; the version is on /health,
the answers' X-Model-Version header and the Prometheus metrics; POST /admin/reload on demand."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.serving.metrics import Metrics
from kedro_gpt.serving.settings import ServerSettings
from kedro_gpt.serving.slot import ModelSlot

from .conftest import running_server
from .tiny_bundle import make_tiny_bundle

GREEDY = {"model": "kedro-gpt", "prompt": "ROMEO:", "max_tokens": 40, "temperature": 0}
KEY = {"Authorization": "Bearer k"}


def _versioned(text: str, seed: int, version: str, delay_s: float = 0.0) -> ModelBundle:
    """A tiny model as the registry would hand it over: ``version`` in its lineage. With
    ``delay_s`` every forward pass sleeps that long, so generations are still running when the
    test switches models."""
    bundle = make_tiny_bundle(text, seed=seed)
    bundle.info = {**bundle.info, "lineage": {"registered_version": version}}
    if delay_s:
        block = bundle.model.transformer.h[0]  # a hooked module: the step-by-step decode path
        block.register_forward_pre_hook(lambda module, args: time.sleep(delay_s))
    return bundle


@pytest.fixture(scope="module")
def models(shakespeare_text) -> dict[str, ModelBundle]:
    text = shakespeare_text[:100_000]
    return {"1": _versioned(text, 0, "1", delay_s=0.02), "2": _versioned(text, 1, "2")}


class Registry:
    """What the follower asks: which version the alias names, and that version's model."""

    def __init__(self, models: dict[str, ModelBundle], version: str) -> None:
        self.models, self.version = models, version

    def options(self) -> dict:
        return {"reload": lambda: self.models[self.version], "version": lambda: self.version}


def _stream(url: str, out: dict, started: threading.Event) -> None:
    with httpx.stream("POST", f"{url}/v1/completions", json={**GREEDY, "stream": True}) as r:
        out["status"], out["version"], text, lines = (
            r.status_code,
            r.headers["x-model-version"],
            "",
            [],
        )
        for line in r.iter_lines():
            started.set()
            lines.append(line)
            if line.startswith("data: {"):
                text += json.loads(line[6:])["choices"][0]["text"]
        out["text"], out["done"] = text, [x for x in lines if x][-1:] == ["data: [DONE]"]
        out["ended"] = time.monotonic()


def _metric(url: str, prefix: str) -> list[str]:
    return [
        line for line in httpx.get(f"{url}/metrics").text.splitlines() if line.startswith(prefix)
    ]


def test_requests_in_flight_finish_on_their_model_while_new_ones_get_the_new(models):
    registry = Registry(models, "1")
    with running_server(
        models["1"], registry.options(), follow_interval_s=0.05, batching=False
    ) as url:
        alone = {v: None for v in models}
        alone["1"] = httpx.post(f"{url}/v1/completions", json=GREEDY).json()["choices"][0]["text"]
        assert httpx.get(f"{url}/health").json()["model_version"] == "1"

        results = [{} for _ in range(4)]
        started = threading.Event()
        threads = [threading.Thread(target=_stream, args=(url, out, started)) for out in results]
        for t in threads:
            t.start()
        assert started.wait(30)  # one generation is streaming, three wait for the model...
        registry.version = "2"  # ... when the alias moves
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/health").json()["model_version"] != "2":
            assert time.monotonic() < deadline, "the server did not switch"
            time.sleep(0.02)
        switched = time.monotonic()
        during = httpx.post(f"{url}/v1/completions", json=GREEDY)
        for t in threads:
            t.join(60)

        assert during.status_code == 200 and during.headers["x-model-version"] == "2"
        alone["2"] = during.json()["choices"][0]["text"]
        assert alone["1"] != alone["2"]  # the two models answer differently
        for out in results:  # every request ended, on the model it started with, unmixed
            assert out["status"] == 200 and out["done"], out
            assert out["text"] == alone[out["version"]], out
        in_flight = [out for out in results if out["version"] == "1" and out["ended"] > switched]
        assert in_flight  # started on model 1, ended after model 2 took over

        assert _metric(url, "kedro_gpt_model_info") == ['kedro_gpt_model_info{version="2"} 1.0']
        assert _metric(url, "kedro_gpt_model_switches_total") == [
            "kedro_gpt_model_switches_total 1.0"
        ]
        counted = "".join(_metric(url, "kedro_gpt_requests_total"))
        assert 'model_version="1"' in counted and 'model_version="2"' in counted


def test_a_retired_model_stops_its_engine_after_its_last_request(models):
    slot = ModelSlot(models["2"], ServerSettings(), Metrics())
    slot.start()
    old = slot.acquire()
    slot.install(models["1"])
    assert slot.current is not old and slot.current.engine._thread.is_alive()
    time.sleep(0.2)
    assert old.engine._thread.is_alive()  # a request still holds it
    old.release()
    old.engine._thread.join(10)
    assert not old.engine._thread.is_alive()
    slot.stop()


def test_admin_reload_needs_the_key_and_switches_at_once(models):
    registry = Registry(models, "2")
    options = registry.options()
    with running_server(models["2"], options, api_key="k", follow_interval_s=0) as url:
        assert httpx.post(f"{url}/admin/reload").status_code == 401
        same = httpx.post(f"{url}/admin/reload", headers=KEY).json()
        assert same == {"version": "2", "changed": False}
        registry.version = "1"
        time.sleep(0.2)  # no polling with follow_interval_s 0
        assert httpx.get(f"{url}/health").json()["model_version"] == "2"
        moved = httpx.post(f"{url}/admin/reload", headers=KEY).json()
        assert moved == {"version": "1", "changed": True, "previous": "2"}
        assert httpx.get(f"{url}/health").json()["model_version"] == "1"
        forced = httpx.post(f"{url}/admin/reload?force=true", headers=KEY).json()
        assert forced["changed"] is True


def test_admin_reload_is_refused_without_a_key_or_a_reference(models):
    with running_server(models["2"], Registry(models, "2").options()) as url:
        response = httpx.post(f"{url}/admin/reload")
        assert response.status_code == 403 and "--api-key" in response.json()["error"]["message"]
    with running_server(models["2"], api_key="k") as url:
        response = httpx.post(f"{url}/admin/reload", headers=KEY)
        assert response.status_code == 400 and "fixed model" in response.json()["error"]["message"]


def test_a_failing_reload_keeps_the_old_model_serving(models):
    def broken() -> ModelBundle:
        raise OSError("model.safetensors: no such file")

    options = {"reload": broken, "version": lambda: "3"}
    with running_server(models["2"], options, api_key="k", follow_interval_s=0.05) as url:
        time.sleep(0.3)  # the follower has failed a few times
        response = httpx.post(f"{url}/admin/reload", headers=KEY)
        assert response.status_code == 502 and "no such file" in response.text
        answer = httpx.post(f"{url}/v1/completions", json=GREEDY, headers=KEY)
        assert answer.status_code == 200 and answer.headers["x-model-version"] == "2"
