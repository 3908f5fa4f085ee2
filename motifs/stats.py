"""Motif statistics against a null ensemble: Z-scores, p-values, profiles, dependencies.

Given the motif counts of a real network and of S null networks, this module
computes Milo's Z-score, empirical p-values, abundance ratios and the
significance profile, and finds the classes whose null counts are tied by
an exact linear identity. Such classes are not independent findings: in a
layered DAG under a degree- and order-preserving null, 030T + 021C (the
two-edge paths), 030T + 021U (the in-edge pairs) and 030T + 021D (the
out-edge pairs) are fixed by the degrees, so the four Z-scores are plus or
minus one number.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Sequence

import numpy as np

from motifs.errors import MotifError
from motifs.table import ColumnTable, is_pandas

if TYPE_CHECKING:
    import pandas as pd

#: Milo et al. (2004)'s pseudo-count in the abundance Delta = (N - <N>) / (N + <N> + eps).
ABUNDANCE_EPSILON = 4.0

#: Relative tolerance for calling a null-count combination constant.
_EXACT_TOL = 1e-9


def _as_inputs(real_counts, null_counts, names: Sequence[str] | None):
    """Real counts (k,), null counts (S, k) float64 and k names."""
    if is_pandas(real_counts, "Series"):
        real_names = [str(i) for i in real_counts.index]
        real = real_counts.to_numpy(dtype=np.float64)
    else:
        real = np.asarray(real_counts, dtype=np.float64).ravel()
        real_names = None
    if is_pandas(null_counts, "DataFrame"):
        null_names = [str(c) for c in null_counts.columns]
        null = null_counts.to_numpy(dtype=np.float64)
    else:
        null = np.asarray(null_counts, dtype=np.float64)
        null_names = None
    if null.ndim != 2:
        raise MotifError(f"null_counts must be a (n_samples, n_motifs) array, got shape {null.shape}")
    if null.shape[1] != real.size:
        raise MotifError(f"null_counts has {null.shape[1]} motifs but real_counts has {real.size}")
    if null.shape[0] < 2:
        raise MotifError(f"need at least 2 null samples for a standard deviation, got {null.shape[0]}")
    if not (np.isfinite(real).all() and np.isfinite(null).all()):
        raise MotifError("counts must be finite numbers")
    if names is not None:
        names = [str(n) for n in names]
    else:
        names = real_names or null_names or [str(i) for i in range(real.size)]
    if len(names) != real.size:
        raise MotifError(f"names has {len(names)} entries for {real.size} motifs")
    if real_names is not None and null_names is not None and real_names != null_names:
        raise MotifError("real_counts index and null_counts columns name different motifs")
    return real, null, names


def significance_profile(z: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """SP = Z / ||Z|| (Milo et al. 2004) over the finite entries of ``z``.

    NaN entries stay NaN and are left out of the norm; an all-zero or empty
    profile is all NaN.

    References
    ----------
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542.

    Examples
    --------
    >>> significance_profile(np.array([3.0, 4.0, np.nan])).tolist()
    [0.6, 0.8, nan]
    """
    values = np.asarray(z, dtype=np.float64)
    finite = np.isfinite(values)
    norm = np.sqrt(np.sum(values[finite] ** 2))
    out = np.full(values.shape, np.nan)
    if norm > 0:
        out[finite] = values[finite] / norm
    if is_pandas(z, "Series"):
        import pandas as pd

        return pd.Series(out, index=z.index, name="sp")
    return out


def _small_integer_vector(vec: np.ndarray, max_denominator: int = 12) -> np.ndarray | None:
    """``vec`` scaled to small integers, or None when it is not such a direction."""
    big = np.argmax(np.abs(vec))
    scaled = vec / vec[big]
    fracs = [Fraction(float(v)).limit_denominator(max_denominator) for v in scaled]
    if max(abs(float(f) - v) for f, v in zip(fracs, scaled)) > 1e-6:
        return None
    lcm = np.lcm.reduce([f.denominator for f in fracs])
    ints = np.array([int(f * lcm) for f in fracs], dtype=np.int64)
    if ints[np.flatnonzero(ints)[0]] < 0:
        ints = -ints
    return ints


def linear_identities(null_counts, names: Sequence[str]) -> list[str]:
    """Exact linear identities among the null counts of non-constant classes.

    Finds the null space of the centred (S, k) null-count matrix: each basis
    vector v satisfies sum_i v_i N_i = const in every null sample. Vectors
    are reported with small integer coefficients where they have them
    (``"030T + 021C = const"``), else with decimals. Classes whose null count
    is itself constant are left out (they are flagged as zero-variance).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 50, 200)
    >>> null = np.stack([a, 100 - a, rng.integers(0, 9, 200)], axis=1)
    >>> linear_identities(null, ["030T", "021C", "030C"])
    ['030T + 021C = const']
    """
    null = np.asarray(null_counts, dtype=np.float64)
    names = [str(n) for n in names]
    sd = null.std(axis=0)
    varying = np.flatnonzero(sd > _EXACT_TOL * np.maximum(1.0, np.abs(null).max(axis=0)))
    if varying.size < 2:
        return []
    centred = (null[:, varying] - null[:, varying].mean(axis=0)) / sd[varying]
    # the (S, S) left factor is never used: full matrices only when S < k leaves vt short
    _, sing, vt = np.linalg.svd(centred, full_matrices=len(null) < varying.size)
    scale = sing[0] if sing.size else 1.0
    rank = int(np.sum(sing > 1e-8 * max(scale, 1.0) * np.sqrt(len(null))))
    basis = vt[rank:] / sd[varying][None, :]  # back to raw-count coefficients
    if basis.shape[0] == 0:
        return []
    # Reduced row echelon form gives sparse, readable identities.
    basis = _rref(basis)
    out = []
    for vec in basis:
        vec[np.abs(vec) < 1e-9 * np.abs(vec).max()] = 0.0
        ints = _small_integer_vector(vec)
        terms = []
        coefs = ints if ints is not None else vec / vec[np.argmax(np.abs(vec))]
        for coef, idx in zip(coefs, varying):
            if coef == 0:
                continue
            mag = abs(coef)
            text = names[idx] if mag == 1 else (f"{int(mag)} {names[idx]}" if ints is not None
                                                 else f"{mag:.4g} {names[idx]}")
            terms.append(("- " if coef < 0 else "+ ") + text)
        sentence = " ".join(terms)
        sentence = sentence[2:] if sentence.startswith("+ ") else "-" + sentence[2:]
        out.append(f"{sentence} = const")
    return out


def _rref(mat: np.ndarray) -> np.ndarray:
    """Reduced row echelon form (partial pivoting) of a small dense matrix."""
    a = mat.astype(np.float64).copy()
    rows, cols = a.shape
    r = 0
    for c in range(cols):  # k <= a few hundred columns: a tiny dense elimination
        if r == rows:
            break
        pivot = r + int(np.argmax(np.abs(a[r:, c])))
        if abs(a[pivot, c]) < 1e-10:
            continue
        a[[r, pivot]] = a[[pivot, r]]
        a[r] /= a[r, c]
        others = np.arange(rows) != r
        a[others] -= np.outer(a[others, c], a[r])
        r += 1
    return a[:r]


def _pairwise_ties(null: np.ndarray, names: list[str], varying: np.ndarray) -> list[str]:
    """For each class, the classes whose null counts are an exact affine function of its own."""
    ties: list[list[str]] = [[] for _ in names]
    if varying.size < 2:
        return [""] * len(names)
    sub = null[:, varying]
    centred = sub - sub.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    corr = (centred.T @ centred) / np.outer(norms, norms)
    i_idx, j_idx = np.nonzero(np.abs(corr) > 1 - 1e-9)
    for i, j in zip(i_idx.tolist(), j_idx.tolist()):
        if i != j:
            ties[varying[i]].append(names[varying[j]])
    return [";".join(t) for t in ties]


def zscores(real_counts, null_counts, names: Sequence[str] | None = None,
            sp_motifs: Sequence[str] | None = None) -> pd.DataFrame:
    """Z-scores, empirical p-values and the significance profile of motif counts.

    Parameters
    ----------
    real_counts : (k,) array or pandas.Series
        Counts in the real network (a Series names the motifs by its index).
    null_counts : (S, k) array or pandas.DataFrame
        Counts in S >= 2 null samples (DataFrame columns name the motifs).
    names : sequence of str, optional
        Motif names when neither input carries them.
    sp_motifs : sequence of str, optional
        The motif set the significance profile is normalised over (default:
        every motif with a finite Z). Others get ``sp`` NaN.

    Returns
    -------
    pandas.DataFrame, one row per motif, columns:
        ``motif``, ``count``, ``null_mean``, ``null_sd`` (ddof=1);
        ``z`` = (count - null_mean) / null_sd, NaN when the null has zero
        variance (then ``zero_variance`` is True; never inf);
        ``p``: two-sided empirical p-value (r + 1) / (S + 1), r = null samples
        at least as far from the null mean as the real count;
        ``p_over`` / ``p_under``: one-sided, r = samples >= / <= the count;
        ``ratio`` = count / null_mean (NaN when the mean is 0);
        ``abundance`` = (count - null_mean) / (count + null_mean + 4)
        (Milo et al. 2004);
        ``sp`` = z / ||z|| over ``sp_motifs``;
        ``dependent_on``: the motifs whose null counts are an exact affine
        function of this one's (';'-joined, empty when none): their Z-scores
        are this Z up to sign and carry no separate evidence.
        ``attrs["identities"]`` lists every exact linear identity among the
        null counts (see :func:`linear_identities`).

    References
    ----------
    Milo, R. et al. (2002). Network motifs: simple building blocks of complex
    networks. Science 298:824-827.
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542.

    Examples
    --------
    >>> import pandas as pd
    >>> null = np.array([[1, 5], [3, 5], [2, 5]])
    >>> table = zscores(pd.Series([4, 5], index=["030T", "021C"]), null)
    >>> table[["motif", "z", "p", "zero_variance"]].values.tolist()
    [['030T', 2.0, 0.25, False], ['021C', nan, 1.0, True]]
    """
    return zscore_table(real_counts, null_counts, names, sp_motifs).to_frame()


def zscore_table(real_counts, null_counts, names: Sequence[str] | None = None,
                 sp_motifs: Sequence[str] | None = None) -> ColumnTable:
    """:func:`zscores` as numpy columns (a :class:`motifs.table.ColumnTable`).

    The same columns and ``attrs``; ``zscores`` is this table as a DataFrame.

    Examples
    --------
    >>> table = zscore_table([4, 5], np.array([[1, 5], [3, 5], [2, 5]]), names=["030T", "021C"])
    >>> table["z"].tolist(), table["dependent_on"].tolist()
    ([2.0, nan], ['', ''])
    """
    real, null, names = _as_inputs(real_counts, null_counts, names)
    n_samples = null.shape[0]
    mean = null.mean(axis=0)
    sd = null.std(axis=0, ddof=1)
    spread = np.abs(null).max(axis=0)
    zero_var = sd <= _EXACT_TOL * np.maximum(1.0, spread)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(zero_var, np.nan, (real - mean) / np.where(zero_var, 1.0, sd))
        ratio = np.where(mean != 0, real / np.where(mean != 0, mean, 1.0), np.nan)
    deviation = np.abs(real - mean)
    # A small slack so that ties in integer counts are not lost to rounding of the mean.
    slack = 1e-9 * np.maximum(1.0, np.abs(mean))
    extreme = (np.abs(null - mean) >= deviation - slack).sum(axis=0)
    p = (extreme + 1) / (n_samples + 1)
    p_over = ((null >= real).sum(axis=0) + 1) / (n_samples + 1)
    p_under = ((null <= real).sum(axis=0) + 1) / (n_samples + 1)
    abundance = (real - mean) / (real + mean + ABUNDANCE_EPSILON)
    if sp_motifs is not None:
        chosen = set(map(str, sp_motifs))
        unknown = sorted(chosen - set(names))
        if unknown:
            raise MotifError(f"sp_motifs names motifs not in the counts: {unknown}")
        z_in = np.where([n in chosen for n in names], z, np.nan)
        sp = significance_profile(z_in)
    else:
        sp = significance_profile(z)
    varying = np.flatnonzero(~zero_var)
    return ColumnTable({
        "motif": np.array(names, dtype=object),
        "count": real,
        "null_mean": mean,
        "null_sd": sd,
        "z": z,
        "p": p,
        "p_over": p_over,
        "p_under": p_under,
        "ratio": ratio,
        "abundance": abundance,
        "sp": sp,
        "zero_variance": zero_var,
        "dependent_on": np.array(_pairwise_ties(null, names, varying), dtype=object),
    }, {"identities": linear_identities(null, names)})


def lag_one_autocorrelation(values: np.ndarray, per_chain: int) -> np.ndarray:
    """Lag-1 autocorrelation of each column of ``values`` (S, k) within chains.

    Samples ``[j * per_chain, (j + 1) * per_chain)`` form chain j (the nulls'
    ``samples_per_chain``); pairs of successive samples of one chain are
    pooled, each chain centred on its own mean. 0 for independent samples
    (``per_chain`` 1) and for a constant column. Used to choose and check
    the nulls' sampling gap (``motifs.nulls``, "Thinning"; Fosdick et al.
    2018, sec. 5).

    >>> x = np.repeat(np.arange(8.0), 2)[:, None]     # each value twice in a row
    >>> round(float(lag_one_autocorrelation(x, 16)[0]), 4)
    0.8125
    """
    n, k = values.shape
    if per_chain < 2 or n < 3:
        return np.zeros(k)
    full = n // per_chain * per_chain
    chains = [values[:full].reshape(-1, per_chain, k)] if full else []
    if n > full + 1:
        chains.append(values[full:][None])
    products = squares = 0.0
    for block in chains:
        centred = block - block.mean(axis=1, keepdims=True)
        products = products + (centred[:, 1:] * centred[:, :-1]).sum(axis=(0, 1))
        squares = squares + (centred ** 2).sum(axis=(0, 1))
    return np.where(squares > 0, products / np.where(squares > 0, squares, 1.0), 0.0)
