"""Fixtures of the report tests: a small corpus of seeded layered graphs in two
transcoder groups, a corpus holding one real export, and fast report settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corpus.graph import AttributionGraph, GraphMeta
from corpus.store import Corpus
from tests.conftest import SHARED_GRAPHS

#: Small but real settings: two nulls (one cyclic), few samples, serial.
FAST = dict(n_null=12, seed=0, executor="serial")
NULLS = ("config-dag", "config")
REAL_GRAPH = "IamKrill1n__circuit-tracer__dallas-austin-llamma.json"


def layered_graph(seed: int, slug: str, transcoder_type: str, task: str, n_pos: int = 3,
                  n_layers: int = 4, per_cell: int = 2, p_edge: float = 0.35,
                  shortcut: float = 0.0) -> AttributionGraph:
    """A seeded attribution graph: embeddings, features and one logit on a
    (layer, position) grid; edges go up in layer and never back in position,
    like a transformer's. ``shortcut`` adds, for that share of two-step paths
    a -> b -> c, the direct edge a -> c (planting feed-forward loops)."""
    rng = np.random.default_rng(seed)
    rows = [("embedding", -1, p, f"tok{p}") for p in range(n_pos)]
    rows += [("feature", layer, p, None) for layer in range(n_layers) for p in range(n_pos)
             for _ in range(per_cell)]
    rows.append(("logit", n_layers, n_pos - 1, "out"))
    kind = np.array([r[0] for r in rows])
    layer = np.array([r[1] for r in rows])
    pos = np.array([r[2] for r in rows])
    n = len(rows)
    allowed = (layer[:, None] < layer[None, :]) & (pos[:, None] <= pos[None, :])
    adj = allowed & (rng.random((n, n)) < p_edge)
    if shortcut:
        two_step = (adj.astype(int) @ adj.astype(int)) > 0
        adj |= two_step & allowed & (rng.random((n, n)) < shortcut)
    src, dst = np.nonzero(adj)
    weight = rng.normal(0, 1, src.size) + np.where(rng.random(src.size) < 0.8, 1.0, -1.0)
    feature = np.where(kind == "feature", np.arange(n), -1)
    nodes = pd.DataFrame({
        "node_id": [f"{k[0].upper()}_{i}_{p}" for i, (k, _, p, _) in enumerate(rows)],
        "kind": kind, "layer": layer, "pos": pos,
        "feature": pd.array([f if f >= 0 else None for f in feature.tolist()], dtype="Int64"),
        "token": [r[3] for r in rows],
        "label": [f"feature {i} L{layer[i]} p{pos[i]}" if kind[i] == "feature" else None
                  for i in range(n)],
    })
    meta = GraphMeta(slug=slug, model=f"toy-{transcoder_type}", transcoder_type=transcoder_type,
                     prompt=" ".join(f"tok{p}" for p in range(n_pos)),
                     prompt_tokens=[f"tok{p}" for p in range(n_pos)], n_layers=n_layers,
                     task=task)
    return AttributionGraph.from_arrays(nodes, src, dst, weight, meta)


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory) -> Corpus:
    """Six layered graphs: three "clt" with planted feed-forward loops, three "plt" without."""
    corpus = Corpus(tmp_path_factory.mktemp("toy-corpus"))
    for i in range(3):
        corpus.add(layered_graph(10 + i, f"clt-{i}", "clt", "recall" if i else "antonyms",
                                 shortcut=0.6, p_edge=0.2))
        corpus.add(layered_graph(20 + i, f"plt-{i}", "plt", "recall", p_edge=0.3))
    return corpus


@pytest.fixture(scope="session")
def real_corpus(tmp_path_factory) -> Corpus:
    """A corpus holding one real export: Gemma-2-2b, 60 nodes, 330 edges, labelled features."""
    from corpus.neuronpedia import read_json

    path = Path(SHARED_GRAPHS) / REAL_GRAPH
    if not path.exists():
        pytest.fail(f"missing the real graph {path} (set CGRAM_SHARED_GRAPHS)")
    corpus = Corpus(tmp_path_factory.mktemp("real-corpus"))
    corpus.add(read_json(path), task="multi-hop")
    return corpus
