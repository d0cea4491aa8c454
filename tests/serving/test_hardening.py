"""What a hostile but fair client found (issue 11), each against a real uvicorn server on loopback:
failing generations, huge and slow bodies, lone surrogates, clients that leave, loose types."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import torch

from kedro_gpt.model.bundle import ModelBundle

from .conftest import running_server
from .tiny_bundle import make_tiny_bundle

OK = {"model": "kedro-gpt", "prompt": "Hi", "max_tokens": 2}
JSON = {"content-type": "application/json"}


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


def _raw(url: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _sse(text: str) -> list:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


# -- 7: a failing generation is an error, never a normal finish --------------------------------


@pytest.fixture(scope="module")
def broken_bundle(shakespeare_text) -> ModelBundle:
    """A model whose position 6 embedding is NaN: sampling fails once a sequence reaches it."""
    bundle = make_tiny_bundle(shakespeare_text[:100_000])
    with torch.no_grad():
        bundle.model.transformer.wpe.weight[6] = float("nan")
    return bundle


def test_a_failing_generation_is_a_500_and_a_stream_ends_with_an_error_event(broken_bundle):
    body = {"model": "kedro-gpt", "prompt": "Hi", "max_tokens": 30, "temperature": 1.0}
    with running_server(broken_bundle, max_tokens_limit=64) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            error = _error(http.post("/v1/completions", json=body), 500)
            assert error["type"] == "server_error" and "generation failed" in error["message"]
            streamed = http.post("/v1/completions", json={**body, "stream": True})
            events = _sse(streamed.text)
            chat = {"model": "kedro-gpt", "messages": [{"role": "user", "content": "Hi"}]}
            _error(http.post("/v1/chat/completions", json={**chat, "max_tokens": 30}), 500)
            assert http.get("/health").json()["running"] == 0  # the worker lives on
    assert streamed.status_code == 200 and streamed.text.endswith("data: [DONE]\n\n")
    assert any(e["choices"][0]["text"] for e in events[:-1])  # tokens came before the failure
    assert events[-1]["error"]["type"] == "server_error"
    assert all(c["finish_reason"] is None for e in events[:-1] for c in e["choices"])


@pytest.mark.parametrize("param", ["temperature", "top_p"])
def test_values_too_small_to_sample_are_400(http, param):
    error = _error(http.post("/v1/completions", json={**OK, param: 1e-300}), 400)
    assert error["param"] == param
    assert http.post("/v1/completions", json={**OK, param: 0.001}).status_code == 200


# -- 8: bodies are limited before they are read or parsed ----------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(tiny_bundle):
    with running_server(tiny_bundle) as url:  # the default limit: 1 MiB
        head = (
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 50000000\r\n\r\n"
        )
        started = time.monotonic()
        answer = _raw(url, head + b'{"prompt": "' + b"a" * 16_000)  # 16 kB of the 50 MB
        assert time.monotonic() - started < 3
        status, _, body = answer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 413")
        assert json.loads(body)["error"]["code"] == "body_too_large"

        def chunks():  # no Content-Length: the bytes are counted as they come
            for _ in range(120):
                yield b" " * 10_000

        with httpx.Client(base_url=url, timeout=30) as http:
            error = _error(http.post("/v1/completions", content=chunks(), headers=JSON), 413)
            assert "1048576 bytes" in error["message"]
            assert http.post("/v1/completions", json=OK).status_code == 200


def test_health_answers_while_a_50_mb_body_is_refused(tiny_bundle):
    big = json.dumps({**OK, "prompt": "word " * 10_000_000}).encode()  # 50 MB
    with running_server(tiny_bundle) as url:
        outcome: list = []

        def send_big() -> None:
            try:
                with httpx.Client(base_url=url, timeout=60) as client:
                    response = client.post("/v1/completions", content=big, headers=JSON)
                    outcome.append(response.status_code)
            except httpx.TransportError as err:  # the server closed while we were still sending
                outcome.append(type(err).__name__)

        sender = threading.Thread(target=send_big)
        latencies = []
        with httpx.Client(base_url=url, timeout=60) as http:
            sender.start()
            while sender.is_alive() and len(latencies) < 200:
                started = time.monotonic()
                assert http.get("/health").status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.02)
            sender.join(timeout=60)
    assert max(latencies) < 1.0, max(latencies)
    assert outcome and outcome[0] in (413, "WriteError", "RemoteProtocolError", "ReadError")


def test_a_long_prompt_is_tokenized_off_the_event_loop(tiny_bundle, shakespeare_text):
    """/health, asked while a 4 MB prompt is being tokenized (~2 s here), answers first."""
    body = json.dumps({**OK, "prompt": shakespeare_text * 4}).encode()
    with running_server(tiny_bundle, max_body_bytes=len(body)) as url:
        done: dict[str, float] = {}

        def send() -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                response = client.post("/v1/completions", content=body, headers=JSON)
                done["prompt"] = time.monotonic()
                done["status"] = response.status_code

        sender = threading.Thread(target=send)
        with httpx.Client(base_url=url, timeout=60) as http:
            sender.start()
            time.sleep(0.3)  # the body is in and being tokenized
            assert http.get("/health").status_code == 200
            done["health"] = time.monotonic()
            sender.join(timeout=60)
    assert done["status"] == 413  # more tokens than the model's block_size
    assert done["health"] < done["prompt"]


# -- 9: text that is not valid Unicode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ('{"model": "kedro-gpt", "prompt": "\\ud800"}', "prompt"),
        ('{"model": "kedro-gpt", "prompt": ["ok", "a\\udfffb"]}', "prompt"),
        (
            '{"model": "kedro-gpt", "messages": [{"role": "user", "content": "\\ud83d"}]}',
            "messages",
        ),
        ('{"model": "kedro-gpt", "prompt": "x", "stop": "\\udc00"}', "stop"),
        ('{"model": "kedro-gpt", "prompt": "x", "\\ud800": 1}', ""),  # a key: the body
    ],
)
def test_lone_surrogates_are_400(http, body, param):
    route = "/v1/chat/completions" if "messages" in body else "/v1/completions"
    response = http.post(route, content=body, headers=JSON)
    assert (_error(response, 400)["param"] or "").startswith(param)


# -- 10: a client that leaves stops its generation -------------------------------------------------


def _generated(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith('kedro_gpt_generated_tokens_total{model_version=""} '):
            return float(line.split()[1])
    raise AssertionError("no generated token counter")


def test_a_client_that_disconnects_stops_its_non_streaming_generation(tiny_bundle):
    long = {"model": "kedro-gpt", "prompt": "Hi", "max_tokens": 4000, "temperature": 0}
    body = json.dumps(long).encode()
    with running_server(tiny_bundle, max_tokens_limit=4000, request_timeout_s=120) as url:
        host, port = url.removeprefix("http://").split(":")
        with httpx.Client(base_url=url, timeout=30) as http:
            sock = socket.create_connection((host, int(port)))
            sock.sendall(
                b"POST /v1/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            deadline = time.monotonic() + 20
            while http.get("/health").json()["running"] == 0:
                assert time.monotonic() < deadline, "the generation never started"
                time.sleep(0.02)
            time.sleep(0.3)
            sock.close()  # the client leaves before the answer
            deadline = time.monotonic() + 5
            while http.get("/health").json()["running"]:
                assert time.monotonic() < deadline, "the generation went on without its client"
                time.sleep(0.05)
            stopped_at = _generated(http)
            time.sleep(0.5)
            assert _generated(http) == stopped_at < 4000
            assert 'status="499"' in http.get("/metrics").text


# -- 11: the API key -------------------------------------------------------------------------------


def test_the_api_key_accepts_only_itself(tiny_bundle):
    with running_server(tiny_bundle, api_key="s3cret-clé") as url:
        with httpx.Client(base_url=url) as http:

            def models(key: bytes) -> int:
                return http.get("/v1/models", headers={"Authorization": b"Bearer " + key})

            assert models("s3cret-clé".encode()).status_code == 200
            for wrong in (b"s3cret", b"s3cret-cl\xe9", "s3cret-clé!".encode(), b"x" * 1000):
                assert _error(models(wrong), 401)["code"] == "invalid_api_key"
            assert _error(http.get("/v1/models"), 401)["code"] == "invalid_api_key"


# -- also seen: docs, strict types, slow clients ---------------------------------------------------


def test_docs_are_open_by_default_and_a_setting_closes_them(tiny_bundle):
    with running_server(tiny_bundle, api_key="k") as url:
        with httpx.Client(base_url=url) as http:
            for path in ("/docs", "/redoc", "/openapi.json"):
                assert http.get(path).status_code == 200  # documented: open without the key
    with running_server(tiny_bundle, api_key="k", docs=False) as url:
        with httpx.Client(base_url=url) as http:
            for path in ("/docs", "/redoc", "/openapi.json"):
                _error(http.get(path), 404)


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_tokens", True), ("max_tokens", "5"), ("max_tokens", 2.0), ("temperature", "1"),
     ("stream", "yes"), ("seed", False), ("top_k", True)],
)  # fmt: skip
def test_types_are_strict(http, field, value):
    assert _error(http.post("/v1/completions", json={**OK, field: value}), 400)["param"] == field


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_request_that_trickles_in_is_cut_at_the_read_timeout(tiny_bundle, phase):
    head = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
    if phase == "headers":  # a header value that never ends
        head += b"x-slow: "
    else:  # whitespace of a JSON body that never ends
        head += b"content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"
    with running_server(tiny_bundle, read_timeout_s=1.0) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head)
            started = time.monotonic()
            answer = _trickle(sock, b"a" if phase == "headers" else b" ", seconds=5)
            elapsed = time.monotonic() - started
        with httpx.Client(base_url=url) as http:
            assert http.get("/health").status_code == 200
    assert elapsed < 3, elapsed
    assert answer.startswith(b"HTTP/1.1 408")


def _trickle(sock: socket.socket, byte: bytes, seconds: float) -> bytes:
    """Send ``byte`` every 0.1 s until the server closes the connection; what it answered."""
    sock.settimeout(0.1)
    answer = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            try:
                sock.sendall(byte)
            except OSError:
                break
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        answer += chunk
    return answer
