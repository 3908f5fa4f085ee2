"""The corpus browser: its table against the motif engine, and the page in
headless Chromium (sorting, filtering, links to the explorer pages)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reports.corpus_browser import write_corpus_browser
from tests.reports.conftest import FAST
from tests.reports.selenium_driver import console_problems, driver_fixture


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    yield from driver_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(toy_corpus, tmp_path_factory):
    """The toy corpus's browser page, FFL values under config-dag, and those values."""
    from motifs.compare import profile_table
    from reports.corpus_report import corpus_results

    results, failures = corpus_results(toy_corpus, ["config-dag"], **FAST)
    assert failures == []
    profiles = profile_table(results, toy_corpus.list(), null="config-dag")
    out = tmp_path_factory.mktemp("browser")
    path = write_corpus_browser(toy_corpus, out, profiles, null="config-dag", top_ffls=5)
    ffl_z = dict(zip(results.loc[results["motif"] == "030T", "graph"],
                     results.loc[results["motif"] == "030T", "z"]))
    return {"path": path, "ffl_z": ffl_z, "graphs": toy_corpus.list()}


def test_index_lists_every_graph_with_its_ffl_z_and_a_view(browser):
    text = browser["path"].read_text(encoding="utf-8")
    graphs = browser["graphs"]
    assert text.count("<tr data-graph=") == len(graphs) == 6
    views = sorted((browser["path"].parent / "views").glob("*.html"))
    assert len(views) == 6 and all("window.cgramView" in v.read_text() for v in views)
    for graph_id, z in browser["ffl_z"].items():
        row = text.split(f'<tr data-graph="{graph_id}">', 1)[1].split("</tr>", 1)[0]
        assert f'data-key="{float(z)!r}"' in row  # the exact Z the motif engine computed


def test_page_sorts_filters_and_links_to_the_explorer(driver, browser):
    driver.get(browser["path"].resolve().as_uri())
    assert console_problems(driver) == []
    graphs = browser["graphs"].set_index("graph_id")
    by_z = sorted(browser["ffl_z"], key=lambda g: -browser["ffl_z"][g])
    # column 6 is FFL Z; a numeric column sorts descending first, then ascending
    assert driver.execute_script("return window.cgramBrowser.sortBy(6)") == by_z
    assert driver.execute_script("return window.cgramBrowser.sortBy(6)") == by_z[::-1]
    header = driver.find_elements("css selector", "th")[6]
    header.click()
    assert driver.execute_script("return window.cgramBrowser.visibleRows()") == by_z
    box = driver.find_element("id", "cb-filter")
    box.send_keys("clt")  # slugs clt-0..2 and transcoder clt
    shown = driver.execute_script("return window.cgramBrowser.visibleRows()")
    assert sorted(shown) == sorted(graphs.index[graphs["transcoder_type"] == "clt"])
    assert driver.find_element("id", "cb-count").text == "3 of 6 graphs"
    box.clear()
    driver.execute_script("window.cgramBrowser.filter('')")
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", "select[data-facet='3']")).select_by_visible_text(
        "antonyms")
    assert driver.execute_script("return window.cgramBrowser.visibleRows()") == \
        list(graphs.index[graphs["task"] == "antonyms"])
    link = driver.find_element("css selector", "tbody tr:not([hidden]) a")
    slug = link.text
    link.click()
    assert driver.execute_script("return window.cgramView.visibleEdgeCount()") == \
        int(graphs.loc[graphs["slug"] == slug, "n_edges"].iloc[0])
    assert console_problems(driver) == []


def test_graph_without_motif_results_is_listed_with_empty_ffl_cells(toy_corpus, tmp_path):
    path = write_corpus_browser(toy_corpus, tmp_path, profiles=None, views=False)
    text = Path(path).read_text(encoding="utf-8")
    assert text.count("<tr data-graph=") == 6 and "<a href" not in text
    assert "FFL Z (config-dag)" in text
    for row in re.findall(r"<tr data-graph=.*?</tr>", text):
        cells = re.findall(r'<td[^>]*data-key="([^"]*)"', row)
        assert len(cells) == 8 and cells[6:] == ["", ""] and cells[4] != ""
