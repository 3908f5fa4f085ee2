"""The motif catalog: one source of truth for motif names, codes and drawings.

Every other module (census, statistics, command line, reports) looks motif
names up here. Three naming schemes meet:

- the 16 MAN triad codes of Holland & Leinhardt (``003`` ... ``300``), in the
  order of ``networkx.triadic_census`` (whose labels we follow: ``111D`` is a
  mutual pair with an edge *into* it, ``111U`` one *out of* it, ``120D`` a
  mutual pair fed by one node, ``120U`` one feeding one node);
- igraph isomorphism-class ids (``igraph.Graph.Isoclass(k, id, directed=True)``),
  16 classes for 3 nodes (13 connected) and 218 for 4 nodes (199 connected);
- named motifs (``ffl``, ``chain``, ``fan_in``, ``fan_out``, ``cycle3``,
  ``mutual``, ``bifan``, ``biparallel``, ``feedback4``) and the signed
  feed-forward loop types of Mangan & Alon (2003).

Stable names written to CSV files: MAN codes for triads (``030T``), the
motif name for the named 4-node classes (``bifan``, ``biparallel``,
``feedback4``) and ``m4_<isoclass id>`` for the other 4-node classes,
the named motifs, ``cycle{k}``,
``ffl_C1`` ... ``ffl_I4``, ``chain_++`` ... and ``fan_in_+-`` ....

Labelled codes
--------------
A k-node subgraph with nodes at positions ``0..k-1`` is coded by one bit per
ordered pair ``(i, j)``, ``i != j``, taken in row-major order
(``ORDERED_PAIRS[k]``): bit ``b`` is set when edge ``pairs[b]`` exists. So a
triad has a 6-bit code and a quad a 12-bit code. :func:`isoclass_table` maps
every labelled code to its igraph isoclass id.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

import numpy as np

from motifs.errors import MotifError

#: Ordered node pairs of a k-node subgraph, one bit of the labelled code each.
ORDERED_PAIRS: dict[int, tuple[tuple[int, int], ...]] = {
    k: tuple((i, j) for i in range(k) for j in range(k) if i != j) for k in (2, 3, 4)
}

#: The 16 MAN triad codes, in ``networkx.triadic_census`` order.
TRIAD_CODES: tuple[str, ...] = (
    "003", "012", "102", "021D", "021U", "021C", "111D", "111U",
    "030T", "030C", "201", "120D", "120U", "120C", "210", "300",
)

#: igraph's isoclass id of each triad class (``igraph.Graph.Isoclass(3, id, directed=True)``),
#: spelled out so that size-3 work never imports igraph (which imports matplotlib: a second
#: of start-up); tests/motifs/test_fast_paths.py checks it against igraph.
TRIAD_ISOCLASS: dict[str, int] = {
    "003": 0, "012": 1, "102": 3, "021D": 6, "021U": 2, "021C": 4, "111D": 5, "111U": 9,
    "030T": 7, "030C": 11, "201": 10, "120D": 8, "120U": 13, "120C": 12, "210": 14, "300": 15,
}

#: One drawing of each triad class (nodes 0, 1, 2).
TRIAD_EDGES: dict[str, tuple[tuple[int, int], ...]] = {
    "003": (),
    "012": ((0, 1),),
    "102": ((0, 1), (1, 0)),
    "021D": ((0, 1), (0, 2)),  # fan-out: 0 drives 1 and 2
    "021U": ((0, 2), (1, 2)),  # fan-in: 0 and 1 drive 2
    "021C": ((0, 1), (1, 2)),  # chain
    "111D": ((0, 1), (1, 0), (2, 0)),  # mutual pair, an edge into it
    "111U": ((0, 1), (1, 0), (0, 2)),  # mutual pair, an edge out of it
    "030T": ((0, 1), (1, 2), (0, 2)),  # feed-forward loop X=0, Y=1, Z=2
    "030C": ((0, 1), (1, 2), (2, 0)),  # 3-cycle
    "201": ((0, 1), (1, 0), (0, 2), (2, 0)),
    "120D": ((0, 1), (0, 2), (1, 2), (2, 1)),  # 0 drives the mutual pair 1-2
    "120U": ((1, 0), (2, 0), (1, 2), (2, 1)),  # the mutual pair 1-2 drives 0
    "120C": ((0, 1), (1, 0), (0, 2), (2, 1)),
    "210": ((0, 1), (1, 0), (1, 2), (2, 1), (0, 2)),
    "300": ((0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)),
}

#: Named motifs: (size, drawing). Size-3 ones are triad classes, size-4 ones
#: 4-node classes; ``mutual`` is a 2-node class (a reciprocated pair).
NAMED_MOTIFS: dict[str, tuple[int, tuple[tuple[int, int], ...]]] = {
    "ffl": (3, TRIAD_EDGES["030T"]),
    "chain": (3, TRIAD_EDGES["021C"]),
    "fan_in": (3, TRIAD_EDGES["021U"]),
    "fan_out": (3, TRIAD_EDGES["021D"]),
    "cycle3": (3, TRIAD_EDGES["030C"]),
    "mutual": (2, ((0, 1), (1, 0))),
    "bifan": (4, ((0, 2), (0, 3), (1, 2), (1, 3))),
    "biparallel": (4, ((0, 1), (0, 2), (1, 3), (2, 3))),
    "feedback4": (4, ((0, 1), (1, 2), (2, 3), (3, 0))),
}

#: Triad code of each size-3 named motif.
NAMED_TRIADS: dict[str, str] = {
    "ffl": "030T", "chain": "021C", "fan_in": "021U", "fan_out": "021D", "cycle3": "030C",
}

#: Signed feed-forward loop types (Mangan & Alon 2003, Fig. 1; Alon 2007,
#: Fig. 3): name -> (sign X->Y, sign Y->Z, sign X->Z). Coherent iff
#: sign(X->Z) == sign(X->Y) * sign(Y->Z); each incoherent type k is coherent
#: type k with the sign of Y->Z flipped.
FFL_SIGN_TYPES: dict[str, tuple[int, int, int]] = {
    "ffl_C1": (+1, +1, +1),
    "ffl_C2": (-1, +1, -1),
    "ffl_C3": (+1, -1, -1),
    "ffl_C4": (-1, -1, +1),
    "ffl_I1": (+1, -1, +1),
    "ffl_I2": (-1, -1, -1),
    "ffl_I3": (+1, +1, -1),
    "ffl_I4": (-1, +1, +1),
}

#: Signed two-edge triads (induced 021C / 021U / 021D): name -> signs. Chains
#: are ordered (first edge, second edge); fans are unordered pairs of signs.
SIGNED_TWO_EDGE_TYPES: dict[str, tuple[int, int]] = {
    "chain_++": (+1, +1), "chain_+-": (+1, -1), "chain_-+": (-1, +1), "chain_--": (-1, -1),
    "fan_in_++": (+1, +1), "fan_in_+-": (+1, -1), "fan_in_--": (-1, -1),
    "fan_out_++": (+1, +1), "fan_out_+-": (+1, -1), "fan_out_--": (-1, -1),
}

#: Feed-forward loops with at least one edge of unknown sign (sign 0: a dual or unknown
#: regulation): counted in this row of their own, never given a type.
FFL_UNSIGNED = "ffl_unsigned"

#: Every name :func:`signed_triad_census` reports, in order.
SIGNED_TRIAD_NAMES: tuple[str, ...] = (tuple(FFL_SIGN_TYPES) + (FFL_UNSIGNED,)
                                       + tuple(SIGNED_TWO_EDGE_TYPES))

#: Names reported by ``named_census``, in order.
NAMED_CENSUS_NAMES: tuple[str, ...] = tuple(NAMED_MOTIFS)


@dataclass(frozen=True)
class MotifClass:
    """One isomorphism class of connected k-node directed graphs.

    Attributes
    ----------
    size : int
        Number of nodes (3 or 4).
    isoclass : int
        igraph isoclass id (``igraph.Graph.Isoclass(size, isoclass, directed=True)``).
    code : str
        Stable name: the MAN code for triads (``"030T"``); for quads the motif
        name where it has one (``"bifan"``), else ``"m4_<id>"``.
    name : str
        Motif name where it has one (``"ffl"``, ``"bifan"``), else ``code``.
    edges : tuple of (int, int)
        A canonical drawing on nodes ``0..size-1``.
    """

    size: int
    isoclass: int
    code: str
    name: str
    edges: tuple[tuple[int, int], ...]

    @property
    def n_edges(self) -> int:
        return len(self.edges)


# ----------------------------------------------------------------- codes
def edges_to_code(edges, size: int) -> int:
    """Labelled code of a drawing on nodes ``0..size-1``.

    Examples
    --------
    >>> edges_to_code([(0, 1)], 3), edges_to_code([(1, 0)], 3)
    (1, 4)
    """
    index = {pair: bit for bit, pair in enumerate(ORDERED_PAIRS[size])}
    code = 0
    for i, j in edges:
        if (i, j) not in index:
            raise MotifError(f"edge ({i}, {j}) is not a pair of distinct nodes below {size}")
        code |= 1 << index[(i, j)]
    return code


def code_to_edges(code: int, size: int) -> tuple[tuple[int, int], ...]:
    """The edges of a labelled code (inverse of :func:`edges_to_code`)."""
    pairs = ORDERED_PAIRS[size]
    return tuple(pairs[b] for b in range(len(pairs)) if code >> b & 1)


def _code_bits(size: int) -> np.ndarray:
    """(2**n_pairs, n_pairs) bool: the bits of every labelled code."""
    n_bits = len(ORDERED_PAIRS[size])
    codes = np.arange(1 << n_bits, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n_bits)) & 1).astype(bool)


@functools.lru_cache(maxsize=None)
def canonical_codes(size: int) -> np.ndarray:
    """(2**(size*(size-1)),) int64: the smallest code over node relabellings.

    Two labelled codes are isomorphic iff their canonical codes are equal.
    """
    pairs = ORDERED_PAIRS[size]
    bits = _code_bits(size)
    index = {pair: b for b, pair in enumerate(pairs)}
    weights = 1 << np.arange(len(pairs), dtype=np.int64)
    best = None
    for perm in itertools.permutations(range(size)):  # 6 or 24 relabellings, not a hot path
        target = np.array([index[(perm[i], perm[j])] for i, j in pairs])
        relabelled = bits.astype(np.int64) @ weights[target]
        best = relabelled if best is None else np.minimum(best, relabelled)
    return best


@functools.lru_cache(maxsize=None)
def isoclass_table(size: int) -> np.ndarray:
    """(2**(size*(size-1)),) int16: igraph isoclass id of every labelled code.

    Built once per size from ``igraph.Graph.Isoclass`` and cached.

    Examples
    --------
    >>> int(isoclass_table(3)[edges_to_code(TRIAD_EDGES["030T"], 3)]) == triad_isoclass("030T")
    True
    """
    if size == 3:
        iso = np.array([TRIAD_ISOCLASS[man] for man in TRIAD_CODES], dtype=np.int16)
        table = iso[_triad_code_table()]
        table.setflags(write=False)
        return table
    import igraph

    if size not in (3, 4):
        raise MotifError(f"motif size must be 3 or 4, got {size}")
    canon = canonical_codes(size)
    n_classes = 16 if size == 3 else 218
    by_canon = {}
    for iso in range(n_classes):
        graph = igraph.Graph.Isoclass(size, iso, directed=True)
        by_canon[int(canon[edges_to_code(graph.get_edgelist(), size)])] = iso
    lookup = np.array([by_canon[int(c)] for c in np.unique(canon)], dtype=np.int16)
    table = lookup[np.searchsorted(np.unique(canon), canon)]
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=None)
def _triad_code_table() -> np.ndarray:
    """(64,) int8: index into TRIAD_CODES of every labelled triad code."""
    canon = canonical_codes(3)
    table = np.empty(64, dtype=np.int8)
    for index, man in enumerate(TRIAD_CODES):
        table[canon == canon[edges_to_code(TRIAD_EDGES[man], 3)]] = index
    table.setflags(write=False)
    return table


def triad_code_table() -> np.ndarray:
    """(64,) int8: position in :data:`TRIAD_CODES` of every labelled triad code.

    Examples
    --------
    >>> TRIAD_CODES[triad_code_table()[edges_to_code([(2, 0), (2, 1)], 3)]]
    '021D'
    """
    return _triad_code_table()


def triad_isoclass(man: str) -> int:
    """igraph isoclass id of a MAN triad code (``"030T"`` -> 7)."""
    if man not in TRIAD_EDGES:
        raise MotifError(f"unknown triad code {man!r}; expected one of {list(TRIAD_CODES)}")
    return int(isoclass_table(3)[edges_to_code(TRIAD_EDGES[man], 3)])


@functools.lru_cache(maxsize=None)
def _is_connected(size: int) -> np.ndarray:
    """(n_classes,) bool: weakly connected isoclasses."""
    if size == 3:  # every triad but the empty one, a single edge and a mutual pair
        connected = np.ones(16, dtype=bool)
        connected[[TRIAD_ISOCLASS[man] for man in ("003", "012", "102")]] = False
        return connected
    import igraph

    n_classes = 16 if size == 3 else 218
    return np.array([igraph.Graph.Isoclass(size, i, directed=True).is_connected(mode="weak")
                     for i in range(n_classes)])


@functools.lru_cache(maxsize=None)
def motif_classes(size: int) -> tuple[MotifClass, ...]:
    """The connected classes of ``size`` nodes, in igraph isoclass order.

    13 classes for size 3, 199 for size 4.

    Examples
    --------
    >>> [m.code for m in motif_classes(3)][:4]
    ['021U', '021C', '111D', '021D']
    >>> len(motif_classes(4))
    199
    """
    if size not in (3, 4):
        raise MotifError(f"motif size must be 3 or 4, got {size}")
    classes = []
    if size == 3:
        named = {man: name for name, man in NAMED_TRIADS.items()}
        for man in TRIAD_CODES:
            iso = triad_isoclass(man)
            if _is_connected(3)[iso]:
                classes.append(MotifClass(3, iso, man, named.get(man, man), TRIAD_EDGES[man]))
        return tuple(sorted(classes, key=lambda m: m.isoclass))
    import igraph

    table = isoclass_table(4)
    named4 = {int(table[edges_to_code(edges, 4)]): (name, edges)
              for name, (k, edges) in NAMED_MOTIFS.items() if k == 4}
    for iso in np.flatnonzero(_is_connected(4)).tolist():
        code = f"m4_{iso}"
        name, edges = named4.get(
            iso, (code, tuple(igraph.Graph.Isoclass(4, iso, directed=True).get_edgelist())))
        classes.append(MotifClass(4, iso, name, name, edges))
    return tuple(classes)


def connected_isoclasses(size: int) -> np.ndarray:
    """(n_connected,) int: isoclass ids of the connected classes, ascending."""
    return np.array([m.isoclass for m in motif_classes(size)], dtype=np.int64)


def motif_class(key: str | int, size: int | None = None) -> MotifClass:
    """Look a connected motif class up by name, code or isoclass id.

    Parameters
    ----------
    key : str or int
        A motif name (``"ffl"``, ``"bifan"``), a MAN code (``"030T"``), a
        4-node code (``"m4_<id>"``) or an igraph isoclass id (needs ``size``).
    size : 3 or 4, optional
        Required for an integer ``key``.

    Raises
    ------
    MotifError
        An unknown name or id, or a disconnected class.

    Examples
    --------
    >>> motif_class("ffl").code, motif_class("030T").name, motif_class(7, size=3).code
    ('030T', 'ffl', '030T')
    >>> motif_class("bifan").size
    4
    """
    if isinstance(key, (int, np.integer)):
        if size not in (3, 4):
            raise MotifError(f"an isoclass id needs size=3 or 4, got size={size}")
        for motif in motif_classes(size):
            if motif.isoclass == int(key):
                return motif
        raise MotifError(f"isoclass {key} is not a connected {size}-node class")
    numbered = re.fullmatch(r"m4_(\d+)", key)
    if numbered and size in (None, 4):
        return motif_class(int(numbered.group(1)), size=4)
    sizes = (size,) if size is not None else (3, 4)
    for k in sizes:
        for motif in motif_classes(k):
            if key in (motif.code, motif.name):
                return motif
    if key in TRIAD_CODES:
        raise MotifError(f"triad {key!r} is not connected, so it is not a motif class")
    raise MotifError(f"unknown motif {key!r}: use a name ({', '.join(NAMED_MOTIFS)}), "
                     "a MAN code such as '030T', or 'm4_<isoclass id>'")


def motif_class_of(edges, size: int) -> MotifClass:
    """The connected class of a drawing on nodes ``0..size-1``.

    Examples
    --------
    >>> motif_class_of([(2, 0), (0, 1), (2, 1)], 3).name
    'ffl'
    >>> motif_class_of([(0, 2), (1, 2), (0, 3), (1, 3)], 4).name
    'bifan'
    """
    if size not in (3, 4):
        raise MotifError(f"motif size must be 3 or 4, got {size}")
    return motif_class(int(isoclass_table(size)[edges_to_code(edges, size)]), size=size)


def motif_drawing(key: str) -> tuple[int, tuple[tuple[int, int], ...]]:
    """(size, edges) to draw any named motif, MAN code or class code.

    Examples
    --------
    >>> motif_drawing("ffl")
    (3, ((0, 1), (1, 2), (0, 2)))
    >>> motif_drawing("cycle5")
    (5, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 0)))
    """
    if key in NAMED_MOTIFS:
        return NAMED_MOTIFS[key]
    if key in TRIAD_EDGES:
        return 3, TRIAD_EDGES[key]
    cycle = re.fullmatch(r"cycle(\d+)", key)
    if cycle and int(cycle.group(1)) >= 2:
        k = int(cycle.group(1))
        return k, tuple((i, (i + 1) % k) for i in range(k))
    if key in FFL_SIGN_TYPES:
        return 3, TRIAD_EDGES["030T"]
    for prefix, man in (("chain_", "021C"), ("fan_in_", "021U"), ("fan_out_", "021D")):
        if key.startswith(prefix) and key in SIGNED_TWO_EDGE_TYPES:
            return 3, TRIAD_EDGES[man]
    motif = motif_class(key)
    return motif.size, motif.edges


def is_coherent(sign_xy: int, sign_yz: int, sign_xz: int) -> bool:
    """Mangan & Alon (2003): an FFL is coherent iff sign(XZ) = sign(XY) * sign(YZ).

    Examples
    --------
    >>> is_coherent(+1, +1, +1), is_coherent(+1, -1, +1)
    (True, False)
    """
    return sign_xz == sign_xy * sign_yz
