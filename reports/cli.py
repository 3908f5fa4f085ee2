"""``cgram compare`` and ``cgram report``: motif comparisons and HTML reports.

Only argparse is imported here; the handlers import the heavy modules.
"""

from __future__ import annotations

import argparse
from typing import Any

#: Report null models by default (mirrors reports.graph_report.DEFAULT_NULLS,
#: kept here so ``--help`` does not import numpy).
DEFAULT_NULLS = "causal-config,config-dag,layer-config,config,er"

#: Columns a corpus can be grouped by (reports.corpus_report.GROUP_COLUMNS).
GROUP_CHOICES = ("transcoder_type", "model", "task", "scan", "source")


def _null_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one null model")
    return names


def _fractions(text: str) -> list[float]:
    if text.strip().lower() in ("", "none", "off"):
        return []
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give fractions such as 1,0.5,0.25") from None
    if any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"fractions must lie in (0, 1], got {values}")
    return values


def _by_columns(args: argparse.Namespace) -> list[str]:
    columns: list[str] = []
    for item in args.by or []:
        columns += [c.strip() for c in item.split(",") if c.strip()]
    return list(dict.fromkeys(columns))


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(executor=args.executor, jobs=args.jobs, progress=not args.quiet)


def cmd_compare(args: argparse.Namespace) -> int:
    from corpus.cli import open_corpus
    from reports.corpus_report import compare_corpus, comparison_text, write_comparison_tables

    if not args.by and not args.nulls:
        from motifs.errors import MotifError

        raise MotifError("cgram compare: give --by COLUMN (group comparison) and/or "
                         "--nulls NAME[,NAME...] (the FFL verdict)")
    corpus = open_corpus(args, create=False)
    verdict_code = _print_verdict(corpus, args) if args.nulls else 0
    if not args.by:
        return verdict_code
    comparison = compare_corpus(corpus, by=_by_columns(args), nulls=args.null,
                                n_null=args.n_null, seed=args.seed, n_perm=args.n_perm,
                                n_boot=args.n_boot, fraction=args.fraction, **_run_options(args))
    print(comparison_text(comparison))
    paths = write_comparison_tables(comparison, args.out)
    print(f"\nwrote {len(paths)} CSV tables to {args.out}")
    return 1 if comparison.failures or verdict_code else 0


def _print_verdict(corpus: Any, args: argparse.Namespace) -> int:
    from pathlib import Path

    from reports.corpus_report import write_verdict

    failures = write_verdict(corpus, args.nulls, args.n_null, Path(args.out) / "ffl_verdict.csv",
                             seed=args.seed, **_run_options(args))
    return 1 if failures else 0


def cmd_report(args: argparse.Namespace) -> int:
    from cgram.options import network_options
    from corpus.cli import open_corpus
    from motifs.errors import MotifError
    from reports.graph_report import NetworkOptions

    network = NetworkOptions(**network_options(args))
    if args.prune and not network.default_network:
        raise MotifError("--prune re-tests the default network at each level; it does not "
                         "combine with --keep-errors, --min-weight or --top-k")
    corpus = open_corpus(args, create=False)
    # --prune: absent keeps each report's default levels, 'none' ([]) skips the check
    prune = {} if args.prune is None else {"keep_fractions": args.prune or None}
    if args.slug:
        from reports.graph_report import write_graph_report

        out = args.out or f"report-{args.slug}"
        causal = None
        if args.causal:
            import json
            from pathlib import Path

            from corpus.errors import CorpusError

            try:
                causal = json.loads(Path(args.causal).read_text())
            except (OSError, ValueError) as exc:
                raise CorpusError(f"--causal {args.causal}: cannot read the cascade records ({exc})") from None
            if not (isinstance(causal, list) and all("ablation_drop" in r for r in causal)):
                raise CorpusError(f"--causal {args.causal}: not the JSON of cgram cascades --validate --json")
        path = write_graph_report(corpus, args.slug, out, nulls=args.null, n_null=args.n_null,
                                  seed=args.seed, top=args.top, causal=causal, network=network,
                                  **prune,
                                  **_run_options(args))
    else:
        from reports.corpus_report import write_corpus_report

        out = args.out or "report-corpus"
        path = write_corpus_report(corpus, out, by=_by_columns(args) or
                                   ["transcoder_type", "model", "task"], null=args.null,
                                   n_null=args.n_null, seed=args.seed, n_perm=args.n_perm,
                                   n_boot=args.n_boot, network=network, **prune,
                                   **_run_options(args))
        from reports.corpus_browser import BROWSER_NAME

        print(path)
        path = path.parent / BROWSER_NAME  # the corpus browser, printed last
    print(path)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    from cgram.options import add_run_options

    add_run_options(p, null=dict(type=_null_list, default=_null_list(DEFAULT_NULLS),
                                 metavar="NAME[,NAME...]",
                                 help=f"null models, comma-separated; the first is the headline "
                                      f"one (default {DEFAULT_NULLS})"),
                    n_null=200, n_null_min=2, quiet_help="no progress bars")


def _group_options(p: argparse.ArgumentParser) -> None:
    from cgram.options import int_at_least

    p.add_argument("--by", action="append", metavar="COLUMN",
                   help=f"group graphs by this column ({', '.join(GROUP_CHOICES)}); repeat or "
                        "comma-separate for several")
    p.add_argument("--n-perm", type=int_at_least(2), default=5000, metavar="N",
                   help="permutations per group test (default 5000)")
    p.add_argument("--n-boot", type=int_at_least(2), default=2000, metavar="N",
                   help="bootstrap resamples per interval (default 2000)")


def register(subparsers: Any) -> None:
    """Add ``cgram compare`` and ``cgram report``."""
    from cgram.options import add_network_options

    p = subparsers.add_parser(
        "compare", help="compare motif profiles across groups of graphs",
        description="Motif profiles of every corpus graph under each null model (cached), "
                    "then per group of --by: FFL enrichment and 3-cycle absence, group means "
                    "with bootstrap intervals, permutation tests with Benjamini-Hochberg q and "
                    "effect sizes on size-normalised values (SP, and Z adjusted for log edges), "
                    "SP correlation and clustering, the universal backbone. Prints the tables "
                    "and writes them as CSV.")
    _common(p)
    _group_options(p)
    p.add_argument("--nulls", type=_null_list, default=None, metavar="NAME[,NAME...]",
                   help="the FFL verdict: per model, transcoder type and task, in how many "
                        "graphs the FFL is enriched (Z > 2) under each of these nulls, with "
                        "the median Z (written to ffl_verdict.csv); with --by, the group "
                        "comparison under --null follows")
    p.add_argument("--fraction", type=float, default=0.8,
                   help="backbone: share of each group's graphs a motif must be significant in "
                        "(default 0.8)")
    p.add_argument("--out", default="compare-out", metavar="DIR",
                   help="folder for the CSV tables (default compare-out)")
    p.set_defaults(func=cmd_compare)

    p = subparsers.add_parser(
        "report", help="write a self-contained HTML report of one graph or a corpus",
        description="With SLUG: the report of one graph (profiles under each null, null "
                    "distributions, its strongest feed-forward loops drawn and listed, the "
                    "graph in the interactive explorer, robustness to pruning). Without: the "
                    "corpus report (findings per group, profiles, clustering, group "
                    "comparisons, size confound, backbone, pruning) and beside it the corpus "
                    "browser index.html, every graph linking to its explorer page. --size, "
                    "--signed, --keep-errors, --min-weight and --top-k choose the network and "
                    "motifs as in cgram motifs, so a report reproduces a motif run. Writes one "
                    "HTML file (figures embedded, no network needed) with CSV tables and PNG "
                    "figures beside it, and prints its path (then the browser's).")
    p.add_argument("slug", nargs="?", metavar="SLUG|ID",
                   help="the graph to report on (default: the whole corpus)")
    _common(p)
    _group_options(p)
    add_network_options(p)
    p.add_argument("--top", type=int, default=10, help="FFLs listed in a graph report")
    p.add_argument("--causal", default=None, metavar="FILE",
                   help="graph report: causal-test records of this graph (the JSON of cgram cascades "
                        "SLUG --validate --json FILE) for the Mechanisms section")
    p.add_argument("--prune", type=_fractions, default=None, metavar="F[,F...]",
                   help="edge fractions of the pruning check (default 1,0.5,0.25,0.1 for a "
                        "graph, 1,0.5,0.25 for a corpus; 'none' to skip)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default report-SLUG or report-corpus)")
    p.set_defaults(func=cmd_report)
