"""Causal tests of motifs: edges mean what they say, controls are matched, and the
two-hop zoo model's cascades measured against its known circuit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.tracer.conftest import CASES
from tracer.causal import (
    CausalProbe,
    ablate_cascades,
    ablate_mediators,
    graph_tokens,
    random_feature_sets,
    validate_cascades,
)
from tracer.errors import TracerError


def loops(result, net, pick: np.ndarray) -> list[dict]:
    """FFL instances ``pick`` of a cascade result as the records' loop dicts."""
    t, names = result.ffl, net.names
    return [{"x": names[t.x[f]], "y": names[t.y[f]], "z": names[t.z[f]],
             "weights": [float(t.w_xy[f]), float(t.w_yz[f]), float(t.w_xz[f])]} for f in pick.tolist()]


@pytest.fixture(scope="module")
def traced_graph(hub):
    """A tiny Llama graph with every node and edge kept, its Intervener and cascades."""
    import tracer
    from motifs.cascades import cascades_for_graph
    from tracer.interventions import Intervener
    from tracer.transcoders import load_transcoders

    case = CASES["llama-plt"]
    model = hub.model(case.family)
    tc = load_transcoders(hub.transcoder_id("llama-plt"), device="cpu", lazy=False)
    graph = tracer.trace(model, tc, case.prompt, node_threshold=1.0, edge_threshold=1.0, device="cpu")
    result, net, records = cascades_for_graph(graph, top_k=2)
    return graph, Intervener(model, tc), result, net, records


def test_graph_tokens_read_the_prompt_back(traced_graph):
    graph, intervener, *_ = traced_graph
    assert graph_tokens(graph) == intervener.tokenize(CASES["llama-plt"].prompt).tolist()


def test_direct_ablation_of_a_mediator_moves_its_target_by_minus_the_edge(traced_graph):
    """With every MLP output and norm frozen, removing Y changes Z's pre-activation (or a
    logit Z's demeaned logit) by exactly -w(Y -> Z): predicted_dz is what the graph claims."""
    graph, intervener, result, net, _ = traced_graph
    assert len(result.ffl) > 20
    pick = np.linspace(0, len(result.ffl) - 1, 12).astype(int)
    probe = CausalProbe(intervener, graph, direct=True)
    table = ablate_mediators(probe, loops(result, net, pick), answer=0, n_random=2)
    assert (np.abs(table["predicted_dz"]) > 1e-4).all()
    np.testing.assert_allclose(table["observed_dz"], table["predicted_dz"], rtol=1e-3, atol=2e-5)
    kinds = graph.nodes["kind"].to_numpy()[net.rows[result.ffl.z[pick]]]
    assert {"feature", "logit"} <= set(kinds.tolist())


def test_full_ablation_lets_downstream_features_respond(traced_graph):
    graph, intervener, result, net, _ = traced_graph
    pick = np.arange(min(len(result.ffl), 30))
    full = ablate_mediators(CausalProbe(intervener, graph), loops(result, net, pick), answer=0, n_random=2)
    # through later features the effect differs from the direct edge somewhere
    assert np.abs(full["observed_dz"] - full["predicted_dz"]).max() > 1e-3


def test_cascade_ablation_against_matched_random_sets(traced_graph):
    graph, intervener, result, net, records = traced_graph
    probe = CausalProbe(intervener, graph)
    table = ablate_cascades(probe, records[:1], n_random=20, seed=3)
    row = table.iloc[0]
    token = int(str(records[0]["logit"]).split("_")[1])
    loop_nodes = {n for f in records[0]["ffls"] for n in (f["x"], f["y"], f["z"])}
    features = graph.nodes[graph.nodes["node_id"].isin(loop_nodes) & (graph.nodes["kind"] == "feature")]
    keys = [(int(r.layer), int(r.pos), int(r.feature)) for r in features.itertuples()]
    direct = intervener.intervene(graph_tokens(graph)[1:], [(*k, 0.0) for k in keys])
    p_clean, p_after = direct.probability(token)
    assert row["n_features"] == len(keys) > 0
    assert row["p_clean"] == pytest.approx(p_clean, abs=1e-6)
    assert row["ablation_drop"] == pytest.approx(p_clean - p_after, abs=1e-6)
    # the controls: active features at the cascade's layers, never its own
    assert row["controls"] == sorted(set(row["controls"])) and len(row["controls"]) > 0
    assert set(row["controls"]) <= set(probe.pool) - set(keys)
    assert {k[0] for k in row["controls"]} <= {k[0] for k in keys}
    again = ablate_cascades(probe, records[:1], n_random=20, seed=3).iloc[0]
    assert again["random_drop_mean"] == row["random_drop_mean"]  # same seed, same controls
    records_out = validate_cascades(intervener, graph, records, n_random=3)
    assert {"ablation_drop", "random_drop_mean", "random_drop_sd", "ratio"} <= set(records_out[0])
    assert {"predicted_dz", "observed_dz"} <= set(records_out[0]["ffls"][0])
    assert "ablation_drop" not in records[0]


def test_random_controls_fill_the_same_slots():
    pool = [(0, 1, f) for f in range(5)] + [(1, 2, f) for f in range(3)] + [(1, 3, 9)]
    draws = random_feature_sets(pool, [(0, 1), (0, 1), (1, 2)], 50, seed=1, exclude={(0, 1, 0)})
    assert all([d[0][:2], d[1][:2], d[2][:2]] == [(0, 1), (0, 1), (1, 2)] for d in draws)
    assert all(d[0] != d[1] and (0, 1, 0) not in d for d in draws)
    assert len({tuple(d) for d in draws}) > 10
    assert draws == random_feature_sets(pool, [(0, 1), (0, 1), (1, 2)], 50, seed=1, exclude={(0, 1, 0)})
    with pytest.raises(TracerError, match="layer 2"):
        random_feature_sets(pool, [(2, 1)], 1, seed=0)


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_two_hop_top_cascades_measured_against_the_known_circuit(kind):
    """The shipped two_hop-llama model (one-token cities, TopK(4) transcoders), first 8
    held-out prompts (figures measured 2026-12-04, printed by
    ``benchmarks/bench_cascades.py --zoo``): every top cascade to the answer is one FFL,
    city embedding -> a layer-0 feature at the last token -> the answer logit. It runs
    through a state feature on 7 of 8 prompts for PLT and for CLT (on the Idaho prompt the
    layer-0 feature is not selective for Idaho); ablating it drops p(answer) at least 3x
    more than 20 matched random feature sets on 6 of 8 (PLT) and 7 of 8 (CLT) prompts. Both
    hold on 5 of 8 (PLT; the issue's target of 6 is not reached) and 6 of 8 (CLT).

    Why the ratio fails on the PLT's Texas and Vermont prompts and the CLT's Vermont
    prompt: not the saturated softmax (p(answer) 0.999999, log-odds about 14; in log-odds
    the PLT's Texas cascade drops 1.01 against a random mean of 0.75, Vermont 1.43 against
    1.27, the same ratios as in p). The matched controls are the same slot's other active
    features, and a TopK(4) slot has only 3: at the last token's layer 0 all 3 are
    themselves features of the true state (``controls_on_concept`` 3 of 3; Texas: features
    40 and 416 each drop the log-odds by 1.0, as much as the cascade's 335), so the
    "random" baseline is another copy of the same state. Retraining the LM with label
    smoothing 0.1 (p(answer) 0.90) did not change the count: 5 of 8 both for PLT and CLT."""
    from tracer.zoo.checkpoint import open_checkpoint
    from tracer.zoo.circuits import cascade_check

    from motifs.cascades import cascades_for_graph

    torch.manual_seed(0)
    table = cascade_check(open_checkpoint("two_hop-llama"), kind, lambda g, k: cascades_for_graph(g, k)[2],
                          n_prompts=8, n_random=20)
    assert len(table) == 8
    strong = int((table["ratio"] >= 3.0).sum())
    assert int(table["through_concept"].sum()) >= 7
    assert strong >= {"plt": 6, "clt": 7}[kind]
    assert int(table["passes"].sum()) >= {"plt": 5, "clt": 6}[kind]
    assert (table["n_ffls"] == 1).all()
    assert (table["p_clean"] > 0.99).all()
    # every control pool is the slot's 3 other TopK(4) features; where the ratio fails,
    # all 3 are selective for the true state
    assert (table["n_controls"] == 3).all()
    assert (table.loc[table["ratio"] < 3.0, "controls_on_concept"] == 3).all()


def test_cgram_cascades_validate_writes_the_causal_fields(traced_graph, tmp_path, hub, capsys):
    import json

    from cgram.cli import main
    from corpus.neuronpedia import write_json

    graph = traced_graph[0]
    path = write_json(graph, tmp_path / "tiny.json")
    out = tmp_path / "cascades.json"
    code = main(["cascades", str(path), "--top", "2", "--json", str(out), "--validate",
                 "--model", hub.model_id("llama"), "--transcoders", hub.transcoder_id("llama-plt"),
                 "--random", "3", "--device", "cpu"])
    assert code == 0
    records = json.loads(out.read_text())
    assert records and {"logit", "nodes", "ffls", "strength", "coherent", "ablation_drop", "random_drop_mean",
                        "random_drop_sd"} <= set(records[0])
    assert {"x", "y", "z", "sign_type", "predicted_dz", "observed_dz"} <= set(records[0]["ffls"][0])
    assert records[0]["nodes"][-1] == records[0]["logit"]
    assert "ablation drop" in capsys.readouterr().out
    assert main(["cascades", str(path), "--validate"]) == 1  # no model given
