"""Hugging Face interop: a GPT-2-layout model to a ``transformers`` GPT-2 folder, and back.

Export writes ``config.json`` + ``model.safetensors`` (``GPT2LMHeadModel``), a fast tokenizer
(``tokenizer.json``, converted from the sentencepiece model with transformers' own converter,
which follows the model's normalizer settings: it encodes exactly like sentencepiece, a test
checks it) with the chat template, and the sentencepiece ``tokenizer.model`` itself.

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

from kedro_gpt.model.bundle import CONFIG_FILE, TOKENIZER_FILE, ModelBundle
from kedro_gpt.model.config import GPT2_SWITCHES, GPTConfig
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.special_tokens import ENDOFTEXT, PAD

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


def _token_id(sp: spm.SentencePieceProcessor, piece: str) -> int | None:
    i = sp.piece_to_id(piece)
    return i if i != sp.unk_id() and sp.id_to_piece(i) == piece else None


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


def hf_tokenizer(sp: spm.SentencePieceProcessor) -> Any:
    """A ``PreTrainedTokenizerFast`` that encodes like ``sp``, with the chat template."""
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    proto = import_protobuf().ModelProto()
    proto.ParseFromString(sp.serialized_model_proto())
    vocab: Any = {p.piece: i for i, p in enumerate(proto.pieces)}
    if proto.trainer_spec.model_type == 1:  # unigram
        vocab = [(p.piece, p.score) for p in proto.pieces]
    tokenizer = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=False)
    if tokenizer is None:
        raise HFConversionError("cannot convert this sentencepiece model to a fast tokenizer")
    specials = {
        k: v
        for k, v in {"eos_token": ENDOFTEXT, "bos_token": ENDOFTEXT, "pad_token": PAD}.items()
        if _token_id(sp, v) is not None
    }
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=sp.id_to_piece(sp.unk_id()),
        chat_template=CHAT_TEMPLATE if _token_id(sp, ENDOFTEXT) is not None else None,
        model_max_length=None,
        **specials,
    )


def export_hf(bundle: ModelBundle, folder: str | Path) -> Path:
    """Write ``bundle`` as a ``transformers`` GPT-2 folder that loads offline."""
    from transformers import GPT2LMHeadModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = hf_config(bundle.config, _token_id(bundle.tokenizer, ENDOFTEXT))
    hf = GPT2LMHeadModel(config)
    missing, unexpected = hf.load_state_dict(hf_state_dict(bundle.model), strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to wte
    if missing or unexpected:
        raise HFConversionError(f"weights do not map: missing {missing}, unexpected {unexpected}")
    hf.save_pretrained(folder, safe_serialization=True)
    tokenizer = hf_tokenizer(bundle.tokenizer)
    tokenizer.model_max_length = bundle.config.block_size
    tokenizer.save_pretrained(folder)
    (folder / TOKENIZER_FILE).write_bytes(bundle.tokenizer.serialized_model_proto())
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


def import_hf(folder: str | Path, out: str | Path | None = None) -> ModelBundle:
    """A :class:`ModelBundle` from a GPT-2 folder that carries a sentencepiece ``tokenizer.model``
    (as :func:`export_hf` writes); saved to ``out`` when given.

    A folder with only a BPE ``tokenizer.json`` (GPT-2's own) is refused: a ModelBundle holds a
    sentencepiece tokenizer. :func:`import_hf_model` still maps its weights.
    """
    folder = Path(folder)
    sp_file = folder / TOKENIZER_FILE
    if not sp_file.is_file():
        raise HFConversionError(
            f"{folder} has no sentencepiece {TOKENIZER_FILE}: kedro-gpt models use sentencepiece "
            "tokenizers, so a GPT-2 BPE tokenizer.json cannot become a ModelBundle yet "
            "(import_hf_model maps the weights alone)"
        )
    sp = spm.SentencePieceProcessor(model_file=str(sp_file))
    model = import_hf_model(folder)
    if sp.get_piece_size() > model.config.vocab_size:
        raise HFConversionError(
            f"{TOKENIZER_FILE} has {sp.get_piece_size()} pieces, more than the model's "
            f"vocab_size {model.config.vocab_size}"
        )
    info: dict[str, Any] = {"imported_from": str(folder)}
    meta = folder / "kedro_gpt.json"
    if meta.is_file():
        info["exported_info"] = json.loads(meta.read_text()).get("info", {})
    bundle = ModelBundle(model, sp, info)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        bundle.save(out)
    return bundle
