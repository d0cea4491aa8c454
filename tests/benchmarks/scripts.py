"""Run a benchmark script as a user would, from the project root."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

BENCHMARKS = PROJECT_ROOT / "benchmarks"


def run_script(name: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python benchmarks/<name> args…``; its output captured, the exit status not checked."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
