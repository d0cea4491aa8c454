"""The GPT hyper-parameters: one dataclass, validated on construction, round-trips through a dict."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# The value each architecture switch takes in the original GPT-2 layout.
GPT2_SWITCHES: dict[str, Any] = {
    "rope": False,
    "qk_norm": False,
    "relu2": False,
    "tie_embeddings": True,
    "zero_init_proj": False,
    "logit_softcap": None,
    "value_embeddings": False,
    "reverse": False,  # a backward model would generate right to left as a GPT-2
}

# Keys added after models were saved: a saved config without one meant its default.
LATER_KEYS: dict[str, Any] = {"reverse": False}


@dataclass
class GPTConfig:
    """Shape and architecture switches of a GPT; the defaults are a small GPT-2.

    The switches (``rope`` … ``logit_softcap``) default to the plain GPT-2 layout:

    - ``rope``: rotary position embeddings on q and k instead of learned positions (no ``wpe``).
    - ``qk_norm``: an RMSNorm over the head dimension of q and k (``attn.q_norm``/``attn.k_norm``).
    - ``relu2``: ReLU² activation in the MLP instead of GELU.
    - ``tie_embeddings``: the output head shares the token embedding matrix; ``False`` unties it.
    - ``zero_init_proj``: zero-initialise the attention and MLP output projections.
    - ``logit_softcap``: ``cap * tanh(logits / cap)`` on the output logits.
    - ``value_embeddings``: extra token-embedding tables added to the attention values of the
      first and last layers (modded-nanogpt): ``value_embed_tables`` tables, table ``j`` feeding
      layer ``j`` and layer ``n_layer - tables + j``.

    ``reverse`` is not a layer switch but the direction the model reads: a backward language
    model (ULMFiT's second direction) is trained, scored and fine-tuned on each text's tokens in
    reverse order (``kedro_gpt.training.data.reading_order``, ``GPTClassifier``), and samples the
    text before a prompt (``ModelBundle.generate_text``). Domain adaptation and fine-tuning keep it
    from the base model; a forward and a backward classifier on one tokenizer ensemble as any two.

    ``zero_init_proj``, ``logit_softcap`` and ``value_embeddings`` are off in every shipped
    environment (conf/base, gpt2, gpu). They are kept on purpose: the ablation sweep toggles
    them, and a saved model that used one must still load. Each costs one check per forward path.
    """

    vocab_size: int = 2048
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = True
    rope: bool = False
    qk_norm: bool = False
    relu2: bool = False
    tie_embeddings: bool = True
    # The next three are off in every shipped env; kept for the ablation sweep (see above).
    zero_init_proj: bool = False
    logit_softcap: float | None = None
    value_embeddings: bool = False
    reverse: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        for name in ("bias", *(k for k, v in GPT2_SWITCHES.items() if isinstance(v, bool))):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"GPTConfig.{name} must be true or false, got {getattr(self, name)!r}"
                )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float):
            raise ValueError(f"GPTConfig.dropout must be a number, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})"
            )
        if self.rope and self.head_dim % 2:
            raise ValueError(
                f"GPTConfig.rope needs an even head dimension, got n_embd/n_head = {self.head_dim}"
            )
        cap = self.logit_softcap
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, int | float) or cap <= 0
        ):
            raise ValueError(
                f"GPTConfig.logit_softcap must be a positive number or null, got {cap!r}"
            )

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def value_embed_tables(self) -> int:
        """How many value-embedding tables the model holds (0 with the switch off)."""
        return max(1, min(3, self.n_layer // 2)) if self.value_embeddings else 0

    def value_embed_layer_table(self, layer: int) -> int | None:
        """The value-embedding table that feeds ``layer``, or ``None``."""
        k = self.value_embed_tables
        if layer < k:
            return layer
        if k and layer >= self.n_layer - k:
            return layer - (self.n_layer - k)
        return None

    @property
    def is_gpt2_layout(self) -> bool:
        """True when every architecture switch is at its GPT-2 value (exportable to HF GPT-2).

        ``bias`` and ``dropout`` are not switches: a bias-free model exports with zero biases.
        """
        return all(getattr(self, name) == value for name, value in GPT2_SWITCHES.items())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, require_all: bool = False) -> GPTConfig:
        """Build a config from a dict; an unknown key is a ``ValueError`` that names it.

        With ``require_all`` (a saved model's config) a missing key is an error too: a default
        would silently build a different model than the one whose weights are loaded.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown GPTConfig key(s) {', '.join(map(repr, unknown))}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        if require_all:
            d = {**LATER_KEYS, **d}
        missing = sorted(known - set(d)) if require_all else []
        if missing:
            raise ValueError(f"missing GPTConfig key(s) {', '.join(map(repr, missing))}")
        return cls(**d)
