"""``POST /v1/feedback`` against a real server and a real SQLite database: rows as sent, clear
4xx bodies for bad feedback, concurrent writers, and committed rows surviving a killed server."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from kedro_gpt.feedback.store import FeedbackStore

from .conftest import free_port, running_server

CHAT = {
    "messages": [{"role": "user", "content": "Who wrote Hamlet?"}],
    "answer": "Marlowe.",
    "rating": "down",
    "comment": "wrong author",
    "edited_answer": "Shakespeare wrote Hamlet.",
    "model": "kedro-gpt",
    "sampling": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 32},
}
COMPLETION = {"prompt": "To be, or", "answer": " not to be", "rating": "up"}


def _rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM feedback ORDER BY id")]


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["message"]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def test_a_rated_chat_answer_becomes_a_row(http, feedback_db):
    response = http.post("/v1/feedback", json=CHAT)
    assert response.status_code == 201, response.text
    row = next(r for r in _rows(feedback_db) if r["id"] == response.json()["id"])
    assert row["mode"] == "chat"
    assert json.loads(row["messages"]) == CHAT["messages"]
    assert row["prompt"] is None
    assert (row["answer"], row["edited_answer"]) == ("Marlowe.", "Shakespeare wrote Hamlet.")
    assert (row["rating"], row["comment"], row["model_name"]) == (-1, "wrong author", "kedro-gpt")
    assert json.loads(row["sampling"]) == CHAT["sampling"]
    assert row["created_at"]


def test_a_completion_rating_records_the_version_that_answered(http, feedback_db):
    answered = http.post("/v1/completions", json={"model": "kedro-gpt", "prompt": "Hi"})
    assert answered.headers["x-model-version"] == ""  # a model folder has no version
    sent = {**COMPLETION, "model_version": "7"}
    first = http.post("/v1/feedback", json=sent).json()["id"]
    second = http.post("/v1/feedback", json=COMPLETION).json()["id"]
    rows = {r["id"]: r for r in _rows(feedback_db)}
    assert (rows[first]["mode"], rows[first]["prompt"], rows[first]["rating"]) == (
        "completion",
        "To be, or",
        1,
    )
    assert rows[first]["model_version"] == "7"
    assert rows[second]["model_version"] == ""  # the version served now


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": "Hi", "answer": "there"}, "needs a rating, a comment or an edited_answer"),
        ({**COMPLETION, "messages": CHAT["messages"]}, "either messages (chat) or prompt"),
        ({"answer": "x", "rating": "up"}, "either messages (chat) or prompt"),
        ({**COMPLETION, "rating": "meh"}, "rating"),
        ({**COMPLETION, "answer": "x" * 32_001}, "answer"),
        ({**COMPLETION, "comment": "x" * 2_001}, "comment"),
        ({**COMPLETION, "stars": 5}, "stars"),
        ({**COMPLETION, "comment": "\ud800"}, "lone surrogate"),
        ({**COMPLETION, "sampling": {"temperature": -1}}, "temperature"),
    ],
)
def test_bad_feedback_is_a_400_that_says_why(http, feedback_db, body, words):
    before = len(_rows(feedback_db))
    sent = json.dumps(body)  # ASCII: a lone surrogate travels as the escape "\\ud800"
    response = http.post("/v1/feedback", content=sent, headers={"content-type": "application/json"})
    assert words in _error(response, 400)
    assert len(_rows(feedback_db)) == before


def test_malformed_and_oversized_bodies(http):
    response = http.post(
        "/v1/feedback", content=b"{not json", headers={"content-type": "application/json"}
    )
    _error(response, 400)
    huge = {**COMPLETION, "answer": "x" * 2_000_000}  # over the server's 1 MiB body limit
    assert "larger than" in _error(http.post("/v1/feedback", json=huge), 413)


def test_concurrent_writers_do_not_collide(http, feedback_db):
    before = len(_rows(feedback_db))

    def send(i: int) -> int:
        body = {**COMPLETION, "prompt": f"writer {i}"}
        response = http.post("/v1/feedback", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(send, range(200)))
    assert len(set(ids)) == 200
    rows = _rows(feedback_db)
    assert len(rows) == before + 200
    assert sorted(r["prompt"] for r in rows if r["id"] in set(ids)) == sorted(
        f"writer {i}" for i in range(200)
    )


def test_two_processes_write_one_database(tmp_path):
    db = tmp_path / "shared.db"
    FeedbackStore(f"sqlite:///{db}").close()
    script = (
        "import sys\n"
        "from kedro_gpt.feedback.schema import FeedbackIn\n"
        "from kedro_gpt.feedback.store import FeedbackStore\n"
        "store = FeedbackStore(sys.argv[1])\n"
        "for i in range(150):\n"
        "    store.add(FeedbackIn(prompt=f'{sys.argv[2]} {i}', answer='a', rating='up'))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, f"sqlite:///{db}", name])
        for name in ("left", "right")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = FeedbackStore(f"sqlite:///{db}")
    table = store.table()
    assert len(table) == 300 and table["id"].is_unique
    assert sorted(table["prompt"]) == sorted(
        f"{n} {i}" for n in ("left", "right") for i in range(150)
    )
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_no_feedback_database_is_a_503_that_says_how(tiny_bundle):
    with running_server(tiny_bundle) as url:
        response = httpx.post(f"{url}/v1/feedback", json=COMPLETION)
    assert "--feedback-db" in _error(response, 503)


def test_the_api_key_guards_feedback(tiny_bundle, tmp_path):
    with running_server(
        tiny_bundle, api_key="s3cret", feedback_url=f"sqlite:///{tmp_path / 'f.db'}"
    ) as url:
        _error(httpx.post(f"{url}/v1/feedback", json=COMPLETION), 401)
        auth = {"Authorization": "Bearer s3cret"}
        assert httpx.post(f"{url}/v1/feedback", json=COMPLETION, headers=auth).status_code == 201


@pytest.mark.slow
def test_a_killed_server_keeps_every_committed_row(tiny_model_dir, tmp_path):
    """``kedro-gpt serve`` in its own process, SIGKILLed while a generation streams and
    feedback posts are in flight: every row it answered 201 for is in the database, intact."""
    db = tmp_path / "feedback.db"
    port = free_port()
    exe = Path(sys.executable).with_name("kedro-gpt")
    server = subprocess.Popen(
        [str(exe), "serve", "--model", str(tiny_model_dir), "--port", str(port),
         "--feedback-db", f"sqlite:///{db}", "--max-tokens-limit", "512"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        committed = []
        with httpx.Client(base_url=url, timeout=10) as http:
            for i in range(40):
                committed.append(http.post("/v1/feedback", json={**COMPLETION, "prompt": str(i)}))
            body = {"model": "kedro-gpt", "prompt": "Hi", "max_tokens": 512, "stream": True}
            with http.stream("POST", "/v1/completions", json=body) as stream:
                next(stream.iter_lines())  # the generation is running

                def flood(i: int) -> int | None:
                    try:
                        body = {**COMPLETION, "prompt": f"late {i}"}
                        response = httpx.post(f"{url}/v1/feedback", json=body, timeout=10)
                        return response.json()["id"] if response.status_code == 201 else None
                    except httpx.HTTPError:
                        return None

                with ThreadPoolExecutor(8) as pool:
                    late = [pool.submit(flood, i) for i in range(200)]
                    time.sleep(0.3)
                    os.kill(server.pid, signal.SIGKILL)
                    acknowledged = [f.result() for f in late]
    finally:
        server.kill()
        server.wait(timeout=30)
    assert all(r.status_code == 201 for r in committed)
    rows = _rows(db)
    ids = {r["id"] for r in rows}
    assert {r.json()["id"] for r in committed} <= ids
    assert {i for i in acknowledged if i is not None} <= ids
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
