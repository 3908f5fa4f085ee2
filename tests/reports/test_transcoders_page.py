"""The corpus report's transcoders page, from a hand-made sweep table."""

from __future__ import annotations

import pandas as pd
import pytest

from corpus.errors import CorpusError
from reports.transcoders_page import leaders, sweep_tables, write_transcoders_page


def _table() -> pd.DataFrame:
    rows = []
    for kind, scores in (("plt", [0.40, 0.60]), ("skip", [0.45, 0.62]), ("clt", [0.55, 0.58])):
        for k, score in zip((2, 8), scores):
            rows.append({"kind": kind, "k": k, "l0": float(k), "explained_variance": 0.9,
                         "replacement_accuracy": 0.8, "replacement_score": score,
                         "replacement_score_std": 0.02, "completeness_score": 0.9, "graph_nodes": 20.0})
    return pd.DataFrame(rows)


def test_the_page_names_the_leading_kind_per_sparsity(tmp_path):
    (tmp_path / "corpus" / "transcoders").mkdir(parents=True)
    _table().to_csv(tmp_path / "corpus" / "transcoders" / "two_hop-llama.csv", index=False)
    table = sweep_tables(tmp_path / "corpus")
    assert table is not None and set(table["sweep"]) == {"two_hop-llama"} and len(table) == 6
    lead = leaders(table)
    assert lead["leader"].tolist() == ["clt", "skip"]  # 0.55 at k=2, 0.62 at k=8
    page = write_transcoders_page(table, tmp_path / "report")
    text = page.read_text()
    assert "two_hop-llama: clt leads at 1 of 2 sparsities, skip leads at 1 of 2 sparsities" in text
    assert (tmp_path / "report" / "figures" / "transcoder_tradeoff.png").stat().st_size > 5_000
    assert pd.read_csv(tmp_path / "report" / "tables" / "transcoder_leaders.csv").shape == (2, 6)


def test_no_sweep_means_no_page_and_a_bad_table_is_refused(tmp_path):
    assert sweep_tables(tmp_path) is None
    with pytest.raises(CorpusError, match="replacement_score"):
        write_transcoders_page(_table().drop(columns="replacement_score"), tmp_path)


def test_the_corpus_report_links_the_page_only_when_the_corpus_holds_sweeps(tmp_path):
    from types import SimpleNamespace

    from reports.corpus_report import transcoders_section
    from reports.html import Page

    context = SimpleNamespace(corpus=SimpleNamespace(root=tmp_path / "corpus"))
    (tmp_path / "corpus").mkdir()
    page = Page("corpus", tmp_path / "report")
    assert transcoders_section(page, context) is None
    assert "transcoders.html" not in page.write("empty.html").read_text()
    (tmp_path / "corpus" / "transcoders").mkdir()
    _table().to_csv(tmp_path / "corpus" / "transcoders" / "two_hop-llama.csv", index=False)
    page = Page("corpus", tmp_path / "report")
    path = transcoders_section(page, context)
    assert path == tmp_path / "report" / "transcoders.html" and path.exists()
    assert '<a href="transcoders.html">' in page.write("report.html").read_text()
