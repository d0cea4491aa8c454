"""The project's pipelines: every stage under ``pipelines/``, and the composites built from them.

Kedro 1.7's ``find_pipelines`` looks only in ``pipelines/<name>`` for the name asked on the command
line, so the registry imports each stage's ``create_pipeline`` itself and defines the composites
here, in one place. ``kedro run --pipelines=<name>`` takes any key of ``register_pipelines()``.
"""

from __future__ import annotations

import warnings

from kedro.pipeline import Pipeline, pipeline

from kedro_gpt.pipelines import (
    cleaning,
    comparison,
    evaluation,
    finetuning,
    ingestion,
    pretraining,
    retraining,
    tokenization,
    tuning,
)

STAGES = {
    "ingestion": ingestion.create_pipeline,
    "cleaning": cleaning.create_pipeline,
    "tokenization": tokenization.create_pipeline,
    "pretraining": pretraining.create_pipeline,
    "evaluation": evaluation.create_pipeline,  # scores the model just trained, registers it
    "finetuning": finetuning.create_pipeline,
    "comparison": comparison.create_pipeline,  # model versions side by side, promotes a champion
    "tuning": tuning.create_pipeline,  # an Optuna sweep or an ablation of the pretraining parameters
    "retraining": retraining.create_pipeline,  # the champion + new feedback -> compared, promoted
}

# name -> the stages it chains, in order (aliases are one-stage composites)
COMPOSITES = {
    "data": ["ingestion", "cleaning", "tokenization"],
    "pretrain": ["ingestion", "cleaning", "tokenization", "pretraining", "evaluation"],
    "finetune": ["finetuning"],
    "compare": ["comparison"],
    "sweep": ["ingestion", "cleaning", "tokenization", "tuning"],
    "retrain": ["retraining"],
}

DEFAULT = "pretrain"

ADAPT = "adapt"  # the namespace of domain adaptation's datasets and parameters


def adaptation() -> Pipeline:
    """Domain-adaptive pretraining (ULMFiT's second stage; also "retrain on fresh data"): new
    text through the same ingestion and cleaning, encoded with ``gpt_model``'s own tokenizer, then
    more pretraining of ``gpt_model``, then the evaluation stage on the new text's held-out split.
    Datasets and parameters live under ``adapt.``; the result is ``adapt.gpt_model``."""
    stages = (
        ingestion.create_pipeline()
        + cleaning.create_pipeline()
        + tokenization.create_pipeline(train=False)
        + pretraining.create_pipeline(from_model=True)
        + evaluation.create_pipeline()
    )
    return pipeline(stages, namespace=ADAPT, inputs={"base_model": "gpt_model"})


BACKWARD = "backward"  # the namespace of the backward language models (ULMFiT's second direction)
STAGE_PARAMS = {"params:pretraining", "params:evaluation"}


def backward() -> Pipeline:
    """A backward language model (each text read back to front) from random weights on the
    forward model's own token shards and tokenizer, with the ``pretraining`` parameters, then
    scored on the same held-out split: ``backward.gpt_model``."""
    stages = pretraining.create_pipeline(backward=True) + evaluation.create_pipeline()
    return pipeline(
        stages,
        namespace=BACKWARD,
        inputs={"train_tokens", "val_tokens", "tokenizer"},
        parameters=STAGE_PARAMS,
    )


def adaptation_backward() -> Pipeline:
    """Domain adaptation of ``backward.gpt_model`` on the text the forward adaptation encoded
    (``adapt.train_tokens``, the same tokenizer), with the ``adapt`` parameters:
    ``adapt.backward.gpt_model``."""
    stages = pretraining.create_pipeline(from_model=True) + evaluation.create_pipeline()
    ns = f"{ADAPT}.{BACKWARD}"
    # Kedro warns of any dotted input outside the node's top-level namespace, and this stage
    # reads from two namespaces (backward.gpt_model, adapt.train_tokens) by design: quiet here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "One or more dataset names contain '.'", UserWarning)
        return pipeline(
            stages,
            namespace=ns,
            inputs={
                "base_model": f"{BACKWARD}.gpt_model",
                "train_tokens": f"{ADAPT}.train_tokens",
                "val_tokens": f"{ADAPT}.val_tokens",
            },
            parameters={p: p.replace("params:", f"params:{ADAPT}.") for p in STAGE_PARAMS},
        )


def finetune_bidirectional() -> Pipeline:
    """``finetune_adapted`` with ULMFiT's second direction: each classifier has a twin
    fine-tuned from ``adapt.backward.gpt_model``; the result is ``adapt.finetuned_model``."""
    return pipeline(
        finetuning.create_pipeline(bidirectional=True),
        namespace=ADAPT,
        inputs={
            "task_files": "task_files",
            "feedback_db": "feedback_db",
            "backward_model": f"{ADAPT}.{BACKWARD}.gpt_model",
        },
        parameters={"params:finetuning": "params:finetuning"},
    )


def finetune_adapted() -> Pipeline:
    """Fine-tuning from the domain-adapted model, with the ``finetuning`` parameters; its model
    and reports are ``adapt.finetuned_model``, ``adapt.finetune_report``, ..."""
    return pipeline(
        finetuning.create_pipeline(),
        namespace=ADAPT,
        inputs={"task_files", "feedback_db"},
        parameters={"params:finetuning": "params:finetuning"},
    )


def register_pipelines() -> dict[str, Pipeline]:
    """Every stage, every composite, domain adaptation, the backward models and the
    bidirectional fine-tune, and ``__default__`` (= ``pretrain``, what
    ``make run`` runs)."""
    stages = {name: create() for name, create in STAGES.items()}
    pipelines: dict[str, Pipeline] = dict(stages)
    for name, parts in COMPOSITES.items():
        pipelines[name] = sum((stages[part] for part in parts), Pipeline([]))
    pipelines[ADAPT] = adaptation()
    pipelines["finetune_adapted"] = finetune_adapted()
    pipelines[BACKWARD] = backward()
    pipelines["adapt_backward"] = adaptation_backward()
    pipelines["finetune_bidirectional"] = finetune_bidirectional()
    pipelines["__default__"] = pipelines[DEFAULT]
    return pipelines
