"""Each task end to end on tiny data with a tiny model (a few optimizer steps, seconds)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from kedro_gpt.evaluation.scores import classifier_scores
from kedro_gpt.finetune.batches import PaddedBatches, classifier_ids, lm_row
from kedro_gpt.finetune.classification import (
    _classification_rows,
    classification_data,
    load_classifier,
    member_config,
    predict_labels,
    run_classification,
)
from kedro_gpt.finetune.continued import run_continued_pretraining
from kedro_gpt.finetune.conversations import run_conversations, run_text2text
from kedro_gpt.finetune.data import pair_conversation
from kedro_gpt.finetune.run import run_task
from kedro_gpt.finetune.task_text import next_token_rows
from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.gpt import GPT
from kedro_gpt.text.detokenize import detokenized
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.special_tokens import eos_id
from kedro_gpt.tokenizer.train import train_sentencepiece
from kedro_gpt.training.data import IGNORE_INDEX, BatchSource
from tests.finetune.conftest import tiny_config

QA = [
    [
        {"role": "user", "content": f"What is {i} plus one?"},
        {"role": "assistant", "content": f"It is {i + 1}."},
    ]
    for i in range(12)
]


def test_padded_batches_are_a_batch_source_with_masked_targets():
    rows = [lm_row([5, 6, 7, 8], [False, False, True, True], 8), lm_row([1, 2], [False, True], 8)]
    source = PaddedBatches(rows, 3, pad_id=0, seed=1)
    assert isinstance(source, BatchSource)
    x, y = source.next_batch()
    assert x.shape == y.shape and x.dtype == torch.int64 and x.shape[0] == 3
    assert rows[0][1].tolist() == [IGNORE_INDEX, 7, 8]
    state = source.state_dict()
    again = PaddedBatches(rows, 3, pad_id=0, seed=1)
    again.load_state_dict(state)
    torch.testing.assert_close(again.next_batch(), source.next_batch())


@pytest.mark.parametrize("mode", ["full", "freeze", "lora"])
def test_chat_trains_only_on_answers_and_saves_a_plain_gpt(bundle, tmp_path, mode):
    config = tiny_config(
        tmp_path,
        task="chat",
        mode=mode,
        freeze_layers=1,
        chat={"generation": {"eval_examples": 2, "max_new_tokens": 4}},
    )
    result = run_conversations(bundle, QA, None, config, config.chat.generation, eval_fraction=0.25)
    m = result.metrics
    assert result.report["examples"] == {"train": 9, "eval": 3, "dropped_no_answer": 0}
    assert m["response_loss"] < m["base_response_loss"]  # it learned something in 6 steps
    assert 0 <= m["bleu"] <= 100 and 0 <= m["chrf"] <= 100
    assert result.bundle.info["task"] == "chat" and result.bundle.info["step"] == 6
    assert "<|assistant|>" in result.samples
    result.bundle.save(tmp_path)
    assert ModelBundle.load(tmp_path).config == bundle.config
    # the starting bundle is untouched
    assert all(p.requires_grad for p in bundle.model.parameters())


def test_lora_trains_few_parameters(bundle, tmp_path):
    config = tiny_config(tmp_path, mode="lora", lora={"rank": 2, "alpha": 4})
    result = run_conversations(bundle, QA, None, config, config.chat.generation)
    adaptation = result.report["adaptation"]
    assert adaptation["trainable_params"] == adaptation["lora_params"]
    assert adaptation["trainable_params"] < adaptation["total_params"] / 10
    base = dict(bundle.model.named_parameters())
    changed = [
        n for n, p in result.bundle.model.named_parameters() if not torch.equal(p, base[n].detach())
    ]
    assert changed and all("attn" in n for n in changed)  # merged into the adapted layers only


def test_classification_reports_model_scratch_and_majority(bundle, tmp_path):
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(16)] + [
        (f"dull tedious mess {i}", "negative") for i in range(16)
    ]
    config = tiny_config(tmp_path, task="classification", training={"max_steps": 8})
    result = run_classification(bundle, examples, ["negative", "positive"], config)
    m = result.metrics
    for key in ("accuracy", "macro_f1", "val_accuracy", "scratch_accuracy", "nb_logreg_accuracy"):
        assert 0.0 <= m[key] <= 1.0
    assert m["majority_accuracy"] == 0.5  # stratified 2/2 on the test split
    # the words give the label away: the classic baselines find it on the same test split
    assert m["tfidf_logreg_accuracy"] == m["nb_logreg_accuracy"] == 1.0
    assert result.report["examples"] | {"per_label_train_pool": None} == {
        "train": 25,
        "val": 3,
        "test": 4,
        "per_label_train_pool": None,
    }
    assert result.report["scratch_baseline"]["steps"] == result.report["training"]["step"] == 8
    assert sum(map(sum, result.report["finetuned"]["confusion_matrix"])) == 4
    assert result.figure is not None
    # the head travels in the bundle and predicts the same labels after a save/load
    result.bundle.save(tmp_path)
    classifier, labels = load_classifier(ModelBundle.load(tmp_path))
    assert labels == ["negative", "positive"]
    rows = _classification_rows(bundle.tokenizer, examples, {"negative": 0, "positive": 1}, 48).rows
    original, _ = load_classifier(result.bundle)
    assert predict_labels(classifier, rows, 8) == predict_labels(original, rows, 8)


def test_an_epochs_budget_repeats_a_fine_tune_exactly(bundle, tmp_path):
    """Under max_epochs (and no max_minutes) the schedule follows the data, not the clock, so the
    same seed gives the same weights, step for step."""
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(16)] + [
        (f"dull tedious mess {i}", "negative") for i in range(16)
    ]
    config = tiny_config(
        tmp_path,
        task="classification",
        training={"max_steps": None, "max_epochs": 2, "max_minutes": None},
        classification={"scratch_baseline": False, "classic_baselines": False},
    )
    runs = [run_classification(bundle, examples, ["negative", "positive"], config) for _ in "ab"]
    first, second = (r.bundle.model.state_dict() for r in runs)
    assert runs[0].report["training"]["step"] == runs[1].report["training"]["step"] >= 12
    assert runs[0].report["training"]["stopped_by"] == "max_epochs"
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["lm_head.weight"], bundle.model.state_dict()["lm_head.weight"])


def test_the_test_split_is_fixed_across_seeds_and_subsets(bundle, tmp_path):
    examples = [(f"great fun {i}", "positive") for i in range(40)] + [
        (f"boring slog {i}", "negative") for i in range(40)
    ]
    labels = ["negative", "positive"]
    splits = []
    for seed, max_examples in [(1, None), (2, None), (3, 20)]:
        config = tiny_config(
            tmp_path,
            task="classification",
            seed=seed,
            classification={"max_examples": max_examples},
        )
        data = classification_data(bundle, examples, labels, config)
        assert not set(data.test.texts) & (set(data.train.texts) | set(data.val.texts))
        splits.append(data)
    assert splits[0].test.texts == splits[1].test.texts == splits[2].test.texts
    assert len(splits[0].test.texts) == 8
    assert splits[0].val.texts != splits[1].val.texts  # the training seed picks train / val
    assert len(splits[2].train.rows) + len(splits[2].val.rows) == 20


def test_detokenize_rejoins_treebank_tokens_and_keeps_the_same_splits(bundle, tmp_path):
    assert detokenized('the " conan " of fun , really . ') == 'the "conan" of fun, really.'
    assert detokenized("he's going ( slowly ) -- and it's good") == (
        "he's going (slowly) -- and it's good"
    )
    examples = [(f"great fun , {i} .", "positive") for i in range(20)] + [
        (f"a slog ( {i} ) !", "negative") for i in range(20)
    ]
    labels = ["negative", "positive"]
    splits = [
        classification_data(
            bundle,
            examples,
            labels,
            tiny_config(tmp_path, task="classification", classification={"detokenize": flag}),
        )
        for flag in (False, True)
    ]
    assert splits[1].test.texts == [detokenized(t) for t in splits[0].test.texts]
    assert splits[1].train.texts == [detokenized(t) for t in splits[0].train.texts]
    assert "great fun, 3." in splits[1].train.texts + splits[1].val.texts + splits[1].test.texts


def test_text2text_reports_the_copy_baseline(bundle, tmp_path):
    pairs = [(f"thou art {i}", f"you are {i}") for i in range(10)]
    config = tiny_config(
        tmp_path,
        task="text2text",
        text2text={"generation": {"eval_examples": 3, "max_new_tokens": 5}},
    )
    result = run_text2text(bundle, pairs[:7], pairs[7:], config)
    m = result.metrics
    assert "copy_baseline_bleu" in m and "bleu" in m and m["copy_baseline_chrf"] > 0
    assert result.report["examples"]["eval"] == 3
    assert pair_conversation("a", None, "x")[-1] == {"role": "user", "content": "a"}


def test_continued_pretraining_lowers_the_held_out_loss(bundle, tmp_path, shakespeare_text):
    config = tiny_config(tmp_path, task="continued_pretraining", training={"max_steps": 10})
    result = run_continued_pretraining(bundle, [shakespeare_text[:20_000]], config)
    m = result.metrics
    assert m["val_loss"] < m["base_val_loss"]
    assert m["val_bits_per_char"] > 0


def test_long_prompts_keep_the_start_of_the_answer():
    ids = list(range(100, 130))
    mask = [False] * 20 + [True] * 10
    x, y = lm_row(ids, mask, 8)
    assert len(x) == 8 and x[0] == 116  # half a block before the first answer token (120)
    assert y.tolist() == [IGNORE_INDEX] * 3 + [120, 121, 122, 123, 124]
    assert lm_row([1, 2, 3], [False, False, False], 8) is None


def test_transfer_phases_warm_the_head_then_unfreeze_from_the_top(bundle, tmp_path):
    from kedro_gpt.finetune.classification import phases
    from kedro_gpt.finetune.config import ClassificationParams

    plan = phases(ClassificationParams(head_warmup_steps=3, gradual_unfreezing=True), n_layer=2)
    assert [(p.name, p.levels, p.steps) for p in plan] == [
        ("head", 1, 3),
        ("top1", 2, None),
        ("top2", 3, None),
        ("top3", 4, None),
    ]
    assert sum(p.share for p in plan[1:]) == pytest.approx(1.0)
    assert [p.name for p in phases(ClassificationParams(), 2)] == ["all"]

    examples = [(f"a wonderful moving film {i}", "positive") for i in range(16)] + [
        (f"dull tedious mess {i}", "negative") for i in range(16)
    ]
    embeddings = bundle.model.transformer.wte.weight.detach().clone()
    config = tiny_config(
        tmp_path,
        task="classification",
        training={"max_steps": 6},
        classification={
            "head_warmup_steps": 2,
            "gradual_unfreezing": True,
            "layer_lr_decay": 0.5,
            "scratch_baseline": False,
        },
    )
    result = run_classification(bundle, examples, ["negative", "positive"], config)
    phases_run = result.report["adaptation"]["phases"]
    assert [p["name"] for p in phases_run] == ["head", "top1", "top2", "top3"]
    assert [p["steps"] for p in phases_run] == [2, 2, 2, 2]  # 6 steps over 3 unfreezing phases
    assert result.report["training"]["step"] == 8
    assert result.report["adaptation"]["layer_lr_decay"] == 0.5
    # only the last phase trains the embeddings; the starting bundle is never touched
    assert torch.equal(bundle.model.transformer.wte.weight, embeddings)
    assert not torch.equal(result.bundle.model.transformer.wte.weight, embeddings)


def test_restarts_keep_the_best_by_validation_and_the_scratch_model_gets_as_many(bundle, tmp_path):
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(24)] + [
        (f"dull tedious mess {i}", "negative") for i in range(24)
    ]
    config = tiny_config(
        tmp_path,
        task="classification",
        seed=4,
        training={"max_steps": 6},
        classification={"restarts": 3, "classic_baselines": False},
    )
    result = run_classification(bundle, examples, ["negative", "positive"], config)
    restarts = result.report["restarts"]
    assert [r["seed"] for r in restarts] == [4, 5, 6]
    assert len({r["best_val_loss"] for r in restarts}) == 3  # the seeds made different models
    kept = [r for r in restarts if r["kept"]]
    assert kept == [max(restarts, key=lambda r: (r["val_accuracy"], -r["best_val_loss"]))]
    assert kept[0] is not restarts[-1]  # with these seeds the first is best: not simply the last
    # the model returned is the kept one, not the last trained
    assert result.metrics["val_accuracy"] == kept[0]["val_accuracy"]
    assert result.metrics["accuracy"] == kept[0]["test_accuracy"]
    assert result.metrics["val_loss"] == pytest.approx(kept[0]["best_val_loss"], rel=1e-4)
    assert result.report["training"]["step"] == kept[0]["steps"]
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "restart0",
        "restart1",
        "restart2",
        "scratch",
    ]
    scratch = result.report["scratch_baseline"]["restarts"]
    assert [r["steps"] for r in scratch] == [kept[0]["steps"]] * 3
    assert sum(r["kept"] for r in scratch) == 1


def test_task_text_rows_predict_each_next_token():
    rows = [(np.array([5, 6, 7]), np.array([-100, -100, 1])), (np.array([9]), np.array([0]))]
    [(x, y)] = next_token_rows(rows, block_size=8)  # one token has no next token: dropped
    assert x.tolist() == [5, 6] and y.tolist() == [6, 7]


def test_task_text_stage_tunes_the_language_model_the_classifier_starts_from(bundle, tmp_path):
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(24)] + [
        (f"dull tedious mess {i}", "negative") for i in range(24)
    ]
    labels = ["negative", "positive"]

    def run(epochs: float, folder: str):
        config = tiny_config(
            tmp_path / folder,
            task="classification",
            classification={"classic_baselines": False, "task_text_epochs": epochs},
        )
        return run_classification(bundle, examples, labels, config)

    tuned, plain = run(2.0, "tuned"), run(0.0, "plain")
    stage = tuned.report["task_text"]
    assert plain.report["task_text"] is None
    assert stage["stopped_by"] == "max_epochs"
    # two passes over the training texts at 4 a step (the validation texts only score)
    assert stage["steps"] == pytest.approx(2 * tuned.report["examples"]["train"] / 4, abs=2)
    assert stage["val_loss_after"] < stage["val_loss_before"] - 0.1
    assert (tmp_path / "tuned" / "ckpt" / "task_text" / "best").is_dir()
    # the scratch baseline gets the same stage from its random weights
    scratch_stage = tuned.report["scratch_baseline"]["task_text"]
    assert scratch_stage["steps"] == stage["steps"]
    # ... from other weights than the model's (this test's model is random too, seeded apart)
    assert scratch_stage["val_loss_before"] != pytest.approx(stage["val_loss_before"], rel=1e-6)
    assert (tmp_path / "tuned" / "ckpt" / "scratch" / "task_text" / "best").is_dir()
    assert plain.report["scratch_baseline"]["task_text"] is None
    # the classifier trained from the tuned model: same seeds, different start, different fit
    assert tuned.metrics["val_loss"] != pytest.approx(plain.metrics["val_loss"], rel=1e-6)


def test_start_token_begins_every_row_and_travels_with_the_head(bundle, tmp_path):
    examples = [(f"great fun {i}", "positive") for i in range(20)] + [
        (f"boring slog {i}", "negative") for i in range(20)
    ]
    labels = ["negative", "positive"]
    sp, eos = bundle.tokenizer, eos_id(bundle.tokenizer)
    config = tiny_config(tmp_path, task="classification", classification={"start_token": True})
    data = classification_data(bundle, examples, labels, config)
    for text, (x, _) in zip(data.train.texts, data.train.rows, strict=True):
        assert x.tolist() == [eos, *sp.encode(text)]
    result = run_classification(bundle, examples, labels, config)
    head = result.bundle.info["classifier"]
    assert head["start_token"] is True
    assert classifier_ids(sp, "great fun", head) == [eos, *sp.encode("great fun")]
    assert classifier_ids(sp, "great fun", {**head, "start_token": False}) == sp.encode("great fun")
    # scoring a saved model reads the texts as training did: the same test accuracy
    test = [(t, labels[y]) for t, y in zip(data.test.texts, data.test.labels, strict=True)]
    assert classifier_scores(result.bundle, test, 8)["accuracy"] == result.metrics["accuracy"]


def test_an_ensemble_fits_each_member_on_its_own_split_and_averages_their_probabilities(
    bundle, tmp_path
):
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(24)] + [
        (f"dull tedious mess {i}", "negative") for i in range(24)
    ]
    labels = ["negative", "positive"]
    config = tiny_config(
        tmp_path,
        task="classification",
        seed=4,
        training={"max_steps": 6},
        classification={"ensemble": 3, "restarts": 2},
    )
    result = run_classification(bundle, examples, labels, config)
    members = result.report["members"]
    assert [m["seed"] for m in members] == [4, 6, 8]  # seed + m * restarts
    assert [[r["seed"] for r in m["restarts"]] for m in members] == [[4, 5], [6, 7], [8, 9]]
    splits = [
        classification_data(bundle, examples, labels, member_config(config, m)) for m in range(3)
    ]
    assert len({tuple(sorted(d.val.texts)) for d in splits}) == 3  # each member its own split
    assert all(d.test.texts == splits[0].test.texts for d in splits)  # one test split
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "member0",
        "member1",
        "member2",
    ]
    m = result.metrics
    assert m["members_mean_accuracy"] == pytest.approx(
        np.mean([r["test_accuracy"] for r in members])
    )
    assert m["val_accuracy"] == pytest.approx(np.mean([r["val_accuracy"] for r in members]))
    scratch = result.report["scratch_baseline"]
    assert [r["steps"] for r in scratch["members"]] == [r["steps"] for r in members]
    assert scratch["steps"] == result.report["training"]["step"] == sum(r["steps"] for r in members)
    # the saved bundle holds all three backbones; its classifier is the probability average
    result.bundle.save(tmp_path)
    saved = ModelBundle.load(tmp_path)
    assert len(saved.backbones) == 3
    ensemble, _ = load_classifier(saved)
    x = torch.tensor([classifier_ids(bundle.tokenizer, t, {}) for t in ["dull tedious mess 3"]])
    with torch.no_grad():
        mean = torch.stack([c(x)[0].softmax(-1) for c in ensemble.members]).mean(0)
        torch.testing.assert_close(ensemble(x)[0].exp(), mean)
    assert not torch.allclose(ensemble.members[0](x)[0], ensemble.members[1](x)[0])
    test = list(zip(splits[0].test.texts, [labels[y] for y in splits[0].test.labels], strict=True))
    assert classifier_scores(saved, test, 8)["accuracy"] == m["accuracy"]


def _backward_twin(bundle: ModelBundle, tokenizer=None) -> ModelBundle:
    torch.manual_seed(1)
    config = dataclasses.replace(bundle.config, reverse=True)
    return ModelBundle(GPT(config), tokenizer or bundle.tokenizer, {"source": "pretraining"})


def test_a_bidirectional_fine_tune_gives_each_member_a_backward_twin(bundle, tmp_path):
    examples = [(f"a wonderful moving film {i}", "positive") for i in range(16)] + [
        (f"dull tedious mess {i}", "negative") for i in range(16)
    ]
    labels = ["negative", "positive"]
    config = tiny_config(
        tmp_path, task="classification", training={"max_steps": 4}, classification={"ensemble": 2}
    )
    result = run_classification(bundle, examples, labels, config, backward=_backward_twin(bundle))
    report = result.report
    assert [(m["seed"], m.get("direction")) for m in report["members"]] == [
        (1337, None),
        (1338, None),
        (1337, "backward"),
        (1338, "backward"),
    ]
    assert sorted(p.name for p in (tmp_path / "ckpt" / "backward").iterdir()) == [
        "member0",
        "member1",
    ]
    for part in (report, report["scratch_baseline"]):
        assert set(part["directions"]) == {"forward", "backward"}
    assert len(report["scratch_baseline"]["members"]) == 4
    assert set(result.metrics) >= {
        "forward_accuracy",
        "backward_accuracy",
        "scratch_backward_accuracy",
    }
    # saved and loaded: two forward backbones then two backward ones, averaged by one classifier
    result.bundle.save(tmp_path)
    saved = ModelBundle.load(tmp_path)
    assert [b.config.reverse for b in saved.backbones] == [False, False, True, True]
    data = classification_data(bundle, examples, labels, config)
    test = [(t, labels[y]) for t, y in zip(data.test.texts, data.test.labels, strict=True)]
    assert classifier_scores(saved, test, 8)["accuracy"] == result.metrics["accuracy"]


def test_a_second_direction_must_read_backwards_with_the_same_tokenizer(
    bundle, tmp_path, shakespeare_text
):
    examples = [("fine", "positive"), ("dull", "negative")] * 4
    config = tiny_config(tmp_path, task="classification")
    with pytest.raises(ValueError, match="a forward model and a backward one"):
        run_classification(bundle, examples, ["negative", "positive"], config, backward=bundle)
    other = train_sentencepiece(
        [shakespeare_text[100_000:200_000]], SentencePieceConfig(vocab_size=400)
    )
    with pytest.raises(ValueError, match="another tokenizer than the forward model's"):
        run_classification(
            bundle,
            examples,
            ["negative", "positive"],
            config,
            backward=_backward_twin(bundle, other),
        )
    chat = tiny_config(tmp_path, task="chat")
    with pytest.raises(ValueError, match="fine-tunes only for classification"):
        run_task(bundle, {}, chat, backward=_backward_twin(bundle))
