"""Hugging Face interop: a GPT-2-layout model to a ``transformers`` GPT-2 folder, and back.

Export writes ``config.json`` + ``model.safetensors`` (``GPT2LMHeadModel``), a fast tokenizer
(``tokenizer.json``, converted from the sentencepiece model with transformers' own converter,
which follows the model's normalizer settings: it encodes exactly like sentencepiece, a test
checks it) with the chat template, and the sentencepiece ``tokenizer.model`` itself. A model
whose tokenizer is already a Hugging Face one (imported, see below) exports it as is.

Import keeps a sentencepiece ``tokenizer.model`` when the folder has one (an export of ours);
otherwise the folder's ``tokenizer.json`` (GPT-2's own byte-level BPE) becomes an
:class:`~kedro_gpt.tokenizer.hf_tokenizer.HFTokenizer`, and the special tokens kedro-gpt's tasks
need (chat roles, padding) are added to it, the model growing a mean-initialised embedding row
for each (``resize_token_embeddings``); the original tokens keep their ids and logits.

Weights: parameter names are the same on both sides; HF's ``Conv1D`` stores the projection
matrices transposed. GPT-2's activation is the tanh GELU (``gelu_new``), as ours; layer norm
eps 1e-5 on both sides. A bias-free model exports with zero biases.

``transformers`` is imported lazily: it is needed only here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sentencepiece as spm
import torch

from kedro_gpt.model.bundle import CONFIG_FILE, ModelBundle
from kedro_gpt.model.config import GPT2_SWITCHES, GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.model.resize import grow_vocab
from kedro_gpt.tokenizer.files import HF_TOKENIZER_FILE, SENTENCEPIECE_FILE, tokenizer_sha256
from kedro_gpt.tokenizer.hf_tokenizer import NO_UNK, HFTokenizer
from kedro_gpt.tokenizer.protocol import TextTokenizer
from kedro_gpt.tokenizer.special_tokens import ENDOFTEXT, PAD, SPECIAL_TOKENS, find_token_id

TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which our model uses
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|endoftext|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


class HFConversionError(ValueError):
    """The model cannot be expressed in the other library's layout."""


# -- export -------------------------------------------------------------------------------------


def hf_config(config: GPTConfig, eos_id: int | None = None) -> Any:
    """The ``transformers.GPT2Config`` of a GPT-2-layout ``config``."""
    from transformers import GPT2Config

    if not config.is_gpt2_layout:
        changed = [k for k, v in GPT2_SWITCHES.items() if getattr(config, k) != v]
        raise HFConversionError(
            f"only GPT-2-layout models export to transformers' GPT2LMHeadModel; this model sets "
            f"{', '.join(changed)} (see GPTConfig.is_gpt2_layout)"
        )
    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_inner=4 * config.n_embd,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=LAYER_NORM_EPS,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our state dict in ``GPT2LMHeadModel`` naming: Conv1D weights transposed, biases filled."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().float()
        out[name] = t.t().contiguous() if name.endswith(TRANSPOSED) else t.contiguous()
    if not model.config.bias:  # HF GPT-2 always has biases: zeros compute the same
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear | torch.nn.LayerNorm) and name != "lm_head":
                width = module.weight.shape[0] if isinstance(module, torch.nn.Linear) else None
                out[f"{name}.bias"] = torch.zeros(width or module.normalized_shape[0])
    return out


def hf_tokenizer(sp: TextTokenizer) -> Any:
    """A ``PreTrainedTokenizerFast`` that encodes like ``sp``, with the chat template."""
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    specials = {
        k: v
        for k, v in {"eos_token": ENDOFTEXT, "bos_token": ENDOFTEXT, "pad_token": PAD}.items()
        if find_token_id(sp, v) is not None
    }
    chat_template = CHAT_TEMPLATE if find_token_id(sp, ENDOFTEXT) is not None else None
    if isinstance(sp, HFTokenizer):
        unk = sp.unk_id()
        return PreTrainedTokenizerFast(
            tokenizer_object=HFTokenizer.from_str(sp.to_str()).tokenizer,  # a copy
            unk_token=None if unk == NO_UNK else sp.id_to_piece(unk),
            chat_template=chat_template,
            model_max_length=None,
            **specials,
        )
    if not isinstance(sp, spm.SentencePieceProcessor):
        raise HFConversionError(f"cannot export a {type(sp).__name__} tokenizer")
    proto = import_protobuf().ModelProto()
    proto.ParseFromString(sp.serialized_model_proto())
    vocab: Any = {p.piece: i for i, p in enumerate(proto.pieces)}
    if proto.trainer_spec.model_type == 1:  # unigram
        vocab = [(p.piece, p.score) for p in proto.pieces]
    tokenizer = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=False)
    if tokenizer is None:
        raise HFConversionError("cannot convert this sentencepiece model to a fast tokenizer")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=sp.id_to_piece(sp.unk_id()),
        chat_template=chat_template,
        model_max_length=None,
        **specials,
    )


def export_hf(bundle: ModelBundle, folder: str | Path) -> Path:
    """Write ``bundle`` as a ``transformers`` GPT-2 folder that loads offline."""
    from transformers import GPT2LMHeadModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = hf_config(bundle.config, find_token_id(bundle.tokenizer, ENDOFTEXT))
    hf = GPT2LMHeadModel(config)
    missing, unexpected = hf.load_state_dict(hf_state_dict(bundle.model), strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to wte
    if missing or unexpected:
        raise HFConversionError(f"weights do not map: missing {missing}, unexpected {unexpected}")
    hf.save_pretrained(folder, safe_serialization=True)
    tokenizer = hf_tokenizer(bundle.tokenizer)
    tokenizer.model_max_length = bundle.config.block_size
    tokenizer.save_pretrained(folder)
    if isinstance(bundle.tokenizer, spm.SentencePieceProcessor):
        (folder / SENTENCEPIECE_FILE).write_bytes(bundle.tokenizer.serialized_model_proto())
    (folder / "kedro_gpt.json").write_text(json.dumps({"info": bundle.info}, default=str, indent=2))
    return folder


# -- import -------------------------------------------------------------------------------------


def gpt_config_from_hf(hf_cfg: Any) -> GPTConfig:
    """Our ``GPTConfig`` for a ``transformers`` GPT-2 config; anything else is refused clearly."""
    problems = []
    if hf_cfg.model_type != "gpt2":
        problems.append(f"model_type is {hf_cfg.model_type!r}, not 'gpt2'")
    if hf_cfg.n_inner not in (None, 4 * hf_cfg.n_embd):
        problems.append(f"n_inner {hf_cfg.n_inner} is not 4 * n_embd")
    if hf_cfg.activation_function not in TANH_GELUS:
        problems.append(f"activation {hf_cfg.activation_function!r} is not the tanh GELU")
    if abs(hf_cfg.layer_norm_epsilon - LAYER_NORM_EPS) > 1e-12:
        problems.append(f"layer_norm_epsilon {hf_cfg.layer_norm_epsilon} is not {LAYER_NORM_EPS}")
    if getattr(hf_cfg, "scale_attn_by_inverse_layer_idx", False):
        problems.append("scale_attn_by_inverse_layer_idx is set")
    if problems:
        raise HFConversionError("cannot import this model: " + "; ".join(problems))
    return GPTConfig(
        vocab_size=hf_cfg.vocab_size,
        block_size=hf_cfg.n_positions,
        n_layer=hf_cfg.n_layer,
        n_head=hf_cfg.n_head,
        n_embd=hf_cfg.n_embd,
        tie_embeddings=bool(getattr(hf_cfg, "tie_word_embeddings", True)),
    )


def gpt_from_hf(hf_model: Any) -> GPT:
    """Our GPT with the weights of a ``GPT2LMHeadModel`` (same logits)."""
    config = gpt_config_from_hf(hf_model.config)
    model = GPT(config)
    ours = model.state_dict()
    state = {}
    for name, tensor in hf_model.state_dict().items():
        if name not in ours:
            continue  # HF's non-parameter buffers (attention masks) in older versions
        t = tensor.detach().float()
        state[name] = t.t().contiguous() if name.endswith(TRANSPOSED) else t
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_embeddings)]
    if missing or unexpected:
        raise HFConversionError(f"weights do not map: missing {missing}, unexpected {unexpected}")
    return model.eval()


def import_hf_model(folder: str | Path) -> GPT:
    """The weights of a local ``transformers`` GPT-2 folder as our GPT (no download, ever)."""
    from transformers import GPT2LMHeadModel

    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{folder} is not a transformers model folder: no {CONFIG_FILE}")
    hf = GPT2LMHeadModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    return gpt_from_hf(hf)


def _load_tokenizer(folder: Path) -> TextTokenizer:
    if (folder / SENTENCEPIECE_FILE).is_file():
        return spm.SentencePieceProcessor(model_file=str(folder / SENTENCEPIECE_FILE))
    if (folder / HF_TOKENIZER_FILE).is_file():
        return HFTokenizer.from_file(folder / HF_TOKENIZER_FILE)
    raise HFConversionError(
        f"{folder} has no tokenizer: neither a sentencepiece {SENTENCEPIECE_FILE} (as "
        f"export-hf writes) nor a {HF_TOKENIZER_FILE} (a transformers tokenizer, as GPT-2's)"
    )


def add_special_tokens(
    model: GPT, tokenizer: HFTokenizer, tokens: tuple[str, ...] = SPECIAL_TOKENS
) -> tuple[GPT, dict[str, int]]:
    """Add the ``tokens`` the tokenizer lacks as special tokens, and a row for each to the
    model's token embedding (and LM head), initialised to the mean of the known tokens' rows.

    Returns the model (a new one when it grew) and the added tokens with their ids.
    """
    known = tokenizer.get_piece_size()
    added = tokenizer.add_special_tokens(tokens)
    if not added:
        return model, {}
    ids = {token: tokenizer.piece_to_id(token) for token in added}
    model = grow_vocab(model, tokenizer.get_piece_size(), ids.values(), known)
    return model.eval(), ids


def import_hf(folder: str | Path, out: str | Path | None = None) -> ModelBundle:
    """A :class:`ModelBundle` from a local ``transformers`` GPT-2 folder; saved to ``out``
    (a new folder: not ``folder``, both use ``config.json``) when given.

    With a sentencepiece ``tokenizer.model`` (as :func:`export_hf` writes) the model is kept as
    is. With only a ``tokenizer.json`` (GPT-2's own BPE) the tokenizer becomes an
    :class:`HFTokenizer` and :func:`add_special_tokens` adds the special tokens fine-tuning and
    chat need (``<|endoftext|>``, the role tokens, ``<|pad|>``); ``info`` records them.
    """
    folder = Path(folder)
    if out is not None and Path(out).resolve() == folder.resolve():
        raise HFConversionError(
            f"write the kedro-gpt model to another folder than {folder}: both use {CONFIG_FILE}"
        )
    tokenizer = _load_tokenizer(folder)
    model = import_hf_model(folder)
    size = tokenizer.get_piece_size()
    if size > model.config.vocab_size:
        raise HFConversionError(
            f"the tokenizer in {folder} has {size} tokens, more than the model's vocab_size "
            f"{model.config.vocab_size}: it is not this model's tokenizer"
        )
    info: dict[str, Any] = {"imported_from": str(folder)}
    if isinstance(tokenizer, HFTokenizer):
        vocab_before = model.config.vocab_size
        model, added = add_special_tokens(model, tokenizer)
        info.update(
            source="import-hf",
            tokenizer=f"{HF_TOKENIZER_FILE} ({type(tokenizer.tokenizer.model).__name__})",
            added_special_tokens=added,
            vocab_size_before=vocab_before,
            tokenizer_sha256=tokenizer_sha256(tokenizer),
        )
    meta = folder / "kedro_gpt.json"
    if meta.is_file():
        info["exported_info"] = json.loads(meta.read_text()).get("info", {})
    bundle = ModelBundle(model, tokenizer, info)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        bundle.save(out)
    return bundle
