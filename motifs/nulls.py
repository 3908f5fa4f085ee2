"""Null models: many seeded random networks per call, for motif Z-scores.

Every model returns :class:`NullSamples`, ``S`` networks as ``(S, m)`` edge
arrays with the real network's edge attributes (sign, weight) carried along.

Degree-preserving models use edge switching (Milo et al. 2002; Maslov &
Sneppen 2002): a switch takes two edges ``a->b``, ``c->d`` and makes them
``a->d``, ``c->b``; it is rejected (and still counted as an attempt) when it
would make a self-loop, a repeated edge, or break the model's other
constraint. A switch keeps every source on its edge, so the edge ``a->d``
carries the attributes of ``a->b``: attributes travel with their edge.

Three engines run the same Markov chain family:

- ``"dense"``: the ``S`` samples are bit lanes of ``(n*n,)`` uint64 words, and
  one step attempts a switch in every 2x2 block of a random pairing of rows
  and of columns, in all samples at once. Blocks of one step share no cell,
  so the step is a product of independent, symmetric switches; a random bit
  per sample and block (a "lazy" coin) lets samples that start equal diverge.
  Its cost grows with ``n*n``, so it serves dense networks.
- ``"sequential"``: Milo's chain as published (two uniformly drawn edges per
  attempt), one attempt per sample per step, vectorised across samples. Its
  cost grows with the number of attempts only, so it serves sparse networks,
  and it is the move set of the triad-preserving annealing.
- ``"compiled"``: the sequential engine's chain in C (``motifs/_kernels.c``),
  one sample after another on bitsets of free cells, 5-8 ns an attempt;
  "auto" prefers it to the numpy sequential engine whenever it is built.
  Each sample runs its own xoshiro256** stream seeded from the call's seed,
  and the numpy engine runs the same streams with the same draws, so the two
  give identical samples: results never depend on whether the C extension
  was built.

Both proposals are drawn independently of the current graph and every switch
is its own inverse, so both chains have the uniform distribution on the
(reachable) graphs with the constraints as their stationary distribution
(checked against brute-force enumeration in ``tests/motifs/test_nulls.py``).
In the dense engine the samples of one call share the block draws and differ
by their coins; the same tests check that 640 samples of one call spread over
all graphs as independent uniform draws would (chi-square).

Mixing. Each sample's chain starts at the real graph, so a short chain
pulls the null mean of every motif count towards the real count and shrinks
Z-scores. The default lengths (attempted switches per edge) come from a
study on the 17 shared attribution graphs and a random digraph with mutual
dyads (``benchmarks/bench_mixing.py``; the method follows Ray, Pinar &
Seshadhri 2012 and Fosdick et al. 2018): the mean and SD over 200 samples
of the 030T (feed-forward loop), 021C (chain) and 030C (3-cycle) counts at
3, 5, 10, 20, 30 and 50 attempts per edge, each against 100 per edge
(itself indistinguishable from 300 on Dallas), with a Bonferroni bound
over all graphs and statistics. The shortest length agreeing on every
graph is 50 for ``config`` and ``config-dag`` (at 30 the null means of the
slowest graphs, qwen06-g-france and qwen06-f-egypt, are still 0.35-0.75
null SDs off), 5 for ``layer-config`` and 10 for ``causal-config`` (an
edge moves only within its class, so there is less to mix); with 400
samples on the two Qwen graphs, 10 and 20. The shift decays exponentially
(16 and 14 attempts per edge per e-fold for config and config-dag on
qwen06-g-france, 4-6 for causal-config, about 1 for layer-config), which
puts a residual shift of 0.05 null SDs (the Monte Carlo error of a mean of
400 samples) at 67 (config), 67 (config-dag) and 14-20 (causal-config)
attempts per edge. The defaults: 75 for ``config`` and ``config-dag``
(measured at 75 with 400 samples: under 0.08 SDs, within sampling error),
30 for ``causal-config``, 20 for ``layer-config``; triad-preserving keeps
100 before its annealing. ``tests/motifs/test_nulls.py`` checks the
defaults against long-chain means stored by
``tests/data/make_mixing_references.py``.

Thinning. That length is a burn-in: once a chain has left the real graph,
its later states are draws from the same uniform distribution, so the
serial engines do not restart every sample at the real graph. They lay the
samples on chains of ``samples_per_chain`` (default 64, the block size of
the corpus runs, so no chain spans two calls): a chain's first sample runs
``switches_per_edge`` from the real graph, each later one
``gap_switches_per_edge`` from the sample before it, on its own stream (the
sampling gap of Fosdick et al. 2018, sec. 5). Successive samples of a chain
are then nearly uncorrelated: ``benchmarks/bench_mixing.py --gaps``
measures the lag-1 autocorrelation of the 030T, 021C and 030C counts on the
17 shared graphs and a random digraph with mutual dyads (16 chains of 64
per graph, null and gap; standard error 0.03). The smallest gaps at which
every graph's largest value over the three counts stays under 0.15 are 8
(``config``, ``config-dag``, ``causal-config``) and 5 (``layer-config``);
at 3 per edge it reaches 0.36. The defaults, 10 for ``config`` and
``config-dag`` (largest values 0.145 and 0.104), 8 for ``causal-config``
(0.070) and 5 for ``layer-config`` (0.069), bound the AR(1) variance
factor of a null mean by 1.35 (in fact the largest values are a few
standard errors of noise above typical ones), and the null SD stays
unbiased. A sample then costs 11, 11, 8.3 and 5.2 attempts per edge
instead of 75, 75, 30 and 20. Sample k of a seed depends only on the
samples before it in its chain, so a shorter run is a prefix of a longer
one; ``samples_per_chain=1`` gives independent chains, each from the real
graph (what ``triad-preserving`` starts from, and what the dense engine
always runs).

References
----------
R. Milo, S. Shen-Orr, S. Itzkovitz, N. Kashtan, D. Chklovskii, U. Alon,
"Network motifs: simple building blocks of complex networks",
Science 298:824-827 (2002), and its supplementary material (switching,
mutual-dyad preservation, the simulated annealing that keeps 3-node counts).
S. Maslov, K. Sneppen, "Specificity and stability in topology of protein
networks", Science 296:910-913 (2002).
J. Ray, A. Pinar, C. Seshadhri, "Are we there yet? When to stop a Markov
chain while generating random graphs", WAW 2012, LNCS 7323:153-164.
B. K. Fosdick, D. B. Larremore, J. Nishimura, J. Ugander, "Configuring
random graph models with fixed degree sequences", SIAM Review 60(2):315-355
(2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from motifs.compiled import kernels as _kernel
from motifs.errors import MotifError
from motifs.network import Network

#: Null model names (the CLI's ``--null`` values) and what each keeps.
NULL_MODELS: dict[str, str] = {
    "config": "degree-preserving switching (Milo 2002): in/out degrees kept, no self-loops "
              "or multi-edges, mutual-dyad count kept (preserve_mutual), cycles allowed",
    "config-dag": "degree-preserving switching that keeps every edge going forward in the real "
                  "graph's levels (layers or longest-path depth), so nulls stay acyclic",
    "er": "Erdos-Renyi: same number of nodes and edges, no self-loops or multi-edges",
    "layer-er": "edge count between each (source layer, target layer) pair kept, endpoints "
                "uniform within those layers",
    "layer-config": "degree-preserving switching only between edges joining the same "
                    "(source layer, target layer) pair",
    "causal-config": "degree-preserving switching that a causal transformer could produce: "
                     "every edge rises a layer and never goes back in token position, and "
                     "keeps its class (layer pair; same position or cross position)",
    "sign": "topology kept, edge attributes (sign and weight together) permuted among edges",
    "triad-preserving": "the default null's switching, then simulated annealing until the "
                        "16-class triad census equals the real one, then census-keeping "
                        "switches (Milo's 4-node null)",
}

#: Samples of one thinned chain (module docstring, "Thinning"): a corpus run's block
#: (``motifs.analysis.MIN_BLOCK_SAMPLES`` or a multiple) then holds whole chains.
SAMPLES_PER_CHAIN = 64

#: Attempted switches per edge between successive samples of one chain (the sampling
#: gap, module docstring "Thinning"), from benchmarks/bench_mixing.py's autocorrelation study.
GAPS: dict[str, float] = {"config": 10.0, "config-dag": 10.0, "layer-config": 5.0,
                          "causal-config": 8.0}

#: Options each model accepts, with their defaults.
#: The switching chains' lengths (attempted switches per edge) are those the mixing
#: study (benchmarks/bench_mixing.py, the module docstring's "Mixing") justifies.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "config": {"switches_per_edge": 75.0, "preserve_mutual": True, "engine": "auto",
               "samples_per_chain": SAMPLES_PER_CHAIN, "gap_switches_per_edge": GAPS["config"]},
    "config-dag": {"switches_per_edge": 75.0, "engine": "auto", "samples_per_chain": SAMPLES_PER_CHAIN,
                   "gap_switches_per_edge": GAPS["config-dag"]},
    "er": {},
    "layer-er": {},
    "layer-config": {"switches_per_edge": 20.0, "preserve_mutual": True, "engine": "auto",
                     "samples_per_chain": SAMPLES_PER_CHAIN, "gap_switches_per_edge": GAPS["layer-config"]},
    "causal-config": {"switches_per_edge": 30.0, "engine": "auto", "samples_per_chain": SAMPLES_PER_CHAIN,
                      "gap_switches_per_edge": GAPS["causal-config"]},
    "sign": {},
    "triad-preserving": {"switches_per_edge": 100.0, "preserve_mutual": True, "engine": "auto",
                         "anneal_switches_per_edge": 1000.0, "temperature": 0.05,
                         "settle_switches_per_edge": 10.0},
}

_ENGINES = ("auto", "dense", "sequential", "compiled")
_ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
#: Working memory (bytes) one engine call may hold before it splits samples into chunks.
_MEMORY_BUDGET = 96 * 2**20


@dataclass(frozen=True)
class NullSamples:
    """``S`` null networks on the real network's nodes, as edge arrays.

    Attributes
    ----------
    src, dst : (S, m) int32
        Edges of each sample, sorted by (src, dst) within a sample.
    sign : (S, m) int8 or None
        Sign of each edge, carried from the real edge it came from.
    weight : (S, m) float32 or None
        Weight of each edge, carried likewise.
    n_nodes : int
    model : str
        The null actually used (a key of :data:`NULL_MODELS`).
    options : dict
        The options used, defaults filled in.
    diagnostics : dict
        What the run measured: attempted switches per edge (the mean over
        samples), acceptance, the engine, ``samples_per_chain`` (1 on the
        dense engine) and ``gap_switches_per_edge``, and for ``triad-preserving`` the base null
        (``base_model``), the residual census distance of each sample
        (``census_distance``: > 0 for a sample that never reached the real
        census, which motif profiles exclude), ``n_exact`` and the acceptance
        of the census-keeping settle switches (``settle_acceptance``).
    base : Network or None
        The real network (node layers and names for :meth:`network`).
    """

    src: np.ndarray
    dst: np.ndarray
    sign: np.ndarray | None
    weight: np.ndarray | None
    n_nodes: int
    model: str
    options: dict[str, Any]
    diagnostics: dict[str, Any] = field(default_factory=dict)
    base: Network | None = field(default=None, repr=False, compare=False)

    @property
    def n_samples(self) -> int:
        return int(self.src.shape[0])

    def adjacency_dense(self) -> np.ndarray:
        """(S, n, n) bool, ``A[s, i, j]`` true for an edge i -> j in sample s."""
        n = self.n_nodes
        adj = np.zeros((self.n_samples, n, n), dtype=bool)
        rows = np.repeat(np.arange(self.n_samples), self.src.shape[1])
        adj[rows, self.src.ravel(), self.dst.ravel()] = True
        return adj

    def signed_adjacency_dense(self) -> np.ndarray:
        """(S, n, n) int8 with +1 / -1 on edges (requires signs)."""
        if self.sign is None:
            raise MotifError("these null samples carry no edge signs")
        n = self.n_nodes
        adj = np.zeros((self.n_samples, n, n), dtype=np.int8)
        rows = np.repeat(np.arange(self.n_samples), self.src.shape[1])
        adj[rows, self.src.ravel(), self.dst.ravel()] = self.sign.ravel()
        return adj

    def network(self, i: int) -> Network:
        """Sample ``i`` as a :class:`Network` (real node layers and names kept)."""
        if not -self.n_samples <= i < self.n_samples:
            raise MotifError(f"sample {i} is out of range for {self.n_samples} samples")
        sign = None if self.sign is None else self.sign[i]
        weight = None if self.weight is None else self.weight[i]
        if self.base is not None:
            net = self.base.with_edges(self.src[i], self.dst[i], sign=sign, weight=weight)
        else:
            net = Network.from_edges(self.src[i], self.dst[i], n_nodes=self.n_nodes,
                                     sign=sign, weight=weight)
        if sign is not None and weight is not None:
            # from_edges re-derives signs from weights; keep the carried ones.
            net = Network(net.n_nodes, net.src, net.dst, sign.copy(), net.weight, net.layer,
                          net.names, net.rows)
        return net


# ---------------------------------------------------------------- public API
def default_null(net: Network) -> str:
    """The null a motif analysis uses when none is named.

    ``"causal-config"`` for a causal network with token positions (an
    attribution graph: every edge rises a layer and never goes back in
    position), the strictest null a transformer could produce;
    ``"config-dag"`` for another acyclic network (a null with cycles or
    mutual edges would make every class containing them look depleted for a
    trivial reason); else ``"config"``. :func:`default_null_reason` says why
    in words.

    Examples
    --------
    >>> default_null(Network.from_edges([0, 1], [1, 2]))
    'config-dag'
    >>> default_null(Network.from_edges([0, 1], [1, 2], layer=[0, 1, 2], pos=[0, 0, 1]))
    'causal-config'
    >>> default_null(Network.from_edges([0, 1], [1, 0]))
    'config'
    """
    if _is_causal(net):
        return "causal-config"
    return "config-dag" if net.is_acyclic() else "config"


def default_null_reason(model: str) -> str:
    """Why :func:`default_null` chose ``model``, in words (for outputs).

    Examples
    --------
    >>> default_null_reason("config-dag")
    'a DAG without token positions'
    """
    return {"causal-config": "a causal graph with token positions",
            "config-dag": "a DAG without token positions",
            "config": "the graph has cycles"}.get(model, "")


def _is_causal(net: Network) -> bool:
    """True when ``net`` has layers and positions and every edge is causal."""
    if net.layer is None or net.pos is None or net.layer.shape != (net.n_nodes,) \
            or net.pos.shape != (net.n_nodes,):
        return False
    src, dst = net.src, net.dst
    return bool(np.all(net.layer[src] < net.layer[dst]) and np.all(net.pos[src] <= net.pos[dst]))


def default_options(model: str) -> dict[str, Any]:
    """The options ``model`` accepts, with their defaults (a copy).

    Examples
    --------
    >>> default_options("causal-config")["switches_per_edge"], default_options("er")
    (30.0, {})
    """
    if model not in _DEFAULTS:
        raise MotifError(f"unknown null model {model!r}; choose from {sorted(_DEFAULTS)}")
    return dict(_DEFAULTS[model])


def mean_switches_per_edge(model: str, **options: Any) -> float | None:
    """Attempted switches per edge and sample of a switching null's full chains.

    What a sample costs: a chain's first sample runs ``switches_per_edge``,
    each of its ``samples_per_chain - 1`` later ones ``gap_switches_per_edge``
    (``options`` override the defaults). None for a null without switching;
    triad-preserving counts its starting chain only.

    Examples
    --------
    >>> mean_switches_per_edge("config"), mean_switches_per_edge("config", samples_per_chain=1)
    (11.015625, 75.0)
    >>> mean_switches_per_edge("er") is None
    True
    """
    opts = _check_options(model, options)
    if "switches_per_edge" not in opts:
        return None
    thinning = _Thinning(opts.get("samples_per_chain", 1), opts.get("gap_switches_per_edge", 0.0))
    return thinning.mean_length(opts["switches_per_edge"])


def sample_nulls(net: Network, model: str, n_samples: int, seed: int,
                 **options: Any) -> NullSamples:
    """Draw ``n_samples`` null networks of ``net`` under a null model.

    Parameters
    ----------
    net : Network
        The real network.
    model : str
        A key of :data:`NULL_MODELS`.
    n_samples : int
        Number of samples S (>= 1).
    seed : int
        Seed; the same seed gives identical samples.
    **options
        ``switches_per_edge`` (float): attempted switches from the real graph
        to a chain's first sample are ``switches_per_edge * m``; rejected
        attempts count, as in Milo et al. Defaults (see "Mixing" in the module
        docstring): 75 for config and config-dag, 20 for layer-config, 30 for
        causal-config, 100 for the switching that starts triad-preserving.
        ``samples_per_chain`` (int, default 64) and ``gap_switches_per_edge``
        (float; defaults 10, 10, 5 and 8 for config, config-dag,
        layer-config and causal-config): the serial engines' samples lie on
        chains of that many samples, each later sample of a chain that many
        attempts per edge after the one before it (module docstring,
        "Thinning"; ``samples_per_chain=1``: independent chains).
        ``preserve_mutual`` (bool, default True; config,
        layer-config, triad-preserving): keep the number of mutual dyads
        (single edges switch only with single edges and never form a mutual
        pair; mutual dyads switch as pairs). ``engine`` ("auto", "dense",
        "sequential", "compiled"; "sequential" and "compiled" give identical
        samples, and "auto" chooses without regard to whether the compiled
        one is built, so samples depend only on the seed and options).
        Triad-preserving only: ``anneal_switches_per_edge`` (float, default
        1000) bounds the annealing, ``temperature`` (float, default 0.05) is
        its starting temperature, ``settle_switches_per_edge`` (float,
        default 10) the census-keeping switches after a sample's first match.

        Mutual-preserving switching, as in mfinder, does not reach every graph
        with the degrees and mutual count (on small graphs it can be far from
        it): samples are uniform on the graphs its switches reach.

    Returns
    -------
    NullSamples

    Raises
    ------
    MotifError
        Unknown model or option, bad sample count or seed, ``config-dag`` on a
        cyclic network, ``layer-*`` without node layers, ``causal-config``
        without layers or positions or on an edge that is not causal, ``sign``
        without signs.

    Notes
    -----
    ``config-dag`` keeps a fixed order: node layers when every real edge goes
    to a higher layer, otherwise the longest-path depth from the sources. A
    switch is accepted only if both new edges go from a lower to a higher
    level, so samples are acyclic and, like the real graph, have no edge
    between nodes of one level.

    ``causal-config`` switches two edges only within one class (their
    (source layer, target layer) pair, and whether they stay at one token
    position or cross positions) and only when both new edges are causal
    (a higher layer, a position at or after the source's). So each node keeps
    its in- and out-degree within every class, the share of residual-direct
    (same-position) vs attention-mediated (cross-position) edges is kept, and
    no sample has an edge back in position. It runs on the serial engines.

    Cost: the sequential engine does ``switches_per_edge * m`` vectorised
    steps over the S samples; the dense engine does about
    ``switches_per_edge * m / (blocks * density**2)`` steps of
    ``blocks * S / 64`` word operations, with ``density`` the share of
    allowed cells holding an edge, so it wins on dense graphs ("auto" picks
    by a measured cost model). Memory is ``O(S * n**2)`` bits for the dense
    engine and ``O(S * n**2)`` bytes for the sequential one, split into
    chunks of samples above 96 MiB. Carrying weights costs the dense engine
    ``ceil(log2(max out-degree))`` extra bit planes; a Network without
    weights or signs switches about 3x faster there.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 2, 3], [1, 2, 3, 3, 4])
    >>> nulls = sample_nulls(net, "config-dag", n_samples=4, seed=0)
    >>> nulls.src.shape, nulls.model
    ((4, 5), 'config-dag')
    >>> bool((nulls.adjacency_dense().sum(axis=2) == [2, 1, 1, 1, 0]).all())
    True

    References
    ----------
    Milo et al., Science 298:824 (2002), supplementary material.
    """
    if not isinstance(net, Network):
        raise MotifError(f"net must be a motifs.Network, got {type(net).__name__}")
    if model not in NULL_MODELS:
        raise MotifError(f"unknown null model {model!r}; choose one of {sorted(NULL_MODELS)}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise MotifError(f"n_samples must be a positive integer, got {n_samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MotifError(f"seed must be a non-negative integer, got {seed!r}")
    opts = _check_options(model, options)
    n_samples, seed = int(n_samples), int(seed)
    rng = np.random.default_rng(seed)

    if model == "er":
        result = _erdos_renyi(net, n_samples, rng)
    elif model == "layer-er":
        result = _layer_erdos_renyi(net, n_samples, rng)
    elif model == "sign":
        result = _sign_shuffle(net, n_samples, rng)
    elif model == "triad-preserving":
        result = _triad_preserving(net, n_samples, rng, opts)
    else:
        result = _switching(net, model, n_samples, rng, opts)
    src, dst, slot, diagnostics = result
    return _package(net, model, opts, src, dst, slot, diagnostics)


# ---------------------------------------------------------------- validation
def _check_options(model: str, options: dict[str, Any]) -> dict[str, Any]:
    allowed = _DEFAULTS[model]
    unknown = set(options) - set(allowed)
    if unknown:
        raise MotifError(f"null model {model!r} takes no option(s) {sorted(unknown)}; "
                         f"its options are {sorted(allowed) or 'none'}")
    opts = {**allowed, **options}
    for key in ("switches_per_edge", "anneal_switches_per_edge", "temperature",
                "settle_switches_per_edge", "gap_switches_per_edge"):
        if key in opts:
            value = opts[key]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not math.isfinite(value) or value < 0:
                raise MotifError(f"option {key} must be a non-negative number, got {value!r}")
            opts[key] = float(value)
    if "samples_per_chain" in opts:
        value = opts["samples_per_chain"]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise MotifError(f"option samples_per_chain must be a positive integer, "
                             f"got {value!r}")
        opts["samples_per_chain"] = int(value)
    if "preserve_mutual" in opts and not isinstance(opts["preserve_mutual"], (bool, np.bool_)):
        raise MotifError(f"option preserve_mutual must be True or False, "
                         f"got {opts['preserve_mutual']!r}")
    if "engine" in opts and opts["engine"] not in _ENGINES:
        raise MotifError(f"option engine must be one of {_ENGINES}, got {opts['engine']!r}")
    return opts


def _require_layers(net: Network, model: str) -> np.ndarray:
    if net.layer is None:
        raise MotifError(f"null model {model!r} needs node layers (net.layer is None)")
    if net.layer.shape != (net.n_nodes,):
        raise MotifError(f"net.layer has shape {net.layer.shape}, expected ({net.n_nodes},)")
    return net.layer.astype(np.int64)


def _levels(net: Network) -> np.ndarray:
    """The fixed order config-dag keeps: layers if all edges rise, else depth."""
    src, dst = net.src.astype(np.int64), net.dst.astype(np.int64)
    if net.layer is not None and net.layer.shape == (net.n_nodes,) \
            and bool(np.all(net.layer[src] < net.layer[dst])):
        return net.layer.astype(np.int64)
    depth = np.zeros(net.n_nodes, dtype=np.int64)
    # Longest-path depth by repeated relaxation: at most n rounds on a DAG.
    for _ in range(net.n_nodes):
        new = depth.copy()
        np.maximum.at(new, dst, depth[src] + 1)
        if np.array_equal(new, depth):
            break
        depth = new
    return depth


# ------------------------------------------------------------------ packaging
def _package(net: Network, model: str, opts: dict[str, Any], src: np.ndarray,
             dst: np.ndarray, slot: np.ndarray, diagnostics: dict[str, Any]) -> NullSamples:
    """Sort each sample's edges by (src, dst) and look up carried attributes."""
    n = max(net.n_nodes, 1)
    # int32 cell keys where they fit: half the memory traffic of the sort
    dtype = np.int32 if n * n < 2**31 else np.int64
    key = src.astype(dtype) * dtype(n) + dst.astype(dtype)
    if net.sign is None and net.weight is None:
        # a bare topology carries nothing: sort the keys themselves (no argsort, no gathers);
        # a sample's cells are distinct, so the order is that of the argsort below
        key.sort(axis=1)
        src, dst = np.divmod(key, dtype(n))
        return NullSamples(src=src.astype(np.int32, copy=False),
                           dst=dst.astype(np.int32, copy=False), sign=None,
                           weight=None, n_nodes=net.n_nodes, model=model, options=opts,
                           diagnostics=diagnostics, base=net)
    order = np.argsort(key, axis=1, kind="stable")
    src = np.take_along_axis(src, order, axis=1).astype(np.int32)
    dst = np.take_along_axis(dst, order, axis=1).astype(np.int32)
    slot = np.take_along_axis(slot, order, axis=1)
    sign = None if net.sign is None else net.sign[slot].astype(np.int8)
    weight = None if net.weight is None else net.weight[slot].astype(np.float32)
    return NullSamples(src=src, dst=dst, sign=sign, weight=weight, n_nodes=net.n_nodes,
                       model=model, options=opts, diagnostics=diagnostics, base=net)


# -------------------------------------------------------- non-switching nulls
def _random_cells(cell_block: np.ndarray, block_quota: np.ndarray, n_samples: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, ``block_quota[b]`` distinct cells drawn uniformly from block b.

    ``cell_block`` (n_cells,) gives each candidate cell's block. Returns
    (S, sum(quota)) indices into the candidate cells, grouped by block, and
    the block of each column.
    """
    order = np.argsort(cell_block, kind="stable")
    sorted_block = cell_block[order]
    start = np.searchsorted(sorted_block, np.arange(block_quota.size))
    column_block = np.repeat(np.arange(block_quota.size), block_quota)
    within = np.arange(column_block.size) - np.repeat(np.cumsum(block_quota) - block_quota,
                                                      block_quota)
    picked = np.empty((n_samples, column_block.size), dtype=np.int64)
    for lo, hi in _chunks(n_samples, 24 * order.size):
        # Random keys, ranked within each block: the lowest quota of them win.
        keys = rng.random((hi - lo, order.size)) + sorted_block[None, :] * 2.0
        ranked = np.argsort(keys, axis=1, kind="stable")
        picked[lo:hi] = ranked[:, start[column_block] + within]
    return order[picked], column_block


def _erdos_renyi(net: Network, n_samples: int, rng: np.random.Generator):
    n, m = net.n_nodes, net.n_edges
    if m > n * (n - 1):
        raise MotifError(f"{m} edges do not fit in a simple graph on {n} nodes")
    # G(n, m) directly: m distinct off-diagonal cells per sample, in random
    # order (numpy's partial Fisher-Yates), so edge i's attributes go to the
    # i-th cell drawn and no sort of all n^2 cells is needed.
    picked = np.empty((n_samples, m), dtype=np.int64)
    for s in range(n_samples):
        picked[s] = rng.choice(n * (n - 1), size=m, replace=False, shuffle=True)
    # off-diagonal cell k of row r is column k - r*(n-1), shifted past the diagonal
    row, col = np.divmod(picked, max(n - 1, 1))
    col += col >= row
    slot = np.broadcast_to(np.arange(m), (n_samples, m))
    return row, col, slot, {"engine": "direct"}


def _layer_erdos_renyi(net: Network, n_samples: int, rng: np.random.Generator):
    layer = _require_layers(net, "layer-er")
    n = net.n_nodes
    _, layer_id = np.unique(layer, return_inverse=True)
    n_layers = int(layer_id.max()) + 1 if n else 0
    pair = layer_id[net.src] * n_layers + layer_id[net.dst]
    pairs, quota = np.unique(pair, return_counts=True)
    uu, vv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    cell_pair = (layer_id[uu] * n_layers + layer_id[vv]).ravel()
    usable = np.isin(cell_pair, pairs) & (uu != vv).ravel()
    cells = np.flatnonzero(usable)
    block = np.searchsorted(pairs, cell_pair[cells])
    room = np.bincount(block, minlength=pairs.size)
    if np.any(room < quota):
        worst = int(np.argmax(quota - room))
        raise MotifError(f"layer pair {divmod(int(pairs[worst]), n_layers)} has {quota[worst]} "
                         f"edges but only {room[worst]} possible cells")
    picked, column_block = _random_cells(block, quota, n_samples, rng)
    chosen = cells[picked]
    # Real edges of each layer pair, in the same block order as the columns.
    edge_order = np.argsort(np.searchsorted(pairs, pair), kind="stable")
    shuffle = np.argsort(rng.random((n_samples, net.n_edges)) + column_block[None, :] * 2.0,
                         axis=1)
    slot = edge_order[shuffle]
    return chosen // n, chosen % n, slot, {"engine": "direct"}


def _sign_shuffle(net: Network, n_samples: int, rng: np.random.Generator):
    if net.sign is None:
        raise MotifError("null model 'sign' needs edge signs (net.sign is None)")
    m = net.n_edges
    slot = np.argsort(rng.random((n_samples, m)), axis=1)
    src = np.broadcast_to(net.src, (n_samples, m)).copy()
    dst = np.broadcast_to(net.dst, (n_samples, m)).copy()
    return src, dst, slot, {"engine": "direct"}


# -------------------------------------------------------------- switching set-up
@dataclass
class _Chain:
    """What a switching chain keeps, in the form both engines read."""

    n: int
    src: np.ndarray            # (m,) int64, sorted by (src, dst)
    dst: np.ndarray            # (m,) int64
    allowed: np.ndarray        # (P, n, n) bool: cells an edge of plane p may occupy
    plane: np.ndarray          # (m,) int64: the plane of ``allowed`` each edge reads
    group: np.ndarray          # (n,) int64: rows / columns pair only within a group
    edge_class: np.ndarray     # (m,) int64: edges switch only within a class
    rank: np.ndarray | None    # (n,) levels of an order-preserving chain, else None
    preserve_mutual: bool
    mutual: np.ndarray         # (m,) bool: edge is half of a mutual dyad
    by_layer: bool             # layer-config: rows and columns pair within a layer
    serial_only: bool = False  # causal-config: the dense engine has no per-edge planes


def _chain_for(net: Network, model: str, preserve_mutual: bool) -> _Chain:
    n, m = net.n_nodes, net.n_edges
    src, dst = net.src.astype(np.int64), net.dst.astype(np.int64)
    allowed = ~np.eye(n, dtype=bool)
    group = np.zeros(n, dtype=np.int64)
    edge_class = np.zeros(m, dtype=np.int64)
    rank = None
    if model == "causal-config":
        return _causal_chain(net)
    if model == "config-dag":
        if not net.is_acyclic():
            raise MotifError("null model 'config-dag' needs an acyclic network; "
                             "this one has a directed cycle (use 'config')")
        rank = _levels(net)
        allowed &= rank[:, None] < rank[None, :]
        preserve_mutual = False  # an order-keeping null has no mutual edges at all
    elif model == "layer-config":
        layer = _require_layers(net, model)
        _, group = np.unique(layer, return_inverse=True)
        group = group.astype(np.int64)
        edge_class = group[src] * (int(group.max()) + 1) + group[dst]
        if bool(np.all(layer[src] < layer[dst])):
            rank = layer  # every class rises, so the classes keep this order anyway
            preserve_mutual = False
    adj = np.zeros((n, n), dtype=bool)
    adj[src, dst] = True
    mutual = adj[dst, src] if preserve_mutual else np.zeros(m, dtype=bool)
    return _Chain(n, src, dst, allowed[None], np.zeros(m, dtype=np.int64), group, edge_class,
                  rank, bool(preserve_mutual), mutual, model == "layer-config")


def _causal_order(net: Network, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(layer, pos) of the nodes, checked: every real edge rises a layer, never goes back."""
    layer = _require_layers(net, model)
    if net.pos is None:
        raise MotifError(f"null model {model!r} needs token positions (net.pos is None): build "
                         f"the Network with Network.from_graph, or pass pos= to from_edges")
    if net.pos.shape != (net.n_nodes,):
        raise MotifError(f"net.pos has shape {net.pos.shape}, expected ({net.n_nodes},)")
    pos = net.pos.astype(np.int64)
    src, dst = net.src.astype(np.int64), net.dst.astype(np.int64)
    bad = np.flatnonzero((layer[src] >= layer[dst]) | (pos[src] > pos[dst]))
    if bad.size:
        e = int(bad[0])
        name = (lambda v: repr(net.names[v])) if net.names is not None else str
        raise MotifError(
            f"null model {model!r} needs a causal network (every edge from a lower layer to a "
            f"higher one, never back in position); {bad.size} edges are not, e.g. "
            f"{name(src[e])} (layer {layer[src[e]]}, pos {pos[src[e]]}) -> {name(dst[e])} "
            f"(layer {layer[dst[e]]}, pos {pos[dst[e]]})")
    return layer, pos


def _causal_chain(net: Network) -> _Chain:
    """causal-config: switching within (layer pair, same vs cross position) classes.

    Plane 0 holds the cells a same-position edge may occupy (a higher layer
    at the same position), plane 1 those of a cross-position edge (a higher
    layer at a later position); an edge reads the plane of its class, so a
    switch is accepted only if both new edges are causal and of the class
    of the edges they replace.
    """
    layer, pos = _causal_order(net, "causal-config")
    n, m = net.n_nodes, net.n_edges
    src, dst = net.src.astype(np.int64), net.dst.astype(np.int64)
    _, group = np.unique(layer, return_inverse=True)
    group = group.astype(np.int64).reshape(-1)
    rises = layer[:, None] < layer[None, :]
    allowed = np.stack([rises & (pos[:, None] == pos[None, :]),
                        rises & (pos[:, None] < pos[None, :])])
    plane = (pos[src] != pos[dst]).astype(np.int64)
    n_groups = int(group.max()) + 1 if n else 1
    edge_class = (group[src] * n_groups + group[dst]) * 2 + plane
    return _Chain(n, src, dst, allowed, plane, group, edge_class, layer, False,
                  np.zeros(m, dtype=bool), False, serial_only=True)


@dataclass(frozen=True)
class _Thinning:
    """How the serial engines lay samples on chains (module docstring, "Thinning").

    Sample k is position k % ``per_chain`` of chain k // ``per_chain``: the
    chain's first sample runs the full length from the real graph, each later
    one ``gap`` attempted switches per edge from the sample before it.
    """

    per_chain: int = 1
    gap: float = 0.0

    def mean_length(self, switches_per_edge: float) -> float:
        """Mean attempted switches per edge and sample of a full chain."""
        return (switches_per_edge + (self.per_chain - 1) * self.gap) / self.per_chain


def _switching(net: Network, model: str, n_samples: int, rng: np.random.Generator,
               opts: dict[str, Any]):
    chain = _chain_for(net, model, opts.get("preserve_mutual", False))
    label, planes = _edge_labels(net, chain)
    thinning = _Thinning(opts["samples_per_chain"], opts["gap_switches_per_edge"])
    spe = opts["switches_per_edge"]
    engine = _pick_engine(chain, n_samples, opts["engine"], planes,
                          serial_share=thinning.mean_length(spe) / max(spe, 1e-12))
    dst, diag = _switch(engine, chain, n_samples, rng, spe, label, planes, thinning)
    m = net.n_edges
    src = np.broadcast_to(chain.src, (n_samples, m)).copy()
    slot = np.broadcast_to(np.arange(m), (n_samples, m)).copy()
    diag["engine"] = engine
    return src, dst, slot, diag


def _switch(engine: str, chain: _Chain, n_samples: int, rng: np.random.Generator,
            switches_per_edge: float, label: np.ndarray, planes: int,
            thinning: _Thinning = _Thinning()) -> tuple[np.ndarray, dict[str, Any]]:
    """Run the switching chain on the engine :func:`_pick_engine` chose.

    The serial engines lay samples on chains by ``thinning``; the dense
    engine's samples are independent chains of the full length.
    """
    if engine == "dense":
        dst, diag = _dense_switch(chain, n_samples, rng, switches_per_edge, label, planes)
        return dst, {**diag, "samples_per_chain": 1}
    run = _sequential_switch if engine == "sequential" else _compiled_switch
    dst, diag = run(chain, n_samples, rng, switches_per_edge, thinning)
    return dst, {**diag, "samples_per_chain": thinning.per_chain,
                 "gap_switches_per_edge": thinning.gap}


def _edge_labels(net: Network, chain: _Chain) -> tuple[np.ndarray, int]:
    """What the dense engine must carry with each edge, and in how many bits.

    Weights: the edge's rank among its source's out-edges (so every edge is
    told apart). Signs only: the sign's rank among the signs present (one
    bit for +/-, two with unknown signs, 0). Neither: nothing.
    """
    n, m = chain.n, chain.src.size
    if net.weight is not None:
        offset = np.searchsorted(chain.src, np.arange(n))
        label = np.arange(m) - offset[chain.src]
        top = int(label.max()) if m else 0
        return label, top.bit_length()
    if net.sign is not None:
        # one label per sign present: -1, +1 and, where known to be unknown, 0 (never
        # folded into +1)
        _, label = np.unique(net.sign, return_inverse=True)
        label = label.astype(np.int64).ravel()
        return label, int(label.max()).bit_length() if m else 0
    return np.zeros(m, dtype=np.int64), 0


def _pick_engine(chain: _Chain, n_samples: int, engine: str, planes: int,
                 serial_share: float = 1.0) -> str:
    """Choose the cheaper chain from a cost model measured on a 2-core x86 box.

    Dense: a step costs about 60 us plus (35 + 12 * label planes) ns per block
    and 64-sample lane, and attempts about density**2 switches per block and
    sample (density: edges per cell of the blocks' (layer) classes).
    Serial: the compiled chain, 5-8 ns per attempt. The numpy sequential
    engine runs the very same chain (identical samples, about 40 us per step
    plus 25 ns per sample), so "auto" chooses between the dense and the serial
    chain as if the kernel were built, and runs the serial chain on the
    kernel when it is: samples depend on the seed and options only, never on
    whether the C extension was built. ``serial_share``: the serial chain's
    attempts per sample relative to the dense engine's (below 1 when the
    serial samples are thinned chains).
    """
    if engine == "compiled" and _kernel is None:
        raise MotifError("engine 'compiled' is not built in this install (motifs/_kernels.c "
                         "needs a C compiler at install time); use 'auto', 'dense' or "
                         "'sequential'")
    if engine == "dense" and chain.serial_only:
        raise MotifError("engine 'dense' cannot keep the causal-config classes (an edge's "
                         "allowed cells depend on its class); use 'auto', 'sequential' or "
                         "'compiled'")
    if engine != "auto":
        return engine
    n, m = chain.n, chain.src.size
    serial = "sequential" if _kernel is None else "compiled"
    if m < 2 or n < 4 or chain.serial_only:
        return serial
    # Edges and cells of each class the dense blocks visit.
    if chain.by_layer:
        k = int(chain.group.max()) + 1
        size = np.bincount(chain.group, minlength=k).astype(float)
        cells = np.outer(size, size) - np.diag(size)
        if chain.rank is not None:
            level = np.array([chain.rank[chain.group == g][0] for g in range(k)])
            cells = cells * (level[:, None] < level[None, :])
        edges = np.bincount(chain.edge_class, minlength=k * k).reshape(k, k).astype(float)
        visited = cells > 0
        density_sq = float((edges[visited] ** 2 / cells[visited]).sum() / cells[visited].sum())
    else:
        cells = np.count_nonzero(chain.allowed[0])
        density_sq = (m / max(cells, 1)) ** 2
    split = chain.rank is not None or chain.preserve_mutual
    blocks = max(1.0, (n / 2) ** 2 / (4 if split else 1) * _cells_fraction(chain))
    lanes = (n_samples + 63) // 64
    per_block = (35 + 12 * planes) * (1.5 if chain.preserve_mutual else 1.0)
    dense_ns = (60_000 + per_block * lanes * blocks) / max(blocks * density_sq * n_samples, 1e-9)
    return "dense" if dense_ns < 8.0 * serial_share else serial


def _cells_fraction(chain: _Chain) -> float:
    """Share of node pairs whose rows and columns can both hold edges."""
    out_degree = np.bincount(chain.src, minlength=chain.n)
    in_degree = np.bincount(chain.dst, minlength=chain.n)
    return float(np.count_nonzero(out_degree) * np.count_nonzero(in_degree)) / chain.n ** 2


def _chunks(n_samples: int, per_sample_bytes: int, lane: int = 1) -> list[tuple[int, int]]:
    """Split samples into runs whose working memory stays within the budget."""
    size = max(lane, (_MEMORY_BUDGET // max(per_sample_bytes, 1)) // lane * lane)
    return [(lo, min(lo + size, n_samples)) for lo in range(0, n_samples, size)]


# -------------------------------------------------------------- dense engine
def _pair_within(nodes: np.ndarray, key: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """(k, 2) uniformly random pairs of ``nodes`` with equal integer ``key``."""
    if key.size == 0 or key.min() == key.max():
        shuffled = rng.permutation(nodes)
        return shuffled[: shuffled.size // 2 * 2].reshape(-1, 2)
    order = np.argsort(key + rng.random(nodes.size), kind="stable")
    ordered, k = nodes[order], key[order]
    idx = np.arange(ordered.size)
    new_run = np.empty(k.size, dtype=bool)
    new_run[0], new_run[1:] = True, k[1:] != k[:-1]
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    has_next = np.zeros(k.size, dtype=bool)
    has_next[:-1] = ~new_run[1:]
    lead = np.flatnonzero(((idx - run_start) % 2 == 0) & has_next)
    return np.stack([ordered[lead], ordered[lead + 1]], axis=1)


class _BlockDrawer:
    """Draws the cell-disjoint 2x2 blocks of one dense step.

    Rows are paired, columns are paired (within a layer for layer-config),
    and a block is a row pair x a column pair. Order-keeping chains cut the
    levels into bands and keep blocks whose rows lie in a lower band than
    their columns, so every block keeps the order. Mutual-preserving chains
    split the nodes into random halves (rows from one, columns from the
    other), so no block writes another block's reverse cells. Otherwise any
    row pair meets any column pair without a diagonal cell.
    """

    def __init__(self, chain: _Chain):
        self.chain = chain
        n = chain.n
        self.rows_ok = np.bincount(chain.src, minlength=n) > 0
        self.cols_ok = np.bincount(chain.dst, minlength=n) > 0
        self.n_groups = k = int(chain.group.max()) + 1 if n else 1
        self.class_used = np.bincount(chain.group[chain.src] * k + chain.group[chain.dst],
                                      minlength=k * k).reshape(k, k) > 0
        if chain.rank is not None:
            levels, self.level_of = np.unique(chain.rank, return_inverse=True)
            self.n_levels = levels.size
            # Layer-config pairs within layers, so every level boundary is a
            # cut. Config-dag makes one random cut, rows below and columns
            # above: rows of any two levels meet, and each edge is attempted
            # about as often as in Milo's uniform proposals. (Cutting more
            # boundaries gives more blocks per step but spends the attempts on
            # edges between distant levels: measured on the Dallas graph, 100
            # attempts per edge then leave the edge overlap at 0.688 instead
            # of its stationary 0.675, which one cut reaches by 30.)
            self.all_cuts = chain.by_layer

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(nb, 2) row pairs and (nb, 2) column pairs of the blocks."""
        chain, k = self.chain, self.n_groups
        rows_ok, cols_ok = self.rows_ok, self.cols_ok
        if chain.rank is not None:
            if self.n_levels < 2:
                return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
            if self.all_cuts:
                band = self.level_of
            else:
                band = self.level_of >= 1 + rng.integers(self.n_levels - 1)
                rows_ok, cols_ok = rows_ok & ~band, cols_ok & band
            key = band * k + chain.group
        else:
            key = chain.group
            if chain.preserve_mutual:
                half = rng.random(chain.n) < 0.5
                rows_ok, cols_ok = rows_ok & half, cols_ok & ~half
        rows = np.flatnonzero(rows_ok)
        cols = np.flatnonzero(cols_ok)
        row_pairs = _pair_within(rows, key[rows], rng)
        col_pairs = _pair_within(cols, key[cols], rng)
        if row_pairs.size == 0 or col_pairs.size == 0:
            return np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)
        ra, ca = row_pairs[:, 0], col_pairs[:, 0]
        ok = self.class_used[chain.group[ra][:, None], chain.group[ca][None, :]]
        if chain.rank is not None and self.all_cuts:
            ok &= self.level_of[ra][:, None] < self.level_of[ca][None, :]
        elif chain.rank is None and not chain.preserve_mutual:
            # A block holding a diagonal cell could move an edge onto it.
            ok &= ~(row_pairs[:, None, :, None] == col_pairs[None, :, None, :]).any(axis=(2, 3))
        ri, ci = np.nonzero(ok)
        return row_pairs[ri], col_pairs[ci]


def _dense_switch(chain: _Chain, n_samples: int, rng: np.random.Generator,
                  switches_per_edge: float, label: np.ndarray,
                  planes: int) -> tuple[np.ndarray, dict[str, Any]]:
    n, m = chain.n, chain.src.size
    # Bytes per sample: occupancy and label bits with their step copies, and
    # the unpacked bits at the end.
    per_sample = n * n * (1 + planes) // 4 + n * n + 16 * m
    out = np.empty((n_samples, m), dtype=np.int64)
    attempts = accepted = steps = 0
    chunks = _chunks(n_samples, per_sample, lane=64)
    for lo, hi in chunks:
        dst, tried, done, taken = _dense_chunk(chain, hi - lo, rng, switches_per_edge, label,
                                               planes)
        out[lo:hi] = dst
        attempts, accepted, steps = attempts + tried, accepted + done, steps + taken
    bits = sum(64 * ((hi - lo + 63) // 64) for lo, hi in chunks)
    return out, {"switches_per_edge": attempts / max(bits * m, 1),
                 "acceptance": accepted / max(attempts, 1), "steps": steps}


def _dense_chunk(chain: _Chain, n_samples: int, rng: np.random.Generator,
                 switches_per_edge: float, label: np.ndarray,
                 planes: int) -> tuple[np.ndarray, int, int, int]:
    """Run the dense chain on up to 64 * lanes samples: (targets, attempts, accepted, steps)."""
    m = chain.src.size
    lanes = (n_samples + 63) // 64
    occ, lab = _dense_lanes(chain, lanes, label, planes)
    drawer = _BlockDrawer(chain)
    target = switches_per_edge * m * 64 * lanes
    attempts = accepted = steps = 0
    while attempts < target and m >= 2:
        row_pairs, col_pairs = drawer.draw(rng)
        steps += 1
        if row_pairs.shape[0]:
            tried, done = _switch_blocks(chain, occ, lab, row_pairs, col_pairs, rng)
            attempts, accepted = attempts + tried, accepted + done
        if steps > 1000 and attempts == 0:
            break  # no two edges can ever be switched
    return _unpack_dense(occ, lab, chain, n_samples, label), attempts, accepted, steps


def _dense_lanes(chain: _Chain, lanes: int, label: np.ndarray,
                 planes: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The real graph in every bit lane: occupancy (n*n, lanes) and label planes.

    Bit j of lane w is sample 64 w + j. ``lab[cell, p]`` holds bit p of the
    label of the edge in that cell, so the label moves with its edge: a
    switch swaps the labels of a->b and a->d.
    """
    n = chain.n
    occ = np.zeros((n * n, lanes), dtype=np.uint64)
    cell = chain.src * n + chain.dst
    occ[cell] = _ALL_ONES
    lab = np.zeros((n * n, planes, lanes), dtype=np.uint64) if planes else None
    for p in range(planes):
        lab[cell[(label >> p) & 1 == 1], p] = _ALL_ONES
    return occ, lab


def _switch_blocks(chain: _Chain, occ: np.ndarray, lab: np.ndarray | None,
                   row_pairs: np.ndarray, col_pairs: np.ndarray,
                   rng: np.random.Generator) -> tuple[int, int]:
    """One dense step: a lazy switch in every 2x2 block, every lane; (attempts, accepted)."""
    n, nb = chain.n, row_pairs.shape[0]
    lanes = occ.shape[1]
    # fwd[k]: the cells ab, ad, cb, cd of block k (rows a, c; columns b, d).
    fwd = (row_pairs[:, :, None] * n + col_pairs[:, None, :]).reshape(nb, 4)
    sub = occ[fwd]
    ab, ad, cb, cd = sub[:, 0], sub[:, 1], sub[:, 2], sub[:, 3]
    coin = rng.bit_generator.random_raw(nb * lanes).reshape(nb, lanes)
    # An attempt: two edges on one diagonal of the block (a->b, c->d or
    # a->d, c->b); it succeeds when the other diagonal is empty.
    diag, anti = ab & cd & coin, ad & cb & coin
    attempts = int(np.bitwise_count(diag).sum()) + int(np.bitwise_count(anti).sum())
    flip = (diag & ~ad & ~cb) | (anti & ~ab & ~cd)
    flip_rev = rsub = rev = None
    if chain.preserve_mutual:
        # rev[k]: the reverse cells ba, da, bc, dc.
        rev = (col_pairs[:, None, :] * n + row_pairs[:, :, None]).reshape(nb, 4)
        rsub = occ[rev]
        ba, da, bc, dc = rsub[:, 0], rsub[:, 1], rsub[:, 2], rsub[:, 3]
        # Single edges may not form or break a mutual dyad; two dyads
        # a<->b, c<->d switch together into a<->d, c<->b.
        flip_rev = flip & ~(ba ^ ab) & ~(dc ^ cd) & ~(da ^ ad) & ~(bc ^ cb)
        flip = (flip & ~(ba | bc | da | dc)) | flip_rev
    accepted = int(np.bitwise_count(flip).sum())
    sub ^= flip[:, None, :]
    occ[fwd] = sub
    if lab is not None:
        # Rows keep their edges: a->b becomes a->d, c->d becomes c->b.
        lsub = lab[fwd]
        _swap_bits(lsub[:, 0], lsub[:, 1], flip[:, None, :])
        _swap_bits(lsub[:, 2], lsub[:, 3], flip[:, None, :])
        lab[fwd] = lsub
    if flip_rev is not None and chain.mutual.any() and flip_rev.any():
        rsub ^= flip_rev[:, None, :]
        occ[rev] = rsub
        if lab is not None:
            # Row b: b->a becomes b->c; row d: d->c becomes d->a.
            lsub = lab[rev]
            _swap_bits(lsub[:, 0], lsub[:, 2], flip_rev[:, None, :])
            _swap_bits(lsub[:, 1], lsub[:, 3], flip_rev[:, None, :])
            lab[rev] = lsub
    return attempts, accepted


def _swap_bits(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> None:
    """Swap the bits of x and y where mask is set (in place, views allowed)."""
    t = (x ^ y) & mask
    x ^= t
    y ^= t


def _unpack_dense(occ: np.ndarray, lab: np.ndarray | None, chain: _Chain, n_samples: int,
                  label: np.ndarray) -> np.ndarray:
    """(S, m) new target of each real edge, from the bit lanes.

    Each sample's edges are matched to the real edges of the same source and
    label, in column order: one to one for weights (labels are unique within
    a source), any positive to any positive edge for signs.
    """
    n, m = chain.n, chain.src.size
    offset = np.searchsorted(chain.src, np.arange(n))
    # Real edges sorted by (source, label); first index of each (source, label).
    levels = int(label.max()) + 1 if m else 1
    real_key = chain.src * levels + label
    real_order = np.argsort(real_key, kind="stable")
    group_start = np.searchsorted(real_key[real_order], np.arange(n * levels))
    repeated = np.unique(real_key).size < m
    out = np.empty((n_samples, m), dtype=np.int64)
    lanes = occ.shape[1]
    step = max(1, _MEMORY_BUDGET // max(n * n * 64 * 2, 1))
    for w0 in range(0, lanes, step):
        w1 = min(lanes, w0 + step)
        s0, s1 = 64 * w0, min(64 * w1, n_samples)
        bits = np.unpackbits(np.ascontiguousarray(occ[:, w0:w1]).view(np.uint8), axis=1,
                             bitorder="little")             # (n*n, 64 * lanes)
        sample, cell = np.nonzero(np.ascontiguousarray(bits[:, : s1 - s0].T))
        del bits
        if sample.size != (s1 - s0) * m:
            raise AssertionError("dense switching lost or gained an edge")
        row = cell // n
        value = np.zeros(sample.size, dtype=np.int64)
        if lab is not None:
            word, bit = (sample + s0) // 64, ((sample + s0) % 64).astype(np.uint64)
            for p in range(lab.shape[1]):
                value |= ((lab[cell, p, word] >> bit) & np.uint64(1)).astype(np.int64) << p
        # Rank of each edge among the edges of its (sample, source, label),
        # in column order; runs of one (sample, source) are contiguous.
        run_start = np.arange(sample.size) // m * m + offset[row]
        rank = np.zeros(sample.size, dtype=np.int64)
        if repeated:  # labels repeat within a source (signs, or nothing)
            for v in range(levels):
                is_v = (value == v).astype(np.int64)
                seen = np.cumsum(is_v) - is_v
                before = np.r_[0, np.cumsum(is_v)][run_start]
                rank = np.where(value == v, seen - before, rank)
        edge = real_order[group_start[row * levels + value] + rank]
        target = np.full((s1 - s0, m), -1, dtype=np.int64)
        target[sample, edge] = cell % n
        if (target < 0).any():
            raise AssertionError("dense switching lost track of an edge's label")
        out[s0:s1] = target
    return out


# --------------------------------------------------------- sequential engine
_U64 = np.uint64
_GOLDEN, _MIX1, _MIX2 = _U64(0x9E3779B97F4A7C15), _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)
_LOW32 = _U64(0xFFFFFFFF)


def _sample_seeds(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """(S,) uint64: one seed per sample's stream, the same for every engine."""
    return rng.integers(0, 2**63, size=n_samples, dtype=np.uint64)


def _rotl(x: np.ndarray, k: int) -> np.ndarray:
    return (x << _U64(k)) | (x >> _U64(64 - k))


class _Xoshiro:
    """One xoshiro256** stream per sample, vectorised: the generator of ``_kernels.c``.

    Seeded by splitmix64 like the kernel's ``rng_seed``; :meth:`below` is its
    multiply-shift ``below`` (Lemire), so the numpy and compiled engines
    draw the same numbers. Reference: D. Blackman, S. Vigna, "Scrambled
    linear pseudorandom number generators", ACM TOMS 47 (2021).

    Examples
    --------
    >>> draws = _Xoshiro(np.array([1, 2], dtype=np.uint64))
    >>> bool(((draws.below(10) >= 0) & (draws.below(10) < 10)).all())
    True
    """

    def __init__(self, seeds: np.ndarray):
        x = np.asarray(seeds, dtype=np.uint64).copy()
        self.s = np.empty((4, x.size), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for i in range(4):
                x += _GOLDEN
                z = (x ^ (x >> _U64(30))) * _MIX1
                z = (z ^ (z >> _U64(27))) * _MIX2
                self.s[i] = z ^ (z >> _U64(31))

    def next(self) -> np.ndarray:
        """(S,) uint64: the next output of every stream."""
        s = self.s
        with np.errstate(over="ignore"):
            result = _rotl(s[1] * _U64(5), 7) * _U64(9)
        t = s[1] << _U64(17)
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, k: int | np.ndarray) -> np.ndarray:
        """(S,) int64 uniform in [0, k): the high word of next() * k (k < 2**32)."""
        x = self.next()
        k = np.asarray(k).astype(np.uint64)
        # (x * k) >> 64 from 32-bit halves; k < 2**32, so no partial sum overflows.
        low = ((x & _LOW32) * k) >> _U64(32)
        return ((low + (x >> _U64(32)) * k) >> _U64(32)).astype(np.int64)

    def bit(self) -> np.ndarray:
        """(S,) int64 0 or 1: the top bit of next()."""
        return (self.next() >> _U64(63)).astype(np.int64)


class _SequentialState:
    """Per-sample slot targets and occupancy for Milo's one-switch-at-a-time chain."""

    def __init__(self, chain: _Chain, n_samples: int):
        n, m = chain.n, chain.src.size
        self.chain = chain
        self.rows = np.arange(n_samples)
        self.dst = np.broadcast_to(chain.dst, (n_samples, m)).copy()
        self.occ = np.zeros((n_samples, n * n), dtype=bool)
        self.occ[:, chain.src * n + chain.dst] = True
        single = np.flatnonzero(~chain.mutual)
        self.singles = single[np.lexsort((single, chain.edge_class[single]))]
        cls = chain.edge_class[self.singles]
        self.class_start = np.searchsorted(cls, cls, side="left")
        self.class_size = np.searchsorted(cls, cls, side="right") - self.class_start
        # Mutual dyads as (edge u->v, edge v->u) pairs, per sample: a dyad
        # switch re-pairs the four edges it touches.
        key = chain.src * n + chain.dst
        fwd = np.flatnonzero(chain.mutual & (chain.src < chain.dst))
        rev = np.searchsorted(key, chain.dst[fwd] * n + chain.src[fwd])
        self.dyads = np.broadcast_to(np.stack([fwd, rev], axis=1),
                                     (n_samples, fwd.size, 2)).copy()

    def set_targets(self, dst: np.ndarray) -> None:
        """Start from other samples' targets (S, m); re-pairs the mutual dyads."""
        chain, n = self.chain, self.chain.n
        self.dst[:] = dst
        self.occ[:] = False
        self.occ[self.rows[:, None], chain.src[None, :] * n + dst] = True
        mutual = np.flatnonzero(chain.mutual)
        if mutual.size:
            key = chain.src[mutual][None, :] * n + dst[:, mutual]          # (S, k)
            order = np.argsort(key, axis=1)
            reverse = dst[:, mutual] * n + chain.src[mutual][None, :]
            sorted_key = np.take_along_axis(key, order, axis=1)
            # One searchsorted over all samples: offset each sample's keys.
            shift = (np.arange(len(dst)) * n * n)[:, None]
            where = np.searchsorted((sorted_key + shift).ravel(), (reverse + shift).ravel())
            where = where.reshape(reverse.shape) - np.arange(len(dst))[:, None] * mutual.size
            partner = mutual[np.take_along_axis(order, where, axis=1)]
            lead = mutual[None, :] < partner
            first = mutual[np.nonzero(lead)[1]].reshape(len(dst), -1)
            self.dyads = np.stack([first, partner[lead].reshape(len(dst), -1)], axis=2)

    def propose(self, draws: _Xoshiro):
        """Two uniform single edges of one class per sample, and whether switching is valid."""
        chain, n = self.chain, self.chain.n
        k = draws.below(self.singles.size)
        j = self.class_start[k] + draws.below(self.class_size[k])
        i, j = self.singles[k], self.singles[j]
        a, c = chain.src[i], chain.src[j]
        b, d = self.dst[self.rows, i], self.dst[self.rows, j]
        ok = (a != c) & (b != d) & chain.allowed[chain.plane[i], a, d]
        ok &= chain.allowed[chain.plane[j], c, b]
        ok &= ~self.occ[self.rows, a * n + d] & ~self.occ[self.rows, c * n + b]
        if chain.preserve_mutual:
            ok &= ~self.occ[self.rows, d * n + a] & ~self.occ[self.rows, b * n + c]
        return i, j, a, b, c, d, ok

    def apply(self, i, j, a, b, c, d, ok) -> None:
        n = self.chain.n
        r = self.rows[ok]
        a, b, c, d = a[ok], b[ok], c[ok], d[ok]
        self.occ[r, a * n + b] = False
        self.occ[r, c * n + d] = False
        self.occ[r, a * n + d] = True
        self.occ[r, c * n + b] = True
        self.dst[r, i[ok]] = d
        self.dst[r, j[ok]] = b

    def propose_dyads(self, draws: _Xoshiro):
        """Two mutual dyads a<->b, c<->d per sample, and whether a<->d, c<->b is valid."""
        chain, n = self.chain, self.chain.n
        rows = self.rows
        e, f = draws.below(self.dyads.shape[1]), draws.below(self.dyads.shape[1])
        flip_e, flip_f = draws.bit(), draws.bit()
        edges = (self.dyads[rows, e, flip_e], self.dyads[rows, e, 1 - flip_e],   # a->b, b->a
                 self.dyads[rows, f, flip_f], self.dyads[rows, f, 1 - flip_f])   # c->d, d->c
        ab, ba, cd, dc = edges
        a, c = chain.src[ab], chain.src[cd]
        b, d = self.dst[rows, ab], self.dst[rows, cd]
        ok = (e != f) & (a != d) & (c != b) & (a != c) & (b != d)
        ok &= (chain.edge_class[ab] == chain.edge_class[cd])
        ok &= (chain.edge_class[ba] == chain.edge_class[dc])
        for x, y in ((a, d), (d, a), (c, b), (b, c)):
            # mutual dyads occur only in one-plane chains (config, layer-config)
            ok &= chain.allowed[0, x, y] & ~self.occ[rows, x * n + y]
        return (e, f, edges), a, b, c, d, ok

    def apply_dyads(self, picked, a, b, c, d, ok) -> None:
        n, occ = self.chain.n, self.occ
        e, f, (ab, ba, cd, dc) = picked
        r = self.rows[ok]
        a, b, c, d = a[ok], b[ok], c[ok], d[ok]
        ab, ba, cd, dc = ab[ok], ba[ok], cd[ok], dc[ok]
        for x, y in ((a, b), (b, a), (c, d), (d, c)):
            occ[r, x * n + y] = False
        for x, y in ((a, d), (d, a), (c, b), (b, c)):
            occ[r, x * n + y] = True
        self.dst[r, ab] = d
        self.dst[r, ba] = c
        self.dst[r, cd] = b
        self.dst[r, dc] = a
        # Now a->d pairs with d->a, and c->b with b->c.
        self.dyads[r, e[ok]] = np.stack([ab, dc], axis=1)
        self.dyads[r, f[ok]] = np.stack([cd, ba], axis=1)


def _sequential_switch(chain: _Chain, n_samples: int, rng: np.random.Generator,
                       switches_per_edge: float,
                       thinning: _Thinning) -> tuple[np.ndarray, dict[str, Any]]:
    """Milo's chain in numpy, vectorised across chains: the compiled engine's samples.

    Each sample runs the xoshiro256** stream the C kernel would run for it
    (seeded alike from ``rng``), drawing in the same order, so the two
    engines give identical samples for one seed. The chains of a chunk run
    side by side, one position of every chain per round; a last, shorter
    chain's missing positions run on throw-away streams.
    """
    n, m = chain.n, chain.src.size
    per = thinning.per_chain
    out = np.empty((n_samples, m), dtype=np.int64)
    attempts = accepted = 0
    seeds = _sample_seeds(rng, n_samples)
    # whole chains per chunk: each chain's state lives in one lane
    for lo, hi in _chunks(-(-n_samples // per), n * n + 16 * m):
        state = _SequentialState(chain, hi - lo)
        for position in range(min(per, n_samples - lo * per)):
            index = (np.arange(lo, hi) * per + position)
            live = index < n_samples
            draws = _Xoshiro(np.where(live, seeds[np.minimum(index, n_samples - 1)], 0))
            length = switches_per_edge if position == 0 else thinning.gap
            a, c = _run_sequential(state, draws, length, lanes=int(live.sum()))
            attempts += a
            accepted += c
            out[index[live]] = state.dst[live]
    return out, {"switches_per_edge": attempts / max(n_samples * m, 1),
                 "acceptance": accepted / max(attempts, 1)}


def _step_counts(n_singles: int, n_dyads: int, switches_per_edge: float) -> tuple[int, int]:
    """Attempts per sample: ``switches_per_edge`` per single edge and per dyad edge."""
    single_steps = int(round(switches_per_edge * n_singles)) if n_singles >= 2 else 0
    # A dyad switch moves four edges, so it counts as two attempts.
    dyad_steps = int(round(switches_per_edge * n_dyads)) if n_dyads >= 2 else 0
    return single_steps, dyad_steps


def _compiled_switch(chain: _Chain, n_samples: int, rng: np.random.Generator,
                     switches_per_edge: float,
                     thinning: _Thinning) -> tuple[np.ndarray, dict[str, Any]]:
    """The sequential engine's chain in C (motifs/_kernels.c), one sample at a time.

    Each sample runs its own generator, seeded from ``rng``; the move set,
    the constraints, the chains (``thinning``), the attempt counts and the
    random draws are those of the sequential engine, so both give identical
    samples.
    """
    n, m = chain.n, chain.src.size
    state = _SequentialState(chain, 1)
    single_steps, dyad_steps = _step_counts(state.singles.size, state.dyads.shape[1],
                                            switches_per_edge)
    gap_single, gap_dyad = _step_counts(state.singles.size, state.dyads.shape[1], thinning.gap)
    ints = [np.ascontiguousarray(x, dtype=np.int64) for x in (
        chain.src, chain.dst, chain.plane, state.singles, state.class_start, state.class_size,
        state.dyads[0], chain.edge_class)]
    # one bitset per plane: bit (cell % 64) of word cell // 64, as the kernel reads it
    words = (n * n + 63) // 64
    planes_bits = np.zeros((chain.allowed.shape[0], words * 8), dtype=np.uint8)
    for p, plane in enumerate(chain.allowed):
        bits = np.packbits(plane.ravel(), bitorder="little")
        planes_bits[p, :bits.size] = bits
    allowed = np.ascontiguousarray(planes_bits).view("<u8").ravel()
    seeds = _sample_seeds(rng, n_samples)
    out = np.empty((n_samples, m), dtype=np.int64)
    out_dyads = np.empty((n_samples, state.dyads.shape[1], 2), dtype=np.int64)
    accepted = _kernel.switch_samples(
        n, m, ints[0], ints[1], allowed, ints[2], ints[3], ints[4], ints[5], ints[6], ints[7],
        bool(chain.preserve_mutual), single_steps, dyad_steps, thinning.per_chain, gap_single,
        gap_dyad, seeds, out, out_dyads)
    first = -(-n_samples // thinning.per_chain)  # samples that start a chain
    attempts = first * (single_steps + 2 * dyad_steps) + \
        (n_samples - first) * (gap_single + 2 * gap_dyad)
    return out, {"switches_per_edge": attempts / max(n_samples * m, 1),
                 "acceptance": accepted / max(attempts, 1)}


def _run_sequential(state: _SequentialState, draws: _Xoshiro, switches_per_edge: float,
                    lanes: int | None = None) -> tuple[int, int]:
    """Attempt ``switches_per_edge`` switches per single edge and per dyad edge.

    Returns (attempts, accepted) counted over the first ``lanes`` samples
    (default all); the others run throw-away streams.
    """
    single_steps, dyad_steps = _step_counts(state.singles.size, state.dyads.shape[1],
                                            switches_per_edge)
    attempts = accepted = 0
    s = state.rows.size if lanes is None else lanes
    for step in range(max(single_steps, dyad_steps)):
        if step < single_steps:
            i, j, a, b, c, d, ok = state.propose(draws)
            state.apply(i, j, a, b, c, d, ok)
            attempts += s
            accepted += int(ok[:s].sum())
        if step < dyad_steps:
            picked, a, b, c, d, ok = state.propose_dyads(draws)
            state.apply_dyads(picked, a, b, c, d, ok)
            attempts += 2 * s
            accepted += 2 * int(ok[:s].sum())
    return attempts, accepted


# ------------------------------------------------------- triad-preserving null
def _triad_code_classes() -> np.ndarray:
    """(64,) class index of each 6-bit triad code, in the census's class order.

    Bits of a code for nodes (p, q, r): 1 p->q, 2 q->p, 4 p->r, 8 r->p,
    16 q->r, 32 r->q. The classes come from the census itself (one source of
    truth): each of the 64 three-node graphs is counted once.
    """
    from motifs.census import triad_census_many

    codes = np.arange(64)
    adj = np.zeros((64, 3, 3), dtype=bool)
    for bit, (x, y) in enumerate(((0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1))):
        adj[:, x, y] = (codes >> bit) & 1 == 1
    census = np.asarray(triad_census_many(adj))
    if census.shape != (64, 16) or not np.all(census.sum(axis=1) == 1):
        raise MotifError("motifs.census.triad_census_many did not count 1 triad per 3-node graph")
    return np.argmax(census, axis=1)


def _census_energy(count: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Milo's distance: sum over classes of |N - N_real| / (N + N_real)."""
    total = count + real
    diff = np.abs(count - real)
    return np.where(total > 0, diff / np.maximum(total, 1), 0.0).sum(axis=-1)


def _triad_delta(adj: np.ndarray, samples: np.ndarray, a, b, c, d, table: np.ndarray,
                 dyads: bool) -> np.ndarray:
    """(S, 16) change of the triad census when a->b, c->d become a->d, c->b.

    With ``dyads`` the reverse edges move too (a<->b, c<->d become a<->d,
    c<->b). Only triads holding a changed node pair change: for each changed
    pair (u, v) and each other node x, the triad (u, v, x) gains or loses
    u->v (and v->u); each of the four triads inside {a, b, c, d} holds two
    changed pairs.
    """
    s, n = samples.size, adj.shape[1]
    rows = np.arange(s)
    # Code bits of a triad (p, q, x): 1 p->q, 2 q->p, 4 p->x, 8 x->p, 16 q->x, 32 x->q.
    pq, px, qx, xp, xq = (3, 12, 48, 12, 48) if dyads else (1, 4, 16, 8, 32)
    u = np.stack([a, c, a, c], axis=1)                       # (s, 4) changed pairs
    v = np.stack([b, d, d, b], axis=1)
    r = samples[:, None]
    code = ((adj[r, u, v] * 1 + adj[r, v, u] * 2)[:, :, None] + adj[r, u, :] * 4
            + adj[r, :, u] * 8 + adj[r, v, :] * 16 + adj[r, :, v] * 32).astype(np.int64)
    others = np.ones((s, n), dtype=bool)
    for x in (a, b, c, d):
        others[rows, x] = False
    keep = np.broadcast_to(others[:, None, :], code.shape)
    sample = np.broadcast_to(rows[:, None, None] * 16, code.shape)[keep]
    delta = (np.bincount(sample + table[code ^ pq][keep], minlength=s * 16)
             - np.bincount(sample + table[code][keep], minlength=s * 16)).reshape(s, 16)
    # Triads inside {a, b, c, d}: (p, q, x) and the bits of its two changed pairs.
    for p, q, x, toggle in ((a, b, c, pq | xq), (a, b, d, pq | px), (c, d, a, pq | xq),
                            (c, d, b, pq | px)):
        inner = (adj[samples, p, q] * 1 + adj[samples, q, p] * 2 + adj[samples, p, x] * 4
                 + adj[samples, x, p] * 8 + adj[samples, q, x] * 16
                 + adj[samples, x, q] * 32).astype(np.int64)
        np.add.at(delta, (rows, table[inner ^ toggle]), 1)
        np.add.at(delta, (rows, table[inner]), -1)
    return delta


def _triad_preserving(net: Network, n_samples: int, rng: np.random.Generator,
                      opts: dict[str, Any]):
    """Milo's 4-node null: switching, then annealing onto the real triad census.

    Start from samples of the network's default null (:func:`default_null`:
    ``causal-config`` for a causal network with positions, ``config-dag``
    for another DAG, else ``config``), then run Metropolis switches of that
    chain (single edges, and mutual dyads every other step) on the energy
    E = sum over the 16 classes of |N - N_real| / (N + N_real) (Milo et al.
    2002, supplementary material), the temperature cooling geometrically
    from ``temperature`` to a thousandth of it in cycles of 20 switches per
    edge. The census change of a switch is computed from the triads holding
    a changed node pair only.

    Each sample's annealing stops at the first graph whose census equals the
    real one. From there it makes ``settle_switches_per_edge`` attempted
    switches per edge that keep the census (accepted only when the census
    does not change: a Metropolis chain at zero temperature on the matching
    graphs), so samples are not tied to the first match their start led to.
    Samples still off after ``anneal_switches_per_edge`` attempts per edge
    have ``census_distance`` > 0 in the diagnostics: motif profiles exclude
    them and count them (column ``n_excluded``).
    """
    base_model = default_null(net)
    chain = _chain_for(net, base_model, opts["preserve_mutual"])
    label, planes = _edge_labels(net, chain)
    engine = _pick_engine(chain, n_samples, opts["engine"], planes)
    start, diag = _switch(engine, chain, n_samples, rng, opts["switches_per_edge"], label,
                          planes)
    state = _SequentialState(chain, n_samples)
    state.set_targets(start)
    real = _real_triad_census(net)
    anneal = _Annealing(state, real, rng)
    m = net.n_edges
    movable = state.singles.size >= 2
    steps = anneal.run(budget=int(round(opts["anneal_switches_per_edge"] * m)) if movable else 0,
                       settle=int(round(opts["settle_switches_per_edge"] * m)) if movable else 0,
                       temperature=max(opts["temperature"], 1e-12), cycle=max(20 * m, 100))
    distance = np.abs(anneal.count - real).sum(axis=1)
    diag.update({"engine": engine, "base_model": base_model, "anneal_steps": steps,
                 "census_distance": distance, "n_exact": int(np.sum(distance == 0)),
                 "settle_acceptance": anneal.settled / max(anneal.settle_attempts, 1)})
    src = np.broadcast_to(chain.src, (n_samples, m)).copy()
    slot = np.broadcast_to(np.arange(m), (n_samples, m)).copy()
    return src, state.dst.copy(), slot, diag


def _real_triad_census(net: Network) -> np.ndarray:
    """(16,) int64 triad census of the real network."""
    from motifs.census import triad_census_many

    real_adj = np.zeros((1, net.n_nodes, net.n_nodes), dtype=bool)
    real_adj[0, net.src, net.dst] = True
    return np.asarray(triad_census_many(real_adj), dtype=np.int64)[0]


class _Annealing:
    """The annealing of the triad-preserving null: census, energy and moves of S samples."""

    def __init__(self, state: _SequentialState, real: np.ndarray, rng: np.random.Generator):
        from motifs.census import triad_census_many

        n_samples, n = state.rows.size, state.chain.n
        self.state, self.real, self.rng = state, real, rng
        self.draws = _Xoshiro(_sample_seeds(rng, n_samples))
        self.table = _triad_code_classes()
        self.adj = state.occ.reshape(n_samples, n, n)
        self.count = np.asarray(triad_census_many(self.adj), dtype=np.int64)
        self.energy = _census_energy(self.count, real)
        self.with_dyads = state.dyads.shape[1] >= 2
        self.settled = self.settle_attempts = 0

    def run(self, budget: int, settle: int, temperature: float, cycle: int) -> int:
        """Anneal each sample to the census (at most ``budget`` steps), then settle it.

        Returns the number of steps taken.
        """
        settle_left = np.full(self.energy.size, settle, dtype=np.int64)
        step = 0
        while True:
            annealing = (self.energy > 0) & (step < budget)
            settling = (self.energy == 0) & (settle_left > 0)
            if not (annealing.any() or settling.any()):
                return step
            # Cooling cycles: a sample caught in a local minimum is shaken loose
            # by the next cycle's warm start.
            t = temperature * (1e-3 ** ((step % cycle) / cycle))
            self.step(annealing, settling, t, dyad_move=self.with_dyads and step % 2 == 1)
            settle_left -= settling
            step += 1

    def step(self, annealing: np.ndarray, settling: np.ndarray, temperature: float,
             dyad_move: bool) -> None:
        """One attempted switch per sample: Metropolis while annealing, census-keeping after."""
        state = self.state
        # Mutual dyads move too (every other step), or samples whose census
        # needs a dyad elsewhere could never reach it.
        if dyad_move:
            picked, a, b, c, d, ok = state.propose_dyads(self.draws)
        else:
            i, j, a, b, c, d, ok = state.propose(self.draws)
        self.settle_attempts += int(settling.sum())
        live = np.flatnonzero(ok & (annealing | settling))
        if live.size == 0:
            return
        delta = _triad_delta(self.adj, live, a[live], b[live], c[live], d[live], self.table,
                             dyad_move)
        new_count = self.count[live] + delta
        new_energy = _census_energy(new_count, self.real)
        rise = np.maximum(new_energy - self.energy[live], 0.0)
        take = self.rng.random(live.size) < np.exp(-rise / temperature)
        keeps = ~delta.any(axis=1)
        take = np.where(settling[live], keeps, take)
        self.settled += int((take & settling[live]).sum())
        accepted = np.zeros(state.rows.size, dtype=bool)
        accepted[live[take]] = True
        if dyad_move:
            state.apply_dyads(picked, a, b, c, d, accepted)
        else:
            state.apply(i, j, a, b, c, d, accepted)
        self.count[live[take]] = new_count[take]
        self.energy[live[take]] = new_energy[take]
