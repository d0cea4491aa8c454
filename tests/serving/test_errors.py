"""Bad requests and limits: 4xx with an OpenAI error body, never a 5xx or a hang."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from .conftest import running_server


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


OK = {"model": "kedro-gpt", "prompt": "Hi", "max_tokens": 2}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "kedro-gpt"}, "prompt"),
        ({**OK, "temperature": -1}, "temperature"),
        ({**OK, "max_tokens": -3}, "max_tokens"),
        ({**OK, "n": 2}, "n"),
        ({**OK, "logprobs": 3}, "logprobs"),
        ({**OK, "best_of": 2}, "best_of"),
        ({**OK, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({**OK, "max_tokens": 10_000}, "max_tokens"),
        ({**OK, "prompt": ["a", "b"], "stream": True}, "prompt"),
    ],
)
def test_bad_completion_requests_are_400_naming_the_parameter(http, body, param):
    error = _error(http.post("/v1/completions", json=body), 400)
    assert error["param"].startswith(param) and error["type"] == "invalid_request_error"


def test_malformed_json_is_400(http):
    response = http.post(
        "/v1/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    _error(response, 400)


def test_bad_chat_role_is_400(http):
    body = {"model": "kedro-gpt", "messages": [{"role": "robot", "content": "x"}]}
    assert _error(http.post("/v1/chat/completions", json=body), 400)["param"].startswith("messages")


def test_unknown_model_is_404(http):
    error = _error(http.post("/v1/completions", json={**OK, "model": "gpt-4"}), 404)
    assert error["code"] == "model_not_found" and "kedro-gpt" in error["message"]


def test_too_long_prompt_is_413(http):
    error = _error(http.post("/v1/completions", json={**OK, "prompt": "word " * 500}), 413)
    assert error["code"] == "context_length_exceeded"


def test_unknown_route_and_method_get_error_bodies(http):
    _error(http.get("/v1/nothing"), 404)
    _error(http.get("/v1/completions"), 405)


def test_classify_without_a_classification_head_is_400(http):
    error = _error(http.post("/v1/classify", json={"model": "kedro-gpt", "input": "good"}), 400)
    assert error["code"] == "no_classification_head"


def test_health_and_metrics(http):
    http.post("/v1/completions", json=OK)
    assert http.get("/health").json()["status"] == "ok"
    text = http.get("/metrics").text
    assert (
        'kedro_gpt_requests_total{endpoint="/v1/completions",model_version="",status="200"}' in text
    )
    assert "kedro_gpt_generated_tokens_total" in text


def test_api_key_is_required_when_set(tiny_bundle):
    with running_server(tiny_bundle, api_key="s3cret") as url:
        with httpx.Client(base_url=url) as http:
            assert http.get("/health").status_code == 200
            assert _error(http.get("/v1/models"), 401)["code"] == "invalid_api_key"
            wrong = http.get("/v1/models", headers={"Authorization": "Bearer nope"})
            _error(wrong, 401)
        good = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert good.models.list().data[0].id == "kedro-gpt"
        bad = openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.completions.create(**OK)


LONG = {**OK, "max_tokens": 3000, "temperature": 0}  # past block_size: slow sliding-window steps


def test_full_queue_is_429(tiny_bundle):
    with running_server(
        tiny_bundle, batching=False, max_queue=1, max_tokens_limit=4000, request_timeout_s=60
    ) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            with ThreadPoolExecutor(8) as pool:
                codes = sorted(
                    r.status_code
                    for r in pool.map(lambda _: http.post("/v1/completions", json=LONG), range(8))
                )
            full = http.post("/v1/completions", json=OK)  # may still be busy; never a 5xx
    assert codes.count(200) >= 1 and 429 in codes and set(codes) <= {200, 429}, codes
    assert full.status_code in (200, 429)


def test_running_generation_is_cut_at_the_request_timeout_and_queued_one_gets_503(tiny_bundle):
    with running_server(
        tiny_bundle,
        batching=False,
        max_tokens_limit=4000,
        request_timeout_s=1.0,
        queue_timeout_s=0.2,
    ) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            with ThreadPoolExecutor(2) as pool:
                started = time.monotonic()
                first = pool.submit(http.post, "/v1/completions", json=LONG)
                time.sleep(0.1)
                second = pool.submit(http.post, "/v1/completions", json=LONG)
                # On a loaded machine the second can reach the server first: whichever holds
                # the slot is cut at the timeout, the other waits in the queue and gets 503.
                cut, waited = sorted((first.result(), second.result()), key=lambda r: r.status_code)
                elapsed = time.monotonic() - started
    assert _error(waited, 503)["code"] == "timeout"
    choice = cut.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert 0 < cut.json()["usage"]["completion_tokens"] < 3000
    assert elapsed < 5
