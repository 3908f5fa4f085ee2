"""The main job, end to end: ``cgram demo`` (what ``make demo`` runs).

1. trace held-out prompts of every shipped zoo world with its tiny model and
   both transcoder sets (PLT and CLT) into a corpus;
2. import the real Neuronpedia / Anthropic graphs beside the repository
   (``../shared/data/neuronpedia``) into the same corpus, with task labels;
3. run the motif census on every graph under ``--null`` (default: each
   graph's :func:`motifs.nulls.default_null`);
4. compare by transcoder type, model and task, and write the corpus report.

Every stage is timed; the paths of all outputs are printed at the end. The
motif results are cached in the corpus, so a second run is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from cgram.options import error

if TYPE_CHECKING:
    from corpus.cli import ImportTally

TASKS_CSV = Path(__file__).resolve().parent / "data" / "shared_tasks.csv"


def shared_graphs_dir() -> Path:
    """``$CGRAM_SHARED_GRAPHS`` or ``../shared/data/neuronpedia`` beside the repo."""
    env = os.environ.get("CGRAM_SHARED_GRAPHS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "neuronpedia"


class StageClock:
    """Times the named stages of a run and prints them as they end."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        print(f"\n== {name}", flush=True)
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.times.append((name, took))
        print(f"   [{name}: {took:.1f} s]", flush=True)

    def summary(self) -> str:
        lines = [f"  {name:<44}{took:>8.1f} s" for name, took in self.times]
        lines.append(f"  {'total':<44}{time.perf_counter() - self.started:>8.1f} s")
        return "\n".join(lines)


def trace_zoo(corpus: Any, prompts_per_world: int, seed: int) -> list[dict[str, Any]]:
    """Trace held-out prompts of every shipped checkpoint with PLT and CLT.

    Returns one summary row per (checkpoint, transcoder type).
    """
    import numpy as np
    import torch
    from corpus.progress import progress_bar
    from tracer.errors import TracerError
    from tracer.models import wrap_model
    from tracer.trace import trace
    from tracer.transcoders import load_transcoders
    from tracer.zoo.checkpoint import open_checkpoint, shipped_checkpoints

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rows = []
    for name in shipped_checkpoints():
        checkpoint = open_checkpoint(name)
        hf_model, tokenizer = checkpoint.load_model()
        model = wrap_model(hf_model, tokenizer, name=name)
        world = checkpoint.world()
        examples = list(world.heldout)
        random.Random(seed).shuffle(examples)
        examples = examples[:prompts_per_world]
        metrics = checkpoint.metrics
        for kind in ("plt", "clt"):
            try:
                directory = checkpoint.transcoder_dir(kind)
            except TracerError as exc:  # a checkpoint may ship one kind only: say so
                print(f"skipped: {exc}")
                continue
            transcoders = load_transcoders(directory)  # with its labels.json: trace labels nodes
            sizes = []
            for example in progress_bar(examples, desc=f"trace {name} {kind}", unit="prompt"):
                graph = trace(model, transcoders, example.prompt)
                graph.meta.model = f"zoo-{name}"
                graph.meta.task = world.name
                graph.meta.slug = f"{name}-{kind}-{graph.meta.slug}"
                corpus.add(graph, task=world.name)
                sizes.append((graph.n_nodes, graph.n_edges))
            size = np.asarray(sizes)
            kind_metrics = metrics.get(kind, {})
            variance = [layer["explained_variance"] for layer in kind_metrics.get("layers", [])]
            rows.append({
                "checkpoint": name, "transcoders": kind, "graphs": len(sizes),
                "nodes (mean)": float(size[:, 0].mean()), "edges (mean)": float(size[:, 1].mean()),
                "model accuracy": metrics.get("lm", {}).get("heldout_accuracy"),
                "replacement accuracy": kind_metrics.get("replacement_accuracy"),
                "explained variance (min over layers)": min(variance) if variance else None,
            })
    return rows


def check_shared(folder: Path) -> None:
    """Fail early, before the long stages, when ``folder`` holds no graph files.

    Raises
    ------
    CorpusError
        Naming the folder: missing, or without ``*.json`` / ``*.json.gz`` files.
    """
    from corpus.errors import CorpusError

    if not folder.is_dir():
        raise CorpusError(f"{folder}: no such folder of real graphs (give --shared DIR or set "
                          "$CGRAM_SHARED_GRAPHS)")
    if not any(p.name.endswith((".json", ".json.gz")) for p in folder.iterdir()):
        raise CorpusError(f"{folder}: no graph files (*.json, *.json.gz) to import (give "
                          "--shared DIR or set $CGRAM_SHARED_GRAPHS)")


def import_shared(corpus: Any, folder: Path) -> ImportTally:
    """Import the real exports of ``folder`` with their task labels, as ``cgram import`` does.

    Parse warnings are printed (``warning: ...`` on stderr) and a file that
    fails is listed in the returned tally's ``failures``, the others go on.

    Raises
    ------
    CorpusError
        When ``folder`` is missing or holds no graph files.
    """
    from corpus.cli import import_sources

    check_shared(folder)
    tally = import_sources(corpus, [str(folder)], quiet=True)
    corpus.label_tasks(TASKS_CSV)
    return tally


def null_text(null: str | None) -> str:
    """How the demo's stage names the null model of ``--null``.

    Examples
    --------
    >>> null_text("layer-config")
    'layer-config'
    >>> for part in null_text(None).split(", "):
    ...     print(part)
    the default of each graph: causal-config (a causal graph with token positions)
    config-dag (a DAG without token positions)
    config (the graph has cycles)
    """
    from motifs.nulls import default_null_reason

    if null:
        return null
    rules = ", ".join(f"{model} ({default_null_reason(model)})"
                      for model in ("causal-config", "config-dag", "config"))
    return f"the default of each graph: {rules}"


def motif_census(corpus: Any, args: argparse.Namespace, table: Path) -> list[dict[str, Any]]:
    """Stage 3: the motif census of every graph, written to ``table`` and summarised;
    returns the graphs the engine failed on (printed, left out of the table)."""
    from motifs.corpus_run import run_motifs

    results = run_motifs(corpus, null=args.null, n_null=args.n_null, seed=args.seed,
                         executor=args.executor, jobs=args.jobs, progress=True)
    results.to_csv(table, index=False)
    failures = results.attrs.get("failures") or []
    for failure in failures:
        error(f"graph {failure['graph']} ({failure['slug']}): {failure['error']}")
    head = results[results["motif"].isin(["030T", "021C", "030C"])]
    summary = head.pivot_table(index="motif", values="z", aggfunc=["median", "min", "max"])
    print(f"null model(s) used: {', '.join(sorted(results['null_model'].unique()))}")
    print(summary.to_string(float_format=lambda v: f"{v:.2f}"))
    return failures


def report_stage(corpus: Any, args: argparse.Namespace, out: Path) -> Path:
    """Stage 4: the corpus report under ``--report-nulls`` (``benchmarks/bench_demo.py``
    times it alone); returns the page."""
    from reports.corpus_report import write_corpus_report

    return write_corpus_report(corpus, out, by=("transcoder_type", "model", "task"),
                               null=args.report_nulls.split(","), n_null=args.report_n_null,
                               seed=args.seed, executor=args.executor, jobs=args.jobs,
                               progress=True)


def ffl_verdict_stage(corpus: Any, args: argparse.Namespace, table: Path) -> list[dict[str, Any]]:
    """Stage 5: in how many graphs of each group the FFL is enriched under each
    verdict null (issue #17), printed as one sentence per group and a table and
    written to ``table``; the report's null runs are cached, so only nulls it
    did not run are sampled here. Returns the graphs the engine failed on."""
    from reports.corpus_report import write_verdict

    return write_verdict(corpus, args.verdict_nulls.split(","), args.report_n_null, table,
                         seed=args.seed, executor=args.executor, jobs=args.jobs, progress=True)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from corpus.store import Corpus

    check_shared(Path(args.shared))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clock = StageClock()
    corpus = Corpus(out / "corpus")
    pd.set_option("display.width", 160)

    with clock.stage("1. trace the zoo worlds (tiny models x PLT/CLT)"):
        rows = trace_zoo(corpus, args.prompts, args.seed)
        if rows:
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        else:
            print("no shipped zoo checkpoints found")
    with clock.stage("2. import the real Neuronpedia / Anthropic graphs"):
        imported = import_shared(corpus, Path(args.shared))
        print(f"{imported.added} added, {imported.present} already present, "
              f"{len(imported.failures)} failed from {args.shared}; corpus holds "
              f"{len(corpus)} graphs")
        for failure in imported.failures:
            error(failure)
        table = corpus.list()
        print(table.groupby(["source", "model", "transcoder_type"]).size()
              .rename("graphs").reset_index().to_string(index=False))
    with clock.stage(f"3. motif census: null {null_text(args.null)}, {args.n_null} samples "
                     "per graph"):
        motif_failures = motif_census(corpus, args, out / "motifs.csv")
    with clock.stage("4. compare groups and write the corpus report"):
        report = report_stage(corpus, args, out / "report")
    with clock.stage(f"5. FFL verdict under {args.verdict_nulls.replace(',', ', ')}"):
        verdict_failures = ffl_verdict_stage(corpus, args, out / "ffl_verdict.csv")
    print("\nstage times:\n" + clock.summary())
    print("\noutputs:")
    print(f"  corpus        {corpus.root}")
    print(f"  motif table   {out / 'motifs.csv'}")
    print(f"  FFL verdict   {out / 'ffl_verdict.csv'}")
    print(f"  report        {report}")
    print(f"  report files  {report.parent}")
    from reports.corpus_browser import BROWSER_NAME

    # the last line: the page to open first (every graph, each in the explorer)
    print(f"  corpus browser {report.parent / BROWSER_NAME}")
    failed = len(imported.failures) + len(motif_failures) + len(verdict_failures)
    if failed:
        error(f"{len(imported.failures)} real graphs failed to import and "
              f"{len(motif_failures) + len(verdict_failures)} failed in the motif runs (listed "
              "above); the motif table, the report and the verdict leave them out")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    """``cgram demo``: the main job end to end (see the module docstring)."""
    from cgram.options import add_executor, add_jobs, positive_int

    p = subparsers.add_parser("demo", help="run the whole pipeline on the shipped zoo and the "
                                           "shared real graphs, and write a report")
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    p.add_argument("--shared", default=str(shared_graphs_dir()),
                   help="folder of real graph exports (default ../shared/data/neuronpedia)")
    p.add_argument("--prompts", type=int, default=24, help="held-out prompts traced per world "
                                                           "and transcoder set (default 24)")
    p.add_argument("--n-null", type=int, default=1000, help="null samples per graph (default 1000)")
    p.add_argument("--null", default=None,
                   help="null model (default: each graph's own, as cgram motifs chooses it)")
    p.add_argument("--report-nulls", default="causal-config,config-dag,layer-config",
                   help="null models compared in the report (comma-separated)")
    p.add_argument("--report-n-null", type=positive_int, default=200,
                   help="null samples per graph and null of the corpus report and the FFL "
                        "verdict (default 200: the report also runs the 4-node census under its "
                        "headline null for the SP comparison)")
    p.add_argument("--verdict-nulls", default="config-dag,layer-config,causal-config",
                   help="null models of the FFL verdict table (comma-separated; default "
                        "config-dag,layer-config,causal-config)")
    p.add_argument("--seed", type=int, default=0)
    add_executor(p)
    add_jobs(p)
    p.set_defaults(func=run)
