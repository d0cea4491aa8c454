"""The image, built and run for real with podman (deploy/build_image.sh): the server inside the
container answers /health and a completion. Runs where podman, debootstrap and root are at hand
(minutes the first time: the base image and the layers are cached after)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("podman") and shutil.which("debootstrap") and os.geteuid() == 0),
        reason="needs podman, debootstrap and root (apt-get install podman debootstrap runc)",
    ),
]


def test_the_image_builds_runs_and_answers(tiny_model_dir):
    proc = subprocess.run(
        [str(PROJECT_ROOT / "deploy" / "build_image.sh"), str(tiny_model_dir)],
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["health"]["status"] == "ok" and result["health"]["model"] == "kedro-gpt"
    assert result["completion"]["finish_reason"] in {"length", "stop"}
    assert result["completion"]["text"]
    assert result["image_mb"] > 100 and result["start_s"] > 0
