"""``POST /v1/classify`` on a real server, for a model saved with a classification head."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import torch

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.model.gpt import GPT
from kedro_gpt.tokenizer.special_tokens import PAD

from .conftest import running_server


@pytest.fixture(scope="module")
def classifier_bundle(tiny_model_dir) -> tuple[ModelBundle, GPTClassifier]:
    bundle = ModelBundle.load(tiny_model_dir)
    torch.manual_seed(3)
    classifier = GPTClassifier(bundle.model, 2, bundle.tokenizer.piece_to_id(PAD)).eval()
    bundle.info["classifier"] = {**classifier.head_state(), "labels": ["neg", "pos"]}
    return bundle, classifier


def test_classify_answers_with_the_heads_labels_and_probabilities(classifier_bundle):
    bundle, classifier = classifier_bundle
    texts = ["a fine and moving film", "dull, dull, dull"]
    with running_server(bundle) as url:
        response = httpx.post(
            f"{url}/v1/classify", json={"model": "kedro-gpt", "input": texts}, timeout=30
        )
        empty = httpx.post(
            f"{url}/v1/classify", json={"model": "kedro-gpt", "input": [" "]}, timeout=30
        )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [d["index"] for d in data] == [0, 1]
    for text, item in zip(texts, data, strict=True):
        ids = torch.tensor([bundle.tokenizer.encode(text)])
        with torch.inference_mode():
            expected = torch.softmax(classifier(ids)[0], dim=-1)[0].tolist()
        assert item["scores"]["neg"] == pytest.approx(expected[0], abs=1e-5)
        assert item["label"] == ["neg", "pos"][int(expected[1] > expected[0])]
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "input"


def test_a_classifier_trained_on_rejoined_text_reads_its_input_rejoined(classifier_bundle):
    bundle, classifier = classifier_bundle
    head = {**bundle.info["classifier"], "detokenize": True}
    rejoining = ModelBundle(bundle.model, bundle.tokenizer, {**bundle.info, "classifier": head})
    with running_server(rejoining) as url:
        response = httpx.post(
            f"{url}/v1/classify",
            json={"model": "kedro-gpt", "input": ["dull , dull ( really ) ."]},
            timeout=30,
        )
    assert response.status_code == 200, response.text
    ids = torch.tensor([bundle.tokenizer.encode("dull, dull (really).")])
    with torch.inference_mode():
        expected = torch.softmax(classifier(ids)[0], dim=-1)[0].tolist()
    assert response.json()["data"][0]["scores"]["neg"] == pytest.approx(expected[0], abs=1e-5)
    assert bundle.tokenizer.encode("dull, dull (really).") != bundle.tokenizer.encode(
        "dull , dull ( really ) ."
    )  # the check can fail: the two spellings are different token sequences


def test_an_ensemble_answers_with_its_members_mean_probabilities(classifier_bundle, tmp_path):
    bundle, first = classifier_bundle
    torch.manual_seed(4)
    other = GPTClassifier(GPT(bundle.config), 2, first.pad_id).eval()
    head = {**bundle.info["classifier"], "ensemble": [other.head_state()]}
    ModelBundle(
        bundle.model, bundle.tokenizer, {**bundle.info, "classifier": head}, [other.backbone]
    ).save(tmp_path)
    with running_server(ModelBundle.load(tmp_path)) as url:
        response = httpx.post(
            f"{url}/v1/classify", json={"model": "kedro-gpt", "input": ["a fine film"]}, timeout=30
        )
    assert response.status_code == 200, response.text
    ids = torch.tensor([bundle.tokenizer.encode("a fine film")])
    with torch.inference_mode():
        alone = [torch.softmax(c(ids)[0], dim=-1)[0] for c in (first, other)]
    expected = ((alone[0] + alone[1]) / 2).tolist()
    assert response.json()["data"][0]["scores"]["neg"] == pytest.approx(expected[0], abs=1e-5)
    assert abs(alone[0][0] - alone[1][0]) > 1e-3  # the members disagree: the mean is not either


def test_a_bidirectional_classifier_reads_each_text_both_ways_and_generates_nothing(
    classifier_bundle, tmp_path
):
    bundle, first = classifier_bundle
    torch.manual_seed(5)
    config = dataclasses.replace(bundle.config, reverse=True)
    backward = GPTClassifier(GPT(config), 2, first.pad_id).eval()
    head = {**bundle.info["classifier"], "ensemble": [backward.head_state()]}
    (tmp_path / "both").mkdir()
    ModelBundle(
        bundle.model, bundle.tokenizer, {**bundle.info, "classifier": head}, [backward.backbone]
    ).save(tmp_path / "both")
    ModelBundle(backward.backbone, bundle.tokenizer).save(tmp_path)
    text = "a fine film"
    with running_server(ModelBundle.load(tmp_path / "both")) as url:
        response = httpx.post(
            f"{url}/v1/classify", json={"model": "kedro-gpt", "input": [text]}, timeout=30
        )
    with running_server(ModelBundle.load(tmp_path)) as url:
        refused = [
            httpx.post(f"{url}{path}", json={"model": "kedro-gpt", **body}, timeout=30)
            for path, body in (
                ("/v1/completions", {"prompt": "a fine"}),
                ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
            )
        ]
    assert response.status_code == 200, response.text
    ids = bundle.tokenizer.encode(text)
    forward_alone = GPTClassifier(bundle.model, 2, first.pad_id).eval()
    forward_alone.head.load_state_dict(first.head.state_dict())
    reading_back = GPTClassifier(GPT(bundle.config), 2, first.pad_id).eval()
    reading_back.load_state_dict(backward.state_dict())  # the same weights as a forward model
    with torch.inference_mode():
        expected = (
            torch.softmax(forward_alone(torch.tensor([ids]))[0], -1)
            + torch.softmax(reading_back(torch.tensor([ids[::-1]]))[0], -1)
        )[0] / 2
    assert response.json()["data"][0]["scores"]["neg"] == pytest.approx(
        expected[0].item(), abs=1e-5
    )
    for answer in refused:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "backward_model"
