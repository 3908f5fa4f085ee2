"""Motif counting: triad census, 3- and 4-node classes, named and signed motifs.

Everything here is matrix algebra over *dyad-state* indicator matrices: for an
ordered node pair (u, v) the state is 0 (no edge), 1 (u -> v only), 2
(v -> u only) or 3 (mutual). A triad's class is a function of its three dyad
states and a quad's of its six, so counting classes reduces to counting
ordered node tuples by their dyad states, which products of the indicator
matrices do without visiting triads or quads one by one.

Counts are of *induced* subgraphs (the convention of the triad census,
mfinder, FANMOD and ``igraph.motifs_randesu``): a feed-forward loop is a
triple whose three dyads are exactly X->Y, Y->Z, X->Z.

Batched functions (``*_many``) take null samples as a (S, n, n) bool array
and run as stacked matrix products over the sample axis.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import numpy as np

from motifs.catalog import (
    FFL_SIGN_TYPES,
    FFL_UNSIGNED,
    NAMED_CENSUS_NAMES,
    NAMED_MOTIFS,
    NAMED_TRIADS,
    ORDERED_PAIRS,
    SIGNED_TRIAD_NAMES,
    SIGNED_TWO_EDGE_TYPES,
    TRIAD_CODES,
    connected_isoclasses,
    edges_to_code,
    isoclass_table,
    motif_classes,
    triad_code_table,
)
from motifs.compiled import kernels as _kernel
from motifs.errors import MotifError
from motifs.network import Network

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

def _scipy_sparse() -> Any:
    """scipy.sparse, imported at first use: about 0.1 s of start-up that the dense and
    compiled paths (every ``cgram motifs`` run on an attribution graph) never need."""
    import scipy.sparse

    return scipy.sparse


#: Dyad state of the reversed pair: 0 <-> 0, 1 <-> 2, 3 <-> 3.
_REVERSED_STATE = np.array([0, 2, 1, 3])

#: Working-memory budget (bytes) of one block of the size-4 census.
_QUAD_BLOCK_BYTES = 48 * 2**20

#: Largest exact integer in float32: partial sums of one BLAS call stay below it.
_F32_EXACT = 2**24

#: Below this many columns per exact float32 piece, weighted sums cast to float64 instead.
_MIN_F32_PIECE = 4096

#: Largest n whose size-4 products (entries up to n^2) are exact in float32.
_F32_EXACT_N = 4096
#: Values per node pair the compiled link sums read together (motifs/_kernels.c QUAD_WIDTH).
_PACKED_WIDTH = 4


# ------------------------------------------------------------ validation
def _check_network(net: Network, name: str = "net") -> Network:
    if not isinstance(net, Network):
        raise MotifError(f"{name} must be a motifs.Network, got {type(net).__name__}")
    return net


def _as_batch(adjacency, name: str = "adjacency") -> np.ndarray:
    """(S, n, n) bool from a bool/0-1 array; rejects self-loops."""
    arr = np.asarray(adjacency)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise MotifError(f"{name} must have shape (S, n, n), got {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise MotifError(f"{name} must hold 0/1 entries")
        arr = arr.astype(bool)
    if arr.shape[1] and np.diagonal(arr, axis1=1, axis2=2).any():
        sample = int(np.flatnonzero(np.diagonal(arr, axis1=1, axis2=2).any(axis=1))[0])
        raise MotifError(f"{name}[{sample}] has a self-loop; motif classes need simple graphs")
    return arr


def _as_csr_list(adjacency, name: str = "adjacency") -> list[sp.csr_matrix]:
    sp = _scipy_sparse()
    mats = []
    for i, mat in enumerate(adjacency):
        if not sp.issparse(mat) or mat.ndim != 2 or mat.shape[0] != mat.shape[1]:
            raise MotifError(f"{name}[{i}] must be a square scipy.sparse matrix")
        mat = sp.csr_matrix(mat, dtype=np.int8)
        mat.data[:] = 1
        mat.eliminate_zeros()
        if mat.diagonal().any():
            raise MotifError(f"{name}[{i}] has a self-loop; motif classes need simple graphs")
        mats.append(mat)
    return mats


def _is_sparse_list(adjacency) -> bool:
    if not isinstance(adjacency, (list, tuple)):
        return False
    sp = _scipy_sparse()
    return all(sp.issparse(m) for m in adjacency)


# ---------------------------------------------------------- dyad states
def dyad_states(adjacency: np.ndarray) -> np.ndarray:
    """(S, n, n) int8 dyad states: 0 none, 1 forward only, 2 backward only, 3 mutual.

    Examples
    --------
    >>> a = np.zeros((3, 3), bool); a[0, 1] = a[1, 0] = a[1, 2] = True
    >>> dyad_states(a[None])[0].tolist()
    [[0, 3, 0], [3, 0, 1], [0, 2, 0]]
    """
    a = np.asarray(adjacency, dtype=bool)
    return np.ascontiguousarray(a.astype(np.int8) + 2 * np.swapaxes(a, -1, -2).astype(np.int8))


def _sparse_state_matrices(adj: sp.csr_matrix) -> dict[int, sp.csr_matrix]:
    """Indicator matrices (float64 CSR) of the non-empty states 1, 2, 3."""
    sp = _scipy_sparse()
    a = sp.csr_matrix(adj, dtype=np.float64)
    mutual = a.multiply(a.T).tocsr()
    forward = (a - mutual).tocsr()
    forward.eliminate_zeros()
    return {1: forward, 2: forward.T.tocsr(), 3: mutual}


# --------------------------------------------------------- triad census
def _triad_label_codes() -> np.ndarray:
    """(4, 4, 4) labelled 6-bit code of a triad with states (s_ab, s_ac, s_bc)."""
    x, y, z = np.meshgrid(np.arange(4), np.arange(4), np.arange(4), indexing="ij")
    bit = {pair: b for b, pair in enumerate(ORDERED_PAIRS[3])}
    code = np.zeros((4, 4, 4), dtype=np.int64)
    for state, (i, j) in ((x, (0, 1)), (y, (0, 2)), (z, (1, 2))):
        code |= (state & 1) << bit[(i, j)]
        code |= (state >> 1) << bit[(j, i)]
    return code


def _triad_cells(out_deg: np.ndarray, in_deg: np.ndarray, n: int,
                 full: np.ndarray) -> np.ndarray:
    """Ordered-triple counts by dyad states from the all-adjacent cells.

    Parameters
    ----------
    out_deg, in_deg : (S, 4, n) int64
        Row and column sums of the indicator matrix of each state 1..3
        (slot 0 is ignored and rebuilt here).
    n : int
    full : (S, 4, 4, 4) int64
        ``full[:, x, y, z]`` for x, y, z in 1..3:
        sum over (a, b) of D_x[a, b] * (D_y @ D_z.T)[a, b].

    Returns
    -------
    (S, 4, 4, 4) int64
        ``cells[:, x, y, z]`` = number of ordered distinct (a, b, c) with
        states s_ab = x, s_ac = y, s_bc = z. The cells with a 0 state follow
        by inclusion-exclusion from two-pair marginals (degree products).
    """
    out_deg = out_deg.copy()
    in_deg = in_deg.copy()
    adjacent = out_deg[:, 1:].sum(axis=1)
    out_deg[:, 0] = n - 1 - adjacent
    in_deg[:, 0] = out_deg[:, 0]
    n_pairs = out_deg.sum(axis=2)  # (S, 4): ordered pairs per state
    eye = np.eye(4, dtype=bool)
    rev = _REVERSED_STATE[:, None] == np.arange(4)[None, :]  # rev[x, z]: z is x reversed
    # Two dyads of one triple sharing a node; the subtracted term removes the
    # degenerate tuples where the two outer nodes coincide.
    m_ab_ac = np.einsum("sxn,syn->sxy", out_deg, out_deg) - eye * n_pairs[:, :, None]
    m_ac_bc = np.einsum("syn,szn->syz", in_deg, in_deg) - eye * n_pairs[:, :, None]
    m_ab_bc = np.einsum("sxn,szn->sxz", in_deg, out_deg) - rev * n_pairs[:, :, None]

    cells = np.zeros_like(full)
    nz = slice(1, 4)
    cells[:, nz, nz, nz] = full[:, nz, nz, nz]
    cells[:, 0, nz, nz] = m_ac_bc[:, nz, nz] - cells[:, nz, nz, nz].sum(axis=1)
    cells[:, nz, 0, nz] = m_ab_bc[:, nz, nz] - cells[:, nz, nz, nz].sum(axis=2)
    cells[:, nz, nz, 0] = m_ab_ac[:, nz, nz] - cells[:, nz, nz, nz].sum(axis=3)
    cells[:, 0, 0, nz] = m_ab_bc[:, 0, nz] - cells[:, 0, nz, nz].sum(axis=1)
    cells[:, 0, nz, 0] = m_ab_ac[:, 0, nz] - cells[:, 0, nz, nz].sum(axis=2)
    cells[:, nz, 0, 0] = m_ab_ac[:, nz, 0] - cells[:, nz, 0, nz].sum(axis=2)
    cells[:, 0, 0, 0] = n * (n - 1) * (n - 2) - cells.reshape(len(cells), -1).sum(axis=1)
    return cells


def _triad_cells_dense(batch: np.ndarray) -> np.ndarray:
    """(S, 4, 4, 4) int64 ordered-triple cells of a (S, n, n) bool batch."""
    n_samples, n = batch.shape[0], batch.shape[1]
    states = dyad_states(batch)
    present = [s for s in (1, 2, 3) if (states == s).any()]
    ind = {s: (states == s).astype(np.float32) for s in present}
    out_deg = np.zeros((n_samples, 4, n), dtype=np.int64)
    in_deg = np.zeros((n_samples, 4, n), dtype=np.int64)
    for s in present:
        out_deg[:, s] = ind[s].sum(axis=2)
        in_deg[:, s] = ind[s].sum(axis=1)
    full = np.zeros((n_samples, 4, 4, 4), dtype=np.int64)
    if 3 not in present:
        # No mutual dyad in any sample: D_2 = D_1^T = A^T, and every ordered
        # triple of three adjacent nodes is a transitive triple or a cycle, so
        # one product A @ A gives all eight cells: each transitive triple
        # shows as each of the six acyclic patterns once, each 3-cycle as the
        # two cyclic ones, three times each.
        adj = batch.astype(np.float32)
        paths = np.matmul(adj, adj)
        transitive = np.rint((adj * paths).sum(axis=(1, 2), dtype=np.float64)).astype(np.int64)
        cyclic = np.rint((np.swapaxes(adj, 1, 2) * paths).sum(axis=(1, 2), dtype=np.float64)
                         ).astype(np.int64)
        full[:, 1:3, 1:3, 1:3] = transitive[:, None, None, None]
        full[:, 1, 2, 1] = full[:, 2, 1, 2] = cyclic
        return _triad_cells(out_deg, in_deg, n, full)
    for y in present:
        for z in present:
            # (D_y D_z^T)[a, b] = #c with s_ac = y, s_bc = z; entries <= n are
            # exact in float32, the sums below run in float64.
            # numpy runs stacked matmul through BLAS only on C-contiguous operands
            paths = np.matmul(ind[y], np.ascontiguousarray(np.swapaxes(ind[z], 1, 2)))
            for x in present:
                full[:, x, y, z] = np.rint(
                    (ind[x] * paths).sum(axis=(1, 2), dtype=np.float64)).astype(np.int64)
    return _triad_cells(out_deg, in_deg, n, full)


def _triad_cells_sparse(adj: sp.csr_matrix) -> np.ndarray:
    """(4, 4, 4) int64 ordered-triple cells of one sparse adjacency."""
    n = adj.shape[0]
    ind = _sparse_state_matrices(adj)
    present = [s for s in (1, 2, 3) if ind[s].nnz]
    out_deg = np.zeros((1, 4, n), dtype=np.int64)
    in_deg = np.zeros((1, 4, n), dtype=np.int64)
    for s in present:
        out_deg[0, s] = np.asarray(ind[s].sum(axis=1)).ravel()
        in_deg[0, s] = np.asarray(ind[s].sum(axis=0)).ravel()
    full = np.zeros((1, 4, 4, 4), dtype=np.int64)
    for y in present:
        for z in present:
            paths = ind[y] @ ind[z].T
            for x in present:
                full[0, x, y, z] = int(round(ind[x].multiply(paths).sum()))
    return _triad_cells(out_deg, in_deg, n, full)[0]


@functools.lru_cache(maxsize=None)
def _triad_projection() -> tuple[np.ndarray, np.ndarray]:
    """(64, 16) MAN-code and (64, 16) isoclass one-hot maps of triad cells."""
    codes = _triad_label_codes().ravel()
    man = np.zeros((64, 16), dtype=np.int64)
    man[np.arange(64), triad_code_table()[codes]] = 1
    iso = np.zeros((64, 16), dtype=np.int64)
    iso[np.arange(64), isoclass_table(3)[codes]] = 1
    return man, iso


def _triad_cells_any(adjacency) -> np.ndarray:
    if _is_sparse_list(adjacency):
        mats = _as_csr_list(adjacency)
        return np.stack([_triad_cells_sparse(m) for m in mats]) if mats else \
            np.zeros((0, 4, 4, 4), dtype=np.int64)
    return _triad_cells_dense(_as_batch(adjacency))


def triad_census_many(adjacency) -> np.ndarray:
    """Triad census of many graphs at once.

    Parameters
    ----------
    adjacency : (S, n, n) bool array, or a list of square scipy.sparse matrices
        One adjacency per sample (no self-loops). Use the sparse list for
        large sparse graphs (n beyond about a thousand).

    Returns
    -------
    (S, 16) int64
        Counts in :data:`motifs.catalog.TRIAD_CODES` order.

    Notes
    -----
    Dense path: per sample, one float32 matrix product per pair of present
    non-empty dyad states (4 for a DAG, at most 9), so O(S n^3) work run by
    BLAS over the stacked samples; every cell with an empty dyad follows from
    degree products by inclusion-exclusion and ``003`` from the total
    n(n-1)(n-2)/6. Sparse path: the same with sparse products,
    O(sum over nodes of degree^2) per graph.

    References
    ----------
    Holland, P. W. & Leinhardt, S. (1976). Local structure in social networks.
    Batagelj, V. & Mrvar, A. (2001). A subquadratic triad census algorithm for
    large sparse networks with small maximum degree. Social Networks 23:237.

    Examples
    --------
    >>> a = np.zeros((2, 4, 4), bool)
    >>> a[0, 0, 1] = a[0, 1, 2] = a[0, 0, 2] = True   # one feed-forward loop
    >>> a[1, 0, 1] = a[1, 1, 2] = a[1, 2, 0] = True   # one 3-cycle
    >>> census = triad_census_many(a)
    >>> dict(zip(TRIAD_CODES, census[0].tolist()))["030T"], int(census[0].sum())
    (1, 4)
    >>> dict(zip(TRIAD_CODES, census[1].tolist()))["030C"]
    1
    """
    cells = _triad_cells_any(adjacency)
    man, _ = _triad_projection()
    return cells.reshape(len(cells), 64) @ man // 6


def triad_census_edges(src: np.ndarray, dst: np.ndarray, n_nodes: int) -> np.ndarray:
    """Triad census of many graphs given as edge arrays (null samples).

    Parameters
    ----------
    src, dst : (S, m) int arrays
        Edges of each graph (no self-loops or repeated edges).
    n_nodes : int

    Returns
    -------
    (S, 16) int64
        Counts in :data:`motifs.catalog.TRIAD_CODES` order, equal to
        :func:`triad_census_many` of the same graphs.

    Notes
    -----
    Without mutual dyads (attribution graphs and their order-keeping nulls)
    a triad has at most three single edges, and the census follows from the
    degrees and two numbers per graph: ``T`` transitive triples and ``C``
    3-cycles. With ``k_v`` out- and ``l_v`` in-degrees, 021D = sum C(k_v, 2)
    - T, 021U = sum C(l_v, 2) - T, 021C = sum k_v l_v - T - 3C, and 012 =
    m(n - 2) - 2(021D + 021U + 021C) - 3(T + C) (each edge meets each third
    node once). ``T`` and ``C`` take one bitset popcount per edge and
    64-node word in compiled code, O(S m n / 64). Graphs with a mutual dyad
    (Erdos-Renyi samples) take the compiled census of Batagelj & Mrvar
    (2001) on bitsets, O(S m (n / 64 + d)) for neighbourhoods of size d; an
    install without the compiled kernels takes the sparse path of
    :func:`triad_census_many`.

    Examples
    --------
    >>> src = np.array([[0, 0, 1], [0, 1, 2]]); dst = np.array([[1, 2, 2], [1, 2, 0]])
    >>> census = triad_census_edges(src, dst, 4)
    >>> [dict(zip(TRIAD_CODES, row))[code] for row, code in zip(census.tolist(), ["030T", "030C"])]
    [1, 1]
    """
    src = np.ascontiguousarray(src, dtype=np.int64)
    dst = np.ascontiguousarray(dst, dtype=np.int64)
    n_samples, m = src.shape
    n = int(n_nodes)
    counts = None
    if _kernel is not None and m:
        counts = np.zeros((n_samples, 3), dtype=np.int64)
        _kernel.triangle_counts(n, m, src, dst, counts)
    if counts is not None and counts[:, 2].any():
        full = np.zeros((n_samples, 16), dtype=np.int64)
        _kernel.triad_census_full(n, m, src, dst, full)
        return full
    if counts is None:
        sp = _scipy_sparse()
        mats = [sp.csr_matrix((np.ones(m, dtype=np.int8), (src[s], dst[s])), shape=(n, n))
                for s in range(n_samples)]
        return triad_census_many(mats) if mats else np.zeros((0, 16), dtype=np.int64)
    transitive, cycles = counts[:, 0], counts[:, 1] // 3
    rows = np.repeat(np.arange(n_samples), m)
    out_deg = np.bincount(rows * n + src.ravel(), minlength=n_samples * n).reshape(n_samples, n)
    in_deg = np.bincount(rows * n + dst.ravel(), minlength=n_samples * n).reshape(n_samples, n)
    census = np.zeros((n_samples, 16), dtype=np.int64)
    code = {c: i for i, c in enumerate(TRIAD_CODES)}
    census[:, code["030T"]] = transitive
    census[:, code["030C"]] = cycles
    census[:, code["021D"]] = (out_deg * (out_deg - 1) // 2).sum(axis=1) - transitive
    census[:, code["021U"]] = (in_deg * (in_deg - 1) // 2).sum(axis=1) - transitive
    census[:, code["021C"]] = (out_deg * in_deg).sum(axis=1) - transitive - 3 * cycles
    two = census[:, [code["021D"], code["021U"], code["021C"]]].sum(axis=1)
    census[:, code["012"]] = m * (n - 2) - 2 * two - 3 * (transitive + cycles)
    census[:, code["003"]] = n * (n - 1) * (n - 2) // 6 - census.sum(axis=1)
    return census


def triad_census(net: Network) -> pd.Series:
    """The 16-class triad census of a network.

    Parameters
    ----------
    net : Network

    Returns
    -------
    pandas.Series of int64
        Indexed by the MAN codes of :data:`motifs.catalog.TRIAD_CODES`;
        sums to n(n-1)(n-2)/6. Equal to ``networkx.triadic_census``.

    Notes
    -----
    Sparse matrix products of the dyad-state indicator matrices,
    O(sum over nodes of degree^2); ``003`` is the combinatorial remainder.

    References
    ----------
    Holland, P. W. & Leinhardt, S. (1976). Local structure in social networks.
    Sociological Methodology 7:1-45.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], n_nodes=4)  # X->Y->Z, X->Z
    >>> census = triad_census(net)
    >>> census[["030T", "012", "003"]].tolist()
    [1, 3, 0]
    """
    import pandas as pd

    _check_network(net)
    return pd.Series(triad_census_many([net.adjacency()])[0], index=list(TRIAD_CODES),
                     name="count", dtype=np.int64)


def motif3_census_many(adjacency) -> np.ndarray:
    """(S, 13) int64 counts of the connected 3-node classes, in igraph isoclass order.

    Parameters
    ----------
    adjacency : (S, n, n) bool array, or a list of scipy.sparse matrices

    Examples
    --------
    >>> a = np.zeros((1, 3, 3), bool); a[0, 0, 1] = a[0, 1, 2] = True
    >>> motif3_census_many(a)[0].tolist()
    [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    """
    cells = _triad_cells_any(adjacency)
    _, iso = _triad_projection()
    return (cells.reshape(len(cells), 64) @ iso // 6)[:, connected_isoclasses(3)]


def motif3_census(net: Network) -> pd.DataFrame:
    """Counts of the 13 connected 3-node classes.

    Returns
    -------
    pandas.DataFrame
        One row per class in igraph isoclass order, columns ``isoclass``,
        ``code`` (MAN), ``name`` and ``count`` (int64); equal to
        ``igraph.Graph.motifs_randesu(size=3)`` on the connected classes.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2])
    >>> table = motif3_census(net).set_index("code")
    >>> int(table.loc["030T", "count"]), table.loc["030T", "name"]
    (1, 'ffl')
    """
    import pandas as pd

    _check_network(net)
    counts = motif3_census_many([net.adjacency()])[0]
    classes = motif_classes(3)
    return pd.DataFrame({
        "isoclass": [m.isoclass for m in classes],
        "code": [m.code for m in classes],
        "name": [m.name for m in classes],
        "count": counts.astype(np.int64),
    })


def ffl_count_many(adjacency) -> np.ndarray:
    """(S,) int64 feed-forward loops (induced 030T triads) per sample.

    A triple is an induced 030T iff its three dyads are asymmetric and
    transitive, so the count is sum(F * (F @ F)) with F the asymmetric part
    of the adjacency: one matrix product per sample.

    Examples
    --------
    >>> a = np.zeros((1, 3, 3), bool); a[0, 0, 1] = a[0, 1, 2] = a[0, 0, 2] = True
    >>> ffl_count_many(a).tolist()
    [1]
    """
    if _is_sparse_list(adjacency):
        out = []
        for mat in _as_csr_list(adjacency):
            forward = _sparse_state_matrices(mat)[1]
            out.append(int(round(forward.multiply(forward @ forward).sum())))
        return np.array(out, dtype=np.int64)
    batch = _as_batch(adjacency)
    forward = np.ascontiguousarray(batch & ~np.swapaxes(batch, 1, 2), dtype=np.float32)
    paths = np.matmul(forward, forward)
    return np.rint((forward * paths).sum(axis=(1, 2), dtype=np.float64)).astype(np.int64)


# ------------------------------------------------------- 4-node census
@functools.lru_cache(maxsize=None)
def _quad_projection(states: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Class map of the size-4 cells for the dyad states present.

    The cells are indexed (row state, alpha, gamma, k, beta, delta) for
    (s_ab, s_ac, s_bc, s_cd, s_ad, s_bd), the last five over ``states``.
    Returns the (n_cells,) isoclass id of each cell and the (218,) number of
    ordered counts per induced quad (2 x its adjacent node pairs).
    """
    bit = {pair: b for b, pair in enumerate(ORDERED_PAIRS[4])}
    st = np.asarray(states)
    k = len(st)
    row, al, ga, kk, be, de = np.meshgrid(np.array([1, 3]), st, st, st, st, st, indexing="ij")
    code = np.zeros(row.shape, dtype=np.int64)
    for state, (i, j) in ((row, (0, 1)), (al, (0, 2)), (ga, (1, 2)), (kk, (2, 3)),
                          (be, (0, 3)), (de, (1, 3))):
        code |= (state & 1) << bit[(i, j)]
        code |= (state >> 1) << bit[(j, i)]
    iso = isoclass_table(4)[code.ravel()].astype(np.int64)
    assert iso.size == 2 * k**5
    multiplicity = np.zeros(218, dtype=np.int64)
    import igraph

    for cls in range(218):
        g = igraph.Graph.Isoclass(4, cls, directed=True)
        g.to_undirected(mode="collapse")
        multiplicity[cls] = 2 * g.ecount()
    return iso, multiplicity


def _sums_by_sample(values: np.ndarray, starts: np.ndarray, weights: np.ndarray | None = None,
                    max_value: int = 1) -> np.ndarray:
    """Per-sample sums of the columns of ``values`` (C, N), float64.

    Columns [starts[s], starts[s + 1]) belong to sample s. With ``weights``
    (N, W) the sums are weighted, giving (S, C, W). Plain sums accumulate
    in float64. Weighted float32 values are summed by BLAS in pieces short
    enough for every partial sum of integers <= ``max_value`` to stay exact,
    the pieces added in float64; where such pieces would be short (large
    values), the sample's columns are cast to float64 for one product
    instead of hundreds of tiny ones.
    """
    n_samples = starts.size - 1
    if weights is None:
        out = np.zeros((n_samples, values.shape[0]), dtype=np.float64)
        for sample in range(n_samples):
            out[sample] = values[:, starts[sample]:starts[sample + 1]].sum(axis=1,
                                                                           dtype=np.float64)
        return out
    out = np.zeros((n_samples, values.shape[0], weights.shape[1]), dtype=np.float64)
    piece = max(1, _F32_EXACT // max(1, max_value)) if values.dtype == np.float32 \
        else values.shape[1] + 1
    for sample in range(n_samples):  # a few BLAS calls per sample
        lo, hi = starts[sample], starts[sample + 1]
        if piece < min(hi - lo, _MIN_F32_PIECE):
            out[sample] = values[:, lo:hi].astype(np.float64) @ weights[lo:hi]
            continue
        for start in range(lo, hi, piece):
            stop = min(hi, start + piece)
            out[sample] += values[:, start:stop] @ weights[start:stop]
    return out


#: A matrix of the basis: ``("D", x)`` (dyad-state indicator D_x), ``"I"`` or ``"J"`` (all ones).
_MatrixKind = Union[tuple[str, int], str]


class _QuadBasis(NamedTuple):
    """The basis the node types of the size-4 census are combined from.

    Depends only on the dyad states present, so it is built once per set of
    states (:func:`_quad_basis`). Linked types L(x, y) come first (x-major,
    ``n_linked`` of them), then the structured (anchor, matrix) rows.
    """

    nz: tuple[int, ...]  # the nonzero dyad states present
    pos: np.ndarray  # (4,) int64: state -> index among ``nz``
    n_linked: int
    struct: tuple[tuple[str, _MatrixKind], ...]  # (anchor "a" | "b", matrix) rows
    kinds: tuple[_MatrixKind, ...]  # the matrices: D_x for x in nz, I, J
    #: (M, N, ((slot, p, q), ...)): which structured x structured entries
    #: (slot = j * n_struct + l) read the product M X N^T at (anchor p, anchor q)
    struct_products: tuple[tuple[_MatrixKind, _MatrixKind, tuple[tuple[int, str, str], ...]], ...]
    #: (n_struct, n_linked) N[q_r, c] for a link (r, c) of each type: [s_qc == N's state],
    #: 0 for I, 1 for J
    entry: np.ndarray

    @property
    def n_struct(self) -> int:
        return len(self.struct)

    @property
    def n_basis(self) -> int:
        return self.n_linked + len(self.struct)


@functools.lru_cache(maxsize=None)
def _quad_basis(present: tuple[int, ...]) -> _QuadBasis:
    """The :class:`_QuadBasis` of the dyad states ``present`` (0 first)."""
    nz = tuple(present[1:])
    n_nz = len(nz)
    pos = np.zeros(4, dtype=np.int64)
    pos[list(nz)] = np.arange(n_nz)
    struct = tuple([("a", ("D", x)) for x in nz] + [("b", ("D", y)) for y in nz]
                   + [("a", "I"), ("b", "I"), ("a", "J")])
    kinds = tuple([("D", x) for x in nz] + ["I", "J"])
    n_struct = len(struct)
    struct_products = tuple(
        (m_kind, n_kind, tuple((j * n_struct + l, p, q)
                               for j, (p, m_j) in enumerate(struct)
                               for l, (q, n_l) in enumerate(struct)
                               if m_j == m_kind and n_l == n_kind))
        for m_kind in kinds for n_kind in kinds)
    entry = np.zeros((n_struct, n_nz**2))
    for i, (q, kind) in enumerate(struct):
        for x in nz:
            for y in nz:
                entry[i, pos[x] * n_nz + pos[y]] = 1.0 if kind == "J" else 0.0 if kind == "I" \
                    else float(kind[1] == (x if q == "a" else y))
    pos.flags.writeable = entry.flags.writeable = False
    return _QuadBasis(nz, pos, n_nz**2, struct, kinds, struct_products, entry)


@functools.lru_cache(maxsize=None)
def _type_coefficients(present: tuple[int, ...], row_state: int) -> np.ndarray:
    """(K, K, n_basis) each node type T_(alpha, gamma) as a combination of the basis.

    The table, for a row (a, b) in state ``row_state`` (so a, b adjacent):

    - (x, y), both nonzero: L(x, y);
    - (0, y) = D_y[b] - e_a D_y[b, a] - sum_x L(x, y);
    - (x, 0) = D_x[a] - e_b D_x[a, b] - sum_y L(x, y);
    - (0, 0) = J[a] - sum_x D_x[a] - sum_x D_x[b] + sum_(x, y) L(x, y);

    where e_a = I[a], e_b = I[b], and D_y[b, a] is 1 exactly when y is the
    reversed row state (D_x[a, b]: when x is the row state).

    >>> coef = _type_coefficients((0, 1, 2), 1)   # linked L(1,1) L(1,2) L(2,1) L(2,2), then
    >>> coef[0, 0].tolist()                         # D1[a] D2[a] D1[b] D2[b] I[a] I[b] J[a]
    [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 0.0, 0.0, 1.0]
    >>> coef[0, 2].tolist()                         # c -> b only: D2[b] minus a and links
    [0.0, -1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0]
    """
    basis = _quad_basis(present)
    nz, pos, n_nz, n_linked = basis.nz, basis.pos, len(basis.nz), basis.n_linked
    position = {state: i for i, state in enumerate(present)}
    coef = np.zeros((len(present), len(present), basis.n_basis))
    ra = {x: n_linked + i for i, x in enumerate(nz)}
    rb = {y: n_linked + n_nz + i for i, y in enumerate(nz)}
    e_a, e_b, one = basis.n_basis - 3, basis.n_basis - 2, basis.n_basis - 1
    for x in nz:
        for y in nz:
            coef[position[x], position[y], pos[x] * n_nz + pos[y]] = 1
    for y in nz:  # (0, y) = D_y[b] - e_a D_y[b, a] - sum_x L(x, y)
        coef[0, position[y], rb[y]] = 1
        coef[0, position[y], e_a] = -float(y == int(_REVERSED_STATE[row_state]))
        for x in nz:
            coef[0, position[y], pos[x] * n_nz + pos[y]] = -1
    for x in nz:  # (x, 0) = D_x[a] - e_b D_x[a, b] - sum_y L(x, y)
        coef[position[x], 0, ra[x]] = 1
        coef[position[x], 0, e_b] = -float(x == row_state)
        for y in nz:
            coef[position[x], 0, pos[x] * n_nz + pos[y]] = -1
    coef[0, 0, one] = 1  # (0, 0) = 1 - U[a] - U[b] + sum L   (a, b adjacent)
    for x in nz:
        coef[0, 0, ra[x]] = coef[0, 0, rb[x]] = -1
        for y in nz:
            coef[0, 0, pos[x] * n_nz + pos[y]] = 1
    coef.flags.writeable = False
    return coef


class _QuadRows(NamedTuple):
    """The rows (adjacent pairs (a, b)) of one state, sorted by sample, and how
    many links (r, c) of each linked type they have: nodes c adjacent to both."""

    row_s: np.ndarray  # (R,) sample of each row
    anchors: dict[str, np.ndarray]  # "a", "b" -> (R,) nodes
    row_starts: np.ndarray  # (S + 1,) first row of each sample
    base_row: np.ndarray  # (R,) offset of the row's sample in a flat (S, n, n) array
    links_per_row: np.ndarray  # (R, n_linked) int64


class _QuadLinks(NamedTuple):
    """Every link (r, c) of the rows, sorted by row (so by sample): the numpy path's list."""

    owner: np.ndarray  # (L,) row of each link
    c: np.ndarray  # (L,) node of each link
    link_starts: np.ndarray  # (S + 1,) first link of each sample
    type_onehot: np.ndarray  # (L, n_linked) of the linked type pos[s_ac] * n_nz + pos[s_bc]
    base_link: np.ndarray  # (L,) offset of the link's sample in a flat (S, n, n) array
    at: dict[str, np.ndarray]  # "a", "b" -> (L,) the anchors of each link's row


def _linked_pairs(states: np.ndarray, basis: _QuadBasis, row_s: np.ndarray, row_a: np.ndarray,
                  row_b: np.ndarray, row_starts: np.ndarray, dtype: type
                  ) -> tuple[np.ndarray, _QuadLinks]:
    """(R, n_linked) links per row and type, and the links (r, c) listed with their types."""
    n = states.shape[1]
    n_nz, n_linked = len(basis.nz), basis.n_linked
    adjacent = states != 0
    owner, c = np.nonzero(adjacent[row_s, row_a] & adjacent[row_s, row_b])
    flat_states = states.reshape(-1)
    link_type = basis.pos[np.take(flat_states, (row_s * n + row_a)[owner] * n + c)] * n_nz + \
        basis.pos[np.take(flat_states, (row_s * n + row_b)[owner] * n + c)]
    type_onehot = np.zeros((owner.size, n_linked), dtype=dtype)
    type_onehot[np.arange(owner.size), link_type] = 1.0
    links_per_row = np.bincount(owner * n_linked + link_type,
                                minlength=row_a.size * n_linked).reshape(row_a.size, n_linked)
    anchors = {"a": row_a, "b": row_b}
    return links_per_row, _QuadLinks(
        owner=owner, c=c, link_starts=np.searchsorted(owner, row_starts),
        type_onehot=type_onehot, base_link=row_s[owner] * n * n,
        at={p: anchors[p][owner] for p in anchors})


def _bitsets(mask: np.ndarray) -> np.ndarray:
    """(S, n, words) uint64 little-endian bitsets of the rows of a (S, n, n) bool array."""
    n_samples, n = mask.shape[0], mask.shape[1]
    bits = np.zeros((n_samples, n, -(-n // 64) * 8), dtype=np.uint8)
    packed = np.packbits(mask, axis=2, bitorder="little")
    bits[:, :, :packed.shape[2]] = packed
    return bits.view(np.uint64)


class _QuadWork(NamedTuple):
    """What the Gram products of one block of rows share."""

    n_samples: int
    n: int
    dtype: type  # float32 while products stay exact, else float64
    ind: dict[int, np.ndarray]  # nonzero state -> (S, n, n) indicator D_x (zero diagonal)
    basis: _QuadBasis
    rows: _QuadRows
    #: the links listed (numpy path), or None where the compiled kernels walk them on
    #: ``bits``: the out- and in-neighbour bitsets (2, S, n, words) of oriented samples
    links: _QuadLinks | None
    bits: np.ndarray | None
    #: (z, w) -> D_z D_w, filled by :func:`_pair` (the block's products of two state matrices)
    pairs: dict[tuple[int, int], np.ndarray]
    #: sparse samples: state -> D_x of every sample as one block-diagonal CSR (indptr, indices)
    #: (:func:`_times_state`)
    sparse: dict[int, tuple[np.ndarray, np.ndarray]] | None = None


#: Below this share of the n x n cells holding an edge, D_x M runs as compiled row sums
#: (``csr_row_sums``) instead of a batched BLAS product. One core, float32, n = 573
#: (n = 307): 7.9x (6.7x) faster at 5% of the cells, 2.3x (2.1x) at 15%, 1.6x (2.1x) at
#: 20%; an oriented graph fills at most half the cells.
_SPARSE_DENSITY = 0.35


def _sparse_states(n: int, n_samples: int, row_s: np.ndarray, row_a: np.ndarray,
                   row_b: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """D_1 (the rows, edges a -> b) and D_2 = D_1^T of all samples as one block-diagonal
    (S n, S n) 0/1 matrix each, in CSR form ``(indptr, indices)`` (int64, values all one):
    sample s is the block of rows and columns [s n, (s + 1) n).

    >>> indptr, indices = _sparse_states(3, 1, np.array([0, 0]), np.array([0, 1]),
    ...                                  np.array([2, 2]))[2]
    >>> indptr.tolist(), indices.tolist()        # D_2: node 2 has in-edges from 0 and 1
    ([0, 0, 0, 2], [0, 1])
    """
    size = n_samples * n
    tail, head = row_s * n + row_a, row_s * n + row_b
    order = np.argsort(head, kind="stable")  # rows (s, a, b) sorted by (s, b), then a
    csr = {}
    for state, (rows, cols) in ((1, (tail, head)), (2, (head[order], tail[order]))):
        indptr = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=size), out=indptr[1:])
        csr[state] = (indptr, np.ascontiguousarray(cols, dtype=np.int64))
    return csr


def _times_state(work: _QuadWork, z: int, mat: np.ndarray) -> np.ndarray:
    """D_z mat for a batch (S, n, k): one block-diagonal sparse product (the compiled
    ``csr_row_sums``: each row the sum of the rows of ``mat`` its edges name) where
    :data:`_SPARSE_DENSITY` says so, else a batched BLAS product.

    Entries are integers below 2**24 (float32) either way, so both give the same numbers.
    """
    if work.sparse is None:
        return np.matmul(work.ind[z], mat)
    flat = np.ascontiguousarray(mat.reshape(work.n_samples * work.n, mat.shape[2]))
    out = np.empty_like(flat)
    indptr, indices = work.sparse[z]
    _kernel.csr_row_sums(flat.shape[1], indptr, indices, flat, out)
    return out.reshape(mat.shape)


def _pair(work: _QuadWork, z: int, w: int) -> np.ndarray:
    """D_z D_w (S, n, n), contiguous: computed once per block, and its mirror
    (D_z D_w)^T = D_w' D_z' (' the reversed state) is its transpose."""
    if (z, w) not in work.pairs:
        mirror = (int(_REVERSED_STATE[w]), int(_REVERSED_STATE[z]))
        work.pairs[(z, w)] = (np.ascontiguousarray(np.swapaxes(work.pairs[mirror], 1, 2))
                              if mirror in work.pairs else _times_state(work, z, work.ind[w]))
    return work.pairs[(z, w)]


def _x_times_t(work: _QuadWork, x: int | None, kind: _MatrixKind) -> np.ndarray:
    """X kind^T (S, n, n) for X = D_x or (x None) X = J - I; contiguous, or for J a
    read-only broadcast of X's row sums (:func:`_entries` reads it without a copy)."""
    shape = (work.n_samples, work.n, work.n)
    if kind == "J":  # X J: every column holds X's row sums
        row_sums = np.full((work.n_samples, work.n, 1), work.n - 1, dtype=work.dtype) \
            if x is None else work.ind[x].sum(axis=2, keepdims=True)
        return np.broadcast_to(row_sums, shape)
    if kind == "I":
        return work.ind[x] if x is not None else np.ascontiguousarray(
            np.broadcast_to(~np.eye(work.n, dtype=bool), shape), dtype=work.dtype)
    y = kind[1]
    if x is None:  # ((J - I) D_y^T)[c, q] = rowsum(D_y)[q] - D_y[q, c]
        return work.ind[y].sum(axis=2)[:, None, :] - np.swapaxes(work.ind[y], 1, 2)
    return _pair(work, x, int(_REVERSED_STATE[y]))  # D_y^T is D of the reversed state


def _sandwich(work: _QuadWork, m_kind: _MatrixKind, x: int | None, n_kind: _MatrixKind,
              x_n: dict[_MatrixKind, np.ndarray]) -> np.ndarray:
    """M X N^T (S, n, n) from ``x_n[N]`` = X N^T (X as in :func:`_x_times_t`):
    contiguous, or a read-only broadcast of one vector per sample where M or N
    is J (rows or columns all equal; :func:`_entries` reads it without a copy).

    Only M X N^T with three state matrices takes a product of its own; the
    others are rank-one terms, matrix-vector products or :func:`_pair`
    products the block shares.
    """
    shape = x_n[n_kind].shape
    if m_kind == "I":
        return x_n[n_kind]
    if m_kind == "J":
        return np.broadcast_to(x_n[n_kind].sum(axis=1, keepdims=True), shape)
    z = m_kind[1]
    if n_kind == "J":  # X J = (X 1) 1^T, so M X J = (M X 1) 1^T
        return np.broadcast_to(_times_state(work, z, np.ascontiguousarray(
            x_n["J"][:, :, :1])), shape)
    if x is None:  # M (J - I) N^T = (M 1)(N 1)^T - M N^T
        m_rows = work.ind[z].sum(axis=2)[:, :, None]
        if n_kind == "I":
            return m_rows - work.ind[z]
        y = n_kind[1]
        return m_rows * work.ind[y].sum(axis=2)[:, None, :] - \
            _pair(work, z, int(_REVERSED_STATE[y]))
    if n_kind == "I":
        return _pair(work, z, x)
    return _times_state(work, z, x_n[n_kind])


def _entries(prod: np.ndarray, rows: _QuadRows, n: int, p: str, q: str,
             out: np.ndarray) -> None:
    """out[r] = prod[s_r, p_r, q_r] for every row r (anchors ``p``, ``q``: "a" or "b").

    ``prod`` may be a broadcast of one vector per sample along its rows or
    columns (:func:`_sandwich` with J); the vector is read directly instead
    of copying the n x n view.

    >>> rows = _QuadRows(np.array([0, 1]), {"a": np.array([0, 2]), "b": np.array([1, 0])},
    ...                  np.array([0, 1, 2]), np.array([0, 9]), np.zeros((2, 4)))
    >>> full = np.arange(18.0).reshape(2, 3, 3)
    >>> out = np.empty(2); _entries(full, rows, 3, "a", "b", out); out.tolist()
    [1.0, 15.0]
    >>> columns = np.broadcast_to(np.array([[[5.0, 6.0, 7.0]], [[8.0, 9.0, 10.0]]]), (2, 3, 3))
    >>> _entries(columns, rows, 3, "a", "b", out); out.tolist()   # prod[s, p, q] = v[s, q]
    [6.0, 8.0]
    """
    if prod.strides[1] == 0:  # every row of a sample the same: the value depends on q
        np.take(np.ascontiguousarray(prod[:, 0, :]), rows.row_s * n + rows.anchors[q], out=out)
    elif prod.strides[2] == 0:  # every column the same: the value depends on p
        np.take(np.ascontiguousarray(prod[:, :, 0]), rows.row_s * n + rows.anchors[p], out=out)
    else:
        np.take(prod.reshape(-1), rows.base_row + rows.anchors[p] * n + rows.anchors[q], out=out)


def _structured_gram(work: _QuadWork, x: int | None, x_n: dict[_MatrixKind, np.ndarray]
                     ) -> np.ndarray:
    """(S, n_struct, n_struct) structured x structured: entries (anchor, anchor') of M X N^T
    summed over the rows.

    Entries at (a_r, b_r) and (b_r, a_r) are gathered per row. Entries at
    (a_r, a_r) need no gather: their sum over a sample's rows is
    sum_v deg_a(v) P[v, v], with deg_a(v) the rows anchored at v (likewise
    for b), so half the slots cost O(n), not O(rows), of random reads.
    """
    basis, rows, n, n_samples = work.basis, work.rows, work.n, work.n_samples
    slots_all = [slot for _, _, slots in basis.struct_products for slot in slots]
    crossed = sorted(slot for slot, p, q in slots_all if p != q)
    position = {slot: i for i, slot in enumerate(crossed)}
    per_row = np.empty((len(crossed), rows.row_s.size), dtype=work.dtype)  # entries <= n^2
    degree = {p: np.bincount(rows.row_s * n + rows.anchors[p], minlength=n_samples * n)
              .reshape(n_samples, n).astype(np.float64) for p in ("a", "b")}
    out = np.zeros((n_samples, basis.n_struct**2), dtype=np.float64)
    for m_kind, n_kind, slots in basis.struct_products:
        prod = _sandwich(work, m_kind, x, n_kind, x_n)
        diagonal = None
        for slot, p, q in slots:
            if p == q:
                if diagonal is None:
                    diagonal = np.diagonal(prod, axis1=1, axis2=2).astype(np.float64)
                out[:, slot] = (diagonal * degree[p]).sum(axis=1)
            else:
                _entries(prod, rows, n, p, q, out=per_row[position[slot]])
    out[:, crossed] = _sums_by_sample(per_row, rows.row_starts, max_value=n * n)
    return out.reshape(n_samples, basis.n_struct, basis.n_struct)


def _paths_through_links(work: _QuadWork, x_mat: np.ndarray, out: np.ndarray) -> None:
    """out[l, link (r, c)] = (L_l X^T)[r, c], by blocks of rows.

    Row r's nodes of linked type l = (x, y) are row a of D_x times row b of
    D_y (elementwise), so one (rows, n) x (n, n) product per type and block
    gives every path count of the block; the links read their entries. That
    is one large GEMM per type instead of one per sample and block of a
    scattered (n, types x rows) indicator: about 3x faster on the largest
    shared graphs.
    """
    rows, links, n, basis = work.rows, work.links, work.n, work.basis
    n_nz = len(basis.nz)
    step = max(1, _QUAD_BLOCK_BYTES // (8 * n))  # two (rows, n) float blocks
    for sample in range(work.n_samples):
        x_t = np.ascontiguousarray(x_mat[sample].T)
        for r0 in range(rows.row_starts[sample], rows.row_starts[sample + 1], step):
            r1 = min(rows.row_starts[sample + 1], r0 + step)
            inside = slice(np.searchsorted(links.owner, r0), np.searchsorted(links.owner, r1))
            at = (links.owner[inside] - r0) * n + links.c[inside]
            b_rows = {y: work.ind[y][sample][rows.anchors["b"][r0:r1]] for y in basis.nz}
            for x in basis.nz:
                a_rows = work.ind[x][sample][rows.anchors["a"][r0:r1]]
                for y in basis.nz:
                    members = a_rows * b_rows[y]  # (rows, n): the type-(x, y) nodes of each row
                    l = basis.pos[x] * n_nz + basis.pos[y]
                    if not members.any():  # a type a DAG never forms (c -> a -> b -> c)
                        out[l, inside] = 0
                        continue
                    paths = members @ x_t  # [r, c] = sum_d X[c, d] members[r, d]
                    out[l, inside] = np.take(paths.ravel(), at)


def _linked_sums(work: _QuadWork, x: int, x_n: dict[_MatrixKind, np.ndarray]) -> np.ndarray:
    """(S, 2 n_struct + n_linked, n_linked) linked x structured, structured x
    linked and linked x linked for X = D_x: one value per link, summed by link type."""
    basis, links, n, x_mat = work.basis, work.links, work.n, work.ind[x]
    if links is None:
        return _linked_sums_compiled(work, x, x_n)
    m_x = {kind: _sandwich(work, kind, x, "I", x_n) for kind in basis.kinds}  # M X
    n_struct = basis.n_struct
    per_link = np.empty((2 * n_struct + basis.n_linked, links.owner.size), dtype=work.dtype)  # <= n
    for l, (q, n_kind) in enumerate(basis.struct):
        np.take(x_n[n_kind], links.base_link + links.c * n + links.at[q], out=per_link[l])
    for j, (p, m_kind) in enumerate(basis.struct):
        np.take(m_x[m_kind], links.base_link + links.at[p] * n + links.c,
                out=per_link[n_struct + j])
    cliques = _transitive_cliques(work, x_mat)
    if cliques is None:
        _paths_through_links(work, x_mat, per_link[2 * n_struct:])
        return _sums_by_sample(per_link, links.link_starts, links.type_onehot, max_value=n)
    sums = _sums_by_sample(per_link[:2 * n_struct], links.link_starts, links.type_onehot,
                           max_value=n)
    return np.concatenate([sums, cliques[:, None, None] * _TT4_LINKED], axis=1)


def _linked_sums_compiled(work: _QuadWork, x: int, x_n: dict[_MatrixKind, np.ndarray]
                          ) -> np.ndarray:
    """:func:`_linked_sums` of oriented samples (X = D_x) in one compiled pass.

    The kernel walks every link on the bitsets (row = edge a -> b, common
    neighbours split by type with four word ANDs) and sums, per link type,
    the structured entries (X N^T)[c, q_r] and (M X)[p_r, c] read along
    their anchor's row, and the linked x linked Gram: the type-l common
    neighbours d with c -> d, one popcount per type and word; in a sample
    without a 3-cycle it is the 4-clique count alone (:data:`_TT4_LINKED`),
    each clique found once from its lowest node in (degree, index) order
    (Chiba & Nishizeki 1985). Integer sums, so the same numbers as the numpy
    path; O(links x n / 64) per sample and no per-link array.

    Only the four matrices with a state on both sides (N, M in D_y) are
    read per link, interleaved (``packed[s, q, c, k]``) so that a link reads
    one contiguous group per anchor. The others need no matrix: an entry of
    X I^T = X or I X = X at (c, q) is fixed by the link's type (c's dyads
    with a and b), so its sum is the type's link count, and X J^T, J X are
    one value per node c (X's row and column sums).
    """
    basis, rows, n, n_samples, dtype = work.basis, work.rows, work.n, work.n_samples, work.dtype
    states = [("D", y) for y in basis.nz]
    if len(states) * 2 != _PACKED_WIDTH:
        raise AssertionError(f"oriented samples have two nonzero states, not {basis.nz}")
    packed = np.empty((n_samples, n, n, _PACKED_WIDTH), dtype=dtype)
    for k, kind in enumerate(states):
        packed[..., k] = np.swapaxes(x_n[kind], 1, 2)  # (X N^T)[c, q] along q's row
        packed[..., len(states) + k] = _sandwich(work, kind, x, "I", x_n)  # (M X)[p, c]
    nodes = np.zeros((n_samples, n, _PACKED_WIDTH), dtype=dtype)
    nodes[..., 0] = x_n["J"][:, :, 0]  # (X J^T)[c, q] = X's row sum at c
    nodes[..., 1] = work.ind[x].sum(axis=1)  # (J X)[p, c] = X's column sum at c
    sums = np.empty((n_samples, 3, _PACKED_WIDTH, basis.n_linked), dtype=np.int64)
    linked = np.empty((n_samples, basis.n_linked, basis.n_linked), dtype=np.int64)
    _kernel.quad_link_sums(n, work.bits[0], work.bits[1], packed, nodes, sums, linked)
    counts = _sums_by_sample(rows.links_per_row.T.astype(np.float64), rows.row_starts,
                             max_value=n)  # (S, types): links of each type
    out = np.empty((n_samples, 2 * basis.n_struct, basis.n_linked), dtype=np.float64)
    for j, (q, kind) in enumerate(basis.struct):
        for half, rev in ((0, True), (1, False)):  # X N^T read at (c, q), then M X at (q, c)
            slot = half * basis.n_struct + j
            if kind == "J":
                out[:, slot] = sums[:, 2, half]
            elif kind == "I":  # X[c, q] = [s_qc = x'], X[q, c] = [s_qc = x]: D's entry table
                wanted = ("D", int(_REVERSED_STATE[x]) if rev else x)
                out[:, slot] = counts * basis.entry[basis.struct.index((q, wanted))]
            else:
                out[:, slot] = sums[:, "ab".index(q), half * len(states) + states.index(kind)]
    return np.concatenate([out, linked.astype(np.float64)], axis=1)


#: Linked x linked Gram of an oriented graph without 3-cycles, per 4-clique, laid out
#: as :func:`_linked_sums` returns it ([l, t]: links of type t, their type-l paths). A
#: 4-clique of such a graph is a transitive tournament v1 < v2 < v3 < v4; its six edges
#: as the row (a, b) give the type pairs (t, l) = ((s_ac, s_bc), (s_ad, s_bd)) with c -> d:
#: (v1,v2): (11, 11); (v1,v3): (12, 11); (v1,v4): (12, 12); (v2,v3): (22, 11);
#: (v2,v4): (22, 12); (v3,v4): (22, 22), types indexed 11, 12, 21, 22.
_TT4_LINKED = np.zeros((4, 4))
_TT4_LINKED[[0, 0, 1, 0, 1, 3], [0, 1, 1, 3, 3, 3]] = 1.0  # [l, t] of the six (t, l) above


def _transitive_cliques(work: _QuadWork, x_mat: np.ndarray) -> np.ndarray | None:
    """(S,) 4-cliques per sample when the linked x linked Gram is their count alone.

    That holds for X = D_1 of oriented samples (no mutual edge) without a
    3-cycle, DAGs included: every 4-clique is then a transitive tournament and
    gives each of six (type, type) cells exactly one path (:data:`_TT4_LINKED`).
    The cliques are counted with bitsets: over every link (row (a, b), common
    neighbour c), the common neighbours of a and b adjacent to c, 12 per clique.
    That is O(links x n / 64) word operations instead of the O(rows x n^2)
    products of :func:`_paths_through_links`. None when it does not apply.
    The numpy path's shortcut: with the extension built, oriented samples
    take :func:`_linked_sums_compiled`, 3-cycles or not.
    """
    if work.basis.nz != (1, 2) or x_mat is not work.ind[1]:
        return None
    d1 = work.ind[1]
    if (_pair(work, 1, 1) * np.swapaxes(d1, 1, 2)).any():  # a 3-cycle in some sample
        return None
    rows, links, n = work.rows, work.links, work.n
    bits = _bitsets((d1 + work.ind[2]) > 0)
    words = bits.shape[2]
    bits = bits.reshape(work.n_samples * n, words)
    node = rows.row_s * n
    common = bits[node + rows.anchors["a"]] & bits[node + rows.anchors["b"]]  # (rows, words)
    found = np.zeros(links.owner.size, dtype=np.int64)
    step = max(1, _QUAD_BLOCK_BYTES // (16 * words))
    for lo in range(0, links.owner.size, step):
        owner, c = links.owner[lo:lo + step], links.c[lo:lo + step]
        found[lo:lo + step] = np.bitwise_count(
            common[owner] & bits[rows.row_s[owner] * n + c]).sum(axis=1)
    per_sample = np.bincount(rows.row_s[links.owner], weights=found, minlength=work.n_samples)
    return per_sample / 12.0


def _free_linked_parts(work: _QuadWork) -> tuple[np.ndarray, np.ndarray]:
    """The linked rows of G for X = J - I, from per-row counts only.

    For a link (r, c) of type t and a structured (anchor q, matrix N):
    ((J - I) N^T)[c, q_r] = rowsum(N)[q_r] - N[q_r, c], and N[q_r, c] is
    fixed by t (c's dyads with a and b: ``basis.entry``). Between linked
    types: (L_l (J - I))[r, c] = (links of type l in row r) - [t == l].
    """
    basis, rows, n, dtype = work.basis, work.rows, work.n, work.dtype
    per_row_links = rows.links_per_row.astype(dtype)
    link_counts = _sums_by_sample(per_row_links.T, rows.row_starts, max_value=n)  # (S, types)
    linked = _sums_by_sample(per_row_links.T, rows.row_starts, per_row_links, max_value=n * n)
    linked -= link_counts[:, :, None] * np.eye(basis.n_linked)
    row_sums = {"I": np.ones((work.n_samples, n), dtype=dtype),
                "J": np.full((work.n_samples, n), n, dtype=dtype)}
    row_sums.update({("D", x): work.ind[x].sum(axis=2) for x in basis.nz})
    at_anchor = np.stack([np.take(row_sums[kind].ravel(), rows.row_s * n + rows.anchors[q])
                          for q, kind in basis.struct])  # (struct, rows)
    mixed = _sums_by_sample(at_anchor, rows.row_starts, per_row_links, max_value=n * n)
    mixed -= link_counts[:, None, :] * basis.entry
    return linked, np.swapaxes(mixed, 1, 2)


def _gram(work: _QuadWork, x: int | None) -> np.ndarray:
    """(S, n_basis, n_basis) G[j, l] = sum_r v_j[r] X v_l[r]^T, X = D_x or (x None) J - I."""
    n_linked = work.basis.n_linked
    g = np.zeros((work.n_samples, work.basis.n_basis, work.basis.n_basis), dtype=np.float64)
    x_n = {kind: _x_times_t(work, x, kind) for kind in work.basis.kinds}
    g[:, n_linked:, n_linked:] = _structured_gram(work, x, x_n)
    if x is None:
        g[:, :n_linked, :n_linked], g[:, :n_linked, n_linked:] = _free_linked_parts(work)
        g[:, n_linked:, :n_linked] = np.swapaxes(g[:, :n_linked, n_linked:], 1, 2)
        return g
    n_struct = work.basis.n_struct
    sums = _linked_sums(work, x, x_n)  # (S, cols, type)
    g[:, :n_linked, n_linked:] = np.swapaxes(sums[:, :n_struct], 1, 2)
    g[:, n_linked:, :n_linked] = sums[:, n_struct:2 * n_struct]
    g[:, :n_linked, :n_linked] = np.swapaxes(sums[:, 2 * n_struct:], 1, 2)
    return g


def _state_grams(work: _QuadWork, present: tuple[int, ...]) -> np.ndarray:
    """(S, K, n_basis, n_basis) the Gram matrix of every dyad state's D_k.

    D_2 = D_1^T swaps j and l; D_0 = J - I - sum_x D_x needs no product of
    its own, so an oriented graph costs one product with D_1 per sample.
    """
    position = {state: i for i, state in enumerate(present)}
    n_basis = work.basis.n_basis
    grams = np.zeros((work.n_samples, len(present), n_basis, n_basis), dtype=np.float64)
    for state in work.basis.nz:
        if state in (1, 3):
            grams[:, position[state]] = _gram(work, state)
    if 2 in position:
        grams[:, position[2]] = np.swapaxes(grams[:, position[1]], 1, 2)
    grams[:, 0] = _gram(work, None) - grams[:, 1:].sum(axis=1)  # D_0 = J - I - sum D_x
    return grams


def _quad_cells(states: np.ndarray, present: tuple[int, ...], row_state: int, row_s: np.ndarray,
                row_a: np.ndarray, row_b: np.ndarray) -> np.ndarray:
    """Ordered-quad cells over one set of rows (adjacent pairs of one dyad state).

    Parameters
    ----------
    states : (S, n, n) int8 dyad states of the samples.
    present : the dyad states occurring, 0 first.
    row_state : 1 (rows a -> b) or 3 (mutual rows, a < b).
    row_s, row_a, row_b : (R,) int64, the rows, sorted by sample.

    Returns
    -------
    (S, K, K, K, K, K) float64 cells (alpha, gamma, k, beta, delta): the
    number of ordered (row (a, b), c, d) with s_ac = alpha, s_bc = gamma,
    s_cd = k, s_ad = beta, s_bd = delta (indices into ``present``).

    Notes
    -----
    For a row r = (a, b) let T_A[r] be the indicator row vector of the nodes c
    of *type* A = (s_ac, s_bc). Then cells[k, A, B] = sum_r T_A[r] D_k T_B[r]^T
    with D_k the indicator matrix of state k. Every T_A is a combination of a
    small *basis* (:func:`_quad_basis`, the table :func:`_type_coefficients`):
    the *linked* types L_(x,y) (c adjacent to both a and b, :func:`_linked_pairs`),
    and rows a or b of D_x, of I and of J, because D_0 = J - I - sum_x D_x.
    So cells = C G_k C^T with G_k[j, l] = sum_r v_j[r] D_k v_l[r]^T over the
    basis (:func:`_gram`). Between two structured basis vectors G is a sum of
    entries of an n x n product M D_k N^T; between a linked and a structured
    one a sum over the linked pairs; between two linked ones one dense
    (n, n) x (n, rows) product per sample. D_0 needs no product (G for J - I
    has closed forms on the linked part), D_2 = D_1^T swaps j and l, so an
    oriented graph costs one product with D_1 per sample (:func:`_state_grams`).
    For oriented samples the compiled kernels take every sum over linked
    pairs (:func:`_linked_sums_compiled`) and the linked x linked Gram needs
    no product: it counts the paths c -> d between common neighbours.

    Examples
    --------
    A single edge 0 -> 1 with 2 -> 0 and 1 -> 2 (a 3-cycle) and an isolated
    node 3: the row (0, 1) sees c = 2 with (s_02, s_12) = (2, 1).

    >>> a = np.zeros((1, 4, 4), bool); a[0, [0, 1, 2], [1, 2, 0]] = True
    >>> states = dyad_states(a)
    >>> cells = _quad_cells(states, (0, 1, 2), 1, np.array([0]), np.array([0]), np.array([1]))
    >>> cells.shape, int(cells.sum())      # ordered (c, d) pairs over one row: 2 x 1
    ((1, 3, 3, 3, 3, 3), 2)
    >>> int(cells[0, 2, 1, 0, 0, 0]), int(cells[0, 0, 0, 0, 2, 1])
    (1, 1)
    """
    n_samples, n = states.shape[0], states.shape[1]
    # float32 products of 0/1 matrices are exact while entries stay below
    # 2**24 (up to n^2 here); larger graphs use float64
    dtype = np.float32 if n <= _F32_EXACT_N else np.float64
    basis = _quad_basis(present)
    row_starts = np.searchsorted(row_s, np.arange(n_samples + 1))
    # oriented samples whose rows are all their edges: the compiled kernels, which walk
    # every edge (a subset of rows, as in the example below, takes the numpy path)
    if _kernel is not None and basis.nz == (1, 2) and row_state == 1 and \
            row_s.size == np.count_nonzero(states == 1):
        bits = np.stack([_bitsets(states == 1), _bitsets(states == 2)])  # out, in
        links = None
        links_per_row = np.empty((row_s.size, basis.n_linked), dtype=np.int64)
        _kernel.quad_row_links(n, bits[0], bits[1], links_per_row)
    else:
        bits = None
        links_per_row, links = _linked_pairs(states, basis, row_s, row_a, row_b, row_starts,
                                             dtype)
    rows = _QuadRows(row_s, {"a": row_a, "b": row_b}, row_starts, row_s * n * n, links_per_row)
    sparse = _sparse_states(n, n_samples, row_s, row_a, row_b) \
        if bits is not None and row_s.size < _SPARSE_DENSITY * n * n * n_samples else None
    work = _QuadWork(n_samples, n, dtype, {x: (states == x).astype(dtype) for x in basis.nz},
                     basis, rows, links, bits, {}, sparse)
    coef = _type_coefficients(present, row_state)
    return np.einsum("agj,skjl,bdl->sagkbd", coef, _state_grams(work, present), coef)


def _quad_class_counts_dense(batch: np.ndarray) -> np.ndarray:
    """(S, 218) int64 induced 4-node class counts (connected classes exact)."""
    n_samples, n = batch.shape[0], batch.shape[1]
    counts = np.zeros((n_samples, 218), dtype=np.int64)
    if n < 4 or n_samples == 0:
        return counts
    states = dyad_states(batch)
    present = tuple(s for s in (0, 1, 2, 3) if s == 0 or (states == s).any())
    n_states = len(present)
    iso, multiplicity = _quad_projection(present)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    # Samples in blocks of bounded memory: about 100 bytes per (row, node).
    rows = (states == 1).sum(axis=(1, 2)) + ((states == 3) & upper).sum(axis=(1, 2))
    work = 100 * n * np.maximum(rows, 1).astype(np.int64) + 40 * n * n
    cells_total = np.zeros((n_samples, 2) + (n_states,) * 5, dtype=np.float64)
    s0 = 0
    while s0 < n_samples:
        s1 = min(n_samples, s0 + 1 + int(np.searchsorted(np.cumsum(work[s0 + 1:]),
                                                         _QUAD_BLOCK_BYTES)))
        block = states[s0:s1]
        # Rows: every adjacent pair once, asymmetric ones along the edge
        # (row state 1), mutual ones with a < b (row state 3).
        for slot, row_state in enumerate((1, 3)):
            if row_state not in present:  # oriented samples have no mutual row to list
                continue
            row_s, row_a, row_b = np.nonzero(block == 1 if row_state == 1 else
                                             (block == 3) & upper)
            if row_s.size:
                cells_total[s0:s1, slot] = _quad_cells(block, present, row_state, row_s, row_a,
                                                       row_b)
        s0 = s1
    flat = np.rint(cells_total.reshape(n_samples, -1))
    # cells summed per class by one float64 BLAS product (an int64 product has no BLAS and
    # cost tens of ms a block); every sum is an integer below 2**53, so it is exact
    projection = np.zeros((iso.size, 218), dtype=np.float64)
    projection[np.arange(iso.size), iso] = 1.0
    sums = np.rint(flat @ projection).astype(np.int64)
    connected = connected_isoclasses(4)
    counts[:, connected] = sums[:, connected] // multiplicity[connected]
    return counts


def motif4_census_many(adjacency) -> np.ndarray:
    """(S, 199) int64 counts of the connected 4-node classes, igraph isoclass order.

    Parameters
    ----------
    adjacency : (S, n, n) bool array, or a list of scipy.sparse matrices
        Null samples or any batch of graphs on n nodes (no self-loops).

    Returns
    -------
    (S, 199) int64
        Induced-subgraph counts, columns in the order of
        :func:`motifs.catalog.connected_isoclasses` (4); equal to
        ``igraph.Graph.motifs_randesu(size=4)`` on the connected classes.

    Notes
    -----
    Every connected quad has an adjacent pair. For each adjacent pair (a, b)
    (a *row*) and each other node c, the pair (s_ac, s_bc) of dyad states is
    c's *type*; the number of ordered (a, b, c, d) with types A, B of c, d and
    state k between c and d is sum_r T_A[r] D_k T_B[r]^T, T_A the (rows, n)
    indicator of type A. That histogram gives every labelled quad, mapped to
    its class by a 4096-entry table; each induced quad is seen 2 x (its
    adjacent pairs) times. The types are combinations of a small basis
    (see ``_quad_cells``): nodes adjacent to both a and b, and rows of D_x, I
    and J, so the histogram needs n x n products of the state matrices, sums
    over the common-neighbour pairs, and (numpy path, unless the sample is a
    DAG) one (n, n) x (n, 4 rows) float32 product per sample for an oriented
    graph (two with mutual edges). Products are shared: each product of two
    state matrices is made once per block (a transpose serves its mirror),
    and terms with I or J are rank-one or matrix-vector products, so an
    oriented sample takes seven n x n float32 products (three of two state
    matrices, four of three). Work per sample O(n^3 + rows * n^2) in BLAS
    plus O(rows * n) in numpy, memory O(rows * n) (samples are processed in
    blocks); no loop over quads. Dense n x n arrays per sample: meant for n
    up to a few thousand.

    Oriented samples (no mutual dyad: attribution graphs and all their
    nulls but Erdos-Renyi) take compiled kernels where the extension is
    built: one pass over the links on bitsets sums every per-link term
    (the four product matrices read interleaved) and counts the linked x
    linked Gram by popcounts (in a DAG, its 4-cliques once each), with no
    per-link array; sparse samples multiply their state matrices by
    compiled row sums instead of BLAS. The numpy path gives the same
    integers. Without the extension, oriented
    samples without a 3-cycle (DAGs) still skip the rows x n^2 term: their
    linked x linked Gram is their 4-clique count alone, counted with numpy
    bitsets (``_transitive_cliques``).

    On the 83-node, 1,719-edge Dallas graph one causal-config null sample
    takes about 1.1 ms of one core with the compiled kernels (8-9 ms by the
    numpy path) against about 120 ms for ``igraph motifs_randesu(size=4)``;
    ``benchmarks/bench_quad.py`` times every shared graph both ways.

    References
    ----------
    Milo, R. et al. (2002). Network motifs: simple building blocks of complex
    networks. Science 298:824-827.
    Chiba, N. & Nishizeki, T. (1985). Arboricity and subgraph listing
    algorithms. SIAM Journal on Computing 14:210-223.

    Examples
    --------
    >>> a = np.zeros((1, 4, 4), bool)
    >>> a[0, [0, 0, 1, 1], [2, 3, 2, 3]] = True          # a bi-fan
    >>> counts = motif4_census_many(a)[0]
    >>> from motifs.catalog import motif_class
    >>> int(counts[list(connected_isoclasses(4)).index(motif_class("bifan").isoclass)])
    1
    """
    if _is_sparse_list(adjacency):
        mats = _as_csr_list(adjacency)
        out = np.zeros((len(mats), 199), dtype=np.int64)
        for i, mat in enumerate(mats):  # graphs of different sizes: one at a time
            out[i] = _quad_class_counts_dense(mat.toarray().astype(bool)[None])[0][
                connected_isoclasses(4)]
        return out
    return _quad_class_counts_dense(_as_batch(adjacency))[:, connected_isoclasses(4)]


def motif4_census(net: Network) -> pd.DataFrame:
    """Counts of the 199 connected 4-node classes.

    Returns
    -------
    pandas.DataFrame
        One row per class in igraph isoclass order, columns ``isoclass``,
        ``code`` (``m4_<id>``), ``name`` (``bifan``, ``biparallel``,
        ``feedback4`` or the code) and ``count``; equal to
        ``igraph.Graph.motifs_randesu(size=4)`` on the connected classes.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1], [2, 3, 2, 3])   # a bi-fan
    >>> table = motif4_census(net)
    >>> table.loc[table["count"] > 0, ["name", "count"]].values.tolist()
    [['bifan', 1]]
    """
    import pandas as pd

    _check_network(net)
    counts = _quad_class_counts_dense(net.dense_adjacency()[None])[0]
    classes = motif_classes(4)
    return pd.DataFrame({
        "isoclass": [m.isoclass for m in classes],
        "code": [m.code for m in classes],
        "name": [m.name for m in classes],
        "count": counts[[m.isoclass for m in classes]].astype(np.int64),
    })


# --------------------------------------------------------- named motifs
def named_census_many(adjacency, include_size4: bool = True) -> np.ndarray:
    """(S, 9) int64 named-motif counts in :data:`motifs.catalog.NAMED_CENSUS_NAMES` order.

    ``mutual`` counts reciprocated pairs; the others are induced class
    counts. With ``include_size4=False`` the size-4 columns (bifan,
    biparallel, feedback4) are left at -1 and the 4-node census is skipped.
    """
    if _is_sparse_list(adjacency):
        mats = _as_csr_list(adjacency)
        triads = triad_census_many(mats)
        mutual = np.array([int(m.multiply(m.T).sum()) // 2 for m in mats], dtype=np.int64)
        quads = motif4_census_many(mats) if include_size4 else None
    else:
        batch = _as_batch(adjacency)
        triads = triad_census_many(batch)
        mutual = (batch & np.swapaxes(batch, 1, 2)).sum(axis=(1, 2)) // 2
        quads = motif4_census_many(batch) if include_size4 else None
    out = np.full((len(triads), len(NAMED_CENSUS_NAMES)), -1, dtype=np.int64)
    connected4 = list(connected_isoclasses(4))
    for col, name in enumerate(NAMED_CENSUS_NAMES):
        size, edges = NAMED_MOTIFS[name]
        if name in NAMED_TRIADS:
            out[:, col] = triads[:, TRIAD_CODES.index(NAMED_TRIADS[name])]
        elif name == "mutual":
            out[:, col] = mutual
        elif quads is not None:
            iso = int(isoclass_table(4)[edges_to_code(edges, 4)])
            out[:, col] = quads[:, connected4.index(iso)]
    return out


def named_census(net: Network, include_size4: bool = True) -> pd.Series:
    """Counts of the named motifs of a network.

    ``ffl`` (030T), ``chain`` (021C), ``fan_in`` (021U), ``fan_out`` (021D),
    ``cycle3`` (030C) are induced triad counts, ``mutual`` the number of
    reciprocated pairs, ``bifan``, ``biparallel`` and ``feedback4`` induced
    4-node class counts (Milo et al. 2002).

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1], [2, 3, 2, 3])   # a bi-fan
    >>> named_census(net).to_dict()
    {'ffl': 0, 'chain': 0, 'fan_in': 2, 'fan_out': 2, 'cycle3': 0, 'mutual': 0, 'bifan': 1, 'biparallel': 0, 'feedback4': 0}
    """
    import pandas as pd

    _check_network(net)
    counts = named_census_many([net.adjacency()], include_size4=include_size4)[0]
    series = pd.Series(counts, index=list(NAMED_CENSUS_NAMES), name="count", dtype=np.int64)
    return series if include_size4 else series.drop(["bifan", "biparallel", "feedback4"])


# --------------------------------------------------------------- cycles
def simple_cycles_count_many(src: np.ndarray, dst: np.ndarray, n_nodes: int,
                             max_length: int) -> np.ndarray:
    """(S, max_length - 1) int64 simple directed cycles of length 2..max_length.

    Parameters
    ----------
    src, dst : (S, m) or (m,) int arrays
        Edge lists of S graphs on ``n_nodes`` nodes (simple, no self-loops).
    n_nodes : int
    max_length : int >= 2

    Notes
    -----
    The S graphs are laid side by side as one block-diagonal graph and
    simple paths grown breadth-first from every start node, only through
    nodes numbered above the start, so each cycle is found once, from its
    smallest node. Work is proportional to the number of such paths of
    length < ``max_length`` (exponential in ``max_length`` on dense graphs,
    as for any exact cycle count); paths are grown in vectorised blocks.
    """
    sp = _scipy_sparse()
    src = np.atleast_2d(np.asarray(src, dtype=np.int64))
    dst = np.atleast_2d(np.asarray(dst, dtype=np.int64))
    if src.shape != dst.shape:
        raise MotifError(f"src has shape {src.shape} but dst has {dst.shape}")
    if int(max_length) < 2:
        raise MotifError(f"max_length must be at least 2, got {max_length}")
    n_samples = src.shape[0]
    n = int(n_nodes)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise MotifError(f"edge endpoints must lie in 0..{n - 1}")
    offset = (np.arange(n_samples, dtype=np.int64) * n)[:, None]
    total = n_samples * n
    graph = sp.csr_matrix((np.ones(src.size, dtype=np.int8),
                           ((src + offset).ravel(), (dst + offset).ravel())), shape=(total, total))
    graph.sum_duplicates()
    indptr, indices = graph.indptr, graph.indices.astype(np.int64)
    counts = np.zeros((n_samples, int(max_length) - 1), dtype=np.int64)
    block = 1 << 20
    frontier = [np.arange(total, dtype=np.int64)[:, None]]
    for length in range(1, int(max_length) + 1):  # paths of `length` nodes
        grown = []
        for paths in frontier:
            for start in range(0, len(paths), block):
                part = paths[start:start + block]
                last = part[:, -1]
                deg = indptr[last + 1] - indptr[last]
                owner = np.repeat(np.arange(len(part)), deg)
                nxt = indices[np.repeat(indptr[last], deg) + (np.arange(owner.size) -
                                                              np.repeat(np.cumsum(deg) - deg, deg))]
                base = part[owner, 0]
                if length >= 2:
                    closes = nxt == base
                    np.add.at(counts[:, length - 2], base[closes] // n, 1)
                if length == int(max_length):
                    continue
                ok = (nxt > base) & ~(part[owner] == nxt[:, None]).any(axis=1)
                if ok.any():
                    grown.append(np.concatenate([part[owner[ok]], nxt[ok, None]], axis=1))
        frontier = grown
        if not frontier:
            break
    return counts


def simple_cycles_count(net: Network, max_length: int = 4) -> pd.Series:
    """Number of simple directed cycles of each length 2..max_length.

    A 2-cycle is a mutual pair. Equal to counting
    ``networkx.simple_cycles(G, length_bound=max_length)`` by length.

    Returns
    -------
    pandas.Series of int64 indexed ``cycle2`` ... ``cycle{max_length}``.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 2, 1], [1, 2, 0, 0])   # 0->1->2->0 and 1<->0
    >>> simple_cycles_count(net, max_length=3).to_dict()
    {'cycle2': 1, 'cycle3': 1}
    """
    import pandas as pd

    _check_network(net)
    counts = simple_cycles_count_many(net.src, net.dst, net.n_nodes, max_length)[0]
    return pd.Series(counts, index=[f"cycle{k}" for k in range(2, int(max_length) + 1)],
                     name="count", dtype=np.int64)


# --------------------------------------------------------------- signed
def _signed_triad_counts(forward_pos, forward_neg, forward, adjacent, prod, total,
                         hadamard_total, transpose, diag_total) -> dict[str, np.ndarray]:
    """Signed FFL, chain and fan counts from sign-split forward matrices.

    ``forward_pos`` / ``forward_neg``: indicator of asymmetric edges x->y
    with sign + / -; ``forward``: of every asymmetric edge, signs known or
    not; ``adjacent``: indicator of any edge between x and y (either
    direction). Loops with an edge of unknown sign (in ``forward`` only) go
    to ``ffl_unsigned``; chains and fans with one are in no signed row. The
    backend callables work on dense stacks or sparse matrices alike.
    """
    f = {+1: forward_pos, -1: forward_neg}
    out: dict[str, np.ndarray] = {}
    two_paths = {(s1, s2): prod(f[s1], f[s2]) for s1 in (1, -1) for s2 in (1, -1)}
    for name, (s_xy, s_yz, s_xz) in FFL_SIGN_TYPES.items():
        out[name] = hadamard_total(f[s_xz], two_paths[(s_xy, s_yz)])
    out[FFL_UNSIGNED] = (hadamard_total(forward, prod(forward, forward))
                         - sum(out[name] for name in FFL_SIGN_TYPES))
    for name, (s1, s2) in SIGNED_TWO_EDGE_TYPES.items():
        if name.startswith("chain_"):
            paths = two_paths[(s1, s2)]
        elif name.startswith("fan_in_"):
            paths = prod(f[s1], transpose(f[s2]))
        else:
            paths = prod(transpose(f[s1]), f[s2])
        # x != z and x, z not adjacent: the triad is exactly the two edges
        count = total(paths) - diag_total(paths) - hadamard_total(adjacent, paths)
        out[name] = count // 2 if (s1 == s2 and not name.startswith("chain_")) else count
    return out


def signed_triad_census(net: Network) -> pd.Series:
    """Signed feed-forward loops, chains and fans of a signed network.

    The eight FFL types of Mangan & Alon (2003) (``ffl_C1`` ... ``ffl_I4``,
    see :data:`motifs.catalog.FFL_SIGN_TYPES`), chains ``chain_<s1><s2>``
    (signs of the first and second edge) and unordered fans
    ``fan_in_<s><s>``, ``fan_out_<s><s>``, all over induced triads (030T,
    021C, 021U, 021D). Signs are never invented: an edge of sign 0 (a dual
    or unknown regulation) is neither + nor -. A feed-forward loop with
    such an edge is counted in ``ffl_unsigned``, so the FFL rows always sum
    to the 030T count; a chain or fan with one is in no signed row, so
    those sum to their triad-census count only when every sign is known.

    Raises
    ------
    MotifError
        The network carries no signs.

    References
    ----------
    Mangan, S. & Alon, U. (2003). Structure and function of the feed-forward
    loop network motif. PNAS 100:11980-11985.
    Alon, U. (2007). Network motifs: theory and experimental approaches.
    Nat Rev Genet 8:450-461.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, -1, 1])  # X->Y +, Y->Z -, X->Z +
    >>> census = signed_triad_census(net)
    >>> int(census["ffl_I1"]), int(census.sum())
    (1, 1)
    >>> dual = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, 0, 1])  # Y->Z dual
    >>> int(signed_triad_census(dual)["ffl_unsigned"]), int(signed_triad_census(dual).sum())
    (1, 1)
    """
    import pandas as pd

    return pd.Series(signed_triad_counts(net), index=list(SIGNED_TRIAD_NAMES), name="count",
                     dtype=np.int64)


def signed_triad_counts(net: Network) -> np.ndarray:
    """(19,) int64: :func:`signed_triad_census` as an array, in ``SIGNED_TRIAD_NAMES`` order.

    Raises
    ------
    MotifError
        The network carries no signs.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, -1, 1])  # X->Y +, Y->Z -, X->Z +
    >>> counts = signed_triad_counts(net)
    >>> int(counts[SIGNED_TRIAD_NAMES.index("ffl_I1")]), int(counts.sum())
    (1, 1)
    """
    sp = _scipy_sparse()
    _check_network(net)
    if net.sign is None:
        raise MotifError("signed_triad_census needs a network with edge signs (sign=...)")
    adj = net.adjacency(dtype=np.float64)
    forward = _sparse_state_matrices(adj)[1]
    signed = sp.csr_matrix((net.sign.astype(np.float64), (net.src, net.dst)), shape=adj.shape)
    pos = forward.multiply(signed > 0).tocsr()
    neg = forward.multiply(signed < 0).tocsr()
    adjacent = ((adj + adj.T) > 0).astype(np.float64)
    counts = _signed_triad_counts(
        pos, neg, forward.tocsr(), adjacent,
        prod=lambda x, y: x @ y,
        total=lambda x: int(round(x.sum())),
        hadamard_total=lambda x, y: int(round(x.multiply(y).sum())),
        transpose=lambda x: x.T.tocsr(),
        diag_total=lambda x: int(round(x.diagonal().sum())),
    )
    return np.array([counts[k] for k in SIGNED_TRIAD_NAMES], dtype=np.int64)


def signed_ffl_census(net: Network) -> pd.Series:
    """The eight signed feed-forward loop types ``ffl_C1`` ... ``ffl_I4``, and ``ffl_unsigned``.

    See :func:`signed_triad_census`; the types follow Mangan & Alon (2003):
    coherent iff sign(X->Z) = sign(X->Y) * sign(Y->Z).

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, 1, 1])
    >>> signed_ffl_census(net).to_dict()["ffl_C1"]
    1
    """
    return signed_triad_census(net)[[*FFL_SIGN_TYPES, FFL_UNSIGNED]]


def signed_triad_census_many(src: np.ndarray, dst: np.ndarray, sign: np.ndarray,
                             n_nodes: int) -> np.ndarray:
    """(S, 19) int64 signed triad counts for a batch, in ``SIGNED_TRIAD_NAMES`` order.

    Parameters
    ----------
    src, dst : (m,) or (S, m) int
        Edges; 1-D when every sample shares one topology (sign shuffles).
    sign : (S, m) int
        Edge signs (+1 / -1, 0 unknown) per sample.
    n_nodes : int

    Notes
    -----
    Dense batched float32 products over the sample axis, O(S n^3).

    Examples
    --------
    >>> signs = np.array([[1, 1, 1], [1, -1, 1]])
    >>> out = signed_triad_census_many([0, 1, 0], [1, 2, 2], signs, n_nodes=3)
    >>> out[:, :8].tolist()
    [[1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0, 0]]
    """
    sign = np.atleast_2d(np.asarray(sign))
    n_samples, m = sign.shape
    src = np.broadcast_to(np.asarray(src, dtype=np.int64), (n_samples, m))
    dst = np.broadcast_to(np.asarray(dst, dtype=np.int64), (n_samples, m))
    n = int(n_nodes)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise MotifError(f"edge endpoints must lie in 0..{n - 1}")
    if (src == dst).any():
        raise MotifError("self-loops are not allowed in a motif census")
    rows = np.repeat(np.arange(n_samples), m)
    batch = np.zeros((n_samples, n, n), dtype=bool)
    batch[rows, src.ravel(), dst.ravel()] = True
    signs = np.zeros((n_samples, n, n), dtype=np.int8)
    signs[rows, src.ravel(), dst.ravel()] = np.sign(sign.ravel())
    forward = batch & ~np.swapaxes(batch, 1, 2)
    # C-contiguous float32 stacks: numpy's stacked matmul uses BLAS only on those;
    # an edge of sign 0 is in neither pos nor neg (a sign is never invented)
    pos = np.ascontiguousarray(forward & (signs > 0), dtype=np.float32)
    neg = np.ascontiguousarray(forward & (signs < 0), dtype=np.float32)
    adjacent = np.ascontiguousarray(batch | np.swapaxes(batch, 1, 2), dtype=np.float32)
    forward = np.ascontiguousarray(forward, dtype=np.float32)

    def exact(x: np.ndarray) -> np.ndarray:
        return np.rint(x).astype(np.int64)

    counts = _signed_triad_counts(
        pos, neg, forward, adjacent,
        prod=np.matmul,
        total=lambda x: exact(x.sum(axis=(1, 2), dtype=np.float64)),
        hadamard_total=lambda x, y: exact((x * y).sum(axis=(1, 2), dtype=np.float64)),
        transpose=lambda x: np.ascontiguousarray(np.swapaxes(x, 1, 2)),
        diag_total=lambda x: exact(np.trace(x, axis1=1, axis2=2, dtype=np.float64)),
    )
    return np.stack([counts[k] for k in SIGNED_TRIAD_NAMES], axis=1)


def signed_ffl_census_many(src: np.ndarray, dst: np.ndarray, sign: np.ndarray,
                           n_nodes: int) -> np.ndarray:
    """(S, 9) int64 signed FFL type counts (``ffl_C1`` ... ``ffl_I4``, ``ffl_unsigned``).

    See :func:`signed_triad_census_many` for the arguments.
    """
    return signed_triad_census_many(src, dst, sign, n_nodes)[:, :len(FFL_SIGN_TYPES) + 1]
