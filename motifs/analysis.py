"""Motif profiles: the census of one network against its null ensemble.

:func:`motif_profile` is the one call behind ``cgram motifs``: count the
motifs of a network, draw null networks (:mod:`motifs.nulls`), count theirs
with the batched census, and turn both into Z-scores, p-values and a
significance profile (:mod:`motifs.stats`).

One path, two callers. A profile is assembled from *null blocks*
(:func:`null_blocks`: a graph's samples split by size), block ``b`` drawing
its nulls with the seed :func:`block_seed` ``(seed, graph id, null, b)``
(:func:`null_block_counts`), and the blocks merged exactly
(:func:`merge_blocks`). :func:`motif_profile` runs the blocks in
turn, with :func:`network_id` as the graph id; :mod:`motifs.corpus_run`
runs the same blocks on workers. So ``motif_profile(net, seed=S)`` and
``cgram motifs --edges FILE --seed S`` give equal numbers.

The engine works on numpy arrays: a block is a :class:`NullBlock`, a
profile a :class:`motifs.table.ColumnTable`. pandas is imported only where
a public function returns a DataFrame (:func:`null_block`,
:func:`profile_from_blocks`, :func:`motif_profile`), so ``cgram motifs
--edges`` never imports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from motifs.catalog import (
    NAMED_CENSUS_NAMES,
    SIGNED_TRIAD_NAMES,
    TRIAD_CODES,
    motif_classes,
)
from motifs.census import (
    motif3_census_many,
    motif4_census_many,
    signed_triad_counts,
    signed_triad_census_many,
    triad_census_edges,
)
from motifs.errors import MotifError
from motifs.network import Network
from motifs.stats import zscore_table
from motifs.table import ColumnTable, is_pandas

if TYPE_CHECKING:
    import pandas as pd

#: Columns every profile has, in order (flags and extras follow). ``n_null`` counts the
#: samples used; ``n_excluded`` the samples left out (triad-preserving samples that never
#: reached the real triad census).
PROFILE_COLUMNS: tuple[str, ...] = (
    "motif", "name", "count", "null_mean", "null_sd", "z", "p", "sp", "null_model", "n_null",
    "n_excluded",
)

#: Null samples times edges one block may hold: a graph with m edges gets
#: blocks of about ``BLOCK_EDGE_SAMPLES / m`` samples, rounded down to a
#: multiple of ``MIN_BLOCK_SAMPLES`` (Dallas, 1,719 edges: 1,000 samples in one
#: block; a 40,000-edge graph: 15 blocks of 64 and one of 40).
BLOCK_EDGE_SAMPLES = 2_000_000

#: The dense switching engine runs 64 samples as the bit lanes of one word, so
#: a block of fewer samples costs as much as one of 64, and 90 as much as 128.
MIN_BLOCK_SAMPLES = 64


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
            return signed_triad_counts(net)

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
        return census_many(net.dense_adjacency()[None])[0]

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

            chunks = tqdm(chunks, desc=f"size-{size} census of nulls", unit="block",
                          disable=quiet_bar(progress))
        for start, stop, block in chunks:
            out[start:stop] = census_many(block)
        return out

    return codes, display, real_fn, null_fn


def _progress(iterable, progress: bool):
    if not progress:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc="signed census of nulls", unit="block",
                disable=quiet_bar(progress))


def quiet_bar(progress: bool) -> bool | None:
    """tqdm's ``disable``: off when not asked for, and off when stderr is not a terminal.

    ``None`` is tqdm's "disable unless the stream is a TTY", so logs and CI
    get no carriage-return redraws.

    Examples
    --------
    >>> quiet_bar(False), quiet_bar(True)
    (True, None)
    """
    return None if progress else True


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


# ------------------------------------------------------------- null blocks
def null_blocks(n_edges: int, n_null: int, edge_samples: int | None = None) -> list[int]:
    """Sizes of the null blocks of a graph with ``n_edges`` edges (sum = ``n_null``).

    Blocks hold ``edge_samples // n_edges`` samples (``edge_samples``
    defaults to :data:`BLOCK_EDGE_SAMPLES`) rounded down to a multiple of
    :data:`MIN_BLOCK_SAMPLES` (at least one such multiple), the last block
    the remainder. The layout depends only on the graph and ``n_null``, never
    on the executor, so every executor draws the same samples.

    Examples
    --------
    >>> null_blocks(1_719, 1000)
    [1000]
    >>> null_blocks(5_000, 1000)
    [384, 384, 232]
    >>> blocks = null_blocks(40_000, 1000)
    >>> len(blocks), blocks[0], blocks[-1]
    (16, 64, 40)
    """
    fit = (edge_samples or BLOCK_EDGE_SAMPLES) // max(1, n_edges)
    per_block = max(MIN_BLOCK_SAMPLES, fit // MIN_BLOCK_SAMPLES * MIN_BLOCK_SAMPLES)
    if n_null <= per_block:
        return [n_null]
    full, rest = divmod(n_null, per_block)
    return [per_block] * full + ([rest] if rest else [])


def block_seed(seed: int, graph_id: str, null_model: str, block: int) -> int:
    """The null sampler's seed for block ``block`` of a graph under a null model.

    Derived with :class:`numpy.random.SeedSequence` from the run seed, the
    graph id (a content hash), the null model name and the block index, so
    it does not depend on which worker runs the block or in what order.

    Examples
    --------
    >>> seeds = [block_seed(0, "9b1f9f0e0326dcaf", "config-dag", b) for b in (0, 0, 1)]
    >>> seeds[0] == seeds[1], seeds[0] == seeds[2]
    (True, False)
    """
    words = [int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
             for text in (graph_id, null_model)]
    state = np.random.SeedSequence([int(seed), *words, int(block)]).generate_state(1, np.uint64)
    return int(state[0])


def network_id(net: Network) -> str:
    """A 16-hex-digit content hash of a network (its id for seeding, like a graph id)."""
    h = hashlib.sha256(str(net.n_nodes).encode())
    for arr in (net.src, net.dst, net.sign):
        if arr is not None:
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def motif_names(size: int, signed: bool) -> tuple[list[str], list[str]]:
    """(stable motif codes, display names) of a profile, in profile order."""
    codes, display, _, _ = _census_spec(size, signed)
    return codes, display


@dataclass(frozen=True)
class NullBlock:
    """Census of a real network and of one block of its null samples, as arrays.

    What a worker returns (small to pickle); :meth:`to_frame` is the table
    :func:`null_block` returns and the corpus caches.

    Attributes
    ----------
    sample : (n + 1,) int64
        -1 for the real network (row 0), then each null sample's index in
        the graph's whole ensemble.
    counts : (n + 1, n_codes) int64
        Motif counts, one column per code of ``codes``.
    codes : tuple of str
        The motif codes, in profile order.
    null_model : str
        The null actually used.
    excluded : (n + 1,) bool
        True for a triad-preserving sample that never reached the real triad
        census (:func:`merge_blocks` leaves it out); False for the real row.
    """

    sample: np.ndarray
    counts: np.ndarray
    codes: tuple[str, ...]
    null_model: str
    excluded: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """``sample``, one int64 column per code, ``null_model``, ``excluded``."""
        import pandas as pd

        table = pd.DataFrame(self.counts, columns=list(self.codes))
        table.insert(0, "sample", self.sample)
        table["null_model"] = self.null_model
        table["excluded"] = self.excluded
        return table

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, codes: Sequence[str]) -> NullBlock:
        """A block from its table (:meth:`to_frame`, as the corpus caches it).

        Raises
        ------
        MotifError
            The table names several null models.
        """
        models = frame["null_model"].unique()
        if len(models) != 1:
            raise MotifError(f"a null block names several null models: {list(models)}")
        return cls(frame["sample"].to_numpy(dtype=np.int64),
                   frame[list(codes)].to_numpy(dtype=np.int64), tuple(codes), str(models[0]),
                   frame["excluded"].to_numpy(dtype=bool))


def null_block_counts(net: Network, graph_id: str, null: str | None, n_samples: int, seed: int,
                      size: int = 3, signed: bool = False, block: int = 0,
                      first_sample: int = 0, progress: bool = False,
                      **null_options: Any) -> tuple[NullBlock, dict[str, Any]]:
    """:func:`null_block` as a :class:`NullBlock` of arrays, and the sampler's diagnostics.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> block, _ = null_block_counts(net, network_id(net), None, n_samples=3, seed=0)
    >>> block.sample.tolist(), block.counts.shape, block.null_model
    ([-1, 0, 1, 2], (4, 13), 'config-dag')
    """
    from motifs.nulls import default_null

    codes = _census_spec(size, signed)[0]
    model = default_null(net) if null is None else null
    real, null_counts, nulls = census_with_nulls(
        net, model, n_samples, block_seed(seed, graph_id, model, block), size, signed, progress,
        **null_options)
    samples = np.arange(first_sample, first_sample + n_samples, dtype=np.int64)
    missed = np.asarray(nulls.diagnostics.get("census_distance", np.zeros(n_samples))) > 0
    return NullBlock(np.concatenate([[-1], samples]), np.vstack([real[None], null_counts]),
                     tuple(codes), str(nulls.model), np.concatenate([[False], missed])), \
        dict(nulls.diagnostics)


def null_block(net: Network, graph_id: str, null: str | None, n_samples: int, seed: int,
               size: int = 3, signed: bool = False, block: int = 0, first_sample: int = 0,
               progress: bool = False,
               **null_options: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Census of the real network and of one block of its null samples.

    The block draws its nulls with the seed :func:`block_seed` ``(seed,
    graph_id, model, block)``, ``model`` being ``null`` or, when None, the
    network's default null (:func:`motifs.nulls.default_null`).

    Returns
    -------
    table : pandas.DataFrame
        One row for the real network (``sample`` = -1) then one per null
        sample (``sample`` = ``first_sample`` + its index), one int64 column
        per motif code, ``null_model`` (the null actually used) and
        ``excluded`` (True for a triad-preserving sample that never reached
        the real triad census; :func:`profile_from_blocks` leaves it out).
    diagnostics : dict
        The null sampler's diagnostics.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> table, _ = null_block(net, network_id(net), None, n_samples=3, seed=0)
    >>> table["sample"].tolist(), int(table["030T"].iloc[0]), table["null_model"].iloc[0]
    ([-1, 0, 1, 2], 1, 'config-dag')
    """
    counts, diagnostics = null_block_counts(net, graph_id, null, n_samples, seed, size, signed,
                                            block, first_sample, progress, **null_options)
    return counts.to_frame(), diagnostics


def merge_blocks(blocks: Sequence[NullBlock], size: int, signed: bool) -> ColumnTable:
    """Merge the null blocks of one graph into its motif profile, exactly (numpy columns).

    :func:`profile_from_blocks` as a :class:`motifs.table.ColumnTable`.

    Raises
    ------
    MotifError
        As :func:`profile_from_blocks`.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> block, _ = null_block_counts(net, "toy", None, n_samples=3, seed=0)
    >>> profile = merge_blocks([block], size=3, signed=False)
    >>> ffl = profile.rows(profile["motif"] == "030T")
    >>> ffl["name"].tolist(), ffl["count"].tolist(), ffl["n_null"].tolist()
    (['ffl'], [1], [3])
    """
    codes, display = motif_names(size, signed)
    sample = np.concatenate([b.sample for b in blocks])
    counts = np.vstack([b.counts for b in blocks])
    is_real = sample < 0
    real_rows = counts[is_real]
    models = {b.null_model for b in blocks}
    if len(models) != 1 or any(list(b.codes) != codes for b in blocks) or \
            (real_rows != real_rows[:1]).any():
        raise MotifError("null blocks of one graph disagree (null model or real counts): "
                         "delete its cached motif_null_counts and run again")
    model = models.pop()
    order = np.argsort(sample[~is_real], kind="stable")
    excluded = np.concatenate([b.excluded for b in blocks])[~is_real][order]
    used = counts[~is_real][order][~excluded]
    if len(used) < 2:
        raise MotifError(f"only {len(used)} of {len(excluded)} {model} null samples reached "
                         f"the real triad census; raise anneal_switches_per_edge or n_null")
    real = real_rows[0]
    table = zscore_table(real, used, names=codes)
    n_codes = len(codes)
    columns = {**table.data, "name": np.array(display, dtype=object), "count": real,
               "null_model": np.full(n_codes, model, dtype=object),
               "n_null": np.full(n_codes, len(used), dtype=np.int64),
               "n_excluded": np.full(n_codes, int(excluded.sum()), dtype=np.int64)}
    extras = [c for c in table.columns if c not in PROFILE_COLUMNS]
    return ColumnTable({c: columns[c] for c in list(PROFILE_COLUMNS) + extras},
                       {"identities": table.attrs["identities"]})


def profile_from_blocks(blocks: Sequence[pd.DataFrame | NullBlock], size: int,
                        signed: bool) -> pd.DataFrame:
    """Merge the null blocks of one graph into its motif profile, exactly.

    The raw null counts of all blocks are stacked and passed to
    :func:`motifs.stats.zscores`, so the profile is the one all samples
    would give in a single block. Samples marked ``excluded`` (a
    triad-preserving sample that never reached the real triad census) are
    left out of every statistic and counted in ``n_excluded``.

    Parameters
    ----------
    blocks : sequence of pandas.DataFrame or NullBlock
        :func:`null_block` tables (or :func:`null_block_counts` blocks), in
        any order.
    size, signed
        The census the blocks counted (which columns are motif codes).

    Returns
    -------
    pandas.DataFrame
        The :data:`PROFILE_COLUMNS` then the flags of
        :func:`motifs.stats.zscores`; ``attrs["identities"]`` as there.

    Raises
    ------
    MotifError
        Blocks that disagree on the null model or on the real counts, or
        fewer than two samples left after the exclusions.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> one, _ = null_block(net, "toy", None, n_samples=3, seed=0)
    >>> two, _ = null_block(net, "toy", None, n_samples=3, seed=0, block=1, first_sample=3)
    >>> profile = profile_from_blocks([one, two], size=3, signed=False)
    >>> profile[["n_null", "n_excluded"]].iloc[0].tolist()
    [6, 0]
    """
    codes, _ = motif_names(size, signed)
    return merge_blocks([NullBlock.from_frame(b, codes) if is_pandas(b, "DataFrame") else b
                         for b in blocks], size, signed).to_frame()


def motif_profile(net: Network, null: str | None = None, n_null: int = 1000, size: int = 3,
                  signed: bool = False, seed: int = 0, progress: bool = False,
                  **null_options: Any) -> pd.DataFrame:
    """Motif counts of a network against a null ensemble.

    Parameters
    ----------
    net : Network
    null : str, optional
        Null model (``config``, ``config-dag``, ``er``, ``layer-er``,
        ``layer-config``, ``causal-config``, ``sign``, ``triad-preserving``);
        by default :func:`motifs.nulls.default_null` (``causal-config`` for a
        causal graph with token positions, ``config-dag`` for another DAG,
        else ``config``). The model actually used is in the ``null_model``
        column.
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
        Run seed: null block ``b`` draws with :func:`block_seed` ``(seed,
        network_id(net), null, b)``, as ``cgram motifs --edges`` does, so
        equal seeds give equal profiles here and there.
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
        Z-scores), ``null_model``, ``n_null`` (samples used), ``n_excluded``
        (triad-preserving samples that never reached the real triad census,
        left out), then the flags and extras of :func:`motifs.stats.zscores`
        (``zero_variance``, ``dependent_on``, ``p_over``, ``p_under``,
        ``ratio``, ``abundance``). ``attrs`` holds ``identities`` (exact
        linear identities among the null counts), ``null_model`` and
        ``null_diagnostics`` (the sampler's diagnostics, one dict per block).

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
    from motifs.nulls import default_null

    _census_spec(size, signed)  # checks size and signed before any sampling
    model = default_null(net) if null is None else null
    graph_id = network_id(net)
    blocks, diagnostics, first = [], [], 0
    for b, n_samples in enumerate(null_blocks(net.n_edges, int(n_null))):
        block, diag = null_block_counts(net, graph_id, model, n_samples, seed, size, signed,
                                        block=b, first_sample=first, progress=progress,
                                        **null_options)
        blocks.append(block)
        diagnostics.append(diag)
        first += n_samples
    out = merge_blocks(blocks, size, signed)
    out.attrs.update(null_model=model, null_diagnostics=diagnostics,
                     named=list(NAMED_CENSUS_NAMES))
    return out.to_frame()
