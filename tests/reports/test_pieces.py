"""The parts of a report: HTML page, figures, sentences, command line."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from reports import figures
from reports.findings import graph_findings, group_findings, verdict
from reports.html import Page, table_html
from tests.reports.conftest import FAST, NULLS, layered_graph


# ------------------------------------------------------------------ html
def test_page_embeds_figures_as_png_and_writes_them_and_tables_beside_it(tmp_path):
    import matplotlib.pyplot as plt

    page = Page("A <title>", tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png = page.figure(fig, "line", "caption & more")
    csv = page.table(pd.DataFrame({"a": [1.5, np.nan], "b": ["x<y", None]}), "t", "cap")
    path = page.write()
    text = path.read_text()
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', text).group(1)
    assert base64.b64decode(embedded) == png.read_bytes()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(csv)["a"].tolist()[0] == 1.5
    assert "A &lt;title&gt;" in text and "x&lt;y" in text and "caption &amp; more" in text
    assert "<script" not in text and "http" not in text


def test_table_html_formats_numbers_and_says_when_rows_are_cut():
    frame = pd.DataFrame({"n": [3, 4, 5], "z": [1.23456, -0.5, np.nan], "ok": [True, False, True]})
    html = table_html(frame, max_rows=2)
    assert "<td>1.23</td>" in html and "<td>-0.5</td>" in html
    assert '<td class="text">yes</td>' in html
    assert "first 2 of 3 rows" in html


# --------------------------------------------------------------- figures
def _arrows(ax) -> int:
    return sum(1 for child in ax.get_children() if type(child).__name__ == "Annotation")


def test_profile_bars_draw_each_motif_under_its_bars_from_the_catalog():
    from motifs.catalog import motif_drawing

    values = pd.DataFrame({"config": [2.0, -3.0, np.nan], "er": [5.0, 1.0, -2.0]},
                          index=["030T", "021C", "030C"])
    fig = figures.profile_bars(values, "Z", threshold=2.0)
    bars, glyph_row = fig.axes[0], fig.axes[1]
    heights = [round(p.get_height(), 6) for p in bars.patches]
    assert heights == [2.0, -3.0, 0.0, 5.0, 1.0, -2.0]
    insets = glyph_row.child_axes
    assert [_arrows(ax) for ax in insets] == [len(motif_drawing(m)[1]) for m in values.index]
    assert [t.get_text() for t in glyph_row.get_xticklabels()] == \
        ["ffl (030T)", "chain (021C)", "cycle3 (030C)"]


def test_ffl_drawing_colours_edges_by_sign_and_labels_nodes_by_clerp():
    from motifs.network import instances_for_graph
    from motifs.network import Network

    graph = layered_graph(3, "g", "clt", "t", shortcut=0.6, p_edge=0.25)
    net = Network.from_graph(graph)
    loops = instances_for_graph(graph, net, "ffl", limit=2)
    fig = figures.ffl_on_graph(graph, loops, net.rows, n_loops=2)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation"
              and c.arrow_patch is not None]
    expected = [figures.POSITIVE if loops.loc[0, w] >= 0 else figures.NEGATIVE
                for w in ("w_xy", "w_yz", "w_xz")]
    from matplotlib.colors import to_hex

    assert [to_hex(a.arrow_patch.get_edgecolor()) for a in arrows[:3]] == expected
    texts = [c.get_text() for c in ax.get_children() if type(c).__name__ == "Annotation"]
    names = figures.node_display_names(graph)
    assert f"X: {names[net.rows[loops.loc[0, 'x']]]}" in texts
    assert ax.get_ylabel() == "layer" and ax.get_xlabel() == "token position"


def test_ffl_panels_draw_only_what_their_window_shows_and_look_the_same(monkeypatch):
    """The panels skip the edges and nodes outside each loop's window: fewer drawn,
    pixel for pixel the same PNG as drawing them all."""
    import io

    from PIL import Image

    from motifs.network import Network, instances_for_graph
    from reports.html import figure_png

    graph = layered_graph(6, "g", "clt", "t", n_pos=10, n_layers=12, shortcut=0.3, p_edge=0.1)
    net = Network.from_graph(graph)
    loops = instances_for_graph(graph, net, "ffl")
    loops = loops.iloc[[0, len(loops) // 2, len(loops) - 1]]

    def drawn() -> tuple[np.ndarray, list[int]]:
        fig = figures.ffl_on_graph(graph, loops, net.rows, n_loops=3)
        edges = [len(c.get_segments()) for ax in fig.axes for c in ax.collections
                 if type(c).__name__ == "LineCollection"]
        return np.asarray(Image.open(io.BytesIO(figure_png(fig)))), edges

    culled, culled_edges = drawn()
    monkeypatch.setattr(figures, "_in_window", lambda segments, xs, ys: np.ones(len(segments), bool))
    everything, all_edges = drawn()
    assert sum(culled_edges) < sum(all_edges)
    assert np.array_equal(culled, everything)


def test_loop_window_frames_the_loop_and_names_embedding_and_logit_layers():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    loop_xy = np.array([[1.0, -1.0], [2.0, 0.0], [2.0, 3.0]])  # (position, layer) of X, Y, Z
    figures._loop_window(ax, loop_xy, np.arange(-1, 5, dtype=float), last_pos=3,
                         tokens=["<bos>", " The", " cat", " sat"], n_layers=4)
    # x: 1 - 1.5 .. 2 + 2.5, clipped at the last position + 1.2; y: -1 - 1.5 clipped at emb - 0.7
    assert ax.get_xlim() == (-0.5, 4.2) and ax.get_ylim() == (-1.7, 4.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["emb", "0", "1", "2", "3", "logit"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0:<bos>", "1:The", "2:cat", "3:sat"]
    plt.close(fig)


def test_node_display_names_prefer_clerp_then_token_then_layer_and_index():
    graph = layered_graph(0, "g", "clt", "t")
    names = figures.node_display_names(graph)
    kinds = graph.nodes["kind"].to_numpy()
    assert names[kinds == "embedding"][0] == "'tok0'"
    assert names[kinds == "feature"][0].startswith("feature ")
    graph.nodes.loc[kinds == "feature", "label"] = pd.NA
    fallback = figures.node_display_names(graph)[kinds == "feature"][0]
    assert re.fullmatch(r"L0 #\d+", fallback)


def test_null_distribution_panels_skip_classes_the_null_cannot_form():
    null = np.array([[5, 0, 1], [7, 0, 1], [6, 0, 1]])
    fig = figures.null_distributions(null, [9, 0, 1], ["030T", "030C", "021C"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["ffl (030T)"]


# ------------------------------------------------------------- sentences
def test_verdicts_follow_the_z_threshold():
    assert [verdict(z) for z in (2.5, -2.5, 1.0)] == ["enriched", "depleted", "not significant"]
    assert verdict(float("nan")).startswith("untestable")


def test_graph_findings_say_when_cycles_exist():
    table = pd.DataFrame({"motif": ["030C"], "count": [4], "null_mean": [1.0], "null_sd": [1.0],
                          "z": [3.0], "p": [0.02], "null_model": "config", "n_null": 50})
    assert graph_findings(table) == ["3-cycles: present (4 in the graph); config expects 1 "
                                     "(Z = +3.0)."]


def test_group_findings_count_graphs_where_z_is_defined():
    summary = pd.DataFrame({"by": "model", "group": "m", "null_model": ["config-dag"],
                            "motif": ["ffl"], "n_graphs": [5], "n_absent": [0],
                            "mean_count": [9.0], "mean_null": [4.0], "n_enriched": [2],
                            "n_depleted": [1], "n_undefined": [1], "median_z": [2.5],
                            "mean_sp": [0.4]})
    assert group_findings(summary) == [
        "model = m (5 graphs): FFLs enriched (Z > 2) in 2/4 graphs under config-dag "
        "(median Z +2.5), depleted in 1."]


# ---------------------------------------------------------- command line
def test_cgram_compare_prints_the_comparison_and_writes_csvs(toy_corpus, tmp_path, capsys):
    from cgram.cli import main

    out = tmp_path / "cmp"
    code = main(["compare", "--by", "transcoder_type", "--corpus", str(toy_corpus.root),
                 "--null", ",".join(NULLS), "--n-null", str(FAST["n_null"]), "--executor",
                 "serial", "--n-perm", "200", "--n-boot", "200", "--out", str(out), "-q"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "6 graphs; nulls config-dag, config" in printed
    assert "transcoder_type = clt (3 graphs): FFLs enriched (Z > 2) in" in printed
    assert "Groups by transcoder_type under config-dag, on significance profile" in printed
    assert "SP compared on the 4-node census under config-dag" in printed
    assert "Universal backbone by transcoder_type under config-dag:" in printed
    # the toy graphs are DAGs: under config-dag fan-in, chain and fan-out are tied to the FFL
    assert ("note: 021U, 021C, 021D = ±030T in every graph under config-dag (dependent "
            "classes): one finding, not 4") in printed
    written = {p.name for p in out.glob("*.csv")}
    assert {"results.csv", "profiles_config-dag.csv", "profiles_config.csv",
            "group_tests_transcoder_type_sp.csv", "group_tests_transcoder_type_z_adj.csv",
            "backbone_transcoder_type_config-dag.csv", "motif_summary.csv", "clusters.csv",
            "sp_correlation.csv", "size_regression.csv"} <= written
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 6 * 13 * 2


def test_cgram_compare_refuses_an_unknown_null_and_a_single_group(toy_corpus, tmp_path, capsys):
    from cgram.cli import main

    base = ["compare", "--corpus", str(toy_corpus.root), "--n-null", "12", "--executor",
            "serial", "--out", str(tmp_path), "-q"]
    assert main(base + ["--by", "transcoder_type", "--null", "nonsense"]) == 1
    assert "unknown null model(s) ['nonsense']" in capsys.readouterr().err
    assert main(base + ["--by", "model,transcoder_type", "--null", "config-dag"]) == 0
    assert "Groups by model" in capsys.readouterr().out
    assert main(base + ["--by", "colour"]) == 1
    assert "cannot group by ['colour']" in capsys.readouterr().err


def test_cgram_compare_nulls_prints_the_ffl_verdict_per_group(toy_corpus, tmp_path, capsys):
    from cgram.cli import main
    from motifs.compare import ffl_verdict
    from reports.corpus_report import corpus_results

    out = tmp_path / "verdict"
    nulls = ["config-dag", "layer-config"]
    code = main(["compare", "--nulls", ",".join(nulls), "--corpus", str(toy_corpus.root),
                 "--n-null", str(FAST["n_null"]), "--executor", "serial", "--out", str(out),
                 "-q"])
    printed = capsys.readouterr().out
    assert code == 0
    table = pd.read_csv(out / "ffl_verdict.csv", keep_default_na=False)
    # groups: (m?, clt, antonyms), (clt, recall), (plt, recall), each under both nulls
    assert len(table) == 3 * 2 and table["null_model"].tolist()[:2] == nulls
    results, _ = corpus_results(toy_corpus, nulls, FAST["n_null"], executor="serial")
    graphs = toy_corpus.list()
    direct = ffl_verdict(results, graphs, nulls=nulls)
    assert table["n_enriched"].tolist() == direct["n_enriched"].tolist()
    plt = direct.loc[(direct["transcoder_type"] == "plt")].iloc[0]
    z = results.loc[(results["null_model"] == "config-dag") & (results["motif"] == "030T")
                    & results["graph"].isin(graphs.loc[graphs["transcoder_type"] == "plt",
                                                       "graph_id"]), "z"]
    assert plt["median_z"] == pytest.approx(float(np.median(z)))
    assert plt["n_enriched"] == int((z > 2).sum()) and plt["n_graphs"] == 3
    assert (f"transcoder_type plt, task recall (3 graphs): the FFL is enriched (Z > 2) in "
            f"{int(plt['n_enriched'])}/3 graphs under config-dag") in printed
    assert "Groups by" not in printed  # no --by: the verdict alone
    assert main(["compare", "--corpus", str(toy_corpus.root), "--out", str(out)]) == 1
    assert "give --by COLUMN" in capsys.readouterr().err


def test_cgram_report_prints_the_page_path(toy_corpus, tmp_path, capsys):
    from cgram.cli import main

    out = tmp_path / "one"
    code = main(["report", "clt-1", "--corpus", str(toy_corpus.root), "--null", "config-dag",
                 "--n-null", str(FAST["n_null"]), "--executor", "serial", "--prune", "none",
                 "--out", str(out), "-q"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    assert not (out / "figures" / "weight_sensitivity.png").exists()
    assert (out / "tables" / "ffl_instances.csv").exists()


# ---------------------------------------------------------------- browser
def test_missing_chromium_fails_under_ci_and_skips_only_outside(monkeypatch):
    from tests.reports import browser

    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: no chromium binary"):
        browser.require_chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="CI is not true"):
        browser.require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        browser.require_chromium()


def test_the_pruning_check_runs_graphs_in_parallel_with_the_serial_numbers(tmp_path):
    from corpus.store import Corpus
    from reports.corpus_report import corpus_sensitivity

    tables = {}
    for executor in ("pool", "serial"):  # separate corpora: the second must not read a cache
        corpus = Corpus(tmp_path / executor)
        ids = [corpus.add(layered_graph(10 + i, f"g{i}", "clt", "t", shortcut=0.5)).graph_id
               for i in range(3)]
        tables[executor] = corpus_sensitivity(corpus, ids, "config-dag", 12, 0, (1.0, 0.5),
                                              executor=executor, jobs=2)
    assert tables["pool"].equals(tables["serial"])
    assert list(pd.unique(tables["pool"]["graph"])) == ids
    assert set(tables["pool"]["motif"]) == {"030T", "030C"}


def test_sp_group_comparison_draws_every_motif_on_one_axis_with_its_groups():
    """SP comparisons (values on one scale) share one axis: one point per group and
    motif at the group's mean, whiskers at its interval, the significant motif starred;
    other values keep one panel per motif."""
    from motifs.compare import compare_groups
    from tests.motifs.test_compare import _two_group_profiles

    result = compare_groups(_two_group_profiles(shift=-0.5), "transcoder_type", n_perm=500, seed=0)
    motifs = result.tests["motif"].tolist()
    fig = figures.group_comparison_plot(result, motifs)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    points = [c.get_offsets() for c in ax.collections if type(c).__name__ == "PathCollection"]
    assert len(points) == len(result.groups) == 2
    means = result.means.set_index(["motif", "group"])["mean"]
    for g, group in enumerate(result.groups):
        assert np.allclose(np.asarray(points[g])[:, 1], [means[(m, group)] for m in motifs])
        assert np.allclose(np.asarray(points[g])[:, 0] - np.arange(len(motifs)),
                           -0.1 if g == 0 else 0.1)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    starred = [m for m, text in zip(motifs, labels) if " *" in text]
    assert starred == ["030T"]
    assert len(figures.group_comparison_plot(result, motifs, shared_axis=False).axes) == len(motifs)
