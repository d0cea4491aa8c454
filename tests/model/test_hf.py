"""Hugging Face export/import: transformers loads the export offline with the same logits."""

from __future__ import annotations

import os

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel  # noqa: E402

from kedro_gpt.model import generate  # noqa: E402
from kedro_gpt.model.hf import (  # noqa: E402
    HFConversionError,
    export_hf,
    import_hf,
    import_hf_model,
)
from kedro_gpt.tokenizer.chat import render_chat  # noqa: E402
from kedro_gpt.tokenizer.special_tokens import SPECIAL_TOKENS  # noqa: E402
from tests.serving.tiny_bundle import make_tiny_bundle  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def bundle(shakespeare_text):
    b = make_tiny_bundle(shakespeare_text[:100_000])
    with torch.no_grad():  # larger weights than the init, so logits differ clearly per token
        for p in b.model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.1)
    return b


@pytest.fixture(scope="module")
def exported(bundle, tmp_path_factory):
    return export_hf(bundle, tmp_path_factory.mktemp("hf") / "export")


def _ids(bundle, text="ROMEO:\nWhat light through yonder window breaks?"):
    return torch.tensor([bundle.tokenizer.encode(text)])


def test_transformers_loads_the_export_offline_with_the_same_logits(bundle, exported):
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer.model"} <= {
        p.name for p in exported.iterdir()
    }
    hf = GPT2LMHeadModel.from_pretrained(exported, local_files_only=True).eval()
    ids = _ids(bundle)
    with torch.no_grad():
        ours, _ = bundle.model(ids)
        theirs = hf(ids).logits
    assert ours.abs().max() > 1.0  # not trivially equal near-zero logits
    assert (ours - theirs).abs().max().item() < 1e-4


def test_bias_free_model_exports_with_zero_biases(shakespeare_text, tmp_path):
    b = make_tiny_bundle(shakespeare_text[:50_000], bias=False)
    hf = GPT2LMHeadModel.from_pretrained(export_hf(b, tmp_path), local_files_only=True).eval()
    ids = _ids(b)
    with torch.no_grad():
        assert (b.model(ids)[0] - hf(ids).logits).abs().max().item() < 1e-4


def test_greedy_generation_matches_transformers(bundle, exported):
    hf = GPT2LMHeadModel.from_pretrained(exported, local_files_only=True).eval()
    ids = _ids(bundle, "KING:")
    ours = generate(bundle.model, ids, 12, temperature=0)[0]
    theirs = hf.generate(ids, max_new_tokens=12, do_sample=False, use_cache=True, eos_token_id=None)
    assert theirs[0, ids.shape[1] :].tolist() == ours


def test_fast_tokenizer_encodes_like_sentencepiece(bundle, exported, shakespeare_text):
    tok = AutoTokenizer.from_pretrained(exported, local_files_only=True)
    sample = shakespeare_text[200_000:230_000] + "\n<|user|>\nÜnïcode 日本 €  two  spaces\t9876"
    ids = bundle.tokenizer.encode(sample)
    assert tok.encode(sample, add_special_tokens=False) == ids
    assert tok.decode(ids) == sample
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    rendered = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert rendered == render_chat(chat, add_generation_prompt=True)


def test_non_gpt2_layout_is_refused(shakespeare_text, tmp_path):
    b = make_tiny_bundle(shakespeare_text[:50_000], rope=True)
    with pytest.raises(HFConversionError, match="rope"):
        export_hf(b, tmp_path)


def test_export_then_import_gives_the_same_model(bundle, exported, tmp_path):
    back = import_hf(exported, tmp_path / "bundle")
    ids = _ids(bundle)
    with torch.no_grad():
        assert (back.model(ids)[0] - bundle.model(ids)[0]).abs().max().item() < 1e-5
    assert back.tokenizer.serialized_model_proto() == bundle.tokenizer.serialized_model_proto()
    assert (tmp_path / "bundle" / "model.safetensors").is_file()


def test_gpt2_saved_by_transformers_imports_with_the_same_logits(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=300, n_positions=32, n_embd=48, n_layer=2, n_head=3)
    hf = GPT2LMHeadModel(cfg).eval()
    hf.save_pretrained(tmp_path)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    bpe.train_from_iterator(["to be or not to be"] * 20, trainers.BpeTrainer(vocab_size=300))
    bpe.save(str(tmp_path / "tokenizer.json"))

    ours = import_hf_model(tmp_path)
    ids = torch.randint(0, 300, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (ours(ids)[0] - hf(ids).logits).abs().max().item() < 1e-4
    bundle = import_hf(tmp_path)  # its BPE tokenizer.json too: see test_hf_import_bpe.py
    assert set(bundle.info["added_special_tokens"]) == set(SPECIAL_TOKENS)
    assert bundle.config.vocab_size == 300  # the new ids fit in the model's unused rows


def test_non_gpt2_activation_is_refused(tmp_path):
    cfg = GPT2Config(vocab_size=50, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    cfg.activation_function = "relu"
    GPT2LMHeadModel(cfg).save_pretrained(tmp_path)
    with pytest.raises(HFConversionError, match="tanh GELU"):
        import_hf_model(tmp_path)
