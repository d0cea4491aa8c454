"""The real ``kedro-gpt`` command line, run in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from kedro_gpt.model import generate
from kedro_gpt.model.bundle import ModelBundle

from .conftest import free_port
from .tiny_bundle import make_tiny_bundle, save_tiny_bundle

CLI = [sys.executable, "-m", "kedro_gpt.serving.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "KEDRO_DISABLE_TELEMETRY": "true"}


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        cwd=cwd,
    )


def test_generate_streams_the_greedy_continuation(tiny_model_dir, tiny_bundle):
    out = run("generate", "ROMEO:", "--model", str(tiny_model_dir), "--temperature", "0",
              "--max-tokens", "6")  # fmt: skip
    assert out.returncode == 0, out.stderr
    sp = tiny_bundle.tokenizer
    eot = sp.piece_to_id("<|endoftext|>")
    new = generate(tiny_bundle.model, [sp.encode("ROMEO:")], 6, temperature=0, stop_tokens=[eot])
    assert out.stdout == "ROMEO:" + sp.decode(new[0]) + "\n"


CATALOG = """
gpt_model:
  type: kedro_gpt.datasets.GPTModelDataset
  filepath: models/pretrained/gpt
  versioned: true
finetuned_model:
  type: kedro_gpt.datasets.GPTModelDataset
  filepath: models/tuned/ft
  versioned: true
"""


def make_project(root: Path) -> Path:
    """A Kedro conf whose catalog keeps models somewhere else than the shipped catalog."""
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir()
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    return root


def add_version(root: Path, dataset: str, version: str, source: Path) -> Path:
    """``source`` as a catalog version of ``dataset`` (a symlink: the tiny model is shared)."""
    folder = {"gpt_model": "models/pretrained/gpt", "finetuned_model": "models/tuned/ft"}[dataset]
    path = root / folder / version / Path(folder).name
    path.parent.mkdir(parents=True)
    path.symlink_to(source)
    return path


@pytest.mark.slow
def test_default_model_is_the_latest_version_where_the_catalog_keeps_it(
    tmp_path, shakespeare_text, tiny_model_dir
):
    project = make_project(tmp_path / "project")
    old = save_tiny_bundle(shakespeare_text[:60_000], tmp_path / "old")
    add_version(project, "gpt_model", "2026-01-01T00.00.00.000Z", old)
    add_version(project, "gpt_model", "2026-02-01T00.00.00.000Z", tiny_model_dir)
    args = ["generate", "KING:", "--temperature", "0", "--max-tokens", "5"]
    by_default = run(*args, cwd=project)
    by_dataset = run(
        *args, "--project", str(project), "--model", "gpt_model:2026-02-01T00.00.00.000Z"
    )
    older = run(*args, "--project", str(project), "--model", "2026-01-01T00.00.00.000Z")
    for out in (by_default, by_dataset, older):
        assert out.returncode == 0, out.stderr
    assert by_default.stdout == by_dataset.stdout
    assert "model: gpt_model version 2026-02-01T00.00.00.000Z (pretrained" in by_default.stderr
    assert by_dataset.stderr == by_default.stderr
    assert "model: gpt_model version 2026-01-01T00.00.00.000Z" in older.stderr


@pytest.mark.slow
def test_missing_model_is_a_clear_error(tmp_path):
    project = make_project(tmp_path / "project")
    out = run("generate", "x", "--project", str(project))
    assert out.returncode == 1 and "no trained model under" in out.stderr
    assert str(project / "models" / "pretrained" / "gpt") in out.stderr
    assert "Traceback" not in out.stderr
    out = run("generate", "x", "--model", "models:/nothing/1", "--tracking-uri",
              f"sqlite:///{tmp_path}/mlflow.db")  # fmt: skip
    assert out.returncode == 1 and "cannot fetch model 'models:/nothing/1'" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("command", ["generate", "serve"])
def test_a_corrupt_weights_file_is_one_line_naming_it(tmp_path, tiny_model_dir, command):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "tokenizer.model"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    weights = (tiny_model_dir / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(weights[: len(weights) // 3])
    args = ["x"] if command == "generate" else ["--port", str(free_port())]
    out = run(command, *args, "--model", str(folder), cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"{folder / 'model.safetensors'} is not a readable safetensors file" in out.stderr


def test_chat_reads_messages_from_piped_stdin(tiny_model_dir):
    out = run("chat", "--model", str(tiny_model_dir), "--max-tokens", "5", "--system", "Be brief.",
              stdin="Hello\n/reset\nWho are you?\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("assistant> ") == 2


def test_chat_answers_slash_commands_itself(tiny_model_dir):
    out = run("chat", "--model", str(tiny_model_dir), "--max-tokens", "3",
              stdin="/help\n/bogus\n\nHello\n//etc/hosts\n/quit\nnever read\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("assistant> ") == 2  # Hello and /etc/hosts; no command, no blank
    assert "/reset" in out.stdout and "unknown command /bogus" in out.stdout


@pytest.mark.slow
def test_chat_prefers_the_newest_chat_tuned_model_and_says_which(
    tmp_path, shakespeare_text, tiny_model_dir
):
    project = make_project(tmp_path / "project")
    add_version(project, "gpt_model", "2026-03-01T00.00.00.000Z", tiny_model_dir)
    alone = run("chat", "--max-tokens", "2", stdin="Hi\n", cwd=project)
    assert alone.returncode == 0, alone.stderr
    assert "gpt_model version 2026-03-01T00.00.00.000Z (pretrained" in alone.stderr
    assert "no model fine-tuned for chat was found" in alone.stderr
    for version, task in [
        ("2026-01-01T00.00.00.000Z", "chat"),
        ("2026-02-01T00.00.00.000Z", "classification"),
    ]:
        bundle = make_tiny_bundle(shakespeare_text[:60_000])
        bundle.info = {"source": "finetuning", "task": task}
        folder = tmp_path / task
        folder.mkdir()
        bundle.save(folder)
        add_version(project, "finetuned_model", version, folder)
    out = run("chat", "--max-tokens", "2", stdin="Hi\n", cwd=project)
    assert out.returncode == 0, out.stderr
    assert "finetuned_model version 2026-01-01T00.00.00.000Z (fine-tuned for chat)" in out.stderr
    assert "note:" not in out.stderr
    assert out.stdout.count("assistant> ") == 1


@pytest.mark.slow
def test_export_and_import_hf(tiny_model_dir, tiny_bundle, tmp_path):
    out = run("export-hf", str(tmp_path / "hf"), "--model", str(tiny_model_dir))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    out = run("import-hf", str(tmp_path / "hf"), str(tmp_path / "back"))
    assert out.returncode == 0, out.stderr
    back = ModelBundle.load(tmp_path / "back")
    assert back.config == tiny_bundle.config


@pytest.mark.slow
def test_import_hf_of_gpt2s_own_bpe_tokenizer_then_generate_and_chat(tmp_path, shakespeare_text):
    from tests.model.hf_gpt2 import make_gpt2_folder

    hf_dir = make_gpt2_folder(shakespeare_text[:20_000], tmp_path / "gpt2")
    model_dir = tmp_path / "model"
    out = run("import-hf", str(hf_dir), str(model_dir))
    assert out.returncode == 0, out.stderr
    assert "added special tokens <|system|>, <|user|>, <|assistant|>, <|pad|>" in out.stdout
    assert (model_dir / "tokenizer.json").is_file()
    bundle = ModelBundle.load(model_dir)
    tok = bundle.tokenizer
    out = run("generate", "café ROMEO:", "--model", str(model_dir), "--temperature", "0",
              "--max-tokens", "8")  # fmt: skip
    assert out.returncode == 0, out.stderr
    eot = tok.piece_to_id("<|endoftext|>")
    new = generate(bundle.model, [tok.encode("café ROMEO:")], 8, temperature=0, stop_tokens=[eot])
    assert out.stdout == "café ROMEO:" + tok.decode(new[0]) + "\n"
    out = run("chat", "--model", str(model_dir), "--max-tokens", "4", stdin="Hello\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("assistant> ") == 1
    # the transformers folder itself is not a kedro-gpt model folder: a clear error
    out = run("generate", "x", "--model", str(hf_dir))
    assert out.returncode == 1 and "kedro-gpt import-hf" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_import_hf_of_a_folder_without_tokenizer_is_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=50, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(tmp_path / "hf")
    out = run("import-hf", str(tmp_path / "hf"), str(tmp_path / "out"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{tmp_path / 'hf'} has no tokenizer" in out.stderr


@pytest.mark.slow
def test_export_of_a_non_gpt2_model_is_refused(tmp_path, shakespeare_text):
    folder = save_tiny_bundle(shakespeare_text[:60_000], tmp_path / "rope", rope=True)
    out = run("export-hf", str(tmp_path / "hf"), "--model", str(folder))
    assert out.returncode == 1 and "GPT-2-layout" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_serve_a_registered_mlflow_model(tmp_path, tiny_bundle):
    """Register the tiny model in a fresh MLflow store, then `serve --model models:/tiny@champion`."""
    import mlflow

    from kedro_gpt.tracking.registry import register_model

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            registered = register_model(tiny_bundle, "tiny")
        mlflow.MlflowClient().set_registered_model_alias("tiny", "champion", registered["version"])
    finally:
        mlflow.set_tracking_uri(None)
    port = free_port()
    proc = subprocess.Popen(
        [
            *CLI,
            "serve",
            "--model",
            "models:/tiny@champion",
            "--tracking-uri",
            uri,
            "--port",
            str(port),
        ],  # fmt: skip
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        out = client.completions.create(model="kedro-gpt", prompt="ROMEO:", max_tokens=5)
        assert out.usage.completion_tokens <= 5 and out.choices[0].finish_reason
    finally:
        proc.terminate()
        proc.wait(timeout=30)
