"""The tiny-LM recipe: configs per family, answer-only loss, determinism."""

from __future__ import annotations

import hashlib

import pytest
import torch

from tracer.errors import TracerError
from tracer.zoo.lm_recipe import (
    LMShape, LMTraining, answer_loss, build_model, encode_examples, make_config, train_lm,
)
from tracer.zoo.tokenizer import build_tokenizer
from tracer.zoo.world import build_world


def _weights_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def tiny():
    world = build_world("two_hop", seed=0, params={"n_cities": 40, "n_states": 4})
    tok = build_tokenizer(world.vocabulary())
    return world, tok, encode_examples(world.train, tok)


@pytest.mark.parametrize("arch", ["llama", "gemma2", "gpt2"])
def test_same_seed_gives_identical_weights_and_another_seed_does_not(tiny, arch):
    _, tok, train = tiny
    shape = LMShape(n_layers=2, d_model=32, n_heads=2, d_mlp=64)
    training = LMTraining(steps=6, batch_size=16, warmup=2)
    hashes = []
    for seed in (0, 0, 1):
        model = build_model(make_config(arch, shape, tok, 32), seed)
        train_lm(model, train, training, seed)
        hashes.append(_weights_hash(model))
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]


def test_configs_name_the_family_and_the_shape(tiny):
    _, tok, _ = tiny
    shape = LMShape(n_layers=3, d_model=48, n_heads=4, d_mlp=96)
    for arch, model_type in (("llama", "llama"), ("gemma2", "gemma2"), ("gpt2", "gpt2")):
        model = build_model(make_config(arch, shape, tok, 32), 0)
        assert model.config.model_type == model_type
        assert model.config.num_hidden_layers == 3 and model.config.vocab_size == len(tok)
        assert model.config._attn_implementation == "eager"


def test_loss_counts_only_the_answer_tokens(tiny):
    _, tok, train = tiny
    batch = train.subset(torch.arange(4))
    logits = torch.randn(*batch.input_ids.shape, len(tok))
    base = answer_loss(logits, batch)
    # changing the logits at a prompt position (which predicts a prompt token) changes nothing
    prompt_pos = int(torch.nonzero(~batch.answer_mask[0])[1])
    edited = logits.clone()
    edited[:, prompt_pos - 1] += 5 * torch.randn(len(tok))
    assert torch.equal(answer_loss(edited, batch), base)
    # the loss equals the cross-entropy of each answer token, by hand
    rows, cols = torch.nonzero(batch.answer_mask, as_tuple=True)
    by_hand = -torch.log_softmax(logits[rows, cols - 1], -1)[torch.arange(len(rows)),
                                                               batch.input_ids[rows, cols]].mean()
    assert torch.allclose(base, by_hand)


def test_label_smoothing_mixes_the_answer_with_a_uniform_target(tiny):
    """Szegedy et al. (2016), smoothing s = 0.1 over V tokens: the target is 1 - s on the
    answer + s / V on every token, so the loss is (1 - s) CE(answer) + s * mean over the
    vocabulary of -log p, by hand; and at the optimum p(answer) = 1 - s + s / V, not 1."""
    _, tok, train = tiny
    batch = train.subset(torch.arange(4))
    logits = torch.randn(*batch.input_ids.shape, len(tok), dtype=torch.float64)
    rows, cols = torch.nonzero(batch.answer_mask, as_tuple=True)
    logp = torch.log_softmax(logits[rows, cols - 1], -1)
    nll = -logp[torch.arange(len(rows)), batch.input_ids[rows, cols]]
    by_hand = (0.9 * nll - 0.1 * logp.mean(-1)).mean()
    assert torch.allclose(answer_loss(logits, batch, 0.1), by_hand)
    assert torch.allclose(answer_loss(logits, batch, 0.0), nll.mean())
    # the smoothed loss is smallest at p(answer) = 0.9 + 0.1 / V (others 0.1 / V each)
    v = len(tok)
    best = torch.full((v,), 0.1 / v, dtype=torch.float64)
    answer = int(batch.input_ids[rows[0], cols[0]])
    best[answer] += 0.9

    def loss_at(p_answer: float) -> float:
        p = torch.full((v,), (1 - p_answer) / (v - 1), dtype=torch.float64)
        p[answer] = p_answer
        return float(-(best * p.log()).sum())

    assert loss_at(0.9 + 0.1 / v) < min(loss_at(0.85), loss_at(0.95), loss_at(0.999999))
    with pytest.raises(TracerError, match="label_smoothing"):
        LMTraining(label_smoothing=1.0)
