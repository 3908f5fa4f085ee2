"""Synthetic attribution graphs whose sizes follow real ones, for corpus-scale benchmarks.

Each synthetic graph copies the shape of a real graph drawn at random (a
"template"): its nodes are the template's nodes resampled with replacement
within each kind (so the numbers of embeddings, features, errors and logits
are kept, and each resampled node brings its layer, position and in/out
degree), and its edges keep the template's number of edges between each
(source layer, target layer) pair, each endpoint drawn within its layer with
probability proportional to the resampled node's degree (a Chung-Lu graph per
layer pair). Weights are resampled from the template's. Repeats are drawn
again (candidates are oversampled and the first distinct ones kept), so a
graph has its template's edge count unless a layer pair is nearly full, and
every edge is oriented up a node order (layer, then position), so graphs are
acyclic like real attribution graphs.

Usage (as a module): ``synthetic_graphs(templates, n_graphs, seed)`` or
``build_corpus(root, n_graphs, seed)``; from the shell:
``python benchmarks/synthetic_corpus.py DIR --graphs 200``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from corpus.graph import AttributionGraph, GraphMeta  # noqa: E402

#: Candidate edges drawn per template edge, so that merging repeats still leaves enough.
OVERSAMPLE = 3

#: The real exports whose shapes the synthetic graphs follow.
REAL_GRAPHS = REPO.parent / "shared" / "data" / "neuronpedia"


def real_templates(folder: Path = REAL_GRAPHS) -> list[AttributionGraph]:
    """The real graphs of ``folder`` (Neuronpedia JSON), sorted by file name."""
    from corpus.neuronpedia import read_json

    files = sorted(folder.glob("*.json"))
    if not files:
        raise SystemExit(f"no graph JSON files in {folder}")
    return [read_json(path) for path in files]


def _draw_within_groups(group_of_node: np.ndarray, node_weight: np.ndarray,
                        edge_group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each edge, a node of group ``edge_group[e]`` drawn with probability ∝ weight."""
    order = np.argsort(group_of_node, kind="stable")
    cum = np.cumsum(node_weight[order])
    groups, first = np.unique(group_of_node[order], return_index=True)
    before = np.concatenate([[0.0], cum])[first]  # cumulative weight before each group
    total = np.concatenate([before[1:], [cum[-1]]]) - before
    g = np.searchsorted(groups, edge_group)
    target = before[g] + rng.random(edge_group.size) * total[g]
    pick = np.searchsorted(cum, target, side="right")
    # float round-off can land one past the group's last node; clip into the group
    last = np.concatenate([first[1:], [order.size]]) - 1
    return order[np.minimum(pick, last[g])]


def synthetic_graph(template: AttributionGraph, index: int,
                    rng: np.random.Generator) -> AttributionGraph:
    """One synthetic graph with ``template``'s size, kinds, layers and degree profile."""
    nodes = template.nodes
    src, dst, weight = template.merged_edges()
    n = template.n_nodes
    out_deg = np.bincount(src, minlength=n)
    in_deg = np.bincount(dst, minlength=n)
    kind = nodes["kind"].to_numpy(dtype=object)
    # resample node rows within each kind: kind counts are kept exactly
    picked = np.concatenate([rng.choice(np.flatnonzero(kind == k), size=int((kind == k).sum()))
                             for k in pd.unique(kind)])
    layer = nodes["layer"].to_numpy()[picked]
    # +0.5: a layer whose resampled nodes all had degree 0 can still receive its edges
    new_out = out_deg[picked] + 0.5
    new_in = in_deg[picked] + 0.5
    # each template edge gets OVERSAMPLE candidates; per (source layer, target layer) pair the
    # first distinct candidates up to the template's edge count are kept (repeats are merged)
    pair, pair_of_edge = np.unique(np.column_stack([nodes["layer"].to_numpy()[src],
                                                    nodes["layer"].to_numpy()[dst]]),
                                   axis=0, return_inverse=True)
    quota = np.bincount(pair_of_edge.ravel(), minlength=len(pair))
    group = np.repeat(pair_of_edge.ravel(), OVERSAMPLE)
    new_src = _draw_within_groups(layer, new_out, pair[group, 0], rng)
    new_dst = _draw_within_groups(layer, new_in, pair[group, 1], rng)
    # attribution graphs are acyclic: orient every edge up a node order (layer, position, random)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((rng.random(n), nodes["pos"].to_numpy()[picked], layer))] = np.arange(n)
    backward = rank[new_src] > rank[new_dst]
    new_src, new_dst = np.where(backward, new_dst, new_src), np.where(backward, new_src, new_dst)
    key = new_src.astype(np.int64) * n + new_dst
    distinct = np.zeros(key.size, dtype=bool)
    distinct[np.unique(key, return_index=True)[1]] = True
    distinct &= new_src != new_dst
    candidates = np.flatnonzero(distinct)
    by_group = candidates[np.argsort(group[candidates], kind="stable")]
    g = group[by_group]
    starts = np.searchsorted(g, g, side="left")
    chosen = by_group[np.arange(g.size) - starts < quota[g]]
    new_weight = rng.choice(weight, size=chosen.size)
    order = np.argsort(key[chosen], kind="stable")
    chosen, new_weight = chosen[order], new_weight[order]
    kinds = kind[picked]
    table = pd.DataFrame({
        "node_id": [f"{k[0]}{i}_{l}" for i, (k, l) in enumerate(zip(kinds, layer))],
        "kind": kinds,
        "layer": layer,
        "pos": nodes["pos"].to_numpy()[picked],
    })
    meta = GraphMeta(
        slug=f"synthetic-{index:04d}-{template.meta.slug}"[:80], model=template.meta.model,
        scan=template.meta.scan, transcoder_type=template.meta.transcoder_type,
        prompt=f"synthetic graph {index} shaped like {template.meta.slug}",
        n_layers=template.meta.n_layers, source="file",
    )
    return AttributionGraph.from_arrays(table, new_src[chosen], new_dst[chosen], new_weight, meta)


def synthetic_graphs(templates: Sequence[AttributionGraph], n_graphs: int,
                     seed: int = 0) -> Iterator[AttributionGraph]:
    """``n_graphs`` synthetic graphs, each shaped like a template drawn at random."""
    rng = np.random.default_rng(seed)
    for index in range(n_graphs):
        template = templates[int(rng.integers(len(templates)))]
        yield synthetic_graph(template, index, rng)


def build_corpus(root: Path, n_graphs: int, seed: int = 0,
                 templates: Sequence[AttributionGraph] | None = None) -> list[str]:
    """Write ``n_graphs`` synthetic graphs into the corpus at ``root``; their graph ids."""
    from corpus.store import Corpus

    corpus = Corpus(root)
    templates = templates if templates is not None else real_templates()
    return [corpus.add(g).graph_id for g in synthetic_graphs(templates, n_graphs, seed)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="corpus directory to create or extend")
    parser.add_argument("--graphs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ids = build_corpus(args.root, args.graphs, args.seed)
    print(f"{len(ids)} synthetic graphs in {args.root}")


if __name__ == "__main__":
    main()
