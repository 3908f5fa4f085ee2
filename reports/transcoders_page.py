"""The corpus report's "transcoders" page: results of ``cgram zoo sweep``.

``cgram zoo sweep WORLD --corpus DIR`` copies its table to
``DIR/transcoders/WORLD-ARCH.csv`` (one row per transcoder kind and TopK
sparsity: L0, explained variance, replacement accuracy, mean replacement and
completeness scores of the traced graphs and their spread, graph size).
:func:`sweep_tables` gathers those tables; :func:`write_transcoders_page`
draws replacement score against L0 per kind and tabulates which kind leads at
each sparsity (Ameisen et al. 2025, "Circuit Tracing": cross-layer
transcoders against per-layer ones; Paulo, Shabalin & Belrose 2025,
arXiv:2501.18823: skip transcoders). Only the CSV contract is shared with
the tracer: this module reads tables and never imports it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from corpus.errors import CorpusError

#: The corpus sub-folder holding sweep tables.
SWEEP_FOLDER = "transcoders"

#: Columns a sweep table must have for the page.
REQUIRED_COLUMNS: tuple[str, ...] = ("kind", "k", "l0", "explained_variance", "replacement_accuracy",
                                     "replacement_score", "replacement_score_std",
                                     "completeness_score", "graph_nodes")


def sweep_tables(corpus_dir: str | Path) -> pd.DataFrame | None:
    """Every ``CORPUS/transcoders/*.csv``, stacked with a ``sweep`` column (the
    file's stem, ``WORLD-ARCH``); None when there is none (no page then).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> sweep_tables(d) is None
    True
    """
    files = sorted((Path(corpus_dir) / SWEEP_FOLDER).glob("*.csv"))
    if not files:
        return None
    return pd.concat([pd.read_csv(f).assign(sweep=f.stem) for f in files], ignore_index=True)


def leaders(table: pd.DataFrame) -> pd.DataFrame:
    """Per sweep and k: each kind's replacement score and the leading kind.

    Examples
    --------
    >>> t = pd.DataFrame({"sweep": "w", "kind": ["plt", "clt", "plt", "clt"], "k": [2, 2, 4, 4],
    ...                   "replacement_score": [0.5, 0.6, 0.7, 0.65]})
    >>> leaders(t)[["k", "leader"]].values.tolist()
    [[2, 'clt'], [4, 'plt']]
    """
    wide = table.pivot_table(index=["sweep", "k"], columns="kind", values="replacement_score")
    wide["leader"] = wide.idxmax(axis=1)
    wide.columns.name = None
    return wide.reset_index()


def write_transcoders_page(table: pd.DataFrame, out_dir: str | Path,
                           name: str = "transcoders.html") -> Path:
    """Write the transcoders page for one or more sweep tables.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table (``cgram zoo sweep``'s ``sweep.csv``) or several stacked
        by :func:`sweep_tables` (a ``sweep`` column tells them apart).
    out_dir : path
        Report folder: the page, ``tables/transcoder_*.csv``, ``figures/transcoder_*.png``.
    name : str
        File name of the page.

    Returns
    -------
    pathlib.Path
        The HTML file.

    Raises
    ------
    CorpusError
        When the table lacks a sweep column.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reports.html import Page

    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise CorpusError(f"sweep table lacks columns {missing} (written by cgram zoo sweep)")
    if "sweep" not in table.columns:
        table = table.assign(sweep="sweep")
    page = Page("Transcoders: replacement score against sparsity", out_dir)
    page.paragraph("Each transcoder kind (per-layer PLT, skip, cross-layer CLT) trained at several "
                   "TopK sparsities on the same tiny LM (cgram zoo sweep). The replacement score is "
                   "the share of the traced graphs' influence that flows through features rather "
                   "than error nodes, averaged over held-out prompts (bars: standard deviation).")
    sweeps = list(dict.fromkeys(table["sweep"]))
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 3.8), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps):
        rows = table[table["sweep"] == sweep]
        for kind in dict.fromkeys(rows["kind"]):
            line = rows[rows["kind"] == kind].sort_values("l0")
            ax.errorbar(line["l0"], line["replacement_score"], yerr=line["replacement_score_std"],
                        marker="o", capsize=3, label=kind)
        ax.set(xscale="log", xlabel="L0", ylabel="replacement score", title=sweep)
        ax.legend()
    fig.tight_layout()
    page.figure(fig, "transcoder_tradeoff", "Replacement score vs L0, one line per transcoder kind.")
    lead = leaders(table)
    counts = lead.groupby(["sweep", "leader"]).size()
    page.bullets(f"{sweep}: " + ", ".join(f"{kind} leads at {n} of {int(counts[sweep].sum())} "
                                          f"sparsities" for kind, n in counts[sweep].items())
                 for sweep in sweeps)
    page.table(lead, "transcoder_leaders", "Replacement score per kind at each k.")
    page.table(table, "transcoder_sweep", "Every cell of the sweep.")
    return page.write(name)
