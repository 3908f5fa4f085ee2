"""``cgram motifs``: motif Z-scores and significance profiles of corpus graphs or an edge list.

Only argparse is imported at module level, so ``cgram motifs --help`` starts
fast; numpy and the motif engine are imported inside the handler. The tables
are printed and written from numpy columns (:mod:`motifs.table`), so ``cgram
motifs --edges`` never imports pandas (with pyarrow, more than half of the
start-up of a fresh process); a ``--corpus`` run reads its cache with pandas.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

#: The ``--null`` names, in help order (the same keys as motifs.nulls.NULL_MODELS, which a
#: test checks; spelled out here so that building the parser imports nothing heavy).
NULL_NAMES: tuple[str, ...] = ("config", "config-dag", "er", "layer-er", "layer-config",
                               "causal-config", "sign", "triad-preserving")

#: Columns printed per graph (the CSV has every column).
SHOWN_COLUMNS: tuple[str, ...] = ("motif", "name", "count", "null_mean", "null_sd", "z", "p", "sp",
                                  "dependent_on")


def read_edge_list(path: str | os.PathLike[str]) -> Any:
    """Read a plain edge list into a :class:`motifs.network.Network`.

    One edge per line, ``source target [sign_or_weight]``, fields separated
    by whitespace and/or commas; ``#`` starts a comment; node names are
    strings (numbered in order of first appearance). The optional third
    field is a sign (``+1``/``-1``, or ``+``/``-``; ``0`` for a dual or
    unknown regulation, kept as 0, never read as +1) when every edge's value
    is -1, 0 or +1, else a weight (the edge's sign is the weight's). Either
    every edge has it or none. Self-loops are dropped and repeated edges merged, as
    :meth:`Network.from_edges` does.

    Raises
    ------
    MotifError
        Naming the file and line: a line with too few or too many fields, a
        missing or non-numeric third field, or a file without edges.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grn.txt"
    >>> _ = path.write_text("# lacI network\\ncrp lacZ +\\ncrp lacI, -\\nlacI lacZ -\\n")
    >>> net = read_edge_list(path)
    >>> [(net.names[s], net.names[t], int(v)) for s, t, v in zip(net.src, net.dst, net.sign)]
    [('crp', 'lacZ', 1), ('crp', 'lacI', -1), ('lacI', 'lacZ', -1)]
    """
    import re
    from pathlib import Path

    import numpy as np

    from motifs.errors import MotifError
    from motifs.network import Network

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MotifError(f"{path}: cannot read the edge list ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise MotifError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") \
            from None
    split = re.compile(r"[\s,]+")
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0]
        fields = [f for f in split.split(body) if f]
        if fields:
            rows.append(fields)
            line_numbers.append(number)
    if not rows:
        raise MotifError(f"{path}: no edges (expected lines 'source target [sign_or_weight]')")
    widths = np.array([len(r) for r in rows])
    bad = np.flatnonzero((widths < 2) | (widths > 3))
    if bad.size:
        i = int(bad[0])
        raise MotifError(f"{path}:{line_numbers[i]}: expected 'source target [sign_or_weight]', "
                         f"found {widths[i]} field{'s' if widths[i] != 1 else ''}: "
                         f"{' '.join(rows[i])!r}")
    odd = np.flatnonzero(widths != widths[0])
    if odd.size:
        i = int(odd[0])
        raise MotifError(f"{path}:{line_numbers[i]}: has {widths[i]} fields but line "
                         f"{line_numbers[0]} has {widths[0]}: give every edge a sign/weight, "
                         f"or none")
    numbers: dict[str, int] = {}  # node name -> number, in order of first appearance
    codes = np.array([numbers.setdefault(name, len(numbers)) for r in rows for name in r[:2]],
                     dtype=np.int64).reshape(-1, 2)
    names = list(numbers)
    sign = weight = None
    if widths[0] == 3:
        decimal = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
        raw = [{"+": "1", "-": "-1"}.get(r[2], r[2]) for r in rows]
        # a finite decimal number, or NaN (reported below): no inf, nan, 1_000 nor hex
        values = np.array([float(v) if decimal.fullmatch(v) else np.nan for v in raw])
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise MotifError(f"{path}:{line_numbers[i]}: third field {rows[i][2]!r} is not a "
                             f"finite number (a sign +1/-1 or a weight)")
        if np.isin(values, (-1.0, 0.0, 1.0)).all():
            sign = values
        else:
            weight, sign = values, np.sign(values)
    return Network.from_edges(codes[:, 0], codes[:, 1], n_nodes=len(names), sign=sign,
                              weight=weight, names=np.asarray(names, dtype=object))


def _format_profile(profile: Any) -> str:
    """One graph's profile as text: classes absent from the graph and its nulls left out."""
    import numpy as np

    from motifs.table import ColumnTable, format_text

    present = (profile["count"] > 0) | (profile["null_mean"] > 0)
    shown = {("tied_to" if c == "dependent_on" else c): profile[c][present]
             for c in SHOWN_COLUMNS if c in profile}
    for col, digits in (("null_mean", 1), ("null_sd", 2), ("z", 2), ("sp", 3)):
        shown[col] = np.array([("-" if not np.isfinite(v) else f"{v:.{digits}f}")
                               for v in shown[col].tolist()], dtype=object)
    shown["p"] = np.array([f"{v:.3g}" for v in shown["p"].tolist()], dtype=object)
    lines = format_text(ColumnTable(shown)).splitlines() if present.any() \
        else ["(no motif occurs)"]
    hidden = int((~present).sum())
    if hidden:
        lines.append(f"({hidden} classes absent from the graph and every null sample not shown)")
    return "\n".join(lines)


def _header(profile: Any, graph: str, slug: str, null_given: bool) -> str:
    from motifs.nulls import default_null_reason

    model = str(profile["null_model"][0])
    why = "" if null_given else f" (default: {default_null_reason(model)})"
    excluded = int(profile["n_excluded"][0]) if "n_excluded" in profile else 0
    left_out = (f" ({excluded} excluded: they never reached the real triad census)"
                if excluded else "")
    return (f"== {slug} ({graph}): null {model}{why}, {int(profile['n_null'][0])} samples"
            f"{left_out}; Z = (count - null mean) / null sd, SP = Z / ||Z|| ==")


def _nulls_used(table: Any) -> str:
    """Which null each graph of the run used, in words ("null causal-config")."""
    if not len(table):
        return "no null run"
    per_null = {str(table["null_model"][rows[0]]): len(set(table["graph"][rows].tolist()))
                for rows in table.groups("null_model")}
    if len(per_null) == 1:
        return f"null {next(iter(per_null))}"
    return "nulls " + ", ".join(f"{model} ({n} graph{'s' if n != 1 else ''})"
                                for model, n in per_null.items())


def cmd_motifs(args: argparse.Namespace) -> int:
    from cgram.options import error
    from corpus.atomic import atomic_write
    from corpus.cli import open_corpus
    from motifs.corpus_run import profile_network_table, run_motifs
    from motifs.errors import MotifError
    from motifs.table import ColumnTable, write_csv

    options = dict(null=args.null, n_null=args.n_null, size=args.size, signed=args.signed,
                   seed=args.seed, executor=args.executor, jobs=args.jobs,
                   progress=not args.quiet)
    if args.edges:
        if args.slugs:
            raise MotifError("give graph slugs or --edges FILE, not both")
        if args.keep_errors or args.min_weight is not None or args.top_k is not None:
            raise MotifError("--keep-errors, --min-weight and --top-k choose the nodes and edges "
                             "of attribution graphs; they do not apply to --edges")
        net = read_edge_list(args.edges)
        if not args.quiet:
            print(f"{args.edges}: {net.n_nodes} nodes, {net.n_edges} edges"
                  f"{', signed' if net.sign is not None else ''}")
        table = profile_network_table(net, os.path.basename(args.edges), **options)
    else:
        corpus = open_corpus(args, create=False)
        table = ColumnTable.from_frame(run_motifs(
            corpus, keys=args.slugs or None, keep_errors=args.keep_errors,
            min_abs_weight=args.min_weight, top_k=args.top_k, **options))
    if not args.quiet:
        for rows in table.groups("graph"):
            profile = table.rows(rows)
            print(_header(profile, profile["graph"][0], profile["slug"][0],
                          args.null is not None))
            print(_format_profile(profile))
            print()
    if args.csv:
        try:
            atomic_write(args.csv, lambda tmp: write_csv(table, tmp))  # no half-written CSV
        except OSError as exc:
            raise MotifError(f"{args.csv}: cannot write the CSV ({exc.strerror})") from None
    stats = table.attrs
    failures = stats["failures"]
    n_graphs = stats["computed"] + stats["cached"] + len(failures)
    print(f"{n_graphs} graph{'s' if n_graphs != 1 else ''}: {stats['computed']} computed, "
          f"{stats['cached']} from cache, {len(failures)} failed ({stats['executor']}, "
          f"{stats['seconds']:.1f} s); {_nulls_used(table)}"
          + (f"; wrote {args.csv}" if args.csv else ""))
    for failure in failures:
        error(f"graph {failure['graph']} ({failure['slug']}): {failure['error']}")
    return 1 if failures else 0


def register(subparsers: Any) -> None:
    """Add ``cgram motifs``."""
    from cgram.options import add_network_options, add_run_options

    p = subparsers.add_parser(
        "motifs", help="motif Z-scores and significance profiles of graphs",
        description="Count 3- or 4-node motifs in corpus graphs (or an edge list), compare with "
                    "null models, print Z-scores and significance profiles. Results are cached "
                    "in the corpus: a second run, or a run resumed after a crash, computes only "
                    "what is missing.")
    p.add_argument("slugs", nargs="*", metavar="SLUG|ID",
                   help="graphs to analyse (default: every graph of the corpus)")
    add_run_options(p, null=dict(choices=NULL_NAMES, default=None,
                                 help="null model (default: causal-config for an attribution "
                                      "graph with token positions, config-dag for another DAG, "
                                      "else config): " + ", ".join(NULL_NAMES)),
                    n_null=1000, quiet_help="no tables and no progress bar: the summary line only")
    p.add_argument("--edges", metavar="FILE",
                   help="analyse a plain edge list instead ('source target [sign_or_weight]' "
                        "per line, whitespace or commas, # comments)")
    add_network_options(p)
    p.add_argument("--csv", metavar="FILE",
                   help="write one row per graph x motif (graph, slug, motif, count, null_mean, "
                        "null_sd, z, p, sp, null_model, n_null, flags)")
    p.set_defaults(func=cmd_motifs)
