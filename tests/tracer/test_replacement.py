"""The local replacement model: exactness, what each hook reads, what it leaves behind."""

from __future__ import annotations

import math

import pytest
import torch

from tests.tracer.conftest import CASES, PROMPT_IDS
from tracer.errors import TracerError
from tracer.replacement import ATTENTION_IMPLEMENTATION, ReplacementModel
from tracer.transcoders import Transcoders, load_transcoders


def _original_logits(hub, family: str, tokens: torch.Tensor) -> torch.Tensor:
    """Logits of an independent copy of the model, loaded with transformers' defaults."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hub.model_id(family))
    with torch.no_grad():
        return model(tokens[None]).logits[0].float()


@pytest.mark.parametrize("case", sorted(CASES))
def test_replacement_model_reproduces_the_original_logits(hub, traced, case):
    rm, state, _ = traced(case)
    original = _original_logits(hub, CASES[case].family, state.tokens)
    replaced = rm.replacement_logits(state)
    assert (replaced - original).abs().max().item() <= 1e-4
    assert (state.logits - original[-1]).abs().max().item() <= 1e-4
    # the frozen model run with no perturbation is the clean model too
    inputs, final = rm.frozen_forward(state)
    assert (inputs[0] - state.feature_inputs).abs().max().item() <= 1e-5
    assert (final[0] - state.final).abs().max().item() <= 1e-5


@pytest.mark.parametrize("case", ["llama-clt", "gemma2-clt-skip", "gpt2-jumprelu-skip"])
def test_sites_decompose_into_features_bias_skip_and_error(hub, traced, case):
    rm, state, _ = traced(case)
    ref = hub.reference(case)
    f = state.features
    L, T, d = state.sites.shape
    recon = torch.zeros(L, T, d)
    for l in range(L):
        t = ref.layer_tensors(l)
        acts = ref.activate(l, ref.pre_activations(l, state.feature_inputs[l]))
        acts[0] = 0
        dec = t["W_dec"] if ref.kind == "clt" else t["W_dec"][:, None]
        for j in range(dec.shape[1]):  # decoder j of layer l writes into layer l + j
            recon[l + j] += acts @ dec[:, j]
        recon[l] += ref.layer_tensors(l)["b_dec"] + ref.skip(l, state.feature_inputs[l])
    torch.testing.assert_close(recon + state.errors, state.sites, atol=1e-5, rtol=0)
    assert (f.pos > 0).all(), "position 0 (BOS) carries no features"
    starts = f.layer_starts.tolist()
    for l in range(L):
        layer_rows = slice(starts[l], starts[l + 1])
        acts = ref.activate(l, ref.pre_activations(l, state.feature_inputs[l]))
        torch.testing.assert_close(f.activation[layer_rows], acts[f.pos[layer_rows], f.index[layer_rows]])
        torch.testing.assert_close(f.encoders[layer_rows], ref.layer_tensors(l)["W_enc"][f.index[layer_rows]])


def _capture(module: torch.nn.Module, which: str, run) -> torch.Tensor:
    seen = {}

    def hook(mod, args, output):
        seen["x"] = args[0] if which == "input" else output

    handle = module.register_forward_hook(hook)
    try:
        run()
    finally:
        handle.remove()
    return seen["x"][0]


@pytest.mark.parametrize("case, module_role, which", [
    ("llama-clt", "pre_mlp_norm", "input"),  # hook_resid_mid: the norm's input
    ("llama-plt", "pre_mlp_norm", "output"),  # mlp.hook_in: the norm's output
    ("gemma3-topk-skip", "pre_mlp_norm", "output"),
])
def test_feature_inputs_are_read_at_the_named_module_boundary(hub, traced, case, module_role, which):
    rm, state, _ = traced(case)
    model = rm.model
    for layer in range(model.n_layers):
        seen = _capture(model.part(layer, module_role), which, lambda: model.hf_model(state.tokens[None]))
        torch.testing.assert_close(state.feature_inputs[layer], seen, atol=1e-6, rtol=0)


def test_gemmascope_reads_the_normalised_vector_before_the_norm_weight(hub, traced):
    rm, state, _ = traced("gemma2-gemmascope")
    model = rm.model
    for layer in range(model.n_layers):
        norm = model.part(layer, "pre_mlp_norm")
        mlp_in = _capture(norm, "output", lambda: model.hf_model(state.tokens[None]))
        weighted = state.feature_inputs[layer] * (1 + norm.weight)
        torch.testing.assert_close(weighted, mlp_in, atol=1e-5, rtol=0)
        assert (state.feature_inputs[layer] - mlp_in).abs().max() > 0.1  # the weight matters
    # hook_mlp_out on Gemma is the post-feedforward norm's output, what the residual receives
    post = _capture(model.part(1, "post_mlp_norm"), "output", lambda: model.hf_model(state.tokens[None]))
    torch.testing.assert_close(state.sites[1], post, atol=1e-6, rtol=0)


def test_token_vectors_are_the_residual_stream_entering_layer_zero(hub, traced):
    _, state, _ = traced("gemma2-gemmascope")
    gemma = hub.model("gemma2")
    scaled = gemma.embedding.weight[state.tokens] * math.sqrt(gemma.d_model)
    torch.testing.assert_close(state.embeddings, scaled)
    _, state, _ = traced("gpt2-jumprelu-skip")
    gpt2 = hub.model("gpt2").hf_model.transformer
    with_positions = gpt2.wte.weight[state.tokens] + gpt2.wpe.weight[: state.n_pos]
    torch.testing.assert_close(state.embeddings, with_positions)


def test_tokenize_prepends_a_special_token_like_circuit_tracer(traced):
    rm, _, _ = traced("llama-plt")
    assert rm.tokenize("w1 w2").tolist() == [1, 5, 6]  # <bos> prepended
    assert rm.tokenize([2, 5, 6]).tolist() == [2, 5, 6]  # already starts with a special token
    assert rm.tokenize(PROMPT_IDS[:2]).tolist() == [1, *PROMPT_IDS[:2]]
    with pytest.raises(TracerError, match="empty"):
        rm.tokenize("")
    with pytest.raises(TracerError, match="outside the vocabulary"):
        rm.tokenize([5, 100])


def test_hooks_and_attention_implementation_are_restored_after_each_pass(traced):
    rm, state, _ = traced("qwen3-topk-skip")
    model = rm.model.hf_model
    rm.frozen_forward(state)
    rm.linear_pass(state, 2)
    assert model.config._attn_implementation == "eager" != ATTENTION_IMPLEMENTATION
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_a_set_that_does_not_fit_the_model_is_rejected(hub):
    tc = load_transcoders(hub.transcoder_id("llama-plt"), device="cpu")
    one_layer = Transcoders.from_tensors(
        "plt", W_enc=[torch.zeros(4, 32)], W_dec=[torch.zeros(4, 32)], b_enc=[torch.zeros(4)],
        b_dec=[torch.zeros(32)], feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out")
    with pytest.raises(TracerError, match="has 1 layers, model cgram-test/llama has 2"):
        ReplacementModel(hub.model("llama"), one_layer)
    ReplacementModel(hub.model("qwen3"), tc)  # same shape: accepted
