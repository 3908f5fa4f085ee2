"""Transcoder sets: published layouts, loading routes, activations, skip paths."""

from __future__ import annotations

import pytest
import torch
import yaml

from tests.tracer.conftest import CASES, D_MODEL, D_TRANSCODER, REVISION
from tracer.errors import TracerError
from tracer.transcoders import PRESETS, HubRef, Transcoders, load_transcoders, save_transcoders


@pytest.mark.parametrize("case", sorted(CASES))
def test_published_sets_load_back_by_hub_id_with_identical_weights(hub, case):
    spec, reference = CASES[case], hub.reference(case)
    loaded = load_transcoders(hub.transcoder_id(case), device="cpu")
    assert (loaded.kind, loaded.activation, loaded.k, loaded.has_skip) == (
        spec.kind, spec.activation, spec.k, spec.skip)
    assert (loaded.feature_input_hook, loaded.feature_output_hook) == (spec.input_hook, spec.output_hook)
    assert (loaded.n_layers, loaded.d_model, loaded.d_transcoder) == (2, D_MODEL, D_TRANSCODER)
    assert loaded.scan == hub.transcoder_id(case)  # circuit-tracer's scan: the repo id
    assert loaded.transcoder_type == ("clt" if spec.kind == "clt" else "skip" if spec.skip else "plt")
    for layer in range(loaded.n_layers):
        want, got = reference.layer_tensors(layer), loaded.layer_tensors(layer)
        assert set(want) == set(got)
        for name in want:
            torch.testing.assert_close(got[name], want[name], rtol=0, atol=0)


def test_gemmascope_npz_encoder_is_transposed_on_load(hub):
    loaded = load_transcoders(hub.transcoder_id("gemma2-gemmascope"), device="cpu")
    W_enc, b_enc = loaded.encoder(1)
    assert W_enc.shape == (D_TRANSCODER, D_MODEL)
    x = torch.randn(3, D_MODEL)
    ref = hub.reference("gemma2-gemmascope")
    torch.testing.assert_close(loaded.pre_activations(1, x), ref.pre_activations(1, x))


def test_local_directory_and_config_file_load_the_same_set(hub):
    folder = hub.cache / "models--cgram-test--llama-clt-transcoders" / "snapshots" / REVISION
    by_dir = load_transcoders(folder, device="cpu")
    by_file = load_transcoders(folder / "config.yaml", device="cpu")
    for tc in (by_dir, by_file):
        assert tc.kind == "clt" and tc.scan == "cgram-test/llama-clt-transcoders"  # the config's scan
        torch.testing.assert_close(tc.layer_tensors(0)["W_dec"], hub.reference("llama-clt").layer_tensors(0)["W_dec"])


def test_activation_functions_follow_circuit_tracer():
    pre = torch.tensor([[0.5, -1.0, 2.0, 0.25], [0.75, 0.25, -0.5, 3.0]])
    threshold = torch.tensor([0.5, 0.0, 1.0, 0.125])

    def one_layer(activation, **kw):
        return Transcoders.from_tensors(
            "plt", W_enc=[torch.eye(4)], W_dec=[torch.eye(4)], b_enc=[torch.zeros(4)], b_dec=[torch.zeros(4)],
            feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out", activation=activation, **kw)

    assert one_layer("relu").activate(0, pre).tolist() == [[0.5, 0, 2.0, 0.25], [0.75, 0.25, 0, 3.0]]
    # JumpReLU keeps x only where x > threshold strictly (0.5 at threshold 0.5 is dropped)
    jump = one_layer("jumprelu", threshold=[threshold]).activate(0, pre)
    assert jump.tolist() == [[0, 0, 2.0, 0.25], [0.75, 0.25, 0, 3.0]]
    # TopK keeps the k largest pre-activations per position, whatever their sign
    top = one_layer("topk", k=2).activate(0, torch.tensor([[-0.5, -2.0, 1.0, -0.75], [-0.75, -0.5, -1.0, 2.0]]))
    assert top.tolist() == [[-0.5, 0, 1.0, 0], [0, -0.5, 0, 2.0]]


def test_skip_paths_use_circuit_tracers_orientation():
    W = torch.arange(16.0).reshape(4, 4)
    x = torch.tensor([[1.0, 2.0, 0.0, -1.0]])
    common = dict(W_enc=[torch.eye(4)], b_enc=[torch.zeros(4)], b_dec=[torch.zeros(4)], W_skip=[W],
                  feature_input_hook="hook_resid_mid", feature_output_hook="hook_mlp_out")
    plt = Transcoders.from_tensors("plt", W_dec=[torch.eye(4)], **common)
    clt = Transcoders.from_tensors("clt", W_dec=[torch.ones(4, 1, 4)], **common)
    torch.testing.assert_close(plt.skip(0, x), x @ W.T)
    torch.testing.assert_close(clt.skip(0, x), x @ W)
    assert plt.transcoder_type == "skip" and clt.transcoder_type == "clt"


def test_lazy_sets_read_decoder_rows_from_file_and_keep_nothing_on_device(hub):
    lazy = load_transcoders(hub.transcoder_id("llama-clt"), device="cpu", lazy=True)
    eager = load_transcoders(hub.transcoder_id("llama-clt"), device="cpu", lazy=False)
    rows = torch.tensor([5, 0, 47, 5])
    for layer in range(2):
        got = lazy.decoder_rows(layer, rows)
        assert got.shape == (4, 2 - layer, D_MODEL)
        torch.testing.assert_close(got, eager.decoder_rows(layer, rows))
        torch.testing.assert_close(got, hub.reference("llama-clt").layer_tensors(layer)["W_dec"][rows])
    lazy.encoder(0)
    assert lazy._cache == {} and eager._cache


def test_save_and_reload_round_trip(tmp_path, hub):
    reference = hub.reference("gpt2-jumprelu-skip")
    folder = save_transcoders(reference, tmp_path / "set", model_name="tiny-gpt2")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["model_kind"] == "transcoder_set" and config["activation"] == "jumprelu"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "layer_0.safetensors", "layer_1.safetensors"]
    from safetensors import safe_open

    with safe_open(str(folder / "layer_0.safetensors"), "pt") as f:
        assert set(f.keys()) == {"W_enc", "W_dec", "b_enc", "b_dec", "activation_function.threshold", "W_skip"}
    again = load_transcoders(folder, device="cpu")
    x = torch.randn(5, D_MODEL)
    torch.testing.assert_close(again.activate(1, again.pre_activations(1, x)),
                               reference.activate(1, reference.pre_activations(1, x)))


def test_hub_references_parse_like_circuit_tracer():
    assert HubRef.parse("org/repo/sub/dir@v2") == HubRef("org/repo", "sub/dir", "v2")
    assert HubRef.parse("org/repo/sub@v2").scan == "org/repo//sub@v2"
    assert HubRef.parse("hf://org/repo/a/b.npz?revision=r1") == HubRef("org/repo", "a/b.npz", "r1")
    assert PRESETS["llama"] == "mntss/transcoder-Llama-3.2-1B"
    assert PRESETS["llama-clt"] == "mntss/clt-llama-3.2-1b-524k"
    assert PRESETS["gemma-2-2b-clt"] == "mntss/clt-gemma-2-2b-426k"
    with pytest.raises(TracerError, match="not a preset"):
        HubRef.parse("no-slash")


def test_missing_hub_sets_and_broken_layouts_name_the_fault(hub, tmp_path):
    with pytest.raises(TracerError, match="mwhanna/gemma-scope-transcoders"):
        load_transcoders("gemma", device="cpu")  # the preset resolves; the repo is not in the cache
    folder = save_transcoders(hub.reference("llama-plt"), tmp_path / "gap")
    (folder / "layer_0.safetensors").rename(folder / "layer_3.safetensors")
    with pytest.raises(TracerError, match="layer_0.safetensors is missing"):
        load_transcoders(folder)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text("model_kind: sae\nfeature_input_hook: x\nfeature_output_hook: y\n")
    with pytest.raises(TracerError, match="model_kind 'sae'"):
        load_transcoders(bad)
    (bad / "config.yaml").write_text("model_kind: transcoder_set\n")
    with pytest.raises(TracerError, match="lacks 'feature_input_hook'"):
        load_transcoders(bad)
    with pytest.raises(TracerError, match="has no config.yaml"):
        load_transcoders(tmp_path)
    with pytest.raises(TracerError, match="topk activation needs a positive k"):
        Transcoders.from_tensors("plt", W_enc=[torch.eye(2)], W_dec=[torch.eye(2)], b_enc=[torch.zeros(2)],
                                 b_dec=[torch.zeros(2)], activation="topk", feature_input_hook="mlp.hook_in",
                                 feature_output_hook="mlp.hook_out")
