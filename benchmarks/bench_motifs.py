"""Motif engine speed on the Dallas graph, beside an igraph loop run in the same process.

The graph: ``mkenney2__circuit-motifs__capital-state-dallas.json`` with error
nodes dropped (83 nodes, 1,719 edges), read with ``corpus.neuronpedia`` and
built with ``Network.from_graph``. Each line prints CPU seconds
(``time.process_time``, the figure to compare on a shared machine) and wall
seconds for our batched code and for an anchor that samples the same null,
and the CPU ratio anchor / ours. Like is compared with like:

- our ``config`` (degree-preserving switching, cycles allowed) against a loop
  of igraph calls (``g.copy(); g.rewire(n=L*m)`` then ``triad_census()``
  or ``motifs_randesu(size=4)``): the same null, igraph's C switching, with
  ``L`` our default attempted switches per edge (:data:`SWITCHES`), each sample
  its own chain from the real graph on both sides (``samples_per_chain=1``;
  row (1t) adds our default, thinned chains: ``motifs.nulls``, "Thinning");
- our ``config-dag`` (switching that keeps the graph acyclic) against the
  same acyclic chain written plainly in Python (one attempted switch at a
  time, an edge set, the level test), with igraph's ``triad_census``: igraph
  has no acyclicity-preserving rewire, so it is no anchor for this null.

1. triad-census Z-scores with 1,000 nulls: ``config`` vs the igraph loop, and
   ``config-dag`` (the default null of a DAG without positions) vs the Python
   chain, for the network as ``from_graph`` builds it (weights carried through
   every switch) and for its topology alone;
2. the same with 1,000 ``layer-config`` nulls (target: under 2 s CPU);
3. the size-4 census with 1,000 ``config`` nulls vs the igraph loop (timed on
   fewer samples and scaled, as printed);
4. signed feed-forward-loop census with 1,000 sign-carrying ``layer-config``
   nulls (target: under 2 s CPU);
5. all feed-forward-loop instances with their weights (target: under 0.1 s);
6. peak resident memory of the process (target: under 1 GiB).

Also prints the mixing curve: mean fraction of real edges still present after
k attempted switches per edge (``config-dag``, dense engine).

Usage: python benchmarks/bench_motifs.py [--quick] [--samples N] [--igraph-samples K]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

# One BLAS thread: the machine is shared, and CPU time is the figure compared.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DALLAS = REPO.parent / "shared" / "data" / "neuronpedia" / \
    "mkenney2__circuit-motifs__capital-state-dallas.json"
from motifs.nulls import default_options  # noqa: E402

#: Attempted switches per edge of our config / config-dag default, which the anchors run too.
SWITCHES = default_options("config")["switches_per_edge"]
assert SWITCHES == default_options("config-dag")["switches_per_edge"]
#: The anchors run one independent chain per sample; so do our rows compared with them
#: (the default lays samples on thinned chains: rows "(1t)" and "(3b)").
INDEPENDENT = {"samples_per_chain": 1}


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds, wall seconds, result) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def load_network():
    from corpus.neuronpedia import read_json
    from motifs.network import Network

    return Network.from_graph(read_json(DALLAS))


def igraph_loop(net, n_samples: int, size: int) -> np.ndarray:
    """The ``config`` anchor: one igraph round trip per null sample."""
    import igraph

    graph = igraph.Graph(n=net.n_nodes, edges=list(zip(net.src.tolist(), net.dst.tolist())),
                         directed=True)
    rows = []
    for _ in range(n_samples):
        g = graph.copy()
        g.rewire(n=int(SWITCHES * net.n_edges))
        rows.append(g.triad_census() if size == 3 else g.motifs_randesu(size=4))
    return np.array(rows, dtype=float)


def python_acyclic_loop(net, n_samples: int, seed: int = 0) -> np.ndarray:
    """The ``config-dag`` anchor: the same acyclic switching chain, one Python-level
    attempt at a time (:data:`SWITCHES` per edge), then igraph's triad census of each sample.

    A switch (a->b, c->d) -> (a->d, c->b) is accepted when both new edges go up
    the fixed level order config-dag keeps (layers here) and neither exists.
    """
    import igraph

    from motifs.nulls import _levels

    level = _levels(net).tolist()
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_samples):
        src, dst = net.src.tolist(), net.dst.tolist()
        edges = set(zip(src, dst))
        m = len(src)
        picks = rng.integers(0, m, size=(int(SWITCHES * m), 2)).tolist()
        for i, j in picks:
            a, b, c, d = src[i], dst[i], src[j], dst[j]
            if (a == c or b == d or level[a] >= level[d] or level[c] >= level[b]
                    or (a, d) in edges or (c, b) in edges):
                continue
            edges -= {(a, b), (c, d)}
            edges |= {(a, d), (c, b)}
            dst[i], dst[j] = d, b
        rows.append(igraph.Graph(n=net.n_nodes, edges=list(edges), directed=True).triad_census())
    return np.array(rows, dtype=float)


def row(label: str, ours: tuple[float, float], anchor: tuple[float, float] | None,
        target: str = "", note: str = "", min_ratio: float | None = None) -> None:
    text = f"{label:<46} ours cpu {ours[0]:7.2f} s wall {ours[1]:7.2f} s"
    if anchor is not None:
        ratio = anchor[0] / max(ours[0], 1e-9)
        text += (f" | anchor cpu {anchor[0]:7.2f} s wall {anchor[1]:7.2f} s"
                 f" | ratio {ratio:6.1f}x")
        if min_ratio is not None:
            target = f"target >= {min_ratio:g}x: {'met' if ratio >= min_ratio else 'MISSED'}"
    if target:
        text += f" | {target}"
    print(text + (f" ({note})" if note else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 nulls, short igraph loops")
    parser.add_argument("--samples", type=int, default=None, help="null samples (default 1000)")
    parser.add_argument("--igraph-samples", type=int, default=None,
                        help="samples timed for the igraph triad loop (default: all of them)")
    parser.add_argument("--python-samples", type=int, default=None,
                        help="samples timed for the Python acyclic chain (default 10, quick 3)")
    args = parser.parse_args()
    n_null = args.samples or (100 if args.quick else 1000)
    n_igraph3 = args.igraph_samples or (20 if args.quick else n_null)
    n_igraph4 = 5 if args.quick else 40
    n_python = args.python_samples or (3 if args.quick else 10)

    from motifs.census import motif4_census_many, signed_ffl_census_many, triad_census
    from motifs.census import triad_census_edges
    from motifs.instances import motif_instances
    from motifs.network import Network
    from motifs.nulls import default_null, sample_nulls
    from motifs.stats import zscores

    net = load_network()
    topology = Network.from_edges(net.src, net.dst, n_nodes=net.n_nodes, layer=net.layer,
                                  pos=net.pos)
    signed = Network.from_edges(net.src, net.dst, n_nodes=net.n_nodes, sign=net.sign,
                                layer=net.layer)
    null = default_null(net)
    print(f"Dallas graph: {net.n_nodes} nodes, {net.n_edges} edges; default null {null!r}; "
          f"{n_null} nulls, {SWITCHES:g} attempted switches per edge (the config and "
          f"config-dag default; the anchors run as many)")
    real3 = triad_census(net)

    def triad_z(network, model: str, **chains):
        nulls = sample_nulls(network, model, n_null, seed=1, **chains)
        counts = triad_census_edges(nulls.src, nulls.dst, network.n_nodes)
        return zscores(real3.to_numpy(), counts, names=list(real3.index)), nulls

    # (1) degree-preserving nulls + triad census Z-scores. config vs igraph rewire
    # (the same unconstrained null); config-dag vs the same acyclic chain in Python.
    ig_cpu, ig_wall, _ = timed(lambda: igraph_loop(net, n_igraph3, 3))
    scale = n_null / n_igraph3
    anchor3 = (ig_cpu * scale, ig_wall * scale)
    scaled = (f"igraph timed on {n_igraph3} samples, scaled x{scale:g}" if scale != 1
              else "igraph run on as many samples")
    for label, network in (("weights carried", net), ("topology only", topology)):
        cpu, wall, (_, nulls) = timed(lambda: triad_z(network, "config", **INDEPENDENT))
        row(f"(1) triad Z, {n_null} config nulls, {label}", (cpu, wall), anchor3,
            note=f"anchor igraph rewire, same null and chain; {scaled}; engine "
                 f"{nulls.diagnostics['engine']}", min_ratio=20)
        cpu, wall, _ = timed(lambda: triad_z(network, "config"))
        row(f"(1t) same, the default thinned chains, {label}", (cpu, wall), anchor3)
    py_cpu, py_wall, _ = timed(lambda: python_acyclic_loop(net, n_python))
    scale_py = n_null / n_python
    anchor_dag = (py_cpu * scale_py, py_wall * scale_py)
    for label, network in (("weights carried", net), ("topology only", topology)):
        # config-dag: the null the Python anchor's acyclic chain samples
        cpu, wall, (_, nulls) = timed(lambda: triad_z(network, "config-dag", **INDEPENDENT))
        row(f"(1b) triad Z, {n_null} config-dag nulls, {label}", (cpu, wall), anchor_dag,
            note=f"anchor the same acyclic chain in Python (+ igraph triad_census), timed "
                 f"on {n_python} samples, scaled x{scale_py:g}; engine "
                 f"{nulls.diagnostics['engine']}")

    # (2) layer-preserving configuration nulls (no external anchor samples this null).
    cpu, wall, _ = timed(lambda: triad_z(topology, "layer-config"))
    row(f"(2) triad Z, {n_null} layer-config nulls", (cpu, wall), None,
        f"target < 2 s CPU: {'met' if cpu < 2 else 'MISSED'}")
    cpu, wall, _ = timed(lambda: triad_z(net, "layer-config"))
    row("(2b) same, weights carried", (cpu, wall), None)

    # (3) size-4 census.
    ig_cpu, ig_wall, _ = timed(lambda: igraph_loop(net, n_igraph4, 4))
    scale4 = n_null / n_igraph4

    def size4(model: str, **chains):
        nulls = sample_nulls(topology, model, n_null, seed=2, **chains)
        return motif4_census_many(nulls.adjacency_dense())

    cpu, wall, _ = timed(lambda: size4("config", **INDEPENDENT))
    row(f"(3) size-4 census, {n_null} config nulls", (cpu, wall),
        (ig_cpu * scale4, ig_wall * scale4),
        note=f"anchor igraph rewire + motifs_randesu, same null, timed on {n_igraph4} "
             f"samples, scaled x{scale4:g}", min_ratio=10)
    cpu, wall, _ = timed(lambda: size4(null))
    row(f"(3b) size-4 census, {n_null} {null} nulls", (cpu, wall), None)

    # (4) signed FFL census with sign-carrying layer-preserving nulls.
    def signed_ffl(network):
        nulls = sample_nulls(network, "layer-config", n_null, seed=3)
        return signed_ffl_census_many(nulls.src, nulls.dst, nulls.sign, network.n_nodes)

    cpu, wall, _ = timed(lambda: signed_ffl(signed))
    row(f"(4) signed FFL census, {n_null} layer-config nulls", (cpu, wall), None,
        f"target < 2 s CPU: {'met' if cpu < 2 else 'MISSED'}", "signs carried")
    cpu, wall, _ = timed(lambda: signed_ffl(net))
    row("(4b) same, signs and weights carried", (cpu, wall), None)

    # (5) every FFL instance with its weights.
    cpu, wall, table = timed(lambda: motif_instances(net, "ffl"))
    row(f"(5) all {len(table)} FFL instances with weights", (cpu, wall), None,
        f"target < 0.1 s: {'met' if cpu < 0.1 else 'MISSED'}")

    # Mixing: edge overlap with the real graph after k attempted switches per edge.
    real = topology.adjacency().toarray().astype(bool)
    curve = []
    for k in (1, 3, 10, 30, 100):
        nulls = sample_nulls(topology, "config-dag", 128, seed=4, switches_per_edge=k,
                             **INDEPENDENT)
        overlap = (nulls.adjacency_dense() & real).sum(axis=(1, 2)) / net.n_edges
        curve.append(f"{k}: {overlap.mean():.3f}")
    print("mixing (config-dag, 128 nulls), mean share of real edges kept after k switches/edge: "
          + ", ".join(curve))

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"(6) peak resident memory {peak:.2f} GiB | target < 1 GiB: "
          f"{'met' if peak < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
