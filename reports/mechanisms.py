"""The "Mechanisms" sections: FFL cascades, their stages, influence splits and causal tests.

Per graph (:func:`mechanisms_section`): the top cascades drawn on the layer x
position layout with stage colours and sign types, the cascade table, the
influence split of their loops (:func:`motifs.cascades.influence_split`)
and, when the caller ran the causal tests (:func:`tracer.causal.validate_cascades`
needs a model, so reports only receive its records), the causal-test table.

Per corpus (:func:`cascade_summary_section`): cascade statistics per group
(loops per cascade, share coherent, stage mix) and whether the FFL-pipeline
reading (grounding -> entity -> output) holds for the group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from motifs.cascades import STAGES, CascadeResult, cascades_for_graph, influence_split  # noqa: E402

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph
    from corpus.store import Corpus
    from motifs.network import Network
    from reports.corpus_report import CorpusReportContext
    from reports.graph_report import GraphReportContext
    from reports.html import Page

#: Colour of each stage on the figures.
STAGE_COLORS: dict[str, str] = {"grounding": "#4c9be8", "entity": "#52b36b", "output": "#b061c9"}

#: A group's cascades read as an FFL pipeline when at least this share of its
#: graphs' top cascades is one (:func:`is_pipeline`).
PIPELINE_SHARE = 0.5


def is_pipeline(stages: Sequence[str]) -> bool:
    """Does a cascade's node path run grounding -> entity -> output, in order?

    Stages never go back along the path, and all three occur.

    Examples
    --------
    >>> is_pipeline(["grounding", "entity", "entity", "output"]), is_pipeline(["grounding", "output"])
    (True, False)
    """
    rank = [STAGES.index(s) for s in stages]
    return all(a <= b for a, b in zip(rank, rank[1:])) and set(rank) == {0, 1, 2}


def cascade_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per cascade: logit, rank, strength, loops, sign types, coherent, stage path, labels."""
    rows = []
    for r in records:
        labels = r.get("labels") or r["nodes"]
        rows.append({
            "logit": r["logit"], "rank": r["rank"], "strength": r["strength"], "loops": len(r["ffls"]),
            "sign types": " ".join(f["sign_type"].replace("ffl_", "") for f in r["ffls"]),
            "coherent": r["coherent"], "pipeline": is_pipeline(r["stages"]),
            "stages": " > ".join(s[0].upper() for s in r["stages"]),
            "path": " → ".join(str(x)[:28] for x in labels),
        })
    return pd.DataFrame(rows)


def influence_table(net: Network, result: CascadeResult, records: list[dict[str, Any]]) -> pd.DataFrame:
    """The influence split of every loop of the given cascades (each loop once)."""
    t = result.ffl
    loops = list(dict.fromkeys(int(f) for c in result.cascades for f in c.ffls.tolist()))
    if not loops:
        return pd.DataFrame(columns=["x", "y", "z", "sign_type", "total", "via_mediator", "direct", "other"])
    index = np.array(loops, dtype=np.int64)
    split = influence_split(net, t.x[index], t.y[index], t.z[index])
    names = net.names if net.names is not None else np.arange(net.n_nodes).astype(str)
    head = pd.DataFrame({"x": names[t.x[index]], "y": names[t.y[index]], "z": names[t.z[index]],
                         "sign_type": t.sign_type[index]})
    return pd.concat([head, split], axis=1)


def causal_tables(validated: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-cascade, per-loop) tables of :func:`tracer.causal.validate_cascades` records."""
    cascades = pd.DataFrame([{
        "logit": r["logit"], "rank": r["rank"], "p_clean": r["p_clean"], "p_ablated": r["p_ablated"],
        "ablation_drop": r["ablation_drop"], "random_drop_mean": r["random_drop_mean"],
        "random_drop_sd": r["random_drop_sd"], "ratio": r["ratio"],
    } for r in validated])
    seen: dict[tuple, dict] = {}
    for r in validated:
        for f in r["ffls"]:
            seen.setdefault((f["x"], f["y"], f["z"]), {
                "x": f["x"], "y": f["y"], "z": f["z"], "sign_type": f["sign_type"],
                "predicted_dz": f["predicted_dz"], "observed_dz": f["observed_dz"],
                "random_abs_dz_mean": f["random_abs_dz_mean"], "answer_dlogit": f["answer_dlogit"]})
    return cascades, pd.DataFrame(list(seen.values()))


def cascade_figure(graph: AttributionGraph, net: Network, result: CascadeResult, n_cascades: int = 3,
                   title: str = "") -> Figure:
    """The top cascades on the layer (y) x token position (x) layout, one panel each.

    The graph is faint grey; the cascade's loops are drawn with their edges
    coloured by sign (blue +, red -); its path nodes are coloured by stage and
    labelled; the panel title gives the loops' sign types and the strength.
    """
    from reports.figures import NEGATIVE, POSITIVE, _cell_layout, node_display_names

    chosen = result.cascades[:n_cascades]
    n = max(len(chosen), 1)
    nodes = graph.nodes
    layer = nodes["layer"].to_numpy(dtype=float)
    pos = nodes["pos"].to_numpy(dtype=float)
    xy = _cell_layout(layer, pos)
    names = node_display_names(graph)
    src, dst, _ = graph.merged_edges()
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 4.8), squeeze=False)
    t = result.ffl
    for ax, cascade in zip(axes.ravel(), chosen):
        ax.add_collection(LineCollection(np.stack([xy[src], xy[dst]], axis=1), colors="0.88",
                                         linewidths=0.3, zorder=1))
        ax.scatter(xy[:, 0], xy[:, 1], s=5, color="0.75", zorder=2)
        for f in cascade.ffls.tolist():
            for a, b, w in ((t.x[f], t.y[f], t.w_xy[f]), (t.y[f], t.z[f], t.w_yz[f]), (t.x[f], t.z[f], t.w_xz[f])):
                ax.annotate("", xy=xy[net.rows[b]], xytext=xy[net.rows[a]], zorder=3,
                            arrowprops=dict(arrowstyle="-|>", color=POSITIVE if w >= 0 else NEGATIVE, lw=1.2,
                                            shrinkA=5, shrinkB=5, mutation_scale=10,
                                            connectionstyle="arc3,rad=0.12"))
        for v in cascade.nodes.tolist():
            r = int(net.rows[v])
            stage = str(result.node_stage[v])
            ax.scatter(*xy[r], s=70, color=STAGE_COLORS[stage], edgecolor="black", zorder=5)
            text = str(names[r])
            ax.annotate(text if len(text) <= 26 else text[:24] + "…", xy=xy[r], xytext=(6, 3),
                        textcoords="offset points", fontsize=7, zorder=6,
                        bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.9))
        types = " ".join(str(t.sign_type[f]).replace("ffl_", "") for f in cascade.ffls.tolist())
        ax.set_title(f"strength {cascade.strength:.3g} · {types}"
                     + ("" if cascade.coherent else " · not coherent"), fontsize=8)
        ax.set_xlabel("token position")
        ax.set_ylabel("layer (-1 embeddings, top logits)")
    if not chosen:
        axes[0, 0].text(0.5, 0.5, "no cascade reaches a logit", ha="center", va="center")
        axes[0, 0].axis("off")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=s) for s, c in STAGE_COLORS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def mechanisms_section(page: Page, context: GraphReportContext, top: int = 3,
                       validated: list[dict[str, Any]] | None = None) -> None:
    """Append the "Mechanisms" section of the context's graph to ``page``.

    Parameters
    ----------
    page : reports.html.Page
    context : reports.graph_report.GraphReportContext
        Only its ``graph`` is read.
    top : int
        Cascades per logit (the figure draws the top logit's).
    validated : list of dict, optional
        :func:`tracer.causal.validate_cascades` records for the same graph
        and ``top`` (computed by the caller, which has the model): adds the
        causal-test tables.
    """
    graph = context.graph
    page.heading("Mechanisms")
    result, net, records = cascades_for_graph(graph, top_k=top)
    if not records:
        page.paragraph("No chain of feed-forward loops reaches a logit from the token embeddings.")
        return
    first = result.cascades[0].output
    best = [i for i, c in enumerate(result.cascades) if c.output == first]
    table = cascade_table(records)
    lead = records[0]
    page.paragraph(
        f"The strongest cascade to the top logit {lead.get('labels', lead['nodes'])[-1]} runs "
        f"{' → '.join(str(x) for x in lead.get('labels', lead['nodes']))} through "
        f"{len(lead['ffls'])} feed-forward loop(s) ({', '.join(f['sign_type'] for f in lead['ffls'])}); "
        f"{int(table['pipeline'].sum())} of {len(table)} listed cascades pass grounding → entity → output "
        f"in order, {int(table['coherent'].sum())} are coherent throughout.")
    top_only = CascadeResult(result.ffl, [result.cascades[i] for i in best], result.relative_depth,
                             result.node_stage, result.outputs)
    page.figure(cascade_figure(graph, net, top_only, n_cascades=top,
                               title="Top cascades to the top logit: layer by token position"),
                "cascades", "Each panel: one cascade's loops (blue excite, red inhibit) on the graph (grey); "
                "path nodes coloured by stage (relative depth tiers 1/3, 2/3). Strength: product of the "
                "loops' strengths, each the geometric mean of its edges' relevance to the outputs.")
    page.table(table, "cascades", f"Top {top} cascades per logit, highest-probability logit first")
    page.table(influence_table(net, result, records), "influence_split",
               "Influence split of the cascades' loops: share of X's influence on Z through the mediator Y, "
               "the direct edge, and other paths (B = (I − Â)⁻¹ − I)")
    if validated is not None:
        per_cascade, per_loop = causal_tables(validated)
        page.table(per_cascade, "causal_cascades",
                   "Causal test: answer-probability drop when a cascade's features are ablated vs matched "
                   "random feature sets (same layers and positions)")
        page.table(per_loop, "causal_loops",
                   "Causal test: Z's change when the mediator Y is ablated, observed vs the graph's "
                   "first-order prediction −w(Y→Z), and matched random mediators")


def cascade_statistics(graph: AttributionGraph, top: int = 1) -> dict[str, Any]:
    """Cascade statistics of one graph's top cascade per logit.

    Returns ``n_cascades``, ``loops_mean``, ``coherent_share``,
    ``pipeline_top`` (the top logit's best cascade is a pipeline), and the
    stage mix ``grounding``/``entity``/``output`` (share of path nodes).
    """
    _, _, records = cascades_for_graph(graph, top_k=top)
    return records_statistics(records, top)


def records_statistics(records: Sequence[dict[str, Any]], top: int = 1) -> dict[str, Any]:
    """:func:`cascade_statistics` from a graph's cascade records (:func:`cascades_for_graph`
    with ``top_k`` >= ``top``): the first ``top`` cascades per logit are the same.

    The k-best lists are exact and break ties the same way for every k, so a
    page that found 3 cascades per logit gives the statistics of the top 1
    without a second search.

    Examples
    --------
    >>> chain = {"rank": 1, "stages": ["grounding", "entity", "output"], "coherent": True,
    ...          "ffls": [{}, {}]}
    >>> second = {**chain, "rank": 2, "coherent": False}
    >>> stats = records_statistics([chain, second])
    >>> stats["n_cascades"], stats["loops_mean"], stats["coherent_share"], stats["pipeline_top"]
    (1, 2.0, 1.0, True)
    """
    records = [r for r in records if r["rank"] <= top]
    stages = [s for r in records for s in r["stages"]]
    mix = {s: (stages.count(s) / len(stages) if stages else np.nan) for s in STAGES}
    return {"n_cascades": len(records),
            "loops_mean": float(np.mean([len(r["ffls"]) for r in records])) if records else np.nan,
            "coherent_share": float(np.mean([r["coherent"] for r in records])) if records else np.nan,
            "pipeline_top": bool(records) and is_pipeline(records[0]["stages"]), **mix}


def corpus_cascade_statistics(corpus: Corpus, graph_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """:func:`cascade_statistics` of each graph, by graph id (graphs only: a report
    computes them while its motif runs are still going; with the explorer pages,
    :func:`reports.corpus_browser.write_views` gives them from the pages' cascades)."""
    return {graph_id: cascade_statistics(corpus.load(graph_id)) for graph_id in graph_ids}


def corpus_cascade_summary(corpus: Corpus, graphs: pd.DataFrame, by: Sequence[str],
                           statistics: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """Per group (each value of each ``by`` column of ``graphs``, one row per graph with
    ``graph_id``): graphs, loops per cascade, share coherent, stage mix, share of top
    cascades that are pipelines, and ``pipeline_holds``. ``statistics``: the graphs'
    :func:`corpus_cascade_statistics` when already computed (others are computed here)."""
    statistics = statistics or {}
    per_graph = pd.DataFrame([{**{c: row[c] for c in by},
                               **(statistics.get(row["graph_id"])
                                  or cascade_statistics(corpus.load(row["graph_id"])))}
                              for _, row in graphs.iterrows()])
    out = []
    for column in by:
        for value, group in per_graph.groupby(per_graph[column].fillna("(none)"), sort=True):
            share = float(group["pipeline_top"].mean())
            out.append({"by": column, "group": value, "graphs": len(group),
                        "loops_mean": group["loops_mean"].mean(), "coherent_share": group["coherent_share"].mean(),
                        **{s: group[s].mean() for s in STAGES}, "pipeline_share": share,
                        "pipeline_holds": share >= PIPELINE_SHARE})
    return pd.DataFrame(out)


def cascade_summary_section(page: Page, context: CorpusReportContext,
                            statistics: dict[str, dict[str, Any]] | None = None) -> None:
    """Append the corpus report's cascade summary per group to ``page`` (``statistics``:
    the graphs' :func:`corpus_cascade_statistics`, if computed beforehand)."""
    page.heading("FFL cascades per group")
    summary = corpus_cascade_summary(context.corpus, context.comparison.graphs, context.columns,
                                     statistics)
    if not len(summary):
        page.paragraph("No graphs.")
        return
    holds = summary.loc[summary["pipeline_holds"], ["by", "group"]]
    page.paragraph(
        "Per graph, the strongest cascade of feed-forward loops to each logit (exact, motifs.cascades); "
        f"the FFL-pipeline reading (grounding → entity → output in order) holds for a group when at least "
        f"{PIPELINE_SHARE:.0%} of its graphs' top cascades follow it: "
        + ("; ".join(f"{b} = {g}" for b, g in holds.itertuples(index=False)) or "no group") + ".")
    page.table(summary, "cascade_summary", "Cascade statistics per group (stage mix: share of path nodes)")
