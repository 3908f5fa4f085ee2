"""The causal-config null: its CPU cost beside config-dag, its mixing, and its invariants.

1. CPU of ``cgram motifs capital-state-dallas --null NULL --n-null 1000``, run
   as a user runs it (a fresh process per run, serial executor, a fresh seed
   so that the corpus cache never answers), for ``config-dag`` (the anchor)
   and ``causal-config``; the median of ``--repeats`` runs each, and the
   ratio causal-config / config-dag (target: at most 2). CPU is the
   children's user + system time (``resource.getrusage``).
2. Edges back in token position per sample (mean of 50 samples) under
   ``config-dag``, ``layer-config`` and ``causal-config`` on the Dallas graph.
3. The mixing curve of ``causal-config`` on the Dallas graph: mean share of
   the real edges still in place after k attempted switches per edge
   (64 samples per k), beside ``config-dag``'s.
4. With ``--check``: on every shared real graph, 1,000 ``causal-config``
   samples (in blocks of 250): the number of edges back in position (must
   be 0) and whether every sample has the real graph's per-class edge
   counts (class: source layer, target layer, same or cross position).

Usage: python benchmarks/bench_causal_null.py [--repeats R] [--n-null N] [--check]
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("CGRAM_SHARED_GRAPHS",
                             REPO.parent / "shared" / "data" / "neuronpedia"))
DALLAS = SHARED / "mkenney2__circuit-motifs__capital-state-dallas.json"


def cgram_command() -> list[str]:
    """``cgram`` as installed: the dispatcher module run by this interpreter."""
    module = "cgram.cli" if (REPO / "cgram" / "cli.py").is_file() else "corpus.cli"
    return [sys.executable, "-m", module]


def cli_cpu(corpus: Path, slug: str, null: str, n_null: int, seed: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one ``cgram motifs`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cgram_command() + ["motifs", "--corpus", str(corpus), slug, "--null",
                                             null, "--n-null", str(n_null), "--seed", str(seed),
                                             "--executor", "serial", "-q"],
                          capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"cgram motifs failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def bench_cli(repeats: int, n_null: int) -> None:
    from corpus.neuronpedia import read_json
    from corpus.store import Corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Corpus(Path(tmp) / "corpus")
        graph_id = corpus.add(read_json(DALLAS)).graph_id
        print(f"1. CPU of `cgram motifs {graph_id} --null NULL --n-null {n_null} "
              f"--executor serial -q` (fresh process, fresh seed), median of {repeats}:")
        medians = {}
        for null in ("config-dag", "causal-config"):
            runs = [cli_cpu(corpus.root, graph_id, null, n_null, seed=100 + r)
                    for r in range(repeats)]
            medians[null] = statistics.median(c for c, _ in runs)
            cpus = ", ".join(f"{c:.2f}" for c, _ in runs)
            print(f"   {null:<14} cpu {medians[null]:6.2f} s (runs: {cpus}; wall median "
                  f"{statistics.median(w for _, w in runs):.2f} s)")
        ratio = medians["causal-config"] / medians["config-dag"]
        print(f"   ratio causal-config / config-dag: {ratio:.2f} (target <= 2)")


def backward_edges() -> None:
    from motifs.nulls import sample_nulls

    net = dallas()
    print(f"2. Edges back in position per sample on Dallas ({net.n_edges} edges, "
          f"{int((net.pos[net.src] > net.pos[net.dst]).sum())} in the real graph), 50 samples:")
    for null in ("config-dag", "layer-config", "causal-config"):
        nulls = sample_nulls(net, null, 50, seed=0)
        back = (net.pos[nulls.src] > net.pos[nulls.dst]).sum(axis=1)
        print(f"   {null:<14} mean {back.mean():6.1f}, max {back.max()}")


def mixing_curve() -> None:
    from motifs.nulls import sample_nulls

    net = dallas()
    real = np.zeros((net.n_nodes, net.n_nodes), dtype=bool)
    real[net.src, net.dst] = True
    steps = (1, 3, 10, 30, 100, 300)
    print("3. Mixing: mean share of real edges still in place after k attempted switches "
          "per edge (64 samples):")
    print("   k              " + "".join(f"{k:>8}" for k in steps))
    for null in ("config-dag", "causal-config"):
        shares = []
        for k in steps:
            nulls = sample_nulls(net, null, 64, seed=1, switches_per_edge=k)
            shares.append(float(real[nulls.src, nulls.dst].mean()))
        print(f"   {null:<14} " + "".join(f"{s:8.3f}" for s in shares))


def check_real_graphs(n_samples: int = 1000, block: int = 250) -> None:
    from corpus.neuronpedia import read_json
    from motifs.network import Network
    from motifs.nulls import sample_nulls

    graphs = sorted(SHARED.glob("*.json"))
    print(f"4. {n_samples} causal-config samples on each of the {len(graphs)} shared real graphs:")
    failures = 0
    for path in graphs:
        net = Network.from_graph(read_json(path)).topology()
        cls = lambda s, d: collections.Counter(zip(net.layer[s].tolist(), net.layer[d].tolist(),
                                                   (net.pos[s] != net.pos[d]).tolist()))
        real = cls(net.src, net.dst)
        back = mismatched = 0
        cpu = time.process_time()
        for b in range(0, n_samples, block):
            nulls = sample_nulls(net, "causal-config", min(block, n_samples - b), seed=b)
            back += int((net.pos[nulls.src] > net.pos[nulls.dst]).sum())
            # per-class counts of every sample at once: class id per edge, counted per row
            key = {c: i for i, c in enumerate(real)}
            cross = net.pos[nulls.src] != net.pos[nulls.dst]
            ids = np.vectorize(lambda a, b, c: key.get((a, b, c), -1))(
                net.layer[nulls.src], net.layer[nulls.dst], cross)
            counts = np.stack([(ids == i).sum(axis=1) for i in range(len(key))], axis=1)
            mismatched += int((counts != np.array(list(real.values()))[None]).any(axis=1).sum())
        failures += back + mismatched
        print(f"   {path.name[:60]:<60} {net.n_edges:>6} edges: {back} back in position, "
              f"{mismatched} samples off the class counts ({time.process_time() - cpu:.1f} s)")
    print(f"   all graphs: {'OK' if failures == 0 else 'FAILED'}")


def dallas():
    from corpus.neuronpedia import read_json
    from motifs.network import Network

    return Network.from_graph(read_json(DALLAS)).topology()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-null", type=int, default=1000)
    parser.add_argument("--check", action="store_true",
                        help="also run 1,000 samples on every shared real graph")
    args = parser.parse_args()
    bench_cli(args.repeats, args.n_null)
    backward_edges()
    mixing_curve()
    if args.check:
        check_real_graphs()


if __name__ == "__main__":
    main()
