"""Checkpoint folders: complete or absent, safe loading, crash fallback, RNG round trip."""

from __future__ import annotations

import random
import shutil

import pytest
import torch

from kedro_gpt.training.checkpoint import (
    STATE_FILE,
    capture_rng_state,
    find_checkpoint,
    load_trainer_state,
    load_weights,
    read_config,
    remove_stale_temporaries,
    restore_rng_state,
    save_checkpoint,
)
from tests.training.conftest import tiny_model


def test_save_and_load_round_trip(tmp_path):
    model = tiny_model(seed=1)  # tied embeddings: stored once, restored to both
    state = {"step": 7, "nested": {"t": torch.arange(3), "xs": [1.5, "a", None]}}
    folder = save_checkpoint(tmp_path / "last", model, {"step": 7}, state)
    assert find_checkpoint(tmp_path) == folder
    assert read_config(folder)["step"] == 7
    loaded = load_trainer_state(folder)
    assert loaded["step"] == 7 and torch.equal(loaded["nested"]["t"], torch.arange(3))
    other = tiny_model(seed=2)
    load_weights(other, folder)
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert other.lm_head.weight is other.transformer.wte.weight


def test_arbitrary_objects_are_never_unpickled(tmp_path):
    folder = save_checkpoint(tmp_path / "last", tiny_model(), {}, {"step": 1})
    torch.save({"evil": shutil.rmtree}, folder / STATE_FILE)  # a callable: refused
    with pytest.raises(ValueError, match="cannot read trainer state"):
        load_trainer_state(folder)


def test_a_crash_between_renames_falls_back_to_the_old_folder(tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path / "last", model, {"step": 1}, {"step": 1})
    (tmp_path / "last").rename(tmp_path / "last.old")  # as if killed mid-swap
    (tmp_path / ".last.tmp-1-abc").mkdir()  # and a half-written folder
    assert find_checkpoint(tmp_path) == tmp_path / "last.old"
    save_checkpoint(tmp_path / "last", model, {"step": 2}, {"step": 2})
    assert read_config(find_checkpoint(tmp_path))["step"] == 2
    assert not (tmp_path / "last.old").exists()
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_rng_state_round_trips_through_a_safe_load(tmp_path):
    model = tiny_model()
    torch.manual_seed(0)
    random.seed(0)
    saved = capture_rng_state()
    folder = save_checkpoint(tmp_path / "last", model, {}, {"rng": saved})
    expected = (torch.rand(3), random.random())
    restore_rng_state(load_trainer_state(folder)["rng"])
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]
