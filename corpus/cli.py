"""The corpus commands of ``cgram``: import, ls, show, export, rm, label.

Registered by the dispatcher :mod:`cgram.cli`; like every package's ``cli``
module, ``register`` imports nothing heavy (pandas and pyarrow load inside the
handlers). The only module of ours imported here is the leaf
:mod:`cgram.options` (the shared flags).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from cgram.options import add_corpus, add_executor, add_jobs, add_quiet, error


def open_corpus(args: argparse.Namespace, create: bool = True) -> Any:
    """The corpus of ``--corpus`` (default ``$CGRAM_CORPUS`` or ``./corpus-data``)."""
    from corpus.store import Corpus

    return Corpus(args.corpus, create=create)


def write_graph(graph: Any, output: str | None, corpus: str | None, task: str | None) -> None:
    """Write a produced graph as Neuronpedia JSON and/or add it to a corpus, saying where."""
    if output:
        from corpus.neuronpedia import write_json

        print(f"wrote {write_json(graph, output)}")
    if corpus:
        from corpus.store import Corpus

        added = Corpus(corpus).add(graph, task=task)
        print(f"{'added to' if added.added else 'already in'} corpus {corpus} as {added.graph_id}")
    if not output and not corpus:
        print("nothing written: pass -o FILE and/or --corpus DIR (or set $CGRAM_CORPUS)", file=sys.stderr)


# ------------------------------------------------------------------ import
def _graph_sources(items: Sequence[str]) -> list[str]:
    """Expand directories into their graph files; keep files and URLs."""
    from corpus.download import is_url

    out: list[str] = []
    for item in items:
        path = Path(item)
        if not is_url(item) and path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.name.endswith((".json", ".json.gz")) and p.name != "graph-metadata.json")
            out.extend(str(p) for p in found)
        else:
            out.append(item)
    return out


def parse_source(payload: tuple[str, bytes | None, dict[str, Any]]) -> tuple[Any, list[str]]:
    """Parse one graph (an import task; runs in a worker): the graph and its warnings.

    ``payload`` is (origin, bytes or None, overrides); with no bytes the file
    ``origin`` is read here, so a pool of workers reads and parses in parallel.
    """
    import warnings

    from corpus import neuronpedia
    from corpus.errors import CorpusError

    origin, data, overrides = payload
    if data is None:
        try:
            data = Path(origin).read_bytes()
        except OSError as exc:
            raise CorpusError(f"{origin}: cannot read ({exc.strerror})") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = neuronpedia.loads(data, origin, **overrides)
    return graph, [str(warning.message) for warning in caught]


@dataclass
class ImportTally:
    """What an import did: graphs added, graphs already present, failures (messages)."""

    added: int = 0
    present: int = 0
    failures: list[str] = field(default_factory=list)


def _parse_tasks(sources: Sequence[str], overrides: dict[str, Any], tally: ImportTally,
                 cache_dir: str | None, offline: bool, quiet: bool) -> Iterator[tuple[str, Any]]:
    """(key, payload) of :func:`parse_source` per graph: local files as they are,
    URLs downloaded here (one cache, one progress line each); a failed download
    goes to ``tally.failures``."""
    from corpus.download import fetch, is_url
    from corpus.errors import CorpusError

    for source in sources:
        if not is_url(source):
            yield source, (source, None, overrides)
            continue
        try:
            fetched = fetch(source, cache_dir=cache_dir, offline=offline, progress=not quiet)
        except CorpusError as exc:
            tally.failures.append(str(exc))
            continue
        for item in fetched:
            yield item.origin, (item.origin, item.data, {**item.overrides, **overrides})


def _add_parsed(corpus: Any, graph: Any, task: str | None, tally: ImportTally) -> str | None:
    """Add one parsed graph to the corpus and count it; the line to show, or None on failure."""
    from corpus.errors import CorpusError

    try:
        result = corpus.add(graph, task=task)
    except CorpusError as exc:
        tally.failures.append(str(exc))
        return None
    if result.added:
        tally.added += 1
    else:
        tally.present += 1
    state = "added" if result.added else "already present"
    return (f"{result.graph_id}  {result.slug}  ({graph.meta.model}, {graph.meta.transcoder_type}, "
            f"{graph.n_nodes} nodes, {graph.n_edges} edges)  {state}")


def import_sources(corpus: Any, items: Sequence[str], task: str | None = None,
                   overrides: dict[str, Any] | None = None, executor: str | None = None,
                   jobs: int | None = None, cache_dir: str | None = None, offline: bool = False,
                   quiet: bool = False) -> ImportTally:
    """Import graph files, folders and URLs into ``corpus``, as ``cgram import`` does.

    Files are parsed on ``executor`` (default: ``pool`` for 8 sources or
    more, else ``serial``); each parse warning is printed on stderr as
    ``warning: MESSAGE``; a source that fails is counted in
    ``failures`` and the others go on.

    Returns
    -------
    ImportTally
    """
    from corpus.download import is_url
    from corpus.executor import open_executor
    from corpus.progress import progress_bar

    tally = ImportTally()
    sources = _graph_sources(items)
    tasks = _parse_tasks(sources, overrides or {}, tally, cache_dir, offline, quiet)
    # a pool pays off on many files; a few parse faster than workers start
    spec = executor or ("serial" if len(sources) < 8 else "pool")
    # an index URL expands into many graphs: then the bar just counts
    bar = progress_bar(total=None if any(is_url(s) for s in sources) else len(sources),
                       unit="graph", progress=len(sources) >= 3 and not quiet)
    with bar, open_executor(spec, jobs=jobs) as pool:
        for outcome in pool.run(parse_source, tasks):
            bar.update(1)
            if not outcome.ok:
                tally.failures.append(outcome.error.removeprefix("CorpusError: "))
                continue
            graph, caught = outcome.value
            for message in caught:
                print(f"warning: {message}", file=sys.stderr)
            line = _add_parsed(corpus, graph, task, tally)
            if line and not quiet:
                bar.write(line)
    return tally


def cmd_import(args: argparse.Namespace) -> int:
    from corpus.errors import CorpusError

    corpus = open_corpus(args)
    overrides = {k: v for k, v in (("model", args.model), ("transcoder_type",
                                                           args.transcoder_type)) if v}
    tally = import_sources(corpus, args.sources, task=args.task, overrides=overrides,
                           executor=args.executor, jobs=args.jobs, cache_dir=args.cache_dir,
                           offline=args.offline, quiet=args.quiet)
    if args.tasks:
        try:
            n = corpus.label_tasks(args.tasks)
            print(f"labelled {n} graphs from {args.tasks}")
        except CorpusError as exc:
            tally.failures.append(str(exc))
    print(f"{tally.added} added, {tally.present} already present, {len(tally.failures)} failed; "
          f"corpus {corpus.root} holds {len(corpus)} graphs")
    for failure in tally.failures:
        error(failure)
    return 1 if tally.failures else 0


# --------------------------------------------------------------- ls / show
def cmd_ls(args: argparse.Namespace) -> int:
    corpus = open_corpus(args, create=False)
    table = corpus.list(model=args.model, scan=args.scan, transcoder_type=args.transcoder_type,
                        task=args.task, prompt=args.prompt)
    if args.json:
        cols = ["graph_id", "slug", "model", "scan", "transcoder_type", "task", "n_nodes",
                "n_edges", "source", "prompt"]
        for record in table[cols].to_dict("records"):
            print(json.dumps({k: (None if v != v else v) for k, v in record.items()},
                             default=int))
        return 0
    if table.empty:
        print(f"no graphs in {corpus.root} match")
        return 0
    shown = table[["graph_id", "slug", "model", "transcoder_type", "task", "n_nodes", "n_edges"]]
    print(shown.fillna("-").to_string(index=False))
    return 0


def graph_summary(graph: Any) -> str:
    """A short text summary: nodes by kind and layer, edges, signs, top logits."""
    import numpy as np

    nodes = graph.nodes
    lines = [f"{graph.meta.slug}  model={graph.meta.model}  scan={graph.meta.scan}  "
             f"transcoder={graph.meta.transcoder_type}  task={graph.meta.task or '-'}",
             f"prompt: {graph.meta.prompt!r}",
             f"{graph.n_nodes} nodes, {graph.n_edges} edges"]
    by_kind = nodes.groupby("kind").size()
    lines.append("nodes by kind: " + ", ".join(f"{k} {v}" for k, v in by_kind.items()))
    table = nodes.pivot_table(index="layer", columns="kind", values="node_id", aggfunc="count",
                              fill_value=0)
    lines.append("nodes by layer:")
    lines.extend("  " + line for line in table.to_string().splitlines())
    w = graph.weight
    if w.size:
        lines.append(f"edge signs: {int((w > 0).sum())} positive ({(w > 0).mean():.1%}), "
                     f"{int((w < 0).sum())} negative; |weight| median {np.median(np.abs(w)):.3g}, "
                     f"max {np.abs(w).max():.3g}")
    logits = nodes[nodes["kind"] == "logit"].sort_values("prob", ascending=False).head(5)
    if len(logits):
        lines.append("top logits: " + ", ".join(
            f"{t!r} p={p:.3f}" for t, p in zip(logits["token"].fillna("?"), logits["prob"])))
    for name in ("replacement_score", "completeness_score"):
        value = getattr(graph.meta, name)
        if value is not None:
            lines.append(f"{name.replace('_', ' ')}: {value:.3f}")
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    corpus = open_corpus(args, create=False)
    print(graph_summary(corpus.load(args.slug)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from corpus.neuronpedia import write_json

    corpus = open_corpus(args, create=False)
    path = write_json(corpus.load(args.slug), args.output)
    print(f"wrote {path}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    corpus = open_corpus(args, create=False)
    for key in args.slugs:
        print(f"removed {corpus.remove(key)}")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    corpus = open_corpus(args, create=False)
    if args.tasks:
        print(f"labelled {corpus.label_tasks(args.tasks)} graphs")
    if args.slug:
        if args.task is None:
            error("give a task label after the slug")
            return 2
        corpus.set_task(args.slug, args.task)
        print(f"{args.slug}: task = {args.task}")
    return 0


# ---------------------------------------------------------------- register
def register(subparsers: Any) -> None:
    """Add the corpus commands: import, ls, show, export, rm, label."""
    p = subparsers.add_parser("import", help="import graph JSON files, folders or URLs")
    p.add_argument("sources", nargs="+", metavar="PATH|URL",
                   help="graph JSON (.json/.json.gz), a folder of them, a Neuronpedia graph or "
                        "API URL, a JSON URL, or a graph-metadata.json index URL")
    add_corpus(p)
    p.add_argument("--task", help="task label for every imported graph")
    p.add_argument("--tasks", metavar="CSV", help="CSV of slug,task labels applied after import")
    p.add_argument("--model", help="override the inferred model name")
    p.add_argument("--transcoder-type", choices=("plt", "clt", "skip", "unknown"),
                   help="override the inferred transcoder type")
    p.add_argument("--cache-dir", help="HTTP cache directory (default $CGRAM_CACHE)")
    p.add_argument("--offline", action="store_true", help="use only the HTTP cache")
    add_jobs(p, help="parsing workers (default: all cores, for 8 files or more)")
    add_executor(p, default=None,
                 help="serial, pool, dask-local or dask://HOST:PORT (default: pool for 8 "
                      "files or more, else serial); the corpus is written by this process")
    add_quiet(p)
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("ls", help="list the graphs of a corpus")
    add_corpus(p)
    p.add_argument("--json", action="store_true", help="one JSON object per graph")
    for name in ("model", "scan", "transcoder-type", "task", "prompt"):
        p.add_argument(f"--{name}", help=f"only graphs with this {name}" +
                       (" (substring)" if name == "prompt" else ""))
    p.set_defaults(func=cmd_ls)

    p = subparsers.add_parser("show", help="summarise one graph")
    p.add_argument("slug", metavar="SLUG|ID")
    add_corpus(p)
    p.set_defaults(func=cmd_show)

    p = subparsers.add_parser("export", help="write a graph as Neuronpedia JSON")
    p.add_argument("slug", metavar="SLUG|ID")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    add_corpus(p)
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("rm", help="remove graphs from a corpus")
    p.add_argument("slugs", nargs="+", metavar="SLUG|ID")
    add_corpus(p)
    p.set_defaults(func=cmd_rm)

    p = subparsers.add_parser("label", help="set task labels")
    p.add_argument("slug", nargs="?", metavar="SLUG|ID")
    p.add_argument("task", nargs="?")
    p.add_argument("--tasks", metavar="CSV", help="CSV with columns slug,task")
    add_corpus(p)
    p.set_defaults(func=cmd_label)

