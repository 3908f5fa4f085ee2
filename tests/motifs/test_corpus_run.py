"""Corpus-scale motif runs: identical on every executor, exact block merges, cached, resumable."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corpus.graph import AttributionGraph, GraphMeta
from corpus.store import Corpus
from motifs import corpus_run
from motifs.analysis import motif_profile
from motifs.corpus_run import (
    NULL_COUNTS_METHOD,
    PROFILE_METHOD,
    BlockTask,
    MotifParams,
    compute_null_block,
    count_null_block,
    null_blocks,
    profile_from_blocks,
    run_motifs,
)
from motifs.errors import MotifError
from motifs.network import Network
from tests.conftest import SHARED_GRAPHS

DALLAS_SMALL = SHARED_GRAPHS / "IamKrill1n__circuit-tracer__dallas-austin-llamma.json"


def random_layered_graph(seed: int, n_nodes: int = 50, n_edges: int = 250,
                         n_layers: int = 4) -> AttributionGraph:
    """A seeded random layered DAG shaped like a small attribution graph."""
    rng = np.random.default_rng(seed)
    layer = np.sort(rng.integers(0, n_layers, n_nodes))
    layer[:5], layer[-3:] = -1, n_layers
    kind = np.where(layer < 0, "embedding", np.where(layer == n_layers, "logit", "feature"))
    src, dst = rng.integers(0, n_nodes, (2, 4 * n_edges))
    forward = layer[src] < layer[dst]
    key = np.unique(src[forward] * n_nodes + dst[forward])[:n_edges]
    nodes = pd.DataFrame({"node_id": [f"n{i}" for i in range(n_nodes)], "kind": kind,
                          "layer": layer, "pos": 0})
    return AttributionGraph.from_arrays(nodes, key // n_nodes, key % n_nodes,
                                        rng.normal(size=key.size),
                                        GraphMeta(slug=f"rand-{seed}", n_layers=n_layers))


def build_corpus(root: Path, n_small: int = 3) -> Corpus:
    """``n_small`` random graphs of ~100 edges, then ``rand-big`` of ~250 edges."""
    corpus = Corpus(root)
    for seed in range(n_small):
        corpus.add(random_layered_graph(seed, n_nodes=30, n_edges=100))
    big = random_layered_graph(99)
    big.meta.slug = "rand-big"
    corpus.add(big)
    return corpus


@pytest.fixture(scope="module")
def base_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("motif-corpus") / "c"
    build_corpus(root)
    return root


@pytest.fixture
def small_blocks(monkeypatch):
    """Block layout for tests: 24 null samples of the ~250-edge graph in 3 blocks."""
    from motifs import analysis

    # the block layout lives in motifs.analysis (motif_profile and corpus runs share it)
    monkeypatch.setattr(analysis, "MIN_BLOCK_SAMPLES", 8)
    monkeypatch.setattr(analysis, "BLOCK_EDGE_SAMPLES", 2400)


def fresh_copy(base: Path, dest: Path) -> Corpus:
    """A copy of a corpus without its cached results."""
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("results"))
    return Corpus(dest)


def test_serial_pool_and_dask_runs_give_identical_tables(base_corpus, tmp_path, small_blocks):
    edges = Corpus(base_corpus).list().set_index("slug")["n_edges"]
    assert [len(null_blocks(m, 24)) for m in edges] == [1, 1, 1, 3]
    runs = {}
    for spec, kw in (("serial", {}), ("pool", {"jobs": 2}),
                     ("dask-local", {"jobs": 2, "dask_processes": False})):
        corpus = fresh_copy(base_corpus, tmp_path / spec)
        runs[spec] = run_motifs(corpus, n_null=24, executor=spec, **kw)
        assert runs[spec].attrs["computed"] == 4 and runs[spec].attrs["failures"] == []
    pd.testing.assert_frame_equal(runs["serial"], runs["pool"])
    pd.testing.assert_frame_equal(runs["serial"], runs["dask-local"])
    table = runs["serial"]
    assert len(table) == 4 * 13 and set(table["null_model"]) == {"causal-config"}
    assert (table["n_null"] == 24).all()
    # the big graph ran in 3 blocks, whose raw null counts are cached beside its profile
    big = Corpus(tmp_path / "serial").resolve("rand-big")
    assert len(list((tmp_path / "serial" / "results" / NULL_COUNTS_METHOD)
                    .glob(f"{big}-*.parquet"))) == 3
    assert len(list((tmp_path / "serial" / "results" / NULL_COUNTS_METHOD).glob("*"))) == 3


def test_corpus_blocks_and_motif_profile_share_one_seeding_and_assembly():
    """Issue 19: a corpus run's blocks of a network, under its network id, give
    exactly motif_profile's table for the same run seed (one block or three)."""
    from corpus.neuronpedia import read_json
    from motifs.corpus_run import network_id

    net = Network.from_graph(read_json(DALLAS_SMALL))
    for null in (None, "config-dag"):
        params = MotifParams(null, 40, 3, False, 7)
        block = compute_null_block(BlockTask(network_id(net), net, params, 0, 0, 40))
        merged = profile_from_blocks([block], 3, False)
        expected = motif_profile(net, null=null, n_null=40, seed=7)
        assert set(expected["null_model"]) == {null or "causal-config"}
        pd.testing.assert_frame_equal(merged, expected)


def test_split_blocks_merge_to_the_statistics_of_all_samples():
    net = Network.from_graph(random_layered_graph(5, n_nodes=30, n_edges=100))
    params = MotifParams("config-dag", 20, 3, False, 0)
    blocks = [compute_null_block(BlockTask("g", net, params, b, first, n))
              for b, (first, n) in enumerate([(0, 7), (7, 7), (14, 6)])]
    merged = profile_from_blocks(blocks[::-1], 3, False).set_index("motif")  # any order
    codes = list(merged.index)
    per_block = [b[b["sample"] >= 0][codes].to_numpy(dtype=np.float64) for b in blocks]
    # pooled from per-block sums and sums of squares, independently of the merge
    total = sum(x.sum(axis=0) for x in per_block)
    squares = sum((x ** 2).sum(axis=0) for x in per_block)
    mean = total / 20
    sd = np.sqrt((squares - 20 * mean ** 2) / 19)
    np.testing.assert_allclose(merged["null_mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(merged["null_sd"], sd, rtol=1e-9, atol=1e-9)
    varying = sd > 0
    z = (merged["count"].to_numpy() - mean) / np.where(varying, sd, 1)
    np.testing.assert_allclose(merged["z"].to_numpy()[varying], z[varying], rtol=1e-9)
    # the two-sided p-value counts samples of all blocks against the pooled mean
    stacked = np.vstack(per_block)
    far = np.abs(stacked - mean) >= np.abs(merged["count"].to_numpy() - mean) - 1e-9
    np.testing.assert_allclose(merged["p"], (far.sum(axis=0) + 1) / 21)
    assert (merged["n_null"] == 20).all()
    # the blocks drew different samples (distinct seeds), not one block three times
    assert not np.array_equal(per_block[0], per_block[1][:7])


def test_second_run_answers_from_cache_and_new_parameters_recompute(base_corpus, tmp_path):
    corpus = fresh_copy(base_corpus, tmp_path / "c")
    first = run_motifs(corpus, keys=["rand-1", "rand-0"], n_null=12, executor="serial")
    again = run_motifs(corpus, keys=["rand-1", "rand-0"], n_null=12, executor="serial")
    assert (first.attrs["computed"], again.attrs["computed"], again.attrs["cached"]) == (2, 0, 2)
    pd.testing.assert_frame_equal(first, again)
    assert first["slug"].unique().tolist() == ["rand-1", "rand-0"]  # in the order asked
    other_seed = run_motifs(corpus, keys=["rand-0"], n_null=12, seed=1, executor="serial")
    assert other_seed.attrs["computed"] == 1
    assert not np.allclose(other_seed["null_mean"], first.loc[first["slug"] == "rand-0",
                                                              "null_mean"])


def test_malformed_graph_fails_its_own_task_only(base_corpus, tmp_path):
    corpus = fresh_copy(base_corpus, tmp_path / "c")
    bad_id = corpus.resolve("rand-1")
    (tmp_path / "c" / "edges" / f"graph_id={bad_id}" / "part-0.parquet").write_bytes(b"garbage")
    table = run_motifs(corpus, n_null=10, executor="serial")
    failures = table.attrs["failures"]
    assert [(f["graph"], f["slug"]) for f in failures] == [(bad_id, "rand-1")]
    assert failures[0]["error"].startswith("CorpusError:") and "unreadable" in failures[0]["error"]
    assert table["slug"].unique().tolist() == ["rand-0", "rand-2", "rand-big"]
    assert not list((tmp_path / "c" / "results" / PROFILE_METHOD).glob(f"{bad_id}-*"))


@pytest.mark.parametrize("n_deleted", [2, 0])
def test_resume_after_a_kill_mid_graph_computes_only_missing_blocks(base_corpus, tmp_path,
                                                                    small_blocks, monkeypatch,
                                                                    n_deleted):
    """A run killed after two of a graph's four blocks resumes with the other two; one
    killed after its last block but before the merge (every block cached, no profile)
    merges the cached blocks and computes nothing."""
    corpus = fresh_copy(base_corpus, tmp_path / "c")
    full = run_motifs(corpus, keys=["rand-big"], n_null=32, executor="serial")
    # what a run killed after 4 - n_deleted of its four blocks, before the merge, leaves
    results = tmp_path / "c" / "results"
    for path in (results / PROFILE_METHOD).glob("*.parquet"):
        path.unlink()
    blocks = sorted((results / NULL_COUNTS_METHOD).glob("*.parquet"))
    assert len(blocks) == 4
    for path in blocks[:n_deleted]:
        path.unlink()
    params, graph_id = MotifParams(None, 32, 3, False, 0), corpus.resolve("rand-big")
    deleted = [b for b in range(4) if corpus.read_result(
        graph_id, NULL_COUNTS_METHOD, params.block_key(b, 4)) is None]
    assert len(deleted) == n_deleted
    calls = []

    def counting(task):
        calls.append(task.block)
        return count_null_block(task)

    monkeypatch.setattr(corpus_run, "count_null_block", counting)
    resumed = run_motifs(corpus, keys=["rand-big"], n_null=32, executor="serial")
    missing = [b for b in range(4) if corpus.read_result(
        graph_id, NULL_COUNTS_METHOD, params.block_key(b, 4)) is None]
    assert missing == [] and sorted(calls) == deleted and resumed.attrs["computed"] == 1
    pd.testing.assert_frame_equal(resumed, full)


@pytest.mark.parametrize("kwargs, message", [
    ({"null": "rewire"}, "unknown null model 'rewire'"),
    ({"n_null": 1}, "n_null must be at least 2"),
    ({"size": 5}, "size must be 3 or 4"),
    ({"size": 4, "signed": True}, "use size 3 with signed"),
    ({"seed": -1}, "seed must be non-negative"),
    ({"min_abs_weight": -0.5}, "min_abs_weight must be a non-negative"),
    ({"top_k": 0}, "top_k must be a positive"),
])
def test_bad_parameters_are_clear_errors(base_corpus, kwargs, message):
    with pytest.raises(MotifError, match=message):
        run_motifs(Corpus(base_corpus, create=False), executor="serial", **kwargs)


def test_network_filters_change_the_cache_key_and_the_counts(base_corpus, tmp_path):
    from motifs.census import triad_census

    corpus = fresh_copy(base_corpus, tmp_path / "c")
    table = run_motifs(corpus, keys=["rand-big"], n_null=6, top_k=120, executor="serial")
    census = triad_census(Network.from_graph(corpus.load("rand-big"), top_k=120))
    counts = table.set_index("motif")["count"]
    assert counts["030T"] == census["030T"] and counts["021C"] == census["021C"]
    unfiltered = run_motifs(corpus, keys=["rand-big"], n_null=6, executor="serial")
    assert unfiltered.attrs["computed"] == 1
    assert unfiltered.set_index("motif")["count"]["030T"] > counts["030T"]


def test_largest_graphs_are_scheduled_first_and_the_table_keeps_the_order_asked(
        base_corpus, tmp_path, monkeypatch):
    corpus = fresh_copy(base_corpus, tmp_path / "c")
    order = []

    def recording(task):
        order.append(task.graph_id)
        return count_null_block(task)

    monkeypatch.setattr(corpus_run, "count_null_block", recording)
    table = run_motifs(corpus, keys=["rand-0", "rand-big"], n_null=6, executor="serial")
    assert order == [corpus.resolve("rand-big"), corpus.resolve("rand-0")]
    assert table["slug"].unique().tolist() == ["rand-0", "rand-big"]


def test_default_pool_runs_share_one_set_of_workers(base_corpus, tmp_path, small_blocks):
    """Issue #15: a report's several run_motifs calls start the workers once."""
    corpus = fresh_copy(base_corpus, tmp_path / "shared")
    first = run_motifs(corpus, n_null=24, executor="pool", jobs=2)
    workers = set(corpus_run._shared_pool(2)._pool._processes)
    second = run_motifs(corpus, n_null=24, null="config", executor="pool", jobs=2)
    assert first.attrs["executor"] == second.attrs["executor"] == "pool of 2 processes"
    assert second.attrs["computed"] == 4 and workers
    assert set(corpus_run._shared_pool(2)._pool._processes) == workers
