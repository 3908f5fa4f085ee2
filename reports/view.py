"""The interactive graph explorer: one self-contained HTML file per graph.

:func:`view_html` turns an :class:`corpus.AttributionGraph` (plus its motif
results) into a page that opens from a ``file://`` URL with no server and no
network: the graph's arrays ride inline (base64 typed arrays, exact float32
weights), beside a pinned copy of d3 vendored from the npm registry
(:data:`LIBRARY`, ``reports/vendor/``) and our own ``view.js`` / ``view.css``.
The page draws nodes and edges on a canvas in batched paths (not one SVG
element per edge) in Neuronpedia's layout: x = token position, y = layer
(embeddings at the bottom, logits at the top). Hover shows a node's label,
layer, position, activation and influence, or an edge's weight and its
residual / attention parts; click lists a node's strongest edges and fades the
rest; shift-click pins; "export pinned" writes Neuronpedia JSON whose
``qParams.pinnedIds`` are the pinned nodes. The motif panel lists the
strongest feed-forward loops (Mangan & Alon 2003, signed types C1..I4) and,
when given, FFL cascades (issue #13's JSON). ``window.cgramView`` exposes
``select``, ``highlightMotif``, ``highlighted``, ``visibleEdgeCount`` and
``setMinWeight`` for tests and notebooks.

Jupyter: :func:`view` returns a :class:`GraphView` whose ``_repr_html_``
embeds the page in an ``iframe`` (``srcdoc``), and :func:`register_ipython`
makes every ``AttributionGraph`` display that way. The hook lives here, not
on ``AttributionGraph``, because ``corpus`` imports nothing of ours.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from corpus.atomic import atomic_write
from motifs.errors import MotifError

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph
    from motifs.network import Network
    from reports.html import Page

_HERE = Path(__file__).resolve().parent

#: The vendored JavaScript library: name, version, licence, and its files
#: under ``reports/vendor/`` (fetched with ``npm pack d3@7.9.2``).
LIBRARY: dict[str, str] = {
    "name": "d3",
    "version": "7.9.2",
    "license": "ISC",
    "copyright": "Copyright 2010-2026 Mike Bostock",
    "file": "vendor/d3-7.9.2.min.js",
    "license_file": "vendor/LICENSE-d3.txt",
}

#: FFL instances listed in the motif panel by default.
TOP_FFLS = 30

#: Cascades listed in the motif panel by default (all logits together).
TOP_CASCADES = 20

#: Cascades found per logit when the page computes them (motifs.cascades).
CASCADES_PER_LOGIT = 3


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


def _b64(array: np.ndarray, dtype: str) -> str:
    """Little-endian bytes of ``array`` as ``dtype``, base64 (a JS typed array)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
                            .tobytes()).decode("ascii")


def _floats(values: Any) -> list[float | None]:
    """JSON-safe floats: NaN and missing become None."""
    out = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    return [None if not math.isfinite(v) else float(v) for v in out]


def node_layout(layer: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal coordinates of Neuronpedia's layout: one column per token position.

    Each position's column is as wide as its most crowded (layer, position)
    cell, so no cell overlaps its neighbour; the nodes of a cell spread
    evenly across their column.

    Parameters
    ----------
    layer, pos : (n,) int
        Each node's layer and token position (positions >= 0).

    Returns
    -------
    x : (n,) float64
        Node coordinate in column units.
    start, width : (n_positions,) float64
        Left edge and width of each position's column (for the token axis).

    Examples
    --------
    >>> x, start, width = node_layout(np.array([0, 0, 1, 0]), np.array([0, 0, 0, 1]))
    >>> x.tolist(), start.tolist(), width.tolist()
    ([0.5, 1.5, 1.0, 2.5], [0.0, 2.0], [2.0, 1.0])
    """
    layer = np.asarray(layer, dtype=np.int64)
    pos = np.asarray(pos, dtype=np.int64)
    n_pos = int(pos.max()) + 1 if pos.size else 1
    key = pd.Series((layer - layer.min(initial=0)) * n_pos + pos if pos.size else pos)
    rank = key.groupby(key).cumcount().to_numpy()
    size = key.map(key.value_counts()).to_numpy()
    width = np.ones(n_pos)
    np.maximum.at(width, pos, size.astype(float))
    start = np.concatenate([[0.0], np.cumsum(width)[:-1]])
    x = start[pos] + (rank + 0.5) * width[pos] / np.maximum(size, 1)
    return x, start, width


def _edge_index(src: np.ndarray, dst: np.ndarray, n: int):
    """A function (u, v) -> index of edge u->v in (src, dst), -1 when absent."""
    keys = src.astype(np.int64) * max(n, 1) + dst
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def find(u: Any, v: Any) -> np.ndarray:
        query = np.asarray(u, dtype=np.int64) * max(n, 1) + np.asarray(v, dtype=np.int64)
        at = np.minimum(np.searchsorted(sorted_keys, query), max(sorted_keys.size - 1, 0))
        hit = sorted_keys[at] == query if sorted_keys.size else np.zeros(query.shape, bool)
        return np.where(hit, order[at] if sorted_keys.size else -1, -1)

    return find


def _path_parts(graph: AttributionGraph, src: np.ndarray, dst: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """Residual-direct and attention-mediated part of each merged edge, when split."""
    if graph.path is None:
        return None
    find = _edge_index(src, dst, graph.n_nodes)
    edge = find(graph.src, graph.dst)
    parts = []
    for code in (0, 1):  # PATHS order: residual, attention
        part = np.zeros(src.size, dtype=np.float64)
        np.add.at(part, edge, np.where(graph.path == code, graph.weight, 0.0))
        parts.append(part.astype(np.float32))
    return parts[0], parts[1]


def ffl_motifs(graph: AttributionGraph, top: int = TOP_FFLS, net: Network | None = None
               ) -> list[dict[str, Any]]:
    """The ``top`` strongest feed-forward loops, as the motif panel lists them.

    Instances come from :func:`motifs.instances.ranked_instances` on the
    default motif network (embeddings, features, logits; signed), strongest
    first (geometric mean of the three |weights|). ``net``: that network,
    when the caller has built it (``Network.from_graph(graph)``).

    Returns
    -------
    list of dict
        ``kind`` ("ffl"), ``nodes`` (graph rows X, Y, Z), ``edges`` (rows of
        :meth:`AttributionGraph.merged_edges` for X->Y, Y->Z, X->Z),
        ``sign_type``, ``strength``, ``weights``.

    References
    ----------
    Mangan, S. & Alon, U. (2003). Structure and function of the feed-forward
    loop network motif. PNAS 100:11980-11985.

    Examples
    --------
    >>> import pandas as pd
    >>> from corpus.graph import AttributionGraph
    >>> nodes = pd.DataFrame({"node_id": ["E_1_0", "0_3_0", "2_9_0"],
    ...                       "kind": ["embedding", "feature", "logit"],
    ...                       "layer": [-1, 0, 2], "pos": [0, 0, 0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0, 1, 0], [1, 2, 2], [2.0, 4.0, -1.0])
    >>> loop = ffl_motifs(g)[0]
    >>> loop["nodes"], loop["sign_type"], loop["strength"]
    ([0, 1, 2], 'ffl_I3', 2.0)
    """
    from motifs.instances import ranked_instances
    from motifs.network import Network

    net = Network.from_graph(graph) if net is None else net
    if net.n_edges == 0:
        return []
    loops = ranked_instances(net, "ffl", limit=top)
    if not loops["x"].size:
        return []
    src, dst, _ = graph.merged_edges()
    find = _edge_index(src, dst, graph.n_nodes)
    rows = {role: net.rows[loops[role]] for role in "xyz"}
    edges = np.stack([find(rows["x"], rows["y"]), find(rows["y"], rows["z"]),
                      find(rows["x"], rows["z"])], axis=1).tolist()
    nodes = np.stack([rows[r] for r in "xyz"], axis=1).tolist()
    weights = np.stack([loops[w] for w in ("w_xy", "w_yz", "w_xz")], axis=1).tolist()
    return [{"kind": "ffl", "nodes": nodes[i], "edges": edges[i],
             "sign_type": None if sign is None else str(sign), "strength": strength,
             "weights": weights[i]}
            for i, (sign, strength) in enumerate(zip(loops["sign_type"].tolist(),
                                                     loops["strength"].tolist()))]


def cascade_motifs(graph: AttributionGraph, cascades: Sequence[dict[str, Any]],
                   top: int = TOP_CASCADES) -> list[dict[str, Any]]:
    """Cascades (issue #13's JSON: ``logit``, ``nodes``, ``ffls`` with their
    ``x``/``y``/``z`` (or ``nodes``) and ``sign_type``, ``strength``,
    ``coherent``) as motif-panel entries with graph rows and edge rows.

    The lit edges are the consecutive hops of the node path and every FFL's
    three edges, where the graph has them.

    Raises
    ------
    MotifError
        A cascade names a node id the graph does not have.

    Examples
    --------
    >>> import pandas as pd
    >>> from corpus.graph import AttributionGraph
    >>> nodes = pd.DataFrame({"node_id": ["E_1_0", "0_3_0", "2_9_0"],
    ...                       "kind": ["embedding", "feature", "logit"],
    ...                       "layer": [-1, 0, 2], "pos": [0, 0, 0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0, 1, 0], [1, 2, 2], [2.0, 4.0, -1.0])
    >>> chain = {"logit": "2_9_0", "nodes": ["E_1_0", "0_3_0", "2_9_0"], "strength": 0.5,
    ...          "coherent": False,
    ...          "ffls": [{"x": "E_1_0", "y": "0_3_0", "z": "2_9_0", "sign_type": "ffl_I3"}]}
    >>> entry = cascade_motifs(g, [chain])[0]
    >>> entry["path"], entry["edges"]
    ([0, 1, 2], [0, 1, 2])
    """
    # cascades name nodes by node key (motifs.Network.names); plain node ids work too
    row_of: dict[str, int] = {}
    for row, key in enumerate(graph.node_keys()):
        row_of.setdefault(key, row)
    for row, key in enumerate(graph.nodes["node_id"].astype(object).tolist()):
        row_of.setdefault(key, row)
    src, dst, _ = graph.merged_edges()
    find = _edge_index(src, dst, graph.n_nodes)
    out = []
    for rank, cascade in enumerate(list(cascades)[:top]):
        try:
            path = [row_of[key] for key in cascade["nodes"]]
            ffls = [[row_of[key] for key in (ffl["nodes"] if "nodes" in ffl else
                                             (ffl["x"], ffl["y"], ffl["z"]))]
                    for ffl in cascade.get("ffls", [])]
            logit = row_of[cascade["logit"]]
        except KeyError as missing:
            raise MotifError(f"{graph.name}: cascade {rank} names node {missing} that the graph "
                             "does not have") from None
        pairs = list(zip(path[:-1], path[1:]))
        pairs += [(a, b) for x, y, z in ffls for a, b in ((x, y), (y, z), (x, z))]
        found = find([a for a, _ in pairs], [b for _, b in pairs]) if pairs else np.zeros(0, int)
        nodes = list(dict.fromkeys(path + [r for ffl in ffls for r in ffl]))
        out.append({"kind": "cascade", "nodes": nodes, "path": path, "logit": logit,
                    "edges": sorted({int(e) for e in found if e >= 0}),
                    "stages": [str(stage) for stage in cascade.get("stages", [])],
                    "sign_types": [ffl.get("sign_type") for ffl in cascade.get("ffls", [])],
                    "strength": float(cascade.get("strength", float("nan"))),
                    "coherent": bool(cascade.get("coherent", False))})
    return out


def view_payload(graph: AttributionGraph, ffls: Sequence[dict[str, Any]] = (),
                 cascades: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Everything the page needs, as one JSON-ready dict.

    Edge arrays are the merged edges (path parts summed) as base64 typed
    arrays: ``src``/``dst`` int32 rows, ``weight`` float32 (exact, so an
    export writes the weights the graph has), ``residual``/``attention``
    float32 parts when the graph was split. ``neuronpedia`` holds the node
    records and metadata of :func:`corpus.neuronpedia.to_json_dict` (links
    are rebuilt from the arrays on export).
    """
    from corpus.neuronpedia import qparam_rows, to_json_dict
    from reports.figures import node_display_names

    graph.validate()
    nodes = graph.nodes
    kinds = nodes["kind"].astype(str).to_numpy()
    kind_names = [k for k in ("embedding", "feature", "error", "logit", "lorsa", "lorsa_error",
                              "bias", "unknown") if (kinds == k).any()]
    kind_code = pd.Categorical(kinds, categories=kind_names).codes
    layer = nodes["layer"].to_numpy(dtype=np.int64)
    pos = np.maximum(nodes["pos"].to_numpy(dtype=np.int64), 0)
    x, start, width = node_layout(layer, pos)
    src, dst, weight = graph.merged_edges()
    edges: dict[str, Any] = {"count": int(src.size), "src": _b64(src, "i4"),
                             "dst": _b64(dst, "i4"), "weight": _b64(weight, "f4")}
    parts = _path_parts(graph, src, dst)
    if parts is not None:
        edges["residual"], edges["attention"] = _b64(parts[0], "f4"), _b64(parts[1], "f4")
    meta = graph.meta
    tokens = list(meta.prompt_tokens)
    if len(tokens) < len(start):  # fall back on the embedding nodes' tokens
        emb = nodes.loc[nodes["kind"] == "embedding", ["pos", "token"]].dropna()
        by_pos = dict(zip(emb["pos"].astype(int), emb["token"].astype(str)))
        tokens = [tokens[p] if p < len(tokens) else by_pos.get(p, "") for p in range(len(start))]
    template = to_json_dict(graph)
    feature = nodes["feature"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return {
        "meta": {"slug": meta.slug, "name": graph.name, "model": meta.model, "scan": meta.scan,
                 "transcoder_type": meta.transcoder_type, "task": meta.task,
                 "prompt": meta.prompt, "source": meta.source, "n_layers": meta.n_layers},
        "library": {k: LIBRARY[k] for k in ("name", "version", "license", "copyright")},
        "nodes": {"count": graph.n_nodes, "id": graph.node_keys(), "kinds": kind_names,
                  "kind": kind_code.tolist(), "layer": layer.tolist(), "pos": pos.tolist(),
                  "x": _b64(x, "f4"), "label": [str(s) for s in node_display_names(graph)],
                  "node_id": nodes["node_id"].astype(str).tolist(),
                  "feature": _floats(feature), "activation": _floats(nodes["activation"]),
                  "influence": _floats(nodes["influence"]), "prob": _floats(nodes["prob"])},
        "columns": {"start": start.tolist(), "width": width.tolist(),
                    "token": [str(t) for t in tokens[:len(start)]]},
        "edges": edges,
        "motifs": list(ffls) + list(cascades),
        "pinned": qparam_rows(graph)["pinned"],
        "neuronpedia": {"metadata": template["metadata"], "qParams": template["qParams"],
                        "nodes": template["nodes"],
                        "pin_field": "jsNodeId" if meta.source == "anthropic" else "node_id"},
    }


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no ``<!--``)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")) \
        .replace("<", "\\u003c")


def view_html(graph: AttributionGraph, *, top_ffls: int = TOP_FFLS,
              cascades: Sequence[dict[str, Any]] | None = None,
              cascades_per_logit: int = CASCADES_PER_LOGIT, top_cascades: int = TOP_CASCADES,
              title: str | None = None, net: Network | None = None) -> str:
    """The explorer page of ``graph`` as one self-contained HTML document.

    Parameters
    ----------
    graph : corpus.AttributionGraph
    top_ffls : int
        Strongest FFL instances listed in the motif panel (first in the list,
        so ``highlightMotif(0)`` lights the strongest FFL).
    cascades : list of dict, optional
        FFL cascades (``cgram cascades --json``), listed after the FFLs. By
        default the page finds the ``cascades_per_logit`` strongest cascades
        to each logit itself (:func:`motifs.cascades.cascades_for_graph`,
        highest-probability logit first); pass ``[]`` for none.
    cascades_per_logit : int
        Cascades per logit when they are computed here (0: none).
    top_cascades : int
        Cascades listed, all logits together.
    title : str, optional
        Page title (default: the graph's name).
    net : motifs.Network, optional
        ``Network.from_graph(graph)`` when the caller has built it (the FFLs
        and cascades are found on it; built here otherwise).

    Returns
    -------
    str
        HTML with the data, d3 and the explorer inline; nothing is fetched.

    Examples
    --------
    >>> import pandas as pd
    >>> from corpus.graph import AttributionGraph
    >>> nodes = pd.DataFrame({"node_id": ["E_1_0", "0_3_0", "1_4_0", "2_9_0"],
    ...                       "kind": ["embedding", "feature", "feature", "logit"],
    ...                       "layer": [-1, 0, 1, 2], "pos": [0, 0, 0, 0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0, 1, 0, 2], [1, 2, 2, 3], [1.0, 2.0, -0.5, 1.0])
    >>> page = view_html(g)
    >>> "window.cgramView" in page and "d3 7.9.2" in page and "http" not in page.split("<script")[0]
    True
    """
    own_cascades = cascades is None and cascades_per_logit > 0
    if net is None and (top_ffls > 0 or own_cascades):
        from motifs.network import Network

        net = Network.from_graph(graph)  # built once for the FFLs and the cascades
    ffls = ffl_motifs(graph, top_ffls, net) if top_ffls > 0 else []
    if own_cascades:
        from motifs.cascades import cascades_for_graph

        _, _, cascades = cascades_for_graph(graph, top_k=cascades_per_logit, net=net)
    chained = cascade_motifs(graph, cascades, top_cascades) if cascades else []
    payload = view_payload(graph, ffls, chained)
    name = title or f"{graph.name} · graph explorer"
    lib = LIBRARY
    credit = (f"Drawn with {lib['name']} {lib['version']} ({lib['license']} licence, "
              f"{lib['copyright']}), vendored from the npm registry.")
    licence_text = _asset(lib["license_file"]).replace("*/", "* /")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(name)}</title>"
        f"<meta name=\"generator\" content=\"circuit-grammar; {lib['name']} {lib['version']} "
        f"({lib['license']})\"><style>{_asset('view.css')}</style></head><body>\n"
        f"{_SKELETON.format(title=html.escape(name), credit=html.escape(credit))}\n"
        f"<script>/*! {lib['name']} {lib['version']} | {lib['license']} licence | "
        f"{lib['copyright']}\n{licence_text}*/\n{_asset(lib['file'])}</script>\n"
        f"<script id=\"cgram-data\" type=\"application/json\">{_script_json(payload)}</script>\n"
        f"<script>{_asset('view.js')}</script>\n</body></html>\n")


#: The page's static markup; ``view.js`` fills it.
_SKELETON = """<div id="cv-root">
<header id="cv-bar"><h1 id="cv-title">{title}</h1><p id="cv-meta"></p>
<div id="cv-controls"><label>|weight| &ge; <input id="cv-slider" type="range" min="0" max="1000"
value="0" step="1"></label> <span id="cv-threshold"></span> <span id="cv-kinds"></span>
<button id="cv-reset" type="button">reset view</button>
<button id="cv-export" type="button">export pinned</button></div></header>
<div id="cv-main"><div id="cv-stage"><canvas id="cv-canvas"></canvas>
<canvas id="cv-overlay"></canvas><div id="cv-tip" hidden></div></div>
<aside id="cv-side"><section id="cv-detail"><h2>Node</h2><p class="cv-hint">Hover for
details; click a node for its strongest edges; shift-click pins; drag pans, wheel zooms;
<kbd>n</kbd> / <kbd>p</kbd> step through motifs, <kbd>Esc</kbd> clears.</p></section>
<section id="cv-motifs"><h2>Motifs</h2><ol id="cv-motif-list"></ol></section>
<section id="cv-pins"><h2>Pinned <span id="cv-pin-count">0</span></h2><ol id="cv-pin-list"></ol>
</section>
</aside></div>
<footer id="cv-foot">{credit}</footer></div>"""


def write_view(graph: AttributionGraph, path: str | Path, **options: Any) -> Path:
    """Write :func:`view_html` of ``graph`` to ``path`` (atomically); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = view_html(graph, **options)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def iframe_html(page: str, height: int = 720) -> str:
    """``page`` inside an ``<iframe srcdoc>``: its scripts and styles stay
    isolated from the host page (a report, a notebook).

    Examples
    --------
    >>> iframe_html('<p class="x">a & b</p>', height=100)[:96]
    '<iframe class="cgram-view" title="graph explorer" srcdoc="&lt;p class=&quot;x&quot;&gt;a &amp; b'
    """
    return (f"<iframe class=\"cgram-view\" title=\"graph explorer\" "
            f"srcdoc=\"{html.escape(page, quote=True)}\" "
            f"style=\"width:100%;height:{int(height)}px;border:1px solid #ddd\"></iframe>")


def embed_view(page: Page, graph: AttributionGraph, name: str = "view", height: int = 760,
               **options: Any) -> Path:
    """Add the explorer of ``graph`` to a report ``page`` (an isolated iframe) and
    write it beside the page as ``<name>.html``; returns that file.

    ``options`` go to :func:`view_html`.
    """
    text = view_html(graph, **options)
    path = page.out_dir / f"{name}.html"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    page.files.append(path)
    page.raw(iframe_html(text, height))
    return path


@dataclass
class GraphView:
    """A graph's explorer page; shows itself inline in Jupyter.

    Examples
    --------
    >>> import pandas as pd
    >>> from corpus.graph import AttributionGraph
    >>> nodes = pd.DataFrame({"node_id": ["E_1_0", "1_2_0"], "kind": ["embedding", "logit"],
    ...                       "layer": [-1, 1], "pos": [0, 0]})
    >>> v = view(AttributionGraph.from_arrays(nodes, [0], [1], [1.0]))
    >>> v._repr_html_().startswith("<iframe")
    True
    """

    html: str
    height: int = 720

    def _repr_html_(self) -> str:
        return iframe_html(self.html, self.height)

    def save(self, path: str | Path) -> Path:
        """Write the page as a standalone HTML file."""
        path = Path(path)
        atomic_write(path, lambda tmp: Path(tmp).write_text(self.html, encoding="utf-8"))
        return path


def view(graph: AttributionGraph, height: int = 720, **options: Any) -> GraphView:
    """The explorer of ``graph`` for a notebook: ``reports.view.view(graph)``.

    ``options`` go to :func:`view_html` (``top_ffls``, ``cascades``...).
    """
    return GraphView(view_html(graph, **options), height)


def register_ipython(shell: Any = None) -> bool:
    """Make IPython display every ``AttributionGraph`` as its explorer.

    Returns False outside IPython. ``corpus`` cannot import ``reports``, so
    the formatter is registered from here rather than defined on the class.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    from corpus.graph import AttributionGraph

    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(AttributionGraph, lambda graph: view(graph)._repr_html_())
    return True
