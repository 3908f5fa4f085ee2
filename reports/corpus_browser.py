"""The corpus browser: one index page listing every graph of a corpus.

Each row is a graph (model, transcoder type, task, size, and the feed-forward
loop's Z-score and significance profile under the report's headline null,
Milo et al. 2002/2004) linking to its explorer page (:mod:`reports.view`).
The table sorts by any column (click its header) and filters by text and by
model / transcoder / task; a small inline script does it, so the page, like
the explorer, opens from a ``file://`` URL with no network. ``cgram report
--corpus`` writes it beside the corpus report as ``index.html`` with the
explorer pages under ``views/``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from corpus.atomic import atomic_write

if TYPE_CHECKING:
    from corpus.store import Corpus

#: Columns of the browser table: (key, header, numeric).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("slug", "graph", False), ("model", "model", False),
    ("transcoder_type", "transcoder", False), ("task", "task", False),
    ("n_nodes", "nodes", True), ("n_edges", "edges", True),
    ("ffl_z", "FFL Z", True), ("ffl_sp", "FFL SP", True),
)

#: File name of the browser page beside a corpus report.
BROWSER_NAME = "index.html"

#: The columns with a drop-down filter.
FACETS: tuple[str, ...] = ("model", "transcoder_type", "task")


def view_file_name(slug: str, graph_id: str) -> str:
    """A file name for a graph's view: its slug made safe, plus an id prefix.

    Examples
    --------
    >>> view_file_name("capital/state dallas", "ab12cd34ef")
    'capital-state-dallas-ab12cd34.html'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", slug or "graph").strip("-.")[:80] or "graph"
    return f"{safe}-{graph_id[:8]}.html"


def browser_table(graphs: pd.DataFrame, profiles: pd.DataFrame | None) -> pd.DataFrame:
    """One row per corpus graph with the FFL's Z and SP (NaN where the motif run failed).

    Parameters
    ----------
    graphs : the corpus graphs table (``Corpus.list()``).
    profiles : a profile table of one null (:func:`motifs.compare.profile_table`),
        or None.

    Examples
    --------
    >>> graphs = pd.DataFrame({"graph_id": ["g1", "g2"], "slug": ["a", "b"], "model": ["m", "m"],
    ...                        "transcoder_type": ["clt", "plt"], "task": ["t", None],
    ...                        "n_nodes": [5, 6], "n_edges": [7, 8]})
    >>> profiles = pd.DataFrame({"graph": ["g1"], "z:030T": [3.5], "sp:030T": [0.9]})
    >>> browser_table(graphs, profiles)[["slug", "ffl_z", "ffl_sp"]].to_dict("list")
    {'slug': ['a', 'b'], 'ffl_z': [3.5, nan], 'ffl_sp': [0.9, nan]}
    """
    from motifs.compare import find_motif

    table = graphs[["graph_id", *[c for c, _, _ in COLUMNS if c in graphs]]].copy()
    table["ffl_z"] = float("nan")
    table["ffl_sp"] = float("nan")
    if profiles is not None and len(profiles):
        motifs = [c.split(":", 1)[1] for c in profiles.columns if c.startswith("z:")]
        ffl = find_motif(motifs, "ffl")
        if ffl is not None:
            values = profiles.set_index("graph")[[f"z:{ffl}", f"sp:{ffl}"]]
            table["ffl_z"] = table["graph_id"].map(values[f"z:{ffl}"]).astype(float)
            table["ffl_sp"] = table["graph_id"].map(values[f"sp:{ffl}"]).astype(float)
    return table.reset_index(drop=True)


def _cell(value: Any, numeric: bool) -> tuple[str, str]:
    """(shown text, sort key) of one cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "", ""
    if numeric:
        number = float(value)
        text = f"{int(number):,}" if number == int(number) and abs(number) >= 10 else f"{number:.3g}"
        return text, repr(number)
    return str(value), str(value).lower()


def browser_html(table: pd.DataFrame, links: dict[str, str], title: str, null: str,
                 note: str = "") -> str:
    """The index page: ``table`` (:func:`browser_table`) with each slug linking to
    ``links[graph_id]`` (a relative path), sortable and filterable."""
    heads = "".join(
        f'<th data-col="{i}" data-numeric="{int(numeric)}" title="sort by {html.escape(name)}">'
        f"{html.escape(name)}{f' ({html.escape(null)})' if key.startswith('ffl_') else ''}</th>"
        for i, (key, name, numeric) in enumerate(COLUMNS))
    rows = []
    for record in table.to_dict("records"):
        cells = []
        for key, _, numeric in COLUMNS:
            text, sort_key = _cell(record.get(key), numeric)
            if key == "slug" and record["graph_id"] in links:
                text = (f'<a href="{html.escape(links[record["graph_id"]])}">'
                        f"{html.escape(text or record['graph_id'][:12])}</a>")
            else:
                text = html.escape(text)
            cls = ' class="num"' if numeric else ""
            cells.append(f'<td{cls} data-key="{html.escape(sort_key)}">{text}</td>')
        rows.append(f'<tr data-graph="{html.escape(record["graph_id"])}">{"".join(cells)}</tr>')
    facets = "".join(
        f'<label>{html.escape(dict((k, n) for k, n, _ in COLUMNS)[facet])} '
        f'<select data-facet="{[k for k, _, _ in COLUMNS].index(facet)}"><option value="">all'
        "</option>" + "".join(f"<option>{html.escape(str(v))}</option>"
                              for v in sorted(table[facet].dropna().astype(str).unique()))
        + "</select></label> " for facet in FACETS if facet in table)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(note)}</p>"
        "<p class=\"controls\"><label>filter <input id=\"cb-filter\" type=\"search\" "
        f"placeholder=\"slug, model, task...\"></label> {facets}"
        "<span id=\"cb-count\"></span></p>"
        f"<table id=\"cb-table\"><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}"
        f"</tbody></table><script>{_SCRIPT}</script></body></html>\n")


def listed_graphs(corpus: Corpus, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """The corpus's graphs table, only ``keys`` (ids or slugs) when given."""
    graphs = corpus.list()
    if keys is not None:
        wanted = {corpus.resolve(k) for k in keys}
        graphs = graphs.loc[graphs["graph_id"].isin(wanted)]
    return graphs


def write_views(corpus: Corpus, out_dir: str | Path, keys: Sequence[str] | None = None,
                statistics: dict[str, dict[str, Any]] | None = None,
                **view_options: Any) -> dict[str, str]:
    """Write every listed graph's explorer page under ``out_dir/views/``.

    Returns ``{graph_id: path relative to out_dir}``, the links
    :func:`write_corpus_browser` takes. Needs the graphs only, so a report
    writes them while its motif runs are still going (``links``).

    ``statistics``, when given, is filled with each graph's
    :func:`reports.mechanisms.cascade_statistics` by graph id, taken from the
    cascades its page lists (each graph is loaded and searched once).
    """
    from motifs.cascades import cascades_for_graph
    from motifs.network import Network
    from reports.mechanisms import cascade_statistics, records_statistics
    from reports.view import CASCADES_PER_LOGIT, write_view

    out_dir = Path(out_dir)
    per_logit = view_options.get("cascades_per_logit", CASCADES_PER_LOGIT)
    # the page's own cascade search serves the statistics unless the caller chose the cascades
    shared = statistics is not None and "cascades" not in view_options and per_logit >= 1
    links: dict[str, str] = {}
    for graph_id, slug in zip(*(listed_graphs(corpus, keys)[c] for c in ("graph_id", "slug"))):
        relative = f"views/{view_file_name(str(slug or ''), graph_id)}"
        graph = corpus.load(graph_id)
        options = dict(view_options)
        if shared:
            net = Network.from_graph(graph)
            _, _, records = cascades_for_graph(graph, top_k=per_logit, net=net)
            statistics[graph_id] = records_statistics(records)
            options.update(cascades=records, net=net)
        elif statistics is not None:
            statistics[graph_id] = cascade_statistics(graph)
        write_view(graph, out_dir / relative, **options)
        links[graph_id] = relative
    return links


def write_corpus_browser(corpus: Corpus, out_dir: str | Path, profiles: pd.DataFrame | None = None,
                         null: str = "config-dag", views: bool = True,
                         keys: Sequence[str] | None = None, name: str = BROWSER_NAME,
                         note: str = "", links: dict[str, str] | None = None,
                         **view_options: Any) -> Path:
    """Write the corpus browser (and, with ``views``, every graph's explorer page).

    Parameters
    ----------
    corpus : corpus.store.Corpus
    out_dir : path
        Folder of the page; views go to ``out_dir/views/``.
    profiles : profile table under ``null`` (:func:`motifs.compare.profile_table`);
        the FFL columns stay empty without it.
    null : the null model the FFL Z and SP come from (named in the headers).
    views : write each graph's explorer page (:func:`write_views`).
    keys : graphs to list (default: all).
    name : file name of the page.
    note : a line under the title.
    links : the explorer pages :func:`write_views` already wrote (then ``views``
        writes none).
    **view_options : passed to :func:`reports.view.write_view`.

    Returns
    -------
    pathlib.Path
        The index page.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = browser_table(listed_graphs(corpus, keys), profiles)
    if links is None:
        links = write_views(corpus, out_dir, keys, **view_options) if views else {}
    page = browser_html(table, links, f"Corpus browser: {len(table)} attribution graphs", null,
                        note or f"Corpus {corpus.root}. FFL Z and SP under the {null} null; "
                                "click a header to sort, a graph to open its explorer.")
    path = out_dir / name
    atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return path


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto;
       max-width: 1150px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; border-bottom: 2px solid #2166ac; padding-bottom: .2em; }
p.meta { color: #555; font-size: .9em; }
.controls label { margin-right: 1em; }
table { border-collapse: collapse; font-size: .85em; width: 100%; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
th { background: #f0f4f8; cursor: pointer; user-select: none; white-space: nowrap; }
th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:hover td { background: #f6f9fc; }
#cb-count { color: #555; }
"""

# Sorting and filtering, for tests and users: window.cgramBrowser.
_SCRIPT = """(function () {
  "use strict";
  var table = document.getElementById("cb-table"), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows), heads = table.tHead.rows[0].cells;
  var text = document.getElementById("cb-filter"), count = document.getElementById("cb-count");
  var facets = Array.prototype.slice.call(document.querySelectorAll("select[data-facet]"));
  var sorted = { col: -1, dir: 1 };
  function key(row, col, numeric) {
    var k = row.cells[col].getAttribute("data-key");
    return numeric ? (k === "" ? NaN : parseFloat(k)) : k;
  }
  function sortBy(col, dir) {
    var numeric = heads[col].getAttribute("data-numeric") === "1";
    dir = dir || (sorted.col === col ? -sorted.dir : (numeric ? -1 : 1));
    rows.sort(function (a, b) {
      var x = key(a, col, numeric), y = key(b, col, numeric);
      if (numeric) {  // empty cells last either way
        if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y);
        return dir * (x - y);
      }
      return dir * (x < y ? -1 : x > y ? 1 : 0);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(heads, function (h, i) {
      h.classList.toggle("asc", i === col && dir > 0);
      h.classList.toggle("desc", i === col && dir < 0);
    });
    sorted = { col: col, dir: dir };
    return visibleRows();
  }
  function apply() {
    var needle = text.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (row) {
      var ok = !needle || row.textContent.toLowerCase().indexOf(needle) >= 0;
      facets.forEach(function (f) {
        if (f.value && row.cells[+f.getAttribute("data-facet")].textContent !== f.value) ok = false;
      });
      row.hidden = !ok;
      shown += ok ? 1 : 0;
    });
    count.textContent = shown + " of " + rows.length + " graphs";
    return visibleRows();
  }
  function visibleRows() {
    return rows.filter(function (r) { return !r.hidden; })
      .map(function (r) { return r.getAttribute("data-graph"); });
  }
  Array.prototype.forEach.call(heads, function (h, i) {
    h.addEventListener("click", function () { sortBy(i); });
  });
  text.addEventListener("input", apply);
  facets.forEach(function (f) { f.addEventListener("change", apply); });
  apply();
  window.cgramBrowser = {
    sortBy: sortBy,
    filter: function (value) { text.value = value; return apply(); },
    visibleRows: visibleRows
  };
})();"""
