"""Matplotlib figures of motif analyses (Agg backend: no display needed).

Each function returns a ``matplotlib.figure.Figure``; :mod:`reports.html`
embeds it in a page and saves it beside the page. Motif drawings come from
:func:`motifs.catalog.motif_drawing`, the one definition of each motif's shape.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: reports are written headless

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from motifs.catalog import motif_drawing  # noqa: E402
from motifs.errors import MotifError  # noqa: E402

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph
    from motifs.compare import Clustering, GroupComparison

#: Edge colours by sign (ColorBrewer RdBu ends): excitatory blue, inhibitory red.
POSITIVE = "#2166ac"
NEGATIVE = "#b2182b"
#: Series colours (matplotlib tab10 order) for nulls or groups.
SERIES = plt.get_cmap("tab10").colors


def motif_label(key: str) -> str:
    """A readable label: the motif name with its MAN code (``ffl (030T)``)."""
    from motifs.catalog import motif_class

    try:
        motif = motif_class(key)
    except MotifError:
        return key
    if motif.name != motif.code:
        return f"{motif.name} ({motif.code})"
    return motif.code


def _glyph_positions(size: int) -> np.ndarray:
    """(size, 2) node positions of a motif drawing in the unit square."""
    if size == 2:
        return np.array([[0.5, 1.0], [0.5, 0.0]])
    if size == 3:  # X on top, Y bottom-left, Z bottom-right: the FFL as drawn by Alon
        return np.array([[0.5, 1.0], [0.0, 0.0], [1.0, 0.0]])
    if size == 4:  # a diamond: bi-fan and bi-parallel read top to bottom
        return np.array([[0.5, 1.0], [0.0, 0.5], [1.0, 0.5], [0.5, 0.0]])
    angle = np.pi / 2 - 2 * np.pi * np.arange(size) / size
    return 0.5 + 0.5 * np.column_stack([np.cos(angle), np.sin(angle)])


def draw_motif(ax: plt.Axes, key: str, color: str = "0.15") -> None:
    """Draw motif ``key`` (name, MAN code or ``m4_<id>``) filling ``ax``."""
    size, edges = motif_drawing(key)
    pos = _glyph_positions(size)
    pairs = set(edges)
    for i, j in edges:
        bend = 0.25 if (j, i) in pairs else 0.0  # mutual edges as two arcs
        ax.annotate("", xy=pos[j], xytext=pos[i],
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=0.9, shrinkA=4, shrinkB=4,
                                    mutation_scale=7, connectionstyle=f"arc3,rad={bend}"))
    ax.scatter(pos[:, 0], pos[:, 1], s=14, color=color, zorder=3)
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylim(-0.2, 1.2)
    ax.set_aspect("equal")
    ax.axis("off")


def _glyph_row(ax: plt.Axes, motifs: Sequence[str]) -> None:
    """Draw each motif under its bar position 0..k-1 of a shared x axis, its
    name below it."""
    ax.set_ylim(0, 1)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_yticks([])
    ax.set_xticks(np.arange(len(motifs)))
    ax.set_xticklabels([motif_label(m) for m in motifs], rotation=40, ha="right", fontsize=7)
    ax.tick_params(axis="x", length=0)
    for i, key in enumerate(motifs):
        inset = ax.inset_axes([i - 0.4, 0.0, 0.8, 1.0], transform=ax.transData)
        try:
            draw_motif(inset, key)
        except MotifError:
            inset.axis("off")


def profile_bars(values: pd.DataFrame, ylabel: str, title: str = "",
                 threshold: float | None = None, errors: pd.DataFrame | None = None) -> Figure:
    """Grouped bars of a per-motif value with each motif drawn under its bars.

    Parameters
    ----------
    values : pandas.DataFrame
        Index: motifs (names or MAN codes); one column per series (null
        models, groups). NaN bars are left empty and marked "n/a".
    ylabel, title : str
    threshold : float, optional
        Draw dashed lines at +/- threshold (|Z| = 2).
    errors : pandas.DataFrame, optional
        (2 * series) columns ``<series>:low`` / ``<series>:high`` for interval whiskers.
    """
    motifs = list(values.index)
    series = list(values.columns)
    k = len(motifs)
    fig = plt.figure(figsize=(max(6.0, 0.75 * k + 2), 5.0))
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 1], hspace=0.05)
    ax = fig.add_subplot(grid[0])
    glyphs = fig.add_subplot(grid[1], sharex=ax)
    width = 0.8 / max(len(series), 1)
    x = np.arange(k)
    for s, name in enumerate(series):
        offset = (s - (len(series) - 1) / 2) * width
        heights = values[name].to_numpy(dtype=float)
        yerr = None
        if errors is not None and f"{name}:low" in errors:
            low = errors[f"{name}:low"].to_numpy(dtype=float)
            high = errors[f"{name}:high"].to_numpy(dtype=float)
            yerr = np.abs(np.vstack([heights - low, high - heights]))
        ax.bar(x + offset, np.nan_to_num(heights), width=width * 0.95,
               color=SERIES[s % len(SERIES)], label=str(name), yerr=yerr, capsize=2,
               error_kw=dict(lw=0.8))
        for i in np.flatnonzero(~np.isfinite(heights)):
            ax.text(x[i] + offset, 0, "n/a", rotation=90, ha="center", va="bottom", fontsize=6,
                    color="0.4")
    ax.axhline(0, color="0.3", lw=0.8)
    if threshold is not None:
        for level in (threshold, -threshold):
            ax.axhline(level, color="0.5", lw=0.8, ls="--")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelbottom=False, length=0)
    if len(series) > 1:
        ax.legend(fontsize=7, ncol=min(len(series), 4), frameon=False)
    ax.set_xlim(-0.6, k - 0.4)
    _glyph_row(glyphs, motifs)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.93, bottom=0.16)
    return fig


def sp_heatmap(matrix: pd.DataFrame, clustering: Clustering | None = None,
               row_labels: dict[str, str] | None = None, title: str = "") -> Figure:
    """Significance profiles of many graphs as a heatmap, rows in dendrogram order.

    Parameters
    ----------
    matrix : pandas.DataFrame
        (graphs, motifs) SP values indexed by graph id.
    clustering : Clustering, optional
        From :func:`motifs.compare.cluster_profiles`; its dendrogram is drawn
        on the left and sets the row order.
    row_labels : dict, optional
        Display name per graph id (slug and group).
    """
    from scipy.cluster import hierarchy

    order = clustering.order if clustering is not None else list(matrix.index)
    data = matrix.loc[order].to_numpy(dtype=float)
    n_rows, n_cols = data.shape
    fig = plt.figure(figsize=(max(7.0, 0.55 * n_cols + 6), max(3.0, 0.28 * n_rows + 2.2)))
    # columns: dendrogram, heatmap, room for the row labels, colour bar
    grid = fig.add_gridspec(2, 4, width_ratios=[1.2, 0.55 * n_cols, 2.6, 0.25],
                            height_ratios=[n_rows, 1.4], wspace=0.02, hspace=0.02)
    heat = fig.add_subplot(grid[0, 1])
    if clustering is not None and n_rows > 1:
        tree = fig.add_subplot(grid[0, 0])
        hierarchy.dendrogram(clustering.linkage, orientation="left", ax=tree, no_labels=True,
                             color_threshold=0, above_threshold_color="0.3")
        tree.invert_yaxis()  # leaf 0 at the top, as in the heatmap rows
        tree.axis("off")
    limit = np.nanmax(np.abs(data)) if np.isfinite(data).any() else 1.0
    image = heat.imshow(np.ma.masked_invalid(data), aspect="auto", cmap="RdBu_r",
                        vmin=-limit, vmax=limit, interpolation="nearest")
    heat.set_yticks(np.arange(n_rows))
    labels = row_labels or {}
    heat.set_yticklabels([labels.get(g, g) for g in order], fontsize=7)
    heat.yaxis.tick_right()
    heat.set_xticks([])
    colorbar = fig.add_subplot(grid[0, 3])
    fig.colorbar(image, cax=colorbar, label="SP")
    colorbar.yaxis.set_label_position("left")
    glyphs = fig.add_subplot(grid[1, 1], sharex=heat)
    _glyph_row(glyphs, list(matrix.columns))
    heat.tick_params(axis="x", labelbottom=False, length=0)
    heat.set_xlim(-0.5, n_cols - 0.5)
    heat.set_title(title, fontsize=10)
    fig.subplots_adjust(left=0.02, right=0.9, top=0.93, bottom=0.02)
    return fig


def group_comparison_plot(comparison: GroupComparison, motifs: Sequence[str] | None = None,
                          title: str = "", shared_axis: bool | None = None) -> Figure:
    """Group means with bootstrap intervals per motif; significant motifs starred.

    One point (mean) and whisker (interval) per group and motif: on one axis
    with the motifs side by side when ``shared_axis`` (default: for SP, whose
    values share the scale [-1, 1]; a 4-node SP compares a few dozen motifs,
    which as panels would cost seconds of drawing), else one panel per motif
    with its own scale.
    """
    means = comparison.means
    tests = comparison.tests.set_index("motif")
    chosen = list(motifs) if motifs is not None else list(tests.index)
    if shared_axis if shared_axis is not None else comparison.value == "sp":
        return _group_comparison_one_axis(comparison, chosen, title)
    n = len(chosen)
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.4 * rows), squeeze=False)
    groups = comparison.groups
    for ax, motif in zip(axes.ravel(), chosen):
        x = np.arange(len(groups))
        mean, lower, upper, has = _group_interval(means, motif, groups)
        ax.errorbar(x[has], mean[has], yerr=np.vstack([lower[has], upper[has]]),
                    fmt="none", ecolor="0.3", capsize=3, lw=1)
        ax.scatter(x, mean, c=[SERIES[i % len(SERIES)] for i in range(len(groups))], zorder=3, s=22)
        ax.axhline(0, color="0.7", lw=0.6)
        q = tests.loc[motif, "q"]
        star = " *" if bool(tests.loc[motif, "significant"]) else ""
        ax.set_title(f"{motif_label(motif)}{star}\nq = {q:.2g}" if np.isfinite(q)
                     else f"{motif_label(motif)}\nq = n/a", fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels(groups, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlim(-0.6, len(groups) - 0.4)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(title or f"{comparison.value} by {comparison.by}", fontsize=10)
    fig.tight_layout()
    return fig


def _group_interval(means: pd.DataFrame, motif: str, groups: Sequence[str]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lower error, upper error, has interval) of each group for one motif."""
    part = means.loc[means["motif"] == motif].set_index("group").reindex(groups)
    mean = part["mean"].to_numpy(dtype=float)
    low = part["ci_low"].to_numpy(dtype=float)
    high = part["ci_high"].to_numpy(dtype=float)
    return mean, mean - low, high - mean, np.isfinite(low) & np.isfinite(high)


def _group_comparison_one_axis(comparison: GroupComparison, chosen: list[str],
                               title: str) -> Figure:
    """:func:`group_comparison_plot` with every motif on one axis, groups side by side."""
    tests = comparison.tests.set_index("motif")
    groups = comparison.groups
    width = 2.0 + 0.25 * len(chosen) * max(len(groups), 2) ** 0.5
    fig, ax = plt.subplots(figsize=(min(max(width, 6.0), 15.0), 3.8))
    offsets = (np.arange(len(groups)) - (len(groups) - 1) / 2) * min(0.8 / max(len(groups), 1), 0.2)
    stats = [_group_interval(comparison.means, motif, groups) for motif in chosen]
    for g, group in enumerate(groups):
        mean = np.array([st[0][g] for st in stats])
        lower = np.array([st[1][g] for st in stats])
        upper = np.array([st[2][g] for st in stats])
        has = np.array([st[3][g] for st in stats], dtype=bool)
        x = np.arange(len(chosen)) + offsets[g]
        color = SERIES[g % len(SERIES)]
        ax.errorbar(x[has], mean[has], yerr=np.vstack([lower[has], upper[has]]), fmt="none",
                    ecolor=color, capsize=2, lw=0.9)
        ax.scatter(x, mean, color=color, s=16, zorder=3, label=group)
    ax.axhline(0, color="0.7", lw=0.6)
    labels = []
    for motif in chosen:
        q = tests.loc[motif, "q"]
        star = " *" if bool(tests.loc[motif, "significant"]) else ""
        labels.append(f"{motif_label(motif)}{star}" + (f" q={q:.2g}" if np.isfinite(q) else ""))
    ax.set_xticks(np.arange(len(chosen)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=6)
    ax.set_xlim(-0.6, len(chosen) - 0.4)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylabel(comparison.value, fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title or f"{comparison.value} by {comparison.by}", fontsize=10)
    fig.tight_layout()
    return fig


def null_distributions(null_counts: np.ndarray, real_counts: Sequence[float],
                       motifs: Sequence[str], title: str = "") -> Figure:
    """Histogram of each motif's null counts with the real count marked.

    Parameters
    ----------
    null_counts : (S, k) counts of the S null samples.
    real_counts : (k,) counts in the real network.
    motifs : (k,) motif keys.
    """
    null_counts = np.asarray(null_counts, dtype=float)
    real = np.asarray(real_counts, dtype=float)
    # classes the null can never form and the graph lacks say nothing: leave them out
    varies = null_counts.std(axis=0) > 0
    keep = np.flatnonzero(varies | (real != null_counts.mean(axis=0)))
    null_counts, real, motifs = null_counts[:, keep], real[keep], [motifs[i] for i in keep]
    k = max(len(motifs), 1)
    cols = min(k, 5)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.0 * rows), squeeze=False)
    for j, (ax, motif) in enumerate(zip(axes.ravel(), motifs)):
        column = null_counts[:, j]
        low, high = min(column.min(), real[j]), max(column.max(), real[j])
        span = max(high - low, 1.0)
        bins = np.linspace(low - 0.05 * span, high + 0.05 * span, 30)
        ax.hist(column, bins=bins, color="0.7")
        ax.axvline(real[j], color=NEGATIVE, lw=1.5)
        ax.set_title(motif_label(motif), fontsize=8)
        if column.std() == 0:
            ax.text(0.5, 0.9, f"null always {column[0]:g}", transform=ax.transAxes,
                    ha="center", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def node_display_names(graph: AttributionGraph) -> np.ndarray:
    """(n_nodes,) text per node: its label (clerp), else its token, else a
    ``L<layer> #<feature>`` or the node id."""
    nodes = graph.nodes

    def texts(column: str) -> list[str | None]:
        # one pass over Python objects: the per-column pandas string operations cost
        # more than the loop on the small graphs of a corpus
        present = nodes[column].notna().to_numpy()
        return [str(v) if ok else None
                for v, ok in zip(nodes[column].astype(object).tolist(), present.tolist())]

    names = []
    for label, token, feature, layer, node_id in zip(
            texts("label"), texts("token"), texts("feature"), texts("layer"), texts("node_id")):
        label = (label or "").strip()
        if label:
            names.append(label)
        elif token is not None and token.strip():
            names.append(f"'{token}'")
        else:
            names.append(f"L{layer} #{feature}" if feature is not None else (node_id or "<NA>"))
    out = np.empty(len(names), dtype=object)
    out[:] = names
    return out


def _cell_layout(layer: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates: x = token position, y = layer, nodes sharing a
    (layer, position) cell spread horizontally inside it."""
    key = pd.Series(layer.astype(np.int64) * 1_000_003 + pos.astype(np.int64))
    rank = key.groupby(key).cumcount().to_numpy()
    size = key.map(key.value_counts()).to_numpy()
    offset = np.where(size > 1, (rank / np.maximum(size - 1, 1) - 0.5) * 0.7, 0.0)
    return np.column_stack([pos + offset, layer.astype(float)])


def _draw_loop(ax: plt.Axes, xy: np.ndarray, loop_rows: dict[str, int], loop: pd.Series,
               names: np.ndarray, max_w: float) -> None:
    """One loop on top of its graph: edges X->Y, Y->Z, X->Z coloured by sign with
    width proportional to |weight|, nodes labelled by role and clerp or token."""
    for a, b in (("x", "y"), ("y", "z"), ("x", "z")):
        w = float(loop[f"w_{a}{b}"])
        ax.annotate("", xy=xy[loop_rows[b]], xytext=xy[loop_rows[a]], zorder=4,
                    arrowprops=dict(arrowstyle="-|>", color=POSITIVE if w >= 0 else NEGATIVE,
                                    lw=0.8 + 4.0 * abs(w) / max(max_w, 1e-12),
                                    shrinkA=6, shrinkB=6, mutation_scale=12,
                                    connectionstyle="arc3,rad=0.15"))
    for role in ("x", "y", "z"):
        r = loop_rows[role]
        ax.scatter(*xy[r], s=55, color="black", zorder=5)
        text = str(names[r])
        text = text if len(text) <= 30 else text[:28] + "…"
        ax.annotate(f"{role.upper()}: {text}", xy=xy[r], xytext=(7, 3),
                    textcoords="offset points", fontsize=7, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.92))


def _loop_limits(loop_xy: np.ndarray, layer: np.ndarray, last_pos: int
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x limits, y limits) of the window around one loop's nodes."""
    x_low, x_high = loop_xy[:, 0].min() - 1.5, loop_xy[:, 0].max() + 2.5
    y_low, y_high = loop_xy[:, 1].min() - 1.5, loop_xy[:, 1].max() + 1.5
    return ((max(x_low, -0.7), min(max(x_high, x_low + 4), last_pos + 1.2)),
            (max(y_low, np.nanmin(layer) - 0.7), min(max(y_high, y_low + 5), np.nanmax(layer) + 0.7)))


def _in_window(segments: np.ndarray, x_limits: tuple[float, float],
               y_limits: tuple[float, float]) -> np.ndarray:
    """(E,) bool: segments (E, 2, 2) whose bounding box meets the window, a superset of
    the visible ones (a segment lies inside its box), so drawing only those draws the
    same picture; on the largest shared graphs a loop's window holds a few percent.

    >>> seg = np.array([[[0, 0], [1, 1]], [[5, 5], [6, 6]], [[-1, 3], [3, -1]]], float)
    >>> _in_window(seg, (0.5, 2.0), (0.5, 2.0)).tolist()
    [True, False, True]
    """
    low, high = segments.min(axis=1), segments.max(axis=1)
    return ((low[:, 0] <= x_limits[1]) & (high[:, 0] >= x_limits[0])
            & (low[:, 1] <= y_limits[1]) & (high[:, 1] >= y_limits[0]))


def _loop_window(ax: plt.Axes, loop_xy: np.ndarray, layer: np.ndarray, last_pos: int,
                 tokens: list[str], n_layers: int | None) -> None:
    """Axes around one loop: token positions (with their tokens) across, layers
    up (``emb`` and ``logit`` named), limits a window around the loop's nodes."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("token position")
    ax.set_ylabel("layer")
    ax.set_xticks(np.arange(last_pos + 1))
    if len(tokens) > last_pos:
        ax.set_xticklabels([f"{i}:{t.strip()[:10]}" for i, t in enumerate(tokens[:last_pos + 1])],
                           rotation=60, ha="right", fontsize=6)
    # a window around the loop (ticks first: setting ticks widens the limits)
    x_limits, y_limits = _loop_limits(loop_xy, layer, last_pos)
    ax.set_xlim(*x_limits)
    ax.set_ylim(*y_limits)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    ax.set_yticks(ticks)
    ax.set_ylim(*y_limits)
    ax.set_yticklabels(["emb" if t == -1 else "logit" if n_layers is not None
                        and t == n_layers else str(int(t)) for t in ticks], fontsize=7)


def ffl_on_graph(graph: AttributionGraph, instances: pd.DataFrame, rows: np.ndarray,
                 n_loops: int = 3, title: str = "") -> Figure:
    """Feed-forward loops drawn on their attribution graph, one panel each.

    Parameters
    ----------
    graph : corpus.AttributionGraph
    instances : pandas.DataFrame
        Loops to draw, in order (from :func:`motifs.network.instances_for_graph`
        or ``motif_instances``): columns ``x, y, z`` (network node numbers),
        ``w_xy, w_yz, w_xz`` and ``strength``.
    rows : (n_net_nodes,) int
        ``Network.rows``: the graph row of each network node.
    n_loops : int
        Panels to draw (the first ``n_loops`` rows).

    Each panel shows the graph around one loop at (token position, layer):
    every node and edge faint grey, the loop on top with its nodes labelled by
    clerp or token and its edges coloured by sign (blue +, red -), width
    proportional to |weight|. Several features of one (layer, position) cell
    are spread side by side inside it.
    """
    chosen = instances.head(n_loops)
    n = max(len(chosen), 1)
    layer = graph.nodes["layer"].to_numpy(dtype=float)
    pos = graph.nodes["pos"].to_numpy(dtype=float)
    xy = _cell_layout(layer, pos)
    names = node_display_names(graph)
    fig, axes = plt.subplots(1, n, figsize=(4.8 * n, 4.6), squeeze=False)
    src, dst, _ = graph.merged_edges()
    segments = np.stack([xy[src], xy[dst]], axis=1)
    weights = np.abs(chosen[["w_xy", "w_yz", "w_xz"]].to_numpy(dtype=float))
    max_w = float(weights.max()) if weights.size else 1.0
    last_pos = int(np.nanmax(pos)) if len(pos) else 0
    for ax, (_, loop) in zip(axes.ravel(), chosen.iterrows()):
        loop_rows = {role: int(rows[int(loop[role])]) for role in ("x", "y", "z")}
        # only the edges and nodes the loop's window can show: the same picture, a few
        # percent of the drawing on large graphs
        x_limits, y_limits = _loop_limits(xy[list(loop_rows.values())], layer, last_pos)
        shown = _in_window(segments, x_limits, y_limits)
        ax.add_collection(LineCollection(segments[shown], colors="0.86", linewidths=0.3, zorder=1),
                          autolim=False)
        inside = _in_window(np.stack([xy, xy], axis=1), x_limits, y_limits)
        ax.scatter(xy[inside, 0], xy[inside, 1], s=6, color="0.72", zorder=2)
        _draw_loop(ax, xy, loop_rows, loop, names, max_w)
        sign_type = loop.get("sign_type")
        ax.set_title(f"strength {loop['strength']:.3g}"
                     + (f", {sign_type}" if isinstance(sign_type, str) else ""), fontsize=8)
        _loop_window(ax, xy[list(loop_rows.values())], layer, last_pos, list(graph.meta.prompt_tokens),
                     graph.meta.n_layers)
    if not len(chosen):
        axes[0, 0].text(0.5, 0.5, "no feed-forward loops", ha="center", va="center")
        axes[0, 0].axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sensitivity_plot(sensitivity: pd.DataFrame, value: str = "z",
                     motifs: Sequence[str] | None = None, title: str = "") -> Figure:
    """A value per motif against the pruning level (``weight_sensitivity`` rows).

    The x axis keeps the level order (most edges first); the edge count of
    each level is printed under its label.
    """
    levels = list(pd.unique(sensitivity["level"]))
    edges = sensitivity.groupby("level", sort=False)["n_edges"].first().reindex(levels)
    chosen = list(motifs) if motifs is not None else list(pd.unique(sensitivity["motif"]))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    x = np.arange(len(levels))
    for i, motif in enumerate(chosen):
        part = sensitivity.loc[sensitivity["motif"] == motif].set_index("level").reindex(levels)
        ax.plot(x, part[value].to_numpy(dtype=float), marker="o", ms=3, lw=1.2,
                color=SERIES[i % len(SERIES)], label=motif_label(motif))
    if value == "z":
        for level in (2.0, -2.0):
            ax.axhline(level, color="0.5", lw=0.8, ls="--")
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lv}\n{int(m)} edges" for lv, m in zip(levels, edges)], fontsize=7)
    ax.set_ylabel(value.upper() if value in ("z", "sp") else value)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def size_scatter(profiles: pd.DataFrame, motif: str, group_by: str | None = None,
                 value: str = "z", title: str = "") -> Figure:
    """A motif's value against log(edges) per graph, with the pooled fit.

    Shows the size confound: Z of a motif grows with the size of the graph,
    so groups of different size differ in Z for that reason alone.
    """
    x = np.log10(profiles["n_edges"].to_numpy(dtype=float))
    y = profiles[f"{value}:{motif}"].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    labels = profiles[group_by].fillna("(none)").astype(str) if group_by else \
        pd.Series(["all"] * len(profiles))
    for i, group in enumerate(sorted(labels.unique())):
        mask = (labels == group).to_numpy()
        ax.scatter(x[mask], y[mask], s=28, color=SERIES[i % len(SERIES)], label=group, zorder=3)
    finite = np.isfinite(y)
    if finite.sum() >= 3 and np.ptp(x[finite]) > 0:
        slope, intercept = np.polyfit(x[finite], y[finite], 1)
        grid = np.linspace(x[finite].min(), x[finite].max(), 50)
        ax.plot(grid, intercept + slope * grid, color="0.4", lw=1, ls="--",
                label=f"fit: {slope:+.1f} per decade")
    ax.set_xlabel("log10(edges)")
    ax.set_ylabel(f"{value.upper()} of {motif_label(motif)}")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def sensitivity_lines(table: pd.DataFrame, group_by: str | None = None, value: str = "z",
                      title: str = "") -> Figure:
    """One line per graph: a motif's value at each pruning level.

    ``table`` has columns ``graph, level, <value>`` (and ``group_by``), levels
    in order of appearance.
    """
    levels = list(pd.unique(table["level"]))
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    groups = sorted(table[group_by].fillna("(none)").astype(str).unique()) if group_by else ["all"]
    colour = {g: SERIES[i % len(SERIES)] for i, g in enumerate(groups)}
    seen = set()
    for graph, part in table.groupby("graph", sort=False):
        part = part.set_index("level").reindex(levels)
        group = str(part[group_by].dropna().iloc[0]) if group_by and part[group_by].notna().any() \
            else "all"
        ax.plot(np.arange(len(levels)), part[value].to_numpy(dtype=float), marker="o", ms=3,
                lw=1, color=colour.get(group, "0.5"), alpha=0.8,
                label=group if group not in seen else None)
        seen.add(group)
    if value == "z":
        for level in (2.0, -2.0):
            ax.axhline(level, color="0.5", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(levels)))
    ax.set_xticklabels(levels, fontsize=8)
    ax.set_ylabel(value.upper())
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
