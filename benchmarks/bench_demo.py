"""The demo's corpus report and ``cgram report``, as users pay them, against issue #15's goals.

Measured in one run, each in a fresh process, CPU counted with
``resource.getrusage(RUSAGE_CHILDREN)`` so that the process pool's workers
count too (as in ``bench_cli.py``):

1. the demo's stage 4, "compare groups and write the corpus report"
   (:func:`cgram.demo.report_stage` with the demo's defaults: nulls
   causal-config, config-dag, layer-config, ``--report-n-null 200``) on a
   fresh corpus of the shared graphs (imported with their task labels, as
   stage 2 does; not timed), or on the graphs of ``--corpus DIR`` (e.g. a
   ``make demo`` corpus with the zoo graphs too; its cached results are not
   copied). Wall and CPU; goal: wall <= 60 s.
2. ``cgram report`` of the largest shared graph (qwen06-f-egypt, 409 nodes,
   29,738 links), whole process; goal: CPU <= 2x the igraph loop.
3. the anchor: the igraph loop of ``bench_cli.py`` (copy + rewire(10 m) +
   triad census, 1,000 times on Dallas), imported from there, in this process.

Usage: python benchmarks/bench_demo.py [--report-n-null N] [--corpus DIR] [--skip-report]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# one BLAS thread and the repository on the path, as bench_cli sets them
from bench_cli import BIG, REPO, SHARED, cli, dallas, igraph_loop  # noqa: E402

STAGE_GOAL_S = 60.0
REPORT_GOAL = 2.0

#: The child that runs stage 4 alone: the demo's own parser gives its defaults.
_STAGE = """
import sys
from pathlib import Path
from cgram.cli import build_parser
from cgram.demo import report_stage
from corpus.store import Corpus
args = build_parser().parse_args(["demo", "--report-n-null", sys.argv[2], *sys.argv[4:]])
report_stage(Corpus(sys.argv[1], create=False), args, Path(sys.argv[3]))
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stage4(corpus_dir: Path, out: Path, n_null: int, extra: list[str]) -> tuple[float, float]:
    """(wall, CPU incl. pool workers) of the demo's stage 4 in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before, wall = children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _STAGE, str(corpus_dir), str(n_null), str(out),
                           *extra], capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - wall
    if done.returncode != 0:
        raise SystemExit(f"stage 4 failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall, children_cpu() - before


def fresh_corpus(root: Path, source: Path | None) -> Path:
    """A corpus of ``source``'s graphs (no cached results), or of the shared graphs."""
    from corpus.store import Corpus

    target = root / "corpus"
    if source is not None:
        target.mkdir(parents=True)
        shutil.copy(source / "graphs.parquet", target)
        for table in ("nodes", "edges"):
            shutil.copytree(source / table, target / table)
        return target
    from cgram.demo import import_shared

    import_shared(Corpus(target), SHARED)
    return target


def stage4_row(root: Path, source: Path | None, anchor: float, n_null: int = 200,
               extra: list[str] | None = None) -> None:
    """Time and print the stage on a fresh copy of ``source``'s graphs (or the shared
    ones) under ``root``: wall and CPU against the 60 s goal and the igraph loop."""
    from corpus.store import Corpus

    corpus_dir = fresh_corpus(root, source)
    wall, cpu = stage4(corpus_dir, root / "report", n_null, extra or [])
    n_graphs = len(Corpus(corpus_dir, create=False))
    print(f"{f'make demo stage 4, {n_graphs} graphs, {n_null} nulls':<58} wall {wall:6.1f} s, "
          f"cpu {cpu:6.1f} s; wall / goal {wall / STAGE_GOAL_S:.2f} (goal <= 1: "
          f"{STAGE_GOAL_S:.0f} s), wall / igraph loop {wall / anchor:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-n-null", type=int, default=200)
    parser.add_argument("--corpus", type=Path, default=None,
                        help="take the graphs of this corpus (default: the shared graphs)")
    parser.add_argument("--executor", default="pool")
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()

    from corpus.neuronpedia import read_json
    from corpus.store import Corpus

    anchor = igraph_loop(dallas(), 1000)
    print(f"{'igraph loop (copy + rewire(10m) + triad census) x1000':<58} {anchor:7.2f} s CPU")
    with tempfile.TemporaryDirectory() as tmp:
        stage4_row(Path(tmp), args.corpus, anchor, args.report_n_null,
                   ["--executor", args.executor])
        if args.skip_report:
            return
        solo = Corpus(Path(tmp) / "solo")
        key = solo.add(read_json(BIG)).graph_id
        cpu, wall = cli(["report", "--corpus", str(solo.root), key, "-q", "--out",
                         str(Path(tmp) / "graph-report")])
        print(f"{'cgram report ' + BIG.name.split('__')[-1]:<58} wall {wall:6.1f} s, cpu "
              f"{cpu:6.1f} s; cpu / igraph loop {cpu / anchor:.2f} (goal <= {REPORT_GOAL:g})")


if __name__ == "__main__":
    main()
