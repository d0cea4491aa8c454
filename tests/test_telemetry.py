"""The project opts out of kedro-telemetry in its own files (``.telemetry``, as Kedro documents):
a ``kedro`` command run outside ``make`` leaves ``pyproject.toml`` alone and prints no notice."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.integration.kedro_project import KEDRO, PROJECT_ROOT, make_project

pytestmark = pytest.mark.slow


def test_a_kedro_command_without_opt_out_variables_sends_and_writes_nothing(tmp_path):
    project = make_project(tmp_path, raw=False)
    shutil.copy(PROJECT_ROOT / ".telemetry", project)
    before = (project / "pyproject.toml").read_bytes()
    env = {
        k: v for k, v in os.environ.items() if k not in ("KEDRO_DISABLE_TELEMETRY", "DO_NOT_TRACK")
    }
    proc = subprocess.run(
        [str(KEDRO), "info"],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "anonymous usage data" not in output, output  # kedro-telemetry's notice
    assert (project / "pyproject.toml").read_bytes() == before
