"""Influence pruning and graph scores (tracer/prune.py).

Checked against hand-computed tiny graphs and against a dense brute-force
reference written here from the definitions (influence by numpy.linalg.inv).
Agreement with circuit-tracer's own functions is measured in
benchmarks/bench_trace.py, circuit-tracer not being a project dependency.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tracer.errors import TracerError
from tracer.prune import (
    compute_influence,
    edge_influence,
    find_threshold,
    graph_scores,
    node_influence,
    normalize_matrix,
    prune_edges,
    prune_graph,
    prune_nodes,
)


# ---------------------------------------------------------------- fixtures
def random_attribution_dag(
    seed: int, n_tokens: int = 5, n_layers: int = 4, features_per_layer: int = 12,
    n_logits: int = 3, density: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random graph shaped like an attribution graph, rows in shuffled order.

    Tokens feed everything above them; a feature/error at layer l feeds nodes
    at layers > l; logits feed nothing; every feature has a token input, so no
    feature is pruned only for lacking inputs. Returns (A, kinds, logit probs).
    """
    rng = np.random.default_rng(seed)
    kinds = (["embedding"] * n_tokens
             + ["feature"] * (features_per_layer * n_layers)
             + ["error"] * (n_tokens * n_layers)
             + ["logit"] * n_logits)
    level = np.concatenate([
        np.zeros(n_tokens),
        np.repeat(np.arange(1, n_layers + 1), features_per_layer),
        np.repeat(np.arange(1, n_layers + 1), n_tokens),
        np.full(n_logits, n_layers + 1),
    ])
    kind = np.array(kinds)
    n = kind.size
    # target row above source column; errors and tokens have no inputs
    allowed = (level[:, None] > level[None, :]) & ~np.isin(kind, ("embedding", "error"))[:, None]
    allowed &= (kind != "logit")[None, :]
    present = allowed & (rng.random((n, n)) < density)
    feature_rows = np.flatnonzero(kind == "feature")
    present[feature_rows, rng.integers(0, n_tokens, feature_rows.size)] = True
    adjacency = np.where(present, rng.normal(size=(n, n)), 0.0)
    order = rng.permutation(n)  # kinds are not positions
    probs = rng.dirichlet(np.ones(n_logits)) * 0.9  # in the shuffled logit rows' order
    return adjacency[np.ix_(order, order)], kind[order], probs


def full_logit_weights(kind: np.ndarray, probs: np.ndarray) -> np.ndarray:
    w = np.zeros(kind.size)
    w[kind == "logit"] = probs
    return w


def dense_influence(adjacency: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """w ((I − Â)⁻¹ − I) by a dense inverse."""
    a = np.abs(adjacency)
    a = a / np.maximum(a.sum(1, keepdims=True), 1e-10)
    n = a.shape[0]
    return weights @ (np.linalg.inv(np.eye(n) - a) - np.eye(n))


def dense_threshold(scores: np.ndarray, fraction: float) -> float:
    ordered = np.sort(scores.ravel())[::-1]
    cumulative = np.cumsum(ordered) / ordered.sum()
    index = min(int(np.searchsorted(cumulative, fraction)), int((ordered > 0).sum()) - 1)
    return ordered[index]


def dense_reference_prune(adjacency, kind, probs, node_threshold, edge_threshold):
    """The brief's pruning on dense numpy arrays, independently of tracer.prune."""
    w = full_logit_weights(kind, probs)
    influence = dense_influence(adjacency, w)
    keep = (influence >= dense_threshold(influence, node_threshold)) | np.isin(kind, ("embedding", "logit"))
    pruned = adjacency * keep[:, None] * keep[None, :]
    a = np.abs(pruned)
    a = a / np.maximum(a.sum(1, keepdims=True), 1e-10)
    scores = a * (dense_influence(pruned, w) + w)[:, None]
    edges = scores >= dense_threshold(scores, edge_threshold)
    while True:
        edges &= keep[:, None] & keep[None, :]
        new = keep.copy()
        new[np.isin(kind, ("feature", "error"))] &= edges.any(0)[np.isin(kind, ("feature", "error"))]
        new[kind == "feature"] &= edges.any(1)[kind == "feature"]
        if np.array_equal(new, keep):
            return keep, edges, influence
        keep = new


# ------------------------------------------------------------ hand-computed
# Token 0 → feature 1 (weight 2) → logit 3 (weight 3); error 2 → logit 3 (-1).
# Â[1, 0] = 1, Â[3, 1] = 0.75, Â[3, 2] = 0.25; w = (0, 0, 0, 1).
# I = wÂ + wÂ² = (0, .75, .25, 0) + (.75, 0, 0, 0).
TINY = np.array([[0, 0, 0, 0], [2.0, 0, 0, 0], [0, 0, 0, 0], [0, 3.0, -1.0, 0]])
TINY_KINDS = ["embedding", "feature", "error", "logit"]


def test_tiny_graph_influence_and_scores_by_hand():
    influence = node_influence(sp.csr_array(TINY), np.array([0, 0, 0, 1.0]))
    assert influence.tolist() == [0.75, 0.75, 0.25, 0.0]
    replacement, completeness = graph_scores(sp.csr_array(TINY), TINY_KINDS, [1.0])
    # replacement: token .75 / (token .75 + error .25)
    assert replacement == pytest.approx(0.75, abs=1e-12)
    # completeness: rows' non-error share × (I + w): .75·1 + .75·1 + .25·1 + 1·(1 − .25)
    # over Σ (I + w) = .75 + .75 + .25 + 1
    assert completeness == pytest.approx(2.5 / 2.75, abs=1e-12)


def test_tiny_graph_prunes_the_weak_error_and_its_edge():
    # Influences sorted .75, .75, .25, 0 of 1.75: cumulative .43, .86, 1, 1 → the
    # 0.8 cut-off is .75, so the error (.25) goes and takes its edge with it.
    result = prune_graph(torch.tensor(TINY), TINY_KINDS, [1.0])
    assert result.node_mask.tolist() == [True, True, False, True]
    assert torch.equal(result.edge_mask, torch.tensor(
        [[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=torch.bool))
    np.testing.assert_allclose(result.cumulative_influence,
                               [0.75 / 1.75, 1.5 / 1.75, 1.0, 1.0], atol=1e-12)
    assert result.replacement_score == pytest.approx(0.75, abs=1e-12)
    assert result.completeness_score == pytest.approx(2.5 / 2.75, abs=1e-12)


# Tokens 0, 1 → features 2, 3 → logit 4 with weights 3 and 1.
# I = (.75, .25, .75, .25, 0); edge scores (2←0) .75, (3←1) .25, (4←2) .75, (4←3) .25.
FORK = np.zeros((5, 5))
FORK[2, 0], FORK[3, 1], FORK[4, 2], FORK[4, 3] = 1.0, 1.0, 3.0, 1.0
FORK_KINDS = ["embedding", "embedding", "feature", "feature", "logit"]


def test_edge_threshold_drops_edges_then_the_feature_left_without_output():
    # Edge scores sorted .75, .75, .25, .25 of 2: cumulative .375, .75, .875, 1.
    result = prune_graph(sp.csr_array(FORK), FORK_KINDS, [1.0], node_threshold=1.0, edge_threshold=0.7)
    assert result.node_mask.tolist() == [True, True, True, False, True]
    assert np.argwhere(result.edge_mask.toarray()).tolist() == [[2, 0], [4, 2]]
    # 0.98 reaches into the .25 edges: all four kept, all nodes kept
    result = prune_graph(sp.csr_array(FORK), FORK_KINDS, [1.0], node_threshold=1.0, edge_threshold=0.98)
    assert result.node_mask.all()
    assert result.edge_mask.nnz == 4


def test_node_threshold_zero_keeps_only_the_top_nodes_and_tokens_and_logits():
    result = prune_graph(sp.csr_array(FORK), FORK_KINDS, [1.0], node_threshold=0.0)
    # the .75 tie (token 0, feature 2) plus every token and logit; feature 3 goes
    assert result.node_mask.tolist() == [True, True, True, False, True]


def test_edge_influence_by_hand():
    scores = edge_influence(sp.csr_array(FORK), np.array([0, 0, 0, 0, 1.0])).toarray()
    expected = np.zeros((5, 5))
    expected[2, 0], expected[3, 1], expected[4, 2], expected[4, 3] = 0.75, 0.25, 0.75, 0.25
    np.testing.assert_array_equal(scores, expected)


def test_prune_nodes_and_prune_edges_by_hand():
    influence = node_influence(sp.csr_array(FORK), np.array([0, 0, 0, 0, 1.0]))  # .75 .25 .75 .25 0
    kinds = np.array(FORK_KINDS)
    # a third of the total (2.0) is reached by the .75 tie alone; tokens and logits always stay
    assert prune_nodes(influence, kinds, 1 / 3).tolist() == [True, True, True, False, True]
    assert prune_nodes(influence, kinds, 1.0).all()
    scores = edge_influence(sp.csr_array(FORK), np.array([0, 0, 0, 0, 1.0]))
    # scores .75 (2<-0), .25 (3<-1), .75 (4<-2), .25 (4<-3): 0.7 of 2.0 needs both .75 edges
    assert [a.tolist() for a in prune_edges(scores, 0.7)] == [[2, 4], [0, 2]]
    assert [a.tolist() for a in prune_edges(scores, 1.0)] == [[2, 3, 4, 4], [0, 1, 2, 3]]


@pytest.mark.parametrize("seed", [0, 1])
def test_prune_graph_is_its_steps_in_order(seed):
    adjacency, kind, probs = random_attribution_dag(seed)
    weights = full_logit_weights(kind, probs)
    result = prune_graph(sp.csr_array(adjacency), kind, probs, 0.6, 0.9)
    nodes = prune_nodes(node_influence(sp.csr_array(adjacency), weights), kind, 0.6)
    pruned = sp.csr_array(adjacency * nodes[:, None] * nodes[None, :])
    targets, sources = prune_edges(edge_influence(pruned, weights), 0.9)
    edges = np.zeros(adjacency.shape, dtype=bool)
    edges[targets, sources] = True
    assert not nodes.all() and edges.sum() < (pruned != 0).sum()  # both steps prune something
    # dangling features and errors are dropped afterwards, with their edges
    assert not (result.node_mask & ~nodes).any()
    kept = result.edge_mask.toarray()
    assert (kept == edges & result.node_mask[:, None] & result.node_mask[None, :]).all()


def test_find_threshold_boundaries_and_zero_padding():
    scores = np.array([1.0, 4.0, 2.0, 3.0])  # cumulative .4, .7, .9, 1
    assert find_threshold(scores, 0.0) == 4.0
    assert find_threshold(scores, 0.4) == 4.0
    assert find_threshold(scores, 0.41) == 3.0
    assert find_threshold(scores, 0.9) == 2.0
    assert find_threshold(scores, 1.0) == 1.0
    padded = np.concatenate([scores, np.zeros(100)])
    assert [find_threshold(padded, t) for t in (0.0, 0.5, 1.0)] == [4.0, 3.0, 1.0]
    assert find_threshold(np.zeros(5), 0.8) == 0.0


def test_normalize_matrix_keeps_rows_without_inputs_at_zero():
    normalized = normalize_matrix(sp.csr_array(np.array([[0, 0.0], [-2.0, 6.0]])))
    assert normalized.toarray().tolist() == [[0.0, 0.0], [0.25, 0.75]]


# ------------------------------------------------- against brute force
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_influence_matches_dense_inverse_on_random_dags(seed):
    adjacency, kind, probs = random_attribution_dag(seed)
    w = full_logit_weights(kind, probs)
    ours = compute_influence(normalize_matrix(sp.csr_array(adjacency)), w)
    np.testing.assert_allclose(ours, dense_influence(adjacency, w), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_graph_scores_match_dense_definitions_on_random_dags(seed):
    adjacency, kind, probs = random_attribution_dag(seed)
    w = full_logit_weights(kind, probs)
    influence = dense_influence(adjacency, w)
    a = np.abs(adjacency) / np.maximum(np.abs(adjacency).sum(1, keepdims=True), 1e-10)
    token, error = influence[kind == "embedding"].sum(), influence[kind == "error"].sum()
    completeness = ((1 - a[:, kind == "error"].sum(1)) * (influence + w)).sum() / (influence + w).sum()
    replacement_ours, completeness_ours = graph_scores(sp.csr_array(adjacency), kind, probs)
    assert replacement_ours == pytest.approx(token / (token + error), rel=1e-10)
    assert completeness_ours == pytest.approx(completeness, rel=1e-10)
    assert 0.0 < replacement_ours < 1.0 and 0.0 < completeness_ours < 1.0


@pytest.mark.parametrize("seed,node_threshold,edge_threshold",
                         [(0, 0.8, 0.98), (1, 0.8, 0.98), (2, 0.5, 0.9), (3, 0.95, 0.7), (4, 0.3, 0.5)])
def test_prune_matches_dense_reference_on_random_dags(seed, node_threshold, edge_threshold):
    adjacency, kind, probs = random_attribution_dag(seed)
    keep, edges, influence = dense_reference_prune(adjacency, kind, probs, node_threshold, edge_threshold)
    result = prune_graph(sp.csr_array(adjacency), kind, probs, node_threshold, edge_threshold)
    np.testing.assert_allclose(result.node_influence, influence, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(result.node_mask, keep)
    np.testing.assert_array_equal(result.edge_mask.toarray(), edges)
    # pruning really removed something, and kept something
    assert 0 < keep.sum() < keep.size and 0 < edges.sum() < (adjacency != 0).sum()


def test_thresholds_of_one_keep_every_node_with_influence_and_its_edges():
    adjacency, kind, probs = random_attribution_dag(5, density=0.1)
    w = full_logit_weights(kind, probs)
    influence = dense_influence(adjacency, w)
    result = prune_graph(sp.csr_array(adjacency), kind, probs, node_threshold=1.0, edge_threshold=1.0)
    always = np.isin(kind, ("embedding", "logit"))
    np.testing.assert_array_equal(result.node_mask, (influence > 0) | always)
    # every edge whose target carries influence (or is a logit) and whose source is kept
    expected = (adjacency != 0) & ((influence + w) > 0)[:, None] & result.node_mask[None, :]
    np.testing.assert_array_equal(result.edge_mask.toarray(), expected)
    assert (~result.node_mask).any()  # the sparse graph has dead-end features to drop


def test_dense_sparse_and_torch_sparse_inputs_give_identical_results():
    adjacency, kind, probs = random_attribution_dag(6)
    inputs = {
        "torch dense": torch.tensor(adjacency),
        "scipy csr": sp.csr_array(adjacency),
        "scipy coo": sp.coo_matrix(adjacency),
        "torch sparse": torch.tensor(adjacency).to_sparse(),
    }
    results = {name: prune_graph(value, kind, torch.tensor(probs)) for name, value in inputs.items()}
    reference = results["scipy csr"]
    for name, result in results.items():
        np.testing.assert_array_equal(result.node_mask, reference.node_mask, err_msg=name)
        np.testing.assert_array_equal(result.node_influence, reference.node_influence, err_msg=name)
        np.testing.assert_array_equal(result.cumulative_influence, reference.cumulative_influence)
        assert result.replacement_score == reference.replacement_score
        assert result.completeness_score == reference.completeness_score
    assert results["torch dense"].edge_mask.dtype == torch.bool
    assert results["torch dense"].edge_mask.shape == adjacency.shape
    np.testing.assert_array_equal(results["torch dense"].edge_mask.numpy(), reference.edge_mask.toarray())
    np.testing.assert_array_equal(results["torch sparse"].edge_mask.to_dense().numpy(),
                                  reference.edge_mask.toarray())
    np.testing.assert_array_equal(results["scipy coo"].edge_mask.toarray(), reference.edge_mask.toarray())


def test_float32_input_computes_in_float32_close_to_float64():
    adjacency, kind, probs = random_attribution_dag(7)
    single = prune_graph(torch.tensor(adjacency, dtype=torch.float32), kind, probs)
    double = prune_graph(torch.tensor(adjacency), kind, probs)
    assert single.node_influence.dtype == np.float32
    np.testing.assert_allclose(single.node_influence, double.node_influence, rtol=1e-5, atol=1e-7)


def test_dense_input_larger_than_one_chunk_converts_row_blocks_exactly(monkeypatch):
    import tracer.prune as prune

    adjacency, kind, probs = random_attribution_dag(8)
    whole = prune_graph(torch.tensor(adjacency), kind, probs)
    monkeypatch.setattr(prune, "_CHUNK_ENTRIES", 7 * adjacency.shape[0])  # 7 rows per block
    chunked = prune_graph(torch.tensor(adjacency), kind, probs)
    np.testing.assert_array_equal(chunked.node_influence, whole.node_influence)
    assert torch.equal(chunked.edge_mask, whole.edge_mask)


# ------------------------------------------------------------ validation
@pytest.mark.parametrize("adjacency,kinds,weights,match", [
    (np.zeros((3, 4)), ["embedding"] * 3, [], "square"),
    (TINY, TINY_KINDS[:3], [1.0], "kinds has shape"),
    (TINY, ["embedding", "feature", "lorsa", "logit"], [1.0], r"kinds\[2\]"),
    (TINY, TINY_KINDS, [0.5, 0.5], "2 values for 1 logit rows"),
    (TINY, TINY_KINDS, [-1.0], "non-negative"),
    (TINY, TINY_KINDS, [0.0], "sum to 0"),
    (np.where(TINY == 2.0, np.nan, TINY), TINY_KINDS, [1.0], "non-finite"),
    ([[0.0]], ["logit"], [1.0], "torch tensor or a scipy.sparse"),
])
def test_bad_inputs_raise_tracer_error_naming_the_argument(adjacency, kinds, weights, match):
    with pytest.raises(TracerError, match=match):
        prune_graph(torch.tensor(adjacency) if isinstance(adjacency, np.ndarray) else adjacency,
                    kinds, weights)


@pytest.mark.parametrize("name", ["node_threshold", "edge_threshold"])
def test_thresholds_outside_unit_interval_raise(name):
    with pytest.raises(TracerError, match=name):
        prune_graph(sp.csr_array(TINY), TINY_KINDS, [1.0], **{name: 1.5})


def test_cycle_raises_instead_of_looping_forever():
    cycle = sp.csr_array(np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 1.0, 0]]))
    with pytest.raises(TracerError, match="not a DAG"):
        prune_graph(cycle, ["feature", "feature", "logit"], [1.0])
