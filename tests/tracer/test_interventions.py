"""Feature interventions against an independent, hand-written forward pass.

The hand-written passes below compute tiny Llama and GPT-2 models from their
weights (attention written out, the clean run's softmax patterns optionally
replayed), read each layer's transcoder input at the hook the set names,
and add ``(value - live activation) * decoder row`` at the MLP output: the
semantics of circuit-tracer's ``feature_intervention``. They share no code
with :mod:`tracer.interventions` beyond the weights and the transcoders'
activation function.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.tracer.conftest import CASES, PROMPT_IDS
from tracer.errors import TracerError
from tracer.interventions import Intervener, generate, intervene, parse_intervention
from tracer.transcoders import Transcoders

BOS = 1
TOKENS = [BOS] + PROMPT_IDS  # 8 positions


def _rms(x: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    return norm.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def _softmax_causal(scores: torch.Tensor) -> torch.Tensor:
    T = scores.shape[-1]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)


def _deltas(tc: Transcoders, layer: int, acts: torch.Tensor, edits, deltas: torch.Tensor) -> torch.Tensor:
    """Add each edit's decoder delta into ``deltas`` (L, T, d); return the edited activations."""
    acts = acts.clone()
    for l, p, f, v in edits:
        if l != layer:
            continue
        diff = v - float(acts[p, f])
        rows = tc.decoder_rows(layer, torch.tensor([f]))[0]
        rows = rows[None] if tc.kind == "plt" else rows
        for j in range(rows.shape[0]):
            deltas[layer + j, p] += diff * rows[j]
        acts[p, f] = v
    return acts


def llama_by_hand(hf, tc: Transcoders, tokens: list[int], edits, patterns=None):
    """(logits (T, V), per-layer activations, per-layer patterns) of a Llama model."""
    m = hf.model
    cfg = hf.config
    ids = torch.tensor(tokens)
    T, H, KV = len(tokens), cfg.num_attention_heads, cfg.num_key_value_heads
    Dh = cfg.hidden_size // H
    x = m.embed_tokens(ids)
    cos, sin = m.rotary_emb(x[None], torch.arange(T)[None])
    deltas = torch.zeros(len(m.layers), T, cfg.hidden_size)
    acts_out, pats = [], []
    for l, layer in enumerate(m.layers):
        a = layer.self_attn
        h = _rms(x, layer.input_layernorm)
        q = _rotate(a.q_proj(h).view(T, H, Dh).transpose(0, 1), cos[0], sin[0])
        k = _rotate(a.k_proj(h).view(T, KV, Dh).transpose(0, 1), cos[0], sin[0])
        v = a.v_proj(h).view(T, KV, Dh).transpose(0, 1)
        k, v = k.repeat_interleave(H // KV, 0), v.repeat_interleave(H // KV, 0)
        pattern = _softmax_causal(q @ k.transpose(1, 2) / Dh ** 0.5) if patterns is None else patterns[l]
        pats.append(pattern)
        x = x + a.o_proj((pattern @ v).transpose(0, 1).reshape(T, H * Dh))
        mlp_in = _rms(x, layer.post_attention_layernorm)
        feature_input = {"hook_resid_mid": x, "mlp.hook_in": mlp_in}[tc.feature_input_hook]
        acts = tc.activate(l, tc.pre_activations(l, feature_input))
        acts_out.append(_deltas(tc, l, acts, edits, deltas))
        x = x + layer.mlp(mlp_in) + deltas[l]
    return hf.lm_head(_rms(x, m.norm)), acts_out, pats


def gpt2_by_hand(hf, tc: Transcoders, tokens: list[int], edits, patterns=None):
    """The same for GPT-2 (LayerNorm, learned positions, fused qkv)."""
    tr = hf.transformer
    cfg = hf.config
    T, H, d = len(tokens), cfg.n_head, cfg.n_embd
    Dh = d // H
    ln = torch.nn.functional.layer_norm
    x = tr.wte(torch.tensor(tokens)) + tr.wpe(torch.arange(T))
    deltas = torch.zeros(len(tr.h), T, d)
    acts_out, pats = [], []
    for l, block in enumerate(tr.h):
        h = ln(x, (d,), block.ln_1.weight, block.ln_1.bias, block.ln_1.eps)
        q, k, v = (h @ block.attn.c_attn.weight + block.attn.c_attn.bias).split(d, dim=-1)
        q, k, v = (t.view(T, H, Dh).transpose(0, 1) for t in (q, k, v))
        pattern = _softmax_causal(q @ k.transpose(1, 2) / Dh ** 0.5) if patterns is None else patterns[l]
        pats.append(pattern)
        merged = (pattern @ v).transpose(0, 1).reshape(T, d)
        x = x + merged @ block.attn.c_proj.weight + block.attn.c_proj.bias
        normalized = ln(x, (d,), None, None, block.ln_2.eps)
        mlp_in = normalized * block.ln_2.weight + block.ln_2.bias
        feature_input = {"ln2.hook_normalized": normalized, "mlp.hook_in": mlp_in,
                         "hook_resid_mid": x}[tc.feature_input_hook]
        acts = tc.activate(l, tc.pre_activations(l, feature_input))
        acts_out.append(_deltas(tc, l, acts, edits, deltas))
        x = x + block.mlp(mlp_in) + deltas[l]
    return hf.lm_head(ln(x, (d,), tr.ln_f.weight, tr.ln_f.bias, tr.ln_f.eps)), acts_out, pats


BY_HAND = {"llama": llama_by_hand, "gpt2": gpt2_by_hand}


def topk_skip_set(model, seed: int = 7) -> Transcoders:
    """A TopK transcoder with a skip path on the tiny Llama, reading mlp.hook_in."""
    gen = torch.Generator().manual_seed(seed)
    L, d, n = model.n_layers, model.d_model, 48
    return Transcoders.from_tensors(
        "plt", W_enc=[torch.randn(n, d, generator=gen) for _ in range(L)],
        W_dec=[torch.randn(n, d, generator=gen) / n ** 0.5 for _ in range(L)],
        b_enc=[0.1 * torch.randn(n, generator=gen) for _ in range(L)],
        b_dec=[0.1 * torch.randn(d, generator=gen) for _ in range(L)],
        W_skip=[0.3 * torch.randn(d, d, generator=gen) / d ** 0.5 for _ in range(L)],
        activation="topk", k=6, feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out")


def _setup(hub, name: str):
    from tracer.transcoders import load_transcoders

    if name == "llama-topk-skip":
        model = hub.model("llama")
        return model, topk_skip_set(model), "llama"
    case = CASES[name]
    return hub.model(case.family), load_transcoders(hub.transcoder_id(name), device="cpu", lazy=False), \
        case.family


def _edits(tc: Transcoders, acts: list[torch.Tensor]) -> list[tuple[int, int, int, float]]:
    """Ablate the strongest active layer-0 feature at position 3, switch on an inactive
    layer-0 feature at position 5, and set a layer-1 feature at the last position (whose
    live value the layer-0 edits have moved)."""
    a0 = acts[0]
    strongest = int(a0[3].argmax())
    inactive = int(torch.nonzero(a0[5] == 0)[0])
    return [(0, 3, strongest, 0.0), (0, 5, inactive, 2.0), (1, len(TOKENS) - 1, 11, 1.5)]


CASE_NAMES = ["llama-plt", "llama-clt", "llama-topk-skip", "gpt2-jumprelu-skip"]


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("freeze", [True, False], ids=["frozen", "live"])
def test_intervention_matches_a_hand_written_forward_pass(hub, name, freeze):
    model, tc, family = _setup(hub, name)
    by_hand = BY_HAND[family]
    with torch.no_grad():
        clean, clean_acts, patterns = by_hand(model.hf_model, tc, TOKENS, [])
        edits = _edits(tc, clean_acts)
        expected, expected_acts, _ = by_hand(model.hf_model, tc, TOKENS, edits,
                                             patterns if freeze else None)
    runner = Intervener(model, tc)
    logits, acts = runner.run(torch.tensor(TOKENS), edits, freeze_attention=freeze, return_activations=True)
    np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=2e-4, rtol=1e-4)
    for got, want in zip(acts, expected_acts):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-4, rtol=1e-4)
    # the edits did something, downstream features responded, the edited ones read their values
    assert float((expected - clean).abs().max()) > 1e-2
    assert float((expected_acts[1] - clean_acts[1]).abs().max()) > 1e-3
    assert float(acts[1][len(TOKENS) - 1, 11]) == pytest.approx(1.5)
    # the clean run is the original model
    result = runner.intervene(TOKENS[1:], edits, freeze_attention=freeze)
    reference = model.hf_model(torch.tensor([TOKENS])).logits[0, -1]
    np.testing.assert_allclose(result.clean_logits.numpy(), reference.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(result.logits.numpy(), expected[-1].numpy(), atol=2e-4, rtol=1e-4)


def test_frozen_and_live_attention_differ(hub):
    model, tc, _ = _setup(hub, "llama-plt")
    runner = Intervener(model, tc)
    acts = runner.run(torch.tensor(TOKENS), return_activations=True)[1]
    edits = _edits(tc, acts)
    frozen = runner.run(torch.tensor(TOKENS), edits, freeze_attention=True)[0]
    live = runner.run(torch.tensor(TOKENS), edits, freeze_attention=False)[0]
    assert float((frozen - live).abs().max()) > 1e-3


def test_constrained_to_every_layer_is_the_frozen_linear_model(hub):
    """With MLPs, norms and attention frozen in every layer, an intervention's effect is
    the replacement model's frozen forward pass with the decoder delta added (the direct
    effects an attribution graph records)."""
    model, tc, _ = _setup(hub, "llama-plt")
    runner = Intervener(model, tc)
    tokens = torch.tensor(TOKENS)
    state = runner.clean(tokens)
    L = model.n_layers
    edits = [(0, 4, int(state.features.index[0]), 3.0), (1, 6, 5, -1.0)]
    logits = runner.run(tokens, edits, constrained_layers=range(L))[0]
    site = torch.zeros(1, L, len(TOKENS), model.d_model)
    for l, p, f, v in edits:
        clean = tc.activate(l, tc.pre_activations(l, state.feature_inputs[l]))[p, f]
        site[0, l, p] += (v - clean) * tc.decoder_rows(l, torch.tensor([f]))[0]
    final = runner.replacement.frozen_forward(state, site_delta=site)[1]
    expected = runner.replacement._logits(final[0])
    np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=1e-4)
    # layer 1 only: a layer-0 edit is refused, a layer-1 edit reaches only layer 1's output
    with pytest.raises(TracerError, match="outside constrained_layers"):
        runner.run(tokens, edits, constrained_layers=range(1, 2))


@pytest.mark.parametrize("freeze", [True, False], ids=["frozen", "live"])
def test_generate_holds_the_interventions(hub, freeze):
    model, tc, _ = _setup(hub, "llama-clt")
    runner = Intervener(model, tc)
    edits = _edits(tc, runner.run(torch.tensor(TOKENS), return_activations=True)[1])
    got = generate(runner, None, TOKENS[1:], edits, n_tokens=4, freeze_attention=freeze)
    sequence = list(TOKENS)
    with torch.no_grad():
        for _ in range(4):
            patterns = llama_by_hand(model.hf_model, tc, sequence, [])[2] if freeze else None
            logits = llama_by_hand(model.hf_model, tc, sequence, edits, patterns)[0]
            sequence.append(int(logits[-1].argmax()))
    assert got == sequence[len(TOKENS):]
    # no interventions: the model's own greedy continuation
    plain = generate(runner, None, TOKENS[1:], [], n_tokens=4)
    ids = list(TOKENS)
    with torch.no_grad():
        for _ in range(4):
            ids.append(int(model.hf_model(torch.tensor([ids])).logits[0, -1].argmax()))
    assert plain == ids[len(TOKENS):]


def test_top_changes_and_json(hub):
    model, tc, _ = _setup(hub, "llama-plt")
    result = intervene(model, tc, TOKENS[1:], [(1, 7, 3, 4.0)])
    table = result.top_changes(10)
    delta = (result.logits - result.clean_logits).numpy()
    assert len(table) == 10
    assert table["delta"].abs().iloc[0] == pytest.approx(np.abs(delta).max())
    record = result.to_json()
    assert len(record["clean_logits"]) == len(record["logits"]) == model.vocab_size
    assert len(record["top_changes"]) == 10


@pytest.mark.parametrize("edit,message", [
    ((2, 1, 0, 1.0), "layer 2 is out of range 0..1"),
    ((0, 8, 0, 1.0), "position 8 is out of range 0..7"),
    ((0, 1, 48, 1.0), "feature 48 is out of range 0..47"),
])
def test_out_of_range_interventions_are_named(hub, edit, message):
    model, tc, _ = _setup(hub, "llama-plt")
    with pytest.raises(TracerError, match=message):
        intervene(model, tc, TOKENS[1:], [edit])


@pytest.mark.parametrize("text", ["1:2=3", "1:2:3", "a:1:2=0", "1:2:3=x", "1:2:3=nan"])
def test_malformed_set_is_named(text):
    with pytest.raises(TracerError, match="--set"):
        parse_intervention(text)


def test_cgram_intervene_writes_logits_and_changes(hub, tmp_path, capsys):
    import json

    from cgram.cli import main

    out = tmp_path / "steer.json"
    prompt = " ".join(f"w{t - 4}" for t in TOKENS[1:])
    code = main(["intervene", "--model", hub.model_id("llama"), "--transcoders", hub.transcoder_id("llama-plt"),
                 "--set", "1:7:3=4", "--set", "0:2:5=0", "--generate", "2", "--json", str(out),
                 "--device", "cpu", prompt])
    assert code == 0
    record = json.loads(out.read_text())
    model, tc, _ = _setup(hub, "llama-plt")
    expected = intervene(model, tc, TOKENS[1:], [(1, 7, 3, 4.0), (0, 2, 5, 0.0)])
    np.testing.assert_allclose(record["logits"], expected.logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(record["clean_logits"], expected.clean_logits.numpy(), atol=1e-5)
    assert len(record["top_changes"]) == 10 and len(record["generated"]) == 2
    assert "steered continuation" in capsys.readouterr().out
    bad = main(["intervene", "--model", hub.model_id("llama"), "--transcoders", hub.transcoder_id("llama-plt"),
                "--set", "1:9:3=4", "--device", "cpu", prompt])
    assert bad == 1 and "position 9 is out of range 0..7" in capsys.readouterr().err
