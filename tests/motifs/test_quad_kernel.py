"""The compiled link sums of the size-4 census (motifs/_kernels.c: quad_row_links,
quad_link_sums) against the numpy path they replace for oriented samples, igraph
and hand-counted graphs."""

from __future__ import annotations

import numpy as np
import pytest

import motifs.census as census
from motifs.census import dyad_states, motif4_census_many
from motifs.network import Network
from motifs.nulls import sample_nulls
from tests.motifs.conftest import DALLAS, to_igraph
from tests.motifs.test_census import igraph_motifs

pytestmark = pytest.mark.skipif(census._kernel is None, reason="the C extension is not built")

#: Real graphs whose null samples both paths count in well under a second.
REAL = [DALLAS, "IamKrill1n__circuit-tracer__meow-clt.json",
        "IamKrill1n__circuit-tracer__dallas-austin.json",  # 206 nodes, 7,652 edges
        "IamKrill1n__circuit-tracer__bee-insect-clt.json"]


def oriented(rng: np.random.Generator, n_samples: int, n: int, density: float,
             acyclic: bool) -> np.ndarray:
    """(S, n, n) bool oriented graphs: each node pair linked with probability
    ``density`` in one direction; DAGs (nodes shuffled out of topological order)
    or random directions (3-cycles included)."""
    upper = np.triu(rng.random((n_samples, n, n)) < density, 1)
    if acyclic:
        order = rng.permutation(n)
        return upper[:, order][:, :, order]
    flip = rng.random((n_samples, n, n)) < 0.5
    return (upper & ~flip) | np.swapaxes(upper & flip, 1, 2)


def both_paths(batch: np.ndarray, monkeypatch) -> tuple[np.ndarray, np.ndarray]:
    """The census by the compiled kernels (which must run) and by the numpy path."""
    with monkeypatch.context() as patch:
        patch.setattr(census, "_linked_pairs",
                      lambda *a: pytest.fail("an oriented batch listed its links in numpy"))
        compiled = motif4_census_many(batch)
    with monkeypatch.context() as patch:
        patch.setattr(census, "_kernel", None)
        numpy_path = motif4_census_many(batch)
    return compiled, numpy_path


@pytest.mark.parametrize("acyclic", [True, False])
@pytest.mark.parametrize("n, density", [(4, 0.9), (7, 0.5), (63, 0.3), (64, 0.15), (65, 0.6),
                                        (130, 0.05), (150, 0.25)])
def test_compiled_size4_census_equals_the_numpy_path_on_random_oriented_graphs(
        n, density, acyclic, monkeypatch):
    rng = np.random.default_rng(n * 10 + acyclic)
    batch = oriented(rng, 3, n, density, acyclic)
    batch[0, : n // 3] = False  # nodes without out-edges ...
    batch[0, :, : n // 3] = False  # ... and isolated ones: empty rows
    batch[1] = False
    batch[1, n - 1, 0] = True  # a single edge
    compiled, numpy_path = both_paths(batch, monkeypatch)
    assert (compiled == numpy_path).all()
    assert compiled[1].sum() == 0 and compiled[2].sum() > 0


@pytest.mark.parametrize("dtype_n", [None, 4])
def test_sparse_state_products_give_the_dense_products_counts(dtype_n, monkeypatch):
    """Sparse samples multiply D_x per sample as CSR matrices: the same counts as the
    batched BLAS products, in float32 and float64 (every sample sparse, then none)."""
    rng = np.random.default_rng(17)
    batch = np.concatenate([oriented(rng, 2, 90, 0.04, acyclic=True),
                            oriented(rng, 1, 90, 0.05, acyclic=False)])
    if dtype_n:
        monkeypatch.setattr(census, "_F32_EXACT_N", dtype_n)
    calls = []
    real_sparse = census._sparse_states
    monkeypatch.setattr(census, "_sparse_states", lambda *a: calls.append(1) or real_sparse(*a))
    monkeypatch.setattr(census, "_SPARSE_DENSITY", 1.0)
    sparse = motif4_census_many(batch)
    assert calls
    monkeypatch.setattr(census, "_SPARSE_DENSITY", 0.0)
    calls.clear()
    dense = motif4_census_many(batch)
    assert not calls and (sparse == dense).all() and sparse.sum() > 0


def test_compiled_size4_census_equals_the_numpy_path_in_float64(monkeypatch):
    rng = np.random.default_rng(5)
    batch = oriented(rng, 2, 70, 0.4, acyclic=False)
    monkeypatch.setattr(census, "_F32_EXACT_N", 4)  # the path for n > 4096: float64 products
    compiled, numpy_path = both_paths(batch, monkeypatch)
    assert (compiled == numpy_path).all()


@pytest.mark.parametrize("model", ["causal-config", "config"])
@pytest.mark.parametrize("name", REAL)
def test_compiled_size4_census_equals_the_numpy_path_on_real_null_samples(
        name, model, monkeypatch):
    from tests.motifs.conftest import real_network

    net = real_network(name)
    batch = np.concatenate([net.dense_adjacency()[None],
                            sample_nulls(net, model, 2, seed=3).adjacency_dense()])
    assert not (batch & np.swapaxes(batch, 1, 2)).any()  # oriented: the compiled path
    compiled, numpy_path = both_paths(batch, monkeypatch)
    assert (compiled == numpy_path).all()


def test_compiled_size4_census_matches_igraph_on_small_random_dags():
    rng = np.random.default_rng(21)
    for n, density in [(9, 0.6), (20, 0.35), (40, 0.15)]:
        dags = oriented(rng, 2, n, density, acyclic=True)
        expected = [np.array(to_igraph(Network.from_edges(*np.nonzero(d), n_nodes=n))
                             .motifs_randesu(size=4), dtype=float) for d in dags]
        got = motif4_census_many(dags)
        for row, want in zip(got, expected):
            assert row.tolist() == want[census.connected_isoclasses(4)].astype(int).tolist()
    cyclic = oriented(rng, 1, 20, 0.4, acyclic=False)[0]
    net = Network.from_edges(*np.nonzero(cyclic), n_nodes=20)
    assert motif4_census_many(cyclic[None])[0].tolist() == igraph_motifs(net, 4).tolist()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quad_kernels_count_a_hand_built_tournament(dtype):
    """Edges 0->1, 0->2, 2->1, 3->0, 3->1, 2->3 (every pair linked, 3-cycle 0->2->3).
    A link (row a -> b, common neighbour c) has type 2[c -> a] + [c -> b]; counted by
    hand: row 0->1 has c = 2 (2->1: type 1) and c = 3 (3->0, 3->1: type 3)."""
    n = 4
    adj = np.zeros((1, n, n), dtype=bool)
    adj[0, [0, 0, 2, 3, 3, 2], [1, 2, 1, 0, 1, 3]] = True
    states = dyad_states(adj)
    out_bits, in_bits = census._bitsets(states == 1), census._bitsets(states == 2)
    per_row = np.empty((6, 4), dtype=np.int64)
    census._kernel.quad_row_links(n, out_bits, in_bits, per_row)
    # rows (0,1) (0,2) (2,1) (2,3) (3,0) (3,1), as numpy.nonzero lists them
    assert per_row.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1],
                                [1, 0, 1, 0], [1, 0, 1, 0], [0, 1, 0, 1]]
    node = np.arange(n, dtype=dtype)
    packed = np.zeros((1, n, n, 4), dtype=dtype)
    packed[0, :, :, 0] = 10 * node[:, None] + node[None, :]  # 10 row + c
    packed[0, :, :, 3] = 1.0  # one per link
    nodes = np.zeros((1, n, 4), dtype=dtype)
    nodes[0, :, 1] = node ** 2  # c^2 wherever the row is
    sums = np.empty((1, 3, 4, 4), dtype=np.int64)
    linked = np.empty((1, 4, 4), dtype=np.int64)
    census._kernel.quad_link_sums(n, out_bits, in_bits, packed, nodes, sums, linked)
    # type 0 links: c = 1 in rows (0,2), (2,3), (3,0): 10 (0 + 2 + 3) + 3 along a, the same
    # along b (b = 2, 3, 0); type 1: c = 2, 3, 0 in rows (0,1), (2,1), (3,1): 55 along a,
    # 10 (1 + 1 + 1) + 5 along b; a channel of ones counts each type's links
    assert sums[0, 0, 0].tolist() == [53, 55, 55, 55]
    assert sums[0, 1, 0].tolist() == [53, 35, 55, 35]
    assert sums[0, 0, 3].tolist() == sums[0, 1, 3].tolist() == per_row.sum(axis=0).tolist()
    # node values: c^2 summed by type; c = 1 (type 0) three times, c = 2, 3, 0 for type 1
    assert sums[0, 2, 1, :2].tolist() == [3, 13]
    assert not sums[0, :2, 1:3].any() and not sums[0, 2, [0, 2, 3]].any()
    # paths c -> d between common neighbours: 2->3, 3->0, 0->2 from type 1 to type 3
    # (rows (0,1), (2,1), (3,1)); 3->1, 0->1, 2->1 from type 2 to type 0
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[3, 1] = expected[0, 2] = 3
    assert linked[0].tolist() == expected.tolist()


def test_quad_kernels_count_4_cliques_of_a_sample_without_3_cycles():
    """The transitive tournament 0 < 1 < 2 < 3 and a node 4 linked to 0 and 3 (0->4->3):
    one 4-clique, seen once from each of its six edges, in the six cells of the
    numpy path's _TT4_LINKED; a second sample, the same with 3->0 (3-cycles), counts
    its paths one by one."""
    n = 5
    adj = np.zeros((2, n, n), dtype=bool)
    for i in range(4):
        adj[:, i, i + 1:4] = True
    adj[:, [0, 4], [4, 3]] = True
    adj[1, 0, 3], adj[1, 3, 0] = False, True
    states = dyad_states(adj)
    out_bits, in_bits = census._bitsets(states == 1), census._bitsets(states == 2)
    sums = np.empty((2, 3, 4, 4), dtype=np.int64)
    linked = np.empty((2, 4, 4), dtype=np.int64)
    census._kernel.quad_link_sums(n, out_bits, in_bits, np.zeros((2, n, n, 4)),
                                  np.zeros((2, n, 4)), sums, linked)
    assert linked[0].tolist() == census._TT4_LINKED.astype(int).tolist()
    # sample 1 (row 1->2: c = 0 of type 3, c = 3 of type 0, path 3->0 at [3, 0]): every
    # path c -> d between two common neighbours of an edge, counted one by one
    expected = np.zeros((4, 4), dtype=np.int64)
    for a, b in zip(*np.nonzero(adj[1])):
        common = [c for c in range(n) if states[1, a, c] and states[1, b, c]]
        kind = {c: 2 * int(adj[1, c, a]) + int(adj[1, c, b]) for c in common}
        for c in common:
            for d in common:
                expected[kind[d], kind[c]] += adj[1, c, d]
    assert linked[1].tolist() == expected.tolist() and expected.sum() > 0


def test_quad_kernels_reject_mis_sized_buffers():
    bits = np.zeros((1, 5, 1), dtype=np.uint64)
    with pytest.raises(ValueError, match="out must be"):
        census._kernel.quad_row_links(5, bits, bits, np.empty((1, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="out_bits and in_bits"):
        census._kernel.quad_row_links(6, bits, bits, np.empty((0, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="both float32 or both float64"):
        census._kernel.quad_link_sums(5, bits, bits, np.zeros((1, 5, 5, 4), np.int16),
                                      np.zeros((1, 5, 4), np.int16),
                                      np.empty((1, 3, 4, 4), np.int64),
                                      np.empty((1, 4, 4), np.int64))
    with pytest.raises(ValueError, match="both float32 or both float64"):
        census._kernel.quad_link_sums(5, bits, bits, np.zeros((1, 5, 5, 4), np.float32),
                                      np.zeros((1, 5, 4), np.float64),
                                      np.empty((1, 3, 4, 4), np.int64),
                                      np.empty((1, 4, 4), np.int64))
    with pytest.raises(ValueError, match="sums"):
        census._kernel.quad_link_sums(5, bits, bits, np.zeros((1, 5, 5, 4), np.float32),
                                      np.zeros((1, 5, 4), np.float32),
                                      np.empty((1, 2, 4, 4), np.int64),
                                      np.empty((1, 4, 4), np.int64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5, 31, 32, 33, 64, 100])
def test_csr_row_sums_equal_a_dense_product(k, dtype):
    """Row sums of a 0/1 CSR matrix (empty rows, repeated columns across rows) against
    the dense product; widths below, at and past the 32-column tile (whose last tile
    overlaps the one before it)."""
    rng = np.random.default_rng(k)
    ones = rng.random((40, 30)) < 0.3
    ones[[3, 17]] = False  # rows without an edge
    rows, cols = np.nonzero(ones)
    indptr = np.zeros(41, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=40), out=indptr[1:])
    mat = rng.integers(0, 1000, (30, k)).astype(dtype)
    out = np.full((40, k), np.nan, dtype=dtype)
    census._kernel.csr_row_sums(k, indptr, cols.astype(np.int64), mat, out)
    assert np.array_equal(out, ones.astype(dtype) @ mat)


def test_sparse_states_give_the_block_diagonal_state_matrices():
    """Two samples of 4 nodes: the CSR rows of D_1 and D_2 = D_1^T, block s at [4 s, 4 s + 4)."""
    adj = np.zeros((2, 4, 4), dtype=bool)
    adj[0, [0, 0, 2], [1, 3, 1]] = True
    adj[1, [3, 1], [0, 0]] = True
    row_s, row_a, row_b = np.nonzero(adj)
    csr = census._sparse_states(4, 2, row_s, row_a, row_b)
    for state, dense in ((1, adj), (2, np.swapaxes(adj, 1, 2))):
        indptr, indices = csr[state]
        block = np.zeros((8, 8), dtype=bool)
        block[:4, :4], block[4:, 4:] = dense
        rebuilt = np.zeros((8, 8), dtype=bool)
        rebuilt[np.repeat(np.arange(8), np.diff(indptr)), indices] = True
        assert np.array_equal(rebuilt, block) and indptr[-1] == block.sum()


def test_csr_row_sums_reject_bad_buffers():
    indptr, indices = np.array([0, 1, 2]), np.array([0, 5])
    mat, out = np.zeros((3, 4), np.float32), np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="index 5 outside mat's 3 rows"):
        census._kernel.csr_row_sums(4, indptr, indices, mat, out)
    with pytest.raises(ValueError, match="both float32 or both float64"):
        census._kernel.csr_row_sums(4, indptr, np.array([0, 1]), mat, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="indptr must run from 0 to 2"):
        census._kernel.csr_row_sums(4, np.array([0, 1, 3]), np.array([0, 1]), mat, out)
    with pytest.raises(ValueError, match="mat must be float32 or float64"):
        census._kernel.csr_row_sums(4, indptr, np.array([0, 1]), mat.astype(np.int32), out)
    # a float32 matrix of twice the rows has the bytes of the float64 one: the format decides
    with pytest.raises(ValueError, match="both float32 or both float64"):
        census._kernel.csr_row_sums(4, indptr, np.array([0, 1]), np.zeros((4, 4), np.float32),
                                    np.zeros((2, 4)))
