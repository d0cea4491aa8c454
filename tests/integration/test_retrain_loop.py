"""The loop from a person's rating to the next served model, with real processes throughout:
``kedro run --pipelines=pretrain``; ``retrain`` makes the first chat champion; ``kedro-gpt serve``
follows ``models:/kedro-gpt-finetuned@champion``; ratings posted to it become rows; ``retrain``
snapshots them, learns from them and promotes a new champion; the server switches to it while
requests keep coming, and none fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions
from tests.integration.test_finetune_pipeline import FINETUNE
from tests.integration.test_pretrain_pipeline import TINY
from tests.serving.conftest import free_port

pytestmark = pytest.mark.slow

RETRAIN = {
    "retrain": {
        "start_from": [
            "models:/kedro-gpt-finetuned@champion",
            "models:/kedro-gpt@champion",
            "models:/kedro-gpt/latest",
        ],
        "champion": "models:/kedro-gpt-finetuned@champion",
        "finetuning": {"task": "chat", "chat.files": ["qa_python_faq/python_faq_qa.jsonl"]},
        "comparison": {
            "text_sets": {"shakespeare_val": {"file": "tinyshakespeare/input.txt",
                                              "tail_fraction": 0.02}},
            "pair_sets": {},
            "chat_sets": {"truthfulqa": {"files": ["tasks/qa_truthfulqa/TruthfulQA.csv"],
                                         "max_examples": 8}},
            "generation": {"eval_examples": 2, "max_new_tokens": 4},
            "samples": {"prompts": ["ROMEO:"], "max_new_tokens": 5},
            "promotion.thresholds": {"truthfulqa.response_loss": {"max": 20.0}},
        },
    }
}  # fmt: skip
RATINGS = [
    {"q": "What is a list?", "a": "A fish.", "rating": "down", "edited": "An ordered sequence."},
    {"q": "What is a list?", "a": "An ordered collection.", "rating": "up"},
    {"q": "What is a dict?", "a": "A mapping of keys to values.", "rating": "up"},
    {"q": "What is a dict?", "a": "A dog.", "rating": "down"},
    {"q": "What is a tuple?", "a": "An immutable sequence.", "rating": "up", "comment": "good"},
]


def _serve(project: Path, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("kedro-gpt")
    return subprocess.Popen(
        [str(exe), "serve", "--project", str(project), "--port", str(port),
         "--model", "models:/kedro-gpt-finetuned@champion", "--follow-interval", "0.5"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip


def _wait(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.3)


def _promotion(project: Path) -> dict:
    folder = project / "data/08_reporting/retrain/promotion.json"
    return json.loads(
        (folder / versions(project, str(folder.relative_to(project)))[-1] / folder.name).read_text()
    )


def test_a_rating_becomes_the_next_champion_and_the_server_switches(tmp_path):
    project = make_project(
        tmp_path,
        local_params={
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 400}}},
            "parameters_pretraining": TINY,
            "parameters_evaluation": {
                "evaluation": {"samples": {"prompts": ["ROMEO:"], "max_new_tokens": 5}}
            },
            "parameters_finetuning": FINETUNE,
            "parameters_retrain": RETRAIN,
        },
    )
    kedro_run(project, "--pipelines=pretrain")
    kedro_run(project, "--pipelines=retrain")  # no champion yet: from kedro-gpt's latest
    first = _promotion(project)
    assert first["promoted"] and first["registered_version"] == "1", first

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(project, port)
    try:
        _wait(url, server)
        assert httpx.get(f"{url}/health").json()["model_version"] == "1"
        ids = []
        for r in RATINGS:
            body = {
                "messages": [{"role": "user", "content": r["q"]}],
                "answer": r["a"],
                "rating": r["rating"],
                "edited_answer": r.get("edited"),
                "comment": r.get("comment"),
                "model": "kedro-gpt",
            }
            response = httpx.post(f"{url}/v1/feedback", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])

        answers: list[tuple[int, str]] = []
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                r = httpx.post(
                    f"{url}/v1/chat/completions",
                    json={"model": "kedro-gpt", "max_tokens": 8,
                          "messages": [{"role": "user", "content": "Hello?"}]},
                    timeout=60,
                )  # fmt: skip
                answers.append((r.status_code, r.headers.get("x-model-version", "")))

        thread = threading.Thread(target=traffic)
        thread.start()
        try:
            kedro_run(project, "--pipelines=retrain")  # from the champion, with the ratings
            deadline = time.monotonic() + 60
            while httpx.get(f"{url}/health").json()["model_version"] != "2":
                assert time.monotonic() < deadline, "the server did not follow the champion"
                time.sleep(0.2)
            time.sleep(1.0)  # a few requests on the new model
        finally:
            stop.set()
            thread.join(60)
    finally:
        server.terminate()
        server.wait(timeout=30)

    second = _promotion(project)
    assert second["promoted"] and second["registered_version"] == "2", second
    assert answers and all(status == 200 for status, _ in answers)
    assert {v for _, v in answers} == {"1", "2"}  # served by both, failed by neither

    # the snapshot holds exactly the ratings; the run learned from them and names its versions
    snapshot_folder = project / "data/02_intermediate/retrain/feedback_snapshot.parquet"
    snapshots = versions(project, str(snapshot_folder.relative_to(project)))
    table = pq.read_table(snapshot_folder / snapshots[-1] / snapshot_folder.name).to_pandas()
    assert sorted(table["id"]) == sorted(ids)
    report_folder = project / "data/08_reporting/retrain/finetune_report.json"
    report = json.loads(
        (report_folder / versions(project, str(report_folder.relative_to(project)))[-1]
         / report_folder.name).read_text()
    )  # fmt: skip
    assert report["feedback"]["supervised"] == 4  # the edit + three up-votes
    assert report["feedback"]["pairs"] == 3
    run = next(r for r in reversed(mlflow_runs(project)) if "finetune.task" in r["tags"])
    assert run["tags"].get("lineage.output.retrain.feedback_snapshot") == snapshots[-1]
    assert run["tags"]["base_model.registered_model"] == "kedro-gpt-finetuned"
    assert run["tags"]["base_model.registered_version"] == "1"
