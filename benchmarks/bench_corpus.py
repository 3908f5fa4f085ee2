"""Corpus-scale motif runs: graphs per second serially, on a 2-process pool and on Dask.

Builds a synthetic corpus (``synthetic_corpus.py``: graphs whose sizes,
kinds, layers and degrees are resampled from the real exports in
``../shared/data/neuronpedia``), then runs the triad census with ``--n-null``
degree-preserving null samples per graph (``cgram motifs``' engine,
:func:`motifs.corpus_run.run_motifs`) three ways, each on a fresh copy of the
corpus (no cache) in its own driver process:

- ``serial``: the anchor, one process;
- ``pool``: ``--jobs`` worker processes;
- ``dask``: a Dask ``LocalCluster`` of ``--jobs`` single-threaded worker processes.

Prints graphs per second, the speed-up over serial (the issue asks for at
least 1.7x from 1 to 2 workers), graphs per CPU-hour and a projected wall
time for 10,000 graphs on a 32-worker Dask cluster (:func:`project`), the
driver's peak memory (ru_maxrss of the
driver process alone; in serial mode the driver does the work), and checks
that the three tables are identical. Every process runs its numeric
libraries single-threaded, so ``serial`` uses one core and ``pool`` ``jobs``.

The full benchmark (200 graphs x 1,000 nulls) takes hours on a small
machine: ``--graphs`` and ``--n-null`` make it small. Run it with ``nice`` on
a shared machine; the wall-clock figures then depend on the load, which is
printed beside them.

Usage: python benchmarks/bench_corpus.py [--graphs 200] [--n-null 1000] [--jobs 2]
       [--null config-dag] [--modes serial,pool,dask] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
EXECUTORS = {"serial": "serial", "pool": "pool", "dask": "dask-local"}


def child(args: argparse.Namespace) -> None:
    """One mode in this process: run, write the CSV, print timings as JSON."""
    sys.path.insert(0, str(REPO))
    from motifs import corpus_run
    from motifs.corpus_run import run_motifs

    task_cpu: list[float] = []
    if args.child == "serial":  # tasks run in this process: time each, in submission order
        compute = corpus_run.count_null_block

        def timed(task):  # noqa: ANN001, ANN202
            begin = time.process_time()
            try:
                return compute(task)
            finally:
                task_cpu.append(time.process_time() - begin)

        corpus_run.count_null_block = timed
    start, cpu = time.perf_counter(), time.process_time()
    table = run_motifs(args.root, null=args.null, n_null=args.n_null, size=3, seed=0,
                       executor=EXECUTORS[args.child], jobs=args.jobs, progress=args.progress)
    seconds = time.perf_counter() - start
    table.to_csv(Path(args.root) / "profiles.csv", index=False)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers, reaped at close
    print(json.dumps({
        "seconds": seconds,
        "driver_cpu": time.process_time() - cpu,
        "workers_cpu": children.ru_utime + children.ru_stime,
        "task_cpu": task_cpu,
        "graphs": table.attrs["computed"],
        "failures": table.attrs["failures"],
        "executor": table.attrs["executor"],
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def list_schedule_makespan(costs: list[float], workers: int) -> float:
    """Makespan of tasks taken in order by whichever worker is free first (what a pool does)."""
    import heapq

    free_at = [0.0] * workers
    for cost in costs:
        heapq.heappush(free_at, heapq.heappop(free_at) + cost)
    return max(free_at)


def size_summary(label: str, nodes: list[int], edges: list[int]) -> str:
    import numpy as np

    q = [10, 50, 90, 100]
    n, m = np.percentile(nodes, q).astype(int), np.percentile(edges, q).astype(int)
    return (f"  {label:<10} {len(nodes):>4} graphs; nodes p10/p50/p90/max {n[0]}/{n[1]}/{n[2]}/"
            f"{n[3]}; edges {m[0]}/{m[1]}/{m[2]}/{m[3]}")


def build(root: Path, n_graphs: int, seed: int) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    sys.path.insert(0, str(REPO))
    from synthetic_corpus import build_corpus, real_templates

    from corpus.store import Corpus

    templates = real_templates()
    build_corpus(root, n_graphs, seed, templates)
    table = Corpus(root).list()
    print("graph sizes (nodes incl. errors, edges):")
    print(size_summary("real", [t.n_nodes for t in templates], [t.n_edges for t in templates]))
    print(size_summary("synthetic", table["n_nodes"].tolist(), table["n_edges"].tolist()))


def project(anchor: dict, results: dict, args: argparse.Namespace) -> None:
    """Graphs per CPU-hour, and a projection to 10,000 graphs on a 32-worker Dask cluster.

    A projection, not a measurement: the serial run's CPU seconds per graph,
    scaled linearly from ``--n-null`` to 1,000 nulls (the switching is linear
    in the samples; scaling the per-graph fixed costs too overstates them,
    so the figure errs long), the Dask run's extra CPU per graph added
    (scheduler, worker start-up), divided over 32 busy workers.
    """
    per_graph = anchor["cpu"] / max(anchor["graphs"], 1) * (1000 / args.n_null)
    dask = results.get("dask")
    extra = max(0.0, dask["cpu"] - anchor["cpu"]) / max(dask["graphs"], 1) if dask else 0.0
    print(f"\ngraphs per CPU-hour at 1,000 nulls (serial CPU, scaled from {args.n_null} nulls): "
          f"{3600 / per_graph:,.0f}")
    hours = 10_000 * (per_graph + extra) / 32 / 3600
    print(f"projected wall time for 10,000 graphs on a 32-worker Dask cluster (projection: "
          f"{per_graph:.2f} + {extra:.2f} Dask CPU s per graph, 32 workers always busy): "
          f"{hours:.2f} h")


def run_mode(mode: str, base: Path, work: Path, args: argparse.Namespace) -> dict:
    root = work / mode
    shutil.copytree(base, root, ignore=shutil.ignore_patterns("results"))
    env = {**os.environ, **{name: "1" for name in THREAD_VARIABLES}}
    cmd = [sys.executable, __file__, "--child", mode, "--root", str(root), "--n-null",
           str(args.n_null), "--jobs", str(args.jobs), "--null", args.null]
    if args.progress:
        cmd.append("--progress")
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-4000:]}")
    if args.progress:
        sys.stderr.write(done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = (load + os.getloadavg()[0]) / 2
    result["csv"] = root / "profiles.csv"
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=200, help="synthetic graphs (default 200)")
    parser.add_argument("--n-null", type=int, default=1000, help="null samples per graph")
    parser.add_argument("--jobs", type=int, default=2, help="workers of pool and dask")
    parser.add_argument("--null", default="config-dag",
                        help="degree-preserving null: config-dag (default) or config")
    parser.add_argument("--modes", default="serial,pool,dask")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpus")
    parser.add_argument("--keep", type=Path, help="build the corpora here and keep them")
    parser.add_argument("--progress", action="store_true", help="show the runs' progress bars")
    parser.add_argument("--child", choices=tuple(EXECUTORS), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    return parser.parse_args()


def print_runs(results: dict[str, dict]) -> None:
    """One line per mode: wall time, graphs per second, speed-up against serial, CPU, memory."""
    print(f"\n{'mode':<8} {'executor':<40} {'wall s':>8} {'graphs/s':>9} {'vs serial':>9} "
          f"{'CPU s':>8} {'driver peak MiB':>15} {'load':>5}")
    anchor = results.get("serial")
    for mode, r in results.items():
        rate = r["graphs"] / r["seconds"]
        ratio = f"{anchor['seconds'] / r['seconds']:.2f}x" if anchor else "-"
        r["cpu"] = r["driver_cpu"] + r["workers_cpu"]
        print(f"{mode:<8} {r['executor'][:40]:<40} {r['seconds']:>8.1f} {rate:>9.3f} "
              f"{ratio:>9} {r['cpu']:>8.1f} {r['peak_mib']:>15.0f} {r['load']:>5.1f}")
        for failure in r["failures"]:
            print(f"  failed: {failure}")


def print_speedup_estimate(results: dict[str, dict], jobs: int) -> None:
    """The speed-up on ``jobs`` dedicated cores, estimated from CPU seconds.

    On a shared machine wall-clock speed-ups measure the neighbours' load as
    much as ours; this estimate uses CPU seconds only: the serial run's
    per-task CPU, scheduled in the same order onto ``jobs`` free cores, plus
    the driver's own work, plus each mode's extra CPU (worker start-up,
    scheduler) spread over the cores.
    """
    anchor = results.get("serial")
    if not (anchor and anchor["task_cpu"]):
        return
    tasks = anchor["task_cpu"]
    makespan = list_schedule_makespan(tasks, jobs)
    fixed = anchor["cpu"] - sum(tasks)
    print(f"\nestimate for {jobs} dedicated cores ({len(tasks)} tasks, "
          f"{sum(tasks):.0f} task CPU s, list-scheduled makespan {makespan:.0f} s, "
          f"driver {fixed:.0f} s):")
    for mode, r in results.items():
        if mode == "serial":
            continue
        extra = max(0.0, r["cpu"] - anchor["cpu"])
        estimate = anchor["cpu"] / (fixed + makespan + extra / jobs)
        print(f"  {mode}: {extra:.0f} CPU s more than serial -> speed-up {estimate:.2f}x "
              f"(target >= 1.7x: {'met' if estimate >= 1.7 else 'NOT met'})")


def print_agreement(results: dict[str, dict]) -> None:
    """Whether every mode wrote the same profile table."""
    import pandas as pd

    tables = {mode: pd.read_csv(r["csv"]) for mode, r in results.items()}
    first = next(iter(tables.values()))
    same = all(t.equals(first) for t in tables.values())
    print(f"identical tables across {', '.join(tables)}: {'yes' if same else 'NO'} "
          f"({len(first)} rows)")


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(EXECUTORS)
    if unknown:
        raise SystemExit(f"unknown modes {sorted(unknown)}; choose from {list(EXECUTORS)}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    try:
        base = work / "base"
        start = time.perf_counter()
        build(base, args.graphs, args.seed)
        print(f"built {args.graphs} synthetic graphs in {time.perf_counter() - start:.1f} s; "
              f"triad census + {args.n_null} {args.null} nulls per graph; "
              f"{os.cpu_count()} CPUs here, load average {os.getloadavg()[0]:.1f}")
        results = {mode: run_mode(mode, base, work, args) for mode in modes}
        print_runs(results)
        print_speedup_estimate(results, args.jobs)
        anchor = results.get("serial")
        if anchor:
            project(anchor, results, args)
        if anchor and "pool" in results:
            speedup = anchor["seconds"] / results["pool"]["seconds"]
            print(f"measured wall-clock, pool of {args.jobs} vs serial: {speedup:.2f}x at load "
                  f"average {results['pool']['load']:.1f} on {os.cpu_count()} CPUs")
        print_agreement(results)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
