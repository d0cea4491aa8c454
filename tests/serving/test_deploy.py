"""The container's own commands run the server (no container engine runs here): the Dockerfile's
CMD, with its ENV, starts a real server on a model folder, and its HEALTHCHECK passes against it;
the Kubernetes manifest probes the path and port that server answers on."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from tests.conftest import PROJECT_ROOT
from tests.serving.conftest import free_port


def _runtime_stage() -> str:
    text = (PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return re.split(r"^FROM .*$", text, flags=re.M)[-1]


def _env(stage: str) -> dict[str, str]:
    env = {}
    for line in re.findall(r"^ENV (.+)$", stage, flags=re.M):
        for pair in shlex.split(line):
            key, value = pair.split("=", 1)
            env[key] = value
    return env


def test_the_containers_cmd_serves_and_its_healthcheck_passes(tiny_model_dir: Path, tmp_path):
    stage = _runtime_stage()
    cmd = json.loads(re.search(r"^CMD (\[.+\])$", stage, flags=re.M).group(1))
    health = re.search(r"^HEALTHCHECK .*? CMD (.+)$", stage, flags=re.M).group(1)
    port = free_port()
    env = {
        **os.environ,
        **_env(stage),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "KEDRO_GPT_MODEL": str(tiny_model_dir),  # what the manifest mounts at /models/model
        "KEDRO_GPT_PORT": str(port),
        "KEDRO_GPT_FEEDBACK_DB": f"sqlite:///{tmp_path}/feedback.db",  # not the image's /data
    }
    assert env["KEDRO_DISABLE_TELEMETRY"] == "true"
    # the same command on loopback only: a test never listens beyond this machine
    cmd = [part.replace("0.0.0.0", "127.0.0.1") for part in cmd]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            check = subprocess.run(
                ["sh", "-c", health], check=False, env=env, capture_output=True, timeout=10
            )
            if check.returncode == 0:
                break
            assert server.poll() is None, server.communicate()[0].decode()[-3000:]
            assert time.monotonic() < deadline, check.stderr.decode()[-2000:]
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as response:
            model = json.load(response)["data"][0]["id"]
        body = json.dumps({"model": model, "prompt": "ROMEO:", "max_tokens": 4}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions",
            body,
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["choices"][0]["finish_reason"] in {"length", "stop"}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_kubernetes_probes_the_path_and_port_the_image_serves():
    stage = _runtime_stage()
    docs = list(yaml.safe_load_all((PROJECT_ROOT / "deploy" / "kubernetes.yaml").read_text()))
    deployment, service = (
        next(d for d in docs if d["kind"] == k) for k in ("Deployment", "Service")
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = container["ports"][0]
    assert port["containerPort"] == int(_env(stage)["KEDRO_GPT_PORT"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
        assert container[probe]["httpGet"]["port"] in (port["name"], port["containerPort"])
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_kubernetes_has_what_a_real_deployment_needs():
    env = _env(_runtime_stage())
    docs = list(yaml.safe_load_all((PROJECT_ROOT / "deploy" / "kubernetes.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    deployment, hpa = kinds["Deployment"], kinds["HorizontalPodAutoscaler"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]
    assert annotations["prometheus.io/path"] == "/metrics"
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and set(resources["limits"]) >= {
        "cpu",
        "memory",
    }
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
    }
    assert secrets["KEDRO_GPT_API_KEY"]["key"] == "api-key"
    assert "optional" not in secrets["KEDRO_GPT_API_KEY"]  # a pod never starts without a key
    assert secrets["KEDRO_GPT_FEEDBACK_DB"]["optional"] is True  # else the image's SQLite path
    sqlite_dir = str(Path(env["KEDRO_GPT_FEEDBACK_DB"].removeprefix("sqlite:///")).parent)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["feedback"] == sqlite_dir
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
              if "persistentVolumeClaim" in v}  # fmt: skip
    assert claims["feedback"] == kinds["PersistentVolumeClaim"]["metadata"]["name"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
