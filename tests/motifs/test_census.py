"""Census: hand-counted tiny graphs, and agreement with networkx and igraph on
seeded random graphs and on the 17 real attribution graphs."""

from __future__ import annotations

import igraph
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from motifs.catalog import (
    FFL_SIGN_TYPES,
    ORDERED_PAIRS,
    SIGNED_TRIAD_NAMES,
    TRIAD_CODES,
    TRIAD_EDGES,
    code_to_edges,
    connected_isoclasses,
    isoclass_table,
    is_coherent,
    motif_class,
    motif_class_of,
    motif_classes,
    motif_drawing,
    triad_code_table,
)
from motifs.census import (
    triad_census_edges,
    ffl_count_many,
    motif3_census,
    motif3_census_many,
    motif4_census,
    motif4_census_many,
    named_census,
    named_census_many,
    signed_ffl_census,
    signed_ffl_census_many,
    signed_triad_census,
    signed_triad_census_many,
    simple_cycles_count,
    simple_cycles_count_many,
    triad_census,
    triad_census_many,
)
from motifs.errors import MotifError
from motifs.network import Network
from tests.motifs.conftest import (
    DALLAS,
    REAL_GRAPHS,
    SHARED_GRAPHS,
    dense,
    random_network,
    real_network,
    stored_reference,
    to_igraph,
    to_networkx,
)

#: Real graphs whose size-4 igraph reference runs in about a second or less.
SMALL_REAL = [
    DALLAS,
    "IamKrill1n__circuit-tracer__dallas-austin-llamma.json",
    "IamKrill1n__circuit-tracer__meow-clt.json",
]


def igraph_motifs(net: Network, size: int) -> np.ndarray:
    """igraph's class counts on the connected classes (it reports NaN elsewhere)."""
    counts = np.array(to_igraph(net).motifs_randesu(size=size), dtype=float)
    return counts[connected_isoclasses(size)].astype(np.int64)


# ---------------------------------------------------------------- catalog
def test_triad_codes_follow_networkx_labels():
    for code, edges in TRIAD_EDGES.items():
        graph = nx.DiGraph()
        graph.add_nodes_from(range(3))
        graph.add_edges_from(edges)
        census = nx.triadic_census(graph)
        assert census[code] == 1, code
    assert list(TRIAD_CODES) == list(nx.triadic_census(nx.DiGraph([(0, 1)])).keys())


def test_labelled_triad_table_matches_networkx_for_all_64_codes():
    table = triad_code_table()
    for code in range(64):
        graph = nx.DiGraph()
        graph.add_nodes_from(range(3))
        graph.add_edges_from(code_to_edges(code, 3))
        census = nx.triadic_census(graph)
        assert census[TRIAD_CODES[table[code]]] == 1


def test_isoclass_table_matches_igraph_isoclass_for_every_labelled_quad():
    for size in (3, 4):
        table = isoclass_table(size)
        n_bits = len(ORDERED_PAIRS[size])
        for code in range(1 << n_bits):
            graph = igraph.Graph(n=size, edges=list(code_to_edges(code, size)), directed=True)
            assert table[code] == graph.isoclass(), (size, code)


def test_catalog_has_13_and_199_connected_classes_with_named_motifs():
    assert len(motif_classes(3)) == 13 and len(motif_classes(4)) == 199
    assert motif_class("ffl").code == "030T" and motif_class("030T").name == "ffl"
    assert motif_class("cycle3").code == "030C"
    for name, code in (("chain", "021C"), ("fan_in", "021U"), ("fan_out", "021D")):
        assert motif_class(name).code == code
    bifan = motif_class("bifan")
    # named 4-node classes are written to CSVs by name; m4_<id> still finds them
    assert bifan.code == "bifan" and motif_class(f"m4_{bifan.isoclass}") is bifan
    assert motif_class("m4_7").code == "m4_7" == motif_class(7, size=4).code
    graph = igraph.Graph.Isoclass(4, motif_class("feedback4").isoclass, directed=True)
    assert sorted(graph.outdegree()) == [1, 1, 1, 1] and graph.is_connected(mode="strong")
    assert motif_drawing("ffl_C1") == (3, TRIAD_EDGES["030T"])
    # relabelled drawings find their class: 2 -> 0 -> 1 with 2 -> 1 is a feed-forward loop
    assert motif_class_of([(2, 0), (0, 1), (2, 1)], 3).code == "030T"
    assert motif_class_of([(3, 0), (0, 1), (1, 2), (2, 3)], 4).name == "feedback4"
    with pytest.raises(MotifError, match="unknown motif"):
        motif_class("tetrahedron")
    with pytest.raises(MotifError, match="not connected"):
        motif_class("012")


def test_ffl_sign_types_follow_mangan_alon():
    assert FFL_SIGN_TYPES["ffl_C1"] == (1, 1, 1)
    assert FFL_SIGN_TYPES["ffl_I1"] == (1, -1, 1)  # X->Y +, Y->Z -, X->Z +
    assert FFL_SIGN_TYPES["ffl_C2"] == (-1, 1, -1)
    assert len(set(FFL_SIGN_TYPES.values())) == 8
    for name, signs in FFL_SIGN_TYPES.items():
        assert is_coherent(*signs) == name.startswith("ffl_C")


# ------------------------------------------------------- hand-counted graphs
NAMED_BY_HAND = [
    # (edges, n_nodes, expected named census)
    ([(0, 1), (1, 2), (0, 2)], 3, {"ffl": 1}),
    ([(0, 1), (1, 2)], 3, {"chain": 1}),
    ([(0, 2), (1, 2)], 3, {"fan_in": 1}),
    ([(0, 1), (0, 2)], 3, {"fan_out": 1}),
    ([(0, 1), (1, 2), (2, 0)], 3, {"cycle3": 1}),
    ([(0, 1), (1, 0), (1, 2)], 3, {"mutual": 1}),
    ([(0, 2), (0, 3), (1, 2), (1, 3)], 4, {"bifan": 1, "fan_in": 2, "fan_out": 2}),
    ([(0, 1), (0, 2), (1, 3), (2, 3)], 4,
     {"biparallel": 1, "chain": 2, "fan_in": 1, "fan_out": 1}),
    ([(0, 1), (1, 2), (2, 3), (3, 0)], 4, {"feedback4": 1, "chain": 4}),
    # two FFLs sharing 0->1, plus the fan-outs {0,2,3} and {1,2,3}
    ([(0, 1), (1, 2), (0, 2), (1, 3), (0, 3)], 4, {"ffl": 2, "fan_out": 2}),
]


@pytest.mark.parametrize("edges, n_nodes, expected", NAMED_BY_HAND)
def test_named_census_counts_hand_built_graphs(edges, n_nodes, expected):
    src, dst = zip(*edges)
    census = named_census(Network.from_edges(src, dst, n_nodes=n_nodes))
    want = {name: expected.get(name, 0) for name in census.index}
    assert census.to_dict() == want


def test_triad_census_of_two_ffls_by_hand(ffl_pair):
    census = triad_census(ffl_pair)
    assert census["030T"] == 2 and census["021D"] == 2
    assert census.drop(["030T", "021D"]).sum() == 0
    assert census.sum() == 4  # C(4, 3)


def test_triad_census_counts_empty_triads_from_the_total():
    net = Network.from_edges([0, 1], [1, 2], n_nodes=10)
    census = triad_census(net)
    # 1 chain, triads holding exactly one of the two edges: 2 * 7, the rest empty
    assert census["021C"] == 1 and census["012"] == 14 and census["003"] == 120 - 15


@pytest.mark.parametrize("ffl_type", list(FFL_SIGN_TYPES))
def test_each_signed_ffl_type_is_counted_once(ffl_type):
    s_xy, s_yz, s_xz = FFL_SIGN_TYPES[ffl_type]
    net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[s_xy, s_yz, s_xz])
    census = signed_ffl_census(net)
    assert census[ffl_type] == 1 and census.sum() == 1


def test_signed_triads_of_a_hand_built_graph(ffl_pair):
    # 0->1 +, 1->2 +, 0->2 -: X->Y +, Y->Z +, X->Z - is I3
    # 0->1 +, 1->3 +, 0->3 -: I3 again
    # fan-outs 0->{2,3}: (-,-); 1->{2,3}: (+,+)
    census = signed_triad_census(ffl_pair)
    assert census["ffl_I3"] == 2
    assert census["fan_out_--"] == 1 and census["fan_out_++"] == 1
    assert census.sum() == 4


def test_signed_chains_and_fans_by_hand():
    net = Network.from_edges([0, 1, 3, 4, 5, 5], [1, 2, 2, 2, 6, 7],
                             sign=[1, -1, -1, 1, 1, -1], n_nodes=8)
    census = signed_triad_census(net)
    # chains: 0->1->2 (+-); fan-ins into 2: (1,3) --, (1,4) -+, (3,4) -+; fan-out 5: +-
    assert census["chain_+-"] == 1
    assert census["fan_in_--"] == 1 and census["fan_in_+-"] == 2
    assert census["fan_out_+-"] == 1
    assert census.sum() == 5


def test_signed_census_needs_signs():
    with pytest.raises(MotifError, match="signs"):
        signed_triad_census(Network.from_edges([0, 1], [1, 2]))


def test_simple_cycles_by_hand():
    # edges 0<->1, 1->2, 2->0, 2->3, 3->1: cycles (0 1), (0 1 2), (1 2 3), no 4-cycle
    net = Network.from_edges([0, 1, 1, 2, 2, 3], [1, 0, 2, 0, 3, 1])
    assert simple_cycles_count(net, max_length=4).to_dict() == {
        "cycle2": 1, "cycle3": 2, "cycle4": 0}


# ---------------------------------------------------- random graphs vs references
@pytest.mark.parametrize("seed", range(6))
def test_triad_census_matches_networkx_on_random_graphs(seed):
    net = random_network(n=12 + 4 * seed, p=0.3, seed=seed)
    want = nx.triadic_census(to_networkx(net))
    assert triad_census(net).to_dict() == {k: want[k] for k in TRIAD_CODES}


@pytest.mark.parametrize("seed", range(6))
def test_size3_and_size4_classes_match_igraph_on_random_graphs(seed):
    net = random_network(n=9 + 3 * seed, p=0.35, seed=100 + seed, mutual=0.3)
    assert motif3_census(net)["count"].tolist() == igraph_motifs(net, 3).tolist()
    assert motif4_census(net)["count"].tolist() == igraph_motifs(net, 4).tolist()


def test_size4_census_matches_igraph_on_a_dense_graph_with_many_mutual_edges():
    net = random_network(n=18, p=0.6, seed=5, mutual=0.6)
    assert motif4_census(net)["count"].tolist() == igraph_motifs(net, 4).tolist()


def test_size4_census_of_tiny_graphs():
    assert motif4_census(Network.from_edges([0], [1], n_nodes=3))["count"].sum() == 0
    net = Network.from_edges([0, 1, 2], [1, 2, 3])  # one 4-node path
    table = motif4_census(net)
    assert table["count"].sum() == 1


@pytest.mark.parametrize("seed, mutual", [(0, 0.0), (1, 0.5), (2, 1.0)])
def test_size4_cells_equal_brute_force_count_of_ordered_quads(seed, mutual):
    """The basis-and-table algebra of ``_quad_cells`` against counting every
    ordered (row (a, b), c, d) by its five dyad states."""
    from motifs.census import _quad_cells, dyad_states

    batch = np.stack([dense(random_network(n=7, p=0.35, seed=10 * seed + i, mutual=mutual))
                      for i in range(2)])
    states = dyad_states(batch)
    present = tuple(s for s in (0, 1, 2, 3) if s == 0 or (states == s).any())
    index = {state: i for i, state in enumerate(present)}
    upper = np.triu(np.ones((7, 7), dtype=bool), 1)
    for row_state, mask in ((1, states == 1), (3, (states == 3) & upper)):
        row_s, row_a, row_b = np.nonzero(mask)
        if not row_s.size:
            continue
        want = np.zeros((2,) + (len(present),) * 5, dtype=np.int64)
        for s, a, b in zip(row_s, row_a, row_b):
            for c in set(range(7)) - {a, b}:
                for d in set(range(7)) - {a, b, c}:
                    want[(s,) + tuple(index[states[s, u, v]]
                                      for u, v in ((a, c), (b, c), (c, d), (a, d), (b, d)))] += 1
        got = _quad_cells(states, present, row_state, row_s, row_a, row_b)
        assert np.rint(got).astype(np.int64).tolist() == want.tolist()
        assert want.sum() == row_s.size * 5 * 4


@pytest.mark.parametrize("seed", range(4))
def test_simple_cycles_match_networkx(seed):
    net = random_network(n=10 + seed, p=0.3, seed=200 + seed, mutual=0.4)
    want = np.zeros(5, dtype=int)
    for cycle in nx.simple_cycles(to_networkx(net), length_bound=6):
        want[len(cycle) - 2] += 1
    assert simple_cycles_count(net, max_length=6).tolist() == want.tolist()


# ------------------------------------------------------------- batched forms
@pytest.fixture(scope="module")
def batch() -> list[Network]:
    return [random_network(n=16, p=0.3, seed=300 + s, mutual=0.3, signed=True) for s in range(5)]


def test_batched_census_equals_per_graph_census(batch):
    stack = np.stack([dense(net) for net in batch])
    triads = triad_census_many(stack)
    m3 = motif3_census_many(stack)
    m4 = motif4_census_many(stack)
    ffl = ffl_count_many(stack)
    named = named_census_many(stack)
    for i, net in enumerate(batch):
        assert triads[i].tolist() == triad_census(net).tolist()
        assert m3[i].tolist() == motif3_census(net)["count"].tolist()
        assert m4[i].tolist() == motif4_census(net)["count"].tolist()
        assert ffl[i] == triad_census(net)["030T"]
        assert named[i].tolist() == named_census(net).tolist()


def test_sparse_list_input_equals_dense_input(batch):
    stack = np.stack([dense(net) for net in batch])
    mats = [net.adjacency() for net in batch]
    assert (triad_census_many(mats) == triad_census_many(stack)).all()
    assert (motif3_census_many(mats) == motif3_census_many(stack)).all()
    assert (motif4_census_many(mats) == motif4_census_many(stack)).all()
    assert (ffl_count_many(mats) == ffl_count_many(stack)).all()
    assert (named_census_many(mats) == named_census_many(stack)).all()


@pytest.mark.parametrize("mutual", [0.0, 0.3])
@pytest.mark.parametrize("compiled", [True, False])
def test_triad_census_from_edge_arrays_equals_networkx(mutual, compiled, monkeypatch):
    import motifs.census as census

    if not compiled:
        monkeypatch.setattr(census, "_kernel", None)
    elif census._kernel is None:
        pytest.fail("the compiled kernels are not built (pip install -e . builds them)")
    nets = [random_network(40, p, seed, mutual=mutual) for seed, p in enumerate((0.05, 0.2, 0.4))]
    # one edge count for the (S, m) arrays: keep each network's first m edges
    m = min(net.n_edges for net in nets)
    src = np.stack([net.src[:m] for net in nets])
    dst = np.stack([net.dst[:m] for net in nets])
    got = triad_census_edges(src, dst, 40)
    for row, s, d in zip(got, src, dst):
        graph = nx.DiGraph()
        graph.add_nodes_from(range(40))
        graph.add_edges_from(zip(s.tolist(), d.tolist()))
        reference = nx.triadic_census(graph)
        assert row.tolist() == [reference[code] for code in TRIAD_CODES]
    assert (got[:, TRIAD_CODES.index("102")] > 0).any() == (mutual > 0)


def test_triad_census_of_real_null_samples_from_edges_equals_the_dense_census():
    from motifs.nulls import sample_nulls

    net = real_network(DALLAS)
    nulls = sample_nulls(net.topology(), "config", 8, seed=0, preserve_mutual=False)
    assert (triad_census_edges(nulls.src, nulls.dst, net.n_nodes)
            == triad_census_many(nulls.adjacency_dense())).all()


def test_size4_census_is_the_same_in_small_memory_blocks(batch, monkeypatch):
    import motifs.census as census

    stack = np.stack([dense(net) for net in batch])
    expected = motif4_census_many(stack)
    monkeypatch.setattr(census, "_QUAD_BLOCK_BYTES", 2_000)  # one sample a block, rows in blocks of 7
    assert (motif4_census_many(stack) == expected).all()


def test_size4_census_is_the_same_in_float64(batch, monkeypatch):
    import motifs.census as census

    stack = np.stack([dense(net) for net in batch])
    expected = motif4_census_many(stack)
    monkeypatch.setattr(census, "_F32_EXACT_N", 4)  # the path for n > 4096
    assert (motif4_census_many(stack) == expected).all()


def test_batched_signed_census_equals_per_graph(batch):
    n = batch[0].n_nodes
    for net in batch:
        per_graph = signed_triad_census(net)
        many = signed_triad_census_many(net.src, net.dst, net.sign[None], n)[0]
        assert many.tolist() == per_graph[list(SIGNED_TRIAD_NAMES)].tolist()
    # shared topology, many sign vectors (a sign shuffle)
    net = batch[0]
    rng = np.random.default_rng(0)
    signs = np.where(rng.random((4, net.n_edges)) < 0.5, -1, 1)
    many = signed_ffl_census_many(net.src, net.dst, signs, n)
    for i in range(4):
        shuffled = Network.from_edges(net.src, net.dst, n_nodes=n, sign=signs[i])
        assert many[i].tolist() == signed_ffl_census(shuffled).tolist()


def test_batched_cycles_equal_per_graph(batch):
    n = batch[0].n_nodes
    m = min(net.n_edges for net in batch)
    src = np.stack([net.src[:m] for net in batch])
    dst = np.stack([net.dst[:m] for net in batch])
    many = simple_cycles_count_many(src, dst, n, max_length=5)
    for i in range(len(batch)):
        single = Network.from_edges(src[i], dst[i], n_nodes=n)
        assert many[i].tolist() == simple_cycles_count(single, max_length=5).tolist()


# ------------------------------------------------------------ real graphs
@pytest.mark.parametrize("keep_errors", [False, True])
@pytest.mark.parametrize("name", SMALL_REAL)
def test_triad_and_size3_census_match_igraph_live_on_small_real_graphs(name, keep_errors):
    # every real graph is checked against igraph's stored counts below; these run it live
    net = real_network(name, keep_errors)
    reference = to_igraph(net)
    assert triad_census(net).tolist() == list(reference.triad_census())
    assert motif3_census(net)["count"].tolist() == igraph_motifs(net, 3).tolist()


@pytest.mark.parametrize("keep_errors", [False, True])
@pytest.mark.parametrize("name", SMALL_REAL)
def test_triad_census_matches_networkx_on_small_real_graphs(name, keep_errors):
    net = real_network(name, keep_errors)
    want = nx.triadic_census(to_networkx(net))
    assert triad_census(net).to_dict() == {k: want[k] for k in TRIAD_CODES}


@pytest.mark.parametrize("keep_errors", [False, True])
@pytest.mark.parametrize("name", SMALL_REAL)
def test_size4_census_matches_igraph_on_small_real_graphs(name, keep_errors):
    net = real_network(name, keep_errors)
    assert motif4_census(net)["count"].tolist() == igraph_motifs(net, 4).tolist()


@pytest.mark.parametrize("name", [n for n in REAL_GRAPHS if n not in SMALL_REAL])
def test_size4_census_matches_igraph_on_induced_pieces_of_real_graphs(name):
    # The 100 highest-numbered nodes keep each graph's layered structure
    # (late features and logits) at a size igraph counts quickly.
    net = real_network(name)
    keep = np.arange(net.n_nodes) >= net.n_nodes - 100
    edges = keep[net.src] & keep[net.dst]
    offset = net.n_nodes - keep.sum()
    piece = Network.from_edges(net.src[edges] - offset, net.dst[edges] - offset,
                               n_nodes=int(keep.sum()))
    assert motif4_census(piece)["count"].tolist() == igraph_motifs(piece, 4).tolist()


@pytest.mark.parametrize("keep_errors", [False, True])
@pytest.mark.parametrize("name", REAL_GRAPHS)
def test_census_matches_stored_igraph_references_on_every_real_graph(name, keep_errors):
    # igraph's size-4 census of the large graphs takes minutes: computed once by
    # tests/data/make_motif_references.py, keyed by the export's sha256
    reference = stored_reference(name, keep_errors)
    net = real_network(name, keep_errors)
    assert triad_census(net).tolist() == reference["triad_census"]
    assert motif3_census(net)["count"].tolist() == reference["motif3"]
    assert motif4_census(net)["count"].tolist() == reference["motif4"]


def test_stored_references_refuse_an_export_whose_bytes_changed(tmp_path):
    source = SHARED_GRAPHS / DALLAS
    stored_reference(DALLAS, False, folder=source.parent)  # the real file passes
    changed = tmp_path / DALLAS
    changed.write_bytes(source.read_bytes() + b"\n")
    with pytest.raises(pytest.fail.Exception, match="changed since its igraph reference"):
        stored_reference(DALLAS, False, folder=tmp_path)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        stored_reference(DALLAS, False, folder=tmp_path / "nowhere")


# -------------------------------------------------------------- validation
def test_batched_census_rejects_bad_input():
    with pytest.raises(MotifError, match="self-loop"):
        triad_census_many(np.eye(4, dtype=bool)[None])
    with pytest.raises(MotifError, match="shape"):
        motif4_census_many(np.zeros((2, 3, 4), dtype=bool))
    with pytest.raises(MotifError, match="0/1"):
        triad_census_many(np.full((1, 3, 3), 2))
    with pytest.raises(MotifError, match="square"):
        triad_census_many([sp.csr_matrix((3, 4))])
    with pytest.raises(MotifError, match="motifs.Network"):
        triad_census(np.zeros((3, 3)))
    with pytest.raises(MotifError, match="max_length"):
        simple_cycles_count(Network.from_edges([0], [1]), max_length=1)


def test_size4_census_of_dense_dags_counts_their_4_cliques_and_matches_igraph(monkeypatch):
    """Oriented samples without 3-cycles take the 4-clique shortcut (no path products);
    a batch with one 3-cycle anywhere takes the general path; both agree with igraph."""
    import motifs.census as census

    rng = np.random.default_rng(11)
    n = 16
    dags = np.triu(rng.random((3, n, n)) < 0.7, 1)  # dense: hundreds of 4-cliques each
    order = rng.permutation(n)
    dags = dags[:, order][:, :, order]  # not in topological order
    expected = [igraph_motifs(Network.from_edges(*np.nonzero(d), n_nodes=n), 4).tolist()
                for d in dags]
    with monkeypatch.context() as patch:
        patch.setattr(census, "_paths_through_links",
                      lambda *a: pytest.fail("a DAG batch took the path products"))
        assert motif4_census_many(dags).tolist() == expected
    cyclic = dags[0].copy()
    a, b, c = np.flatnonzero(cyclic.any(axis=0) & cyclic.any(axis=1))[:3]
    cyclic[[a, b, c, b, c, a], [b, c, a, a, b, c]] = [True, True, True, False, False, False]
    batch = np.stack([dags[1], cyclic])
    mixed = motif4_census_many(batch)
    assert mixed[0].tolist() == expected[1]
    assert mixed[1].tolist() == igraph_motifs(Network.from_edges(*np.nonzero(cyclic),
                                                                 n_nodes=n), 4).tolist()
