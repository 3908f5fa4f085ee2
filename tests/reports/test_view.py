"""The graph explorer: its data (unit tests) and the page in real headless
Chromium driven by Selenium (one driver for the module)."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cgram.cli import main as cgram
from corpus.graph import AttributionGraph, GraphMeta
from motifs.errors import MotifError
from reports.view import cascade_motifs, ffl_motifs, view, view_payload
from tests.conftest import SHARED_GRAPHS
from tests.reports.selenium_driver import (
    console_problems,
    driver_fixture,
    screenshot_array,
)

REAL = "mkenney2__circuit-motifs__capital-state-dallas.json"


def small_graph(split: bool = False) -> AttributionGraph:
    """Embedding 0 -> features 1, 2 -> logit 3, with FFL 0->1->2, 0->2 (hand-counted)."""
    nodes = pd.DataFrame({"node_id": ["E_1_0", "0_3_0", "1_4_1", "2_9_1"],
                          "kind": ["embedding", "feature", "feature", "logit"],
                          "layer": [-1, 0, 1, 2], "pos": [0, 0, 1, 1],
                          "label": [None, "early", "late", None],
                          "token": ["Dallas", None, None, " Austin"]})
    src, dst, w = [0, 1, 0, 2, 1], [1, 2, 2, 3, 3], [1.0, 2.0, -0.5, 4.0, 0.25]
    path = None
    if split:  # edge 0->2 split into residual 0.5 and attention -1.0
        src, dst, w, path = src + [0], dst + [2], [1.0, 2.0, 0.5, 4.0, 0.25, -1.0], [0, 0, 0, 0, 0, 1]
    meta = GraphMeta(slug="toy", model="toy", prompt="Dallas is", prompt_tokens=["Dallas", " is"],
                     n_layers=2)
    return AttributionGraph.from_arrays(nodes, src, dst, w, meta, path=path)


def _decode(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def test_payload_carries_exact_edges_and_the_split_parts():
    payload = view_payload(small_graph(split=True))
    edges = payload["edges"]
    assert edges["count"] == 5
    src, dst = _decode(edges["src"], "<i4"), _decode(edges["dst"], "<i4")
    weight = dict(zip(zip(src.tolist(), dst.tolist()), _decode(edges["weight"], "<f4").tolist()))
    residual = dict(zip(zip(src.tolist(), dst.tolist()), _decode(edges["residual"], "<f4").tolist()))
    attention = dict(zip(zip(src.tolist(), dst.tolist()), _decode(edges["attention"], "<f4")
                         .tolist()))
    assert weight[(0, 2)] == -0.5 and residual[(0, 2)] == 0.5 and attention[(0, 2)] == -1.0
    assert weight[(2, 3)] == 4.0 and attention[(2, 3)] == 0.0
    assert payload["columns"]["token"] == ["Dallas", " is"]
    assert payload["nodes"]["label"][1] == "early" and payload["nodes"]["label"][3] == "' Austin'"


def test_ffl_motifs_name_the_loops_and_their_edges():
    graph = small_graph()
    first, second = ffl_motifs(graph)  # 1->2->3 with 1->3, and 0->1->2 with 0->2
    assert first["nodes"] == [1, 2, 3] and first["weights"] == [2.0, 4.0, 0.25]
    assert first["sign_type"] == "ffl_C1" and first["strength"] == pytest.approx(2 ** (1 / 3))
    assert second["nodes"] == [0, 1, 2] and second["weights"] == [1.0, 2.0, -0.5]
    assert second["sign_type"] == "ffl_I3"  # (+, +, -) in the catalog of Mangan & Alon 2003
    assert second["strength"] == pytest.approx(1.0)
    src, dst, _ = graph.merged_edges()
    assert [(int(src[e]), int(dst[e])) for e in second["edges"]] == [(0, 1), (1, 2), (0, 2)]


def test_cascade_motifs_map_ids_to_rows_and_light_the_chain():
    graph = small_graph()
    cascade = {"logit": "2_9_1", "nodes": ["E_1_0", "0_3_0", "1_4_1", "2_9_1"],
               "ffls": [{"x": "E_1_0", "y": "0_3_0", "z": "1_4_1", "sign_type": "ffl_I3"}],
               "strength": 0.5, "coherent": False}
    (entry,) = cascade_motifs(graph, [cascade])
    assert entry["path"] == [0, 1, 2, 3] and entry["logit"] == 3 and entry["nodes"] == [0, 1, 2, 3]
    src, dst, _ = graph.merged_edges()
    assert sorted((int(src[e]), int(dst[e])) for e in entry["edges"]) == \
        [(0, 1), (0, 2), (1, 2), (2, 3)]
    with pytest.raises(MotifError, match="cascade 0 names node 'nope'"):
        cascade_motifs(graph, [{**cascade, "nodes": ["nope"]}])


def test_the_page_lists_the_strongest_cascades_per_logit_after_the_ffls(real_graphs):
    from motifs.cascades import cascades_for_graph
    from reports.view import view_html

    graph = real_graphs[REAL]
    text = view_html(graph, top_ffls=5, cascades_per_logit=2)
    data = json.loads(re.search(r'<script id="cgram-data" type="application/json">(.*?)</script>',
                                text, re.S).group(1))
    _, _, records = cascades_for_graph(graph, top_k=2)
    kinds = [m["kind"] for m in data["motifs"]]
    assert kinds == ["ffl"] * 5 + ["cascade"] * min(len(records), 20) and len(records) > 0
    keys = graph.node_keys()
    for entry, record in zip(data["motifs"][5:], records):
        assert [keys[r] for r in entry["path"]] == record["nodes"]
        assert entry["stages"] == record["stages"] and entry["coherent"] == record["coherent"]
    # the highest-probability logit comes first
    logit = graph.nodes["prob"].to_numpy(float)[graph.kind_mask("logit")]
    assert graph.nodes["prob"].iloc[data["motifs"][5]["logit"]] == np.nanmax(logit)
    assert "cascade" not in {m["kind"] for m in json.loads(re.search(
        r'<script id="cgram-data" type="application/json">(.*?)</script>',
        view_html(graph, top_ffls=5, cascades=[]), re.S).group(1))["motifs"]}


def test_notebook_view_embeds_the_page_in_an_iframe():
    shown = view(small_graph())._repr_html_()
    assert shown.startswith("<iframe") and 'srcdoc="' in shown
    # the page survives the attribute whole: escaped, then unescaped by the browser
    inner = shown.split('srcdoc="', 1)[1].rsplit('" style=', 1)[0]
    assert not set('"<>') & set(inner)
    assert html.unescape(inner) == view(small_graph()).html


def test_register_ipython_formats_every_graph_as_its_explorer():
    from types import SimpleNamespace

    from reports.view import register_ipython

    registered = {}
    html_formatter = SimpleNamespace(for_type=lambda cls, fn: registered.__setitem__(cls, fn))
    shell = SimpleNamespace(display_formatter=SimpleNamespace(
        formatters={"text/html": html_formatter}))
    assert register_ipython(shell) is True
    shown = registered[AttributionGraph](small_graph())
    assert shown.startswith("<iframe") and "cgram-data" in shown


def test_browser_tests_skip_without_chromium_but_fail_under_ci(monkeypatch):
    from tests.reports import selenium_driver

    monkeypatch.setattr(selenium_driver, "_binaries", lambda: (None, None))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium, chromium-driver"):
        selenium_driver.require_selenium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        selenium_driver.require_selenium()


# ---------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    yield from driver_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def real_view(tmp_path_factory):
    """The real Dallas graph imported with ``cgram import`` and viewed with
    ``cgram view SLUG --corpus DIR -o FILE``."""
    source = Path(SHARED_GRAPHS) / REAL
    if not source.exists():
        pytest.fail(f"missing the real graph {source} (set CGRAM_SHARED_GRAPHS)")
    work = tmp_path_factory.mktemp("view")
    corpus = work / "corpus"
    assert cgram(["import", str(source), "--corpus", str(corpus), "-j", "1"]) == 0
    from corpus.store import Corpus

    graph = Corpus(corpus).load("capital-state-dallas")
    # one hand-made cascade: the top FFL's loop continued to the " Austin" logit
    ffl = ffl_motifs(graph, 1)[0]
    keys = graph.node_keys()
    logit = keys[int(np.flatnonzero(graph.kind_mask("logit"))[0])]
    cascade = {"logit": logit, "nodes": [keys[r] for r in ffl["nodes"]] + [logit],
               "ffls": [{"x": keys[ffl["nodes"][0]], "y": keys[ffl["nodes"][1]],
                         "z": keys[ffl["nodes"][2]], "sign_type": ffl["sign_type"]}],
               "strength": 0.5, "coherent": False}
    (work / "cascades.json").write_text(json.dumps([cascade]))
    out = work / "graph.html"
    assert cgram(["view", "capital-state-dallas", "--corpus", str(corpus), "-o", str(out),
                  "--top", "30", "--cascades", str(work / "cascades.json")]) == 0
    return {"path": out, "graph": graph, "work": work, "cascade": cascade}


@pytest.fixture(scope="module")
def page(driver, real_view):
    driver.get(real_view["path"].resolve().as_uri())
    driver.execute_script("return window.cgramView.visibleEdgeCount()")
    return driver


def test_page_is_self_contained_and_credits_the_pinned_library(real_view):
    text = real_view["path"].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "<link" not in text and "d3 7.9.2" in text and "ISC licence" in text
    assert "Permission to use, copy, modify" in text  # the licence text travels with it
    assert real_view["path"].stat().st_size < 10 * 2**20


def test_page_loads_from_file_without_console_errors_and_draws(page, real_view):
    assert console_problems(page) == []
    timings = page.execute_script("return window.cgramView.timings")
    assert timings["draws"] >= 1 and 0 < timings["firstDraw"] < 2000
    shot = screenshot_array(page, real_view["work"] / "explorer.png")
    assert shot.std() > 0.05  # real contrast
    assert (shot.mean(axis=2) < 0.9).mean() > 0.02  # ink on a real share of the screen
    # the canvas itself is drawn, not only the page chrome around it
    canvas_ink = page.execute_script(
        "var c=document.getElementById('cv-canvas'),d=c.getContext('2d')"
        ".getImageData(0,0,c.width,c.height).data,n=0;"
        "for(var i=3;i<d.length;i+=4)if(d[i]>0)n++;return n/(d.length/4);")
    assert canvas_ink > 0.01


def _isolated_feature(page, graph: AttributionGraph, exclude: tuple[str, ...] = ()
                      ) -> tuple[str, str, list[float]]:
    """A labelled feature node (not in ``exclude``) at least 15 px from every
    other node: (id, label, [x, y])."""
    ids = graph.node_keys()
    where = np.array(page.execute_script(
        "return arguments[0].map(function(i){return window.cgramView.screenPosition(i)})", ids))
    gap = np.sqrt(((where[:, None, :] - where[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(gap, np.inf)
    labels = graph.nodes["label"].fillna("").astype(str).to_numpy()
    ok = (graph.nodes["kind"].to_numpy() == "feature") & (labels != "") & ~np.isin(ids, exclude)
    row = int(np.argmax(np.where(ok, gap.min(axis=1), -1)))
    assert gap[row].min() > 15
    return ids[row], labels[row], where[row].tolist()


def test_hover_and_click_on_a_known_node_show_its_label(page, real_view):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    page.execute_script("window.cgramView.clear()")
    node, label, (x, y) = _isolated_feature(page, real_view["graph"])
    actions = ActionBuilder(page)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
    actions.perform()
    tip = page.find_element("id", "cv-tip")
    assert tip.is_displayed() and tip.text.splitlines()[0] == label
    assert f"id: {node}" in tip.text
    ActionChains(page).click().perform()
    detail = page.find_element("id", "cv-detail").text
    assert label in detail and "Strongest incoming" in detail and "Strongest outgoing" in detail
    lit = page.execute_script("return window.cgramView.highlighted()")
    assert node in lit
    assert page.execute_script("return window.cgramView.select(arguments[0])", node) == label


def test_highlight_motif_lights_exactly_the_top_ffl(page, real_view):
    from motifs.network import instances_for_graph
    from motifs.network import Network
    from selenium.webdriver.common.keys import Keys

    graph = real_view["graph"]
    top = instances_for_graph(graph, Network.from_graph(graph), "ffl", limit=2)
    expected = [{top.loc[i, f"{r}_id"] for r in "xyz"} for i in range(2)]
    lit = page.execute_script("return window.cgramView.highlightMotif(0)")
    assert len(lit) == 3 and set(lit) == expected[0]
    assert set(page.execute_script("return window.cgramView.highlighted()")) == expected[0]
    page.find_element("tag name", "body").send_keys("n")  # the "next" key
    assert set(page.execute_script("return window.cgramView.highlighted()")) == expected[1]
    page.find_element("tag name", "body").send_keys(Keys.ESCAPE)
    assert page.execute_script("return window.cgramView.highlighted()") == []
    # after the 30 FFLs, the cascade: its path lit, listed in the motif panel
    cascade = real_view["cascade"]
    assert set(page.execute_script("return window.cgramView.highlightMotif(30)")) == \
        set(cascade["nodes"])
    items = page.find_elements("css selector", "#cv-motif-list li")
    assert len(items) == 31 and items[30].text.startswith("Cascade")
    assert "cv-active" in items[30].get_attribute("class")


def test_slider_changes_the_visible_edge_count(page, real_view):
    from selenium.webdriver.common.keys import Keys

    _, _, weight = real_view["graph"].merged_edges()
    magnitude = np.abs(weight)
    view_api = "return window.cgramView."
    assert page.execute_script(view_api + "setMinWeight(0)") == weight.size
    cut = float(np.median(magnitude))
    assert page.execute_script(view_api + "setMinWeight(arguments[0])", cut) == \
        int((magnitude >= np.float32(cut)).sum())
    assert page.execute_script(view_api + "visibleEdgeCount()") < weight.size
    slider = page.find_element("id", "cv-slider")
    slider.send_keys(Keys.END)  # the slider itself: only the strongest edge(s) stay
    assert page.execute_script(view_api + "visibleEdgeCount()") == \
        int((magnitude >= magnitude.max()).sum())
    slider.send_keys(Keys.HOME)
    assert page.execute_script(view_api + "visibleEdgeCount()") == weight.size
    # the kind toggles: hiding error nodes hides every edge touching one
    graph = real_view["graph"]
    src, dst, _ = graph.merged_edges()
    error = graph.kind_mask("error")
    toggle = page.find_element("css selector", "#cv-kinds input[data-kind='2']")
    assert toggle.find_element("xpath", "..").text == "error"
    toggle.click()
    assert page.execute_script(view_api + "visibleEdgeCount()") == \
        int((~error[src] & ~error[dst]).sum()) < weight.size
    toggle.click()
    assert page.execute_script(view_api + "visibleEdgeCount()") == weight.size


def test_wheel_zooms_and_drag_pans(page, real_view):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    node = real_view["graph"].node_keys()[0]
    where = "return window.cgramView.screenPosition(arguments[0])"
    before = page.execute_script(where, node)
    overlay = page.find_element("id", "cv-overlay")
    ActionChains(page).scroll_from_origin(ScrollOrigin.from_element(overlay), 0, -300).perform()
    zoomed = page.execute_script(where, node)
    assert zoomed != before
    ActionChains(page).move_to_element(overlay).click_and_hold().move_by_offset(40, 25) \
        .release().perform()
    panned = page.execute_script(where, node)
    assert panned[0] - zoomed[0] == pytest.approx(40, abs=1.5)
    assert panned[1] - zoomed[1] == pytest.approx(25, abs=1.5)
    page.find_element("id", "cv-reset").click()
    page.execute_script("window.cgramView.clear()")


def test_exported_pins_round_trip_through_cgram_import(page, real_view, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.keys import Keys

    graph = real_view["graph"]
    page.execute_script("window.cgramView.clear()")
    before = page.execute_script("return window.cgramView.pinned()")
    from corpus.neuronpedia import qparam_rows

    keys = graph.node_keys()
    # the file's own pins come pre-pinned (this Anthropic file names them by jsNodeId)
    assert before == [keys[row] for row in qparam_rows(graph)["pinned"]]
    assert len(before) == len(graph.meta.qparams["pinnedIds"]) > 0
    node, _, (x, y) = _isolated_feature(page, graph, exclude=tuple(before))
    move = ActionBuilder(page)
    move.pointer_action.move_to_location(int(round(x)), int(round(y)))
    move.perform()
    ActionChains(page).key_down(Keys.SHIFT).click().key_up(Keys.SHIFT).perform()  # shift-click pins
    pinned = page.execute_script("return window.cgramView.pinned()")
    assert pinned == before + [node]

    page.find_element("id", "cv-export").click()  # the button's download
    exported = _wait_for_download(page, "capital-state-dallas-pinned.json")
    text = exported.read_text(encoding="utf-8")
    assert text == page.execute_script("return window.cgramView.exportPinned()")
    js_id = dict(zip(keys, graph.nodes["js_node_id"].astype(str)))
    assert json.loads(text)["qParams"]["pinnedIds"] == \
        graph.meta.qparams["pinnedIds"] + [js_id[node]]

    corpus = tmp_path / "back"
    assert cgram(["import", str(exported), "--corpus", str(corpus), "-j", "1"]) == 0
    from corpus.store import Corpus

    back = Corpus(corpus).load("capital-state-dallas")
    assert back.meta.qparams["pinnedIds"] == json.loads(text)["qParams"]["pinnedIds"]
    assert [back.node_keys()[row] for row in qparam_rows(back)["pinned"]] == pinned
    assert back.n_nodes == graph.n_nodes and back.n_edges == graph.n_edges
    np.testing.assert_array_equal(back.weight, graph.weight)  # float32 weights exact
    assert back.nodes["node_id"].tolist() == graph.nodes["node_id"].tolist()
    assert back.meta.model == graph.meta.model


def test_hovering_an_edge_shows_its_weight_and_path_parts(driver, tmp_path):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    graph = small_graph(split=True)
    path = tmp_path / "split.html"
    view(graph).save(path)
    driver.get(path.resolve().as_uri())
    keys = graph.node_keys()
    where = np.array(driver.execute_script(
        "return arguments[0].map(function(i){return window.cgramView.screenPosition(i)})", keys))
    src, dst, weight = graph.merged_edges()
    # the edge 0 -> 2 (residual +0.5, attention -1.0); hover a point on it away from the rest
    e = int(np.flatnonzero((src == 0) & (dst == 2))[0])
    a, b = where[src], where[dst]
    for t in np.linspace(0.2, 0.8, 13):
        point = where[0] + t * (where[2] - where[0])
        along = np.clip(((point - a) * (b - a)).sum(1) / ((b - a) ** 2).sum(1), 0, 1)
        gap = np.sqrt(((a + along[:, None] * (b - a) - point) ** 2).sum(1))
        gap[e] = np.inf
        if gap.min() > 8 and np.sqrt(((where - point) ** 2).sum(1)).min() > 15:
            break
    else:
        pytest.fail("no point of edge 0 -> 2 is clear of the other edges and nodes")
    hover = ActionBuilder(driver)
    hover.pointer_action.move_to_location(int(round(point[0])), int(round(point[1])))
    hover.perform()
    tip = driver.find_element("id", "cv-tip").text
    assert tip.splitlines()[0] == "'Dallas' → late"
    assert "weight: -0.5000" in tip and "residual-direct: 0.5000" in tip
    assert "attention-mediated: -1.000" in tip
    assert console_problems(driver) == []


def test_the_explorer_works_inside_an_iframe(driver, tmp_path):
    """As a report or a notebook embeds it (iframe srcdoc)."""
    host = tmp_path / "host.html"
    host.write_text("<!DOCTYPE html><html><body><h1>host</h1>" + view(small_graph())._repr_html_()
                    + "</body></html>", encoding="utf-8")
    driver.get(host.resolve().as_uri())
    driver.switch_to.frame(driver.find_element("css selector", "iframe.cgram-view"))
    try:
        assert driver.execute_script("return window.cgramView.visibleEdgeCount()") == 5
        assert driver.execute_script("return window.cgramView.highlightMotif(1)") == \
            ["E_1_0", "0_3_0", "1_4_1"]
    finally:
        driver.switch_to.default_content()
    assert console_problems(driver) == []


def _wait_for_download(driver, name: str, timeout: float = 20.0) -> Path:
    folder = Path(driver._cgram_downloads)
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = folder / name
        if path.exists() and not (folder / (name + ".crdownload")).exists() and \
                path.stat().st_size > 0:
            return path
        time.sleep(0.1)
    raise AssertionError(f"no download {name} in {folder}: {sorted(p.name for p in folder.iterdir())}")
