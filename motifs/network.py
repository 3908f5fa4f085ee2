"""Network: the plain-array directed graph every motif routine works on.

The motif engine is general (gene regulation, neurons, food webs, attribution
graphs): its core touches only these arrays. This module is the adapter from
one :class:`corpus.AttributionGraph`: :meth:`Network.from_graph` builds the
network, :func:`instances_for_graph` puts the graph's node ids, kinds, layers,
positions and labels on motif instances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Hashable, Sequence

import numpy as np

from motifs.errors import MotifError

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

    from corpus.graph import AttributionGraph

#: Node kinds kept by default when a Network is built from an attribution graph.
DEFAULT_KINDS: tuple[str, ...] = ("embedding", "feature", "logit")


@dataclass(frozen=True)
class Network:
    """A simple directed graph as arrays: no self-loops, no repeated edges.

    Attributes
    ----------
    n_nodes : int
    src, dst : (n_edges,) int32
        Edge endpoints, sorted by (src, dst).
    sign : (n_edges,) int8 or None
        +1 / -1 per edge when signs are kept; 0 where the sign is unknown.
    weight : (n_edges,) float32 or None
        Edge weight (signed) when known.
    layer : (n_nodes,) int32 or None
        Node layer, for layer-aware null models (embeddings -1, logits
        n_layers for attribution graphs).
    names : (n_nodes,) object or None
        Node names (node ids of an attribution graph, or edge-list names).
    rows : (n_nodes,) int64 or None
        Row numbers of the nodes in the AttributionGraph they came from.
    pos : (n_nodes,) int32 or None
        Token position of each node (an attribution graph's ``pos``,
        Neuronpedia's ``ctx_idx``), for the position-aware ``causal-config``
        null.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2])
    >>> net.n_nodes, net.n_edges
    (3, 3)
    >>> net.adjacency().toarray().tolist()
    [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    """

    n_nodes: int
    src: np.ndarray
    dst: np.ndarray
    sign: np.ndarray | None = None
    weight: np.ndarray | None = None
    layer: np.ndarray | None = None
    names: np.ndarray | None = None
    rows: np.ndarray | None = None
    pos: np.ndarray | None = None

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    def dense_adjacency(self) -> np.ndarray:
        """(n_nodes, n_nodes) bool adjacency, A[i, j] = True for edge i -> j.

        Examples
        --------
        >>> Network.from_edges([0, 1], [1, 2]).dense_adjacency().astype(int).tolist()
        [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
        """
        out = np.zeros((self.n_nodes, self.n_nodes), dtype=bool)
        out[self.src, self.dst] = True
        return out

    def adjacency(self, dtype: Any = np.int8) -> sp.csr_matrix:
        """(n_nodes, n_nodes) CSR 0/1 adjacency, A[i, j] = 1 for edge i -> j."""
        import scipy.sparse as sp  # lazily: ~0.1 s of start-up the dense paths never need
        data = np.ones(self.n_edges, dtype=dtype)
        return sp.csr_matrix((data, (self.src, self.dst)), shape=(self.n_nodes, self.n_nodes))

    def signed_adjacency(self) -> sp.csr_matrix:
        """(n_nodes, n_nodes) CSR int8 with entries +1 / -1 (requires signs)."""
        import scipy.sparse as sp  # lazily: ~0.1 s of start-up the dense paths never need
        if self.sign is None:
            raise MotifError("this network carries no edge signs (build it with signed=True)")
        return sp.csr_matrix(
            (self.sign.astype(np.int8), (self.src, self.dst)), shape=(self.n_nodes, self.n_nodes)
        )

    def with_edges(self, src: np.ndarray, dst: np.ndarray, sign: np.ndarray | None = None,
                   weight: np.ndarray | None = None) -> Network:
        """The same nodes with another edge set (used by null models)."""
        return Network.from_edges(src, dst, n_nodes=self.n_nodes, sign=sign, weight=weight,
                                  layer=self.layer, names=self.names, rows=self.rows,
                                  pos=self.pos)

    def topology(self) -> Network:
        """The same nodes and edges without edge signs or weights.

        Null models switch a bare network several times faster (no attribute
        bits to carry), so unsigned censuses sample from this.

        Examples
        --------
        >>> Network.from_edges([0], [1], weight=[0.5]).topology().weight is None
        True
        """
        return replace(self, sign=None, weight=None)

    def is_acyclic(self) -> bool:
        """True when the network has no directed cycle.

        Kahn's topological peeling (Kahn 1962), one numpy step per depth
        level: each step removes the nodes left without in-edges and only
        touches their out-edges, so the whole check is O(n + m).

        Examples
        --------
        >>> Network.from_edges([0, 1], [1, 2]).is_acyclic()
        True
        >>> Network.from_edges([0, 1, 2], [1, 2, 0]).is_acyclic()
        False
        """
        if self.n_edges == 0:
            return True
        order = np.argsort(self.src, kind="stable")
        heads = self.dst[order]
        starts = np.searchsorted(self.src[order], np.arange(self.n_nodes + 1))
        in_deg = np.bincount(self.dst, minlength=self.n_nodes)
        frontier = np.flatnonzero(in_deg == 0)
        removed = 0
        while frontier.size:
            removed += frontier.size
            lo, hi = starts[frontier], starts[frontier + 1]
            counts = hi - lo
            # the out-edge slots of every frontier node, as one index array
            slots = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            hit, times = np.unique(heads[slots], return_counts=True)
            in_deg[hit] -= times
            frontier = hit[in_deg[hit] == 0]
        return removed == self.n_nodes

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_edges(
        cls,
        src: Sequence[Hashable] | np.ndarray,
        dst: Sequence[Hashable] | np.ndarray,
        n_nodes: int | None = None,
        sign: Sequence[int] | np.ndarray | None = None,
        weight: Sequence[float] | np.ndarray | None = None,
        layer: Sequence[int] | np.ndarray | None = None,
        names: Sequence[Any] | np.ndarray | None = None,
        rows: Sequence[int] | np.ndarray | None = None,
        pos: Sequence[int] | np.ndarray | None = None,
    ) -> Network:
        """Build a Network from edge arrays.

        Self-loops are dropped and repeated (src, dst) pairs merged (weights
        summed, sign taken from the summed weight, or the first sign when no
        weights are given): motif classes are defined on simple graphs.

        Parameters
        ----------
        src, dst : sequences of equal length
            Node numbers (non-negative integers), or any other hashable node
            ids (strings, tuples): those are numbered by ``names`` when it is
            given, else in order of first appearance (sources before
            targets), and ``names`` becomes the ids.
        n_nodes : int, optional
            Defaults to 1 + the largest endpoint (the number of ids).
        sign : optional, +1/-1 per edge, 0 where the sign is unknown (kept as 0)
        weight : optional float per edge; when given without ``sign``, signs
            are not derived: pass ``sign=np.sign(weight)`` to keep them.
        layer, names, rows, pos : optional per-node arrays

        Raises
        ------
        MotifError
            Unequal lengths, negative endpoints, endpoints beyond ``n_nodes``,
            ids missing from ``names``, non-finite weights.

        Examples
        --------
        >>> net = Network.from_edges(["crp", "crp", "lacI"], ["lacZ", "lacI", "lacZ"])
        >>> net.n_nodes, net.names.tolist()
        (3, ['crp', 'lacI', 'lacZ'])
        >>> [(net.names[s], net.names[d]) for s, d in zip(net.src, net.dst)]
        [('crp', 'lacI'), ('crp', 'lacZ'), ('lacI', 'lacZ')]
        """
        src_a, dst_a, names = _node_numbers(src, dst, names)
        if src_a.shape != dst_a.shape:
            raise MotifError(f"src has {src_a.size} entries but dst has {dst_a.size}")
        if src_a.size and min(src_a.min(), dst_a.min()) < 0:
            raise MotifError("edge endpoints must be non-negative node numbers")
        top = int(max(src_a.max(), dst_a.max())) + 1 if src_a.size else 0
        n = top if n_nodes is None else int(n_nodes)
        if top > n:
            raise MotifError(f"edge endpoint {top - 1} is outside n_nodes={n}")
        # sign 0 (dual or unknown) stays 0: a sign is never invented
        sign_a = None if sign is None else np.sign(np.asarray(sign).ravel()).astype(np.int8)
        weight_a = None if weight is None else np.asarray(weight, dtype=np.float64).ravel()
        for label, arr in (("sign", sign_a), ("weight", weight_a)):
            if arr is not None and arr.shape != src_a.shape:
                raise MotifError(f"{label} has {arr.size} entries for {src_a.size} edges")
        if weight_a is not None and not np.isfinite(weight_a).all():
            bad = int(np.flatnonzero(~np.isfinite(weight_a))[0])
            raise MotifError(f"edge {bad} has non-finite weight {weight_a[bad]}")

        keep = src_a != dst_a
        src_a, dst_a = src_a[keep], dst_a[keep]
        sign_a = None if sign_a is None else sign_a[keep]
        weight_a = None if weight_a is None else weight_a[keep]

        key = src_a * max(n, 1) + dst_a
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        if weight_a is not None:
            merged_w = np.zeros(uniq.size, dtype=np.float64)
            np.add.at(merged_w, inverse, weight_a)
            if sign_a is not None:
                sign_a = np.sign(merged_w).astype(np.int8)
            weight_a = merged_w
        elif sign_a is not None:
            sign_a = sign_a[first]
        base = max(n, 1)
        return cls(
            n_nodes=n,
            src=(uniq // base).astype(np.int32),
            dst=(uniq % base).astype(np.int32),
            sign=sign_a,
            weight=None if weight_a is None else weight_a.astype(np.float32),
            layer=_per_node(layer, np.int32),
            names=_per_node(names, object),
            rows=_per_node(rows, np.int64),
            pos=_per_node(pos, np.int32),
        )

    @classmethod
    def from_graph(
        cls,
        graph: AttributionGraph,
        kinds: Sequence[str] = DEFAULT_KINDS,
        keep_errors: bool = False,
        min_abs_weight: float | None = None,
        top_k: int | None = None,
        signed: bool = True,
    ) -> Network:
        """The Network of an attribution graph.

        Parameters
        ----------
        graph : corpus.AttributionGraph
        kinds : node kinds to keep (default features, embeddings, logits).
        keep_errors : also keep error nodes (kind ``error``).
        min_abs_weight : drop edges with |weight| below this.
        top_k : keep only the ``top_k`` edges of largest |weight| (after
            ``min_abs_weight``); ties broken by edge order.
        signed : keep edge signs (sign of the weight).

        Split path parts (``graph.path``) are summed into one edge first.
        Node layers (embeddings -1, logits n_layers) and token positions
        come along for the layer- and position-aware nulls; ``names`` are
        node keys, ``rows`` node rows.
        """
        wanted = set(kinds) | ({"error"} if keep_errors else set())
        unknown = wanted - {"embedding", "feature", "error", "logit", "lorsa", "lorsa_error",
                            "bias", "unknown"}
        if unknown:
            raise MotifError(f"unknown node kinds {sorted(unknown)}")
        if top_k is not None and top_k < 0:
            raise MotifError(f"top_k must be non-negative, got {top_k}")
        keep = graph.kind_mask(*wanted)
        rows = np.flatnonzero(keep)
        new_index = np.full(graph.n_nodes, -1, dtype=np.int64)
        new_index[rows] = np.arange(rows.size)
        src, dst, weight = graph.merged_edges()
        edge_keep = keep[src] & keep[dst]
        if min_abs_weight is not None:
            edge_keep &= np.abs(weight) >= min_abs_weight
        idx = np.flatnonzero(edge_keep)
        if top_k is not None and idx.size > top_k:
            order = np.argsort(-np.abs(weight[idx]), kind="stable")[:top_k]
            idx = np.sort(idx[order])
        w = weight[idx].astype(np.float64)
        keys = np.asarray(graph.node_keys(), dtype=object)
        return cls.from_edges(
            new_index[src[idx]],
            new_index[dst[idx]],
            n_nodes=rows.size,
            sign=np.sign(w) if signed else None,
            weight=w,
            layer=graph.nodes["layer"].to_numpy()[rows],
            names=keys[rows],
            rows=rows,
            pos=graph.nodes["pos"].to_numpy()[rows],
        )


def _per_node(values: Any, dtype: Any) -> np.ndarray | None:
    """A per-node array as a flat array of ``dtype`` (None stays None)."""
    return None if values is None else np.asarray(values, dtype=dtype).ravel()


def _is_integral(values: np.ndarray) -> bool:
    """True for node numbers: an integer, float or bool array, or objects that are all ints."""
    if values.dtype.kind in "iufb":
        return True
    return values.dtype.kind == "O" and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)


def _node_numbers(src: Any, dst: Any, names: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """(src, dst) as int64 node numbers, and the node names.

    Integer endpoints are node numbers already. Any other ids are looked up
    in ``names`` when given, else numbered in order of first appearance,
    which then become the names.
    """
    src_a, dst_a = np.asarray(src), np.asarray(dst)
    if _is_integral(src_a) and _is_integral(dst_a):
        return src_a.astype(np.int64).ravel(), dst_a.astype(np.int64).ravel(), names
    src_o = np.empty(len(src), dtype=object)
    src_o[:] = list(src)
    dst_o = np.empty(len(dst), dtype=object)
    dst_o[:] = list(dst)
    ends = np.concatenate([src_o, dst_o])
    if names is None:
        import pandas as pd

        codes, uniques = pd.factorize(pd.Series(ends, dtype=object))
        names = np.empty(len(uniques), dtype=object)
        names[:] = list(uniques)
    else:
        lookup = {name: i for i, name in enumerate(np.asarray(names, dtype=object).ravel())}
        missing = [v for v in ends if v not in lookup]
        if missing:
            raise MotifError(f"edge endpoint {missing[0]!r} is not one of the given names")
        codes = np.array([lookup[v] for v in ends], dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    return codes[: len(src_o)], codes[len(src_o):], names


def instances_for_graph(graph: AttributionGraph, net: Network, motif: str = "ffl",
                        limit: int | None = None) -> pd.DataFrame:
    """Motif instances with the attribution graph's node ids, layers, positions and labels.

    Parameters
    ----------
    graph : corpus.AttributionGraph
        The graph ``net`` was built from (``Network.from_graph(graph)``).
    net : Network
        Must carry ``rows`` (node rows in ``graph``).
    motif, limit : as in :func:`motifs.instances.motif_instances`

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`motifs.instances.motif_instances` plus, for each role r in
        x, y, z: ``r_id`` (node id), ``r_kind``, ``r_layer``, ``r_pos``,
        ``r_feature`` and ``r_label``.

    Raises
    ------
    MotifError
        ``net`` has no ``rows`` or they do not fit ``graph``.
    """
    if net.rows is None:
        raise MotifError("net has no rows: build it with Network.from_graph(graph)")
    if net.rows.size != net.n_nodes or (net.rows.size and (
            net.rows.min() < 0 or net.rows.max() >= graph.n_nodes)):
        raise MotifError(f"net.rows do not index the {graph.n_nodes} nodes of graph {graph.name}")
    from motifs.instances import motif_instances

    frame = motif_instances(net, motif=motif, limit=limit)
    nodes = graph.nodes
    columns = {"id": "node_id", "kind": "kind", "layer": "layer", "pos": "pos",
               "feature": "feature", "label": "label"}
    for role in ("x", "y", "z"):
        rows = net.rows[frame[role].to_numpy(dtype=np.int64)]
        for short, column in columns.items():
            frame[f"{role}_{short}"] = nodes[column].to_numpy()[rows]
    return frame
