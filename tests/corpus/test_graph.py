"""AttributionGraph: construction, validation, conversions, identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from corpus.errors import CorpusError
from corpus.graph import AttributionGraph, GraphMeta


def tiny_graph(**meta: object) -> AttributionGraph:
    nodes = pd.DataFrame({
        "node_id": ["E_5_0", "E_6_1", "0_7_1", "1_3_1", "0_0_1", "2_9_1"],
        "kind": ["embedding", "embedding", "feature", "feature", "error", "logit"],
        "layer": [-1, -1, 0, 1, 0, 2],
        "pos": [0, 1, 1, 1, 1, 1],
    })
    src = [0, 1, 2, 2, 4, 3, 1]
    dst = [2, 2, 3, 5, 3, 5, 5]
    weight = [0.5, 1.0, 2.0, -0.25, 0.125, 3.0, -1.0]
    return AttributionGraph.from_arrays(nodes, src, dst, weight,
                                        GraphMeta(slug="tiny", n_layers=2, **meta))


def test_from_arrays_coerces_dtypes_and_validates():
    g = tiny_graph()
    g.validate()
    assert g.src.dtype == np.int32 and g.dst.dtype == np.int32 and g.weight.dtype == np.float32
    assert str(g.nodes["node_id"].dtype) == "string"
    assert g.nodes["activation"].isna().all()
    assert (g.n_nodes, g.n_edges) == (6, 7)


@pytest.mark.parametrize("mutate, message", [
    (lambda g: setattr(g, "dst", np.array([0, 1, 2, 3, 4, 5, 9], np.int32)), "outside the 6 nodes"),
    (lambda g: g.weight.__setitem__(3, np.nan), "non-finite weight"),
    (lambda g: g.weight.__setitem__(0, np.inf), "non-finite weight"),
    (lambda g: g.nodes.__setitem__("kind", g.nodes["kind"].replace("error", "banana")),
     "unknown kind 'banana'"),
    (lambda g: g.nodes.loc.__setitem__((0, "layer"), 0), "embedding node 0 has layer 0"),
    (lambda g: g.nodes.loc.__setitem__((5, "layer"), 3), "logit nodes must sit at layer"),
    (lambda g: g.nodes.loc.__setitem__((5, "layer"), 1), "not above every feature"),
    (lambda g: g.nodes.loc.__setitem__((3, "node_id"), "0_7_1"), "repeats id '0_7_1'"),
    (lambda g: setattr(g, "weight", g.weight[:3]), "differ in length"),
    (lambda g: setattr(g, "nodes", g.nodes.drop(columns="pos")), r"lacks columns \['pos'\]"),
    (lambda g: setattr(g, "src", np.array([-1, 1, 2, 2, 4, 3, 1], np.int32)), "edge 0 has src -1"),
    (lambda g: setattr(g, "path", np.zeros(3, np.int8)), "path has 3 entries for 7 edges"),
    (lambda g: setattr(g, "path", np.array([0, 1, 0, 2, 0, 0, 0], np.int8)),
     "edge 3 has unknown path code 2"),
    (lambda g: g.nodes.loc.__setitem__((2, "node_id"), pd.NA), "node 2 has no node_id"),
    (lambda g: g.nodes.loc.__setitem__((2, "layer"), -2), "feature node 2 has negative layer -2"),
    (lambda g: setattr(g, "meta", GraphMeta(slug="tiny", n_layers=1)),
     "node 3 has layer 1 but the model has 1 layers"),
    (lambda g: setattr(g, "meta", GraphMeta(slug="tiny", n_layers=2, transcoder_type="banana")),
     "unknown transcoder_type 'banana'"),
    # the first problem found is named: edges are checked before nodes, nodes before layers
    (lambda g: (g.weight.__setitem__(1, np.nan), g.nodes.loc.__setitem__((4, "kind"), "banana")),
     "edge 1 has non-finite weight"),
    (lambda g: (g.nodes.loc.__setitem__((4, "kind"), "banana"), g.nodes.loc.__setitem__((0, "layer"), 0)),
     "node 4 has unknown kind"),
])
def test_validate_names_the_problem(mutate, message):
    g = tiny_graph()
    mutate(g)
    with pytest.raises(CorpusError, match=message):
        g.validate()


def test_networkx_and_igraph_agree_with_edge_arrays():
    g = tiny_graph()
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 6 and nxg.number_of_edges() == 7
    assert nxg["0_7_1"]["2_9_1"]["weight"] == -0.25
    assert nxg.nodes["2_9_1"]["kind"] == "logit"
    ig = g.to_igraph()
    assert ig.vcount() == 6 and ig.ecount() == 7 and ig.is_directed()
    eid = ig.get_eid(2, 5)
    assert ig.es[eid]["weight"] == -0.25
    assert ig.vs[4]["kind"] == "error"
    assert sorted(ig.get_edgelist()) == sorted(zip(g.src.tolist(), g.dst.tolist()))


def test_split_path_parts_are_summed_into_one_edge():
    g = tiny_graph()
    split = AttributionGraph.from_arrays(
        g.nodes, [2, 2, 0], [3, 3, 2], [1.5, 0.5, 0.5], g.meta, path=[0, 1, 0])
    split.validate()
    src, dst, weight = split.merged_edges()
    assert list(zip(src.tolist(), dst.tolist(), weight.tolist())) == [(0, 2, 0.5), (2, 3, 2.0)]
    assert split.to_networkx()["0_7_1"]["1_3_1"]["weight"] == 2.0
    frame = split.edges_frame()
    assert frame["path"].tolist() == ["residual", "attention", "residual"]


def test_content_hash_ignores_task_but_sees_weights():
    a = tiny_graph()
    b = tiny_graph(task="factual-recall")
    assert a.content_hash() == b.content_hash()
    b.weight[0] = 0.75
    assert a.content_hash() != b.content_hash()


def test_subgraph_keeps_induced_edges_only():
    g = tiny_graph()
    keep = ~g.kind_mask("error")
    sub = g.subgraph(keep)
    assert sub.n_nodes == 5 and sub.n_edges == 6
    assert "0_0_1" not in set(sub.nodes["node_id"])
    sub.validate()


def test_collided_ids_get_distinct_keys():
    g = tiny_graph()
    nodes = g.nodes.copy()
    nodes.loc[4, "node_id"] = "0_7_1"  # the error id collides with a layer-0 feature id
    h = AttributionGraph.from_arrays(nodes, g.src, g.dst, g.weight, g.meta)
    h.validate()
    assert h.node_keys()[4] == "0_7_1|error"
    assert h.to_networkx().number_of_nodes() == 6
