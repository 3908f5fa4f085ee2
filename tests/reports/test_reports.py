"""Graph and corpus reports end to end: numbers on the page, files beside it,
and the page as headless Chromium shows it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from reports.findings import group_findings
from tests.reports.browser import assert_renders_cleanly
from tests.reports.conftest import FAST, NULLS


@pytest.fixture(scope="module")
def graph_report(real_corpus, tmp_path_factory):
    from reports.graph_report import write_graph_report

    out = tmp_path_factory.mktemp("graph-report")
    path = write_graph_report(real_corpus, "dallas-austin-llamma", out, nulls=NULLS,
                              keep_fractions=(1.0, 0.5), top=5, **FAST)
    return path


@pytest.fixture(scope="module")
def corpus_report(toy_corpus, tmp_path_factory):
    from reports.corpus_report import write_corpus_report

    out = tmp_path_factory.mktemp("corpus-report")
    path = write_corpus_report(toy_corpus, out, by=("transcoder_type", "task"), null=NULLS,
                               keep_fractions=(1.0, 0.5), n_perm=300, n_boot=300, **FAST)
    return path


def _text(path) -> str:
    """The page's visible text, tags stripped, entities of the findings unescaped."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text()))


# ------------------------------------------------------------ graph report
def test_graph_report_states_ffl_and_cycle_findings_with_the_profile_numbers(graph_report,
                                                                            real_corpus):
    profiles = pd.read_csv(graph_report.parent / "tables" / "profiles.csv")
    text = _text(graph_report)
    for null in NULLS:
        row = profiles.loc[(profiles["null_model"] == null) & (profiles["motif"] == "030T")].iloc[0]
        verdict = "enriched" if row["z"] > 2 else "depleted" if row["z"] < -2 else "not significant"
        sentence = (f"FFLs under {null} ({FAST['n_null']} samples): {int(row['count']):,} in the "
                    f"graph vs")
        assert sentence in text
        assert f"Z = {row['z']:+.1f}, p = {row['p']:.2g}: {verdict}." in text
    cycles = profiles.loc[profiles["motif"] == "030C"]
    assert (cycles["count"] == 0).all()  # an attribution graph is acyclic
    config = cycles.set_index("null_model").loc["config"]
    assert f"3-cycles: 0 in the graph, so absent; config-dag expects 0 (Z = undefined); " \
           f"config expects {config['null_mean']:,.3g}" in text


def test_graph_report_null_histogram_is_the_ensemble_behind_the_z_scores(real_corpus):
    from reports.graph_report import null_count_samples

    counts, codes = null_count_samples(real_corpus, "dallas-austin-llamma", "config",
                                       FAST["n_null"], FAST["seed"], executor="serial")
    from motifs.corpus_run import run_motifs

    table = run_motifs(real_corpus, null="config", n_null=FAST["n_null"], seed=FAST["seed"],
                       executor="serial").set_index("motif")
    assert counts.shape == (FAST["n_null"], len(codes))
    assert np.allclose(counts.mean(axis=0), table.loc[codes, "null_mean"].to_numpy())
    assert np.allclose(counts.std(axis=0, ddof=1), table.loc[codes, "null_sd"].to_numpy())


def test_graph_report_lists_the_strongest_loops_with_their_feature_labels(graph_report,
                                                                         real_corpus):
    from motifs.network import instances_for_graph
    from motifs.network import Network

    graph = real_corpus.load("dallas-austin-llamma")
    net = Network.from_graph(graph)
    strongest = instances_for_graph(graph, net, "ffl", limit=1).iloc[0]
    table = pd.read_csv(graph_report.parent / "tables" / "ffl_instances.csv")
    assert len(table) == 5
    assert table.loc[0, "strength"] == pytest.approx(strongest["strength"])
    labels = graph.nodes.set_index("node_id")["label"]
    for role in ("x", "y", "z"):
        label = labels[strongest[f"{role}_id"]]
        if isinstance(label, str) and label.strip():
            assert table.loc[0, role.upper()] == label.strip()
            assert label.strip() in _text(graph_report)
    every = pd.read_csv(graph_report.parent / "tables" / "ffl_instances_all.csv")
    census = pd.read_csv(graph_report.parent / "tables" / "profiles.csv")
    assert len(every) == int(census.loc[census["motif"] == "030T", "count"].iloc[0])
    assert "The strongest loop: " in _text(graph_report)


def test_graph_report_writes_figures_and_tables_beside_the_page(graph_report):
    figures = sorted(p.name for p in (graph_report.parent / "figures").glob("*.png"))
    assert figures == ["cascades.png", "ffl_on_graph.png", "null_distributions.png", "sp_profile.png",
                       "weight_sensitivity.png", "z_profile.png"]
    sens = pd.read_csv(graph_report.parent / "tables" / "weight_sensitivity.csv")
    assert list(pd.unique(sens["level"])) == ["top 100%", "top 50%"]
    full, half = sens.groupby("level", sort=False)["n_edges"].first()
    assert half == round(full / 2)


def test_graph_report_embeds_the_explorer_and_writes_it_beside_the_page(graph_report):
    import html

    text = graph_report.read_text()
    (srcdoc,) = re.findall(r'<iframe class="cgram-view"[^>]*\ssrcdoc="([^"]*)"', text)
    beside = (graph_report.parent / "view.html").read_text()
    assert html.unescape(srcdoc) == beside and "window.cgramView" in beside
    assert "Explore the graph" in _text(graph_report)


def test_graph_report_renders_in_headless_chromium(graph_report, tmp_path):
    page = assert_renders_cleanly(graph_report, tmp_path, n_figures=6)
    assert page.height > 2000


# ----------------------------------------------------------- corpus report
def test_corpus_report_states_per_group_findings_from_the_summary(corpus_report):
    summary = pd.read_csv(corpus_report.parent / "tables" / "motif_summary.csv")
    text = _text(corpus_report)
    sentences = group_findings(summary)
    assert len(sentences) == 2 * summary.groupby(["by", "group"]).ngroups
    for sentence in sentences:
        assert sentence in text
    clt = summary.loc[(summary["group"] == "clt") & (summary["motif"] == "ffl")
                      & (summary["null_model"] == "config-dag")].iloc[0]
    assert (f"transcoder_type = clt (3 graphs): FFLs enriched (Z > 2) in "
            f"{int(clt['n_enriched'])}/3 graphs under config-dag") in text
    assert "transcoder_type = plt (3 graphs): 3-cycles absent: count 0 in 3/3 graphs" in text


def test_corpus_report_compares_groups_on_size_normalised_values(corpus_report, toy_corpus):
    tables = corpus_report.parent / "tables"
    for value, measure in (("sp", "cliffs_delta"), ("z_adj", "adjusted_difference")):
        tests = pd.read_csv(tables / f"group_tests_transcoder_type_{value}.csv")
        assert set(tests["effect_measure"]) == {measure}
        assert (tests["q"] >= tests["p"] - 1e-12).all()
        means = pd.read_csv(tables / f"group_means_transcoder_type_{value}.csv")
        assert set(means["group"]) == {"clt", "plt"}
    tasks = pd.read_csv(tables / "group_tests_task_sp.csv")
    assert set(tasks["contrast"]) == {"recall vs antonyms"}
    text = _text(corpus_report)
    assert "raw Z is not compared" in text
    assert "transcoder_type: z_adj under config-dag" in text
    assert "ANCOVA: Z ~ group + log(edges), Freedman-Lane" in text
    fit = pd.read_csv(tables / "size_regression.csv")
    assert set(fit["motif"]) >= {"030T", "021C"}


def test_corpus_report_compares_sp_on_the_4_node_census_under_a_dag_null(corpus_report):
    from motifs.compare import triad_profile_is_tied

    tables = corpus_report.parent / "tables"
    dag = pd.read_csv(tables / "profiles_config-dag.csv")
    # keeping degrees and acyclicity ties 021U, 021C, 021D and 030T together
    assert triad_profile_is_tied(dag)
    z = dag[[f"z:{m}" for m in ("021U", "021C", "021D", "030T")]].to_numpy()
    assert np.allclose(np.abs(z), np.abs(z[:, :1]))
    text = _text(corpus_report)
    # never a fall back to config: the 4-node census under the headline null
    assert "SP compared on the 4-node census under config-dag" in text
    sp_tests = pd.read_csv(tables / "group_tests_transcoder_type_sp.csv")
    assert sp_tests["motif"].str.startswith(("m4_", "bifan", "biparallel")).any()
    assert not sp_tests["motif"].isin(["021U", "030T"]).any()
    corr = pd.read_csv(tables / "sp_correlation.csv").set_index("graph")
    assert corr.shape == (6, 6) and np.allclose(np.diag(corr), 1.0)
    assert not np.allclose(np.abs(corr.to_numpy()), 1.0)  # shapes differ, not just signs


def test_corpus_report_checks_that_findings_survive_pruning(corpus_report, toy_corpus):
    pruning = pd.read_csv(corpus_report.parent / "tables" / "pruning.csv")
    assert list(pd.unique(pruning["level"])) == ["top 100%", "top 50%"]
    assert set(pruning["motif"]) == {"030T", "030C"}
    ffl = pruning.loc[pruning["motif"] == "030T"]
    counted = ffl.groupby("level", sort=False)["z"].apply(lambda z: int((z > 2).sum()))
    text = _text(corpus_report)
    for level, n in counted.items():
        assert f"{level}: FFLs enriched (Z > 2) in {n}/6 graphs" in text
    # the unpruned level is the main run, read back from the corpus cache
    main = pd.read_csv(corpus_report.parent / "tables" / "profiles_config-dag.csv")
    full = ffl.loc[ffl["level"] == "top 100%"].set_index("slug")["z"]
    assert np.allclose(full.loc[main["slug"]].to_numpy(), main["z:030T"].to_numpy())


def test_corpus_report_writes_the_corpus_browser_beside_it(corpus_report, toy_corpus):
    index = corpus_report.parent / "index.html"
    assert '<a href="index.html">index.html</a>' in corpus_report.read_text()
    text = index.read_text()
    assert text.count("<tr data-graph=") == len(toy_corpus.list())
    links = re.findall(r'<a href="(views/[^"]+)"', text)
    assert len(links) == len(toy_corpus.list())
    assert all((corpus_report.parent / link).exists() for link in links)


def test_corpus_report_renders_in_headless_chromium(corpus_report, tmp_path):
    n_figures = len(list((corpus_report.parent / "figures").glob("*.png")))
    assert n_figures >= 8
    assert_renders_cleanly(corpus_report, tmp_path, n_figures=n_figures)
