"""The fast paths of issue #15 against the slow ones they replace.

* the compiled full triad census (graphs with mutual dyads) against igraph
  and the sparse census of :func:`triad_census_many`;
* the direct G(n, m) Erdos-Renyi sampler against the sort-based sampler it
  replaced (:func:`motifs.nulls._random_cells` with one block): the same null
  distribution of every triad class within sampling error.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from motifs.census import triad_census_edges, triad_census_many
from motifs.compiled import kernels
from motifs.network import Network
from motifs.nulls import _random_cells, sample_nulls

needs_kernels = pytest.mark.skipif(kernels is None, reason="compiled kernels not built")


def _random_edges(n: int, m: int, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, m) edge sets of random simple digraphs, mutual dyads included."""
    rng = np.random.default_rng(seed)
    cells = np.stack([rng.choice(n * (n - 1), size=m, replace=False) for _ in range(n_samples)])
    src, col = np.divmod(cells, n - 1)
    return src, col + (col >= src)


@needs_kernels
@pytest.mark.parametrize("n, m", [(5, 12), (64, 400), (130, 2000)])
def test_compiled_full_census_matches_igraph_and_sparse(n: int, m: int) -> None:
    igraph = pytest.importorskip("igraph")
    src, dst = _random_edges(n, m, 6, seed=n)
    assert (src != dst).all()
    fast = triad_census_edges(src, dst, n)
    sparse = triad_census_many([sp.csr_matrix((np.ones(m, np.int8), (s, d)), shape=(n, n))
                                for s, d in zip(src, dst)])
    np.testing.assert_array_equal(fast, sparse)
    for s, d, row in zip(src, dst, fast):
        g = igraph.Graph(n=n, edges=list(zip(s.tolist(), d.tolist())), directed=True)
        assert list(g.triad_census()) == row.tolist()
    assert fast[:, 2].sum() > 0  # mutual dyads were there to count


@needs_kernels
def test_compiled_full_census_on_a_hand_counted_graph() -> None:
    # 0<->1 mutual, 1->2, 2->0: triad {0,1,2} is 120C (igraph agrees); with the
    # isolated node 3, {0,1,3} holds the mutual dyad (102), {0,2,3} and {1,2,3} one
    # single edge each (012)
    src, dst = np.array([[0, 1, 1, 2]]), np.array([[1, 0, 2, 0]])
    census = dict(zip(("003", "012", "102", "021D", "021U", "021C", "111D", "111U", "030T",
                       "030C", "201", "120D", "120U", "120C", "210", "300"),
                      triad_census_edges(src, dst, 4)[0].tolist()))
    assert census["120C"] == 1 and census["102"] == 1 and census["012"] == 2
    assert sum(census.values()) == 4


def _er_by_sorting(net: Network, n_samples: int, seed: int) -> np.ndarray:
    """The replaced sampler: rank random keys over all off-diagonal cells."""
    n = net.n_nodes
    cells = np.flatnonzero(~np.eye(n, dtype=bool).ravel())
    picked, _ = _random_cells(np.zeros(cells.size, dtype=np.int64), np.array([net.n_edges]),
                              n_samples, np.random.default_rng(seed))
    chosen = cells[picked]
    return triad_census_edges(chosen // n, chosen % n, n)


def test_direct_er_has_the_null_distribution_of_the_sorting_sampler() -> None:
    rng = np.random.default_rng(3)
    n, m = 40, 300
    cells = rng.choice(n * (n - 1), size=m, replace=False)
    row, col = np.divmod(cells, n - 1)
    net = Network.from_edges(row, col + (col >= row), n_nodes=n)
    nulls = sample_nulls(net, "er", 600, seed=5)
    keys = nulls.src.astype(np.int64) * n + nulls.dst
    assert all(np.unique(k).size == m for k in keys) and (nulls.src != nulls.dst).all()
    fast = triad_census_edges(nulls.src, nulls.dst, n)
    slow = _er_by_sorting(net, 600, seed=6)
    sd = np.sqrt((fast.var(axis=0) + slow.var(axis=0)) / 600)
    live = sd > 0
    z = np.abs(fast.mean(axis=0) - slow.mean(axis=0))[live] / sd[live]
    assert z.max() < 4.5, z
    # every ordered pair of distinct nodes is equally likely: m / (n (n - 1)) each
    hits = np.bincount(keys.ravel(), minlength=n * n).reshape(n, n)
    assert hits.trace() == 0
    off = hits[~np.eye(n, dtype=bool)]
    expected = 600 * m / (n * (n - 1))
    assert abs(off.mean() - expected) < 1e-9 and off.std() < 3 * np.sqrt(expected)


def test_spelled_out_triad_isoclasses_are_igraphs() -> None:
    igraph = pytest.importorskip("igraph")
    from motifs.catalog import TRIAD_EDGES, TRIAD_ISOCLASS, _is_connected, isoclass_table

    for man, iso in TRIAD_ISOCLASS.items():
        g = igraph.Graph(n=3, edges=list(TRIAD_EDGES[man]), directed=True)
        assert g.isoclass() == iso, man
        assert _is_connected(3)[iso] == g.is_connected(mode="weak")
    for code in range(64):
        edges = [pair for bit, pair in enumerate(((0, 1), (0, 2), (1, 0), (1, 2), (2, 0),
                                                  (2, 1))) if code >> bit & 1]
        assert isoclass_table(3)[code] == igraph.Graph(n=3, edges=edges,
                                                       directed=True).isoclass()
