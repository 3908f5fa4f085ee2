"""Corpus store: add, dedupe, bit-exact load, queries, labels, atomicity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

from corpus.errors import CorpusError
from corpus.graph import AttributionGraph, GraphMeta
from corpus.store import Corpus
from tests.conftest import REPO


def synthetic_graph(seed: int, n_features: int = 30, slug: str | None = None) -> AttributionGraph:
    rng = np.random.default_rng(seed)
    n = n_features + 3
    nodes = pd.DataFrame({
        "node_id": ["E_1_0", "E_2_1"] + [f"{i % 2}_{i}_1" for i in range(n_features)] + ["2_5_1"],
        "kind": ["embedding"] * 2 + ["feature"] * n_features + ["logit"],
        "layer": [-1, -1] + [i % 2 for i in range(n_features)] + [2],
        "pos": [0, 1] + [1] * n_features + [1],
    })
    src, dst = np.nonzero(np.triu(rng.random((n, n)) < 0.3, 1))
    layer = nodes["layer"].to_numpy()
    keep = layer[src] < layer[dst]
    return AttributionGraph.from_arrays(
        nodes, src[keep], dst[keep], rng.normal(size=int(keep.sum())),
        GraphMeta(slug=slug or f"synthetic-{seed}", model="toy", n_layers=2, prompt=f"p{seed}"))


def test_all_real_graphs_load_back_bit_exact(tmp_path, real_graphs):
    corpus = Corpus(tmp_path / "c")
    ids = {name: corpus.add(g).graph_id for name, g in real_graphs.items()}
    assert len(corpus) == 17
    reopened = Corpus(tmp_path / "c", create=False)
    for name, graph in real_graphs.items():
        back = reopened.load(ids[name])
        pd.testing.assert_frame_equal(back.nodes, graph.nodes)
        assert back.src.tobytes() == graph.src.tobytes()
        assert back.dst.tobytes() == graph.dst.tobytes()
        assert back.weight.dtype == np.float32 and back.weight.tobytes() == graph.weight.tobytes()
        assert back.meta == graph.meta


def test_readding_same_content_is_a_noop_and_task_updates(tmp_path):
    corpus = Corpus(tmp_path)
    g = synthetic_graph(1)
    first = corpus.add(g)
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    second = corpus.add(synthetic_graph(1), task="recall")
    assert first.added and not second.added and first.graph_id == second.graph_id
    assert len(corpus) == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet")) == files
    assert corpus.load(first.graph_id).meta.task == "recall"


def test_queries_filter_by_metadata_and_prompt(tmp_path, real_graphs):
    corpus = Corpus(tmp_path)
    for name, g in real_graphs.items():
        corpus.add(g)
    assert len(corpus.list(transcoder_type="plt")) == 5
    assert len(corpus.list(model="gemma-2-2b", transcoder_type="clt")) == 10
    assert set(corpus.list(model="qwen3-0.6b")["slug"]) == {"qwen06-f-egypt", "qwen06-g-france"}
    assert corpus.list(scan="jackl-circuits-runs-1-4-sofa-v3_0")["slug"].tolist() == \
        ["capital-state-dallas"]
    dallas = corpus.list(prompt="dallas")
    assert len(dallas) >= 3 and dallas["prompt"].str.lower().str.contains("dallas").all()
    assert corpus.list(source="anthropic")["model"].tolist() == ["claude-3.5-haiku"]


def test_tables_are_readable_as_parquet_datasets(tmp_path):
    corpus = Corpus(tmp_path)
    a, b = corpus.add(synthetic_graph(1)), corpus.add(synthetic_graph(2))
    nodes = ds.dataset(tmp_path / "nodes", partitioning="hive").to_table().to_pandas()
    assert set(nodes["graph_id"].astype(str)) == {a.graph_id, b.graph_id}
    edges = pd.read_parquet(tmp_path / "edges")
    assert len(edges) == synthetic_graph(1).n_edges + synthetic_graph(2).n_edges
    graphs = pd.read_parquet(tmp_path / "graphs.parquet")
    assert graphs["slug"].tolist() == ["synthetic-1", "synthetic-2"]


def test_resolve_by_slug_id_and_prefix(tmp_path):
    corpus = Corpus(tmp_path)
    a = corpus.add(synthetic_graph(1))
    corpus.add(synthetic_graph(2, slug="synthetic-1"))  # same slug, other content
    assert corpus.resolve(a.graph_id) == a.graph_id
    assert corpus.resolve(a.graph_id[:8]) == a.graph_id
    with pytest.raises(CorpusError, match="slug 'synthetic-1' names 2 graphs"):
        corpus.resolve("synthetic-1")
    with pytest.raises(CorpusError, match="no graph 'nope'"):
        corpus.load("nope")


def test_remove_deletes_tables_and_results(tmp_path):
    corpus = Corpus(tmp_path)
    a, b = corpus.add(synthetic_graph(1)), corpus.add(synthetic_graph(2))
    corpus.write_result(a.graph_id, "triads", {"n_null": 10}, pd.DataFrame({"z": [1.0]}))
    corpus.remove("synthetic-1")
    assert corpus.list()["graph_id"].tolist() == [b.graph_id]
    assert not (tmp_path / "nodes" / f"graph_id={a.graph_id}").exists()
    assert corpus.read_result(a.graph_id, "triads", {"n_null": 10}) is None


def test_results_cache_is_keyed_by_method_and_params(tmp_path):
    corpus = Corpus(tmp_path)
    gid = corpus.add(synthetic_graph(1)).graph_id
    table = pd.DataFrame({"motif": ["030T", "021C"], "z": [3.5, -1.25]})
    corpus.write_result(gid, "motifs", {"null": "config", "n_null": 100}, table)
    pd.testing.assert_frame_equal(
        corpus.read_result(gid, "motifs", {"n_null": 100, "null": "config"}), table)
    assert corpus.read_result(gid, "motifs", {"null": "er", "n_null": 100}) is None


def test_task_labels_from_csv(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.add(synthetic_graph(1))
    corpus.add(synthetic_graph(2))
    csv = tmp_path / "tasks.csv"
    csv.write_text("slug,task\nsynthetic-1,recall\nsynthetic-2,arithmetic\n")
    assert corpus.label_tasks(csv) == 2
    assert corpus.list(task="arithmetic")["slug"].tolist() == ["synthetic-2"]
    assert corpus.load("synthetic-1").meta.task == "recall"
    bad = tmp_path / "bad.csv"
    bad.write_text("slug,task\nmissing-graph,recall\n")
    with pytest.raises(CorpusError, match="missing-graph"):
        corpus.label_tasks(bad)
    assert corpus.load("synthetic-1").meta.task == "recall"


def test_invalid_graph_is_not_added(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.add(synthetic_graph(1))
    g = synthetic_graph(2)
    g.weight[0] = np.nan
    with pytest.raises(CorpusError, match="non-finite weight"):
        corpus.add(g)
    assert corpus.list()["slug"].tolist() == ["synthetic-1"]


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from tests.corpus.test_store import synthetic_graph
    from corpus.store import Corpus
    corpus = Corpus(sys.argv[1])
    for seed in range(1000, 100000):
        corpus.add(synthetic_graph(seed, n_features=400))
        print(seed, flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.013, 0.031])
def test_sigkill_mid_import_leaves_every_earlier_graph(tmp_path, delay):
    root = tmp_path / "corpus"
    corpus = Corpus(root)
    base = [corpus.add(synthetic_graph(s)).graph_id for s in range(3)]
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(REPO)))
    proc = subprocess.Popen([sys.executable, str(script), str(root)], stdout=subprocess.PIPE,
                            text=True)
    confirmed = []
    deadline = time.time() + 60
    while len(confirmed) < 3 and time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        confirmed.append(int(line))
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(confirmed) == 3, "writer did not get going"
    reopened = Corpus(root)
    table = reopened.list()
    assert set(base) <= set(table["graph_id"])
    assert {f"synthetic-{s}" for s in confirmed} <= set(table["slug"])
    for graph_id in table["graph_id"]:
        reopened.load(graph_id).validate()
    # the next writer cleans any half-written files and works normally
    reopened.add(synthetic_graph(7))
    on_disk = {p.name for p in (root / "nodes").iterdir()}
    assert on_disk == {f"graph_id={g}" for g in reopened.list()["graph_id"]}
    assert not list(root.rglob("*.tmp"))


def test_corrupt_graphs_table_is_reported(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.add(synthetic_graph(1))
    (tmp_path / "graphs.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(CorpusError, match="unreadable graphs table"):
        Corpus(tmp_path).list()


def test_missing_corpus_is_an_error_when_not_creating(tmp_path):
    with pytest.raises(CorpusError, match="no corpus here"):
        Corpus(tmp_path / "absent", create=False)
    assert not Path(tmp_path / "absent").exists()
