"""Motif profiles: the census of one network against its null ensemble.

:func:`motif_profile` is the one call behind ``cgram motifs``: count the
motifs of a network, draw null networks (:mod:`motifs.nulls`), count theirs
with the batched census, and turn both into Z-scores, p-values and a
significance profile (:mod:`motifs.stats`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from motifs.catalog import (
    NAMED_CENSUS_NAMES,
    SIGNED_TRIAD_NAMES,
    TRIAD_CODES,
    motif_classes,
)
from motifs.census import (
    motif3_census_many,
    motif4_census_many,
    signed_triad_census,
    signed_triad_census_many,
    triad_census_edges,
)
from motifs.errors import MotifError
from motifs.network import Network
from motifs.stats import zscores

#: Columns every profile has, in order (flags and extras follow).
PROFILE_COLUMNS: tuple[str, ...] = (
    "motif", "name", "count", "null_mean", "null_sd", "z", "p", "sp", "null_model", "n_null",
)

#: Bytes of dense adjacency the null census may hold at once.
_DENSE_BUDGET = 64 * 2**20


def _dense_chunks(nulls, n_nodes: int) -> Any:
    """Yield (S_chunk, n, n) bool adjacency blocks of the null samples."""
    per_sample = max(1, n_nodes * n_nodes)
    step = max(1, _DENSE_BUDGET // per_sample)
    for start in range(0, nulls.n_samples, step):
        stop = min(nulls.n_samples, start + step)
        block = np.zeros((stop - start, n_nodes, n_nodes), dtype=bool)
        rows = np.repeat(np.arange(stop - start), nulls.src.shape[1])
        block[rows, nulls.src[start:stop].ravel(), nulls.dst[start:stop].ravel()] = True
        yield start, stop, block


def _census_spec(size: int, signed: bool) -> tuple[list[str], list[str], Callable, Callable]:
    """(motif codes, display names, real-count function, null-count function)."""
    if signed:
        if size != 3:
            raise MotifError("signed profiles count signed triads: use size=3 with signed=True")
        names = list(SIGNED_TRIAD_NAMES)

        def real_fn(net: Network) -> np.ndarray:
            return signed_triad_census(net).to_numpy()

        def null_fn(nulls, net: Network, progress: bool) -> np.ndarray:
            if nulls.sign is None:
                raise MotifError(f"the {nulls.model!r} null samples carry no signs")
            src, dst, sign = nulls.src, nulls.dst, nulls.sign
            step = max(1, _DENSE_BUDGET // max(1, 4 * net.n_nodes ** 2 * 6))
            blocks = range(0, nulls.n_samples, step)
            out = [signed_triad_census_many(src[i:i + step], dst[i:i + step], sign[i:i + step],
                                            net.n_nodes) for i in _progress(blocks, progress)]
            return np.concatenate(out, axis=0)

        return names, names, real_fn, null_fn
    if size not in (3, 4):
        raise MotifError(f"size must be 3 or 4, got {size!r}")
    classes = motif_classes(size)
    codes = [m.code for m in classes]
    display = [m.name for m in classes]
    census_many = motif3_census_many if size == 3 else motif4_census_many

    def real_fn(net: Network) -> np.ndarray:
        return census_many(net.adjacency().toarray().astype(bool)[None])[0]

    if size == 3:
        triad_columns = [TRIAD_CODES.index(code) for code in codes]

        def null_fn(nulls, net: Network, progress: bool) -> np.ndarray:
            return triad_census_edges(nulls.src, nulls.dst, net.n_nodes)[:, triad_columns]

        return codes, display, real_fn, null_fn

    def null_fn(nulls, net: Network, progress: bool) -> np.ndarray:
        out = np.zeros((nulls.n_samples, len(codes)), dtype=np.int64)
        chunks = _dense_chunks(nulls, net.n_nodes)
        if progress:
            from tqdm import tqdm

            chunks = tqdm(chunks, desc=f"size-{size} census of nulls", unit="block")
        for start, stop, block in chunks:
            out[start:stop] = census_many(block)
        return out

    return codes, display, real_fn, null_fn


def _progress(iterable, progress: bool):
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc="signed census of nulls", unit="block")


def census_with_nulls(net: Network, null: str | None, n_null: int, seed: int, size: int = 3,
                      signed: bool = False, progress: bool = False,
                      **null_options: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Census of ``net`` and of ``n_null`` samples of a null model.

    The one place that draws nulls for a census (:func:`motif_profile` and
    the corpus runs' null blocks). An unsigned census samples the bare
    topology: edge attributes would only slow the switching down.

    Returns
    -------
    real : (n_motifs,) int64
    null_counts : (n_null, n_motifs) int64
    nulls : motifs.nulls.NullSamples
        The samples (``nulls.model`` is the null actually used).

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> real, counts, nulls = census_with_nulls(net, None, n_null=5, seed=0)
    >>> counts.shape, nulls.model
    ((5, 13), 'config-dag')
    """
    from motifs.nulls import default_null, sample_nulls

    _, _, real_fn, null_fn = _census_spec(size, signed)
    model = default_null(net) if null is None else null
    sampled = net if signed or model == "sign" else net.topology()
    nulls = sample_nulls(sampled, model, n_samples=n_null, seed=seed, **null_options)
    real = np.asarray(real_fn(net), dtype=np.int64)
    return real, np.asarray(null_fn(nulls, net, progress), dtype=np.int64), nulls


def motif_profile(net: Network, null: str | None = None, n_null: int = 1000, size: int = 3,
                  signed: bool = False, seed: int = 0, progress: bool = False,
                  **null_options: Any) -> pd.DataFrame:
    """Motif counts of a network against a null ensemble.

    Parameters
    ----------
    net : Network
    null : str, optional
        Null model (``config``, ``config-dag``, ``er``, ``layer-er``,
        ``layer-config``, ``sign``, ``triad-preserving``); by default
        :func:`motifs.nulls.default_null` (``config-dag`` for a DAG, else
        ``config``). The model actually used is in the ``null_model`` column.
    n_null : int
        Number of null samples (>= 2).
    size : 3 or 4
        Connected 3-node classes (13, by MAN code) or 4-node classes (199:
        ``bifan``, ``biparallel``, ``feedback4`` by name, the others
        ``m4_<igraph isoclass id>``).
    signed : bool
        Count the signed triads (FFL types ``ffl_C1`` ... ``ffl_I4``,
        signed chains and fans) instead; needs edge signs (size 3 only).
        With ``null="sign"`` this tests the sign pattern on fixed topology.
    seed : int
        Seed of the null sampler: equal seeds give equal profiles.
    progress : bool
        Show tqdm progress bars (command-line use).
    **null_options
        Passed to :func:`motifs.nulls.sample_nulls`.

    Returns
    -------
    pandas.DataFrame
        One row per motif: ``motif`` (stable CSV name), ``name`` (motif name
        where it has one), ``count``, ``null_mean``, ``null_sd``, ``z``, ``p``
        (two-sided empirical), ``sp`` (significance profile over the finite
        Z-scores), ``null_model``, ``n_null``, then the flags and extras of
        :func:`motifs.stats.zscores` (``zero_variance``, ``dependent_on``,
        ``p_over``, ``p_under``, ``ratio``, ``abundance``).
        ``attrs`` holds ``identities`` (exact linear identities among the
        null counts), ``null_model`` and the null diagnostics.

    References
    ----------
    Milo, R. et al. (2002). Network motifs: simple building blocks of complex
    networks. Science 298:824-827.
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> profile = motif_profile(net, n_null=20, seed=0)
    >>> profile.loc[profile["name"] == "ffl", ["motif", "count", "null_model"]].values.tolist()
    [['030T', 1, 'config-dag']]
    """
    if not isinstance(net, Network):
        raise MotifError(f"net must be a motifs.Network, got {type(net).__name__}")
    if isinstance(n_null, bool) or not isinstance(n_null, (int, np.integer)) or n_null < 2:
        raise MotifError(f"n_null must be an integer >= 2, got {n_null!r}")
    if signed and net.sign is None:
        raise MotifError("signed=True needs a network with edge signs")
    codes, display = _census_spec(size, signed)[:2]
    real, null_counts, nulls = census_with_nulls(net, null, int(n_null), seed, size, signed,
                                                 progress, **null_options)
    table = zscores(real, null_counts, names=codes)
    table.insert(1, "name", display)
    table["count"] = real.astype(np.int64)
    table["null_model"] = nulls.model
    table["n_null"] = nulls.n_samples
    extras = [c for c in table.columns if c not in PROFILE_COLUMNS]
    out = table[list(PROFILE_COLUMNS) + extras]
    out.attrs = dict(table.attrs)
    out.attrs["null_model"] = nulls.model
    out.attrs["null_diagnostics"] = dict(nulls.diagnostics)
    out.attrs["named"] = list(NAMED_CENSUS_NAMES)
    return out
