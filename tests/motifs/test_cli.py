"""``cgram motifs``: tables, CSV, cache, edge lists, and a run resumed after SIGKILL."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cgram.cli import main
from corpus.store import Corpus
from motifs.cli import NULL_NAMES, SHOWN_COLUMNS, read_edge_list
from motifs.errors import MotifError
from tests.motifs.test_corpus_run import random_layered_graph

REPO = Path(__file__).resolve().parents[2]
CSV_COLUMNS = {"graph", "slug", "motif", "count", "null_mean", "null_sd", "z", "p", "sp",
               "null_model", "n_null", "n_excluded"}


def small_corpus(root: Path, n_graphs: int) -> Path:
    corpus = Corpus(root)
    for seed in range(n_graphs):
        corpus.add(random_layered_graph(seed, n_nodes=30, n_edges=100))
    return root


def test_null_names_are_the_null_models_of_the_engine():
    from motifs.nulls import NULL_MODELS

    assert set(NULL_NAMES) == set(NULL_MODELS)


def test_motifs_help_starts_without_heavy_imports():
    code = "import sys, cgram.cli as c; c.build_parser(); print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    loaded = set(eval(out))  # noqa: S307 - our own printed list
    assert "motifs.cli" in loaded
    assert not loaded & {"numpy", "pandas", "scipy", "igraph", "torch", "dask"}
    help_text = subprocess.run([sys.executable, "-m", "cgram.cli", "motifs", "--help"],
                               capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert "--executor KIND" in help_text and "dask://HOST:PORT" in help_text


def test_table_csv_and_second_run_from_cache(tmp_path, capsys):
    root = small_corpus(tmp_path / "c", 2)
    csv = tmp_path / "profiles.csv"
    args = ["motifs", "--corpus", str(root), "--n-null", "16", "--executor", "serial"]
    assert main(args + ["--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert out.count("null causal-config (default: a causal graph with token positions), "
                     "16 samples;") == 2
    assert "2 graphs: 2 computed, 0 from cache, 0 failed (serial" in out
    assert "; null causal-config" in out.splitlines()[-1]
    table = pd.read_csv(csv, keep_default_na=False)
    assert CSV_COLUMNS <= set(table.columns)
    assert len(table) == 2 * 13 and set(table["slug"]) == {"rand-0", "rand-1"}
    # the printed counts are the CSV's: FFL row of rand-0
    ffl = table[(table["slug"] == "rand-0") & (table["motif"] == "030T")].iloc[0]
    from motifs.census import triad_census
    from motifs.network import Network

    expected = triad_census(Network.from_graph(Corpus(root).load("rand-0")))["030T"]
    assert ffl["count"] == expected and ffl["name"] == "ffl"
    assert main(args + ["rand-1", "-q"]) == 0
    assert "1 graph: 0 computed, 1 from cache, 0 failed" in capsys.readouterr().out


def test_signed_and_size_four_motif_names(tmp_path):
    root = small_corpus(tmp_path / "c", 1)
    signed, four = tmp_path / "signed.csv", tmp_path / "four.csv"
    base = ["motifs", "--corpus", str(root), "--n-null", "8", "--executor", "serial", "-q"]
    assert main(base + ["--signed", "--csv", str(signed)]) == 0
    motifs = pd.read_csv(signed)["motif"].tolist()
    assert motifs[:8] == [f"ffl_{t}{i}" for t in "CI" for i in range(1, 5)]
    assert main(base + ["--size", "4", "--csv", str(four)]) == 0
    table = pd.read_csv(four)
    assert len(table) == 199 and {"bifan", "biparallel", "feedback4"} <= set(table["motif"])
    assert table["motif"].str.fullmatch(r"m4_\d+|bifan|biparallel|feedback4").all()


EDGE_LIST = """\
# a toy regulatory network: names are strings, fields split by spaces or commas
crp   lacZ  +1
crp,  lacY, +1
lacZ  lacY  -1   # a comment after an edge
lacY  crp   +1
galS, galE, -1
crp   galS  +1
crp   galE  +1
"""


def test_edge_list_file_is_profiled_like_any_network(tmp_path, capsys):
    import networkx as nx

    path = tmp_path / "grn.txt"
    path.write_text(EDGE_LIST)
    csv = tmp_path / "grn.csv"
    assert main(["motifs", "--edges", str(path), "--n-null", "20", "--executor", "serial",
                 "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "grn.txt: 5 nodes, 7 edges, signed" in out
    assert "null config (default: the graph has cycles), 20 samples" in out
    table = pd.read_csv(csv, keep_default_na=False).set_index("motif")
    graph = nx.DiGraph([line.replace(",", " ").split()[:2] for line in EDGE_LIST.splitlines()
                        if line and not line.startswith("#")])
    census = nx.triadic_census(graph)
    assert {m: int(table.loc[m, "count"]) for m in table.index} == \
        {m: census[m] for m in table.index}
    # by hand: FFL crp->galS->galE; crp<->lacY with crp->lacZ->lacY; crp<->lacY with an edge
    # out to galS, to galE; crp fanning out to lacZ and galS, to lacZ and galE
    assert {m: int(table.loc[m, "count"]) for m in ("030T", "120C", "111U", "021D", "030C")} == \
        {"030T": 1, "120C": 1, "111U": 2, "021D": 2, "030C": 0}


@pytest.mark.parametrize("null", [None, "config", "er"])
def test_cli_edges_and_motif_profile_give_equal_z_for_one_seed(tmp_path, null):
    """Issue 19: ``cgram motifs --edges FILE --seed S`` and ``motif_profile(net, seed=S)``
    share one seeding and one profile assembly."""
    from motifs.analysis import motif_profile

    # a random digraph, so that the null varies with the seed (the toy network above has
    # two graphs with its degrees and mutual dyad, and they share a census)
    rng = np.random.default_rng(3)
    pairs = {(int(u), int(v)) for u, v in rng.integers(0, 12, size=(40, 2)) if u != v}
    path = tmp_path / "grn.txt"
    path.write_text("".join(f"g{u} g{v}\n" for u, v in sorted(pairs)))
    csv = tmp_path / "grn.csv"
    extra = [] if null is None else ["--null", null]
    assert main(["motifs", "--edges", str(path), "--n-null", "30", "--seed", "5", "-q",
                 "--executor", "serial", "--csv", str(csv)] + extra) == 0
    cli = pd.read_csv(csv, dtype={"motif": str})
    api = motif_profile(read_edge_list(path), null=null, n_null=30, seed=5)
    assert cli["motif"].tolist() == api["motif"].tolist()
    np.testing.assert_array_equal(cli["z"].to_numpy(dtype=float), api["z"].to_numpy(dtype=float))
    np.testing.assert_array_equal(cli["null_mean"].to_numpy(dtype=float),
                                  api["null_mean"].to_numpy(dtype=float))
    other = motif_profile(read_edge_list(path), null=null, n_null=30, seed=6)
    assert not np.array_equal(other["null_mean"].to_numpy(), api["null_mean"].to_numpy())


def test_edge_list_table_under_a_fixed_topology_null_is_the_hand_count(tmp_path, capsys):
    """The sign null keeps the topology: every null count is the real one (the hand
    counts above), SD 0, no Z, p = 1; the layout is pandas' ``to_string``."""
    path = tmp_path / "grn.txt"
    path.write_text(EDGE_LIST)
    assert main(["motifs", "--edges", str(path), "--null", "sign", "--n-null", "4"]) == 0
    assert """\
motif    name  count null_mean null_sd z p sp tied_to
 021D fan_out      2       2.0    0.00 - 1  -        
 030T     ffl      1       1.0    0.00 - 1  -        
 111U    111U      2       2.0    0.00 - 1  -        
 120C    120C      1       1.0    0.00 - 1  -        
(9 classes absent from the graph and every null sample not shown)
""" in capsys.readouterr().out


def test_edge_list_table_and_csv_are_those_of_the_dataframe_api(tmp_path, capsys):
    """``--edges`` prints and writes numpy columns without pandas: the text is pandas'
    ``to_string`` of :func:`profile_network`'s DataFrame, formatted as the command did
    before, and the CSV holds its ``to_csv`` values."""
    from motifs.corpus_run import profile_network

    rng = np.random.default_rng(4)
    pairs = {(int(u), int(v)) for u, v in rng.integers(0, 14, size=(60, 2)) if u != v}
    path = tmp_path / "grn.txt"
    path.write_text("".join(f"g{u} g{v}\n" for u, v in sorted(pairs)))
    csv = tmp_path / "grn.csv"
    assert main(["motifs", "--edges", str(path), "--null", "config", "--n-null", "30",
                 "--seed", "5", "--executor", "serial", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    api = profile_network(read_edge_list(path), "grn.txt", null="config", n_null=30, seed=5,
                          executor="serial")
    pd.testing.assert_frame_equal(pd.read_csv(csv, keep_default_na=False),
                                  pd.read_csv(io.StringIO(api.to_csv(index=False)),
                                              keep_default_na=False))
    shown = api.loc[(api["count"] > 0) | (api["null_mean"] > 0), list(SHOWN_COLUMNS)]
    shown = shown.rename(columns={"dependent_on": "tied_to"})
    for col, digits in (("null_mean", 1), ("null_sd", 2), ("z", 2), ("sp", 3)):
        shown[col] = [("-" if not np.isfinite(v) else f"{v:.{digits}f}") for v in shown[col]]
    shown["p"] = [f"{v:.3g}" for v in shown["p"]]
    assert (shown["tied_to"] != "").any() and (shown["tied_to"] == "").any()
    assert shown.to_string(index=False) + "\n(" in out


def test_edge_list_signs_weights_and_names():
    net = read_edge_list_text("a b 0.5\nb c -2\nc a 0\na a 3\n")
    assert net.names.tolist() == ["a", "b", "c"]
    assert net.n_edges == 3  # the self-loop a->a is dropped
    # a weight of 0 gives no sign: 0 (unknown), never +1 (issue #15)
    assert net.weight.tolist() == [0.5, -2.0, 0.0] and net.sign.tolist() == [1, -1, 0]
    unsigned = read_edge_list_text("x,y\ny,z\n")
    assert unsigned.sign is None and unsigned.n_edges == 2


def read_edge_list_text(text: str, tmp=Path(os.environ.get("TMPDIR", "/tmp"))):
    path = tmp / f"cgram-edges-{os.getpid()}.txt"
    path.write_text(text)
    try:
        return read_edge_list(path)
    finally:
        path.unlink()


@pytest.mark.parametrize("text, message", [
    ("a b\nc\n", r"edges\.txt:2: expected 'source target \[sign_or_weight\]', found 1 field"),
    ("a b 1 2\n", r"edges\.txt:1: expected .* found 4 fields"),
    ("# header\na b 1\nb c\n", r"edges\.txt:3: has 2 fields but line 2 has 3"),
    ("a b 1\nb c strong\n", r"edges\.txt:2: third field 'strong' is not a finite number"),
    ("a b inf\n", r"edges\.txt:1: third field 'inf' is not a finite number"),
    ("a b 1_000\n", r"edges\.txt:1: third field '1_000' is not a finite number"),
    ("# nothing\n\n", r"edges\.txt: no edges"),
])
def test_edge_list_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "edges.txt"
    path.write_text(text)
    with pytest.raises(MotifError, match=message):
        read_edge_list(path)


def test_bad_invocations_are_clear_errors(tmp_path, capsys):
    root = small_corpus(tmp_path / "c", 1)
    assert main(["motifs", "--corpus", str(root), "nope", "--executor", "serial"]) == 1
    assert "no graph 'nope'" in capsys.readouterr().err
    assert main(["motifs", "--corpus", str(root), "rand-0", "--edges", "x.txt"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["motifs", "--edges", "x.txt", "--top-k", "5"]) == 1
    assert "do not apply to --edges" in capsys.readouterr().err
    assert main(["motifs", "--edges", str(tmp_path / "absent.txt")]) == 1
    assert "absent.txt: cannot read the edge list" in capsys.readouterr().err


def test_run_killed_by_sigkill_resumes_with_only_the_missing_graphs(tmp_path, capsys):
    n_graphs = 8
    root = small_corpus(tmp_path / "c", n_graphs)
    shutil.copytree(root, tmp_path / "clean")  # same graphs, never interrupted
    cmd = [sys.executable, "-m", "cgram.cli", "motifs", "--corpus", str(root), "--n-null", "64",
           "--executor", "serial", "-q"]
    profiles = root / "results" / "motif_profile"
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list(profiles.glob("*.parquet"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run produced no results"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = len(list(profiles.glob("*.parquet")))
    assert 2 <= done < n_graphs
    for path in (root / "results").rglob("*.parquet"):  # nothing half-written
        assert pq.ParquetFile(path).metadata.num_rows > 0
    resumed_csv, clean_csv = tmp_path / "resumed.csv", tmp_path / "clean.csv"
    args = ["--n-null", "64", "--executor", "serial", "-q"]
    assert main(["motifs", "--corpus", str(root), "--csv", str(resumed_csv)] + args) == 0
    assert (f"{n_graphs} graphs: {n_graphs - done} computed, {done} from cache, 0 failed"
            in capsys.readouterr().out)
    assert main(["motifs", "--corpus", str(tmp_path / "clean"), "--csv", str(clean_csv)]
                + args) == 0
    pd.testing.assert_frame_equal(pd.read_csv(resumed_csv), pd.read_csv(clean_csv))
    assert np.isfinite(pd.read_csv(clean_csv)["z"]).any()


def test_motifs_on_an_edge_list_imports_nothing_heavy_and_draws_no_bar_into_a_pipe(tmp_path):
    """Issue #15: start-up pays for what the command needs (no torch, transformers,
    matplotlib, igraph, nor scipy: the compiled census and the dense real census need
    none of it; no pandas nor pyarrow: the tables are numpy columns), and a progress bar
    stays quiet when stderr is not a terminal."""
    import os
    import subprocess
    import sys

    edges = tmp_path / "grn.tsv"
    edges.write_text("".join(f"{i}\t{j}\n" for i in range(12) for j in range(i + 1, 12)
                             if (i * 7 + j) % 3 == 0))
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "cgram.cli", "motifs",
                           "--edges", str(edges), "--n-null", "2", "--csv",
                           str(tmp_path / "grn.csv")], capture_output=True,
                          text=True, check=True, env={**os.environ})
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "numpy" in imported  # the command ran: the check below can fail
    for heavy in ("torch", "transformers", "matplotlib", "igraph", "scipy", "pandas",
                  "pyarrow"):
        assert heavy not in imported, heavy
    assert "\r" not in done.stderr and "it/s" not in done.stderr


def test_a_failed_csv_write_names_the_file_and_keeps_the_old_csv(tmp_path, monkeypatch, capsys):
    """The CSV is written atomically: a write that fails half-way leaves the previous file."""
    import errno

    import motifs.table

    path = tmp_path / "grn.txt"
    path.write_text(EDGE_LIST)
    csv = tmp_path / "grn.csv"
    csv.write_text("previous run\n")

    def half_written(table, target):
        Path(target).write_text("motif,na")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(motifs.table, "write_csv", half_written)
    assert main(["motifs", "--edges", str(path), "--n-null", "4", "-q", "--csv", str(csv)]) == 1
    assert f"{csv}: cannot write the CSV (No space left on device)" in capsys.readouterr().err
    assert csv.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grn.csv", "grn.txt"]
