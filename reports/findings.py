"""The sentences a report states, with their numbers, from motif tables.

Two questions every report answers: are feed-forward loops enriched under
each null model, and are 3-cycles absent? For one graph from its profiles
(:func:`graph_findings`), for groups of graphs from
:func:`motifs.compare.group_motif_summary` (:func:`group_findings`).
"""

from __future__ import annotations

import math

import pandas as pd

from motifs.compare import Z_THRESHOLD, find_motif


def _num(value: float) -> str:
    """A count or mean for prose: integers with thousands separators, else 3 digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if float(value) == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _z(value: float) -> str:
    return "undefined" if value is None or not math.isfinite(value) else f"{value:+.1f}"


def verdict(z: float, threshold: float = Z_THRESHOLD) -> str:
    """``enriched`` / ``depleted`` / ``not significant`` / ``untestable`` for one Z."""
    if z is None or not math.isfinite(z):
        return "untestable (the null count never varies)"
    if z > threshold:
        return "enriched"
    if z < -threshold:
        return "depleted"
    return "not significant"


def graph_findings(profiles: pd.DataFrame, threshold: float = Z_THRESHOLD) -> list[str]:
    """Sentences on FFL enrichment (per null) and 3-cycle absence for one graph.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Motif profiles of one graph under one or more nulls: columns ``motif,
        count, null_mean, null_sd, z, p, null_model, n_null``.

    Examples
    --------
    >>> table = pd.DataFrame({"motif": ["030T", "030C"], "count": [120, 0],
    ...     "null_mean": [80.0, 0.0], "null_sd": [10.0, 0.0], "z": [4.0, float("nan")],
    ...     "p": [0.01, 1.0], "null_model": "config-dag", "n_null": 100})
    >>> graph_findings(table)[0]
    'FFLs under config-dag (100 samples): 120 in the graph vs 80 ± 10 expected, Z = +4.0, p = 0.01: enriched.'
    """
    lines = []
    motifs = list(pd.unique(profiles["motif"]))
    ffl = find_motif(motifs, "ffl")
    cycle = find_motif(motifs, "cycle3")
    if ffl is not None:
        for _, row in profiles.loc[profiles["motif"] == ffl].iterrows():
            lines.append(
                f"FFLs under {row['null_model']} ({int(row['n_null'])} samples): "
                f"{_num(row['count'])} in the graph vs {_num(row['null_mean'])} ± "
                f"{_num(row['null_sd'])} expected, Z = {_z(row['z'])}, p = {row['p']:.2g}: "
                f"{verdict(row['z'], threshold)}.")
    if cycle is not None:
        rows = profiles.loc[profiles["motif"] == cycle]
        count = int(rows["count"].iloc[0])
        head = (f"3-cycles: {count} in the graph, so absent" if count == 0
                else f"3-cycles: present ({_num(count)} in the graph)")
        expected = "; ".join(f"{r['null_model']} expects {_num(r['null_mean'])} "
                             f"(Z = {_z(r['z'])})" for _, r in rows.iterrows())
        lines.append(f"{head}; {expected}.")
    return lines


def group_findings(summary: pd.DataFrame) -> list[str]:
    """Sentences per group from :func:`motifs.compare.group_motif_summary`.

    One sentence per group on FFLs (graphs enriched out of graphs tested under
    each null, median Z) and one on 3-cycles (graphs where the count is 0, and
    what each null expects).

    Examples
    --------
    >>> s = pd.DataFrame({"by": "model", "group": "m", "null_model": ["er", "er"],
    ...     "motif": ["ffl", "cycle3"], "n_graphs": 3, "n_absent": [0, 3],
    ...     "mean_count": [50.0, 0.0], "mean_null": [9.0, 2.5], "n_enriched": [3, 0],
    ...     "n_depleted": [0, 2], "n_undefined": [0, 0], "median_z": [8.0, -2.2],
    ...     "mean_sp": [0.7, -0.2]})
    >>> group_findings(s)[0]
    'model = m (3 graphs): FFLs enriched (Z > 2) in 3/3 graphs under er (median Z +8.0).'
    """
    lines = []
    for (by, group), part in summary.groupby(["by", "group"], sort=False):
        n = int(part["n_graphs"].max())
        plural = "s" if n != 1 else ""
        head = f"All graphs ({n})" if by == "all" else f"{by} = {group} ({n} graph{plural})"
        ffl = part.loc[part["motif"] == "ffl"]
        if len(ffl):
            clauses = []
            for _, row in ffl.iterrows():
                tested = int(row["n_graphs"] - row["n_undefined"])
                clause = (f"{int(row['n_enriched'])}/{tested} graphs under {row['null_model']} "
                          f"(median Z {_z(row['median_z'])})")
                if row["n_depleted"]:
                    clause += f", depleted in {int(row['n_depleted'])}"
                clauses.append(clause)
            lines.append(f"{head}: FFLs enriched (Z > {Z_THRESHOLD:g}) in " + "; ".join(clauses)
                         + ".")
        cycle = part.loc[part["motif"] == "cycle3"]
        if len(cycle):
            first = cycle.iloc[0]
            absent = int(first["n_absent"])
            expect = "; ".join(
                f"{row['null_model']} expects {_num(row['mean_null'])} on average"
                + (f" (depleted, Z < -{Z_THRESHOLD:g}, in {int(row['n_depleted'])})"
                   if row["n_depleted"] else "")
                for _, row in cycle.iterrows())
            state = "absent" if absent == int(first["n_graphs"]) else "not absent everywhere"
            lines.append(f"{head}: 3-cycles {state}: count 0 in {absent}/{int(first['n_graphs'])} "
                         f"graphs; {expect}.")
    return lines
