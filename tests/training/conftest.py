"""Tiny models and token shards for the training tests: seconds on 2 CPU cores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from kedro_gpt.datasets.token_shards import TokenShardsDataset
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.meter import CACHE_FILE, machine_key

TINY = {"vocab_size": 64, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32}


def tiny_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides}))


def tiny_config(**overrides) -> TrainConfig:
    base = {
        "batch_size": 4,
        "optimizer": "adamw",  # the loop's tests; Muon and WSD (the defaults) have their own
        "schedule": "cosine",
        "final_eval": True,
        "max_steps": 20,
        "warmup_steps": 2,
        "learning_rate": 3e-3,
        "log_interval": 5,
        "eval_interval": 10,
        "eval_batches": 2,
        "checkpoint_interval": 10,
        "progress_bar": False,
        "device": "cpu",
        "num_threads": 1,  # 2 threads on 2 shared cores is far slower for a model this small
    }
    return TrainConfig(**{**base, **overrides})


def char_tokens(text: str) -> np.ndarray:
    """Bytes of ``text`` folded into a 64-token vocabulary (learnable, real text)."""
    return (np.frombuffer(text.encode("utf-8"), dtype=np.uint8) % 64).astype(np.uint16)


def write_peak_cache(folder: Path) -> Path:
    """A peak cache in ``folder`` with a fixed figure, so training does not measure the machine."""
    folder.mkdir(parents=True, exist_ok=True)
    key = machine_key(torch.device("cpu"), torch.float32)
    keys = {re.sub(r"threads=\d+", f"threads={n}", key) for n in (1, 2, torch.get_num_threads())}
    table = {k: {"flops": 1e11, "quiet": True} for k in keys}
    (folder / CACHE_FILE).write_text(json.dumps(table))
    return folder


@pytest.fixture(scope="session")
def _peak_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fixed peak, so loop tests do not measure on a busy machine (test_meter.py tests the
    measuring and caching with caches of its own)."""
    return write_peak_cache(tmp_path_factory.mktemp("kg_cache"))


@pytest.fixture(autouse=True)
def _matmul_cache(_peak_cache: Path, monkeypatch: pytest.MonkeyPatch):
    """Keep the measured-peak cache out of the home folder."""
    monkeypatch.setenv("KEDRO_GPT_CACHE_DIR", str(_peak_cache))


@pytest.fixture(scope="session")
def splits(shakespeare_text: str, tmp_path_factory: pytest.TempPathFactory):
    """Train (two shards) and validation token shards on disk, loaded back as memmaps."""
    root = tmp_path_factory.mktemp("tokens")
    text = shakespeare_text[:30_000]
    train_text, val_text = text[:27_000], text[27_000:]
    out = {}
    for name, parts in (("train", [train_text[:20_000], train_text[20_000:]]), ("val", [val_text])):
        ds = TokenShardsDataset(str(root / name))
        ds.save(
            TokenShards(
                shards=[char_tokens(p) for p in parts],
                meta={
                    "dtype": "uint16",
                    "vocab_size": 64,
                    "text_chars": sum(len(p) for p in parts),
                    "text_bytes": sum(len(p.encode()) for p in parts),
                },
            )
        )
        out[name] = ds.load()
    return out


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
