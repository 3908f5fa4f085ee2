"""Compare motif profiles across graphs and groups (models, transcoder types, tasks).

Input is the long per-graph x motif table of :func:`motifs.corpus_run.run_motifs`
(columns ``graph, slug, motif, count, null_mean, null_sd, z, p, sp, null_model,
n_null``) and the corpus graphs table (``Corpus.list()``). From them:

- :func:`profile_table`: one row per graph, motif counts, Z and SP side by
  side with graph size, density and metadata;
- :func:`sp_correlation` and :func:`cluster_profiles`: the SP correlation
  matrix and its hierarchical clustering ("superfamilies", Milo et al. 2004);
- :func:`compare_groups`: per motif, group means with bootstrap intervals, a
  permutation test, Benjamini-Hochberg q-values and an effect size;
- :func:`universal_backbone`: motifs significant in the same direction in most
  graphs of every group;
- :func:`ffl_verdict` and :func:`verdict_sentences`: per group (model,
  transcoder type, task), in how many graphs the FFL is enriched under each
  null, with the median Z;
- :func:`ancova`: groups compared at equal size (Z grows with graph size, SP
  does not): Z ~ group + log(edges), Freedman-Lane permutation p-values;
  :func:`size_regression` only describes how Z scales with size;
- :func:`pruning_levels`: the levels at which
  :func:`motifs.corpus_run.weight_sensitivity` reruns a graph's profile with
  its edges pruned by |weight|.

Everything is vectorised over graphs, motifs, bootstrap resamples and
permutations, and every random function takes ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from motifs.errors import MotifError

#: Columns a long per-graph x motif results table must have.
RESULT_COLUMNS: tuple[str, ...] = (
    "graph", "slug", "motif", "count", "null_mean", "null_sd", "z", "p", "sp", "null_model",
    "n_null",
)

#: Per-graph columns of a profile table, before the motif columns.
META_COLUMNS: tuple[str, ...] = (
    "graph", "slug", "model", "transcoder_type", "task", "n_nodes", "n_edges", "density",
    "null_model", "n_null",
)

#: Per-motif quantities a profile table holds, as ``"<value>:<motif>"`` columns.
VALUES: tuple[str, ...] = ("count", "z", "sp")

#: What each comparable value is, for the text of tables and reports.
VALUE_DESCRIPTIONS: dict[str, str] = {
    "count": "raw motif count (not size-normalised)",
    "z": "Z-score (grows with graph size: not size-normalised)",
    "sp": "significance profile SP = Z / ||Z|| (size-normalised; Milo et al. 2004)",
    "z_adj": "Z compared at equal size: ANCOVA on group + log(edges), Freedman-Lane "
             "permutation p",
}

#: |Z| above which a motif counts as significant in one graph.
Z_THRESHOLD = 2.0


# ------------------------------------------------------------------ tables
def check_results(results: pd.DataFrame, name: str = "results") -> pd.DataFrame:
    """Validate a long per-graph x motif table; returns it unchanged.

    Raises
    ------
    MotifError
        Not a DataFrame, missing columns, or a (graph, motif, null_model)
        repeated.
    """
    if not isinstance(results, pd.DataFrame):
        raise MotifError(f"{name} must be a pandas DataFrame, got {type(results).__name__}")
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise MotifError(f"{name} lacks columns {missing} (has {list(results.columns)})")
    dup = results.duplicated(subset=["graph", "motif", "null_model"])
    if dup.any():
        row = results.loc[dup].iloc[0]
        raise MotifError(f"{name} repeats graph {row['graph']!r} motif {row['motif']!r} "
                         f"under null {row['null_model']!r}")
    return results


def profile_table(results: pd.DataFrame, graphs: pd.DataFrame,
                  null: str | None = None) -> pd.DataFrame:
    """One row per graph: metadata, size, and every motif's count, Z and SP.

    Parameters
    ----------
    results : pandas.DataFrame
        Long table, one row per graph x motif (``RESULT_COLUMNS``), possibly
        holding several null models.
    graphs : pandas.DataFrame
        The corpus graphs table (``Corpus.list()``): ``graph_id, slug, model,
        transcoder_type, task, n_nodes, n_edges``.
    null : str, optional
        The null model to take; required when ``results`` holds several.

    Returns
    -------
    pandas.DataFrame
        ``META_COLUMNS`` then ``count:<motif>``, ``z:<motif>``, ``sp:<motif>``
        for each motif in order of first appearance; ``density`` is
        ``n_edges / (n_nodes * (n_nodes - 1))``. Rows follow the graphs table.

    Raises
    ------
    MotifError
        Missing columns, several nulls and none chosen, an unknown null, or a
        result for a graph absent from ``graphs``.

    Examples
    --------
    >>> results = pd.DataFrame({"graph": ["g1", "g1"], "slug": ["a", "a"],
    ...     "motif": ["ffl", "cycle3"], "count": [5, 0], "null_mean": [1.0, 0.5],
    ...     "null_sd": [1.0, 0.5], "z": [4.0, -1.0], "p": [0.01, 1.0], "sp": [0.97, -0.24],
    ...     "null_model": "config", "n_null": 100})
    >>> graphs = pd.DataFrame({"graph_id": ["g1"], "slug": ["a"], "model": ["m"],
    ...     "transcoder_type": ["clt"], "task": ["t"], "n_nodes": [5], "n_edges": [8]})
    >>> table = profile_table(results, graphs)
    >>> table.loc[0, ["density", "z:ffl", "count:cycle3"]].tolist()
    [0.4, 4.0, 0.0]
    """
    check_results(results)
    need = ("graph_id", "slug", "model", "transcoder_type", "task", "n_nodes", "n_edges")
    missing = [c for c in need if c not in graphs.columns]
    if missing:
        raise MotifError(f"graphs table lacks columns {missing}")
    nulls = list(pd.unique(results["null_model"]))
    if null is None:
        if len(nulls) > 1:
            raise MotifError(f"results hold several null models {nulls}; choose one with null=")
        chosen = results
    else:
        if null not in nulls:
            raise MotifError(f"no results under null {null!r}; the results hold {nulls}")
        chosen = results.loc[results["null_model"] == null]
    unknown = sorted(set(chosen["graph"]) - set(graphs["graph_id"]))
    if unknown:
        raise MotifError(f"results name graphs absent from the graphs table: {unknown[:5]}")
    motifs = list(pd.unique(chosen["motif"]))
    wide = chosen.pivot(index="graph", columns="motif", values=list(VALUES))
    wide = wide.reindex(columns=pd.MultiIndex.from_product([list(VALUES), motifs]))
    wide.columns = [f"{value}:{motif}" for value, motif in wide.columns]
    run = chosen.groupby("graph", sort=False)[["null_model", "n_null"]].first()
    meta = graphs.loc[graphs["graph_id"].isin(chosen["graph"]), list(need)] \
        .rename(columns={"graph_id": "graph"}).reset_index(drop=True)
    n = meta["n_nodes"].to_numpy(dtype=float)
    meta["density"] = meta["n_edges"].to_numpy(dtype=float) / np.maximum(n * (n - 1), 1.0)
    meta = meta.join(run, on="graph")
    return meta.join(wide, on="graph").reset_index(drop=True)[
        list(META_COLUMNS) + list(wide.columns)]


def profile_motifs(profiles: pd.DataFrame, value: str = "sp") -> list[str]:
    """Motif names of a profile table that have ``<value>:<motif>`` columns."""
    prefix = f"{value}:"
    motifs = [c[len(prefix):] for c in profiles.columns if c.startswith(prefix)]
    if not motifs:
        have = sorted({c.split(":", 1)[0] for c in profiles.columns if ":" in c})
        raise MotifError(f"the profile table has no {value!r} columns (has {have})")
    return motifs


def motif_matrix(profiles: pd.DataFrame, value: str = "sp") -> pd.DataFrame:
    """(graphs, motifs) float frame of one value, indexed by graph id.

    Examples
    --------
    >>> p = pd.DataFrame({"graph": ["g1", "g2"], "sp:ffl": [0.9, 0.1], "sp:chain": [-0.4, 0.9]})
    >>> motif_matrix(p).loc["g2"].tolist()
    [0.1, 0.9]
    """
    motifs = profile_motifs(profiles, value)
    frame = profiles[[f"{value}:{m}" for m in motifs]].astype(float)
    frame.columns = motifs
    frame.index = profiles["graph"].to_numpy()
    frame.index.name = "graph"
    return frame


def find_motif(motifs: Sequence[str], key: str) -> str | None:
    """The label in ``motifs`` naming the same class as ``key`` (name or MAN code).

    Tables may label a triad by name (``ffl``) or MAN code (``030T``); the
    catalog decides which labels are the same class.

    Examples
    --------
    >>> find_motif(["021U", "030T"], "ffl"), find_motif(["ffl"], "030T"), find_motif(["ffl"], "cycle3")
    ('030T', 'ffl', None)
    """
    from motifs.catalog import motif_class

    if key in motifs:
        return key
    try:
        target = motif_class(key)
    except MotifError:
        return None
    for label in motifs:
        try:
            found = motif_class(label)
        except MotifError:
            continue
        if (found.size, found.isoclass) == (target.size, target.isoclass):
            return label
    return None


def triad_profile_is_tied(profiles: pd.DataFrame, rtol: float = 1e-6) -> bool:
    """Whether every graph's finite triad Z-scores are +/- its FFL's Z.

    Under a degree-preserving null that keeps graphs acyclic (``config-dag``,
    ``layer-config``, any other acyclic null of a DAG without mutual edges),
    the null counts of fan-in, chain and fan-out are affine in the FFL count
    and every other triad class is impossible, so the finite triad Z's are
    ``+/-Z(030T)``: the triad SP is one vector up to sign and comparing it says
    nothing. Decided from the numbers, not the null's name.

    Parameters
    ----------
    profiles : pandas.DataFrame
        A profile table with ``z:<triad>`` columns (names or MAN codes).
    rtol : float
        Relative tolerance of ``|Z| == |Z(030T)|``.

    Returns
    -------
    bool
        True when, in every graph with a finite FFL Z, each finite triad Z has
        the FFL's magnitude; False without triad columns.

    Examples
    --------
    >>> dag = pd.DataFrame({"graph": ["a", "b"], "z:021U": [-3.0, 2.0], "z:030T": [3.0, -2.0],
    ...                     "z:030C": [np.nan, np.nan]})
    >>> triad_profile_is_tied(dag), triad_profile_is_tied(dag.assign(**{"z:021U": [1.0, 2.0]}))
    (True, False)
    """
    from motifs.catalog import motif_class

    labels = []
    for label in profile_motifs(profiles, "z"):
        try:
            if motif_class(label).size == 3:
                labels.append(label)
        except MotifError:
            continue
    ffl = find_motif(labels, "ffl")
    if ffl is None:
        return False
    z = motif_matrix(profiles, "z")[labels].to_numpy()
    lead = np.abs(z[:, [labels.index(ffl)]])
    rows = np.isfinite(lead[:, 0])
    if not rows.any():
        return False
    close = np.isclose(np.abs(z[rows]), lead[rows], rtol=rtol, atol=1e-9) | ~np.isfinite(z[rows])
    return bool(close.all())


def sp_census_note(null: str, size: int) -> str:
    """One sentence saying which census a null's SP comparison uses, and why.

    Examples
    --------
    >>> sp_census_note("config-dag", 4)[:60]
    'SP compared on the 4-node census under config-dag: under thi'
    """
    if size == 4:
        return (f"SP compared on the 4-node census under {null}: under this null every graph's "
                "finite triad Z-scores are +/-Z(030T) (it keeps graphs acyclic and degrees "
                "fixed, so fan-in, chain and fan-out counts are affine in the FFL count), and "
                "a triad SP would be one vector up to sign.")
    return f"SP compared on the triad census under {null}."


# -------------------------------------------------- correlation, clustering
def sp_correlation(profiles: pd.DataFrame, value: str = "sp", min_motifs: int = 3) -> pd.DataFrame:
    """Pearson correlation between the graphs' significance profiles.

    Parameters
    ----------
    profiles : pandas.DataFrame
        A profile table (:func:`profile_table`).
    value : str
        The per-motif value correlated (default ``sp``).
    min_motifs : int
        Fewest motifs defined in both graphs for a correlation (two points
        always correlate +/-1).

    Returns
    -------
    pandas.DataFrame
        (graphs, graphs), indexed both ways by graph id. Each pair is
        correlated over the motifs defined (finite) in both graphs: an
        undefined entry (a motif's Z has no spread in the null, such as
        3-cycles under a null that forbids cycles) is left out, never read as
        0. NaN where a pair shares fewer than ``min_motifs`` defined motifs or
        a profile is constant on them.

    Notes
    -----
    Pairwise-complete sums are matrix products of the values and their
    finiteness masks: O(n^2 k) for n graphs and k motifs.

    References
    ----------
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542.

    Examples
    --------
    >>> p = pd.DataFrame({"graph": ["a", "b", "c"], "sp:x": [1.0, 0.5, -1.0],
    ...                   "sp:y": [0.0, 0.5, 0.0], "sp:z": [-1.0, -1.0, 1.0]})
    >>> sp_correlation(p).round(2).loc["a"].tolist()
    [1.0, 0.87, -1.0]
    """
    x = motif_matrix(profiles, value).to_numpy()
    mask = np.isfinite(x).astype(float)
    v = np.where(mask > 0, x, 0.0)
    n = mask @ mask.T
    sx = v @ mask.T  # sum of x_i over the motifs both graphs define
    sxx = (v * v) @ mask.T
    sxy = v @ v.T
    spread = n * sxx - sx ** 2  # n^2 var of graph i's values on the motifs shared with j
    varies = spread > 1e-12 * np.maximum(n * sxx, 1e-300)
    ok = (n >= min_motifs) & varies & varies.T
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(ok, (n * sxy - sx * sx.T) / np.sqrt(np.where(ok, spread * spread.T, 1.0)),
                        np.nan)
    defined = np.diag(n) >= min_motifs
    corr[np.diag_indices_from(corr)] = np.where(defined & np.isfinite(np.diag(corr)), 1.0, np.nan)
    ids = profiles["graph"].to_numpy()
    return pd.DataFrame(np.clip(corr, -1.0, 1.0), index=ids, columns=ids)


@dataclass(frozen=True)
class Clustering:
    """Hierarchical clustering of graphs by profile correlation.

    Attributes
    ----------
    linkage : (n - 1, 4) float64
        scipy linkage matrix on the distance ``1 - r``.
    order : list of str
        Graph ids in dendrogram leaf order.
    labels : pandas.Series
        Cluster number (1-based) of each graph id.
    method : str
        The linkage method.
    cophenetic : float
        Cophenetic correlation of the tree with the distances (NaN below 3 graphs).
    """

    linkage: np.ndarray
    order: list[str]
    labels: pd.Series
    method: str
    cophenetic: float


def cluster_profiles(corr: pd.DataFrame, n_clusters: int = 2,
                     method: str = "average") -> Clustering:
    """Agglomerative clustering of graphs on the distance ``1 - r``.

    Parameters
    ----------
    corr : pandas.DataFrame
        A square correlation matrix (:func:`sp_correlation`).
    n_clusters : int
        Cut the tree into at most this many clusters (``fcluster`` maxclust).
    method : str
        ``scipy.cluster.hierarchy.linkage`` method: average (UPGMA), complete,
        single or weighted (methods that need Euclidean input are refused).

    Returns
    -------
    Clustering

    References
    ----------
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542.

    Examples
    --------
    >>> r = pd.DataFrame([[1, .9, -.5], [.9, 1, -.4], [-.5, -.4, 1]], index=list("abc"),
    ...                  columns=list("abc"))
    >>> result = cluster_profiles(r, n_clusters=2)
    >>> bool(result.labels["a"] == result.labels["b"] != result.labels["c"])
    True
    """
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    if method not in ("average", "complete", "single", "weighted"):
        raise MotifError(f"method must be average, complete, single or weighted, got {method!r}")
    values = np.asarray(corr, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise MotifError(f"corr must be a square matrix, got shape {values.shape}")
    if values.shape[0] < 2:
        raise MotifError(f"clustering needs at least 2 graphs, got {values.shape[0]}")
    if not np.isfinite(values).all():
        raise MotifError("corr holds non-finite entries")
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise MotifError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    distance = np.clip(1.0 - (values + values.T) / 2.0, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    linkage = hierarchy.linkage(condensed, method=method)
    ids = list(corr.index)
    labels = pd.Series(hierarchy.fcluster(linkage, t=n_clusters, criterion="maxclust"),
                       index=ids, name="cluster")
    coph = float(hierarchy.cophenet(linkage, condensed)[0]) if len(ids) > 2 else float("nan")
    order = [ids[i] for i in hierarchy.leaves_list(linkage)]
    return Clustering(linkage=linkage, order=order, labels=labels, method=method, cophenetic=coph)


# ------------------------------------------------------------ statistics
def benjamini_hochberg(p: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN.

    Equal to ``scipy.stats.false_discovery_control(p, method="bh")`` on the
    finite entries; NaN p-values (untestable motifs) are not counted in m.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate.
    J. R. Statist. Soc. B 57:289-300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, np.nan]).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if ((p[finite] < 0) | (p[finite] > 1)).any():
        raise MotifError("p-values must lie in [0, 1]")
    values = p[finite]
    m = values.size
    if m == 0:
        return out
    order = np.argsort(values)
    scaled = values[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(q, 1.0)
    out[finite] = adjusted
    return out


def bootstrap_mean_ci(values: Any, n_boot: int = 2000, level: float = 0.95,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means of each column with percentile-bootstrap confidence intervals.

    Parameters
    ----------
    values : (n, k) array
        n observations of k quantities; NaN entries are left out of a
        column's mean (each resample averages its finite entries).
    n_boot : int
        Bootstrap resamples (the same row resamples serve every column).
    level : float
        Confidence level in (0, 1).
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    mean, low, high : (k,) float64
        NaN interval where a column has fewer than 2 finite values.

    Notes
    -----
    Resamples are multinomial weight vectors, so all columns and resamples
    are one matrix product, O(n_boot * n * k).

    References
    ----------
    Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 13.

    Examples
    --------
    >>> mean, low, high = bootstrap_mean_ci(np.arange(20.0)[:, None], seed=0)
    >>> float(mean[0]), bool(low[0] < 9.5 < high[0]), bool(high[0] - low[0] < 8)
    (9.5, True, True)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise MotifError(f"values must be a 1-d or 2-d array, got shape {x.shape}")
    if not 0 < level < 1:
        raise MotifError(f"level must lie in (0, 1), got {level}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise MotifError(f"n_boot must be a positive integer, got {n_boot!r}")
    n, k = x.shape
    finite = np.isfinite(x)
    filled = np.where(finite, x, 0.0)
    count = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / count
    low = np.full(k, np.nan)
    high = np.full(k, np.nan)
    ok = count >= 2
    if n == 0 or not ok.any():
        return mean, low, high
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=int(n_boot)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (weights @ filled[:, ok]) / (weights @ finite[:, ok].astype(float))
    tail = (1.0 - level) / 2.0
    low[ok], high[ok] = np.nanquantile(boot, [tail, 1.0 - tail], axis=0)
    return mean, low, high


def _group_codes(labels: Any) -> tuple[np.ndarray, list[Any]]:
    codes, names = pd.factorize(pd.Series(labels), sort=True)
    return codes.astype(np.int64), list(names)


def _between_group_statistic(x: np.ndarray, finite: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Between-group sum of squares ``sum_g S_g^2 / c_g - S^2 / N`` per motif and labelling.

    ``x``, ``finite``: (n, k) values and their finiteness (NaN entries count
    in no group); ``onehot``: (P, n, G) labellings. Returns (P, k).
    """
    filled = np.where(finite, x, 0.0)
    by_group = np.swapaxes(onehot, 1, 2)  # (P, G, n): one BLAS product per labelling
    sums = np.matmul(by_group, filled)
    counts = np.matmul(by_group, finite.astype(float))
    total, n_finite = filled.sum(axis=0), finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = np.where(counts > 0, sums ** 2 / counts, 0.0).sum(axis=1)
        return between - np.where(n_finite > 0, total ** 2 / n_finite, 0.0)


def permutation_test(values: Any, labels: Any, n_perm: int = 5000,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Permutation test of equal group means, for every column at once.

    Parameters
    ----------
    values : (n, k) array
        One row per graph, one column per motif; NaN entries are left out.
    labels : (n,) group labels (at least two distinct).
    n_perm : int
        Random relabellings.
    seed : int

    Returns
    -------
    statistic, p : (k,) float64
        The between-group sum of squares of the real labels and its
        permutation p-value ``(1 + #{T_perm >= T}) / (1 + n_perm)``
        (Phipson & Smyth 2010). For two groups this is the two-sided test of
        the difference of means. NaN where a column has no spread.

    Notes
    -----
    Every permutation and column is one tensor contraction; permutations are
    processed in chunks of bounded memory.

    References
    ----------
    Good, P. (2005). Permutation, Parametric and Bootstrap Tests of
    Hypotheses, ch. 3. Phipson, B. & Smyth, G. K. (2010). Permutation
    p-values should never be zero. Stat. Appl. Genet. Mol. Biol. 9:39.

    Examples
    --------
    >>> x = np.r_[np.zeros(8), np.ones(8)][:, None] + np.linspace(0, .1, 16)[:, None]
    >>> stat, p = permutation_test(x, ["a"] * 8 + ["b"] * 8, n_perm=999, seed=0)
    >>> float(p[0])
    0.001
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    codes, names = _group_codes(labels)
    if codes.shape[0] != x.shape[0]:
        raise MotifError(f"labels has {codes.shape[0]} entries for {x.shape[0]} rows of values")
    if len(names) < 2:
        raise MotifError(f"a group test needs at least 2 groups, got {names}")
    if not isinstance(n_perm, (int, np.integer)) or n_perm < 1:
        raise MotifError(f"n_perm must be a positive integer, got {n_perm!r}")
    n, k = x.shape
    n_groups = len(names)
    finite = np.isfinite(x)
    eye = np.eye(n_groups)
    observed = _between_group_statistic(x, finite, eye[codes][None])[0]
    rng = np.random.default_rng(seed)
    exceed = np.zeros(k)
    chunk = max(1, int(2**22 // max(n * max(n_groups, k), 1)))
    # ties of the statistic (mirror labellings, equal values) must count as
    # exceeding; rounding noise is relative to the total sum of squares
    filled = np.where(finite, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = np.where(finite, x - filled.sum(axis=0) / finite.sum(axis=0), 0.0)
    tol = 1e-9 * np.maximum((centred ** 2).sum(axis=0), 1e-300)
    done = 0
    while done < n_perm:
        size = min(chunk, n_perm - done)
        perms = rng.permuted(np.broadcast_to(codes, (size, n)), axis=1)
        stats = _between_group_statistic(x, finite, eye[perms])
        exceed += (stats >= observed - tol).sum(axis=0)
        done += size
    p = (1.0 + exceed) / (1.0 + n_perm)
    spread = (np.where(finite, x, -np.inf).max(axis=0) > np.where(finite, x, np.inf).min(axis=0))
    observed = np.where(spread, observed, np.nan)
    return observed, np.where(spread, p, np.nan)


def cliffs_delta(a: Any, b: Any) -> np.ndarray:
    """Cliff's delta of ``b`` against ``a``, per column: P(b > a) - P(b < a).

    Parameters
    ----------
    a : (n_a, k) array; b : (n_b, k) array. NaN pairs are left out.

    Returns
    -------
    (k,) float64 in [-1, 1]: +1 when every b exceeds every a.

    References
    ----------
    Cliff, N. (1993). Dominance statistics: ordinal analyses to answer
    ordinal questions. Psychological Bulletin 114:494-509.

    Examples
    --------
    >>> cliffs_delta([[1.0], [2.0]], [[3.0], [1.5]]).tolist()
    [0.5]
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    sign = np.sign(b[None, :, :] - a[:, None, :])
    valid = np.isfinite(sign)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, sign, 0.0).sum(axis=(0, 1)) / valid.sum(axis=(0, 1))


def epsilon_squared(values: Any, labels: Any) -> np.ndarray:
    """Rank-based effect size of a k-group difference: epsilon^2 = H / (n - 1).

    ``H`` is the tie-corrected Kruskal-Wallis statistic of each column; 0 when
    groups do not differ in rank, 1 when they separate completely.

    References
    ----------
    Tomczak, M. & Tomczak, E. (2014). The need to report effect size estimates
    revisited. Trends in Sport Sciences 21:19-25.

    Examples
    --------
    >>> round(float(epsilon_squared([[1.], [2.], [3.], [4.], [5.], [6.]], list("aabbcc"))[0]), 3)
    0.914
    """
    from scipy.stats import rankdata

    x = np.asarray(values, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    codes, names = _group_codes(labels)
    out = np.full(x.shape[1], np.nan)
    finite = np.isfinite(x)
    # columns sharing a NaN pattern share their rows: rank each pattern's block at once
    patterns, inverse = np.unique(finite.T, axis=0, return_inverse=True)
    for index, rows in enumerate(patterns):
        cols = np.flatnonzero(inverse.ravel() == index)
        sub, sub_codes = x[rows][:, cols], codes[rows]
        n = sub.shape[0]
        if n < 3 or np.unique(sub_codes).size < 2:
            continue
        ranks = rankdata(sub, axis=0)
        onehot = np.eye(len(names))[sub_codes]
        n_g = onehot.sum(axis=0)
        present = n_g > 0
        rank_sums = onehot.T @ ranks
        h = 12.0 / (n * (n + 1)) * (rank_sums[present] ** 2 / n_g[present, None]).sum(axis=0) \
            - 3.0 * (n + 1)
        # tie size t of each entry from its min and max rank: sum over entries of
        # t^2 - 1 equals the sum over tie groups of t^3 - t
        tie_size = rankdata(sub, method="max", axis=0) - rankdata(sub, method="min", axis=0) + 1
        correction = 1.0 - (tie_size ** 2 - 1.0).sum(axis=0) / (n ** 3 - n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[cols] = np.where(correction > 0, h / correction, np.nan) / (n - 1)
    return out


# ------------------------------------------------------- group comparison
@dataclass(frozen=True)
class GroupComparison:
    """Motif-by-motif comparison of graph groups.

    Attributes
    ----------
    by : str
        The metadata column defining groups.
    value : str
        The per-motif value compared (a key of :data:`VALUE_DESCRIPTIONS`).
    groups : list of str
        Group names, sorted.
    means : pandas.DataFrame
        One row per motif x group: ``motif, group, n, mean, ci_low, ci_high``
        (percentile bootstrap of the mean; NaN interval below 2 graphs).
    tests : pandas.DataFrame
        One row per motif: ``motif, n_graphs, n_groups, statistic`` (between-
        group sum of squares), ``p`` (permutation), ``q`` (Benjamini-Hochberg
        over motifs), ``significant`` (q < alpha), ``effect``,
        ``effect_measure`` (``cliffs_delta`` for two groups, ``epsilon_squared``
        for more) and ``contrast`` (which group Cliff's delta favours).
    n_unlabelled : int
        Graphs left out for lack of a group label.
    size_ranges : str
        Each group's edge-count range, for a size-adjusted comparison (else "").
    """

    by: str
    value: str
    groups: list[str]
    means: pd.DataFrame
    tests: pd.DataFrame
    n_unlabelled: int
    size_ranges: str = ""

    @property
    def description(self) -> str:
        """One line saying what was compared and how."""
        if self.value.endswith("_adj"):
            return (f"{VALUE_DESCRIPTIONS.get(self.value, self.value)} by {self.by} (least-squares "
                    "means at the mean log(edges); Benjamini-Hochberg q over motifs; effect "
                    + ("the adjusted difference" if len(self.groups) == 2 else "partial eta^2")
                    + (f"; sizes {self.size_ranges}" if self.size_ranges else "") + ")")
        return (f"{VALUE_DESCRIPTIONS.get(self.value, self.value)} by {self.by}: group means with "
                "percentile-bootstrap intervals, permutation test of equal means (between-group "
                "sum of squares), Benjamini-Hochberg q over motifs, effect size "
                + ("Cliff's delta" if len(self.groups) == 2 else "epsilon^2 (Kruskal-Wallis H/(n-1))"))


def compare_groups(profiles: pd.DataFrame, by: str, value: str = "sp", n_boot: int = 2000,
                   n_perm: int = 5000, level: float = 0.95, alpha: float = 0.05,
                   seed: int = 0) -> GroupComparison:
    """Compare a per-motif value between the groups of a metadata column.

    Parameters
    ----------
    profiles : pandas.DataFrame
        A profile table (:func:`profile_table`).
    by : str
        Grouping column (``model``, ``transcoder_type``, ``task``, ...). Graphs
        with no label are left out.
    value : str
        ``sp`` (default, size-normalised), ``z``, ``count`` or ``z_adj``
        (Z compared at equal size by :func:`ancova`; ``n_boot`` unused).
    n_boot, n_perm : int
        Bootstrap resamples per group, permutations per test.
    level : float
        Confidence level of the intervals.
    alpha : float
        False discovery rate for ``significant``.
    seed : int

    Returns
    -------
    GroupComparison

    Raises
    ------
    MotifError
        Unknown column or value, or fewer than two labelled groups.

    References
    ----------
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542. Benjamini, Y. & Hochberg, Y. (1995). J. R. Statist.
    Soc. B 57:289-300. Cliff, N. (1993). Psychological Bulletin 114:494-509.

    Examples
    --------
    >>> p = pd.DataFrame({"graph": list("abcdef"), "kind": list("xxxyyy"),
    ...                   "sp:ffl": [.9, .8, .85, .1, .2, .15], "sp:chain": [.1, .3, .2, .25, .1, .2]})
    >>> result = compare_groups(p, "kind", n_perm=999, seed=0)
    >>> row = result.tests.set_index("motif").loc["ffl"]
    >>> round(float(row["p"]), 2), float(row["effect"]), row["contrast"]  # exact p: 2/20
    (0.1, -1.0, 'y vs x')
    """
    if by not in profiles.columns:
        raise MotifError(f"no column {by!r} to group by; columns are {list(profiles.columns)}")
    if value not in VALUE_DESCRIPTIONS and not any(c.startswith(f"{value}:") for c in profiles):
        raise MotifError(f"value must be one of {list(VALUE_DESCRIPTIONS)}, got {value!r}")
    if value.endswith("_adj"):
        return ancova(profiles, by, value=value[:-len("_adj")], n_perm=n_perm, level=level,
                      alpha=alpha, seed=seed)
    labelled = profiles.loc[profiles[by].notna()]
    matrix = motif_matrix(labelled, value)
    labels = labelled[by].astype(str).to_numpy()
    codes, groups = _group_codes(labels)
    if len(groups) < 2:
        raise MotifError(f"comparing by {by!r} needs at least 2 groups; the labelled graphs "
                         f"form {len(groups)} ({groups})")
    x = matrix.to_numpy()
    motifs = list(matrix.columns)
    parts = []
    for index, group in enumerate(groups):
        rows = x[codes == index]
        mean, low, high = bootstrap_mean_ci(rows, n_boot=n_boot, level=level,
                                            seed=np.random.SeedSequence([seed, index]))
        parts.append(pd.DataFrame({"motif": motifs, "group": group,
                                   "n": np.isfinite(rows).sum(axis=0), "mean": mean,
                                   "ci_low": low, "ci_high": high}))
    means = pd.concat(parts, ignore_index=True)
    statistic, p = permutation_test(x, codes, n_perm=n_perm, seed=seed)
    if len(groups) == 2:
        effect = cliffs_delta(x[codes == 0], x[codes == 1])
        measure, contrast = "cliffs_delta", f"{groups[1]} vs {groups[0]}"
    else:
        effect = epsilon_squared(x, codes)
        measure, contrast = "epsilon_squared", "any"
    q = benjamini_hochberg(p)
    tests = pd.DataFrame({
        "motif": motifs, "n_graphs": np.isfinite(x).sum(axis=0), "n_groups": len(groups),
        "statistic": statistic, "p": p, "q": q, "significant": q < alpha, "effect": effect,
        "effect_measure": measure, "contrast": contrast,
    })
    return GroupComparison(by=by, value=value, groups=[str(g) for g in groups], means=means,
                           tests=tests, n_unlabelled=int(len(profiles) - len(labelled)))


def universal_backbone(profiles: pd.DataFrame, by: str | None = None, fraction: float = 0.8,
                       z_threshold: float = Z_THRESHOLD,
                       alpha: float | None = None) -> pd.DataFrame:
    """Motifs significant in the same direction in most graphs of every group.

    A motif is significant in a graph when ``|Z| > z_threshold`` (or, with
    ``alpha``, when its p-value is below ``alpha``), its direction the sign of
    Z. It joins the backbone as ``enriched`` (``depleted``) when, in every
    group, at least ``fraction`` of the graphs with a finite Z have it
    significantly enriched (depleted).

    Parameters
    ----------
    profiles : pandas.DataFrame
        A profile table (needs ``z:<motif>``; ``alpha`` needs ``p:<motif>``
        columns, i.e. a table built from results with per-motif p-values).
    by : str, optional
        Grouping column; None treats all graphs as one group ``all``.
    fraction : float in (0, 1]
    z_threshold : float
    alpha : float, optional

    Returns
    -------
    pandas.DataFrame
        One row per motif: ``motif, direction`` (enriched, depleted or empty),
        ``in_backbone``, ``min_fraction`` (the smallest group fraction in the
        backbone direction, or of the larger direction when none; NaN when
        some group has no graph where the motif's Z is defined), then
        ``up:<group>`` and ``down:<group>`` fractions.

    Examples
    --------
    >>> p = pd.DataFrame({"graph": list("abcd"), "kind": list("xxyy"),
    ...                   "z:ffl": [5.0, 3.0, 4.0, 2.5], "z:chain": [3.0, -1.0, 0.0, 4.0]})
    >>> universal_backbone(p, "kind")[["motif", "direction", "in_backbone"]].values.tolist()
    [['ffl', 'enriched', True], ['chain', '', False]]
    """
    if not 0 < fraction <= 1:
        raise MotifError(f"fraction must lie in (0, 1], got {fraction}")
    z = motif_matrix(profiles, "z")
    if alpha is not None:
        if not any(c.startswith("p:") for c in profiles.columns):
            raise MotifError("alpha needs p:<motif> columns in the profile table")
        p = motif_matrix(profiles, "p").reindex(columns=z.columns).to_numpy()
        significant = p < alpha
    else:
        significant = np.abs(z.to_numpy()) > z_threshold
    zv = z.to_numpy()
    finite = np.isfinite(zv)
    up = significant & finite & (zv > 0)
    down = significant & finite & (zv < 0)
    if by is None:
        labels = np.zeros(len(profiles), dtype=np.int64)
        groups = ["all"]
    else:
        if by not in profiles.columns:
            raise MotifError(f"no column {by!r} to group by")
        labels, groups = _group_codes(profiles[by].fillna("(none)").astype(str))
    onehot = np.eye(len(groups))[labels]  # (n, G)
    n_fin = onehot.T @ finite.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_up = np.where(n_fin > 0, (onehot.T @ up) / n_fin, np.nan)
        frac_down = np.where(n_fin > 0, (onehot.T @ down) / n_fin, np.nan)
    # a group where the motif is never testable (Z undefined in every graph) rules it out
    untestable = np.isnan(frac_up).any(axis=0)
    min_up = np.where(untestable, np.nan, np.nan_to_num(frac_up).min(axis=0))
    min_down = np.where(untestable, np.nan, np.nan_to_num(frac_down).min(axis=0))
    enriched = min_up >= fraction
    depleted = min_down >= fraction
    table = pd.DataFrame({
        "motif": list(z.columns),
        "direction": np.where(enriched, "enriched", np.where(depleted, "depleted", "")),
        "in_backbone": enriched | depleted,
        "min_fraction": np.where(depleted & ~enriched, min_down, np.maximum(min_up, min_down)),
    })
    for index, group in enumerate(groups):
        table[f"up:{group}"] = frac_up[index]
        table[f"down:{group}"] = frac_down[index]
    return table


def size_regression(profiles: pd.DataFrame, value: str = "z") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Describe how a per-motif value scales with log(edges), pooled over graphs.

    Motif Z-scores grow with network size (roughly with sqrt of the count).
    This pooled least-squares fit ``value ~ a + b log(m)`` describes that
    growth; it is **not** a way to compare groups: when group and size are
    confounded, the pooled slope absorbs the group effect and the residuals
    erase it (12 graphs a group, 200-2,000 vs 10,000-40,000 edges, a pure
    +3 group effect: residual difference 0.2, permutation p about 0.4).
    Compare groups at equal size with :func:`ancova` (``compare_groups(...,
    value="z_adj")``).

    Parameters
    ----------
    profiles : pandas.DataFrame
        A profile table (needs ``n_edges`` and ``<value>:<motif>`` columns).
    value : str

    Returns
    -------
    adjusted : pandas.DataFrame
        ``profiles`` plus ``<value>_resid:<motif>`` columns (NaN where the
        value is NaN or a motif has fewer than 3 finite values).
    fit : pandas.DataFrame
        One row per motif: ``motif, n, intercept, slope`` (per unit of natural
        log edges), ``r2``.

    Examples
    --------
    >>> p = pd.DataFrame({"graph": list("abcd"), "n_edges": [10, 100, 1000, 10000],
    ...                   "z:ffl": [1.0, 2.0, 3.0, 5.0]})
    >>> adjusted, fit = size_regression(p)
    >>> round(float(fit.loc[0, "slope"] * np.log(10)), 2), round(float(fit.loc[0, "r2"]), 3)
    (1.3, 0.966)
    """
    x = _log_edges(profiles, "size_regression")[:, None]
    matrix = motif_matrix(profiles, value)
    y = matrix.to_numpy()
    w = np.isfinite(y).astype(float)
    n = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = (w * x).sum(axis=0) / n
        y_mean = (w * np.where(w > 0, y, 0.0)).sum(axis=0) / n
        dx = (x - x_mean) * w
        dy = np.where(w > 0, y - y_mean, 0.0)
        sxx = (dx ** 2).sum(axis=0)
        slope = np.where(sxx > 0, (dx * dy).sum(axis=0) / sxx, 0.0)
        intercept = y_mean - slope * x_mean
        residual = np.where(w > 0, y - (intercept + slope * x), np.nan)
        syy = (dy ** 2).sum(axis=0)
        r2 = np.where(syy > 0, 1.0 - np.nansum(residual ** 2, axis=0) / syy, np.nan)
    few = n < 3
    residual[:, few] = np.nan
    slope[few] = intercept[few] = r2[few] = np.nan
    adjusted = profiles.copy()
    for j, motif in enumerate(matrix.columns):
        adjusted[f"{value}_resid:{motif}"] = residual[:, j]
    fit = pd.DataFrame({"motif": list(matrix.columns), "n": n.astype(int),
                        "intercept": intercept, "slope": slope, "r2": r2})
    return adjusted, fit


def _log_edges(profiles: pd.DataFrame, caller: str) -> np.ndarray:
    if "n_edges" not in profiles.columns:
        raise MotifError(f"{caller} needs an n_edges column")
    edges = profiles["n_edges"].to_numpy(dtype=float)
    if not (edges > 0).all():
        raise MotifError(f"{caller} needs every graph to have at least one edge")
    return np.log(edges)


class SizeOverlapWarning(UserWarning):
    """Groups whose edge-count ranges do not overlap: a size adjustment extrapolates."""


def size_ranges(edges: Any, labels: Any) -> tuple[bool, str]:
    """Whether the groups' edge-count ranges share a common interval, and the ranges as text.

    Examples
    --------
    >>> size_ranges([200, 2000, 10000, 40000], ["a", "a", "b", "b"])
    (False, 'a: 200-2,000 edges, b: 10,000-40,000 edges')
    """
    edges = np.asarray(edges, dtype=float)
    codes, names = _group_codes(labels)
    low = np.array([edges[codes == g].min() for g in range(len(names))])
    high = np.array([edges[codes == g].max() for g in range(len(names))])
    text = ", ".join(f"{name}: {lo:,.0f}-{hi:,.0f} edges" for name, lo, hi in zip(names, low, high))
    return bool(low.max() <= high.min()), text


def _ancova_by_missing_pattern(x: np.ndarray, codes: np.ndarray, log_m: np.ndarray,
                               n_groups: int, n_perm: int, rng: np.random.Generator
                               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`_ancova_block` on each set of motifs defined in the same graphs:
    per-motif statistics, and (n_groups, n_motifs) adjusted means and their
    standard errors (NaN where a group has no graph or no residual df is left)."""
    k = x.shape[1]
    out = {name: np.full(k, np.nan) for name in ("statistic", "p", "slope", "difference",
                                                 "partial_eta2", "df_resid")}
    adjusted_mean = np.full((n_groups, k), np.nan)
    adjusted_se = np.full((n_groups, k), np.nan)
    patterns, inverse = np.unique(np.isfinite(x).T, axis=0, return_inverse=True)
    for index, rows in enumerate(patterns):
        cols = np.flatnonzero(inverse.ravel() == index)
        present = np.unique(codes[rows])
        # every group needs a graph, and the residual a degree of freedom
        if present.size < n_groups or rows.sum() <= n_groups + 1:
            continue
        block = _ancova_block(x[rows][:, cols], codes[rows], log_m[rows], n_groups, n_perm, rng)
        for name in out:
            out[name][cols] = block[name]
        adjusted_mean[:, cols] = block["adjusted_mean"]
        adjusted_se[:, cols] = block["adjusted_se"]
    return out, adjusted_mean, adjusted_se


def _ancova_block(y: np.ndarray, codes: np.ndarray, log_m: np.ndarray, n_groups: int,
                  n_perm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ANCOVA of the (n, k) block ``y`` (no NaN) on group + log m, Freedman-Lane p-values."""
    n, k = y.shape
    full = np.column_stack([np.eye(n_groups)[codes], log_m])
    reduced = np.column_stack([np.ones(n), log_m])
    if np.linalg.matrix_rank(full) < n_groups + 1:
        raise MotifError("log(edges) is constant within every group: group and size cannot be "
                         "told apart")
    df_resid = n - n_groups - 1
    pinv = np.linalg.pinv(full)
    coef = pinv @ y  # (G + 1, k): per-group intercepts, then the common slope
    resid_full = np.eye(n) - full @ pinv
    resid_reduced = np.eye(n) - reduced @ np.linalg.pinv(reduced)

    def f_stat(rss_full: np.ndarray, rss_red: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((rss_red - rss_full) / (n_groups - 1)) / (rss_full / df_resid)

    # (I - H_full) kills the reduced fit, so F depends on the residuals of the reduced
    # model alone, which the permutations shuffle (Freedman & Lane 1983). The reported F
    # is einsum's, digit for digit as before the permutations were batched below.
    e_reduced = resid_reduced @ y
    observed = f_stat((np.einsum("ij,jk->ik", resid_full, e_reduced) ** 2).sum(axis=0),
                      (np.einsum("ij,jk->ik", resid_reduced, e_reduced) ** 2).sum(axis=0))
    # both residual makers in one (2n, n) matrix: a chunk of permutations is one product
    makers = np.vstack([resid_full, resid_reduced])
    tol = 1e-9 * np.maximum(np.abs(observed), 1e-300)
    exceed = np.zeros(k)
    chunk = max(1, int(2**22 // max(n * k, 1)))
    done = 0
    while done < n_perm:
        size = min(chunk, n_perm - done)
        perms = rng.permuted(np.broadcast_to(np.arange(n), (size, n)), axis=1)
        # (n, size, k): each sample's permuted rows, as the n x (size * k) columns of one product
        squares = (makers @ e_reduced[perms.T].reshape(n, size * k)) ** 2
        permuted = f_stat(squares[:n].sum(axis=0), squares[n:].sum(axis=0)).reshape(size, k)
        exceed += (permuted >= observed - tol).sum(axis=0)
        done += size
    rss = ((resid_full @ y) ** 2).sum(axis=0)
    sigma2 = rss / df_resid
    cov = np.linalg.inv(full.T @ full)
    # least-squares means: each group's line at the pooled mean log(edges)
    at = np.column_stack([np.eye(n_groups), np.full(n_groups, log_m.mean())])
    rss_red = ((e_reduced) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        partial_eta2 = np.where(rss_red > 0, 1.0 - rss / rss_red, np.nan)
    return {"statistic": observed, "p": (1.0 + exceed) / (1.0 + n_perm),
            "slope": coef[-1], "adjusted_mean": at @ coef,
            "adjusted_se": np.sqrt(np.einsum("gi,ij,gj->g", at, cov, at)[:, None] * sigma2),
            "difference": coef[1] - coef[0] if n_groups == 2 else np.full(k, np.nan),
            "partial_eta2": partial_eta2, "df_resid": np.full(k, df_resid)}


def ancova(profiles: pd.DataFrame, by: str, value: str = "z", n_perm: int = 5000,
           level: float = 0.95, alpha: float = 0.05, seed: int = 0) -> GroupComparison:
    """Compare a per-motif value between groups at equal size: ANCOVA on group + log(edges).

    For each motif, ``value ~ group + log(m)`` (one intercept per group, a
    common slope in log edges) is fitted by least squares; the group effect is
    tested with the partial F statistic, its p-value by Freedman-Lane
    permutation (residuals of the size-only model ``value ~ 1 + log(m)``
    permuted and added back to its fit). Unlike residuals of a pooled
    regression, this keeps a group effect that is confounded with size: the
    slope is learnt within groups.

    Parameters
    ----------
    profiles : pandas.DataFrame
        A profile table (``n_edges``, the ``by`` column and
        ``<value>:<motif>`` columns).
    by : str
        Grouping column; graphs without a label are left out.
    value : str
        The per-motif value (default ``z``).
    n_perm : int
        Freedman-Lane permutations.
    level, alpha : float
        Interval level of the adjusted means; false discovery rate.
    seed : int

    Returns
    -------
    GroupComparison
        ``value`` ``z_adj`` (for ``z``) or ``<value>_adj``. ``means``: one row
        per motif x group, the least-squares mean at the pooled mean log(edges)
        with a t interval. ``tests``: ``statistic`` (partial F), ``p``, ``q``,
        ``significant``, ``effect`` (adjusted difference of the second group
        minus the first for two groups, partial eta^2 for more),
        ``effect_measure``, ``contrast``, ``slope`` (per unit of natural log
        edges, within groups) and ``size_overlap``.

    Warns
    -----
    SizeOverlapWarning
        When the groups' edge-count ranges do not overlap: the comparison then
        rests on extrapolating the within-group slope, and the message names
        the ranges.

    Raises
    ------
    MotifError
        Fewer than two groups, or log(edges) constant within every group (size
        and group cannot be separated).

    Notes
    -----
    O(n_perm * n^2 * k) in graphs n and motifs k, in bounded-memory chunks;
    motifs sharing a pattern of missing values are fitted together.

    References
    ----------
    Freedman, D. & Lane, D. (1983). A nonstochastic interpretation of reported
    significance levels. J. Bus. Econ. Stat. 1:292-298. Anderson, M. J. &
    Robinson, J. (2001). Permutation tests for linear models. Aust. N. Z. J.
    Stat. 43:75-88. Winkler, A. M. et al. (2014). Permutation inference for
    the general linear model. NeuroImage 92:381-397.

    Examples
    --------
    >>> p = pd.DataFrame({"graph": list("abcdefgh"), "kind": list("xxxxyyyy"),
    ...     "n_edges": [100, 200, 400, 800, 150, 300, 600, 1200],
    ...     "z:ffl": [1.0, 1.3, 2.1, 2.4, 4.6, 5.2, 5.8, 6.5]})
    >>> result = ancova(p, "kind", n_perm=999, seed=0)
    >>> row = result.tests.iloc[0]
    >>> round(float(row["effect"]), 2), float(row["p"]) < 0.05, bool(row["size_overlap"])
    (3.49, True, True)
    """
    from scipy import stats

    if by not in profiles.columns:
        raise MotifError(f"no column {by!r} to group by; columns are {list(profiles.columns)}")
    if not isinstance(n_perm, (int, np.integer)) or n_perm < 1:
        raise MotifError(f"n_perm must be a positive integer, got {n_perm!r}")
    labelled = profiles.loc[profiles[by].notna()]
    log_m = _log_edges(labelled, "ancova")
    matrix = motif_matrix(labelled, value)
    codes, groups = _group_codes(labelled[by].astype(str).to_numpy())
    if len(groups) < 2:
        raise MotifError(f"comparing by {by!r} needs at least 2 groups; the labelled graphs "
                         f"form {len(groups)} ({groups})")
    overlap, ranges = size_ranges(labelled["n_edges"], labelled[by].astype(str))
    if not overlap:
        import warnings

        warnings.warn(f"size adjustment by {by!r}: the groups' sizes do not overlap ({ranges}); "
                      "the group effect rests on extrapolating the within-group slope of "
                      "log(edges)", SizeOverlapWarning, stacklevel=2)
    x = matrix.to_numpy()
    motifs = list(matrix.columns)
    n_groups = len(groups)
    finite = np.isfinite(x)
    out, adjusted_mean, adjusted_se = _ancova_by_missing_pattern(
        x, codes, log_m, n_groups, n_perm, np.random.default_rng(seed))
    spread = np.where(finite, x, -np.inf).max(axis=0) > np.where(finite, x, np.inf).min(axis=0)
    out["statistic"][~spread] = np.nan
    out["p"][~spread] = np.nan
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.5 + level / 2.0, out["df_resid"])[None, :] * adjusted_se
    means = pd.concat([pd.DataFrame({
        "motif": motifs, "group": group, "n": finite[codes == g].sum(axis=0),
        "mean": adjusted_mean[g], "ci_low": adjusted_mean[g] - half[g],
        "ci_high": adjusted_mean[g] + half[g]}) for g, group in enumerate(groups)],
        ignore_index=True)
    q = benjamini_hochberg(out["p"])
    two = n_groups == 2
    tests = pd.DataFrame({
        "motif": motifs, "n_graphs": finite.sum(axis=0), "n_groups": n_groups,
        "statistic": out["statistic"], "p": out["p"], "q": q, "significant": q < alpha,
        "effect": out["difference"] if two else out["partial_eta2"],
        "effect_measure": "adjusted_difference" if two else "partial_eta_squared",
        "contrast": f"{groups[1]} vs {groups[0]}" if two else "any",
        "slope": out["slope"], "size_overlap": overlap,
    })
    name = "z_adj" if value == "z" else f"{value}_adj"
    return GroupComparison(by=by, value=name, groups=[str(g) for g in groups], means=means,
                           tests=tests, n_unlabelled=int(len(profiles) - len(labelled)),
                           size_ranges=ranges)


def group_motif_summary(results: pd.DataFrame, graphs: pd.DataFrame, by: str | None = None,
                        motifs: Sequence[str] = ("ffl", "cycle3"),
                        z_threshold: float = Z_THRESHOLD) -> pd.DataFrame:
    """Per group, null model and motif: how many graphs have it enriched or absent.

    Parameters
    ----------
    results : pandas.DataFrame
        Long results table (``RESULT_COLUMNS``), any number of null models.
    graphs : pandas.DataFrame
        The corpus graphs table (``graph_id`` and the ``by`` column).
    by : str, optional
        Grouping column; None: one group ``all``.
    motifs : motif names or MAN codes to summarise (matched through the
        catalog, so ``ffl`` finds rows labelled ``030T``).
    z_threshold : float
        ``Z > z_threshold`` counts as enriched, ``Z < -z_threshold`` depleted.

    Returns
    -------
    pandas.DataFrame
        ``by, group, null_model, motif, n_graphs, n_absent`` (real count 0),
        ``mean_count, mean_null`` (mean over graphs of the null mean),
        ``n_enriched, n_depleted, n_undefined`` (Z not finite: the null never
        varies), ``median_z, mean_sp``; motifs the results lack are skipped.

    Examples
    --------
    >>> results = pd.DataFrame({"graph": ["g1", "g2"], "slug": ["a", "b"], "motif": "030T",
    ...     "count": [9, 4], "null_mean": [2.0, 3.0], "null_sd": [1.0, 1.0], "z": [7.0, 1.0],
    ...     "p": [0.001, 0.2], "sp": [0.9, 0.3], "null_model": "er", "n_null": 100})
    >>> graphs = pd.DataFrame({"graph_id": ["g1", "g2"], "model": ["m", "m"]})
    >>> row = group_motif_summary(results, graphs, "model", motifs=["ffl"]).iloc[0]
    >>> row["motif"], int(row["n_graphs"]), int(row["n_enriched"]), float(row["median_z"])
    ('ffl', 2, 1, 4.0)
    """
    check_results(results)
    present = list(pd.unique(results["motif"]))
    labels = {key: find_motif(present, key) for key in motifs}
    keep = {label: key for key, label in labels.items() if label is not None}
    rows = results.loc[results["motif"].isin(list(keep))].copy()
    rows["motif"] = rows["motif"].map(keep)
    if by is None:
        rows["group"] = "all"
    else:
        if by not in graphs.columns:
            raise MotifError(f"no column {by!r} in the graphs table")
        mapping = graphs.set_index("graph_id")[by]
        rows["group"] = rows["graph"].map(mapping).fillna("(none)").astype(str)
    z = rows["z"].to_numpy(dtype=float)
    rows["absent"] = rows["count"].to_numpy() == 0
    rows["enriched"] = z > z_threshold
    rows["depleted"] = z < -z_threshold
    rows["undefined"] = ~np.isfinite(z)
    summary = rows.groupby(["group", "null_model", "motif"], sort=True).agg(
        n_graphs=("graph", "size"), n_absent=("absent", "sum"), mean_count=("count", "mean"),
        mean_null=("null_mean", "mean"), n_enriched=("enriched", "sum"),
        n_depleted=("depleted", "sum"), n_undefined=("undefined", "sum"),
        median_z=("z", "median"), mean_sp=("sp", "mean"),
    ).reset_index()
    summary.insert(0, "by", by or "all")
    # nulls in the order the results hold them, motifs in the order asked
    rank = {"motif": {key: i for i, key in enumerate(motifs)},
            "null_model": {n: i for i, n in enumerate(pd.unique(results["null_model"]))}}
    return summary.sort_values(["group", "null_model", "motif"],
                               key=lambda s: s.map(rank[s.name]) if s.name in rank else s) \
        .reset_index(drop=True)


#: The grouping of the FFL verdict (issue #17): one group per model x transcoder type x task.
VERDICT_GROUPS: tuple[str, ...] = ("model", "transcoder_type", "task")


def ffl_verdict(results: pd.DataFrame, graphs: pd.DataFrame, nulls: Sequence[str] | None = None,
                by: Sequence[str] = VERDICT_GROUPS,
                z_threshold: float = Z_THRESHOLD) -> pd.DataFrame:
    """Per group and null model: in how many graphs the FFL is enriched, and the median Z.

    Any null names work: the table has one row per group (each combination
    of the ``by`` columns) and null, in the order ``nulls`` gives them.

    Parameters
    ----------
    results : pandas.DataFrame
        Long results table (``RESULT_COLUMNS``) holding every null of ``nulls``.
    graphs : pandas.DataFrame
        The corpus graphs table (``graph_id`` and the ``by`` columns).
    nulls : null model names, optional
        Default: every null in ``results``, in order of appearance.
    by : grouping columns (default model, transcoder type, task).
    z_threshold : float
        ``Z > z_threshold`` counts as enriched.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns (a missing label reads ``(none)``), then
        ``null_model, n_graphs, n_tested`` (graphs with a finite FFL Z),
        ``n_enriched, n_depleted, median_z`` (over the tested graphs).

    Raises
    ------
    MotifError
        A null absent from the results, a ``by`` column absent from the
        graphs table, or results without an FFL row.

    Examples
    --------
    >>> results = pd.DataFrame({"graph": ["g1", "g2", "g1", "g2"], "slug": ["a", "b"] * 2,
    ...     "motif": "030T", "count": 9, "null_mean": 2.0, "null_sd": 1.0,
    ...     "z": [7.0, 3.0, 2.5, 1.0], "p": 0.01, "sp": 0.9,
    ...     "null_model": ["config-dag"] * 2 + ["layer-config"] * 2, "n_null": 100})
    >>> graphs = pd.DataFrame({"graph_id": ["g1", "g2"], "model": "m", "transcoder_type": "clt",
    ...                        "task": "recall"})
    >>> ffl_verdict(results, graphs)[["null_model", "n_enriched", "median_z"]].values.tolist()
    [['config-dag', 2, 5.0], ['layer-config', 1, 1.75]]
    """
    check_results(results)
    present = list(pd.unique(results["null_model"]))
    nulls = present if nulls is None else list(nulls)
    missing = [n for n in nulls if n not in present]
    if missing:
        raise MotifError(f"no results under null(s) {missing}; the results hold {present}")
    by = list(by)
    absent = [c for c in by if c not in graphs.columns]
    if absent:
        raise MotifError(f"the graphs table lacks the grouping column(s) {absent}")
    if find_motif(list(pd.unique(results["motif"])), "ffl") is None:
        raise MotifError("the results have no FFL (030T) row")
    labels = graphs[by].astype(object).where(graphs[by].notna(), "(none)").astype(str)
    keyed = graphs.assign(_group=labels.agg("\x1f".join, axis=1))
    chosen = results.loc[results["null_model"].isin(nulls)]
    summary = group_motif_summary(chosen, keyed, "_group", motifs=["ffl"],
                                  z_threshold=z_threshold)
    table = pd.DataFrame(summary["group"].str.split("\x1f").tolist(), columns=by)
    table["null_model"] = summary["null_model"].to_numpy()
    table["n_graphs"] = summary["n_graphs"].to_numpy()
    table["n_tested"] = (summary["n_graphs"] - summary["n_undefined"]).to_numpy()
    for column in ("n_enriched", "n_depleted", "median_z"):
        table[column] = summary[column].to_numpy()
    order = {null: i for i, null in enumerate(nulls)}
    return table.sort_values(by + ["null_model"], key=lambda s: s.map(order)
                             if s.name == "null_model" else s).reset_index(drop=True)


def verdict_sentences(verdict: pd.DataFrame, z_threshold: float = Z_THRESHOLD) -> list[str]:
    """One sentence per group of an :func:`ffl_verdict` table, naming every null.

    Examples
    --------
    >>> v = pd.DataFrame({"model": "m", "transcoder_type": "clt", "task": "recall",
    ...     "null_model": ["config-dag", "layer-config"], "n_graphs": 4, "n_tested": 4,
    ...     "n_enriched": [4, 1], "n_depleted": 0, "median_z": [9.25, 0.5]})
    >>> verdict_sentences(v)[0]
    'model m, transcoder_type clt, task recall (4 graphs): the FFL is enriched (Z > 2) in 4/4 graphs under config-dag (median Z +9.2) and 1/4 under layer-config (median Z +0.5).'
    """
    by = list(verdict.columns[:list(verdict.columns).index("null_model")])
    lines = []
    for key, part in verdict.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        n = int(part["n_graphs"].max())
        head = ", ".join(f"{column} {value}" for column, value in zip(by, key))
        clauses = []
        for index, (_, row) in enumerate(part.iterrows()):
            graphs_word = " graphs" if index == 0 else ""
            median = (f"median Z {row['median_z']:+.1f}" if np.isfinite(row["median_z"])
                      else "Z undefined")
            clauses.append(f"{int(row['n_enriched'])}/{int(row['n_tested'])}{graphs_word} "
                           f"under {row['null_model']} ({median})")
        joined = clauses[0] if len(clauses) == 1 else \
            ", ".join(clauses[:-1]) + " and " + clauses[-1]
        lines.append(f"{head} ({n} graph{'s' if n != 1 else ''}): the FFL is enriched "
                     f"(Z > {z_threshold:g}) in {joined}.")
    return lines


# ---------------------------------------------------- weight sensitivity
def pruning_levels(n_edges: int, keep_fractions: Sequence[float] | None = None,
                   min_abs_weights: Sequence[float] | None = None,
                   ) -> list[tuple[str, int | None, float | None]]:
    """The levels of a pruning check: ``(label, top_k, min_abs_weight)`` each.

    Parameters
    ----------
    n_edges : int
        Edges of the unpruned network (``top_k`` is a fraction of them).
    keep_fractions : floats in (0, 1], optional
        Keep the strongest fraction of the edges; default ``(1, 0.5, 0.25,
        0.1)`` when no thresholds are given. Fraction 1 is the unpruned
        network (``top_k`` None, so it shares the unpruned run's cache entry).
    min_abs_weights : floats >= 0, optional
        Keep edges with |weight| at least each threshold instead.

    Raises
    ------
    MotifError
        Both or bad level lists.

    Examples
    --------
    >>> pruning_levels(1719, keep_fractions=(1, 0.25))
    [('top 100%', None, None), ('top 25%', 430, None)]
    >>> pruning_levels(1719, min_abs_weights=(0.5,))
    [('|w| >= 0.5', None, 0.5)]
    """
    if keep_fractions is not None and min_abs_weights is not None:
        raise MotifError("give keep_fractions or min_abs_weights, not both")
    if min_abs_weights is None:
        fractions = list(keep_fractions) if keep_fractions is not None else [1.0, 0.5, 0.25, 0.1]
        if not fractions or any(not 0 < f <= 1 for f in fractions):
            raise MotifError(f"keep_fractions must lie in (0, 1], got {fractions}")
        return [(f"top {f:.0%}", None if f == 1 else max(1, int(round(f * n_edges))), None)
                for f in fractions]
    thresholds = list(min_abs_weights)
    if not thresholds or any(not t >= 0 for t in thresholds):
        raise MotifError(f"min_abs_weights must be non-negative, got {thresholds}")
    return [(f"|w| >= {t:g}", None, float(t)) for t in thresholds]
