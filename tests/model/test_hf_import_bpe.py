"""import-hf of a GPT-2 folder whose tokenizer is GPT-2's byte-level BPE ``tokenizer.json``: the
bundle encodes like transformers, keeps its logits, gains the chat tokens, and fine-tunes."""

from __future__ import annotations

import json
import os

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformers import AutoTokenizer, GPT2LMHeadModel  # noqa: E402

from kedro_gpt.finetune.classification import run_classification  # noqa: E402
from kedro_gpt.finetune.continued import run_continued_pretraining  # noqa: E402
from kedro_gpt.finetune.conversations import run_conversations  # noqa: E402
from kedro_gpt.model.bundle import ModelBundle, is_model_folder  # noqa: E402
from kedro_gpt.model.hf import HFConversionError, export_hf, import_hf  # noqa: E402
from kedro_gpt.serving.textstream import TextStream  # noqa: E402
from kedro_gpt.tokenizer.chat import encode_chat, render_chat  # noqa: E402
from kedro_gpt.tokenizer.hf_tokenizer import NO_UNK, HFTokenizer  # noqa: E402
from kedro_gpt.tokenizer.special_tokens import (  # noqa: E402
    ENDOFTEXT,
    SPECIAL_TOKENS,
    special_token_id,
)
from tests.finetune.conftest import tiny_config  # noqa: E402
from tests.model.hf_gpt2 import make_gpt2_folder, train_byte_level_bpe  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"

TEXTS = [
    "ROMEO:\nWhat light through yonder window breaks?\n\n",
    "café — naïve 日本語 €5 🙂\ttab  two spaces\r\nend",
    "  leading spaces and a trailing newline\n",
    "<|user|>\nHi<|endoftext|>\n<|assistant|>\n",
]


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory, shakespeare_text):
    return make_gpt2_folder(shakespeare_text[:20_000], tmp_path_factory.mktemp("gpt2") / "hf")


@pytest.fixture(scope="module")
def hf_model(gpt2_dir):
    return GPT2LMHeadModel.from_pretrained(gpt2_dir, local_files_only=True).eval()


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("imported") / "bundle"


@pytest.fixture(scope="module")
def imported(gpt2_dir, out_dir):
    return import_hf(gpt2_dir, out_dir)


def test_the_folder_looks_like_gpt2s(gpt2_dir, hf_model):
    names = {p.name for p in gpt2_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert "tokenizer.model" not in names
    assert hf_model.config.vocab_size == 400


def test_text_round_trips_exactly_and_encodes_like_transformers(
    imported, gpt2_dir, shakespeare_text
):
    tok = imported.tokenizer
    assert isinstance(tok, HFTokenizer)
    reference = AutoTokenizer.from_pretrained(gpt2_dir, local_files_only=True)
    for text in [*TEXTS, shakespeare_text[50_000:60_000]]:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        if "<|user|>" not in text:  # the original tokenizer lacks the added chat tokens
            assert ids == reference.encode(text, add_special_tokens=False)
    assert tok.encode("") == [] and tok.decode([]) == ""


def test_original_vocabulary_keeps_transformers_logits(imported, hf_model):
    ids = torch.randint(0, 400, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, _ = imported.model(ids)
        theirs = hf_model(ids).logits
    assert ours.shape[-1] == 404 and theirs.shape[-1] == 400
    assert theirs.abs().max() > 1.0  # not trivially equal near-zero logits
    assert (ours[..., :400] - theirs).abs().max().item() < 1e-4


def test_the_five_special_tokens_are_one_id_each(imported):
    tok, info = imported.tokenizer, imported.info
    ids = {token: special_token_id(tok, token) for token in SPECIAL_TOKENS}
    assert len(set(ids.values())) == 5
    for token, token_id in ids.items():
        assert tok.encode(token) == [token_id]
        assert tok.encode(f"a{token}b") == [*tok.encode("a"), token_id, *tok.encode("b")]
    assert ids[ENDOFTEXT] == 0  # GPT-2's own, kept
    added = {t: ids[t] for t in SPECIAL_TOKENS if t != ENDOFTEXT}
    assert info["added_special_tokens"] == added
    assert sorted(added.values()) == [400, 401, 402, 403]
    assert imported.config.vocab_size == 404 and tok.get_piece_size() == 404
    assert info["vocab_size_before"] == 400 and info["source"] == "import-hf"
    wte = imported.model.transformer.wte.weight.detach()
    for token_id in added.values():  # new rows start at the mean of the original ones
        torch.testing.assert_close(wte[token_id], wte[:400].mean(0))
    assert tok.unk_id() == NO_UNK  # byte-level BPE has no unknown token


def test_chat_encoding_uses_the_role_tokens(imported):
    tok = imported.tokenizer
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Où est la café?"},
        {"role": "assistant", "content": "Ici.\nVoilà"},
    ]
    ids, mask = encode_chat(tok, chat)
    assert tok.decode(ids) == render_chat(chat)
    assert ids[0] == special_token_id(tok, "<|system|>")
    assert ids[1] == tok.piece_to_id("\n") == tok.encode("\n")[0]
    answer = [i for i, learn in zip(ids, mask, strict=True) if learn]
    assert tok.decode(answer) == "Ici.\nVoilà" + ENDOFTEXT


def test_streamed_decoding_holds_back_split_characters(imported):
    tok = imported.tokenizer
    text = "café — naïve 日本 🙂 done"
    ids = tok.encode(text)
    assert len(ids) > len(text.split())  # multi-byte characters span several tokens
    stream = TextStream(tok.decode)
    pieces = [stream.push(i) for i in ids] + [stream.finish()]
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)


def test_bundle_saves_and_loads_back_identically(imported, out_dir, tmp_path):
    names = {p.name for p in out_dir.iterdir()}
    assert names == {"model.safetensors", "config.json", "tokenizer.json"}
    assert is_model_folder(out_dir)
    back = ModelBundle.load(out_dir)
    assert isinstance(back.tokenizer, HFTokenizer)
    assert back.tokenizer.to_str() == imported.tokenizer.to_str()
    assert back.config == imported.config
    assert json.loads(json.dumps(imported.info)) == back.info
    ours = imported.model.state_dict()
    for name, tensor in back.model.state_dict().items():
        assert torch.equal(tensor, ours[name]), name
    back.save(tmp_path)  # and again, byte for byte
    for name in names:
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_a_folder_without_tokenizer_is_a_clear_error(imported, tmp_path):
    imported.save(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    assert not is_model_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"model folder {tmp_path} has no tokenizer"):
        ModelBundle.load(tmp_path)


def test_a_sentencepiece_bundle_saved_over_it_replaces_the_tokenizer(imported, tmp_path):
    from tests.serving.tiny_bundle import make_tiny_bundle

    imported.save(tmp_path)
    sp_bundle = make_tiny_bundle("to be or not to be, that is the question\n" * 200)
    sp_bundle.save(tmp_path)
    assert not (tmp_path / "tokenizer.json").exists()  # no stale tokenizer to pick up
    back = ModelBundle.load(tmp_path)
    assert back.tokenizer.serialized_model_proto() == sp_bundle.tokenizer.serialized_model_proto()


def test_export_then_import_keeps_the_model(imported, tmp_path):
    exported = export_hf(imported, tmp_path / "hf")
    assert not (exported / "tokenizer.model").exists()
    hf = GPT2LMHeadModel.from_pretrained(exported, local_files_only=True).eval()
    reference = AutoTokenizer.from_pretrained(exported, local_files_only=True)
    chat = [{"role": "user", "content": "Hi"}]
    rendered = reference.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert rendered == render_chat(chat, add_generation_prompt=True)
    assert (
        reference.encode(rendered, add_special_tokens=False)
        == encode_chat(imported.tokenizer, chat, add_generation_prompt=True)[0]
    )
    ids = torch.tensor([imported.tokenizer.encode(TEXTS[0] + "<|pad|>")])
    again = import_hf(exported)
    assert again.info["added_special_tokens"] == {}
    with torch.no_grad():
        assert (imported.model(ids)[0] - hf(ids).logits).abs().max().item() < 1e-4
        assert torch.equal(again.model(ids)[0], imported.model(ids)[0])


def test_folder_without_a_tokenizer_is_refused(gpt2_dir, tmp_path):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((gpt2_dir / name).read_bytes())
    with pytest.raises(HFConversionError, match=f"{tmp_path} has no tokenizer"):
        import_hf(tmp_path)


def test_a_tokenizer_larger_than_the_model_is_refused(gpt2_dir, tmp_path, shakespeare_text):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((gpt2_dir / name).read_bytes())
    train_byte_level_bpe(shakespeare_text[:20_000], vocab_size=500).save(
        str(tmp_path / "tokenizer.json")
    )
    with pytest.raises(HFConversionError, match="500 tokens, more than the model's vocab_size 400"):
        import_hf(tmp_path)


def test_importing_into_the_transformers_folder_is_refused(gpt2_dir):
    with pytest.raises(HFConversionError, match="another folder"):
        import_hf(gpt2_dir, gpt2_dir)


QA = [
    [
        {"role": "user", "content": f"What is {i} plus one?"},
        {"role": "assistant", "content": f"It is {i + 1}."},
    ]
    for i in range(12)
]


def test_fine_tuning_starts_from_the_imported_model(out_dir, imported, tmp_path):
    bundle = ModelBundle.load(out_dir)
    config = tiny_config(tmp_path, chat={"generation": {"eval_examples": 2, "max_new_tokens": 4}})
    result = run_conversations(bundle, QA, None, config, config.chat.generation, eval_fraction=0.25)
    m = result.metrics
    assert m["response_loss"] < m["base_response_loss"]  # it learned from the GPT-2 weights
    assert result.bundle.tokenizer is bundle.tokenizer
    assert result.bundle.info["base_model"]["source"] == "import-hf"
    (tmp_path / "finetuned").mkdir()
    result.bundle.save(tmp_path / "finetuned")
    back = ModelBundle.load(tmp_path / "finetuned")
    assert isinstance(back.tokenizer, HFTokenizer) and back.config == imported.config


def test_the_other_tasks_tokenize_with_the_bpe_tokenizer(imported, tmp_path, shakespeare_text):
    config = tiny_config(tmp_path, task="continued_pretraining")
    result = run_continued_pretraining(imported, [shakespeare_text[:6_000]], config)
    assert result.metrics["val_loss"] < result.metrics["base_val_loss"]
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(8)] + [
        (f"a dull tedious café film {i}", "negative") for i in range(8)
    ]
    split = {"test_fraction": 0.25, "val_fraction": 0.25}
    config = tiny_config(tmp_path, task="classification", classification=split)
    result = run_classification(imported, examples, ["negative", "positive"], config)
    assert 0 <= result.metrics["accuracy"] <= 1
    assert result.report["examples"] == {
        "train": 9,
        "val": 3,
        "test": 4,
        "per_label_train_pool": {"negative": 6, "positive": 6},
    }
