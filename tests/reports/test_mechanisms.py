"""The Mechanisms sections: the graph report's cascades, influence split and causal
tables, and the corpus report's cascade summary per group."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from motifs.cascades import cascades_for_graph
from reports.html import Page
from reports.mechanisms import (
    cascade_summary_section,
    causal_tables,
    is_pipeline,
    mechanisms_section,
)
from tests.conftest import SHARED_GRAPHS


@pytest.fixture(scope="module")
def dallas():
    from corpus.neuronpedia import read_json

    path = SHARED_GRAPHS / "mkenney2__circuit-motifs__capital-state-dallas.json"
    if not path.is_file():
        pytest.skip("shared Neuronpedia data not present")
    return read_json(path)


def _validated(records: list[dict]) -> list[dict]:
    """Records as cgram cascades --validate writes them, with chosen numbers."""
    out = []
    for i, r in enumerate(records):
        out.append({**r, "p_clean": 0.9, "p_ablated": 0.5 - 0.1 * i, "ablation_drop": 0.4 + 0.1 * i,
                    "random_drop_mean": 0.1, "random_drop_sd": 0.02, "ratio": (0.4 + 0.1 * i) / 0.1,
                    "ffls": [{**f, "predicted_dz": -1.0, "observed_dz": -0.8, "random_abs_dz_mean": 0.1,
                              "random_abs_dz_sd": 0.05, "answer_dlogit": -0.3} for f in r["ffls"]]})
    return out


def test_mechanisms_section_lists_the_cascades_and_their_influence_split(dallas, tmp_path):
    page = Page("t", tmp_path)
    _, _, records = cascades_for_graph(dallas, top_k=3)
    mechanisms_section(page, SimpleNamespace(graph=dallas), top=3, validated=_validated(records))
    text = re.sub(r"<[^>]+>", " ", page.write("r.html").read_text())
    assert "Mechanisms" in text and "say Austin" in text
    table = pd.read_csv(tmp_path / "tables" / "cascades.csv")
    assert len(table) == len(records) == 3
    np.testing.assert_allclose(table["strength"], [r["strength"] for r in records])
    assert table["path"].iloc[0].startswith("token '↑'") and table["path"].iloc[0].endswith('(p=0.984)')
    split = pd.read_csv(tmp_path / "tables" / "influence_split.csv")
    np.testing.assert_allclose(split[["via_mediator", "direct", "other"]].sum(axis=1), 1.0)
    causal = pd.read_csv(tmp_path / "tables" / "causal_cascades.csv")
    np.testing.assert_allclose(causal["ratio"], [4.0, 5.0, 6.0])
    loops = pd.read_csv(tmp_path / "tables" / "causal_loops.csv")
    assert len(loops) == len({(f["x"], f["y"], f["z"]) for r in records for f in r["ffls"]})
    assert (tmp_path / "figures" / "cascades.png").is_file()


def test_causal_tables_keep_one_row_per_loop():
    records = [{"logit": "L", "rank": 1, "p_clean": 1.0, "p_ablated": 0.5, "ablation_drop": 0.5,
                "random_drop_mean": 0.0, "random_drop_sd": 0.0, "ratio": np.inf,
                "ffls": [{"x": "a", "y": "b", "z": "c", "sign_type": "ffl_C1", "predicted_dz": -1.0,
                          "observed_dz": -2.0, "random_abs_dz_mean": 0.1, "answer_dlogit": 0.0}] * 2}]
    per_cascade, per_loop = causal_tables(records)
    assert per_cascade["ratio"].iloc[0] == np.inf
    assert len(per_loop) == 1


def test_pipeline_needs_all_three_stages_in_order():
    assert is_pipeline(["grounding", "grounding", "entity", "output"])
    assert not is_pipeline(["grounding", "output", "entity", "output"])
    assert not is_pipeline(["grounding", "entity", "entity"])


def test_corpus_summary_per_group(real_corpus, tmp_path):
    graphs = real_corpus.table()
    graphs = graphs.assign(task=["a"] * len(graphs))
    context = SimpleNamespace(corpus=real_corpus, columns=["task"],
                              comparison=SimpleNamespace(graphs=graphs))
    page = Page("t", tmp_path)
    cascade_summary_section(page, context)
    page.write("r.html")
    summary = pd.read_csv(tmp_path / "tables" / "cascade_summary.csv")
    assert summary[["by", "group", "graphs"]].values.tolist() == [["task", "a", len(graphs)]]
    row = summary.iloc[0]
    assert row[["grounding", "entity", "output"]].sum() == pytest.approx(1.0)
    assert bool(row["pipeline_holds"]) == (row["pipeline_share"] >= 0.5)


def test_top_cascade_statistics_come_from_the_pages_three_cascades_per_logit(dallas, real_corpus,
                                                                             tmp_path):
    from reports.corpus_browser import write_views
    from reports.mechanisms import cascade_statistics, corpus_cascade_statistics, records_statistics

    _, _, records = cascades_for_graph(dallas, top_k=3)
    assert max(r["rank"] for r in records) == 3
    shared, alone = records_statistics(records), cascade_statistics(dallas)
    assert shared == alone and shared["n_cascades"] == len({r["logit"] for r in records})
    statistics: dict = {}
    links = write_views(real_corpus, tmp_path, statistics=statistics)
    assert statistics.keys() == links.keys()
    assert statistics == corpus_cascade_statistics(real_corpus, list(links))
