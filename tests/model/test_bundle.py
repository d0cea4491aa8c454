"""A model folder round-trips, and a damaged one is refused with the file and the problem named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kedro_gpt.model.bundle import ModelBundle, ModelFolderError
from kedro_gpt.model.config import GPTConfig
from kedro_gpt.model.generate import generate
from kedro_gpt.model.gpt import GPT


@pytest.fixture
def folder(tmp_path, sp) -> Path:
    """A saved 4-head model: without its n_head, GPTConfig's default 6 would also fit n_embd 48."""
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=sp.get_piece_size(), block_size=32, n_layer=1, n_head=4, n_embd=48
    )
    ModelBundle(GPT(config).eval(), sp, {"made_by": "tests"}).save(tmp_path)
    return tmp_path


def _edit_config(folder: Path, edit) -> None:
    path = folder / "config.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def test_round_trip_keeps_weights_config_and_info(folder):
    loaded = ModelBundle.load(folder)
    again = ModelBundle.load(folder)
    assert loaded.config.n_head == 4 and loaded.info == {"made_by": "tests"}
    x = torch.randint(0, loaded.config.vocab_size, (1, 8))
    torch.testing.assert_close(loaded.model(x)[0], again.model(x)[0])


def test_every_file_is_readable_as_a_plain_open_makes_it(folder):
    """safetensors writes through a private (0600) temporary: a server running as another user
    (the container's uid 10001, a mounted model folder) must still read the weights."""
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"], modes
    assert modes["model.safetensors"] & 0o044 == 0o044  # group and others may read


@pytest.mark.parametrize("key", ["n_head", "rope", "logit_softcap"])
def test_a_missing_config_key_is_an_error_naming_the_key_and_the_file(folder, key):
    _edit_config(folder, lambda meta: meta["model"].pop(key))
    with pytest.raises(ModelFolderError) as err:
        ModelBundle.load(folder)
    assert repr(key) in str(err.value) and str(folder / "config.json") in str(err.value)


def test_a_config_that_is_not_json_is_named(folder):
    (folder / "config.json").write_text('{"model": {')
    with pytest.raises(ModelFolderError, match="config.json is not valid JSON"):
        ModelBundle.load(folder)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"not a safetensors file at all",
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: b"\xff" * 8 + data[8:],  # header length garbled
    ],
    ids=["garbage", "truncated", "bad-header"],
)
def test_a_corrupt_weights_file_is_one_error_naming_it(folder, damage):
    weights = folder / "model.safetensors"
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(ModelFolderError) as err:
        ModelBundle.load(folder)
    message = str(err.value)
    assert (
        message.startswith(f"{weights} is not a readable safetensors file") and "\n" not in message
    )


def test_weights_of_another_shape_are_named(folder):
    _edit_config(folder, lambda meta: meta["model"].update(n_embd=96))
    with pytest.raises(ModelFolderError, match="model.safetensors does not fit"):
        ModelBundle.load(folder)


def test_a_corrupt_tokenizer_is_named(folder):
    (folder / "tokenizer.model").write_bytes(b"\x00garbage")
    with pytest.raises(ModelFolderError, match="tokenizer.model is not a readable tokenizer"):
        ModelBundle.load(folder)


def test_an_ensembles_members_round_trip_and_a_missing_one_is_named(folder):
    first = ModelBundle.load(folder)
    torch.manual_seed(1)
    members = [GPT(first.config).eval(), GPT(first.config).eval()]
    ModelBundle(first.model, first.tokenizer, first.info, members).save(folder)
    loaded = ModelBundle.load(folder)
    assert json.loads((folder / "config.json").read_text())["members"] == 2
    x = torch.randint(0, first.config.vocab_size, (1, 8))
    for saved, read in zip([first.model, *members], loaded.backbones, strict=True):
        torch.testing.assert_close(saved(x)[0], read(x)[0])
    assert not torch.equal(loaded.backbones[1](x)[0], loaded.backbones[2](x)[0])
    (folder / "member2.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="has no member2.safetensors"):
        ModelBundle.load(folder)


def test_a_member_of_another_shape_is_refused_before_anything_is_written(folder, tmp_path_factory):
    first = ModelBundle.load(folder)
    other = GPT(GPTConfig(**{**first.config.to_dict(), "n_layer": 2}))
    out = tmp_path_factory.mktemp("out")
    with pytest.raises(ValueError, match="member 1's shape differs"):
        ModelBundle(first.model, first.tokenizer, first.info, [other]).save(out)
    assert list(out.iterdir()) == []


def test_forward_and_backward_members_keep_their_directions(folder, tmp_path_factory):
    first = ModelBundle.load(folder)
    backward = GPT(GPTConfig(**{**first.config.to_dict(), "reverse": True})).eval()
    out = tmp_path_factory.mktemp("both")
    ModelBundle(first.model, first.tokenizer, first.info, [backward]).save(out)
    assert json.loads((out / "config.json").read_text())["reverse"] == [False, True]
    loaded = ModelBundle.load(out)
    assert [b.config.reverse for b in loaded.backbones] == [False, True]
    assert loaded.config.reverse is False  # the first model's: it is the one that generates
    # one direction throughout writes no list (folders from before the switch read the same)
    ModelBundle(first.model, first.tokenizer, first.info, [first.model]).save(out)
    assert "reverse" not in json.loads((out / "config.json").read_text())


@pytest.mark.parametrize("directions", [[True, False], ["yes"], "both"])
def test_a_direction_list_that_does_not_fit_the_members_is_named(folder, directions):
    _edit_config(folder, lambda meta: meta.update(reverse=directions))
    with pytest.raises(ModelFolderError, match="'reverse' must list true or false for each of"):
        ModelBundle.load(folder)


def test_a_backward_model_samples_the_text_before_the_prompt(folder):
    first = ModelBundle.load(folder)
    backward = ModelBundle(
        GPT(GPTConfig(**{**first.config.to_dict(), "reverse": True})), first.tokenizer
    )
    backward.model.load_state_dict(first.model.state_dict())
    forward = ModelBundle(first.model, first.tokenizer)
    prompt = "to be or not"
    ids = first.tokenizer.encode(prompt)
    # the same weights read the prompt back to front, and their tokens come out reversed
    expected = generate(first.model, [ids[::-1]], 6, seed=3)[0][::-1]
    assert backward.generate_text(prompt, 6, seed=3) == first.tokenizer.decode(expected)
    assert forward.generate_text(prompt, 6, seed=3) == first.tokenizer.decode(
        generate(first.model, [ids], 6, seed=3)[0]
    )
