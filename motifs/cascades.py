"""FFL cascades: chains of feed-forward loops from the inputs to an output, with stages.

A feed-forward loop X -> Y -> Z, X -> Z is one step of computation; chaining
them (one loop's mediator or target is the next one's source) gives a
*cascade*, a step-by-step pipeline from an input node (a token embedding) to
an output node (a logit). This module finds the strongest cascades exactly,
labels their stages, and splits each loop's influence between its two arms.

Strength
--------
Each edge is scored by its *relevance to the outputs*, circuit-tracer's
edge-influence score ``e(s -> t) = Â[t, s] · (I_t + w_t)``: ``Â`` is the
adjacency with every |weight| divided by its target's total incoming
|weight|, ``w`` the output weights (the logits' probabilities), and ``I =
w Â + w Â² + ...`` each node's influence on the weighted outputs. ``e`` is
the share of the outputs' total input that flows through the edge, so
scores are comparable across layers and across graphs, and an edge that is
locally dominant (a layer-0 feature reading its one token) but carries
little to the answer scores low. A loop's strength is the geometric mean of
its three edge scores (one number per loop, whichever arm carries it); a
cascade's strength is the *product* of its loops' strengths. The product is
the choice because attenuation along a pipeline multiplies, as influence
does along a path, so a long chain of weak loops does not outrank a short
chain of strong ones; a minimum would ignore every loop but the weakest and
leave most chains tied. In log space the product is a sum, and the strongest
chains are longest paths in the FFL-instance DAG.

Algorithm
---------
FFL instances are found vectorised (:func:`motifs.instances.motif_instances`).
Instance F links to G when ``x_G`` is ``y_F`` or ``z_F``. That graph is never
built (it can hold millions of links): a k-best dynamic programme runs over
the *nodes* in topological generations. ``arrive[v]`` keeps the k best
chains whose last loop has ``v`` as mediator or target; ``start[v]`` the k
best chains that may continue from ``v`` (``arrive[v]``, plus the empty chain
when ``v`` is an input). One numpy pass per generation scores every loop
whose source lies in it against the k entries of ``start[x]`` and keeps, per
node, the k best: O(depth) vectorised steps, O(k · n_instances) work. Because
sources strictly advance in topological order, every chain is a simple path
and every (chain, node) pair appears at most once, so the k-best lists are
exact (the tests check them against brute-force enumeration).

Stages
------
Each node gets a relative depth ``r`` in [0, 1]: its layer against the
layers of the network's non-input, non-output nodes (so a 4-layer toy and a
26-layer model are read alike). Inputs and nodes with ``r < tiers[0]`` are
*grounding* (reading the input tokens), outputs and nodes with ``r >=
tiers[1]`` are *output* (writing to the logits), the rest *entity*
(resolution). Depth alone decides: in real graphs nearly every feature has
some direct edge into the top logit, so "has an edge into a logit" would
put layer-1 token features in the output stage. An output-stage node with
an inhibitory edge into another output than the cascade's competes there
(``competes``). A loop's stage is its mediator's: the loop computes at Y.

References
----------
Mangan, S. & Alon, U. (2003). Structure and function of the feed-forward loop
network motif. PNAS 100:11980-11985 (coherent and incoherent types).
Ameisen et al. (2025), "Circuit Tracing", transformer-circuits.pub (edge
normalisation, influence ``B = (I - Â)^-1 - I``). Lindsey et al. (2025), "On
the Biology of a Large Language Model" (the Dallas -> Texas -> Austin
pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from motifs.errors import MotifError
from motifs.catalog import FFL_SIGN_TYPES
from motifs.instances import _triples
from motifs.network import Network

#: Stage names, in pipeline order.
STAGES: tuple[str, ...] = ("grounding", "entity", "output")

#: Default relative-depth cut-offs between grounding | entity | output.
DEFAULT_TIERS: tuple[float, float] = (1.0 / 3.0, 2.0 / 3.0)


# sign code (w_xy < 0) * 4 + (w_yz < 0) * 2 + (w_xz < 0) -> FFL type, and whether it is coherent
_SIGN_NAMES = np.empty(8, dtype=object)
for _name, (_s_xy, _s_yz, _s_xz) in FFL_SIGN_TYPES.items():
    _SIGN_NAMES[(_s_xy < 0) * 4 + (_s_yz < 0) * 2 + (_s_xz < 0)] = _name
_SIGN_COHERENT = np.array([name.startswith("ffl_C") for name in _SIGN_NAMES], dtype=bool)


@dataclass(frozen=True)
class FFLTable:
    """The FFL instances of a network, with normalised strengths.

    Attributes
    ----------
    x, y, z : (n,) int64
        Source, mediator, target of each loop.
    w_xy, w_yz, w_xz : (n,) float64
        Signed weights.
    sign_type : (n,) object
        ``ffl_C1`` ... ``ffl_I4`` (Mangan & Alon 2003).
    strength : (n,) float64
        Geometric mean of the three edge scores, in [0, 1].
    coherent : (n,) bool
        Coherent type (C1..C4): the direct arm's sign equals the indirect one's.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    w_xy: np.ndarray
    w_yz: np.ndarray
    w_xz: np.ndarray
    sign_type: np.ndarray
    strength: np.ndarray
    coherent: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Cascade:
    """One chain of FFL instances from an input node to an output node.

    Attributes
    ----------
    output : int
        The output node it ends at.
    ffls : (k,) int64
        Rows of the :class:`FFLTable`, in chain order.
    nodes : (m,) int64
        A directed path through the chain: ``x, y[, z]`` of each loop (``z``
        when the next loop starts there, always for the last), so it begins
        at an input and ends at ``output``.
    strength : float
        Product of the loops' strengths.
    coherent : bool
        Every loop of the chain is coherent.
    """

    output: int
    ffls: np.ndarray
    nodes: np.ndarray
    strength: float
    coherent: bool


@dataclass
class CascadeResult:
    """Cascades of a network: per output, the top-k, best first.

    Attributes
    ----------
    ffl : FFLTable
    cascades : list of Cascade
        Output-major in the order the outputs were given, best first within.
    relative_depth : (n_nodes,) float
    node_stage : (n_nodes,) object
        ``grounding`` / ``entity`` / ``output`` per node.
    outputs : (n_outputs,) int64
        The output nodes, in reporting order.
    """

    ffl: FFLTable
    cascades: list[Cascade]
    relative_depth: np.ndarray
    node_stage: np.ndarray
    outputs: np.ndarray

    def for_output(self, output: int) -> list[Cascade]:
        """The cascades ending at ``output``, best first."""
        return [c for c in self.cascades if c.output == output]


# ------------------------------------------------------------------ pieces
def normalized_weights(net: Network) -> np.ndarray:
    """(n_edges,) ``|w| / Σ |w|`` over each edge's target's incoming edges (``Â``).

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [2, 2, 1], weight=[3.0, -1.0, 2.0])
    >>> normalized_weights(net).tolist()   # edges sorted (0,1), (0,2), (1,2)
    [1.0, 0.75, 0.25]
    """
    w = np.abs(_weights(net))
    total = np.bincount(net.dst, weights=w, minlength=net.n_nodes)
    return w / np.maximum(total[net.dst], 1e-300)


def edge_relevance(net: Network, output_weight: np.ndarray) -> np.ndarray:
    """(n_edges,) circuit-tracer's edge-influence score ``Â[t, s] · (I_t + w_t)``.

    Parameters
    ----------
    net : Network (a DAG)
    output_weight : (n_nodes,) float
        ``w``: the outputs' weights (probabilities), 0 elsewhere.

    Notes
    -----
    ``I = w Â + w Â² + ...`` is pushed back one sparse product per step; a
    DAG's ``Â`` is nilpotent, so at most depth-many steps.

    Examples
    --------
    Token 0 -> feature 1 -> logit 2 and 0 -> 2, weights 1, 3, 1:

    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], weight=[1.0, 3.0, 1.0])
    >>> edge_relevance(net, np.array([0.0, 0.0, 1.0])).tolist()   # edges (0,1), (0,2), (1,2)
    [0.75, 0.25, 0.75]
    """
    a_hat = normalized_weights(net)
    w = np.asarray(output_weight, dtype=np.float64)
    if w.shape != (net.n_nodes,):
        raise MotifError(f"output_weight has shape {w.shape}, expected ({net.n_nodes},)")
    transposed = sp.csr_matrix((a_hat, (net.src, net.dst)), shape=(net.n_nodes, net.n_nodes))
    influence = np.zeros(net.n_nodes)
    step = transposed @ w
    for _ in range(net.n_nodes + 1):
        if not step.any():
            break
        influence += step
        step = transposed @ step
    else:
        raise MotifError("cascades need an acyclic network; this one has a directed cycle")
    return a_hat * (influence + w)[net.dst]


def _weights(net: Network) -> np.ndarray:
    if net.weight is not None:
        return net.weight.astype(np.float64)
    if net.sign is not None:
        return net.sign.astype(np.float64)
    return np.ones(net.n_edges)


def ffl_table(net: Network, edge_score: np.ndarray | None = None) -> FFLTable:
    """Every FFL instance with its sign type and strength.

    ``strength`` is the geometric mean of the three edges' ``edge_score``
    (default :func:`normalized_weights`; :func:`find_cascades` passes
    :func:`edge_relevance`).

    The instances are :func:`motifs.instances.motif_instances`' (induced
    loops), in its enumeration order, without its ranking and table
    building, which cost more than the whole cascade search on large graphs.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0], [1, 2, 2], sign=[1, 1, -1], weight=[2.0, 1.0, -1.0])
    >>> t = ffl_table(net)
    >>> t.sign_type.tolist(), t.coherent.tolist(), round(float(t.strength[0]), 4)  # (1 * 1/2 * 1/2)^(1/3)
    (['ffl_I3'], [False], 0.63)
    """
    x, y, z, e_xy, e_yz, e_xz = _triples(net, "ffl")
    w = _weights(net)
    norm = normalized_weights(net) if edge_score is None else np.asarray(edge_score, dtype=np.float64)
    with np.errstate(divide="ignore"):
        strength = np.exp((np.log(norm[e_xy]) + np.log(norm[e_yz]) + np.log(norm[e_xz])) / 3.0)
    code = (w[e_xy] < 0) * 4 + (w[e_yz] < 0) * 2 + (w[e_xz] < 0)
    return FFLTable(x.astype(np.int64), y.astype(np.int64), z.astype(np.int64), w[e_xy], w[e_yz],
                    w[e_xz], _SIGN_NAMES[code], strength, _SIGN_COHERENT[code])


def topological_depth(net: Network) -> np.ndarray:
    """(n_nodes,) int64 longest-path depth from the sources (sources 0).

    Raises
    ------
    MotifError
        When the network has a directed cycle.

    Examples
    --------
    >>> topological_depth(Network.from_edges([0, 1, 0, 3], [1, 2, 2, 2])).tolist()
    [0, 1, 2, 0]
    """
    depth = np.zeros(net.n_nodes, dtype=np.int64)
    src, dst = net.src.astype(np.int64), net.dst.astype(np.int64)
    for _ in range(net.n_nodes + 1):
        new = depth.copy()
        np.maximum.at(new, dst, depth[src] + 1)
        if np.array_equal(new, depth):
            return depth
        depth = new
    raise MotifError("cascades need an acyclic network; this one has a directed cycle")


def relative_depth(layer: np.ndarray, inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """(n,) float: layer rescaled to [0, 1] over the layers of the inner nodes.

    Inputs get 0 and outputs 1; inner nodes ``(layer - lo) / (hi - lo)`` where
    lo / hi are the smallest / largest inner layer (0.5 when they are equal).

    Examples
    --------
    >>> relative_depth(np.array([-1, 0, 2, 4, 5]), np.array([0]), np.array([4])).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0]
    """
    layer = np.asarray(layer, dtype=np.float64)
    inner = np.ones(layer.size, dtype=bool)
    inner[inputs] = False
    inner[outputs] = False
    out = np.zeros(layer.size)
    if inner.any():
        lo, hi = layer[inner].min(), layer[inner].max()
        out[inner] = 0.5 if hi == lo else (layer[inner] - lo) / (hi - lo)
    out[inputs] = 0.0
    out[outputs] = 1.0
    return out


def node_stages(net: Network, inputs: np.ndarray, outputs: np.ndarray,
                tiers: tuple[float, float] = DEFAULT_TIERS,
                depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stage of every node and its relative depth.

    Parameters
    ----------
    net : Network
    inputs, outputs : int arrays of node numbers
    tiers : (float, float)
        Relative-depth cut-offs grounding | entity | output.
    depth : (n,) float, optional
        Relative depths to use instead of :func:`relative_depth` of
        ``net.layer`` (or of topological depth when the network has no layers).

    Returns
    -------
    stage : (n,) object
    relative : (n,) float

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 2, 1], [1, 2, 3, 3], layer=[-1, 0, 5, 6])
    >>> node_stages(net, np.array([0]), np.array([3]))[0].tolist()
    ['grounding', 'grounding', 'output', 'output']
    """
    lo, hi = (float(t) for t in tiers)
    if not 0.0 <= lo <= hi <= 1.0:
        raise MotifError(f"tiers must satisfy 0 <= low <= high <= 1, got {tiers}")
    inputs, outputs = np.asarray(inputs, np.int64), np.asarray(outputs, np.int64)
    if depth is None:
        layer = net.layer if net.layer is not None else topological_depth(net)
        depth = relative_depth(layer, inputs, outputs)
    depth = np.asarray(depth, dtype=np.float64)
    if depth.shape != (net.n_nodes,):
        raise MotifError(f"depth has shape {depth.shape}, expected ({net.n_nodes},)")
    stage = np.where(depth < lo, "grounding", np.where(depth >= hi, "output", "entity")).astype(object)
    stage[inputs] = "grounding"
    stage[outputs] = "output"
    return stage, depth


def competes(net: Network, outputs: np.ndarray, node: int, own_output: int) -> bool:
    """Does ``node`` inhibit (negative edge) an output other than ``own_output``?"""
    w = _weights(net)
    mask = (net.src == node) & (w < 0) & np.isin(net.dst, outputs) & (net.dst != own_output)
    return bool(mask.any())


# ------------------------------------------------------------------ the DP
def _group_top_k(node: np.ndarray, score: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best entries (score desc, then ``tie`` asc) per node."""
    order = np.lexsort((tie, -score, node))
    sorted_node = node[order]
    first = np.r_[True, sorted_node[1:] != sorted_node[:-1]]
    starts = np.flatnonzero(first)
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    return order[rank < k]


def _pull(target: np.ndarray, loop: np.ndarray, source: np.ndarray, log_s: np.ndarray,
          start_s: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """The k best chains ending with one of ``loop`` at each ``target``, sorted per target.

    Two steps keep the sort small: a loop whose best chain (its source's
    rank-0 entry) is not among its target's k best cannot place any chain in
    the k best, so only those k loops per target are expanded to their k
    source entries. Returns (target, score, loop, rank) sorted by target,
    then score descending, then (loop, rank).
    """
    best = start_s[source[loop], 0] + log_s[loop]
    ok = np.isfinite(best)
    target, loop = target[ok], loop[ok]
    kept = _group_top_k(target, best[ok], loop, k)
    target, loop = target[kept], loop[kept]
    cand = start_s[source[loop]] + log_s[loop, None]  # (n, k)
    ok = np.isfinite(cand)
    t = np.broadcast_to(target[:, None], cand.shape)[ok]
    f = np.broadcast_to(loop[:, None], cand.shape)[ok]
    r = np.broadcast_to(np.arange(k)[None, :], cand.shape)[ok]
    score = cand[ok]
    chosen = _group_top_k(t, score, f * (k + 1) + r, k)
    chosen = chosen[np.lexsort((f[chosen] * (k + 1) + r[chosen], -score[chosen], t[chosen]))]
    return t[chosen], score[chosen], f[chosen], r[chosen]


def _slots(sorted_keys: np.ndarray) -> np.ndarray:
    """Position of each entry within its run of equal keys."""
    if not sorted_keys.size:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return np.arange(sorted_keys.size) - np.repeat(starts, np.diff(np.r_[starts, sorted_keys.size]))


def find_cascades(net: Network, inputs: Sequence[int] | np.ndarray, outputs: Sequence[int] | np.ndarray,
                  top_k: int = 5, tiers: tuple[float, float] = DEFAULT_TIERS,
                  depth: np.ndarray | None = None,
                  output_weights: Sequence[float] | np.ndarray | None = None) -> CascadeResult:
    """The ``top_k`` strongest FFL cascades from ``inputs`` to each of ``outputs``.

    Parameters
    ----------
    net : Network
        A DAG with edge weights (or signs).
    inputs : int array
        Nodes a cascade may start at (token embeddings).
    outputs : int array
        Nodes a cascade must end at (logits), in reporting order
        (highest probability first).
    top_k : int
        Cascades kept per output.
    tiers, depth
        Stage assignment, see :func:`node_stages`.
    output_weights : (len(outputs),) float, optional
        The outputs' weights in the edge scores (their probabilities);
        default equal weights summing to 1.

    Returns
    -------
    CascadeResult

    Notes
    -----
    Strength and algorithm: see the module docstring. O(depth) vectorised
    steps and O(top_k · n_instances log) work after the FFL enumeration.

    Examples
    --------
    Input 0, output 4; loops (0, 1, 2) and (2, 3, 4) chain through node 2:

    >>> net = Network.from_edges([0, 1, 0, 2, 3, 2], [1, 2, 2, 3, 4, 4], weight=[1.0] * 6)
    >>> result = find_cascades(net, [0], [4])
    >>> c = result.cascades[0]
    >>> c.nodes.tolist(), result.ffl.sign_type[c.ffls].tolist(), c.coherent
    ([0, 1, 2, 3, 4], ['ffl_C1', 'ffl_C1'], True)
    >>> round(c.strength, 4)   # every edge carries half of the output's input: loops 0.5 and 0.5
    0.25
    """
    inputs, outputs, w_out, k = _checked_cascade_arguments(net, inputs, outputs, top_k,
                                                           output_weights)
    weight = np.zeros(net.n_nodes)
    weight[outputs] = w_out
    table = ffl_table(net, edge_relevance(net, weight))
    stage, rel = node_stages(net, inputs, outputs, tiers, depth)
    log_s = np.log(np.maximum(table.strength, 1e-300))
    start_s, start_i, start_r = _best_chain_starts(net, inputs, table, log_s, k)
    cascades: list[Cascade] = []
    final = np.flatnonzero(np.isin(table.z, outputs))
    t, score, f, r = _pull(table.z[final], final, table.x, log_s, start_s, k)
    for out in outputs.tolist():
        for c in np.flatnonzero(t == out).tolist():
            chain = _unwind(int(f[c]), int(r[c]), table, start_i, start_r)
            cascades.append(Cascade(out, chain, _path(chain, table), float(np.exp(score[c])),
                                    bool(table.coherent[chain].all())))
    return CascadeResult(table, cascades, rel, stage, outputs)


def _checked_cascade_arguments(net: Network, inputs: Sequence[int] | np.ndarray,
                               outputs: Sequence[int] | np.ndarray, top_k: int,
                               output_weights: Sequence[float] | np.ndarray | None
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validated (unique inputs, outputs, output weights, k) of :func:`find_cascades`."""
    if not isinstance(net, Network):
        raise MotifError(f"net must be a motifs.Network, got {type(net).__name__}")
    if not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise MotifError(f"top_k must be a positive integer, got {top_k!r}")
    inputs = np.unique(np.asarray(inputs, dtype=np.int64))
    outputs = np.asarray(outputs, dtype=np.int64)
    for label, arr in (("inputs", inputs), ("outputs", outputs)):
        if arr.size and (arr.min() < 0 or arr.max() >= net.n_nodes):
            raise MotifError(f"{label} must be node numbers in 0..{net.n_nodes - 1}")
    w_out = np.full(outputs.size, 1.0 / max(outputs.size, 1)) if output_weights is None else \
        np.asarray(output_weights, dtype=np.float64)
    if w_out.shape != outputs.shape:
        raise MotifError(f"output_weights has {w_out.size} entries for {outputs.size} outputs")
    return inputs, outputs, w_out, int(top_k)


def _best_chain_starts(net: Network, inputs: np.ndarray, table: FFLTable, log_s: np.ndarray,
                       k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DP over topological generations: per node, the k best chains that may
    continue from it, as (n, k) log-scores, last loops and their source ranks."""
    gen = topological_depth(net)
    n, n_loops = net.n_nodes, len(table)
    # start[v]: the k best chains that may continue from v (score, last loop, its source rank);
    # the empty chain of an input has loop -1
    start_s = np.full((n, k), -np.inf)
    start_i = np.full((n, k), -1, dtype=np.int64)
    start_r = np.full((n, k), -1, dtype=np.int64)
    is_input = np.zeros(n, dtype=bool)
    is_input[inputs] = True
    # every loop arrives at its mediator and at its target; pull them generation by generation
    ent_node = np.concatenate([table.y, table.z])
    ent_loop = np.concatenate([np.arange(n_loops), np.arange(n_loops)])
    order = np.argsort(gen[ent_node], kind="stable")
    ent_node, ent_loop = ent_node[order], ent_loop[order]
    n_gen = int(gen.max(initial=0)) + 1
    ent_bounds = np.searchsorted(gen[ent_node], np.arange(n_gen + 1))
    by_gen = np.argsort(gen, kind="stable")
    node_bounds = np.searchsorted(gen[by_gen], np.arange(n_gen + 1))
    for g in range(n_gen):
        lo, hi = ent_bounds[g], ent_bounds[g + 1]
        t, score, f, r = _pull(ent_node[lo:hi], ent_loop[lo:hi], table.x, log_s, start_s, k)
        here = by_gen[node_bounds[g]:node_bounds[g + 1]]
        fresh = here[is_input[here]]
        if fresh.size:  # an input's empty chain competes with the chains arriving there
            t = np.concatenate([t, fresh])
            score = np.concatenate([score, np.zeros(fresh.size)])
            f = np.concatenate([f, np.full(fresh.size, -1)])
            r = np.concatenate([r, np.full(fresh.size, -1)])
            chosen = _group_top_k(t, score, f * (k + 1) + r, k)
            chosen = chosen[np.lexsort((f[chosen] * (k + 1) + r[chosen], -score[chosen], t[chosen]))]
            t, score, f, r = t[chosen], score[chosen], f[chosen], r[chosen]
        slot = _slots(t)
        start_s[t, slot], start_i[t, slot], start_r[t, slot] = score, f, r
    return start_s, start_i, start_r


def _unwind(last: int, rank: int, table: FFLTable, start_i: np.ndarray, start_r: np.ndarray) -> np.ndarray:
    chain = [last]
    inst, r = last, rank
    while True:
        x = table.x[inst]
        inst, r = int(start_i[x, r]), int(start_r[x, r])
        if inst < 0:
            break
        chain.append(inst)
    return np.array(chain[::-1], dtype=np.int64)


def _path(chain: np.ndarray, table: FFLTable) -> np.ndarray:
    """x, y[, z] of each loop: a directed path from the first source to the last target."""
    nodes: list[int] = []
    for i, f in enumerate(chain.tolist()):
        # a later loop's source is the node the previous loop handed on, already listed
        nodes += ([] if i else [int(table.x[f])]) + [int(table.y[f])]
        if i + 1 == len(chain) or int(table.x[chain[i + 1]]) == int(table.z[f]):
            nodes.append(int(table.z[f]))
    return np.array(nodes, dtype=np.int64)


# ------------------------------------------------------------------ influence split
def influence_split(net: Network, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> pd.DataFrame:
    """How X's influence on Z divides between the mediator Y, the direct edge, and the rest.

    With ``Â`` the row-normalised |adjacency| (``Â[t, s]``, target t) and the
    influence matrix ``B = (I - Â)^-1 - I`` (all paths), the influence of X on
    Z is ``B[z, x]``; the paths through Y carry ``B[y, x] · B[z, y]`` of it (in
    a DAG each such path splits uniquely at Y) and the direct edge ``Â[z, x]``.

    Parameters
    ----------
    net : Network
    x, y, z : (n,) int arrays
        FFL instances.

    Returns
    -------
    pandas.DataFrame
        ``total`` (``B[z, x]``), ``via_mediator``, ``direct``, ``other`` (shares
        of ``total``, summing to 1).

    Notes
    -----
    Only the columns of B at the instances' X and Y are solved for, with one
    sparse LU factorisation of ``I - Â``: no dense inverse.

    Examples
    --------
    >>> net = Network.from_edges([0, 1, 0, 0, 3], [1, 2, 2, 3, 2], weight=[1.0, 1.0, 2.0, 1.0, 1.0])
    >>> influence_split(net, np.array([0]), np.array([1]), np.array([2])).round(4).to_dict("records")
    [{'total': 1.0, 'via_mediator': 0.25, 'direct': 0.5, 'other': 0.25}]
    """
    from scipy.sparse.linalg import splu

    x, y, z = (np.asarray(a, dtype=np.int64) for a in (x, y, z))
    n = net.n_nodes
    a_hat = sp.csc_matrix((normalized_weights(net), (net.dst, net.src)), shape=(n, n))
    cols = np.unique(np.concatenate([x, y]))
    if not cols.size:
        return pd.DataFrame({"total": [], "via_mediator": [], "direct": [], "other": []})
    lu = splu(sp.identity(n, format="csc") - a_hat)
    rhs = a_hat[:, cols].toarray()
    b = lu.solve(rhs)  # columns of (I - Â)^-1 Â = B
    where = {int(c): i for i, c in enumerate(cols.tolist())}
    cx = np.array([where[int(v)] for v in x], dtype=np.int64)
    cy = np.array([where[int(v)] for v in y], dtype=np.int64)
    total = b[z, cx]
    via = b[y, cx] * b[z, cy]
    direct = np.asarray(a_hat[z, x]).ravel()
    safe = np.where(total > 0, total, 1.0)
    return pd.DataFrame({"total": total, "via_mediator": via / safe, "direct": direct / safe,
                         "other": (total - via - direct) / safe})


# ------------------------------------------------------------------ graphs
def graph_io(graph: Any, net: Network) -> tuple[np.ndarray, np.ndarray]:
    """Input (embedding) and output (logit) nodes of ``net``, logits by probability, highest first.

    ``graph`` is the attribution graph ``net`` was built from
    (``Network.from_graph``); only its ``nodes`` table is read.
    """
    if net.rows is None:
        raise MotifError("net has no rows: build it with Network.from_graph(graph)")
    nodes = graph.nodes
    kind = nodes["kind"].to_numpy(object)[net.rows]
    inputs = np.flatnonzero(kind == "embedding")
    outputs = np.flatnonzero(kind == "logit")
    prob = pd.to_numeric(nodes["prob"], errors="coerce").to_numpy(np.float64)[net.rows[outputs]]
    order = np.argsort(-np.nan_to_num(prob, nan=-1.0), kind="stable")
    return inputs, outputs[order]


def cascades_frame(result: CascadeResult, net: Network, graph: Any | None = None) -> list[dict[str, Any]]:
    """Cascades as JSON-ready records (the ``cgram cascades --json`` list).

    Each record: ``logit`` (node id), ``rank``, ``strength``, ``coherent``,
    ``nodes`` (node ids, input first, logit last), ``stages`` (per node),
    ``labels`` (per node, when ``graph`` is given), ``ffls`` (each with
    ``x``/``y``/``z`` node ids, ``sign_type``, ``strength``, ``stage``,
    ``weights``).
    """
    names = net.names if net.names is not None else np.arange(net.n_nodes).astype(str)
    labels = None
    if graph is not None and net.rows is not None:
        frame = graph.nodes
        label = frame["label"].astype(object).where(frame["label"].notna(), None).to_numpy(object)
        token = frame["token"].astype(object).where(frame["token"].notna(), None).to_numpy(object)
        labels = np.array([lb if lb else (f"token {tk!r}" if tk is not None else "")
                           for lb, tk in zip(label[net.rows], token[net.rows])], dtype=object)
    t = result.ffl
    records = []
    rank_of: dict[int, int] = {}
    for c in result.cascades:
        rank_of[c.output] = rank_of.get(c.output, 0) + 1
        record = {
            "logit": str(names[c.output]),
            "rank": rank_of[c.output],
            "strength": c.strength,
            "coherent": c.coherent,
            "nodes": [str(names[v]) for v in c.nodes],
            "stages": [str(result.node_stage[v]) for v in c.nodes],
            "competes": [competes(net, result.outputs, int(v), c.output)
                         if result.node_stage[v] == "output" and v != c.output else False for v in c.nodes],
            "ffls": [{"x": str(names[t.x[f]]), "y": str(names[t.y[f]]), "z": str(names[t.z[f]]),
                      "sign_type": str(t.sign_type[f]), "strength": float(t.strength[f]),
                      "stage": str(result.node_stage[t.y[f]]),
                      "weights": [float(t.w_xy[f]), float(t.w_yz[f]), float(t.w_xz[f])]}
                     for f in c.ffls.tolist()],
        }
        if labels is not None:
            record["labels"] = [str(labels[v]) for v in c.nodes]
        records.append(record)
    return records


def cascades_for_graph(graph: Any, top_k: int = 5, tiers: tuple[float, float] = DEFAULT_TIERS,
                       net: Network | None = None,
                       ) -> tuple[CascadeResult, Network, list[dict[str, Any]]]:
    """:func:`find_cascades` on an attribution graph (embeddings, features, logits; signed).

    ``net``: ``Network.from_graph(graph)`` when the caller has built it.
    Returns the result, the Network it ran on, and :func:`cascades_frame`'s records.
    """
    net = Network.from_graph(graph) if net is None else net
    inputs, outputs = graph_io(graph, net)
    prob = pd.to_numeric(graph.nodes["prob"], errors="coerce").to_numpy(np.float64)[net.rows[outputs]]
    prob = np.nan_to_num(prob, nan=0.0)
    if not prob.sum() > 0:
        prob = np.ones(outputs.size)
    result = find_cascades(net, inputs, outputs, top_k=top_k, tiers=tiers, output_weights=prob / prob.sum())
    return result, net, cascades_frame(result, net, graph)
