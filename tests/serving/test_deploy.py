"""The container files hold what the docs promise (no Docker engine runs here to build them)."""

from __future__ import annotations

import yaml

from tests.conftest import PROJECT_ROOT


def test_dockerfile_is_multistage_non_root_with_a_healthcheck():
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert "ARG BASE_IMAGE=" in text and "USER kedro" in text
    assert "HEALTHCHECK" in text and "/health" in text
    assert "kedro_gpt.serving.cli serve --host 0.0.0.0" in text


def test_kubernetes_deployment_probes_health_and_service_targets_it():
    docs = list(yaml.safe_load_all((PROJECT_ROOT / "deploy" / "kubernetes.yaml").read_text()))
    deployment, service = (
        next(d for d in docs if d["kind"] == k) for k in ("Deployment", "Service")
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
