"""GPTClassifier's discriminative learning rates (ULMFiT): one lr scale per layer, top down."""

from __future__ import annotations

import pytest
import torch

from kedro_gpt.model import GPT, GPTConfig
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.training.config import TrainConfig
from kedro_gpt.training.optim import build_optimizers

from .helpers import TINY

CPU = torch.device("cpu")


def classifier(layer_lr_decay: float = 1.0, n_layer: int = 3, **overrides) -> GPTClassifier:
    torch.manual_seed(0)
    backbone = GPT(GPTConfig(**{**TINY, "n_layer": n_layer, **overrides}))
    return GPTClassifier(backbone, 2, pad_id=0, layer_lr_decay=layer_lr_decay)


def peak_lr_of(optimizers) -> dict[int, float]:
    """Each parameter's peak learning rate, by id."""
    return {id(p): g["peak_lr"] for g in optimizers.param_groups for p in g["params"]}


def expected_scales(model: GPTClassifier, decay: float) -> dict[int, float]:
    t = model.backbone.transformer
    scales = {id(p): 1.0 for p in model.head.parameters()}
    for depth, block in enumerate(reversed(t.h), start=1):
        scales.update({id(p): decay**depth for p in block.parameters()})
    scales.update({id(p): decay for p in t.ln_f.parameters()})
    lowest = decay ** (len(t.h) + 1)
    scales.update({id(p): lowest for p in (*t.wte.parameters(), *t.wpe.parameters())})
    return scales


@pytest.mark.parametrize("tie", [True, False])
def test_adamw_groups_carry_the_layer_decayed_peak_lrs(tie):
    model = classifier(1 / 2.6, tie_embeddings=tie)
    cfg = TrainConfig(max_steps=1, optimizer="adamw", learning_rate=1e-3, weight_decay=0.1)
    lrs = peak_lr_of(build_optimizers(model, cfg, CPU))
    expected = expected_scales(model, 1 / 2.6)
    if not tie:
        expected[id(model.backbone.lm_head.weight)] = (1 / 2.6) ** 4  # with the embeddings
    assert set(lrs) == {id(p) for p in model.parameters()}
    for name, p in model.named_parameters():
        assert lrs[id(p)] == pytest.approx(1e-3 * expected[id(p)]), name
    assert lrs[id(model.backbone.transformer.wte.weight)] == pytest.approx(1e-3 / 2.6**4)
    groups = list(build_optimizers(model, cfg, CPU).param_groups)
    for group in groups:  # decay on 2-D weights only, in every layer
        assert all((p.dim() >= 2) == (group["weight_decay"] == 0.1) for p in group["params"])


def test_muon_groups_scale_muon_lr_and_frozen_params_are_left_out():
    model = classifier(0.5)
    for p in model.backbone.transformer.h[0].parameters():
        p.requires_grad_(False)
    cfg = TrainConfig(max_steps=1, optimizer="muon", learning_rate=1e-3, muon_lr=0.02)
    optimizers = build_optimizers(model, cfg, CPU)
    muon, adamw = optimizers.optimizers
    assert isinstance(muon, torch.optim.Muon)
    muon_lrs = {id(p): g["peak_lr"] for g in muon.param_groups for p in g["params"]}
    expected = expected_scales(model, 0.5)
    hidden = [p for p in model.hidden_matrix_params() if p.requires_grad]
    assert set(muon_lrs) == {id(p) for p in hidden} and hidden
    for p in hidden:
        assert muon_lrs[id(p)] == pytest.approx(0.02 * expected[id(p)])
    assert sorted(g["peak_lr"] for g in muon.param_groups) == pytest.approx([0.02 / 4, 0.02 / 2])
    adamw_lrs = {id(p): g["peak_lr"] for g in adamw.param_groups for p in g["params"]}
    assert adamw_lrs[id(model.head.weight)] == pytest.approx(1e-3)
    frozen = {id(p) for p in model.backbone.transformer.h[0].parameters()}
    assert not frozen & (set(muon_lrs) | set(adamw_lrs))


def test_the_attribute_sets_the_decay_and_one_means_one_learning_rate():
    model = classifier()
    plain = model.param_groups(0.1)
    assert len(plain) == 2 and all("lr_scale" not in g for g in plain)
    assert [len(g["params"]) for g in plain] == [
        sum(p.dim() >= 2 for p in model.parameters()),
        sum(p.dim() < 2 for p in model.parameters()),
    ]
    model.layer_lr_decay = 0.5
    scales = {g["lr_scale"] for g in model.param_groups(0.1)}
    assert scales == {1.0, 0.5, 0.25, 0.125, 0.0625}
    given = sorted({g["lr_scale"] for g in model.param_groups(0.1, layer_lr_decay=0.9)})
    assert given == pytest.approx([0.6561, 0.729, 0.81, 0.9, 1.0])
    with pytest.raises(ValueError, match="layer_lr_decay must be positive"):
        model.param_groups(0.1, layer_lr_decay=0.0)


def test_the_auxiliary_lm_loss_adds_the_texts_next_token_loss_in_training_only():
    plain = classifier()
    aux = classifier()
    aux.lm_loss_weight = 0.5
    aux.load_state_dict(plain.state_dict())
    idx = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 13, 14]])  # row 0 right-padded (pad 0)
    targets = torch.full_like(idx, -100)
    targets[0, 3], targets[1, 5] = 1, 0
    _, clf_loss = plain(idx, targets)
    # the LM loss by hand: next tokens of the real tokens only
    lm = plain.backbone.lm_logits(plain.backbone.hidden_states(idx))
    nxt = [(0, t) for t in range(3)] + [(1, t) for t in range(5)]
    by_hand = torch.stack([-lm[r, t].log_softmax(-1)[idx[r, t + 1]] for r, t in nxt]).mean()
    _, loss = aux(idx, targets)
    assert loss.item() == pytest.approx(clf_loss.item() + 0.5 * by_hand.item(), rel=1e-5)
    aux.eval()  # validation, which picks the checkpoint, sees the classification loss alone
    assert aux(idx, targets)[1].item() == pytest.approx(clf_loss.item(), rel=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean", "concat"])
def test_pooling_reads_only_real_tokens_and_the_head_round_trips(pooling):
    torch.manual_seed(0)
    backbone = GPT(GPTConfig(**{**TINY, "n_layer": 2})).eval()
    model = GPTClassifier(backbone, 3, pad_id=0, pooling=pooling).eval()
    idx = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    hidden = backbone.hidden_states(idx)
    first = hidden[0, :3]  # the padded row's real tokens only
    by_hand = {
        "last": first[-1],
        "mean": first.mean(0),
        "concat": torch.cat([first[-1], first.mean(0), first.amax(0)]),
    }[pooling]
    pooled = model.pooled(idx)
    assert pooled.shape == (2, len(by_hand)) == (2, model.head.in_features)
    torch.testing.assert_close(pooled[0], by_hand)
    # the padded row alone, unpadded, pools to the same vector
    torch.testing.assert_close(model.pooled(idx[:1, :3])[0], by_hand)

    rebuilt = GPTClassifier.from_head_state(backbone, model.head_state())
    torch.testing.assert_close(rebuilt(idx)[0], model(idx)[0])


def test_an_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling must be one of"):
        GPTClassifier(GPT(GPTConfig(**TINY)), 2, pad_id=0, pooling="max")  # type: ignore[arg-type]


@pytest.mark.parametrize("pooling", ["last", "concat"])
def test_a_backward_backbone_reads_each_text_back_to_front(pooling):
    torch.manual_seed(0)
    backward = GPT(GPTConfig(**{**TINY, "n_layer": 2, "reverse": True})).eval()
    forward = GPT(GPTConfig(**{**TINY, "n_layer": 2})).eval()
    forward.load_state_dict(backward.state_dict())
    back = GPTClassifier(backward, 2, pad_id=0, pooling=pooling).eval()
    ahead = GPTClassifier(forward, 2, pad_id=0, pooling=pooling).eval()
    ahead.head.load_state_dict(back.head.state_dict())
    idx = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    flipped = torch.tensor([[7, 6, 5, 0, 0], [12, 11, 10, 9, 8]])
    # the backward classifier of a text is the forward one of the text reversed, padding kept
    torch.testing.assert_close(back(idx)[0], ahead(flipped)[0])
    torch.testing.assert_close(back.pooled(idx), ahead.pooled(flipped))
    assert not torch.allclose(back(idx)[0], ahead(idx)[0])
    # the padded row scores as it does unpadded
    torch.testing.assert_close(back(idx[:1, :3])[0], back(idx)[0][:1])
