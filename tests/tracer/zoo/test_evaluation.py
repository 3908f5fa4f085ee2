"""Replacement-model evaluation through the tracer's transcoder loader."""

from __future__ import annotations

import pytest
import torch

from tracer.zoo.evaluation import decode, feature_activations, replacement_logits
from tracer.zoo.lm_recipe import LMShape, build_model, encode_examples, make_config
from tracer.zoo.tokenizer import build_tokenizer
from tracer.zoo.transcoder_recipe import TopKTranscoders, mlp_modules
from tracer.zoo.world import build_world


@pytest.fixture(scope="module", params=["llama", "gemma2", "gpt2"])
def model_and_batch(request):
    world = build_world("two_hop", seed=0, params={"n_cities": 40, "n_states": 4})
    tok = build_tokenizer(world.vocabulary())
    batch = encode_examples(world.train[:12], tok)
    model = build_model(make_config(request.param, LMShape(2, 32, 2, 64), tok, 32), seed=0)
    return model, batch


def _transcoders(kind: str, d_model: int):
    """Random transcoders whose outputs are on the scale of a fresh model's MLP
    outputs (so output + error has no float cancellation, which Gemma-2's
    post-MLP norm would amplify)."""
    tc = TopKTranscoders(kind, n_layers=2, d_model=d_model, n_features=24, k=4, seed=1)
    with torch.no_grad():
        tc.W_dec.mul_(0.01)
    return tc.to_transcoders()


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_replacement_with_its_errors_reproduces_the_model(model_and_batch, kind):
    model, batch = model_and_batch
    tc = _transcoders(kind, model.config.hidden_size)
    with torch.no_grad():
        clean = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    exact = replacement_logits(model, tc, batch.input_ids, batch.attention_mask, add_errors=True)
    assert torch.allclose(exact, clean, atol=1e-4)
    # without the error terms the (untrained) transcoders change the output
    assert not torch.allclose(replacement_logits(model, tc, batch.input_ids, batch.attention_mask),
                              clean, atol=1e-2)


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_replacement_mlp_outputs_are_the_transcoder_reconstructions(model_and_batch, kind):
    model, batch = model_and_batch
    tc = _transcoders(kind, model.config.hidden_size)
    logits, acts = replacement_logits(model, tc, batch.input_ids, batch.attention_mask,
                                      return_activations=True)
    # forcing each MLP to output the decoding of those activations gives the same logits,
    # and the activations are the features of the inputs the MLPs then see; position 0
    # (BOS) carries no features and keeps the model's own output
    written = decode(tc, acts)
    seen = []

    def force(layer):
        def hook(module, args, output):
            seen.append(args[0])
            return torch.cat([output[:, :1], written[layer][:, 1:]], dim=1)
        return hook

    handles = [m.register_forward_hook(force(i)) for i, m in enumerate(mlp_modules(model))]
    try:
        with torch.no_grad():
            forced = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    finally:
        for h in handles:
            h.remove()
    assert torch.allclose(forced, logits, atol=1e-5)
    for layer, x in enumerate(seen):
        assert not acts[layer][:, 0].any()
        assert torch.allclose(feature_activations(tc, layer, x)[:, 1:], acts[layer][:, 1:],
                              atol=1e-5)
    if kind == "clt":  # layer 1's output holds layer 0's features too
        plt_like = acts[1] @ tc.decoder_rows(1, torch.arange(24))[:, 0] + tc.decoder_bias(1)
        assert not torch.allclose(written[1], plt_like, atol=1e-6)


def test_an_edit_reaches_only_later_layers(model_and_batch):
    model, batch = model_and_batch
    tc = _transcoders("clt", model.config.hidden_size)
    _, base = replacement_logits(model, tc, batch.input_ids, batch.attention_mask,
                                 add_errors=True, return_activations=True)

    def ablate_layer1(layer, a):
        return torch.zeros_like(a) if layer == 1 else a

    logits, edited = replacement_logits(model, tc, batch.input_ids, batch.attention_mask,
                                        add_errors=True, edit=ablate_layer1, return_activations=True)
    assert torch.equal(edited[0], base[0])  # layer 0 reads inputs the edit cannot reach
    assert not edited[1].any()


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_the_zoo_numbers_are_the_tracers_replacement_model(model_and_batch, kind):
    from tracer.models import wrap_model
    from tracer.replacement import ReplacementModel

    model, batch = model_and_batch
    tc = _transcoders(kind, model.config.hidden_size)
    logits, acts = replacement_logits(model, tc, batch.input_ids, batch.attention_mask,
                                      add_errors=True, return_activations=True)
    # the tracer, one prompt at a time (its setup(), as trace() runs it): the same logits
    # and the same active features at every real (unpadded) position
    rm = ReplacementModel(wrap_model(model, None), tc)
    for row in range(3):
        n = int(batch.attention_mask[row].sum())
        state = rm.setup(batch.input_ids[row, :n])
        assert torch.allclose(rm.replacement_logits(state), logits[row, :n], atol=1e-5)
        features = state.features
        ours = torch.stack([a[row, :n] for a in acts])  # (L, T, F)
        layer, pos, index = torch.nonzero(ours, as_tuple=True)
        assert torch.equal(layer, features.layer) and torch.equal(pos, features.pos)
        assert torch.equal(index, features.index)
        assert torch.allclose(ours[layer, pos, index], features.activation, atol=1e-6)
        assert torch.allclose(rm.clean_errors(batch.input_ids[row:row + 1, :n])[:, 0],
                              state.errors, atol=1e-5)
