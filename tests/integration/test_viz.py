"""``kedro viz`` sees every registered pipeline with its layers, and the ``pretrain`` DAG runs
from raw sources to registration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kedro_gpt.pipeline_registry import register_pipelines
from tests.integration.kedro_project import make_project

pytestmark = pytest.mark.slow

PRETRAIN_NODES = [
    "ingest_documents",
    "clean_documents",
    "split_corpus",
    "train_tokenizer",
    "encode_corpus",
    "pretrain",
    "evaluate_model",
    "plot_loss_curves",
    "register_model",
]


@pytest.fixture(scope="module")
def viz(tmp_path_factory) -> tuple[Path, str]:
    """``kedro viz build`` in a copy of the project: the API folder and what it printed."""
    project = make_project(tmp_path_factory.mktemp("viz"), raw=False)
    kedro = str(Path(sys.executable).with_name("kedro"))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "400"}
    proc = subprocess.run(
        [kedro, "viz", "build"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return project / "build" / "api", proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def viz_build(viz) -> Path:
    return viz[0]


def test_every_registered_pipeline_is_visible_with_its_layers(viz):
    api, output = viz
    assert "circular dependency" not in output.lower(), output[-3000:]
    for name in register_pipelines():
        graph = json.loads((api / "pipelines" / name).read_text())
        layers = graph["layers"]
        assert layers, f"kedro-viz shows no layers on pipeline {name!r}"


def test_pretrain_dag_is_whole_and_layered(viz_build):
    graph = json.loads((viz_build / "pipelines" / "pretrain").read_text())
    nodes = {n["id"]: n for n in graph["nodes"]}
    tasks = {n["name"] for n in nodes.values() if n["type"] == "task"}
    assert tasks == set(PRETRAIN_NODES)
    # follow the edges from the ingestion node: every task is downstream of it
    children: dict[str, set[str]] = {}
    for edge in graph["edges"]:
        children.setdefault(edge["source"], set()).add(edge["target"])
    start = next(i for i, n in nodes.items() if n["name"] == "ingest_documents")
    seen, frontier = {start}, [start]
    while frontier:
        for nxt in children.get(frontier.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert {nodes[i]["name"] for i in seen if nodes[i]["type"] == "task"} == set(PRETRAIN_NODES)
    layers = {n["name"]: n.get("layer") for n in nodes.values() if n["type"] == "data"}
    assert layers["documents"] == "intermediate" and layers["train_tokens"] == "model_input"
    assert layers["gpt_model"] == "models" and layers["evaluation_report"] == "reporting"
    assert layers["tokenizer"] == "feature"  # a tokenizer feeds model_input: it cannot be `models`
