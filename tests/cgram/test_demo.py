"""``cgram demo``: no silent fallbacks (missing input, import warnings, the null it names)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import cgram.demo
import reports.corpus_report
from cgram.cli import main
from corpus.errors import CorpusError
from corpus.store import Corpus
from tests.corpus.test_neuronpedia import VARIANTS

DOWNLOADS = VARIANTS.parent / "download"


def test_a_missing_or_empty_shared_folder_is_a_clear_error_before_any_stage_runs(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cgram.demo, "trace_zoo", lambda *a: pytest.fail("stage 1 ran"))
    missing = tmp_path / "nowhere"
    assert main(["demo", "--shared", str(missing), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"cgram: error: {missing}: no such folder of real graphs "
                                       "(give --shared DIR or set $CGRAM_SHARED_GRAPHS)\n")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="empty: no graph files"):
        cgram.demo.check_shared(tmp_path / "empty")


def test_import_prints_the_warnings_cgram_import_prints_and_lists_failures(tmp_path, monkeypatch,
                                                                           capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(VARIANTS / "collision.json", shared)  # parses with a warning
    shutil.copy(DOWNLOADS / "meow.json", shared)
    (shared / "broken.json").write_text("{")
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("slug,task\nmeow,animal\n")
    monkeypatch.setattr(cgram.demo, "TASKS_CSV", tasks)
    corpus = Corpus(tmp_path / "corpus")
    tally = cgram.demo.import_shared(corpus, shared)
    err = capsys.readouterr().err
    assert "warning: " in err and "node ids shared by nodes of different" in err
    assert (tally.added, tally.present, len(tally.failures)) == (2, 0, 1)
    assert "broken.json" in tally.failures[0]
    assert corpus.list().set_index("slug").loc["meow", "task"] == "animal"


@pytest.mark.parametrize("null", ["er", None])
def test_the_census_stage_names_the_null_it_runs(null, tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("meow.json", "capital-state-dallas.json", "dallas-austin-llamma.json"):
        shutil.copy(DOWNLOADS / name, shared)
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("slug,task\nmeow,animal\n")
    monkeypatch.setattr(cgram.demo, "TASKS_CSV", tasks)
    monkeypatch.setattr(cgram.demo, "trace_zoo", lambda *a: [])
    monkeypatch.setattr(reports.corpus_report, "write_corpus_report",  # not under test here
                        lambda corpus, out, **options: out / "report.html")
    argv = ["demo", "--shared", str(shared), "--out", str(tmp_path / "out"), "--n-null", "4",
            "--report-nulls", "er", "--report-n-null", "4", "--executor", "serial"]
    assert main(argv + (["--null", null] if null else [])) == 0
    out = capsys.readouterr().out
    named = null or "the default of each graph: causal-config (a causal graph with token"
    assert f"== 3. motif census: null {named}" in out
    assert "4 samples per graph" in out and "degree-preserving" not in out
    # the real graphs are causal (layers rise, positions never go back): the default is causal-config
    assert f"null model(s) used: {null or 'causal-config'}\n" in out


def test_the_demo_prints_the_ffl_verdict_under_each_null(tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("meow.json", "capital-state-dallas.json"):
        shutil.copy(DOWNLOADS / name, shared)
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("slug,task\nmeow,animal\ncapital-state-dallas,multi-hop\n")
    monkeypatch.setattr(cgram.demo, "TASKS_CSV", tasks)
    monkeypatch.setattr(cgram.demo, "trace_zoo", lambda *a: [])
    monkeypatch.setattr(reports.corpus_report, "write_corpus_report",
                        lambda corpus, out, **options: out / "report.html")
    out_dir = tmp_path / "out"
    argv = ["demo", "--shared", str(shared), "--out", str(out_dir), "--n-null", "4",
            "--report-n-null", "8", "--executor", "serial"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "== 5. FFL verdict under config-dag, layer-config, causal-config" in out
    verdict = pd.read_csv(out_dir / "ffl_verdict.csv")
    # one row per graph group (model x transcoder x task) and null, in the order asked for
    assert len(verdict) == 2 * 3
    assert list(verdict["null_model"][:3]) == ["config-dag", "layer-config", "causal-config"]
    assert (verdict["n_graphs"] == 1).all() and (verdict["n_tested"] <= 1).all()
    # each group's sentence names every null
    sentences = [line for line in out.splitlines() if line.startswith("  model ") and "FFL is enriched" in line]
    assert len(sentences) == 2
    assert all(all(null in s for null in ("config-dag", "layer-config", "causal-config"))
               for s in sentences)
