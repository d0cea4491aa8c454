"""``kedro run --pipelines=pretrain`` end to end (tiny model), and the registered model served by MLflow."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kedro_gpt.model.bundle import ModelBundle
from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions

pytestmark = pytest.mark.slow

TINY = {
    "pretraining": {
        "model": {"preset": None, "n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 32},
        "training": {
            "batch_size": 8,
            "max_steps": 30,
            "max_minutes": 5,
            "warmup_steps": 5,
            "eval_interval": 10,
            "eval_batches": 2,
            "log_interval": 5,
            "checkpoint_interval": 10,
            "progress_bar": False,
        },
    }
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(
        tmp_path_factory.mktemp("pretrain"),
        local_params={
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 400}}},
            "parameters_pretraining": TINY,
            "parameters_evaluation": {
                "evaluation": {"samples": {"prompts": ["ROMEO:"], "max_new_tokens": 20}}
            },
        },
    )
    kedro_run(project, "--pipelines=pretrain")
    return project


def _latest(project: Path, artifact: str) -> Path:
    folder = project / artifact
    return folder / versions(project, artifact)[-1] / folder.name


def test_model_is_saved_and_loads(project):
    bundle = ModelBundle.load(_latest(project, "data/06_models/gpt_model"))
    assert (
        bundle.config.n_layer == 2 and bundle.config.vocab_size == bundle.tokenizer.get_piece_size()
    )
    assert bundle.info["step"] == 30
    assert isinstance(bundle.generate_text("ROMEO:", 5, temperature=0), str)


def test_evaluation_report_has_bits_per_char(project):
    report = json.loads(_latest(project, "data/08_reporting/evaluation_report.json").read_text())
    validation = report["validation"]
    assert 0 < validation["bits_per_char"] < 8
    assert validation["perplexity"] > 1
    assert report["samples"]["ROMEO:"]
    assert _latest(project, "data/08_reporting/loss_curve.png").stat().st_size > 1000


def test_mlflow_run_tracks_training_and_lineage(project):
    (run,) = mlflow_runs(project)
    metrics, tags, params = run["metrics"], run["tags"], run["params"]
    for key in (
        "train/loss",
        "train/lr",
        "train/grad_norm",
        "train/tokens_per_s",
        "train/mfu",
        "val_sampled/loss",
        "eval/val_full/bits_per_char",
        "summary/tokens_per_s_mean",
        "cleaning/documents_kept",
        "tokenization/train/tokens",
    ):
        assert key in metrics, key
    assert all("." not in k for k in metrics), sorted(metrics)  # one separator: "/"
    assert any(k.startswith("system/cpu_utilization") for k in metrics), sorted(metrics)
    assert tags["mlflow.runName"] == "pretrain · layer2-embd32 · tinyshakespeare+2"
    assert "val_sampled" in tags["mlflow.note.content"]
    assert tags["runner"] == "SequentialRunner" and "run_id" not in tags
    assert tags["git_commit"]
    for dataset in ("train_tokens", "val_tokens", "tokenizer"):
        assert tags[f"lineage.input.{dataset}"] == versions(project, _path(dataset))[-1]
    assert params["pretraining.training.max_steps"] == "30"  # as the user set it, once
    assert params["pretraining.training.beta2"] == "0.99"  # a default, beside it
    assert not [k for k in params if k.startswith(("train.", "model."))]


def _path(dataset: str) -> str:
    return {
        "train_tokens": "data/05_model_input/train_tokens",
        "val_tokens": "data/05_model_input/val_tokens",
        "tokenizer": "data/06_models/tokenizer.model",
    }[dataset]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_registered_model_is_served_by_mlflow(project):
    registration = json.loads(
        _latest(project, "data/08_reporting/model_registration.json").read_text()
    )
    assert registration["model_uri"] == "models:/kedro-gpt/1"
    port = _free_port()
    # mlflow starts `uvicorn` from PATH, as in an activated venv
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    mlflow_bin = str(bin_dir / "mlflow")
    server = subprocess.Popen(
        [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            registration["model_uri"],
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = json.dumps(
            {"inputs": ["ROMEO:"], "params": {"max_new_tokens": 8, "temperature": 0.0}}
        ).encode()
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/invocations",
                    body,
                    {"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"mlflow models serve did not answer:\n{server.stderr.read()[-3000:]}"
                    )
                time.sleep(1)
        (text,) = answer["predictions"]
        assert isinstance(text, str) and text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_first_notebook_runs(project):
    """The notebook a person opens first executes top to bottom against the run above."""
    import nbformat
    from nbclient import NotebookClient

    notebooks = project / "notebooks"
    notebooks.mkdir(exist_ok=True)
    source = Path(__file__).resolve().parents[2] / "notebooks" / "first_look.ipynb"
    notebook = nbformat.read(source, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebooks)}},
    ).execute()
    outputs = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    texts = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "commit" in texts and "ROMEO:" in texts
    # it opens clean: no stderr, no warning of any library in any output (log records are
    # display_data; stdout holds the sample, so there only Python's "...Warning:" counts)
    assert not [o["text"] for o in outputs if o.get("name") == "stderr"]
    logs = [str(o.get("data", {}).get("text/plain", "")) for o in outputs if "data" in o]
    assert not [t for t in logs if "warn" in t.lower()], logs
    assert "Warning" not in texts, texts
    assert not (notebooks / "mlflow.db").exists()  # the project's store, not one of its own
