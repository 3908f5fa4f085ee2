"""The report of one attribution graph: its motif profile under several null
models, the null distributions, the strongest feed-forward loops drawn on the
graph and listed by their features, and how the profile survives pruning.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from motifs.compare import Z_THRESHOLD
from motifs.errors import MotifError

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph
    from corpus.store import Corpus
    from motifs.network import Network
    from reports.html import Page

#: Null models a report runs by default, the first being the headline one:
#: ``causal-config`` keeps degrees and only admits graphs a causal transformer
#: could produce (layers rise, positions never go back, each edge keeps its
#: layer pair and residual/attention class: the default null of ``cgram motifs``
#: for attribution graphs); ``config-dag`` keeps degrees and acyclicity; ``layer-config`` also keeps which layers edges join; ``config``
#: allows cycles (comparable with mfinder); ``er`` keeps only n and m.
DEFAULT_NULLS: tuple[str, ...] = ("causal-config", "config-dag", "layer-config", "config", "er")


@dataclass(frozen=True)
class NetworkOptions:
    """How a graph becomes the motif network and which motifs are counted: the
    options of ``cgram motifs`` (``--size``, ``--signed``, ``--keep-errors``,
    ``--min-weight``, ``--top-k``), so that a report reproduces a motif run.

    The field names are the keywords of :func:`motifs.corpus_run.run_motifs`.

    Examples
    --------
    >>> NetworkOptions().describe()
    'embedding, feature and logit nodes, every edge; 3-node motifs'
    >>> NetworkOptions(signed=True, keep_errors=True, min_abs_weight=0.5).describe()
    'embedding, feature, error and logit nodes, edges with |weight| >= 0.5; signed 3-node motifs'
    """

    size: int = 3
    signed: bool = False
    keep_errors: bool = False
    min_abs_weight: float | None = None
    top_k: int | None = None

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`motifs.corpus_run.run_motifs`."""
        return asdict(self)

    @property
    def default_network(self) -> bool:
        """Whether the network is :meth:`Network.from_graph`'s default (no errors, no pruning)."""
        return not self.keep_errors and self.min_abs_weight is None and self.top_k is None

    def network(self, graph: AttributionGraph) -> Network:
        """The motif network of ``graph`` under these options."""
        from motifs.network import Network

        return Network.from_graph(graph, keep_errors=self.keep_errors,
                                  min_abs_weight=self.min_abs_weight, top_k=self.top_k)

    def describe(self) -> str:
        """The nodes and edges kept and the motifs counted, as a phrase."""
        nodes = "embedding, feature, error and logit" if self.keep_errors else \
            "embedding, feature and logit"
        edges = []
        if self.min_abs_weight is not None:
            edges.append(f"edges with |weight| >= {self.min_abs_weight:g}")
        if self.top_k is not None:
            edges.append(f"the {self.top_k:,} strongest edges")
        motifs = f"{'signed ' if self.signed else ''}{self.size}-node motifs"
        return f"{nodes} nodes, {', '.join(edges) or 'every edge'}; {motifs}"


def null_sentence(nulls: Sequence[str]) -> str:
    """What each null model run keeps (:data:`motifs.nulls.NULL_MODELS`), one clause each.

    Examples
    --------
    >>> null_sentence(["er"])
    'er: Erdos-Renyi: same number of nodes and edges, no self-loops or multi-edges.'
    """
    from motifs.nulls import NULL_MODELS

    return "; ".join(f"{null}: {NULL_MODELS[null]}" for null in nulls) + "."


def check_nulls(nulls: str | Sequence[str]) -> list[str]:
    """The null model list of a report, validated against :data:`motifs.nulls.NULL_MODELS`."""
    from motifs.nulls import NULL_MODELS

    chosen = [nulls] if isinstance(nulls, str) else list(nulls)
    if not chosen:
        raise MotifError("give at least one null model")
    unknown = [n for n in chosen if n not in NULL_MODELS]
    if unknown:
        raise MotifError(f"unknown null model(s) {unknown}; choose from {sorted(NULL_MODELS)}")
    return list(dict.fromkeys(chosen))


def null_count_samples(corpus: Corpus, key: str, null: str, n_null: int, seed: int,
                       size: int = 3, executor: str = "pool", jobs: int | None = None,
                       network: NetworkOptions | None = None) -> tuple[np.ndarray, list[str]]:
    """(S, k) motif counts of the null samples behind a graph's profile, and the k codes.

    The samples are those :func:`motifs.corpus_run.run_motifs` draws for the
    same ``null``, ``n_null`` and ``seed`` (the same null blocks and block
    seeds), so a histogram of these counts is the ensemble the profile's
    Z-scores come from. Blocks cached in the corpus are read back; the others
    are computed on ``executor`` and cached. ``network`` (default: the default
    network and ``size``) chooses the network and motifs, as in the profile.
    """
    from corpus.executor import open_executor
    from motifs.corpus_run import (
        NULL_COUNTS_METHOD,
        BlockTask,
        MotifParams,
        compute_null_block,
        motif_names,
        null_blocks,
        validate_params,
    )

    graph_id = corpus.resolve(key)
    net = network or NetworkOptions(size=size)
    params = MotifParams(null, n_null, net.size, net.signed, seed, net.keep_errors,
                         net.min_abs_weight, net.top_k)
    validate_params(params)
    sizes = null_blocks(int(corpus.row(graph_id)["n_edges"]), n_null)
    firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    blocks: dict[int, pd.DataFrame] = {}
    todo = []
    for b, (first, count) in enumerate(zip(firsts, sizes)):
        cached = corpus.read_result(graph_id, NULL_COUNTS_METHOD, params.block_key(b, len(sizes)))
        if cached is not None:
            blocks[b] = cached
        else:
            todo.append((b, BlockTask(graph_id, str(Path(corpus.root).resolve()), params, b,
                                      first, count)))
    if todo:
        with open_executor(executor if len(todo) > 1 else "serial", jobs=jobs) as pool:
            for outcome in pool.run(compute_null_block, iter(todo)):
                if not outcome.ok:
                    raise MotifError(f"{key}: null block {outcome.key} failed: {outcome.error}")
                corpus.write_result(graph_id, NULL_COUNTS_METHOD,
                                    params.block_key(outcome.key, len(sizes)), outcome.value)
                blocks[outcome.key] = outcome.value
    codes, _ = motif_names(net.size, net.signed)
    frame = pd.concat([blocks[b] for b in sorted(blocks)], ignore_index=True)
    frame = frame.loc[frame["sample"] >= 0].sort_values("sample")
    return frame[codes].to_numpy(dtype=np.int64), codes


def graph_profiles(corpus: Corpus, key: str, nulls: Sequence[str], n_null: int, seed: int,
                   size: int = 3, **run_options: object) -> pd.DataFrame:
    """Long profile table of one corpus graph under each null (rows: null x motif),
    from :func:`motifs.corpus_run.run_motifs` (parallel, cached in the corpus);
    ``run_options`` are its keywords (``executor``, ``jobs``, ``progress`` and
    the network's, :meth:`NetworkOptions.run_kwargs`)."""
    from motifs.corpus_run import run_motifs

    parts = []
    for null in nulls:  # a few nulls, each one batched run
        table = run_motifs(corpus, keys=[key], null=null, n_null=n_null, size=size, seed=seed,
                           **run_options)
        failures = table.attrs.get("failures") or []
        if failures:
            raise MotifError(f"{key} under {null}: {failures[0]['error']}")
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def top_instances_table(instances: pd.DataFrame, names: np.ndarray,
                        rows: np.ndarray) -> pd.DataFrame:
    """The instance table a reader scans: rank, each node's text, layer and
    position, the three weights, strength and sign type."""
    out = pd.DataFrame({"rank": np.arange(1, len(instances) + 1)})
    for role in ("x", "y", "z"):
        graph_rows = rows[instances[role].to_numpy(dtype=np.int64)]
        out[role.upper()] = names[graph_rows]
        for column in ("layer", "pos", "id"):
            if f"{role}_{column}" in instances:
                out[f"{role.upper()} {column}"] = instances[f"{role}_{column}"].to_numpy()
    for column in ("w_xy", "w_yz", "w_xz", "strength", "sign_type"):
        if column in instances:
            out[column] = instances[column].to_numpy()
    return out


def pick_loops_to_draw(table: pd.DataFrame, crossing: np.ndarray, n_loops: int) -> list[int]:
    """Row numbers of the loops to draw: the strongest crossing token
    positions first, then the strongest overall, skipping a loop whose three
    labels repeat an already chosen one."""
    if not len(table):
        return []
    # hashed per column: a row-wise string join took a minute on 640,000 loops
    first_unique = ~table.duplicated(subset=["X", "Y", "Z"]).to_numpy()
    candidates = list(np.flatnonzero(crossing & first_unique)[:1])
    for row in np.flatnonzero(first_unique):
        if len(candidates) >= n_loops:
            break
        if row not in candidates:
            candidates.append(int(row))
    return sorted(int(r) for r in candidates)


def describe_loop(row: pd.Series) -> str:
    """One loop as prose: ``X 'Dallas' (layer -1, pos 10) -> Y ... -> Z ..., and X -> Z``."""
    def node(role: str) -> str:
        return f"{row[role.upper()]} (layer {row[f'{role.upper()} layer']}, " \
               f"pos {row[f'{role.upper()} pos']})"

    return (f"{node('x')} → {node('y')} → {node('z')}, with the direct edge X → Z "
            f"(weights {row['w_xy']:+.3g}, {row['w_yz']:+.3g}, {row['w_xz']:+.3g})")


@dataclass
class ReportContext:
    """What the sections of a report share; :class:`GraphReportContext` and
    :class:`reports.corpus_report.CorpusReportContext` add their own data.

    A section is a function ``section(page, context, ...)`` that appends its
    heading, text, figures and tables to the :class:`reports.html.Page`; the
    report's writer calls them in order. A new section is one such function
    and one call.
    """

    corpus: Corpus
    n_null: int
    seed: int
    #: ``executor``, ``jobs``, ``progress`` of the motif runs.
    run_options: dict[str, Any]
    #: The network and motifs of every run (``cgram motifs``' options).
    network: NetworkOptions = field(default_factory=NetworkOptions, kw_only=True)


@dataclass
class GraphReportContext(ReportContext):
    """The graph, its motif network and its profiles under each null."""

    graph_id: str
    graph: AttributionGraph
    #: The motif network of ``graph`` (embeddings, features, logits).
    net: Network
    #: Null models, validated; the first is the headline one.
    nulls: list[str]
    #: Long profile table, null x motif (:func:`graph_profiles`).
    profiles: pd.DataFrame

    @property
    def primary(self) -> str:
        """The headline null model."""
        return self.nulls[0]


def header_section(page: Page, context: GraphReportContext) -> None:
    """What the graph is: model, transcoders, task, sizes, prompt."""
    graph, net, meta = context.graph, context.net, context.graph.meta
    page.paragraph(
        f"model {meta.model} · transcoder {meta.transcoder_type} · task {meta.task or '-'} · "
        f"source {meta.source} · {graph.n_nodes} nodes, {graph.n_edges} edges; the motif "
        f"network keeps {context.network.describe()}: {net.n_nodes} nodes, {net.n_edges} "
        f"edges.", cls="meta")
    page.paragraph(f"Prompt: {meta.prompt!r}", cls="meta")


def findings_section(page: Page, context: GraphReportContext) -> None:
    """The findings in sentences (:func:`reports.findings.graph_findings`)."""
    from reports.findings import graph_findings

    page.heading("Findings")
    page.bullets(graph_findings(context.profiles))


def profile_section(page: Page, context: GraphReportContext) -> None:
    """Z and SP per motif class and null model, drawn and tabled."""
    from reports import figures

    profiles, chosen, n_null = context.profiles, context.nulls, context.n_null
    page.heading("Motif profile")
    z = profiles.pivot(index="motif", columns="null_model", values="z") \
        .reindex(index=pd.unique(profiles["motif"]), columns=chosen)
    sp = profiles.pivot(index="motif", columns="null_model", values="sp") \
        .reindex(index=pd.unique(profiles["motif"]), columns=chosen)
    page.figure(figures.profile_bars(z, "Z-score", f"Z per null model ({n_null} samples each)",
                                     threshold=Z_THRESHOLD), "z_profile",
                f"Z = (count − null mean) / null sd per {context.network.size}-node class and "
                f"null model; dashed: |Z| = {Z_THRESHOLD:g}; n/a: the null count never varies "
                "(Z undefined). Each class is drawn under its bars.")
    page.figure(figures.profile_bars(sp, "SP", "Significance profile SP = Z / ||Z||"),
                "sp_profile", "Significance profile (Milo et al. 2004), normalised over the "
                "finite Z of each null.")
    wide = profiles.pivot(index="motif", columns="null_model", values=["null_mean", "z"]) \
        .reindex(index=z.index)
    wide.columns = [f"{'Z' if v == 'z' else 'null mean'} ({null})" for v, null in wide.columns]
    first = profiles.drop_duplicates("motif").set_index("motif")[["name", "count"]]
    shown = first.join(wide[[f"{kind} ({null})" for kind in ("null mean", "Z")
                             for null in chosen]]).reset_index()
    page.table(profiles, "profiles", "Count, null mean and Z per null model (null sd, p, SP "
               "and dependence flags in the CSV)", shown=shown)


def null_distribution_section(page: Page, context: GraphReportContext) -> None:
    """Histograms of each class's count in the headline null's samples."""
    from reports import figures

    primary, n_null = context.primary, context.n_null
    page.heading(f"Null distributions ({primary})")
    null_counts, codes = null_count_samples(context.corpus, context.graph_id, primary, n_null,
                                            context.seed,
                                            executor=context.run_options["executor"],
                                            jobs=context.run_options["jobs"],
                                            network=context.network)
    profiles = context.profiles
    real = profiles.loc[profiles["null_model"] == primary].set_index("motif")["count"] \
        .reindex(codes).to_numpy()
    page.figure(figures.null_distributions(null_counts, real, codes,
                                           f"{n_null} {primary} samples; red: the real count"),
                "null_distributions", f"Histogram of each class's count in the {primary} "
                "samples, the real count in red.")


def ffl_section(page: Page, context: GraphReportContext, top: int = 10, n_loops: int = 3) -> None:
    """The strongest feed-forward loops: described, drawn on the graph, listed."""
    from motifs.network import instances_for_graph
    from reports import figures

    graph, net = context.graph, context.net
    page.heading("Strongest feed-forward loops")
    instances = instances_for_graph(graph, net, "ffl")
    names = figures.node_display_names(graph)
    table = top_instances_table(instances, names, net.rows)
    # loops whose input sits at an earlier token than their output carry
    # information across positions (Dallas -> Texas -> Austin)
    crossing = (table["X pos"] < table["Z pos"]).to_numpy() if len(table) else np.zeros(0, bool)
    drawn = pick_loops_to_draw(table, crossing, n_loops)
    if len(table):
        page.paragraph("The strongest loop: " + describe_loop(table.iloc[0]) + ".")
    if crossing.any():
        page.paragraph("The strongest loop across token positions: "
                       + describe_loop(table.loc[crossing].iloc[0]) + ".")
    page.figure(figures.ffl_on_graph(graph, instances.iloc[drawn], net.rows, n_loops=n_loops,
                                     title="FFLs on the graph: layer (y) by token position (x)"),
                "ffl_on_graph", "Panels: the strongest FFLs with distinct feature labels, "
                "the strongest crossing token positions included (strength = geometric mean "
                "of the three |weights|); the graph around each in grey; blue edges excite, "
                "red inhibit; width ∝ |weight|.")
    page.table(table.head(top), "ffl_instances",
               f"The {min(top, len(table))} strongest of {len(table):,} FFLs with their features",
               max_rows=top)
    page.table(table.loc[crossing].head(top), "ffl_instances_across_positions",
               f"The strongest of {int(crossing.sum()):,} FFLs whose X precedes Z in the prompt",
               max_rows=top)
    page.save_csv(table, "ffl_instances_all")


def explorer_section(page: Page, context: GraphReportContext, top: int = 30,
                     cascades_per_logit: int = 3) -> None:
    """The graph in the interactive explorer (:mod:`reports.view`), embedded in the
    page and written beside it as ``view.html``."""
    from reports.view import LIBRARY, embed_view

    page.heading("Explore the graph")
    page.paragraph(
        "The whole graph by token position (x) and layer (y): hover a node or an edge for its "
        "numbers, click a node for its strongest edges, shift-click to pin and export the pins "
        f"as Neuronpedia JSON; the motif panel lists the {top} strongest feed-forward loops, "
        f"then the {cascades_per_logit} strongest cascades to each logit (click one, or press "
        "n / p). The same view opens alone from view.html beside this page. Drawn with "
        f"{LIBRARY['name']} {LIBRARY['version']} ({LIBRARY['license']} licence), inlined.")
    embed_view(page, context.graph, top_ffls=top, cascades_per_logit=cascades_per_logit)


def pruning_section(page: Page, context: GraphReportContext, keep_fractions: Sequence[float],
                    sensitivity_n_null: int | None = None) -> None:
    """The profile under the headline null as weak edges are pruned away."""
    from motifs.corpus_run import weight_sensitivity
    from reports import figures

    primary, network = context.primary, context.network
    page.heading("Does it survive pruning?")
    if not pruning_applies(page, network):
        return
    sens = weight_sensitivity(context.graph_id, keep_fractions=keep_fractions, null=primary,
                              n_null=sensitivity_n_null or min(context.n_null, 100),
                              size=network.size, signed=network.signed, seed=context.seed,
                              corpus=context.corpus, unpruned_n_null=context.n_null,
                              **context.run_options)
    page.figure(figures.sensitivity_plot(sens, "z", motifs=_main_motifs(sens["motif"]),
                                         title=f"Z under {primary} as weak edges are "
                                               "pruned"),
                "weight_sensitivity", "Z of the main 3-node classes when only the "
                "strongest edges (by |weight|) are kept; each pruned level is re-tested "
                "against its own null; the unpruned level is the profile above.")
    page.table(sens, "weight_sensitivity", "Profiles at each pruning level",
               shown=sens[["level", "n_edges", "motif", "count", "null_mean", "z", "sp"]])


def pruning_applies(page: Page, network: NetworkOptions) -> bool:
    """Whether the pruning check can run on ``network``; if not, say why on the page.

    Its levels prune the default network (:func:`motifs.corpus_run.weight_sensitivity`),
    so they would not be the network of a run with ``--keep-errors``,
    ``--min-weight`` or ``--top-k``.
    """
    if network.default_network:
        return True
    page.paragraph("Not run: the pruning levels prune the default network (embedding, "
                   "feature and logit nodes, every edge), not the network of this report "
                   f"({network.describe()}).", cls="note")
    return False


def write_graph_report(corpus: Corpus, key: str, out_dir: str | Path,
                       nulls: str | Sequence[str] = DEFAULT_NULLS, n_null: int = 200,
                       seed: int = 0, top: int = 10, n_loops: int = 3,
                       keep_fractions: Sequence[float] | None = (1.0, 0.5, 0.25, 0.1),
                       sensitivity_n_null: int | None = None, executor: str = "pool",
                       jobs: int | None = None, progress: bool = False,
                       name: str = "report.html", cascades: int = 3,
                       causal: list[dict[str, Any]] | None = None,
                       network: NetworkOptions | None = None) -> Path:
    """Write the HTML report of one corpus graph (plus CSV tables and PNG figures).

    The page is its sections in order (:func:`header_section`,
    :func:`findings_section`, :func:`profile_section`,
    :func:`null_distribution_section`, :func:`ffl_section`,
    :func:`reports.mechanisms.mechanisms_section`, :func:`explorer_section`,
    :func:`pruning_section`), each given the shared :class:`GraphReportContext`.

    Parameters
    ----------
    corpus : corpus.store.Corpus
    key : str
        Slug, graph id or id prefix.
    out_dir : path
        Output folder (created): the page, ``tables/*.csv``, ``figures/*.png``.
    nulls : str or sequence of str
        Null models to run; the first is the headline one (null
        distributions and pruning use it).
    n_null : int
        Null samples per model.
    seed : int
    top : int
        Feed-forward loops listed.
    n_loops : int
        Loops drawn on the graph.
    keep_fractions : sequence of float or None
        Edge-pruning levels of the sensitivity section (None: no section;
        with a ``network`` other than the default, a note says why it is not run).
    sensitivity_n_null : int, optional
        Null samples per pruning level (default ``min(n_null, 100)``).
    executor, jobs, progress
        How motif runs execute (:func:`motifs.corpus_run.run_motifs`);
        profiles and null samples are cached in the corpus.
    name : str
        File name of the page.
    cascades : int
        FFL cascades listed per logit in the Mechanisms section.
    causal : list of dict, optional
        Causal-test records of this graph (``cgram cascades --validate --json``,
        :func:`tracer.causal.validate_cascades`: computed where the model is)
        for the Mechanisms section's causal tables.
    network : NetworkOptions, optional
        The network and motifs of every run, as ``cgram motifs`` takes them
        (default: embedding, feature and logit nodes, every edge, 3-node motifs).

    Returns
    -------
    pathlib.Path
        The HTML file.
    """
    from reports.html import Page
    from reports.mechanisms import mechanisms_section

    started = time.perf_counter()
    chosen = check_nulls(nulls)
    network = network or NetworkOptions()
    graph_id = corpus.resolve(key)
    graph = corpus.load(graph_id)
    net = network.network(graph)
    run_options: dict[str, Any] = dict(executor=executor, jobs=jobs, progress=progress)
    if net.n_edges == 0:
        raise MotifError(f"{graph.name}: no edges in its motif network ({network.describe()})")
    page = Page(f"Motifs of {graph.name}", out_dir)
    profiles = graph_profiles(corpus, graph_id, chosen, n_null, seed, **network.run_kwargs(),
                              **run_options)
    context = GraphReportContext(corpus, n_null, seed, run_options, graph_id, graph, net, chosen,
                                 profiles, network=network)
    header_section(page, context)
    findings_section(page, context)
    profile_section(page, context)
    null_distribution_section(page, context)
    ffl_section(page, context, top=top, n_loops=n_loops)
    mechanisms_section(page, context, top=cascades, validated=causal)
    explorer_section(page, context, cascades_per_logit=cascades)
    if keep_fractions:
        pruning_section(page, context, keep_fractions, sensitivity_n_null)
    page.paragraph(f"Null models: {null_sentence(chosen)} {n_null} samples each; seed {seed}; "
                   f"Z threshold {Z_THRESHOLD:g}. Written in {time.perf_counter() - started:.1f} "
                   "s.", cls="note")
    return page.write(name)


def _main_motifs(motifs: pd.Series) -> list[str]:
    """The five named 3-node motifs present in a table (by catalog, any labelling)."""
    from motifs.compare import find_motif

    present = list(pd.unique(motifs))
    found = [find_motif(present, key) for key in ("ffl", "chain", "fan_in", "fan_out", "cycle3")]
    return [m for m in found if m is not None]
