"""``cgram zoo sweep`` in miniature: 2 kinds x 2 sparsities on the shipped
two_hop-llama LM (tiny cells: 64 features, 100 steps, 2 traced prompts), its
table, figure and statement, and resuming after a kill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.tracer.zoo.conftest import run_zoo_cli
from tracer.errors import TracerError
from tracer.zoo.sweep import run_sweep
from tracer.zoo.transcoder_recipe import TranscoderTraining

TINY = TranscoderTraining(n_features=64, k=2, steps=100, batch_size=128, lr=3e-3, dead_after=2000)
MINI = dict(world="two_hop", arch="llama", kinds=["plt", "clt"], ks=[2, 8], n_prompts=2,
            training=TINY, executor="serial")


def test_a_two_by_two_sweep_runs_in_under_a_minute(tmp_path):
    started = time.perf_counter()
    result = run_sweep(out=tmp_path, **MINI)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, elapsed
    table = result.table
    assert result.lm_dir.parent.name == "two_hop-llama"  # the shipped LM, not a new one
    assert sorted(result.computed) == [("clt", 2), ("clt", 8), ("plt", 2), ("plt", 8)]
    assert list(table["kind"]) == ["plt", "plt", "clt", "clt"] and list(table["k"]) == [2, 8, 2, 8]
    # TopK: exactly k features per token and layer
    assert table["l0"].tolist() == [2.0, 8.0, 2.0, 8.0]
    assert [c for c in table.columns if c.startswith("ev_layer_")] == [f"ev_layer_{i}" for i in range(4)]
    assert table["replacement_score"].between(0, 1).all() and table["completeness_score"].between(0, 1).all()
    assert (table["n_prompts"] == 2).all() and (table["graph_nodes"] > 0).all()
    # more active features reconstruct better, for both kinds
    for kind, group in table.groupby("kind"):
        low, high = group.sort_values("k")["explained_variance"].tolist()
        assert high > low, (kind, low, high)
    assert pd.read_csv(result.csv).shape == table.shape
    assert result.figure.stat().st_size > 10_000
    assert result.statement.count("leads") >= 3 and "k=2:" in result.statement
    again = run_sweep(out=tmp_path, **MINI)  # every cell cached now
    assert again.computed == [] and again.table.equals(table)


def test_a_killed_sweep_recomputes_only_the_missing_cells(tmp_path):
    script = (
        "import torch; torch.set_num_threads(1)\n"
        "from tests.tracer.zoo.test_sweep import MINI\n"
        "from tracer.zoo.sweep import run_sweep\n"
        f"run_sweep(out={str(tmp_path)!r}, **MINI)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.time() + 120
    while not list(tmp_path.glob("cells/*/result.json")) and time.time() < deadline:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    finished = {p.parent.name for p in tmp_path.glob("cells/*/result.json")}
    assert 1 <= len(finished) < 4
    result = run_sweep(out=tmp_path, **MINI)
    assert len(result.computed) == 4 - len(finished)
    assert set(result.table["config_hash"]) - finished == {
        result.table.set_index(["kind", "k"]).loc[key, "config_hash"] for key in result.computed}


def test_the_cli_rejects_bad_lists(tmp_path):
    with pytest.raises(TracerError, match="--transcoders"):
        run_zoo_cli("zoo", "sweep", "two_hop", "--transcoders", "plt,sae", "--out", str(tmp_path))
    with pytest.raises(TracerError, match="--k"):
        run_zoo_cli("zoo", "sweep", "two_hop", "--k", "2,x", "--out", str(tmp_path))


def test_the_cli_prints_the_table_and_copies_it_into_a_corpus(tmp_path, capsys):
    assert run_zoo_cli("zoo", "sweep", "two_hop", "--arch", "llama", "--transcoders", "plt",
                       "--k", "2", "--steps", "50", "--prompts", "1", "--executor", "serial",
                       "--out", str(tmp_path / "sweep"), "--corpus", str(tmp_path / "corpus"),
                       "--quiet") == 0
    out = capsys.readouterr().out
    assert "replacement_score" in out and "k=2: plt leads" in out and "CPU" in out
    copied = pd.read_csv(tmp_path / "corpus" / "transcoders" / "two_hop-llama.csv")
    assert copied.equals(pd.read_csv(tmp_path / "sweep" / "sweep.csv")) and len(copied) == 1
