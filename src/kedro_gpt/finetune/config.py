"""Typed fine-tuning settings (validated from ``parameters_finetuning.yml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kedro_gpt.config import StrictModel
from kedro_gpt.training.config import TrainConfig

Task = Literal["chat", "classification", "text2text", "continued_pretraining"]


class LoRAParams(StrictModel):
    rank: int = Field(8, ge=1)
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: ["attn.c_attn", "attn.c_proj"],
        min_length=1,
        description="suffixes of linear module names, e.g. attn.c_attn, mlp.c_fc",
    )


class BaseModelParams(StrictModel):
    """Where the starting weights come from: the ``gpt_model`` input (catalog; pin a version
    with ``--load-versions=gpt_model:<ts>``) unless ``mlflow_uri`` names a registered model or
    ``path`` a kedro-gpt model folder (e.g. GPT-2's weights, as ``kedro-gpt import-hf`` wrote)."""

    mlflow_uri: str | None = Field(None, description="e.g. models:/kedro-gpt/3")
    path: str | None = Field(
        None, description="a model folder, relative to the project; e.g. data/06_models/gpt2"
    )

    @model_validator(mode="after")
    def _one_source(self) -> BaseModelParams:
        if self.mlflow_uri and self.path:
            raise ValueError("set mlflow_uri or path, not both")
        return self


class ScoringParams(StrictModel):
    """Greedy generation of held-out answers for BLEU / chrF."""

    eval_examples: int = Field(20, ge=0, description="held-out examples generated and scored")
    max_new_tokens: int = Field(64, ge=1)


class GenerationParams(ScoringParams):
    """... and how many of them the fine-tuning report and samples file keep."""

    samples_logged: int = Field(5, ge=0)


class FinetuneTrainConfig(TrainConfig):
    """The training loop's settings, with fine-tuning's defaults: AdamW with a cosine decay at a
    small learning rate (Muon is for pretraining the blocks' matrices from scratch)."""

    batch_size: int = Field(8, ge=1, description="examples per micro-batch")
    optimizer: Literal["adamw", "muon"] = "adamw"
    learning_rate: float = Field(5e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["cosine", "wsd"] = "cosine"
    warmup_steps: int = Field(10, ge=0)
    eval_interval: int = Field(50, ge=1)
    eval_batches: int = Field(10, ge=1)
    log_interval: int = Field(10, ge=1)
    checkpoint_interval: int = Field(50, ge=1)


class ChatParams(StrictModel):
    """Chat files: JSONL with ``messages`` or question/answer (prompt/response) fields, or CSV
    with the question and answer columns named below."""

    files: list[str] = Field(
        default_factory=lambda: [
            "qa_python_faq/python_faq_qa.jsonl",
            "qa_truthfulqa/TruthfulQA.csv",
        ],
        min_length=1,
    )
    prompt_keys: list[str] = Field(
        default_factory=lambda: ["prompt", "question", "Question", "instruction"]
    )
    response_keys: list[str] = Field(
        default_factory=lambda: ["response", "answer", "Best Answer", "output"]
    )
    system_prompt: str | None = None
    eval_fraction: float = Field(0.1, gt=0, lt=1)
    generation: GenerationParams = GenerationParams(eval_examples=20, max_new_tokens=48)
    feedback: bool = Field(
        True,
        description="also learn from the feedback snapshot: edited answers and up-voted answers",
    )


class ClassificationParams(StrictModel):
    """Labelled texts: one-text-per-line files named in ``label_files`` (label → file), and/or
    CSV/JSONL ``files`` with ``text_column`` and ``label_column``."""

    label_files: dict[str, str] = Field(
        default_factory=lambda: {
            "negative": "sentiment_rt_polarity/rt-polarity.neg",
            "positive": "sentiment_rt_polarity/rt-polarity.pos",
        }
    )
    files: list[str] = Field(default_factory=list)
    text_column: str = "text"
    label_column: str = "label"
    labels: list[str] | None = Field(
        None, description="the allowed labels; default: the keys of label_files"
    )
    max_examples: int | None = Field(
        4000,
        ge=2,
        description="a seeded subset of the training pool keeps the CPU default short; null = all",
    )
    test_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="the fixed test split: scored once at the end, never trained on",
    )
    val_fraction: float = Field(
        0.1, gt=0, lt=1, description="of the rest: picks the best checkpoint (model selection)"
    )
    split_seed: int = Field(
        0, description="seeds the test split only, so it stays the same across training seeds"
    )
    classic_baselines: bool = Field(
        True, description="TF-IDF + logistic regression and NB-weighted logistic regression"
    )
    pooling: Literal["last", "mean", "concat"] = "last"
    detokenize: bool = Field(
        False,
        description="rejoin Penn-Treebank-style tokens (sacremoses: 'fun , wasabi .' -> 'fun, "
        "wasabi.') so pre-tokenized task text reads like the text the model was pretrained on",
    )
    start_token: bool = Field(
        False,
        description="begin each text with <|endoftext|>, as every pretraining document after "
        "the first begins, so the text reads as the start of a document",
    )
    lm_loss_weight: float = Field(
        0.0,
        ge=0,
        description="add this times the LM loss of the training texts to the classification loss "
        "(GPT-1's auxiliary objective: 0.5); 0 = classification loss only",
    )
    task_text_epochs: float = Field(
        0.0,
        ge=0,
        description="first train the language model on the training split's texts (labels "
        "unused) for at most this many epochs, early-stopping on the validation texts (ULMFiT's "
        "target-task LM stage); 0 = off",
    )
    scratch_baseline: bool = Field(True, description="train the same model from scratch too")
    restarts: int = Field(
        1,
        ge=1,
        description="train this many times on the same splits (seeds seed, seed + 1, ...: head "
        "initialisation, batch order, dropout) and keep the best by validation accuracy; the "
        "scratch baseline gets as many",
    )
    ensemble: int = Field(
        1,
        ge=1,
        description="fit this many classifiers, member m on its own train/validation split of "
        "the pool (seed + m * restarts), keep them all and average their label probabilities; "
        "the scratch baseline is an ensemble of as many",
    )
    # transfer techniques (ULMFiT, Howard & Ruder 2018); off by default
    head_warmup_steps: int = Field(
        0, ge=0, description="first train the new head alone (backbone frozen) for this many steps"
    )
    layer_lr_decay: float = Field(
        1.0,
        gt=0,
        le=1,
        description="discriminative learning rates: each layer below the head gets this factor "
        "more (ULMFiT: 1/2.6 = 0.385); 1 = one learning rate",
    )
    gradual_unfreezing: bool = Field(
        False,
        description="unfreeze from the top, one layer per phase (the budget split evenly over "
        "the n_layer + 1 phases); off: every layer trains from the start",
    )


class Text2TextParams(StrictModel):
    """Source → target pairs (TSV, CSV or JSONL) rendered as one chat turn each."""

    train_file: str = "parallel_bible/kjv-web.train.tsv"
    eval_file: str = "parallel_bible/kjv-web.dev.tsv"
    source_column: str = "kjv_en"
    target_column: str = "web_en"
    instruction: str | None = Field(
        "Rewrite in modern English.", description="system message; null for none"
    )
    max_train: int | None = Field(None, ge=1)
    generation: GenerationParams = GenerationParams(eval_examples=30, max_new_tokens=64)


class ContinuedPretrainingParams(StrictModel):
    """New plain-text files to keep pretraining on (last ``val_fraction`` of each is held out)."""

    files: list[str] = Field(default_factory=lambda: ["parallel_bible/kjv-web.train.tsv"])
    val_fraction: float = Field(0.1, gt=0, lt=1)


class DPOParams(StrictModel):
    """Mode ``dpo``: Direct Preference Optimization on the feedback's preference pairs."""

    beta: float = Field(0.1, gt=0, description="how far from the frozen reference (higher: less)")
    eval_fraction: float = Field(
        0.2, gt=0, lt=1, description="pairs held out: early stopping and the preference rate"
    )


class RegistryParams(StrictModel):
    """Registration of the fine-tuned model in the MLflow model registry (for ``comparison``)."""

    enabled: bool = True
    model_name: str = Field("kedro-gpt-finetuned", min_length=1)


class FinetuningConfig(StrictModel):
    task: Task = "chat"
    mode: Literal["full", "freeze", "lora", "dpo"] = "full"
    freeze_layers: int = Field(0, ge=0, description="mode freeze: the lowest N blocks + embeddings")
    dropout: float | None = Field(
        None, ge=0, lt=1, description="dropout while fine-tuning; null = the base model's own"
    )
    lora: LoRAParams = LoRAParams()
    dpo: DPOParams = DPOParams()
    base_model: BaseModelParams = BaseModelParams()
    seed: int = 1337
    training: FinetuneTrainConfig = Field(description="the loop's settings; batch_size = examples")
    checkpoint_dir: str = "data/06_models/checkpoints/finetune"
    tensorboard_dir: str | None = Field(
        None,
        description="also write TensorBoard events under this folder (one per run); null = off",
    )
    chat: ChatParams = ChatParams()
    classification: ClassificationParams = ClassificationParams()
    text2text: Text2TextParams = Text2TextParams()
    continued_pretraining: ContinuedPretrainingParams = ContinuedPretrainingParams()
    registry: RegistryParams = RegistryParams()

    @model_validator(mode="after")
    def _check(self) -> FinetuningConfig:
        if self.mode == "freeze" and self.freeze_layers < 1:
            raise ValueError("mode 'freeze' needs freeze_layers >= 1")
        if self.mode == "dpo" and self.task != "chat":
            raise ValueError("mode 'dpo' learns from chat feedback: it needs task 'chat'")
        return self
