"""Transcoder training: the exported layout and the training forward pass agree
with the tracer's loader; training is deterministic and learns a sparse map."""

from __future__ import annotations

import pytest
import torch
import yaml

from tracer.transcoders import load_transcoders
from tracer.zoo.evaluation import decode, feature_activations
from tracer.zoo.transcoder_recipe import (
    MLPActivations, TopKTranscoders, TranscoderTraining, save_trained, train_transcoders,
)


def _random(kind: str, seed: int = 0) -> TopKTranscoders:
    tc = TopKTranscoders(kind, n_layers=3, d_model=8, n_features=16, k=3, seed=seed)
    gen = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        for t in tc.parameters():
            t.add_(0.3 * torch.randn(t.shape, generator=gen))
    return tc


@pytest.mark.parametrize("kind", ["plt", "skip", "clt"])
def test_saved_files_reload_into_the_same_function(tmp_path, kind):
    tc = _random(kind)
    folder = save_trained(tc, tmp_path / kind, scan=f"toy-{kind}", model_name="../model")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["model_kind"] == {"plt": "transcoder_set", "skip": "transcoder_set",
                                    "clt": "cross_layer_transcoder"}[kind]
    assert (config["activation"], config["k"], config["feature_input_hook"],
            config["feature_output_hook"], config["model_name"]) == \
        ("topk", 3, "mlp.hook_in", "mlp.hook_out", "../model")
    names = sorted(p.name for p in folder.glob("*.safetensors"))
    expected = ([f"layer_{i}.safetensors" for i in range(3)] if kind != "clt" else
                sorted([f"W_enc_{i}.safetensors" for i in range(3)] + [f"W_dec_{i}.safetensors" for i in range(3)]))
    assert names == expected
    loaded = load_transcoders(folder, device="cpu", lazy=False)
    x = torch.randn(3, 5, 8)
    ours = tc.encode(x)
    theirs = [feature_activations(loaded, layer, x[layer]) for layer in range(3)]
    assert torch.allclose(torch.stack(theirs), ours, atol=1e-6)
    # the tracer's loader applies a skip set's linear path as x @ W_skip.T
    skip = torch.stack([loaded.skip(layer, x[layer]) for layer in range(3)])
    assert loaded.transcoder_type == kind and (skip.abs().sum() > 0) == (kind == "skip")
    assert torch.allclose(torch.stack(decode(loaded, theirs)) + skip, tc.decode(ours, x), atol=1e-5)
    if kind == "clt":  # a layer-0 feature writes to all three layers, a layer-2 feature only to layer 2
        assert loaded.decoder_rows(0, torch.tensor([0])).shape == (1, 3, 8)
        assert loaded.decoder_rows(2, torch.tensor([0])).shape == (1, 1, 8)


@pytest.mark.parametrize("kind", ["plt", "skip", "clt"])
def test_folding_the_normalisation_is_exact(kind):
    tc = _random(kind)
    x = torch.randn(3, 20, 8) * 4 + 1.5
    in_mean, out_mean = x.mean(1), torch.randn(3, 8)
    in_scale, out_scale = torch.tensor([2.0, 3.0, 0.5]), torch.tensor([1.5, 0.2, 4.0])
    normalised_out = tc.predict((x - in_mean[:, None]) / in_scale[:, None, None])
    tc.fold_normalisation(in_mean, in_scale, out_mean, out_scale)
    raw_out = tc.predict(x)
    assert torch.allclose(raw_out, normalised_out * out_scale[:, None, None] + out_mean[:, None], atol=1e-4)


def _sparse_problem(n_tokens: int = 2048, seed: int = 0) -> MLPActivations:
    """Outputs that ARE a 2-sparse code of 12 input directions: a transcoder with
    k = 2 can fit them exactly."""
    gen = torch.Generator().manual_seed(seed)
    enc = torch.randn(12, 16, generator=gen)
    dec = torch.randn(12, 16, generator=gen)
    codes = torch.zeros(n_tokens, 12)
    picks = torch.stack([torch.randperm(12, generator=gen)[:2] for _ in range(n_tokens)])
    codes.scatter_(1, picks, torch.rand(n_tokens, 2, generator=gen) + 0.5)
    x = codes @ torch.linalg.pinv(enc).T
    y = codes @ dec
    zeros = torch.zeros(n_tokens, dtype=torch.long)
    return MLPActivations(x[None], y[None], zeros, zeros, zeros)


def test_training_is_deterministic_and_recovers_a_sparse_map():
    acts = _sparse_problem()
    training = TranscoderTraining(n_features=48, k=2, steps=400, batch_size=256, lr=1e-2, dead_after=4096)
    first = train_transcoders(acts, "plt", training, seed=0)
    again = train_transcoders(acts, "plt", training, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters()))
    y_hat = first.decode(first.encode(acts.inputs))
    explained = 1 - ((acts.outputs - y_hat) ** 2).sum() / ((acts.outputs - acts.outputs.mean(1)) ** 2).sum()
    assert explained > 0.95


def test_a_skip_set_learns_the_linear_part_its_features_cannot():
    """y = 2x + a 2-sparse code: with TopK(2) features alone a PLT misses the
    dense linear part; the skip set's W_skip takes it, and its explained
    variance is higher."""
    acts = _sparse_problem()
    acts = MLPActivations(acts.inputs, acts.outputs + 2.0 * acts.inputs, acts.token_ids,
                          acts.example, acts.position)
    training = TranscoderTraining(n_features=48, k=2, steps=400, batch_size=256, lr=1e-2, dead_after=4096)

    def explained(kind: str) -> float:
        tc = train_transcoders(acts, kind, training, seed=0)
        y_hat = tc.predict(acts.inputs)
        return float(1 - ((acts.outputs - y_hat) ** 2).sum()
                     / ((acts.outputs - acts.outputs.mean(1)) ** 2).sum())

    plt, skip = explained("plt"), explained("skip")
    assert skip > 0.95 and skip > plt + 0.02, (plt, skip)
