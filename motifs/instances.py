"""Motif instances: the node tuples that form each motif, strongest first.

A census says *how many* feed-forward loops a graph has; this module says
*which* nodes form them, so a researcher can read the features of each loop.
Instances are induced (the same convention as the census): a feed-forward
loop x->y->z, x->z has no other edge among x, y, z, so the number of rows
equals the census count.

Enumeration is vectorised: the two-edge paths x->y->z are expanded from the
compressed sparse rows of the asymmetric adjacency with ``numpy.repeat``,
and the third dyad of each is looked up by binary search in the sorted edge
keys. No Python loop visits an edge or a triple.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
import scipy.sparse as sp

from motifs.catalog import FFL_SIGN_TYPES
from motifs.errors import MotifError
from motifs.network import Network

#: Motifs :func:`motif_instances` lists, with their edges as (role, role) pairs.
INSTANCE_MOTIFS: dict[str, tuple[tuple[str, str], ...]] = {
    "ffl": (("x", "y"), ("y", "z"), ("x", "z")),
    "chain": (("x", "y"), ("y", "z")),
    "fan_in": (("x", "z"), ("y", "z")),
    "fan_out": (("x", "y"), ("x", "z")),
    "cycle3": (("x", "y"), ("y", "z"), ("z", "x")),
}

_ALIASES = {"030T": "ffl", "021C": "chain", "021U": "fan_in", "021D": "fan_out", "030C": "cycle3"}


def _edge_lookup(net: Network):
    """Sorted edge keys and a function (u, v) -> (present, edge index)."""
    n = max(net.n_nodes, 1)
    keys = net.src.astype(np.int64) * n + net.dst  # Network keeps edges sorted by (src, dst)

    def find(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        query = u.astype(np.int64) * n + v
        pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
        present = keys[pos] == query if keys.size else np.zeros(query.shape, dtype=bool)
        return present, pos

    return find


def _asymmetric_edges(net: Network, find) -> np.ndarray:
    """(m,) bool: edges whose reverse is absent (the dyads of 030T, 021*, 030C)."""
    reverse, _ = find(net.dst, net.src)
    return ~reverse


def _csr(sources: np.ndarray, targets: np.ndarray, edge_ids: np.ndarray, n: int) -> sp.csr_matrix:
    """CSR whose entry (u, v) stores edge id + 1 (so that 0 means absent)."""
    return sp.csr_matrix((edge_ids + 1, (sources, targets)), shape=(n, n))


def _expand(mat: sp.csr_matrix, first_edge: np.ndarray, through: np.ndarray):
    """For each edge in ``first_edge`` ending (or starting) at ``through``,
    every stored entry of row ``through`` of ``mat``: (owner, column, edge id)."""
    indptr = mat.indptr
    deg = indptr[through + 1] - indptr[through]
    owner = np.repeat(np.arange(first_edge.size), deg)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(deg) - deg, deg)
    slot = np.repeat(indptr[through], deg) + offset
    return owner, mat.indices[slot].astype(np.int64), mat.data[slot].astype(np.int64) - 1


#: The last enumeration, (network, motif, arrays): the explorer page ranks a graph's FFLs
#: and then searches its cascades on the same (frozen) Network, and the enumeration is
#: the costliest step of both. One entry, held weakly, read-only arrays.
_LAST_TRIPLES: tuple[weakref.ref, str, tuple[np.ndarray, ...]] | None = None


def _triples(net: Network, motif: str) -> tuple[np.ndarray, ...]:
    """(x, y, z) node arrays and one edge-index array per motif edge (read-only)."""
    global _LAST_TRIPLES
    last = _LAST_TRIPLES
    if last is not None and last[0]() is net and last[1] == motif:
        return last[2]
    arrays = _enumerate(net, motif)
    for array in arrays:
        array.setflags(write=False)
    _LAST_TRIPLES = (weakref.ref(net), motif, arrays)
    return arrays


def _enumerate(net: Network, motif: str) -> tuple[np.ndarray, ...]:
    """:func:`_triples` without the cache."""
    find = _edge_lookup(net)
    n = net.n_nodes
    asym = _asymmetric_edges(net, find)
    ids = np.flatnonzero(asym)
    src, dst = net.src[ids].astype(np.int64), net.dst[ids].astype(np.int64)
    forward = _csr(src, dst, ids, n)
    backward = _csr(dst, src, ids, n)
    if motif in ("ffl", "chain", "cycle3"):
        owner, z, e_yz = _expand(forward, ids, dst)  # x->y then y->z
        x, y, e_xy = src[owner], dst[owner], ids[owner]
        keep = x != z
        x, y, z, e_xy, e_yz = x[keep], y[keep], z[keep], e_xy[keep], e_yz[keep]
        xz, e_xz = find(x, z)
        zx, e_zx = find(z, x)
        if motif == "ffl":
            keep = xz & ~zx
            return x[keep], y[keep], z[keep], e_xy[keep], e_yz[keep], e_xz[keep]
        if motif == "chain":
            keep = ~xz & ~zx
            return x[keep], y[keep], z[keep], e_xy[keep], e_yz[keep]
        keep = zx & ~xz & (x < y) & (x < z)  # each 3-cycle once, from its smallest node
        return x[keep], y[keep], z[keep], e_xy[keep], e_yz[keep], e_zx[keep]
    if motif == "fan_in":
        owner, y, e_yz = _expand(backward, ids, dst)  # x->z and y->z
        x, z, e_xz = src[owner], dst[owner], ids[owner]
        keep = x < y
        x, y, z, e_xz, e_yz = x[keep], y[keep], z[keep], e_xz[keep], e_yz[keep]
        keep = ~find(x, y)[0] & ~find(y, x)[0]
        return x[keep], y[keep], z[keep], e_xz[keep], e_yz[keep]
    owner, z, e_xz = _expand(forward, ids, src)  # fan_out: x->y and x->z
    x, y, e_xy = src[owner], dst[owner], ids[owner]
    keep = y < z
    x, y, z, e_xy, e_xz = x[keep], y[keep], z[keep], e_xy[keep], e_xz[keep]
    keep = ~find(y, z)[0] & ~find(z, y)[0]
    return x[keep], y[keep], z[keep], e_xy[keep], e_xz[keep]


def _sign_names(motif: str, signs: list[np.ndarray]) -> np.ndarray:
    """Sign type of each instance (``ffl_I1``, ``chain_+-``, ``fan_in_++``...).

    An instance with an edge of unknown sign (0) is ``<motif>_unsigned``
    (``ffl_unsigned``, as in the signed census): a sign is never invented.
    """
    unknown = (np.stack(signs) == 0).any(axis=0)
    if motif == "ffl":
        table = np.empty(8, dtype=object)
        for name, (s_xy, s_yz, s_xz) in FFL_SIGN_TYPES.items():
            table[(s_xy < 0) * 4 + (s_yz < 0) * 2 + (s_xz < 0)] = name
        named = table[(signs[0] < 0) * 4 + (signs[1] < 0) * 2 + (signs[2] < 0)]
        return np.where(unknown, "ffl_unsigned", named).astype(object)
    symbol = np.where(np.stack(signs) < 0, "-", "+")
    if motif in ("fan_in", "fan_out"):
        symbol = np.sort(symbol, axis=0)  # unordered: "+" sorts before "-"
    joined = np.char.add(symbol[0], symbol[1]) if len(signs) == 2 else \
        np.char.add(np.char.add(symbol[0], symbol[1]), symbol[2])
    return np.where(unknown, f"{motif}_unsigned", np.char.add(f"{motif}_", joined)).astype(object)


def motif_instances(net: Network, motif: str = "ffl", limit: int | None = None) -> pd.DataFrame:
    """Every instance of a 3-node motif, ranked by edge strength.

    Parameters
    ----------
    net : Network
    motif : str
        ``"ffl"`` (030T), ``"chain"`` (021C), ``"fan_in"`` (021U),
        ``"fan_out"`` (021D) or ``"cycle3"`` (030C); MAN codes are accepted.
    limit : int, optional
        Keep only the ``limit`` strongest instances.

    Returns
    -------
    pandas.DataFrame
        Columns ``x, y, z`` (node numbers; for ``ffl`` the loop X->Y->Z with
        X->Z, for fans the shared node is ``z`` (fan-in) or ``x``
        (fan-out)), one ``w_<role><role>`` column per motif edge (signed
        weight, or the sign when the network has no weights, or 1),
        ``strength`` (geometric mean of the |weights|), ``sign_type``
        (``ffl_C1`` ... ``ffl_I4``, ``chain_+-``...; missing when unsigned),
        sorted by strength, strongest first. Instances are induced, so there
        are exactly as many rows as the census counts.

    Notes
    -----
    O(number of two-edge paths) time and memory: for each edge x->y the
    out-edges of y are gathered at once, and the x->z dyad is found by
    binary search among the sorted edge keys.

    References
    ----------
    Mangan, S. & Alon, U. (2003). Structure and function of the feed-forward
    loop network motif. PNAS 100:11980-11985.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, -1, 1], weight=[4.0, -2.0, 1.0])
    >>> motif_instances(net).to_dict("records")
    [{'x': 0, 'y': 1, 'z': 2, 'w_xy': 4.0, 'w_yz': -2.0, 'w_xz': 1.0, 'strength': 2.0, 'sign_type': 'ffl_I1'}]
    """
    if not isinstance(net, Network):
        raise MotifError(f"net must be a motifs.Network, got {type(net).__name__}")
    motif = _ALIASES.get(motif, motif)
    if motif not in INSTANCE_MOTIFS:
        raise MotifError(f"motif_instances lists {sorted(INSTANCE_MOTIFS)}, not {motif!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise MotifError(f"limit must be a non-negative integer, got {limit!r}")
    return pd.DataFrame(ranked_instances(net, motif, limit))


def ranked_instances(net: Network, motif: str = "ffl", limit: int | None = None
                     ) -> dict[str, np.ndarray]:
    """The columns of :func:`motif_instances` as arrays, ranked, without the table.

    Arguments are trusted (:func:`motif_instances` checks them). Only the
    ``limit`` kept rows are gathered and named, so a caller that wants the
    strongest few of many instances (the explorer's motif panel) skips the
    per-instance table building.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, -1, 1], weight=[4.0, -2.0, 1.0])
    >>> {k: v.tolist() for k, v in ranked_instances(net).items()}["sign_type"]
    ['ffl_I1']
    """
    motif = _ALIASES.get(motif, motif)
    x, y, z, *edges = _triples(net, motif)
    if net.weight is not None:
        weight = net.weight.astype(np.float64)
    elif net.sign is not None:
        weight = net.sign.astype(np.float64)
    else:
        weight = np.ones(net.n_edges)
    abs_w = np.abs(np.stack([weight[e] for e in edges])) if x.size else np.zeros((len(edges), 0))
    with np.errstate(divide="ignore"):
        strength = np.exp(np.log(abs_w).mean(axis=0)) if x.size else np.zeros(0)
    if limit is not None and 0 < limit < strength.size and not np.isnan(strength).any():
        # only instances at least as strong as the limit-th strongest can rank in the top
        # limit (ties included), so only those are sorted (NaN, ranked last, would move the cut)
        cut = np.partition(strength, strength.size - int(limit))[strength.size - int(limit)]
        chosen = np.flatnonzero(strength >= cut)
        order = chosen[np.lexsort((z[chosen], y[chosen], x[chosen], -strength[chosen]))]
    else:
        order = np.lexsort((z, y, x, -strength))
    if limit is not None:
        order = order[:int(limit)]
    edges = [edge[order] for edge in edges]
    columns: dict[str, np.ndarray] = {"x": x[order], "y": y[order], "z": z[order]}
    for (u, v), edge in zip(INSTANCE_MOTIFS[motif], edges):
        columns[f"w_{u}{v}"] = weight[edge]
    columns["strength"] = strength[order]
    if net.sign is not None and order.size:
        columns["sign_type"] = _sign_names(motif, [net.sign[e] for e in edges])
    else:
        columns["sign_type"] = np.full(order.size, None, dtype=object)
    return columns
