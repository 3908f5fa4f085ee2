"""Null models: every promised invariant checked on every sample, the
stationary distribution checked against brute-force enumeration, and the
degree-preserving null checked against igraph's rewiring."""

from __future__ import annotations

import collections
import itertools
import json
import warnings

import igraph
import numpy as np
import pytest
from scipy.stats import chi2

from motifs.census import triad_census_edges, triad_census_many
from motifs.errors import MotifError
from motifs.network import Network
from motifs.nulls import NULL_MODELS, NullSamples, _levels, default_null, default_options, sample_nulls
from tests.data.make_mixing_references import MIXING_FILE, null_moments
from tests.motifs.conftest import real_network

ENGINES = ("dense", "sequential", "compiled")


# ------------------------------------------------------------------ helpers
def random_digraph(n: int, p: float, seed: int, mutual: float = 0.0,
                   layers: int | None = None, dag: bool = False,
                   positions: int | None = None) -> Network:
    """Seeded random digraph with weights (signs from weights) and optional layers.

    ``dag``: edges only from a lower to a higher layer (or node number).
    ``mutual``: share of linked pairs that get the reverse edge too.
    ``positions``: token positions drawn from ``range(positions)``; with
    ``dag``, edges never go back in position (a causal graph).
    """
    rng = np.random.default_rng(seed)
    layer = rng.integers(0, layers, size=n) if layers else np.arange(n)
    pos = rng.integers(0, positions, size=n) if positions else None
    linked = rng.random((n, n)) < p
    if dag:
        linked &= layer[:, None] < layer[None, :]
        if pos is not None:
            linked &= pos[:, None] <= pos[None, :]
    else:
        linked = np.triu(linked, 1)
        flip = rng.random((n, n)) < 0.5
        linked = (linked & ~flip) | (linked & flip).T
        both = np.triu(rng.random((n, n)) < mutual) | np.tril(rng.random((n, n)) < mutual).T
        linked |= linked.T & both
    np.fill_diagonal(linked, False)
    src, dst = np.nonzero(linked)
    weight = rng.normal(size=src.size)
    return Network.from_edges(src, dst, n_nodes=n, sign=np.sign(weight), weight=weight,
                              layer=layer if layers else None, pos=pos)


def dense(net: Network) -> np.ndarray:
    return net.adjacency().toarray().astype(bool)


def mutual_dyads(adj: np.ndarray) -> np.ndarray:
    return (adj & np.swapaxes(adj, -1, -2)).sum(axis=(-1, -2)) // 2


def assert_simple_and_degree_preserving(nulls: NullSamples, net: Network) -> None:
    adj = nulls.adjacency_dense()
    real = dense(net)
    n_samples = nulls.n_samples
    assert nulls.src.shape == nulls.dst.shape == (n_samples, net.n_edges)
    assert adj.sum(axis=(1, 2)).tolist() == [net.n_edges] * n_samples  # no repeated edge
    assert not adj[:, np.arange(net.n_nodes), np.arange(net.n_nodes)].any()
    assert (adj.sum(axis=2) == real.sum(axis=1)).all()              # out-degrees
    assert (adj.sum(axis=1) == real.sum(axis=0)).all()              # in-degrees


def all_graphs(net: Network, allowed: np.ndarray) -> list[np.ndarray]:
    """Every digraph on allowed cells with the real in- and out-degrees."""
    real = dense(net)
    out_deg, in_deg = real.sum(axis=1), real.sum(axis=0)
    rows = [list(itertools.combinations(np.flatnonzero(allowed[u]), out_deg[u]))
            for u in range(net.n_nodes)]
    graphs = []
    for choice in itertools.product(*rows):
        adj = np.zeros_like(real)
        for u, cols in enumerate(choice):
            adj[u, list(cols)] = True
        if (adj.sum(axis=0) == in_deg).all():
            graphs.append(adj)
    return graphs


def reachable_by_switches(real: np.ndarray, preserve_mutual: bool) -> list[np.ndarray]:
    """Breadth-first search over Milo's switches (and dyad switches)."""
    seen = {real.tobytes(): real}
    queue = [real]
    n = real.shape[0]
    while queue:
        adj = queue.pop()
        mutual = adj & adj.T
        single = adj & ~mutual if preserve_mutual else adj
        edges = list(zip(*np.nonzero(single)))
        moves = []
        for (a, b), (c, d) in itertools.combinations(edges, 2):
            if len({a, b, c, d}) < 4 or adj[a, d] or adj[c, b]:
                continue
            if preserve_mutual and (adj[d, a] or adj[b, c]):
                continue
            moves.append(((a, b, 0), (c, d, 0), (a, d, 1), (c, b, 1)))
        if preserve_mutual:
            dyads = [(u, v) for u, v in zip(*np.nonzero(np.triu(mutual)))]
            for (u, v), (x, y) in itertools.combinations(dyads, 2):
                for a, b in ((u, v), (v, u)):
                    c, d = x, y
                    if len({a, b, c, d}) < 4 or adj[a, d] or adj[d, a] or adj[c, b] or adj[b, c]:
                        continue
                    moves.append(((a, b, 0), (b, a, 0), (c, d, 0), (d, c, 0),
                                  (a, d, 1), (d, a, 1), (c, b, 1), (b, c, 1)))
        for move in moves:
            new = adj.copy()
            for x, y, value in move:
                new[x, y] = bool(value)
            if new.tobytes() not in seen:
                seen[new.tobytes()] = new
                queue.append(new)
        assert n == adj.shape[0]
    return list(seen.values())


def chi2_uniform_pvalue(nulls: NullSamples, graphs: list[np.ndarray]) -> float:
    index = {g.tobytes(): k for k, g in enumerate(graphs)}
    hits = np.array([index[a.tobytes()] for a in nulls.adjacency_dense()])
    counts = np.bincount(hits, minlength=len(graphs))
    expected = nulls.n_samples / len(graphs)
    return float(chi2.sf(((counts - expected) ** 2 / expected).sum(), len(graphs) - 1))


# ------------------------------------------------------- invariants, every sample
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("preserve_mutual", [True, False])
def test_config_keeps_degrees_and_stays_simple_on_every_sample(engine, preserve_mutual):
    net = random_digraph(18, 0.2, seed=1, mutual=0.3)
    nulls = sample_nulls(net, "config", 24, seed=3, engine=engine,
                         preserve_mutual=preserve_mutual, switches_per_edge=20)
    assert_simple_and_degree_preserving(nulls, net)
    assert nulls.model == "config" and nulls.diagnostics["engine"] == engine


@pytest.mark.parametrize("engine", ENGINES)
def test_a_single_mutual_dyad_keeps_its_cells(engine):
    """One mutual dyad cannot switch (two are needed), so its two cells stay taken and
    no single edge may move onto them (the compiled chain once let them: repeated edges).
    The reachable graphs here: the real one and one other, both simple."""
    net = Network.from_edges([0, 0, 0, 0, 1, 2, 3], [1, 2, 3, 4, 2, 0, 4], n_nodes=5)
    nulls = sample_nulls(net, "config", 30, seed=5, engine=engine)
    cells = {tuple(zip(s, d)) for s, d in zip(nulls.src.tolist(), nulls.dst.tolist())}
    assert all(len(set(c)) == net.n_edges and {(0, 2), (2, 0)} <= set(c) for c in cells)
    assert len(cells) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_mutual_dyad_count_is_kept_only_when_asked(engine):
    net = random_digraph(18, 0.25, seed=2, mutual=0.4)
    real = int(mutual_dyads(dense(net)))
    assert real >= 5
    kept = sample_nulls(net, "config", 24, seed=1, engine=engine, switches_per_edge=20)
    assert (mutual_dyads(kept.adjacency_dense()) == real).all()
    free = sample_nulls(net, "config", 24, seed=1, engine=engine, preserve_mutual=False,
                        switches_per_edge=20)
    assert len(set(mutual_dyads(free.adjacency_dense()).tolist())) > 1


@pytest.mark.parametrize("engine", ENGINES)
def test_config_dag_samples_stay_acyclic_and_keep_the_levels(engine):
    net = random_digraph(20, 0.3, seed=4, layers=5, dag=True)
    nulls = sample_nulls(net, "config-dag", 24, seed=2, engine=engine)
    assert_simple_and_degree_preserving(nulls, net)
    layer = net.layer
    assert (layer[nulls.src] < layer[nulls.dst]).all()  # every edge rises a layer
    assert all(nulls.network(i).is_acyclic() for i in range(nulls.n_samples))
    assert mutual_dyads(nulls.adjacency_dense()).max() == 0


def test_config_dag_without_layers_keeps_longest_path_depth_order():
    net = Network.from_edges([0, 0, 1, 2, 3, 1, 4], [1, 2, 3, 3, 4, 4, 5], n_nodes=6)
    assert _levels(net).tolist() == [0, 1, 1, 2, 3, 4]
    nulls = sample_nulls(net, "config-dag", 8, seed=0)
    depth = np.array([0, 1, 1, 2, 3, 4])
    assert (depth[nulls.src] < depth[nulls.dst]).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_layer_config_keeps_degrees_and_layer_pair_counts(engine):
    net = random_digraph(24, 0.3, seed=5, layers=4, dag=True)
    nulls = sample_nulls(net, "layer-config", 24, seed=1, engine=engine)
    assert_simple_and_degree_preserving(nulls, net)
    pair_counts = lambda s, d: collections.Counter(zip(net.layer[s].tolist(),
                                                       net.layer[d].tolist()))
    real = pair_counts(net.src, net.dst)
    assert all(pair_counts(nulls.src[i], nulls.dst[i]) == real for i in range(24))
    assert (dense(net)[None] != nulls.adjacency_dense()).any(axis=(1, 2)).all()


def test_layer_config_on_layers_with_backward_edges_keeps_classes():
    net = random_digraph(20, 0.3, seed=6, layers=3, mutual=0.2)
    for engine in ENGINES:
        nulls = sample_nulls(net, "layer-config", 16, seed=2, engine=engine,
                             switches_per_edge=20)
        assert_simple_and_degree_preserving(nulls, net)
        real = collections.Counter(zip(net.layer[net.src], net.layer[net.dst]))
        for i in range(16):
            assert collections.Counter(zip(net.layer[nulls.src[i]],
                                           net.layer[nulls.dst[i]])) == real


def test_layer_er_keeps_layer_pair_counts_and_spreads_endpoints():
    net = random_digraph(24, 0.3, seed=7, layers=4, dag=True)
    nulls = sample_nulls(net, "layer-er", 32, seed=1)
    adj = nulls.adjacency_dense()
    assert adj.sum(axis=(1, 2)).tolist() == [net.n_edges] * 32
    real = collections.Counter(zip(net.layer[net.src].tolist(), net.layer[net.dst].tolist()))
    for i in range(32):
        assert collections.Counter(zip(net.layer[nulls.src[i]].tolist(),
                                       net.layer[nulls.dst[i]].tolist())) == real
    # Degrees are not kept: some sample differs from the real out-degrees.
    assert (adj.sum(axis=2) != dense(net).sum(axis=1)).any()


def test_er_has_the_real_node_and_edge_counts_without_loops_or_repeats():
    net = random_digraph(15, 0.2, seed=8)
    nulls = sample_nulls(net, "er", 32, seed=1)
    adj = nulls.adjacency_dense()
    assert adj.sum(axis=(1, 2)).tolist() == [net.n_edges] * 32
    assert not adj[:, np.arange(15), np.arange(15)].any()
    # Edge frequency per cell is flat: every off-diagonal cell is hit.
    assert adj.any(axis=0).sum() > 0.9 * 15 * 14


def test_sign_null_keeps_topology_and_permutes_sign_with_weight():
    net = random_digraph(15, 0.3, seed=9)
    nulls = sample_nulls(net, "sign", 16, seed=1)
    assert (nulls.src == net.src).all() and (nulls.dst == net.dst).all()
    for i in range(16):
        assert sorted(nulls.sign[i].tolist()) == sorted(net.sign.tolist())
        assert sorted(nulls.weight[i].tolist()) == sorted(net.weight.tolist())
    assert (np.sign(nulls.weight) == nulls.sign).all()
    assert (nulls.sign != net.sign[None]).any(axis=1).all()


# ------------------------------------------------------ attributes travel with edges
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", ["config", "config-dag", "layer-config"])
def test_edge_attributes_travel_with_their_edge(engine, model):
    """A switch a->b, c->d -> a->d, c->b keeps each source's edges, so every
    source keeps the multiset of its out-edge weights, and signs match weights."""
    net = random_digraph(20, 0.3, seed=10, layers=4, dag=model != "config", mutual=0.2)
    nulls = sample_nulls(net, model, 16, seed=4, engine=engine, switches_per_edge=20)
    assert_simple_and_degree_preserving(nulls, net)
    for i in range(16):
        for u in range(net.n_nodes):
            assert sorted(nulls.weight[i][nulls.src[i] == u].tolist()) == \
                sorted(net.weight[net.src == u].tolist())
    assert (np.sign(nulls.weight) == nulls.sign).all()
    if model == "layer-config":
        real = collections.Counter(zip(net.layer[net.src], net.layer[net.dst], net.sign))
        for i in range(16):
            assert collections.Counter(zip(net.layer[nulls.src[i]], net.layer[nulls.dst[i]],
                                           nulls.sign[i])) == real


@pytest.mark.parametrize("engine", ENGINES)
def test_an_edge_no_switch_can_move_keeps_its_own_weight(engine):
    """0->1 is the only edge from layer 0 to layer 1, so layer-config never
    moves it: it must keep weight 5, not a weight of 0's other out-edges."""
    net = Network.from_edges([0, 0, 0, 4, 4, 5, 5], [1, 2, 3, 2, 3, 2, 6], n_nodes=7,
                             weight=[5.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0],
                             layer=[0, 1, 2, 2, 0, 0, 2])
    nulls = sample_nulls(net, "layer-config", 64, seed=1, engine=engine)
    lone = (nulls.src == 0) & (nulls.dst == 1)
    assert lone.sum(axis=1).tolist() == [1] * 64
    assert (nulls.weight[lone] == 5.0).all()
    # The movable edges of node 0 did move, carrying their own weights.
    moved = (nulls.src == 0) & (nulls.dst == 6)
    assert moved.any() and set(nulls.weight[moved].tolist()) <= {1.0, 2.0}


def test_sign_only_network_carries_signs_through_the_dense_engine():
    net = random_digraph(20, 0.35, seed=11, layers=4, dag=True)
    signed = Network.from_edges(net.src, net.dst, n_nodes=net.n_nodes, sign=net.sign,
                                layer=net.layer)
    nulls = sample_nulls(signed, "layer-config", 32, seed=2, engine="dense")
    assert nulls.weight is None
    for i in range(32):
        for u in range(net.n_nodes):
            assert sorted(nulls.sign[i][nulls.src[i] == u].tolist()) == \
                sorted(signed.sign[signed.src == u].tolist())


# --------------------------------------------- stationary distribution and mixing
@pytest.mark.parametrize("engine", ENGINES)
def test_config_samples_all_86_graphs_with_the_degrees_uniformly(engine):
    """Brute force: the 5-node degree sequence below has 86 simple digraphs;
    640 samples hit each about 7.4 times (chi-square on 85 dof)."""
    net = Network.from_edges([0, 0, 1, 2, 3, 3, 4, 1], [1, 2, 3, 4, 0, 2, 1, 4], n_nodes=5)
    graphs = all_graphs(net, ~np.eye(5, dtype=bool))
    assert len(graphs) == 86
    nulls = sample_nulls(net, "config", 640, seed=5, engine=engine, preserve_mutual=False)
    assert chi2_uniform_pvalue(nulls, graphs) > 1e-3


@pytest.mark.parametrize("engine", ENGINES)
def test_config_dag_samples_all_order_keeping_graphs_uniformly(engine):
    net = Network.from_edges([0, 0, 1, 1, 2, 3, 4], [1, 3, 2, 5, 3, 5, 5], n_nodes=6)
    level = _levels(net)
    graphs = all_graphs(net, level[:, None] < level[None, :])
    assert len(graphs) == 14
    nulls = sample_nulls(net, "config-dag", 640, seed=6, engine=engine)
    assert chi2_uniform_pvalue(nulls, graphs) > 1e-3


@pytest.mark.parametrize("engine", ENGINES)
def test_mutual_preserving_config_is_uniform_on_the_graphs_its_switches_reach(engine):
    net = random_digraph(6, 0.45, seed=31, mutual=0.5)
    real = dense(net)
    reachable = reachable_by_switches(real, preserve_mutual=True)
    assert len(reachable) >= 6 and mutual_dyads(real) >= 1
    nulls = sample_nulls(net, "config", 640, seed=7, engine=engine)
    assert chi2_uniform_pvalue(nulls, reachable) > 1e-3


@pytest.mark.parametrize("engine", ENGINES)
def test_default_switching_mixes_a_random_sparse_graph(engine):
    """Mixing bound: after the default 75 attempted switches per edge (a chain's
    first sample) and 10 more per later sample of the chain, under half of the real
    edges are still in place in every sample (a uniform random graph with these
    degrees keeps about a tenth)."""
    net = random_digraph(40, 0.08, seed=12)
    nulls = sample_nulls(net, "config", 16, seed=1, engine=engine, preserve_mutual=False)
    overlap = (nulls.adjacency_dense() & dense(net)[None]).sum(axis=(1, 2)) / net.n_edges
    assert overlap.max() < 0.5
    # the dense engine runs independent chains; the serial ones one chain of 16 samples
    expected = 75 if engine == "dense" else (75 + 15 * 10) / 16
    assert nulls.diagnostics["switches_per_edge"] == pytest.approx(expected, rel=0.05)


MIXING_CASES = json.loads(MIXING_FILE.read_text())["cases"]


def mixing_disagreement(case: dict, switches_per_edge: float | None = None,
                        **options) -> float:
    """Largest |z| between the null means of 030T / 030C at a chain length (default:
    the null's default, thinned chains included) and the stored 100-per-edge means
    of independent chains on one real graph.

    300 samples on small graphs, 100 on large ones: a null mean off by 0.26 / 0.42
    null SDs gives |z| 4. Successive samples of a thinned chain are correlated, so
    the variance of their mean is widened by the AR(1) factor (1 + rho) / (1 - rho)
    of their lag-1 autocorrelation rho (0 for independent samples).
    """
    from tests.data.make_motif_references import edges_sha256

    net = real_network(case["graph"])
    if edges_sha256(net) != case["edges_sha256"]:
        pytest.fail(f"{case['graph']} is not the network its mixing reference counted: rerun "
                    "PYTHONPATH=$PWD python tests/data/make_mixing_references.py")
    n_samples = 300 if net.n_edges < 5000 else 100
    moments = null_moments(net, case["null"], n_samples, seed=11,
                           switches_per_edge=switches_per_edge, **options)
    worst = 0.0
    for code, (mean, sd, rho) in moments.items():
        ref = case["moments"][code]
        rho = min(max(rho, 0.0), 0.9)
        spread = np.sqrt(sd ** 2 / n_samples * (1 + rho) / (1 - rho)
                         + ref["sd"] ** 2 / case["n_samples"])
        if spread == 0:
            assert mean == ref["mean"]
            continue
        worst = max(worst, abs(mean - ref["mean"]) / spread)
    return worst


@pytest.mark.parametrize("case", MIXING_CASES, ids=lambda c: f"{c['graph'][-24:]}-{c['null']}")
def test_default_chain_length_reaches_the_long_chain_null_means(case):
    """The default switches_per_edge of each switching null mixes: its null means of the
    feed-forward loop and 3-cycle counts agree with 100 attempts per edge (stored by
    tests/data/make_mixing_references.py) on the graphs that mixed slowest in
    benchmarks/bench_mixing.py's study."""
    assert mixing_disagreement(case) < 4.0


def test_the_mixing_check_fails_a_default_too_short_to_mix():
    """The check above has power: with independent chains (each sample's burn-in
    alone) at 20 attempts per edge (the study: 0.9 null SDs off on this graph)
    config's null means on the slowest graph are off; so are Dallas's under config
    at 10 and causal-config at 5 (a burn-in below those fails); and a thinned chain
    whose gap is too short to move (0.2 attempts per edge after a 2-per-edge burn-in)
    stays off too."""
    def case(graph: str, null: str) -> dict:
        return next(c for c in MIXING_CASES if graph in c["graph"] and c["null"] == null)

    alone = {"samples_per_chain": 1}
    assert mixing_disagreement(case("g-france", "config"), 20.0, **alone) > 4.0
    assert mixing_disagreement(case("dallas", "config"), 10.0, **alone) > 4.0
    assert mixing_disagreement(case("dallas", "causal-config"), 5.0, **alone) > 4.0
    assert mixing_disagreement(case("dallas", "config"), 2.0, gap_switches_per_edge=0.2) > 4.0


def test_config_null_agrees_with_igraph_rewire_on_mean_ffl_and_mutual_counts():
    """Both are Milo's switch chain without mutual preservation: the mean
    number of feed-forward loops (030T) and mutual dyads must agree."""
    net = random_digraph(14, 0.25, seed=13, mutual=0.3)
    ours = triad_census_many(sample_nulls(net, "config", 256, seed=1,
                                          preserve_mutual=False).adjacency_dense())
    graph = igraph.Graph(n=14, edges=list(zip(net.src.tolist(), net.dst.tolist())),
                         directed=True)
    theirs = []
    for _ in range(160):
        g = graph.copy()
        g.rewire(n=100 * net.n_edges)
        theirs.append(list(g.triad_census()))
    theirs = np.array(theirs)
    for column in (8, 2):  # 030T, 102 (one mutual dyad)
        a, b = ours[:, column], theirs[:, column]
        se = np.sqrt(a.var() / a.size + b.var() / b.size)
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-9


# -------------------------------------------------------------- triad-preserving
@pytest.mark.parametrize("dag", [False, True])
def test_triad_preserving_null_matches_the_real_triad_census_on_every_sample(dag):
    net = random_digraph(14, 0.25, seed=14, mutual=0.3, dag=dag)
    real = triad_census_many(dense(net)[None])[0]
    nulls = sample_nulls(net, "triad-preserving", 12, seed=2)
    assert_simple_and_degree_preserving(nulls, net)
    assert (triad_census_many(nulls.adjacency_dense()) == real).all()
    assert nulls.diagnostics["n_exact"] == 12
    assert (dense(net)[None] != nulls.adjacency_dense()).any(axis=(1, 2)).all()


def test_triad_preserving_reports_the_residual_when_the_budget_is_too_small():
    net = random_digraph(14, 0.3, seed=15)
    nulls = sample_nulls(net, "triad-preserving", 8, seed=1, anneal_switches_per_edge=0)
    real = triad_census_many(dense(net)[None])[0]
    distance = np.abs(triad_census_many(nulls.adjacency_dense()) - real).sum(axis=1)
    assert (nulls.diagnostics["census_distance"] == distance).all()
    assert distance.max() > 0


# ----------------------------------------------------------- seeds and the API
@pytest.mark.parametrize("model", sorted(NULL_MODELS))
def test_same_seed_gives_identical_samples_and_another_seed_differs(model):
    net = random_digraph(14, 0.3, seed=16, layers=3, dag=True, positions=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = sample_nulls(net, model, 6, seed=11)
        two = sample_nulls(net, model, 6, seed=11)
        other = sample_nulls(net, model, 6, seed=12)
    for field in ("src", "dst", "sign", "weight"):
        assert np.array_equal(getattr(one, field), getattr(two, field))
    assert not (np.array_equal(one.dst, other.dst) and np.array_equal(one.sign, other.sign))


def test_default_null_is_causal_config_with_positions_config_dag_for_other_dags():
    assert default_null(random_digraph(10, 0.3, seed=17, dag=True)) == "config-dag"
    causal = random_digraph(10, 0.3, seed=17, layers=3, dag=True, positions=3)
    assert default_null(causal) == "causal-config"
    # an edge back in position: positions are there but the graph is not causal
    backwards = Network.from_edges([0], [1], layer=[0, 1], pos=[1, 0])
    assert default_null(backwards) == "config-dag"
    assert default_null(Network.from_edges([0, 1, 2], [1, 2, 0])) == "config"


def test_network_and_dense_views_match_the_edge_arrays():
    net = random_digraph(12, 0.3, seed=18, layers=3, dag=True)
    nulls = sample_nulls(net, "config-dag", 4, seed=1)
    one = nulls.network(2)
    assert np.array_equal(one.src, nulls.src[2]) and np.array_equal(one.dst, nulls.dst[2])
    assert np.array_equal(one.weight, nulls.weight[2]) and np.array_equal(one.layer, net.layer)
    assert np.array_equal(nulls.adjacency_dense()[2], dense(one))
    signed = nulls.signed_adjacency_dense()[2]
    assert signed[one.src, one.dst].tolist() == one.sign.tolist()
    with pytest.raises(MotifError, match="out of range"):
        nulls.network(4)


@pytest.mark.parametrize("call, message", [
    (lambda net: sample_nulls(net, "nope", 4, seed=0), "unknown null model"),
    (lambda net: sample_nulls(net, "config", 0, seed=0), "n_samples"),
    (lambda net: sample_nulls(net, "config", 4, seed=-1), "seed"),
    (lambda net: sample_nulls(net, "config", 4, seed=0, swaps=3), "takes no option"),
    (lambda net: sample_nulls(net, "config", 4, seed=0, switches_per_edge=-1), "non-negative"),
    (lambda net: sample_nulls(net, "config", 4, seed=0, engine="gpu"), "engine"),
    (lambda net: sample_nulls(net, "er", 4, seed=0, preserve_mutual=True), "takes no option"),
    (lambda net: sample_nulls(net, "config-dag", 4, seed=0), "acyclic"),
    (lambda net: sample_nulls(net, "layer-er", 4, seed=0), "needs node layers"),
    (lambda net: sample_nulls(Network.from_edges(net.src, net.dst), "sign", 4, seed=0),
     "needs edge signs"),
    (lambda net: sample_nulls("graph", "config", 4, seed=0), "motifs.Network"),
])
def test_bad_arguments_raise_motif_error_naming_the_problem(call, message):
    cyclic = Network.from_edges([0, 1, 2, 2], [1, 2, 0, 3], weight=[1.0, -1.0, 1.0, 2.0],
                                sign=[1, -1, 1, 1])
    with pytest.raises(MotifError, match=message):
        call(cyclic)


# ------------------------------------------------------------------ causal-config
SERIAL_ENGINES = ("sequential", "compiled")


def edge_classes(net: Network, src: np.ndarray, dst: np.ndarray) -> collections.Counter:
    """Edges per (source layer, target layer, crosses positions) class."""
    return collections.Counter(zip(net.layer[src].tolist(), net.layer[dst].tolist(),
                                   (net.pos[src] != net.pos[dst]).tolist()))


def node_class_degrees(net: Network, src: np.ndarray, dst: np.ndarray) -> collections.Counter:
    """Out- and in-degree of every node within every class."""
    cls = list(zip(net.layer[src].tolist(), net.layer[dst].tolist(),
                   (net.pos[src] != net.pos[dst]).tolist()))
    return collections.Counter([("out", int(u), c) for u, c in zip(src, cls)]
                               + [("in", int(v), c) for v, c in zip(dst, cls)])


def causal_cells(net: Network) -> np.ndarray:
    """(n, n) class id of every causal cell (-1 where no causal edge may go)."""
    layer, pos = net.layer.astype(int), net.pos.astype(int)
    causal = (layer[:, None] < layer[None, :]) & (pos[:, None] <= pos[None, :])
    cls = (layer[:, None] * 100 + layer[None, :]) * 2 + (pos[:, None] != pos[None, :])
    return np.where(causal, cls, -1)


def all_causal_graphs(net: Network) -> list[np.ndarray]:
    """Brute force: every graph on causal cells with each node's per-class in/out degrees."""
    cls, n, real = causal_cells(net), net.n_nodes, dense(net)
    keys = np.unique(cls[cls >= 0])
    rows = []
    for u in range(n):
        per_class = [itertools.combinations(np.flatnonzero(cls[u] == k),
                                            int((real[u] & (cls[u] == k)).sum())) for k in keys]
        rows.append([sum(map(list, c), []) for c in itertools.product(*per_class)])
    in_degree = {k: (real & (cls == k)).sum(axis=0) for k in keys}
    graphs = []
    for choice in itertools.product(*rows):
        adj = np.zeros((n, n), dtype=bool)
        for u, cols in enumerate(choice):
            adj[u, cols] = True
        if all(((adj & (cls == k)).sum(axis=0) == in_degree[k]).all() for k in keys):
            graphs.append(adj)
    return graphs


@pytest.mark.parametrize("engine", SERIAL_ENGINES)
def test_causal_config_keeps_degrees_classes_acyclicity_and_positions_on_every_sample(engine):
    net = random_digraph(40, 0.3, seed=21, layers=5, dag=True, positions=6)
    same_position = net.pos[net.src] == net.pos[net.dst]
    assert same_position.any() and not same_position.all()
    nulls = sample_nulls(net, "causal-config", 32, seed=3, engine=engine)
    assert_simple_and_degree_preserving(nulls, net)
    assert (net.layer[nulls.src] < net.layer[nulls.dst]).all()      # every edge rises a layer
    assert (net.pos[nulls.src] <= net.pos[nulls.dst]).all()         # 0 edges back in position
    real_classes, real_degrees = edge_classes(net, net.src, net.dst), \
        node_class_degrees(net, net.src, net.dst)
    for i in range(nulls.n_samples):
        assert edge_classes(net, nulls.src[i], nulls.dst[i]) == real_classes
        assert node_class_degrees(net, nulls.src[i], nulls.dst[i]) == real_degrees
        assert nulls.network(i).is_acyclic()
    # the samples moved: every one differs from the real graph
    assert (dense(net)[None] != nulls.adjacency_dense()).any(axis=(1, 2)).all()
    # signs and weights travel with their edges: each source keeps its out-edge weights
    for i in range(4):
        for u in range(net.n_nodes):
            assert sorted(nulls.weight[i][nulls.src[i] == u].tolist()) == \
                sorted(net.weight[net.src == u].tolist())
    assert (np.sign(nulls.weight) == nulls.sign).all()


@pytest.mark.parametrize("engine", SERIAL_ENGINES)
def test_causal_config_samples_all_48_graphs_of_a_small_causal_graph_uniformly(engine):
    """Brute force: 48 graphs keep this 10-node graph's causal cells and each
    node's per-class degrees; 960 samples hit each about 20 times."""
    rng = np.random.default_rng(29)
    layer, pos = rng.integers(0, 2, size=10), rng.integers(0, 2, size=10)
    causal = (layer[:, None] < layer[None, :]) & (pos[:, None] <= pos[None, :])
    src, dst = np.nonzero(causal & (rng.random((10, 10)) < 0.4))
    net = Network.from_edges(src, dst, n_nodes=10, layer=layer, pos=pos)
    graphs = all_causal_graphs(net)
    assert len(graphs) == 48
    nulls = sample_nulls(net, "causal-config", 960, seed=8, engine=engine)
    assert chi2_uniform_pvalue(nulls, graphs) > 1e-3


def test_compiled_and_numpy_engines_give_identical_samples_for_one_seed():
    """Issue 19: samples depend on (graph, null, seed, options), not on whether
    the C extension was built: both serial engines run the same streams."""
    # each branch of the compiled chain: dyads, one class with and without the mutual
    # check, several classes on one plane and on two; one mutual dyad (too few to switch:
    # its cells stay taken)
    one_dyad = Network.from_edges([0, 0, 0, 0, 1, 2, 3], [1, 2, 3, 4, 2, 0, 4], n_nodes=5)
    cases = [("config", random_digraph(20, 0.3, seed=4, mutual=0.3)),
             ("config", one_dyad),
             ("config", random_digraph(20, 0.3, seed=4, layers=4, dag=True)),
             ("config-dag", random_digraph(20, 0.3, seed=4, layers=4, dag=True)),
             ("layer-config", random_digraph(20, 0.3, seed=4, layers=4, dag=True)),
             ("layer-config", random_digraph(20, 0.3, seed=4, layers=3, mutual=0.2)),
             ("causal-config", random_digraph(30, 0.3, seed=4, layers=4, dag=True, positions=5)),
             ("triad-preserving", random_digraph(12, 0.3, seed=4, mutual=0.3))]
    # thinned chains: one partial chain of 12 (the default 64 per chain), and chains of
    # 5, 5 and 2 (the numpy engine's last lane runs a throw-away stream for 2 rounds)
    for (model, net), per_chain in itertools.product(cases, (None, 5)):
        chains = {} if per_chain is None or model == "triad-preserving" else \
            {"samples_per_chain": per_chain}
        compiled = sample_nulls(net, model, 12, seed=3, engine="compiled", switches_per_edge=20,
                                **chains)
        numpy_ = sample_nulls(net, model, 12, seed=3, engine="sequential", switches_per_edge=20,
                              **chains)
        assert np.array_equal(compiled.dst, numpy_.dst) and np.array_equal(compiled.src, numpy_.src)
        assert np.array_equal(compiled.weight, numpy_.weight)
        assert compiled.diagnostics["acceptance"] == numpy_.diagnostics["acceptance"]
        assert compiled.diagnostics["switches_per_edge"] == numpy_.diagnostics["switches_per_edge"]


@pytest.mark.parametrize("engine", SERIAL_ENGINES)
def test_thinned_chains_start_like_independent_samples_and_keep_their_prefix(engine):
    """Sample k * L of chains of L samples is the independent sample k * L of the same
    seed (same stream, same burn-in from the real graph); the later samples of a
    chain continue from the one before it, so they differ; and asking for fewer
    samples gives a prefix of the same samples."""
    net = random_digraph(30, 0.2, seed=9, mutual=0.2)
    alone = sample_nulls(net, "config", 20, seed=4, engine=engine, samples_per_chain=1)
    chained = sample_nulls(net, "config", 20, seed=4, engine=engine, samples_per_chain=8)
    starts = [0, 8, 16]
    assert np.array_equal(alone.dst[starts], chained.dst[starts])
    later = [k for k in range(20) if k not in starts]
    assert not any(np.array_equal(alone.dst[k], chained.dst[k]) for k in later)
    # attempts: three chain starts at 75 per edge, 17 later samples at the 10-per-edge gap
    assert chained.diagnostics["switches_per_edge"] == pytest.approx((3 * 75 + 17 * 10) / 20,
                                                                     rel=0.02)
    fewer = sample_nulls(net, "config", 11, seed=4, engine=engine, samples_per_chain=8)
    assert np.array_equal(fewer.dst, chained.dst[:11])


def test_successive_samples_of_a_default_chain_are_nearly_uncorrelated():
    """The default gaps (benchmarks/bench_mixing.py --gaps): the lag-1 autocorrelation
    of the FFL, chain and 3-cycle counts of successive samples stays small on Dallas
    under each switching null (512 samples, 8 chains: standard error about 0.045),
    while a gap of 0.2 attempts per edge leaves successive samples strongly alike."""
    from motifs.catalog import TRIAD_CODES
    from motifs.stats import lag_one_autocorrelation

    net = real_network("mkenney2__circuit-motifs__capital-state-dallas.json").topology()
    columns = [TRIAD_CODES.index(code) for code in ("030T", "021C", "030C")]

    def rho(model: str, **options) -> np.ndarray:
        nulls = sample_nulls(net, model, 512, seed=6, **options)
        counts = triad_census_edges(nulls.src, nulls.dst, net.n_nodes)[:, columns]
        return lag_one_autocorrelation(counts.astype(float), 64)

    for model in ("config", "config-dag", "layer-config", "causal-config"):
        assert rho(model).max() < 0.25, model
    assert rho("config", gap_switches_per_edge=0.2)[:2].min() > 0.5


def test_corpus_blocks_hold_whole_default_chains():
    """A chain never spans two sample_nulls calls of a corpus run: every block holds a
    multiple of the default chain, so block b's samples do not depend on the layout."""
    from motifs.analysis import MIN_BLOCK_SAMPLES, null_blocks
    from motifs.nulls import SAMPLES_PER_CHAIN

    assert MIN_BLOCK_SAMPLES % SAMPLES_PER_CHAIN == 0
    sizes = null_blocks(22005, 1000)  # the largest shared graph: several blocks
    assert len(sizes) > 1 and all(size % SAMPLES_PER_CHAIN == 0 for size in sizes[:-1])
    for model in ("config", "config-dag", "layer-config", "causal-config"):
        assert default_options(model)["samples_per_chain"] == SAMPLES_PER_CHAIN


def test_chain_options_are_checked():
    net = random_digraph(12, 0.3, seed=1)
    for value in (0, 2.5, True):
        with pytest.raises(MotifError, match="samples_per_chain must be a positive integer"):
            sample_nulls(net, "config", 4, seed=0, samples_per_chain=value)
    with pytest.raises(MotifError, match="gap_switches_per_edge must be a non-negative"):
        sample_nulls(net, "config", 4, seed=0, gap_switches_per_edge=-1.0)


def test_auto_engine_choice_does_not_depend_on_the_compiled_kernel(monkeypatch):
    import motifs.nulls as nulls_module

    net = random_digraph(30, 0.3, seed=5, layers=4, dag=True, positions=5)
    for model in ("config-dag", "causal-config"):
        built = sample_nulls(net, model, 8, seed=2)
        monkeypatch.setattr(nulls_module, "_kernel", None)
        bare = sample_nulls(net, model, 8, seed=2)
        monkeypatch.undo()
        assert np.array_equal(built.dst, bare.dst)


@pytest.mark.parametrize("net, message", [
    (Network.from_edges([0, 1], [1, 2], layer=[0, 1, 2]), "needs token positions"),
    (Network.from_edges([0, 1], [1, 2], pos=[0, 0, 1]), "needs node layers"),
    (Network.from_edges([0, 1], [1, 2], layer=[0, 1, 2], pos=[0, 2, 1]), "never back in position"),
    (Network.from_edges([0, 1], [1, 2], layer=[0, 1, 1], pos=[0, 0, 1]), "to a higher one"),
])
def test_causal_config_refuses_networks_without_positions_or_not_causal(net, message):
    with pytest.raises(MotifError, match=message):
        sample_nulls(net, "causal-config", 4, seed=0)


def test_causal_config_refuses_the_dense_engine():
    net = random_digraph(20, 0.3, seed=6, layers=4, dag=True, positions=4)
    with pytest.raises(MotifError, match="dense"):
        sample_nulls(net, "causal-config", 4, seed=0, engine="dense")


def test_causal_config_keeps_every_real_graphs_classes_and_positions():
    """On every shared real graph, 0 edges back in position and the real
    per-class edge counts in every sample. 16 samples per graph here;
    ``benchmarks/bench_causal_null.py --check`` runs 1,000 per graph."""
    from tests.motifs.conftest import REAL_GRAPHS, real_network

    assert len(REAL_GRAPHS) == 17, "the 17 shared real graphs are missing"
    for name in REAL_GRAPHS:
        net = real_network(name).topology()
        nulls = sample_nulls(net, "causal-config", 16, seed=0)
        assert (net.pos[nulls.src] <= net.pos[nulls.dst]).all(), name
        assert (net.layer[nulls.src] < net.layer[nulls.dst]).all(), name
        real = edge_classes(net, net.src, net.dst)
        assert all(edge_classes(net, nulls.src[i], nulls.dst[i]) == real
                   for i in range(nulls.n_samples)), name


# ---------------------------------------------- triad-preserving: exclusion, settling
def test_triad_preserving_profile_excludes_samples_off_the_census_and_counts_them():
    """Issue 18: a sample that never reached the real triad census is left out
    of the Z-scores and counted in n_excluded, so every sample used has the
    real census: the null mean of every 3-node class equals the real count."""
    from motifs.analysis import motif_profile

    net = random_digraph(14, 0.3, seed=15, mutual=0.3)
    profile = motif_profile(net, null="triad-preserving", n_null=16, seed=1,
                            anneal_switches_per_edge=20)
    excluded = int(profile["n_excluded"].iloc[0])
    distance = profile.attrs["null_diagnostics"][0]["census_distance"]
    assert 0 < excluded < 15 and excluded == int((distance > 0).sum())
    assert int(profile["n_null"].iloc[0]) == 16 - excluded
    np.testing.assert_array_equal(profile["null_mean"].to_numpy(), profile["count"].to_numpy())
    assert (profile["null_sd"] == 0).all()
    with pytest.raises(MotifError, match="reached the real triad census"):
        motif_profile(net, null="triad-preserving", n_null=8, seed=1, anneal_switches_per_edge=0)


def test_triad_preserving_settles_with_census_keeping_switches_after_the_first_match():
    net = random_digraph(16, 0.25, seed=14, mutual=0.3)
    real = triad_census_many(dense(net)[None])[0]
    first_hit = sample_nulls(net, "triad-preserving", 12, seed=2, settle_switches_per_edge=0)
    settled = sample_nulls(net, "triad-preserving", 12, seed=2)
    for nulls in (first_hit, settled):
        assert (triad_census_many(nulls.adjacency_dense()) == real).all()
    assert first_hit.diagnostics["settle_acceptance"] == 0
    assert settled.diagnostics["settle_acceptance"] > 0
    # the settled samples moved on from their first match
    assert (first_hit.adjacency_dense() != settled.adjacency_dense()).any(axis=(1, 2)).mean() > 0.5


def test_default_options_are_a_copy_and_unknown_nulls_are_named():
    options = default_options("config")
    options["switches_per_edge"] = 1.0
    assert default_options("config")["switches_per_edge"] == 75.0
    with pytest.raises(MotifError, match="unknown null model 'nope'"):
        default_options("nope")
