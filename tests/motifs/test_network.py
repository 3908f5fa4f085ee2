"""Network.from_graph: which nodes and edges an attribution graph contributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from corpus.graph import AttributionGraph
from motifs.errors import MotifError
from motifs.network import Network

# A hand-built graph, rows deliberately not in kind order:
#   0 E_1_0 embedding (-1)   1 0_5_1 feature (0)   2 0_1 error (0)
#   3 1_9_1 feature (1)      4 27_1 logit (2)      5 E_2_1 embedding (-1)
NODES = pd.DataFrame({
    "node_id": ["E_1_0", "0_5_1", "0_1", "1_9_1", "27_1", "E_2_1"],
    "kind": ["embedding", "feature", "error", "feature", "logit", "embedding"],
    "layer": [-1, 0, 0, 1, 2, -1],
    "pos": [0, 1, 1, 1, 1, 1],
    "feature": [None, 5, None, 9, None, None],
})
#            E1->f5  f5->f9  err->f9  f9->logit  E2->f5  E2->err  f5->logit
SRC = [0, 1, 2, 3, 5, 5, 1]
DST = [1, 3, 3, 4, 1, 2, 4]
WEIGHT = [0.5, -2.0, 3.0, 1.5, -0.25, 0.75, 0.1]


def graph() -> AttributionGraph:
    return AttributionGraph.from_arrays(NODES.copy(), SRC, DST, WEIGHT)


def edges(net: Network) -> set[tuple[str, str, float]]:
    return {(net.names[s], net.names[d], round(float(w), 4))
            for s, d, w in zip(net.src, net.dst, net.weight)}


def test_default_keeps_embeddings_features_logits_and_drops_error_nodes():
    net = Network.from_graph(graph())
    assert net.n_nodes == 5 and sorted(net.names) == ["0_5_1", "1_9_1", "27_1", "E_1_0", "E_2_1"]
    assert edges(net) == {("E_1_0", "0_5_1", 0.5), ("0_5_1", "1_9_1", -2.0),
                          ("1_9_1", "27_1", 1.5), ("E_2_1", "0_5_1", -0.25),
                          ("0_5_1", "27_1", 0.1)}
    assert net.sign.tolist() == np.sign(net.weight).astype(int).tolist()
    # layers come along: embeddings below layer 0, logits above the last layer
    layer = dict(zip(net.names, net.layer.tolist()))
    assert layer == {"E_1_0": -1, "E_2_1": -1, "0_5_1": 0, "1_9_1": 1, "27_1": 2}
    # rows point back at the attribution graph's nodes
    assert [NODES["node_id"][r] for r in net.rows] == list(net.names)


def test_keep_errors_and_kinds_choose_the_nodes():
    with_errors = Network.from_graph(graph(), keep_errors=True)
    assert with_errors.n_nodes == 6 and with_errors.n_edges == 7
    features_only = Network.from_graph(graph(), kinds=("feature",))
    assert sorted(features_only.names) == ["0_5_1", "1_9_1"]
    assert edges(features_only) == {("0_5_1", "1_9_1", -2.0)}
    with pytest.raises(MotifError, match="unknown node kinds"):
        Network.from_graph(graph(), kinds=("feature", "neuron"))


def test_weight_filters_and_unsigned_networks():
    strong = Network.from_graph(graph(), min_abs_weight=0.5)
    assert {(s, d) for s, d, _ in edges(strong)} == {("E_1_0", "0_5_1"), ("0_5_1", "1_9_1"),
                                                     ("1_9_1", "27_1")}
    top = Network.from_graph(graph(), top_k=2)
    assert {w for _, _, w in edges(top)} == {-2.0, 1.5}
    # top_k applies after the node filter: the error edge of weight 3 is not counted
    assert Network.from_graph(graph(), top_k=0).n_edges == 0
    unsigned = Network.from_graph(graph(), signed=False)
    assert unsigned.sign is None and unsigned.n_edges == 5
    assert unsigned.topology().weight is None and unsigned.topology().n_edges == 5
    with pytest.raises(MotifError, match="top_k"):
        Network.from_graph(graph(), top_k=-1)


def test_from_edges_maps_any_hashable_node_ids_to_rows_and_keeps_them_as_names():
    """Issue 12: string ids used to fail with "invalid literal for int()"."""
    net = Network.from_edges(["crp", "crp", "lacI", "crp"], ["lacZ", "lacI", "lacZ", "lacZ"],
                             weight=[1.0, -2.0, 0.5, 1.0])
    assert net.n_nodes == 3 and net.names.tolist() == ["crp", "lacI", "lacZ"]
    named = {(net.names[s], net.names[d]): float(w)
             for s, d, w in zip(net.src, net.dst, net.weight)}
    assert named == {("crp", "lacZ"): 2.0, ("crp", "lacI"): -2.0, ("lacI", "lacZ"): 0.5}
    # tuples are ids too, and given names fix the rows (an unused name is a node)
    pairs = Network.from_edges([("L0", 1)], [("L1", 2)], names=[("L1", 2), "x", ("L0", 1)])
    assert (pairs.n_nodes, pairs.src.tolist(), pairs.dst.tolist()) == (3, [2], [0])
    with pytest.raises(MotifError, match="'nope' is not one of the given names"):
        Network.from_edges(["a"], ["nope"], names=["a", "b"])
    # integers stay node numbers, also as an object array
    ints = Network.from_edges(np.array([0, 2], dtype=object), [1, 0])
    assert ints.names is None and ints.n_nodes == 3 and ints.src.tolist() == [0, 2]


def test_is_acyclic_agrees_with_networkx_on_random_graphs():
    """Kahn peeling in numpy against networkx's DAG test: 400 random graphs, half of
    them forward-only (DAGs), the rest with cycles of every length."""
    import networkx as nx

    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(400):
        n = int(rng.integers(2, 30))
        src, dst = rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
        keep = src != dst
        src, dst = src[keep], dst[keep]
        if rng.random() < 0.5:
            src, dst = np.minimum(src, dst), np.maximum(src, dst)
        pairs = sorted(set(zip(src.tolist(), dst.tolist())))
        net = Network.from_edges([a for a, _ in pairs], [b for _, b in pairs], n_nodes=n)
        graph = nx.DiGraph(pairs)
        graph.add_nodes_from(range(n))
        expected = nx.is_directed_acyclic_graph(graph)
        assert net.is_acyclic() == expected, pairs
        seen.add(expected)
    assert seen == {True, False}
