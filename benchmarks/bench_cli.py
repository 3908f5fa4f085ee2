"""What users pay at the command line, beside an igraph loop measured in the same run.

Every row of issue #15's table, as a user runs it: CPU seconds (user +
system) of a fresh ``python -m cgram.cli ...`` process, counted with
``resource.getrusage(RUSAGE_CHILDREN)`` so that the process pool's workers
count too (a worker's CPU is added to its parent's children when the pool
reaps it, and so reaches this process). Each CLI row is the median of
``--repeats`` runs, each with a fresh seed (the corpus cache never answers).

The anchor: the igraph loop of the issue, ``g.copy(); g.rewire(n=10*m);
g.triad_census()`` 1,000 times on the Dallas graph (83 nodes, 1,719 edges:
``mkenney2__circuit-motifs__capital-state-dallas.json`` without error
nodes), timed in this process with ``time.process_time``.

Rows (marginal CPU: the run with ``--n-null 1000`` minus the same with
``--n-null 2``, so that start-up and the real census are not counted twice):

1. ``cgram motifs --edges dallas.tsv --null config``, marginal;
2. the same with ``--null layer-config`` on the imported graph (a corpus);
3. the same with ``--null er`` (edge list);
4. ``cgram motifs --edges dallas.tsv --n-null 2`` start-up (whole process);
5. ``cgram report`` of one real graph (``--report-graph``, default the
   largest shared graph), wall and CPU, beside 2x the igraph loop's time;
6. ``make demo``'s stage 4, "compare groups and write the corpus report"
   (``bench_demo.stage4_row``: a fresh process on a fresh copy of the graphs of
   ``--demo-corpus DIR``, e.g. ``demo-out/corpus``, or of the 17 shared
   graphs), wall against the 60 s goal (``--skip-demo`` leaves it out);
7. with ``--make-test``: ``make test`` on a fresh clone of this repository's
   HEAD (the venv built from scratch, as CI does), wall against 8 minutes.

Python's bytecode cache is left on for the ``cgram`` processes, as a user
has it (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment).

Also prints the engine alone for rows 1-3: ``sample_nulls`` + triad census
of 1,000 samples in this process. Ratios are igraph / ours (higher is
better). The machine is shared: repeat and read medians.

Usage: python benchmarks/bench_cli.py [--repeats R] [--skip-report] [--report-graph FILE]
                                      [--skip-demo] [--demo-corpus DIR] [--make-test]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# one BLAS thread, the repository on the path, the shared graphs: as bench_causal_null sets them
from bench_causal_null import DALLAS, REPO, SHARED, cgram_command, dallas  # noqa: E402

BIG = SHARED / "hajimedayo328__attribution-graph-poc__qwen06-f-egypt.json"
N_NULL = 1000


def cli(args: list[str]) -> tuple[float, float]:
    """(CPU seconds of the process tree, wall seconds) of one ``cgram`` run.

    Bytecode caching is on, as on a user's machine: an environment that sets
    PYTHONDONTWRITEBYTECODE (this sandbox does) would otherwise recompile
    every module of the repository in every run (~0.08 s a process).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(cgram_command() + list(args), capture_output=True, text=True, env=env,
                          cwd=REPO)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"cgram {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def median_cpu(args: list[str], repeats: int, seed0: int) -> tuple[float, list[float]]:
    runs = [cli(args + ["--seed", str(seed0 + r)])[0] for r in range(repeats)]
    return statistics.median(runs), runs


def igraph_loop(net, n_samples: int) -> float:
    """CPU seconds of the anchor: copy + rewire(10 m) + triad census per sample."""
    import igraph

    graph = igraph.Graph(n=net.n_nodes, edges=list(zip(net.src.tolist(), net.dst.tolist())),
                         directed=True)
    cpu = time.process_time()
    for _ in range(n_samples):
        g = graph.copy()
        g.rewire(n=10 * net.n_edges)
        g.triad_census()
    return time.process_time() - cpu


def engine_alone(net, null: str) -> float:
    """CPU seconds of 1,000 samples and their triad census, in this process."""
    from motifs.census import triad_census_edges
    from motifs.nulls import sample_nulls

    cpu = time.process_time()
    nulls = sample_nulls(net, null, N_NULL, seed=7)
    triad_census_edges(nulls.src, nulls.dst, net.n_nodes)
    return time.process_time() - cpu


def line(label: str, ours: float, anchor: float, goal: str, runs: list[float] | None = None,
         note: str = "") -> None:
    ratio = anchor / ours if ours > 0 else float("inf")
    shown = f" (runs {', '.join(f'{r:.2f}' for r in runs)})" if runs else ""
    print(f"{label:<52} {ours:7.2f} s  igraph/ours {ratio:6.1f}x  goal {goal}{shown}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--report-graph", type=Path, default=BIG)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--demo-corpus", type=Path, default=None,
                        help="the graphs of make demo's stage 4 (default: the shared graphs)")
    parser.add_argument("--make-test", action="store_true",
                        help="also time `make test` on a fresh clone (minutes; needs the "
                             "package index)")
    args = parser.parse_args()

    from corpus.neuronpedia import read_json
    from corpus.store import Corpus

    net = dallas()
    anchor = igraph_loop(net, N_NULL)
    print(f"Dallas graph: {net.n_nodes} nodes, {net.n_edges} edges. CPU seconds; CLI rows are "
          f"medians of {args.repeats} fresh processes (pool workers counted).")
    print(f"{'igraph loop (copy + rewire(10m) + triad census) x1000':<52} {anchor:7.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        edges = Path(tmp) / "dallas.tsv"
        edges.write_text("".join(f"{s}\t{d}\n" for s, d in zip(net.src, net.dst)))
        corpus = Corpus(Path(tmp) / "corpus")
        slug = corpus.add(read_json(DALLAS)).graph_id
        small, small_runs = median_cpu(["motifs", "--edges", str(edges), "-q", "--null",
                                        "config", "--n-null", "2"], args.repeats, 1)
        for null, where in (("config", "edges"), ("layer-config", "corpus"), ("er", "edges")):
            source = (["--edges", str(edges)] if where == "edges"
                      else ["--corpus", str(corpus.root), slug])
            base = ["motifs", *source, "-q", "--null", null]
            low, _ = median_cpu(base + ["--n-null", "2"], args.repeats, 100)
            high, runs = median_cpu(base + ["--n-null", str(N_NULL)], args.repeats, 200)
            goal = ">= 10x" if null == "layer-config" else ">= 20x"
            line(f"cgram motifs ({where}) --null {null}: marginal", high - low, anchor, goal,
                 runs, note=f" [n-null 2: {low:.2f} s]")
            line(f"  engine alone, {null} x1000", engine_alone(net, null), anchor, "")
        print(f"{'cgram motifs --edges --n-null 2 start-up':<52} {small:7.2f} s  goal <= 0.5 s "
              f"(runs {', '.join(f'{r:.2f}' for r in small_runs)})")
        if not args.skip_report:
            big = corpus.add(read_json(args.report_graph)).graph_id
            cpu, wall = cli(["report", "--corpus", str(corpus.root), big, "-q", "--out",
                             str(Path(tmp) / "report")])
            print(f"{'cgram report ' + args.report_graph.name[:30]:<52} wall {wall:6.1f} s, cpu "
                  f"{cpu:6.1f} s; cpu / igraph loop {cpu / anchor:.1f}, wall / igraph loop "
                  f"{wall / anchor:.1f} (goal <= 2)")
        if not args.skip_demo:
            from bench_demo import stage4_row

            stage4_row(Path(tmp) / "demo", args.demo_corpus, anchor)
    if args.make_test:
        make_test(anchor)


#: Issue #15's goal for ``make test`` on a fresh clone.
MAKE_TEST_GOAL_S = 8 * 60.0


def make_test(anchor: float) -> None:
    """Row 7: ``make test`` on a fresh clone of HEAD (venv, install and pytest), wall.

    The clone sits beside the repository, as CI's checkout does, so that the
    tests find the shared graphs at ``../shared`` (removed afterwards).
    """
    clone = REPO.parent / f".bench-make-test-{os.getpid()}"
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        start = time.perf_counter()
        done = subprocess.run(["make", "test"], cwd=clone, env={**env, "CI": "true"},
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"make test failed on the fresh clone:\n{done.stdout[-3000:]}\n"
                         f"{done.stderr[-3000:]}")
    summary = next((l for l in reversed(done.stdout.splitlines()) if " passed" in l), "")
    print(f"{'make test, fresh clone (venv + install + pytest)':<52} wall {wall:6.1f} s; wall / "
          f"goal {wall / MAKE_TEST_GOAL_S:.2f} (goal <= 1: 8 min), wall / igraph loop "
          f"{wall / anchor:.0f} [{summary.strip('= ')}]")


if __name__ == "__main__":
    main()
