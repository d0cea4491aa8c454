"""Learning from user feedback: the examples and preference pairs a feedback table gives, chat
fine-tuning with them, and DPO raising how often the model prefers the preferred answer."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from kedro_gpt.feedback.examples import feedback_examples
from kedro_gpt.feedback.schema import FeedbackIn
from kedro_gpt.feedback.store import FeedbackStore
from kedro_gpt.finetune.config import FinetuningConfig
from kedro_gpt.finetune.preference import DPOObjective
from kedro_gpt.finetune.run import run_task
from kedro_gpt.model.bundle import ModelBundle

from .conftest import tiny_config


def _chat(question: str, answer: str, **extra) -> FeedbackIn:
    return FeedbackIn(messages=[{"role": "user", "content": question}], answer=answer, **extra)


def _table(tmp_path, items):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    for item in items:
        store.add(item, model_version="1")
    table = store.table()
    store.close()
    return table


def test_examples_and_pairs_from_a_feedback_table(tmp_path):
    table = _table(
        tmp_path,
        [
            _chat("Capital of France?", "Paris.", rating="up"),
            _chat("Capital of France?", "Lyon.", rating="down"),
            _chat("Capital of France?", "Rome.", rating="down", comment="no"),
            _chat("2+2?", "5", rating="down", edited_answer="4"),
            _chat("Who wrote Hamlet?", "Marlowe", comment="hmm"),  # a comment only: nothing
            _chat("Who?", "Me.", edited_answer="Me."),  # an edit that changed nothing
            FeedbackIn(prompt="Once upon", answer=" a time", rating="up"),
        ],
    )
    learned = feedback_examples(table)
    assert learned.counts == {
        "rows": 7,
        "chat_rows": 6,
        "skipped_completion": 1,
        "skipped_invalid": 0,
        "supervised": 2,
        "pairs": 3,
    }
    answers = {c[0]["content"]: c[-1]["content"] for c in learned.supervised}
    assert answers == {"Capital of France?": "Paris.", "2+2?": "4"}
    assert all(c[-1]["role"] == "assistant" for c in learned.supervised)
    pairs = {(p.messages[0]["content"], p.chosen, p.rejected) for p in learned.pairs}
    assert pairs == {
        ("Capital of France?", "Paris.", "Lyon."),
        ("Capital of France?", "Paris.", "Rome."),
        ("2+2?", "4", "5"),  # the edit is preferred to the answer it corrected
    }


def test_chat_fine_tuning_learns_the_feedback_examples(bundle, tmp_path):
    items = [_chat(f"Question {i}?", f"Answer {i}.", rating="up") for i in range(6)]
    items += [
        _chat(f"Query {i}?", "bad", rating="down", edited_answer=f"Good {i}.") for i in range(4)
    ]
    table = _table(tmp_path, items)
    files = {"qa.jsonl": '{"prompt": "Hi?", "response": "Hello."}\n' * 4}
    config = tiny_config(
        tmp_path,
        task="chat",
        chat={"files": ["qa.jsonl"], "generation": {"eval_examples": 1, "max_new_tokens": 2}},
    )
    result = run_task(bundle, files, config, feedback=table)
    examples = result.report["examples"]
    assert examples["train"] + examples["eval"] == 4 + 10
    assert result.report["feedback"]["supervised"] == 10 and result.report["feedback"]["used"]
    off = config.model_copy(update={"chat": config.chat.model_copy(update={"feedback": False})})
    result = run_task(bundle, files, off, feedback=table)
    assert result.report["examples"]["train"] + result.report["examples"]["eval"] == 4


def _preference_table(tmp_path, n: int):
    """Each question rated twice: a short 'No.' up, a longer 'Yes' answer down (the random model
    prefers the longer answer per token: the preference must be learned)."""
    items = []
    for i in range(n):
        items.append(_chat(f"Is {i} a number?", "No.", rating="up"))
        items.append(_chat(f"Is {i} a number?", f"Yes, {i} is a number.", rating="down"))
    return _table(tmp_path, items)


def test_dpo_raises_the_held_out_preference_rate(bundle, tmp_path):
    table = _preference_table(tmp_path, 40)
    config = tiny_config(
        tmp_path,
        task="chat",
        mode="dpo",
        dpo={"beta": 0.5, "eval_fraction": 0.25},
        training={"max_steps": 40, "eval_interval": 10, "learning_rate": 3e-3, "batch_size": 8},
    )
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    result = run_task(bundle, {}, config, feedback=table)
    m = result.metrics
    assert result.report["examples"] == {"train_pairs": 30, "held_out_pairs": 10}
    assert m["preference_rate_before"] <= 0.5
    assert m["preference_rate"] >= 0.9, m
    assert result.bundle.info["adaptation"]["beta"] == 0.5
    # the starting model (the reference) is untouched; the result saves as a plain GPT
    assert all(torch.equal(v, bundle.model.state_dict()[k]) for k, v in before.items())
    (tmp_path / "dpo").mkdir()
    result.bundle.save(tmp_path / "dpo")
    assert ModelBundle.load(tmp_path / "dpo").config == bundle.config


def test_the_reference_is_frozen_and_outside_the_checkpoint(bundle):
    objective = DPOObjective(bundle.model, beta=0.1)
    assert all(k.startswith("policy.") for k in objective.state_dict())
    assert all(not p.requires_grad for p in objective.reference.parameters())
    assert {id(p) for p in objective.parameters()} == {id(p) for p in bundle.model.parameters()}


def test_dpo_says_what_it_needs(bundle, tmp_path):
    with pytest.raises(ValidationError, match="needs task 'chat'"):
        FinetuningConfig.model_validate(
            {"task": "classification", "mode": "dpo", "training": {"max_steps": 1}}
        )
    config = tiny_config(tmp_path, task="chat", mode="dpo")
    with pytest.raises(ValueError, match="at least 2 preference pairs, the feedback gives 1"):
        run_task(bundle, {}, config, feedback=_preference_table(tmp_path, 1))
