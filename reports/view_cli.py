"""``cgram view``: write a graph's interactive explorer page (reports.view)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def load_cascades(path: str) -> list[dict[str, Any]]:
    """The cascade list of ``cgram cascades --json OUT`` (a JSON list of objects)."""
    from motifs.errors import MotifError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MotifError(f"--cascades {path}: cannot read cascades JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("cascades"), list):
        data = data["cascades"]
    if not isinstance(data, list) or not all(isinstance(c, dict) and "nodes" in c and "logit" in c
                                             for c in data):
        raise MotifError(f"--cascades {path}: expected a list of cascades with 'logit' and "
                         "'nodes' (cgram cascades --json)")
    return data


def load_graph(args: argparse.Namespace) -> Any:
    """The graph named by SLUG: a corpus graph, or a Neuronpedia JSON file path."""
    path = Path(args.slug)
    if path.suffix in (".json", ".gz") and path.is_file():
        from corpus.neuronpedia import read_json

        return read_json(path)
    from corpus.cli import open_corpus

    corpus = open_corpus(args, create=False)
    return corpus.load(corpus.resolve(args.slug))


def cmd_view(args: argparse.Namespace) -> int:
    from reports.view import write_view

    graph = load_graph(args)
    cascades = load_cascades(args.cascades) if args.cascades else None
    out = args.output or f"{graph.meta.slug or 'graph'}.html"
    path = write_view(graph, out, top_ffls=args.top, cascades=cascades,
                      cascades_per_logit=args.cascades_per_logit)
    print(path)
    return 0


def register(subparsers: Any) -> None:
    """Add ``cgram view``."""
    from cgram.options import add_corpus, int_at_least

    p = subparsers.add_parser(
        "view", help="write a graph's interactive explorer (one self-contained HTML file)",
        description="One HTML file, no server and no network: the graph drawn by token "
                    "position (x) and layer (y) on a canvas, hover tooltips, click for a "
                    "node's strongest edges, shift-click to pin and export the pins as "
                    "Neuronpedia JSON, a |weight| slider, node-kind toggles, and a motif "
                    "panel of the strongest feed-forward loops and of the strongest FFL "
                    "cascades to each logit. Drawn with d3 7.9.2 (ISC), vendored.")
    p.add_argument("slug", metavar="SLUG|ID|FILE",
                   help="a corpus graph (slug, id or id prefix) or a Neuronpedia JSON file")
    add_corpus(p)
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="the HTML file to write (default SLUG.html)")
    p.add_argument("--top", type=int_at_least(0), default=30, metavar="K",
                   help="strongest FFL instances in the motif panel (default 30)")
    p.add_argument("--cascades", metavar="JSON", default=None,
                   help="cascades to list (the output of cgram cascades --json; default: the "
                        "page finds the strongest per logit itself)")
    p.add_argument("--cascades-per-logit", type=int_at_least(0), default=3, metavar="K",
                   help="cascades found per logit when --cascades is not given (default 3; "
                        "0: none)")
    p.set_defaults(func=cmd_view)
