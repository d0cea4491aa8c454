"""Project hooks in real ``kedro run`` calls: parameters checked before the first node, and two
runs side by side each reading back its own outputs."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.integration.kedro_project import (
    KEDRO,
    PROJECT_ROOT,
    kedro_run,
    make_project,
    versions,
)

pytestmark = pytest.mark.slow

SHAKESPEARE = (PROJECT_ROOT / "data/01_raw/tinyshakespeare/input.txt").read_text()
SLOW_TEXT = SHAKESPEARE[:3000]


class _HeldServer:
    """A loopback server whose one page is answered only when the test releases it."""

    def __init__(self) -> None:
        self.requested, self.release = threading.Event(), threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.requested.set()
                held.release.wait(300)
                body = SLOW_TEXT.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alpha.txt"


@pytest.fixture
def held_server() -> Iterator[_HeldServer]:
    held = _HeldServer()
    thread = threading.Thread(target=held.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield held
    finally:
        held.release.set()
        held.server.shutdown()
        held.server.server_close()


def _env(project: Path, name: str, parameters: dict) -> None:
    folder = project / "conf" / name
    folder.mkdir()
    (folder / "parameters_ingestion.yml").write_text(yaml.safe_dump(parameters))


def _report(project: Path, version: str) -> dict:
    path = project / "data/08_reporting/cleaning_report.json" / version / "cleaning_report.json"
    return json.loads(path.read_text())


def test_two_runs_at_once_each_clean_their_own_documents(tmp_path, held_server):
    project = make_project(tmp_path, raw=False)
    lines = [json.dumps({"text": SHAKESPEARE[i : i + 3000]}) for i in (10_000, 20_000, 30_000)]
    (project / "data/01_raw/beta.jsonl").write_text("\n".join(lines) + "\n")
    alpha_sources = {"sources": [{"url": held_server.url}], "url_timeout_s": 500}
    _env(project, "alpha", {"ingestion": alpha_sources})
    _env(project, "beta", {"ingestion": {"sources": [{"path": "data/01_raw/beta.jsonl"}]}})
    args = ["--pipelines=ingestion,cleaning"]
    alpha = subprocess.Popen(
        [str(KEDRO), "run", "--env=alpha", *args],
        cwd=project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # alpha (the older run) waits on its URL while beta writes newer versions of everything
        if not held_server.requested.wait(300):
            alpha.kill()
            pytest.fail("the alpha run never asked for its URL:\n" + alpha.communicate()[0][-6000:])
        kedro_run(project, "--env=beta", *args)
    finally:
        held_server.release.set()
        out, _ = alpha.communicate(timeout=300)
    assert alpha.returncode == 0, out[-6000:]
    older, newer = versions(project, "data/08_reporting/cleaning_report.json")
    assert _report(project, older)["documents_in"] == 1  # alpha's one URL document
    assert _report(project, newer)["documents_in"] == 3  # beta's three lines


def test_a_bad_parameter_of_a_later_stage_fails_before_the_first_node(tmp_path):
    project = make_project(
        tmp_path,
        local_params={
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_sise": 500}}}
        },
    )
    proc = kedro_run(project, "--pipelines=data", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "parameters 'tokenization' -> sentencepiece.vocab_sise" in output
    assert not (project / "data/02_intermediate/documents.parquet").exists()  # nothing ran
