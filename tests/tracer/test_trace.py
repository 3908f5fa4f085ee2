"""``trace``: the pruned AttributionGraph, its ids and metadata, and ``cgram trace``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.tracer.conftest import CASES, PROMPT, dense_prune_reference
from tracer.errors import TracerError
from tracer.trace import attribution_graph, cantor, trace

ROOT = Path(__file__).resolve().parents[2]


def test_node_ids_and_fields_follow_circuit_tracers_graph_files(hub):
    graph = trace(hub.model_id("llama"), hub.transcoder_id("llama-plt"), PROMPT,
                  device="cpu", max_feature_nodes=None)
    nodes, meta = graph.nodes, graph.meta
    L, T = 2, 8
    kinds = nodes["kind"].to_numpy()
    feats = nodes[kinds == "feature"]
    expected = (feats["layer"].astype(str) + "_" + feats["feature"].astype(str) + "_" + feats["pos"].astype(str))
    assert (feats["node_id"] == expected).all()
    assert (feats["feature_id"].to_numpy() == cantor(feats["layer"], feats["feature"].astype(int))).all()
    assert (feats["js_node_id"] == feats["layer"].astype(str) + "_" + feats["feature"].astype(str) + "-0").all()
    assert feats["activation"].notna().all() and (feats["feature_type"] == "cross layer transcoder").all()
    errors = nodes[kinds == "error"]
    assert (errors["node_id"] == "0_" + errors["layer"].astype(str) + "_" + errors["pos"].astype(str)).all()
    assert (errors["feature_id"] == -1).all() and errors["feature"].isna().all()
    emb = nodes[kinds == "embedding"].sort_values("pos")
    token_ids = [1, 7, 18, 19, 96, 69, 39, 93]  # <bos> w3 w14 w15 w92 w65 w35 w89
    assert emb["node_id"].tolist() == [f"E_{t}_{p}" for p, t in enumerate(token_ids)]
    assert emb["feature_id"].tolist() == list(range(T)) and (emb["layer"] == -1).all()
    assert emb["token"].tolist() == meta.prompt_tokens == ["<bos>"] + PROMPT.split()
    logits = nodes[kinds == "logit"]
    assert (logits["node_id"] == f"{L + 1}_" + logits["feature_id"].astype(str) + f"_{T - 1}").all()
    assert (logits["layer"] == L).all() and (logits["pos"] == T - 1).all()
    assert logits["is_target"].tolist() == [True] + [False] * (len(logits) - 1)
    first = logits.iloc[0]
    assert first["label"] == f'Output "{first["token"]}" (p={first["prob"]:.3f})'
    assert logits["influence"].isna().all() and nodes.loc[kinds != "logit", "influence"].between(0, 1).all()
    assert meta.source == "trace" and meta.schema_version == 1 and meta.n_layers == L
    assert meta.scan == hub.transcoder_id("llama-plt") and meta.transcoder_type == "plt"
    assert meta.model == hub.model_id("llama") and meta.prompt == "<bos> " + PROMPT
    assert (meta.node_threshold, meta.edge_threshold) == (0.8, 0.98)
    assert 0 < meta.replacement_score <= 1 and 0 < meta.completeness_score <= 1
    assert meta.extra["generation_settings"]["max_feature_nodes"] is None


def test_bos_position_has_only_its_token_node(hub):
    graph = trace(hub.model_id("gemma3"), hub.transcoder_id("gemma3-topk-skip"), PROMPT, device="cpu")
    at_zero = graph.nodes[graph.nodes["pos"] == 0]
    assert at_zero["kind"].tolist() == ["embedding"]


@pytest.mark.parametrize("case, thresholds", [
    ("gemma2-gemmascope", (0.8, 0.98)), ("llama-clt", (0.9, 0.99)), ("gpt2-jumprelu-skip", (0.9, 0.99))])
def test_graph_keeps_exactly_what_circuit_tracer_pruning_keeps(traced, case, thresholds):
    rm, state, attribution = traced(case)
    graph = attribution_graph(attribution, rm, node_threshold=thresholds[0], edge_threshold=thresholds[1])
    A = attribution.adjacency.numpy()
    node_mask, edge_mask = dense_prune_reference(
        A, attribution.n_features, attribution.n_pos, len(attribution.targets),
        attribution.targets.probabilities.numpy(), *thresholds)
    # create_graph_files: edges between kept nodes; features and errors only if an edge touches them
    dst, src = np.nonzero(edge_mask & node_mask[:, None] & node_mask[None, :])
    kinds = attribution.kinds()
    touched = np.isin(np.arange(len(kinds)), np.r_[src, dst])
    used = node_mask & (touched | np.isin(kinds, ("embedding", "logit")))
    ids = _node_ids(graph, attribution)
    assert sorted(graph.nodes["node_id"]) == sorted(ids[used])
    got = {(s, t): w for s, t, w in zip(graph.nodes["node_id"].to_numpy()[graph.src],
                                        graph.nodes["node_id"].to_numpy()[graph.dst], graph.weight)}
    want = {(ids[s], ids[t]): A[t, s] for s, t in zip(src, dst)}
    assert got.keys() == want.keys()
    assert len(got) > 100 and (graph.nodes["kind"] == "feature").sum() >= 5
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-6)


def _node_ids(graph, attribution) -> np.ndarray:
    """Node ids of the unpruned adjacency (same construction the tracer documents)."""
    f, st = attribution.state.features, attribution.state
    layer, pos = attribution.layers_and_positions()
    kinds = attribution.kinds()
    middle = np.concatenate([f.index[attribution.feature_rows].numpy(), layer[kinds == "error"],
                             st.tokens.numpy(), attribution.targets.token_ids.numpy()])
    first = np.where(kinds == "feature", layer.astype(str), "0").astype(object)
    first[kinds == "embedding"] = "E"
    first[kinds == "logit"] = str(attribution.n_layers + 1)
    return np.array([f"{a}_{b}_{c}" for a, b, c in zip(first, middle, pos)], dtype=object)


def test_split_path_edges_merge_back_to_the_unsplit_graph(hub):
    args = (hub.model("gemma2"), hub.transcoder_id("gemma2-clt-skip"), PROMPT)
    whole = trace(*args, device="cpu")
    split = trace(*args, device="cpu", split_paths=True)
    assert whole.path is None and split.path is not None and set(np.unique(split.path)) == {0, 1}
    assert split.nodes["node_id"].tolist() == whole.nodes["node_id"].tolist()
    src, dst, weight = split.merged_edges()
    order = np.lexsort((whole.src, whole.dst))
    merged = np.lexsort((src, dst))
    np.testing.assert_array_equal(src[merged], whole.src[order])
    np.testing.assert_array_equal(dst[merged], whole.dst[order])
    np.testing.assert_allclose(weight[merged], whole.weight[order], atol=1e-6)
    frame = split.edges_frame()
    cross = frame[split.nodes["pos"].to_numpy()[frame["src"]] != split.nodes["pos"].to_numpy()[frame["dst"]]]
    assert len(cross) and (cross["path"] == "attention").all()


def test_target_tokens_fix_the_logit_nodes(hub):
    graph = trace(hub.model("qwen2"), hub.transcoder_id("qwen2-plt"), CASES["qwen2-plt"].prompt,
                  device="cpu", target_tokens=[11, 40])
    logits = graph.nodes[graph.nodes["kind"] == "logit"]
    assert logits["node_id"].tolist() == ["3_11_7", "3_40_7"]
    assert logits["prob"].sum() < 1


def test_loaded_objects_and_hub_ids_give_the_same_graph(hub):
    from tracer.transcoders import load_transcoders

    by_id = trace(hub.model_id("qwen3"), hub.transcoder_id("qwen3-topk-skip"), PROMPT, device="cpu",
                  dtype="float32", batch_size=16, max_feature_nodes=60)
    by_object = trace(hub.model("qwen3"), load_transcoders(hub.transcoder_id("qwen3-topk-skip")), PROMPT,
                      batch_size=16, max_feature_nodes=60)
    assert by_id.content_hash() == by_object.content_hash()
    assert (by_id.nodes["kind"] == "feature").sum() <= 60


def test_bfloat16_graph_agrees_with_float32(hub, traced):
    from tracer.attribution import compute_attribution
    from tracer.models import load_model
    from tracer.replacement import ReplacementModel
    from tracer.transcoders import load_transcoders

    _, state32, full = traced("llama-plt")
    rm = ReplacementModel(load_model(hub.model_id("llama"), device="cpu", dtype="bf16"),
                          load_transcoders(hub.transcoder_id("llama-plt")))
    assert rm.transcoders.dtype is torch.bfloat16
    state = rm.setup(state32.tokens)
    half = compute_attribution(rm, state, max_feature_nodes=None, batch_size=128)
    assert half.targets.token_ids[0] == full.targets.token_ids[0]
    # bf16 rounding can flip a feature at its threshold: match features by
    # (layer, position, index) and compare the edges among those both have
    def keyed(attribution, features):
        rows = attribution.feature_rows.numpy()
        keys = [(int(features.layer[j]), int(features.pos[j]), int(features.index[j]))
                for j in rows]
        return {key: col for col, key in enumerate(keys)}

    ours, reference = keyed(half, state.features), keyed(full, state32.features)
    common = sorted(set(ours) & set(reference))
    assert len(common) >= 0.9 * len(reference) and len(reference) >= 100
    cols_half = np.array([ours[key] for key in common])
    cols_full = np.array([reference[key] for key in common])
    A = half.adjacency.numpy()[np.ix_(cols_half, cols_half)]
    B = full.adjacency.numpy()[np.ix_(cols_full, cols_full)]
    assert np.abs(B).max() > 1e-2 and np.count_nonzero(B) > 100
    assert np.abs(A - B).max() <= 0.05 * np.abs(B).max()
    # and the logit rows over the shared feature columns
    k = len(full.targets)
    np.testing.assert_allclose(half.adjacency.numpy()[-k:][:, cols_half],
                               full.adjacency.numpy()[-k:][:, cols_full],
                               atol=0.05 * np.abs(full.adjacency.numpy()[-k:]).max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_trace_matches_cpu(hub, traced):
    from tracer.attribution import compute_attribution
    from tracer.models import load_model
    from tracer.replacement import ReplacementModel
    from tracer.transcoders import load_transcoders

    _, state_cpu, cpu = traced("llama-clt")
    rm = ReplacementModel(load_model(hub.model_id("llama"), device="cuda"),
                          load_transcoders(hub.transcoder_id("llama-clt")))
    gpu = compute_attribution(rm, rm.setup(state_cpu.tokens.cuda()), max_feature_nodes=None, batch_size=64,
                              split_paths=True)
    np.testing.assert_allclose(gpu.adjacency.numpy(), cpu.adjacency.numpy(), atol=1e-4)


def test_invalid_thresholds_are_rejected(hub):
    with pytest.raises(TracerError, match="node_threshold"):
        trace(hub.model("llama"), hub.transcoder_id("llama-plt"), PROMPT, node_threshold=1.5)
    with pytest.raises(TracerError, match="model must be"):
        trace(3, hub.transcoder_id("llama-plt"), PROMPT)


def test_cli_registers_trace_without_importing_torch():
    code = ("import argparse, sys, tracer.cli; p = argparse.ArgumentParser(); "
            "tracer.cli.register(p.add_subparsers()); a = p.parse_args(['trace', '--model', 'm', "
            "'--transcoders', 't', '--split-paths', '-o', 'g.json', 'hi']); "
            "assert 'torch' not in sys.modules and a.split_paths and a.batch_size == 256; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_cli_writes_neuronpedia_json_and_adds_to_a_corpus(hub, tmp_path, capsys):
    from corpus.store import Corpus
    from tracer import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    out, corpus = tmp_path / "graph.json", tmp_path / "corpus"
    args = parser.parse_args(["trace", "--model", hub.model_id("llama"), "--transcoders",
                              hub.transcoder_id("llama-clt"), "--device", "cpu", "--batch-size", "32",
                              "--slug", "tiny-clt", "--task", "test", "-o", str(out), "--corpus", str(corpus),
                              PROMPT])
    assert args.func(args) == 0
    data = json.loads(out.read_text())
    assert data["metadata"]["slug"] == "tiny-clt" and data["metadata"]["scan"] == hub.transcoder_id("llama-clt")
    logit_layers = {n["layer"] for n in data["nodes"] if n["feature_type"] == "logit"}
    assert logit_layers == {"3"}  # circuit-tracer writes logits at n_layers + 1
    stored = Corpus(corpus).load("tiny-clt")
    assert stored.n_edges == len(data["links"]) and stored.meta.task == "test"
    assert "tiny-clt:" in capsys.readouterr().out


def test_trace_labels_feature_nodes_from_the_sets_labels_json(hub, tmp_path):
    KEEP_ALL = dict(node_threshold=1.0, edge_threshold=1.0)  # the default pruning keeps no feature
    from tracer.labels import write_labels
    from tracer.transcoders import load_transcoders, save_transcoders

    folder = save_transcoders(load_transcoders(hub.transcoder_id("llama-plt"), device="cpu"),
                              tmp_path / "set")
    unlabelled = trace(hub.model("llama"), folder, PROMPT, device="cpu", **KEEP_ALL)
    features = unlabelled.nodes[unlabelled.kind_mask("feature")]
    keys = list(zip(features["layer"].astype(int), features["feature"].astype(int)))
    assert len(set(keys)) > 1 and (features["label"] == "").all()
    # label every feature but the first: it keeps its empty label
    given = {key: f"L{key[0]} F{key[1]}" for key in sorted(set(keys))[1:]}
    write_labels(given, folder)
    loaded = load_transcoders(folder, device="cpu")
    assert loaded.labels == given
    for transcoders in (folder, loaded):  # a directory or the set loaded from it
        graph = trace(hub.model("llama"), transcoders, PROMPT, device="cpu", **KEEP_ALL)
        labels = graph.nodes.loc[graph.kind_mask("feature"), "label"].tolist()
        assert labels == [given.get(key, "") for key in keys]
    (folder / "labels.json").write_text('["not", "a", "mapping"]')
    with pytest.raises(TracerError, match="labels.json: not a labels file"):
        load_transcoders(folder, device="cpu")
