"""Compare motif profiles across a corpus and write the corpus report.

:func:`compare_corpus` runs the motif engine on every graph under each null
model (cached in the corpus) and gathers the comparisons of
:mod:`motifs.compare`: profile tables, SP correlation and clustering, group
tests on size-normalised values, the universal backbone, the size regression
and the per-group FFL / 3-cycle summary. :func:`write_comparison_tables`
writes them as CSV (``cgram compare``); :func:`write_corpus_report` adds
figures, prose and the pruning check in one self-contained HTML page
(``cgram report --corpus``).
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from motifs.compare import Z_THRESHOLD
from motifs.errors import MotifError
from reports.graph_report import (
    DEFAULT_NULLS,
    NetworkOptions,
    ReportContext,
    check_nulls,
    null_sentence,
    pruning_applies,
)

if TYPE_CHECKING:
    from corpus.store import Corpus
    from motifs.compare import Clustering, GroupComparison
    from reports.html import Page

#: Metadata columns a corpus can be grouped by.
GROUP_COLUMNS: tuple[str, ...] = ("transcoder_type", "model", "task", "scan", "source")

#: Values groups are compared on, size-normalised first.
COMPARED_VALUES: tuple[str, ...] = ("sp", "z_adj")


@dataclass
class CorpusComparison:
    """Everything :func:`compare_corpus` computed, as tables.

    Attributes
    ----------
    graphs : corpus graphs table (``Corpus.list()``) of the graphs analysed.
    results : long table, one row per null x graph x motif.
    nulls : null models run; ``nulls[0]`` is the headline one.
    profiles : one profile table (:func:`motifs.compare.profile_table`) per null.
    correlation : SP correlation between graphs (``sp_profiles``).
    clustering : its hierarchical clustering (None below 3 graphs).
    comparisons : (by, value) -> GroupComparison: ``sp`` on ``sp_profiles``,
        ``z_adj`` (ANCOVA on group + log edges) under the headline null.
    backbones : (by, null) -> universal backbone table.
    size_fit : per motif, the regression of Z on log(edges) (headline null).
    summary : per group x null x motif, FFL and 3-cycle counts (all ``by``
        columns and ``all``).
    sp_null : the null whose SP is correlated, clustered and compared: the
        headline null, never a fallback to another.
    sp_profiles : the profile table SP is compared on: the triad profiles, or
        the 4-node census under ``sp_null`` when its triad Z's are tied
        (:func:`motifs.compare.triad_profile_is_tied`, acyclic nulls).
    sp_size : 3 or 4, the census of ``sp_profiles``.
    skipped : why a comparison was not made (one group only, ...).
    failures : graphs the motif engine failed on (left out).
    seconds : wall time of the motif runs.
    fraction : backbone: share of each group's graphs a motif must be
        significant in (|Z| > :data:`motifs.compare.Z_THRESHOLD`).
    network : the network and motifs of every run.
    """

    graphs: pd.DataFrame
    results: pd.DataFrame
    nulls: list[str]
    profiles: dict[str, pd.DataFrame]
    correlation: pd.DataFrame
    clustering: Clustering | None
    comparisons: dict[tuple[str, str], GroupComparison]
    backbones: dict[tuple[str, str], pd.DataFrame]
    size_fit: pd.DataFrame
    summary: pd.DataFrame
    by: list[str]
    n_null: int
    seed: int
    sp_null: str
    sp_profiles: pd.DataFrame
    sp_size: int
    skipped: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    fraction: float = 0.8
    network: NetworkOptions = field(default_factory=NetworkOptions)

    @property
    def primary(self) -> str:
        return self.nulls[0]


def corpus_results(corpus: Corpus, nulls: Sequence[str], n_null: int, seed: int = 0,
                   size: int = 3, keys: Sequence[str] | None = None,
                   **run_options: Any) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Long results of every graph under each null, and the failures.

    One :func:`motifs.corpus_run.run_motifs` call per null (parallel over
    graphs and null blocks; cached in the corpus, so a second call reads).
    """
    from motifs.corpus_run import run_motifs

    parts, failures = [], []
    for null in nulls:
        table = run_motifs(corpus, keys=keys, null=null, n_null=n_null, size=size, seed=seed,
                           **run_options)
        parts.append(table)
        failures += [{**f, "null_model": null} for f in table.attrs.get("failures") or []]
    return pd.concat(parts, ignore_index=True), failures


def analysed_graphs(corpus: Corpus, results: pd.DataFrame,
                    failures: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The corpus graphs table, limited to the graphs ``results`` holds.

    Raises
    ------
    MotifError
        No graph has results (each failed in the motif engine, or none exist).
    """
    graphs = corpus.list()
    graphs = graphs.loc[graphs["graph_id"].isin(results["graph"])].reset_index(drop=True)
    if graphs.empty:
        raise MotifError(f"{corpus.root}: no graph with motif results "
                         f"({len(failures)} failed in the motif engine)")
    return graphs


def corpus_verdict(corpus: Corpus, nulls: Sequence[str], n_null: int, seed: int = 0,
                   keys: Sequence[str] | None = None,
                   **run_options: Any) -> tuple[pd.DataFrame, list[str], list[dict[str, Any]]]:
    """The FFL verdict of a corpus under each null (issue #17): table, sentences, failures.

    Runs (or reads from the cache) every graph's triad profile under each
    null, then :func:`motifs.compare.ffl_verdict` per model x transcoder
    type x task and :func:`motifs.compare.verdict_sentences`.
    """
    from motifs.compare import ffl_verdict, verdict_sentences

    chosen = check_nulls(nulls)
    results, failures = corpus_results(corpus, chosen, n_null, seed, keys=keys, **run_options)
    graphs = analysed_graphs(corpus, results, failures)
    table = ffl_verdict(results, graphs, nulls=chosen)
    return table, verdict_sentences(table), failures


def write_verdict(corpus: Corpus, nulls: Sequence[str], n_null: int, out_csv: str | Path,
                  seed: int = 0, **run_options: Any) -> list[dict[str, Any]]:
    """Compute the FFL verdict (:func:`corpus_verdict`), print its sentences and
    table, write the table to ``out_csv`` atomically; returns the failures
    (printed too). Shared by ``cgram compare --nulls`` and the demo."""
    from corpus.atomic import atomic_write

    table, sentences, failures = corpus_verdict(corpus, nulls, n_null, seed, **run_options)
    print(f"FFL verdict under {', '.join(nulls)} ({n_null} samples each, seed {seed}), per "
          "model, transcoder type and task:")
    print("\n".join("  " + line for line in sentences))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    for failure in failures:
        print(f"failed: {failure['slug']} ({failure['null_model']}): {failure['error']}")
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_csv, lambda tmp: table.to_csv(tmp, index=False))
    print(f"wrote {out_csv}")
    return failures


def compare_corpus(corpus: Corpus, by: str | Sequence[str] = ("transcoder_type", "model", "task"),
                   nulls: str | Sequence[str] = DEFAULT_NULLS, n_null: int = 200, seed: int = 0,
                   keys: Sequence[str] | None = None, n_boot: int = 2000, n_perm: int = 5000,
                   fraction: float = 0.8, n_clusters: int = 2, alpha: float = 0.05,
                   network: NetworkOptions | None = None, **run_options: Any) -> CorpusComparison:
    """Run the motif engine over a corpus and compare the profiles.

    Parameters
    ----------
    corpus : corpus.store.Corpus
    by : column name(s) of the graphs table to group by.
    nulls : null model(s); the first is the headline one (profiles,
        clustering and group tests); every null enters the FFL / 3-cycle
        summary and the backbone.
    n_null, seed : null samples per graph and model; the run seed.
    keys : graphs to include (default: all).
    n_boot, n_perm, fraction, n_clusters, alpha
        Bootstrap resamples, permutations, backbone fraction, clusters cut
        from the tree, false discovery rate.
    network : NetworkOptions, optional
        The network and motifs of every run (default: ``cgram motifs``'
        defaults).
    **run_options
        ``executor``, ``jobs``, ``progress`` for :func:`motifs.corpus_run.run_motifs`.

    Returns
    -------
    CorpusComparison

    Raises
    ------
    MotifError
        An unknown ``by`` column or null model, or no graph to compare.
    """
    from motifs.compare import (
        cluster_profiles,
        group_motif_summary,
        profile_table,
        size_regression,
        sp_correlation,
        triad_profile_is_tied,
        universal_backbone,
    )

    chosen = check_nulls(nulls)
    columns = [by] if isinstance(by, str) else list(by)
    unknown = [c for c in columns if c not in GROUP_COLUMNS]
    if unknown:
        raise MotifError(f"cannot group by {unknown}; choose from {list(GROUP_COLUMNS)}")
    network = network or NetworkOptions()
    started = time.perf_counter()
    results, failures = corpus_results(corpus, chosen, n_null, seed, keys=keys,
                                       **network.run_kwargs(), **run_options)
    graphs = analysed_graphs(corpus, results, failures)
    profiles = {null: profile_table(results, graphs, null=null) for null in chosen}
    adjusted, size_fit = size_regression(profiles[chosen[0]])
    profiles[chosen[0]] = adjusted
    sp_null, sp_size, sp_profiles = chosen[0], network.size, profiles[chosen[0]]
    if triad_profile_is_tied(sp_profiles):
        # the triad SP is one vector up to sign: compare profiles on the 4-node census
        quads, quad_failures = corpus_results(corpus, [sp_null], n_null, seed, keys=keys,
                                              **{**network.run_kwargs(), "size": 4,
                                                 "signed": False}, **run_options)
        failures += [{**f, "census": "size 4"} for f in quad_failures]
        sp_size, sp_profiles = 4, profile_table(quads, graphs.loc[graphs["graph_id"].isin(
            quads["graph"])], null=sp_null)
    seconds = time.perf_counter() - started
    correlation = sp_correlation(sp_profiles)
    skipped: list[str] = []
    clustering = None
    if not np.isfinite(correlation.to_numpy()).all():
        skipped.append("clustering: some pairs of graphs share fewer than 3 classes with a "
                       "defined SP (their correlation is undefined)")
    elif len(correlation) >= 3:
        clustering = cluster_profiles(correlation, n_clusters=min(n_clusters, len(correlation)))
    comparisons, not_compared = _compare_groups(sp_profiles, adjusted, columns, n_boot, n_perm,
                                                alpha, seed)
    summaries = [group_motif_summary(results, graphs, column) for column in (None, *columns)]
    backbones = {(column, null): universal_backbone(profiles[null], column, fraction)
                 for column in columns for null in chosen}
    return CorpusComparison(
        graphs=graphs, results=results, nulls=chosen, profiles=profiles,
        correlation=correlation, clustering=clustering, comparisons=comparisons,
        backbones=backbones, size_fit=size_fit, summary=pd.concat(summaries, ignore_index=True),
        by=columns, n_null=n_null, seed=seed, sp_null=sp_null, sp_profiles=sp_profiles,
        sp_size=sp_size, skipped=skipped + not_compared, failures=failures, seconds=seconds,
        fraction=fraction, network=network)


def _compare_groups(sp_profiles: pd.DataFrame, adjusted: pd.DataFrame, columns: Sequence[str],
                    n_boot: int, n_perm: int, alpha: float,
                    seed: int) -> tuple[dict[tuple[str, str], GroupComparison], list[str]]:
    """Per grouping column, the groups compared on SP (``sp_profiles``) and on
    size-adjusted Z (``adjusted``, the headline null); and why a column was not compared."""
    from motifs.compare import compare_groups

    comparisons: dict[tuple[str, str], GroupComparison] = {}
    skipped: list[str] = []
    for column in columns:
        labels = adjusted[column].dropna().astype(str)
        if labels.nunique() < 2:
            skipped.append(f"{column}: the corpus has {labels.nunique()} labelled group(s) "
                           f"({', '.join(sorted(labels.unique())) or 'none'}); nothing to compare")
            continue
        for value in COMPARED_VALUES:
            table = sp_profiles if value == "sp" else adjusted
            comparisons[(column, value)] = compare_groups(table, column, value=value,
                                                          n_boot=n_boot, n_perm=n_perm,
                                                          alpha=alpha, seed=seed)
    return comparisons, skipped


def write_comparison_tables(comparison: CorpusComparison, out_dir: str | Path) -> list[Path]:
    """Write every table of a comparison as CSV under ``out_dir``; returns the paths.

    Files: ``results.csv`` (long), ``profiles_<null>.csv``,
    ``sp_correlation.csv``, ``clusters.csv``, ``group_means_<by>_<value>.csv``,
    ``group_tests_<by>_<value>.csv``, ``backbone_<by>_<null>.csv``,
    ``size_regression.csv``, ``motif_summary.csv``.
    """
    from corpus.atomic import atomic_write

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {"results": comparison.results,
                                       "sp_correlation": comparison.correlation.reset_index()
                                       .rename(columns={"index": "graph"}),
                                       "size_regression": comparison.size_fit,
                                       "motif_summary": comparison.summary}
    for null, profile in comparison.profiles.items():
        tables[f"profiles_{null}"] = profile
    if comparison.clustering is not None:
        labels = comparison.clustering.labels
        tables["clusters"] = pd.DataFrame({"graph": labels.index, "cluster": labels.to_numpy()}) \
            .merge(comparison.graphs[["graph_id", "slug"] + comparison.by]
                   .rename(columns={"graph_id": "graph"}), on="graph")
    for (by, value), result in comparison.comparisons.items():
        tables[f"group_means_{by}_{value}"] = result.means
        tests = result.tests.copy()
        tests.insert(0, "value", value)
        tests.insert(0, "by", by)
        tables[f"group_tests_{by}_{value}"] = tests
    for (by, null), backbone in comparison.backbones.items():
        tables[f"backbone_{by}_{null}"] = backbone
    paths = []
    for name, frame in tables.items():
        path = out / f"{name}.csv"
        atomic_write(path, lambda tmp, frame=frame: frame.to_csv(tmp, index=False))
        paths.append(path)
    return paths


def comparison_text(comparison: CorpusComparison, max_rows: int = 20) -> str:
    """The plain-text summary ``cgram compare`` prints."""
    from reports.findings import group_findings

    lines = [f"{len(comparison.graphs)} graphs; nulls {', '.join(comparison.nulls)} "
             f"({comparison.n_null} samples each, seed {comparison.seed}); motif runs "
             f"{comparison.seconds:.1f} s"]
    if comparison.failures:
        lines.append(f"{len(comparison.failures)} graph runs failed: " + "; ".join(
            f"{f['slug']} ({f['null_model']}): {f['error']}" for f in comparison.failures[:5]))
    head = comparison.profiles[comparison.primary]
    shown = [c for c in ("slug", *comparison.by, "n_edges") if c in head.columns]
    value_cols = [c for c in head.columns if c.split(":")[0] in ("z", "sp")
                  and _is_main(c.split(":", 1)[1])]
    lines.append(f"\nProfiles under {comparison.primary} (Z and SP of the named triads):")
    lines.append(head[shown + value_cols].head(max_rows).to_string(
        index=False, float_format=lambda v: f"{v:.3g}"))
    lines.append("\nFindings:")
    lines.extend("  " + line for line in group_findings(comparison.summary))
    from motifs.compare import sp_census_note

    lines.append("\n" + sp_census_note(comparison.sp_null, comparison.sp_size))
    for (by, value), result in comparison.comparisons.items():
        null_used = comparison.sp_null if value == "sp" else comparison.primary
        lines.append(f"\nGroups by {by} under {null_used}, on {result.description}:")
        tests = result.tests.loc[np.isfinite(result.tests["p"])]
        lines.append(tests[["motif", "n_graphs", "p", "q", "significant", "effect",
                            "effect_measure", "contrast"]]
                     .to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        if "size_overlap" in tests and not tests["size_overlap"].all():
            lines.append(f"  warning: the {by} groups' sizes do not overlap "
                         f"({result.size_ranges}); the size adjustment extrapolates")
        compared = comparison.sp_profiles if value == "sp" else comparison.profiles[null_used]
        ties = tied_motifs(compared, list(tests["motif"]))
        for lead, others in ties.items():
            lines.append(f"  note: {', '.join(others)} = ±{lead} in every graph under "
                         f"{null_used} (dependent classes): one finding, not {len(others) + 1}")
    for (by, null), backbone in comparison.backbones.items():
        if null != comparison.primary:
            continue
        members = backbone.loc[backbone["in_backbone"]]
        text = ", ".join(f"{m} ({d})" for m, d in zip(members["motif"], members["direction"]))
        lines.append(f"\nUniversal backbone by {by} under {null}: {text or 'none'}")
    for note in comparison.skipped:
        lines.append(f"skipped: {note}")
    return "\n".join(lines)


def tied_motifs(profiles: pd.DataFrame, motifs: Sequence[str]) -> dict[str, list[str]]:
    """Motifs whose Z-scores are the same up to sign in every graph of a profile table.

    Under a degree-preserving null of DAGs without mutual edges, fan-in,
    chain and fan-out counts are affine in the FFL count, so their Z-scores
    are ±the FFL's: :func:`motifs.stats.zscores` flags them per graph
    (``dependent_on``); this finds the ties across the whole table.

    Examples
    --------
    >>> table = pd.DataFrame({"z:030T": [3.0, 5.0], "z:021C": [-3.0, -5.0], "z:021U": [1.0, 2.0]})
    >>> tied_motifs(table, ["030T", "021C", "021U"])
    {'030T': ['021C']}
    """
    z = {m: profiles[f"z:{m}"].to_numpy(dtype=float) for m in motifs if f"z:{m}" in profiles}
    ties: dict[str, list[str]] = {}
    placed: set[str] = set()
    for lead in sorted(z, key=lambda m: (m not in ("030T", "ffl"), list(z).index(m))):
        if lead in placed or not np.isfinite(z[lead]).any():
            continue
        same = [m for m in z if m != lead and m not in placed
                and np.array_equal(np.isfinite(z[m]), np.isfinite(z[lead]))
                and np.allclose(np.abs(z[m][np.isfinite(z[m])]),
                                np.abs(z[lead][np.isfinite(z[lead])]), rtol=1e-9, atol=1e-9)]
        if same:
            ties[lead] = same
            placed.update([lead, *same])
    return ties


def summary_grid(summary: pd.DataFrame) -> pd.DataFrame:
    """The FFL / 3-cycle summary as a grid: one row per group, one column per
    null and motif, cells ``enriched/tested (median Z)`` for FFLs and
    ``absent/graphs`` for 3-cycles."""
    rows = summary.copy()
    tested = (rows["n_graphs"] - rows["n_undefined"]).astype(int)
    median = rows["median_z"].map(lambda z: "n/a" if not np.isfinite(z) else f"{z:+.1f}")
    rows["cell"] = np.where(rows["motif"] == "ffl",
                            rows["n_enriched"].astype(int).astype(str) + "/" + tested.astype(str)
                            + " (Z " + median + ")",
                            rows["n_absent"].astype(int).astype(str) + "/"
                            + rows["n_graphs"].astype(int).astype(str))
    rows["column"] = np.where(rows["motif"] == "ffl", "FFL enriched: ", "3-cycles absent: ") \
        + rows["null_model"]
    order = list(dict.fromkeys(rows.sort_values("motif", key=lambda m: m != "ffl",
                                                kind="stable")["column"]))
    grid = rows.pivot_table(index=["by", "group"], columns="column", values="cell",
                            aggfunc="first", sort=False)
    return grid.reindex(columns=order).reset_index()


def _is_main(motif: str) -> bool:
    from motifs.compare import find_motif

    return any(find_motif([motif], key) for key in ("ffl", "chain", "fan_in", "fan_out",
                                                     "cycle3"))


def _row_labels(head: pd.DataFrame, by: Sequence[str]) -> dict[str, str]:
    """Heatmap row names: ``slug [first group]``, or the slug alone."""
    slugs = head["slug"].astype(str)
    if by:
        slugs = slugs + " [" + head[by[0]].fillna("-").astype(str) + "]"
    return dict(zip(head["graph"], slugs))


def corpus_sensitivity(corpus: Corpus, graph_ids: Sequence[str], null: str, n_null: int,
                       seed: int, keep_fractions: Sequence[float],
                       **run_options: Any) -> pd.DataFrame:
    """FFL and 3-cycle rows of :func:`motifs.corpus_run.weight_sensitivity` for every graph.

    One task per graph on the executor (the report's shared pool by default):
    a graph's levels are one null block each, too small to spread, so the
    graphs are what runs in parallel. Each level is cached in the corpus.

    Raises
    ------
    MotifError
        A graph's pruning check failed (naming the graph).
    """
    from corpus.progress import progress_bar
    from motifs.corpus_run import run_executor

    spec = run_options.pop("executor", "pool")
    progress = run_options.pop("progress", False)
    jobs = run_options.pop("jobs", None)
    dask_processes = run_options.pop("dask_processes", True)
    options = dict(keep_fractions=keep_fractions, null=null, n_null=n_null, seed=seed,
                   **run_options)
    root = str(Path(corpus.root).resolve())
    tasks = ((graph_id, (root, graph_id, options)) for graph_id in graph_ids)
    scope = run_executor(spec, jobs, dask_processes)
    parts: dict[str, pd.DataFrame] = {}
    with scope as pool, progress_bar(total=len(graph_ids), desc="pruning levels", unit="graph",
                                     progress=progress) as bar:
        for outcome in pool.run(_graph_sensitivity, tasks):
            if not outcome.ok:
                raise MotifError(f"pruning check of graph {outcome.key}: {outcome.error}")
            parts[outcome.key] = outcome.value
            bar.update(1)
    return pd.concat([parts[graph_id] for graph_id in graph_ids], ignore_index=True)


def _graph_sensitivity(task: tuple[str, str, dict[str, Any]]) -> pd.DataFrame:
    """One graph's FFL and 3-cycle pruning rows, with ``graph`` in front (runs in a worker)."""
    from corpus.store import Corpus
    from motifs.compare import find_motif
    from motifs.corpus_run import weight_sensitivity

    root, graph_id, options = task
    table = weight_sensitivity(graph_id, corpus=Corpus(root, create=False), executor="serial",
                               **options)
    present = list(pd.unique(table["motif"]))
    keep = [find_motif(present, "ffl"), find_motif(present, "cycle3")]
    table = table.loc[table["motif"].isin([k for k in keep if k])].reset_index(drop=True)
    table.insert(0, "graph", graph_id)
    return table


@dataclass
class CorpusReportContext(ReportContext):
    """The corpus's comparison (:func:`compare_corpus`)."""

    comparison: CorpusComparison

    @property
    def primary(self) -> str:
        """The headline null model."""
        return self.comparison.primary

    @property
    def head(self) -> pd.DataFrame:
        """The wide profile table under the headline null, one row per graph."""
        return self.comparison.profiles[self.primary]

    @property
    def columns(self) -> list[str]:
        """The columns graphs are grouped by."""
        return self.comparison.by

    @functools.cached_property
    def sp(self) -> pd.DataFrame:
        """Graphs x motifs SP compared (``comparison.sp_profiles``), classes never formed
        left out."""
        from motifs.compare import motif_matrix

        sp = motif_matrix(self.comparison.sp_profiles, "sp")
        return sp.loc[:, sp.notna().any(axis=0)]


def header_section(page: Page, context: CorpusReportContext) -> None:
    """What the corpus holds, the nulls run, and the runs that failed."""
    comparison, head = context.comparison, context.head
    counts = "; ".join(f"{c}: " + ", ".join(f"{k} {v}" for k, v in
                                             head[c].fillna("(none)").value_counts().items())
                       for c in context.columns)
    page.paragraph(f"Corpus {context.corpus.root}: {len(head)} graphs ({counts}); motif "
                   f"networks of {context.network.describe()}. Null models "
                   f"{', '.join(comparison.nulls)}, {context.n_null} samples each, seed "
                   f"{context.seed}; headline null {context.primary}.", cls="meta")
    page.paragraph(f"What each null keeps: {null_sentence(comparison.nulls)}", cls="meta")
    if comparison.failures:
        page.paragraph(f"{len(comparison.failures)} graph runs failed and are left out: " +
                       "; ".join(f"{f['slug']} ({f['null_model']}): {f['error']}"
                                 for f in comparison.failures[:10]), cls="note")


def browser_section(page: Page, context: CorpusReportContext,
                    keys: Sequence[str] | None = None,
                    links: dict[str, str] | None = None) -> Path:
    """The corpus browser beside the report (``index.html``, each graph's explorer
    under ``views/``, or the pages :func:`reports.corpus_browser.write_views` wrote:
    ``links``), linked from the page; returns the browser's path."""
    from reports.corpus_browser import BROWSER_NAME, write_corpus_browser

    path = write_corpus_browser(context.corpus, page.out_dir, context.head, null=context.primary,
                                keys=keys, links=links)
    page.raw(f'<p class="meta">Every graph, sortable and filterable, each opening in the '
             f'interactive explorer: <a href="{BROWSER_NAME}">{BROWSER_NAME}</a>.</p>')
    return path


def transcoders_section(page: Page, context: CorpusReportContext) -> Path | None:
    """The transcoders page (issue #16) beside the report when the corpus holds
    ``cgram zoo sweep`` results (``transcoders/*.csv``), linked from the page;
    returns its path, or None when there are no sweeps."""
    from reports.transcoders_page import sweep_tables, write_transcoders_page

    table = sweep_tables(context.corpus.root)
    if table is None:
        return None
    path = write_transcoders_page(table, page.out_dir)
    page.raw(f'<p class="meta">Transcoder kinds compared by replacement score against '
             f'sparsity (cgram zoo sweep): <a href="{path.name}">{path.name}</a>.</p>')
    return path


def findings_section(page: Page, context: CorpusReportContext) -> None:
    """Per group and null: FFLs enriched, 3-cycles absent, in sentences and a grid."""
    from reports.findings import group_findings

    summary = context.comparison.summary
    page.heading("Findings")
    page.paragraph("Are feed-forward loops enriched under each null model, and are 3-cycles "
                   f"absent? Per group, the number of graphs with Z > {Z_THRESHOLD:g} out of "
                   "those where Z is defined, and what each null expects.")
    page.bullets(group_findings(summary))
    page.table(summary, "motif_summary", "Graphs with FFLs enriched / 3-cycles "
               "absent, per group and null (full counts in the CSV)",
               shown=summary_grid(summary), max_rows=None)


def profiles_section(page: Page, context: CorpusReportContext) -> None:
    """Median Z per class and null; the per-graph profiles (all nulls in the CSVs)."""
    from reports import figures

    comparison, head, columns, primary = (context.comparison, context.head, context.columns,
                                          context.primary)
    page.heading("Profiles")
    results = comparison.results
    median_z = results.groupby(["motif", "null_model"], sort=False)["z"].median().unstack() \
        .reindex(index=pd.unique(results["motif"]), columns=comparison.nulls)
    median_z = median_z.loc[median_z.notna().any(axis=1)]
    page.figure(figures.profile_bars(median_z, "median Z", f"Median Z over the {len(head)} "
                                     "graphs, per null model", threshold=Z_THRESHOLD), "median_z",
                f"Median over graphs of each class's Z under each null; dashed: |Z| = "
                f"{Z_THRESHOLD:g}. Z is not size-normalised: the group comparisons below use SP "
                "and size-adjusted Z.")
    shown = [c for c in ("slug", *columns, "n_nodes", "n_edges", "density") if c in head]
    mains = [c for c in head.columns if c.split(":")[0] in ("count", "z", "sp")
             and _is_main(c.split(":", 1)[1])]
    page.table(head, f"profiles_{primary}", f"One row per graph under {primary} (all "
               "motifs in the CSV)", shown=head[shown + mains])
    for other in comparison.nulls[1:]:
        page.save_csv(comparison.profiles[other], f"profiles_{other}")
    page.save_csv(comparison.results, "results")


def superfamilies_section(page: Page, context: CorpusReportContext) -> None:
    """SP correlation and clustering (Milo et al. 2004) under the headline null, on the
    4-node census when its triad SP is one vector up to sign."""
    from motifs.compare import sp_census_note
    from reports import figures

    comparison, head, columns = context.comparison, context.head, context.columns
    sp_null = comparison.sp_null
    labels = _row_labels(head, columns)
    page.heading("Superfamilies: SP correlation and clustering")
    page.paragraph(sp_census_note(sp_null, comparison.sp_size) + (
        " Classes the null can never form (cycles, mutual edges) have no defined SP and are "
        "left out of each correlation." if comparison.sp_size == 4 else ""))
    if comparison.clustering is not None:
        page.figure(figures.sp_heatmap(context.sp, comparison.clustering, labels,
                                       f"SP under {sp_null}, rows clustered (average linkage "
                                       "on 1 − r)"), "sp_heatmap",
                    "Significance profiles of all graphs; the dendrogram groups graphs whose "
                    "profiles correlate (Milo et al. 2004 'superfamilies'). Classes the null "
                    "can never form are left out.")
        clusters = comparison.clustering.labels
        cross = pd.crosstab(clusters.rename("cluster"),
                            head.set_index("graph").loc[clusters.index, columns[0]]
                            .fillna("(none)").rename(columns[0])) if columns else None
        page.paragraph(f"Cophenetic correlation {comparison.clustering.cophenetic:.2f}. "
                       "Clusters against " + (columns[0] if columns else "graphs") + ":")
        if cross is not None:
            page.table(cross.reset_index(), "clusters_by_group", "")
    page.save_csv(comparison.correlation.reset_index().rename(columns={"index": "graph"}),
                  "sp_correlation")


def group_comparisons_section(page: Page, context: CorpusReportContext) -> None:
    """Per grouping column: SP and size-adjusted Z compared across groups."""
    from reports import figures

    comparison = context.comparison
    page.heading("Group comparisons (size-normalised)")
    page.paragraph("Z-scores grow with graph size, and the groups here differ in size, so "
                   "groups are compared on the significance profile SP = Z/||Z|| and on Z at "
                   "equal size (ANCOVA: Z ~ group + log(edges), Freedman-Lane permutation "
                   "p-values); raw Z is not compared. Each table says which value it shows.")
    for (column, value), result in comparison.comparisons.items():
        null_used = comparison.sp_null if value == "sp" else context.primary
        page.heading(f"{column}: {value} under {null_used}", level=3)
        page.paragraph(result.description + f"; null model {null_used}.")
        finite = result.tests.loc[np.isfinite(result.tests["p"]), "motif"].tolist()
        if value == "sp":
            means = result.means.pivot(index="motif", columns="group", values="mean") \
                .reindex(index=finite)
            errors = pd.concat({f"{g}:{end}": result.means.loc[result.means["group"] == g]
                                .set_index("motif")[f"ci_{end}"].reindex(finite)
                                for g in result.groups for end in ("low", "high")}, axis=1)
            page.figure(figures.profile_bars(means, "mean SP", f"Mean SP by {column} "
                                             "(95% bootstrap intervals)", errors=errors),
                        f"mean_sp_{column}", f"Mean significance profile per {column} group.")
        page.figure(figures.group_comparison_plot(result, finite,
                                                  f"{value} by {column}; * q < 0.05"),
                    f"groups_{column}_{value}", "Group means and 95% " + (
                        "t intervals of the least-squares means at equal size"
                        if value.endswith("_adj") else "bootstrap intervals")
                    + f" of {value} per motif; q: Benjamini-Hochberg over motifs.")
        page.table(result.tests.loc[result.tests["motif"].isin(finite)],
                   f"group_tests_{column}_{value}", "Permutation tests")
        page.save_csv(result.means, f"group_means_{column}_{value}")
    for note in comparison.skipped:
        page.paragraph(f"Not compared: {note}.", cls="note")


def size_confound_section(page: Page, context: CorpusReportContext) -> None:
    """FFL Z against graph size, and Z regressed on log(edges) per motif."""
    from motifs.compare import find_motif
    from reports import figures

    head, columns = context.head, context.columns
    page.heading("Size confound")
    ffl = find_motif(list(context.sp.columns), "ffl") or find_motif(
        [c.split(":", 1)[1] for c in head.columns if c.startswith("z:")], "ffl")
    if ffl is not None:
        page.figure(figures.size_scatter(head, ffl, columns[0] if columns else None,
                                         title=f"FFL Z under {context.primary} against graph "
                                               "size"),
                    "size_confound", "Each point a graph; dashed: pooled least-squares fit "
                    "of Z on log10(edges), which describes the size trend only: groups are compared by "
                    "ANCOVA (a common slope within groups), not on residuals from this fit.")
    fit = context.comparison.size_fit
    page.table(fit, "size_regression", "Z regressed on natural log(edges), per motif (pooled "
               "over graphs)", shown=fit.loc[fit["n"] > 0])


def backbone_section(page: Page, context: CorpusReportContext) -> None:
    """The motifs significant in the same direction in most graphs of every group."""
    from reports import figures

    comparison, columns, primary = context.comparison, context.columns, context.primary
    page.heading("Universal backbone")
    page.paragraph(f"A motif belongs to the backbone when it is significant (|Z| > "
                   f"{Z_THRESHOLD:g}) in the same direction in at least "
                   f"{comparison.fraction:.0%} of the graphs of every group.")
    for (column, null_model), backbone in comparison.backbones.items():
        members = backbone.loc[backbone["in_backbone"]]
        text = ", ".join(f"{figures.motif_label(m)} {d}" for m, d in
                         zip(members["motif"], members["direction"])) or "none"
        page.paragraph(f"By {column} under {null_model}: {text}.")
        page.save_csv(backbone, f"backbone_{column}_{null_model}")
    first = (columns[0], primary) if columns else None
    if first in comparison.backbones:
        backbone = comparison.backbones[first]
        page.table(backbone, f"backbone_{first[0]}_{first[1]}",
                   f"Fractions of graphs with each motif enriched (up) or depleted (down), "
                   f"by {first[0]} under {primary}",
                   shown=backbone.loc[backbone["min_fraction"].notna()])


def pruning_rows(context: CorpusReportContext, keep_fractions: Sequence[float],
                 sensitivity_n_null: int | None = None) -> pd.DataFrame:
    """The pruning check's rows (:func:`corpus_sensitivity`) of every graph of the
    report under its headline null, ``sensitivity_n_null`` samples per pruned level
    (default ``min(n_null, 50)``); the unpruned level is the main run."""
    network = context.network
    return corpus_sensitivity(context.corpus, context.head["graph"].tolist(), context.primary,
                              sensitivity_n_null or min(context.n_null, 50), context.seed,
                              keep_fractions, size=network.size, signed=network.signed,
                              unpruned_n_null=context.n_null, **context.run_options)


def pruning_section(page: Page, context: CorpusReportContext, keep_fractions: Sequence[float],
                    sensitivity_n_null: int | None = None,
                    rows: Future[pd.DataFrame] | None = None) -> None:
    """FFL Z of every graph as weak edges are pruned away.

    ``rows``: :func:`pruning_rows` already running (the report starts them before
    its other sections, so the pool's workers run them while those are drawn);
    by default they run here.
    """
    from motifs.compare import find_motif
    from reports import figures

    head, columns, primary = context.head, context.columns, context.primary
    page.heading("Does it survive pruning?")
    if not pruning_applies(page, context.network):
        return
    sens_n = sensitivity_n_null or min(context.n_null, 50)
    sens = rows.result() if rows is not None else pruning_rows(context, keep_fractions,
                                                               sensitivity_n_null)
    meta = head[["graph", *columns]]
    sens = sens.merge(meta, on="graph", how="left")
    sens.insert(1, "slug", sens["graph"].map(dict(zip(head["graph"], head["slug"]))))
    ffl_rows = sens.loc[sens["motif"] == find_motif(list(pd.unique(sens["motif"])), "ffl")]
    page.figure(figures.sensitivity_lines(ffl_rows, columns[0] if columns else None,
                                          title=f"FFL Z under {primary} as weak edges "
                                                "are pruned"), "ffl_pruning",
                "One line per graph: FFL Z when only the strongest fraction of edges "
                f"(by |weight|) is kept, each pruned level against its own null ({sens_n} "
                f"samples); the unpruned level is the main run ({context.n_null} samples).")
    survive = ffl_rows.groupby("level", sort=False)["z"].agg(
        enriched=lambda z: int((z > Z_THRESHOLD).sum()), graphs="size")
    page.bullets(f"{level}: FFLs enriched (Z > {Z_THRESHOLD:g}) in {int(r.enriched)}/{int(r.graphs)} "
                 "graphs" for level, r in survive.iterrows())
    page.table(sens, "pruning", "FFL and 3-cycle profiles at each pruning level",
               shown=sens[["slug", *columns, "level", "n_edges", "motif", "count",
                           "null_mean", "z", "sp"]])


def _views_of(root: Path, out_dir: str | Path, keys: Sequence[str] | None
              ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The explorer pages and every listed graph's cascade statistics, from one load and
    one cascade search per graph (background thread: its own Corpus handle)."""
    from corpus.store import Corpus
    from reports.corpus_browser import write_views

    statistics: dict[str, dict[str, Any]] = {}
    links = write_views(Corpus(root, create=False), out_dir, keys, statistics=statistics)
    return links, statistics


def _cascades_of(root: Path, keys: Sequence[str] | None
                 ) -> tuple[None, dict[str, dict[str, Any]]]:
    """Every listed graph's cascade statistics, no pages (background thread: its own
    Corpus handle), shaped as :func:`_views_of`'s result."""
    from corpus.store import Corpus
    from reports.corpus_browser import listed_graphs
    from reports.mechanisms import corpus_cascade_statistics

    own = Corpus(root, create=False)
    return None, corpus_cascade_statistics(own, listed_graphs(own, keys)["graph_id"].tolist())


def write_corpus_report(corpus: Corpus, out_dir: str | Path,
                        by: str | Sequence[str] = ("transcoder_type", "model", "task"),
                        null: str | Sequence[str] = DEFAULT_NULLS, n_null: int = 200,
                        seed: int = 0, keys: Sequence[str] | None = None,
                        keep_fractions: Sequence[float] | None = (1.0, 0.5, 0.25),
                        sensitivity_n_null: int | None = None, n_boot: int = 2000,
                        n_perm: int = 5000, executor: str = "pool", jobs: int | None = None,
                        progress: bool = False, name: str = "report.html",
                        fraction: float = 0.8, network: NetworkOptions | None = None,
                        browser: bool = True) -> Path:
    """Write the corpus report: one self-contained HTML page, CSV tables, PNG figures.

    The page is its sections in order (:func:`header_section`,
    :func:`browser_section`, :func:`transcoders_section`,
    :func:`findings_section`, :func:`profiles_section`,
    :func:`superfamilies_section`, :func:`group_comparisons_section`,
    :func:`size_confound_section`, :func:`backbone_section`,
    :func:`reports.mechanisms.cascade_summary_section`, :func:`pruning_section`),
    each given the shared :class:`CorpusReportContext`.

    Parameters
    ----------
    corpus : corpus.store.Corpus
    out_dir : path
        Output folder (created): the page, ``tables/*.csv``, ``figures/*.png``.
    by : column name(s) to compare groups by (``transcoder_type``, ``model``,
        ``task``, ``scan``, ``source``).
    null : null model name or names; the first is the headline one.
    n_null : null samples per graph and model.
    seed : int
    keys : graphs to include (default: all).
    keep_fractions : edge-pruning levels of the robustness section (None: none).
    sensitivity_n_null : null samples per pruning level (default ``min(n_null, 50)``).
    n_boot, n_perm : bootstrap resamples and permutations of the group tests.
    executor, jobs, progress : how motif runs execute (cached in the corpus).
    name : file name of the page.
    fraction : backbone share (:func:`compare_corpus`).
    network : the network and motifs of every run (:class:`NetworkOptions`;
        default: ``cgram motifs``' defaults).
    browser : also write the corpus browser (``index.html``) and every graph's
        explorer page (``views/``) beside the report.

    Returns
    -------
    pathlib.Path
        The HTML file.
    """
    from reports.html import Page
    from reports.mechanisms import cascade_summary_section

    started = time.perf_counter()
    run_options: dict[str, Any] = dict(executor=executor, jobs=jobs, progress=progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-graphs") as background:
        # what needs the graphs alone runs beside the motif runs, whose blocks wait in
        # worker processes: the explorer pages and the cascades, one pass over the graphs
        graphs = (background.submit(_views_of, corpus.root, out_dir, keys) if browser
                  else background.submit(_cascades_of, corpus.root, keys))
        comparison = compare_corpus(corpus, by=by, nulls=null, n_null=n_null, seed=seed, keys=keys,
                                    n_boot=n_boot, n_perm=n_perm, fraction=fraction,
                                    network=network, **run_options)
        links, statistics = graphs.result()
    context = CorpusReportContext(corpus, n_null, seed, run_options, comparison,
                                  network=comparison.network)
    page = Page(f"Motifs across {len(context.head)} attribution graphs", out_dir)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-pruning") as background:
        # the pruning check's runs need only the graphs and the headline null: started
        # first, they run in the pool's workers while this thread draws the sections
        pruning = (background.submit(pruning_rows, context, keep_fractions, sensitivity_n_null)
                   if keep_fractions and context.network.default_network else None)
        header_section(page, context)
        if browser:
            browser_section(page, context, keys, links)
        transcoders_section(page, context)
        findings_section(page, context)
        profiles_section(page, context)
        superfamilies_section(page, context)
        group_comparisons_section(page, context)
        size_confound_section(page, context)
        backbone_section(page, context)
        cascade_summary_section(page, context, statistics)
        if keep_fractions:
            pruning_section(page, context, keep_fractions, sensitivity_n_null, pruning)
    page.paragraph(f"Motif runs {comparison.seconds:.1f} s (cached in the corpus: a second "
                   f"report reads them); report written in {time.perf_counter() - started:.1f} "
                   "s.", cls="note")
    return page.write(name)
