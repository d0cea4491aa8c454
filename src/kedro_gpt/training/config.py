"""TrainConfig: every knob of the training loop, validated (unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kedro_gpt.config import StrictModel


class TrainConfig(StrictModel):
    """Optimisation, schedule, stopping, evaluation, checkpointing and launch settings.

    One optimizer step consumes ``batch_size × grad_accum_steps × world_size`` windows of
    ``block_size`` tokens. Training stops at whichever of ``max_steps``, ``max_tokens``,
    ``max_minutes`` and ``max_epochs`` comes first (at least one is required); the learning-rate
    schedule runs on ``progress = max(step / max_steps, tokens / max_tokens, elapsed /
    max_minutes, epochs / max_epochs)``, so its decay completes exactly when the first budget is
    spent, a wall-clock budget included. With ``early_stopping_patience`` the periodic validation
    can stop the run earlier.

    These defaults are the project's defaults: ``conf/base/parameters_pretraining.yml`` repeats
    the ones a user edits with the same values, and sets the budget (which has no default here).
    """

    # batch
    batch_size: int = Field(16, ge=1, description="windows per micro-batch per process")
    grad_accum_steps: int = Field(1, ge=1, description="micro-batches per optimizer step")
    # optimizer
    optimizer: Literal["adamw", "muon"] = Field(
        "muon", description="muon: Muon for the blocks' 2-D weights, AdamW for the rest"
    )
    learning_rate: float = Field(3e-3, gt=0, description="peak AdamW learning rate")
    muon_lr: float = Field(0.02, gt=0, description="peak Muon learning rate (optimizer: muon)")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="final lr = peak × min_lr_ratio")
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.99, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0, description="max global grad norm; 0 disables clipping")
    # schedule
    warmup_steps: int = Field(50, ge=0)
    schedule: Literal["cosine", "wsd"] = Field("wsd", description="wsd: warmup-stable-decay")
    decay_fraction: float = Field(
        0.2, gt=0, le=1, description="wsd: share of the run spent on the final linear decay"
    )
    # stopping (whichever comes first)
    max_steps: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0)
    max_epochs: float | None = Field(
        None,
        gt=0,
        description="passes over the training data: tokens seen ÷ the batch source's "
        "tokens_per_epoch (fractions allowed, e.g. 0.5)",
    )
    early_stopping_patience: int | None = Field(
        None,
        ge=1,
        description="stop after this many periodic validations in a row without an improvement "
        "of at least early_stopping_min_delta (None: never stop early; with schedule wsd only "
        "validations in the decay count); best/ keeps the best",
    )
    early_stopping_min_delta: float = Field(
        0.0, ge=0, description="the validation-loss drop that counts as an improvement"
    )
    # evaluation, logging, checkpoints (in optimizer steps)
    eval_interval: int = Field(200, ge=1)
    eval_batches: int = Field(20, ge=1, description="batches of the periodic validation subset")
    eval_interval_minutes: float | None = Field(
        None,
        gt=0,
        description="also validate each time this much wall time has passed (runs on a time "
        "budget then validate at the same shares of it, whatever their speed: a sweep's pruner "
        "compares trials there)",
    )
    eval_at_start: bool = Field(
        False,
        description="also validate before the first step (the starting weights' loss, e.g. of "
        "init_from; it may become best/ and counts for early stopping)",
    )
    final_eval: bool = Field(
        False,
        description="score every validation token once at the end (the pretrain pipeline's "
        "evaluation node does it on the saved model)",
    )
    log_interval: int = Field(20, ge=1)
    checkpoint_interval: int = Field(200, ge=1)
    progress_bar: bool = True
    # reproducibility and runtime
    seed: int = Field(1337, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="auto: bf16 on CUDA, fp32 on CPU; bfloat16 also on CPUs with AMX"
    )
    compile: bool = False
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads per process")
    # launch (torchrun)
    nproc_per_node: int = Field(1, ge=1, description="> 1: DDP through torchrun")
    nnodes: int = Field(1, ge=1)
    rdzv_backend: str = "c10d"
    rdzv_endpoint: str | None = Field(
        None, description="host:port of the rendezvous; None on one node picks a free port"
    )

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        budgets = (self.max_steps, self.max_tokens, self.max_minutes, self.max_epochs)
        if all(b is None for b in budgets):
            raise ValueError(
                "set at least one of max_steps, max_tokens, max_minutes, max_epochs "
                "(training needs a budget)"
            )
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("rdzv_endpoint (host:port) is required when nnodes > 1")
        return self
