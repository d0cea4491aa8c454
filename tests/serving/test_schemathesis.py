"""Schemathesis against the server's own OpenAPI schema: no request makes it answer 5xx.

(schemathesis' pytest plugin ``from_fixture`` does not work with this pytest version, so each
operation's hypothesis strategy is driven directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error


@pytest.fixture(scope="module")
def operations(server) -> dict:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    ops = {}
    for result in schema.get_all_operations():
        op = result.ok()
        ops[f"{op.method.upper()} {op.path}"] = op
    return ops


ENDPOINTS = [
    "POST /v1/completions",
    "POST /v1/chat/completions",
    "POST /v1/classify",
    "POST /v1/feedback",
    "POST /admin/reload",
    "GET /v1/models",
    "GET /health",
    "GET /metrics",
]


def test_the_schema_lists_every_endpoint(operations):
    assert sorted(operations) == sorted(ENDPOINTS)


CASES = [(e, GenerationMode.POSITIVE) for e in ENDPOINTS] + [
    (e, GenerationMode.NEGATIVE)
    for e in ENDPOINTS
    if e.startswith("POST")  # GETs take no input
]


@pytest.mark.parametrize(("endpoint", "mode"), CASES)
def test_no_request_gets_a_server_error(operations, endpoint, mode):
    calls = []

    @given(case=operations[endpoint].as_strategy(generation_mode=mode))
    @settings(
        max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
    )
    def check(case) -> None:
        if isinstance(case.body, dict) and "model" in case.body and len(calls) % 2:
            case.body["model"] = "kedro-gpt"  # reach generation, not only the 404
        response = case.call(timeout=30)
        calls.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["message"] and error["type"]

    check()
    assert calls
    if mode is GenerationMode.POSITIVE and "completions" in endpoint:
        assert 200 in calls  # valid requests did reach the model
