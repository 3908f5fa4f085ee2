"""Motif profiles of a whole corpus: parallel, cached, resumable, reproducible.

:func:`run_motifs` computes :func:`motifs.analysis.motif_profile`-equivalent
tables for many graphs on any :mod:`corpus.executor` (serial, a process
pool, Dask). The unit of work is a *null block*: one graph's real census and
the census of ``n`` of its null samples. A small graph is one block; a large
one is split (:func:`null_blocks`) so its null samples spread over workers and
no worker holds more than a bounded number of them. Blocks keep the raw null
counts, so merging them is exact: the Z-scores and p-values of the merged
blocks are those of all samples together (:func:`profile_from_blocks`).

Caching and resuming: each graph's profile, and each block's raw null counts
when a graph has several blocks, are written to the corpus cache as they
finish (atomic writes, keyed by graph id + method + parameters), so a run
that is killed and started again computes only what is missing (down to the
block), and a finished run answers from the cache at once.

Reproducibility: block ``b`` of a graph draws its nulls with the seed
:func:`block_seed` ``(seed, graph id, null model, b)``; the block layout
depends only on the graph's size and ``n_null``, so serial, pool and Dask
runs give identical tables.

Memory: the driver sends graph ids, never graphs; each worker loads its
graph from the corpus directory. At most a window of tasks is in flight.
Workers return blocks as arrays (:class:`motifs.analysis.NullBlock`, from
:func:`count_null_block`), and the driver merges them into numpy columns
(:class:`motifs.table.ColumnTable`); DataFrames are made where the corpus
caches a result and where :func:`run_motifs` and :func:`profile_network`
return, so a network outside a corpus (:func:`profile_network_table`, behind
``cgram motifs --edges``) is profiled without importing pandas.

Scheduling: graphs are sent largest first (edges x samples still to draw),
so a run does not end with one worker on a big graph while the others idle.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from motifs.analysis import (
    BLOCK_EDGE_SAMPLES,
    MIN_BLOCK_SAMPLES,
    PROFILE_COLUMNS,
    NullBlock,
    block_seed,
    merge_blocks,
    motif_names,
    network_id,
    null_block_counts,
    null_blocks,
    profile_from_blocks,
    quiet_bar,
)
from motifs.errors import MotifError
from motifs.network import Network
from motifs.table import ColumnTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BLOCK_EDGE_SAMPLES", "MIN_BLOCK_SAMPLES", "BlockTask", "MotifParams", "block_seed",
           "compute_null_block", "count_null_block", "motif_names", "network_id", "null_blocks",
           "profile_from_blocks", "profile_network", "profile_network_table", "run_motifs",
           "validate_params"]

#: Cache method names (``ROOT/results/{method}/``).
PROFILE_METHOD = "motif_profile"
NULL_COUNTS_METHOD = "motif_null_counts"

#: Bump when a change makes cached results of earlier versions wrong (2: causal-config
#: became the default for graphs with positions; identical engines; n_excluded; 3: the
#: switching nulls' default chain lengths come from the mixing study, no longer 100; 4: the
#: switching nulls' samples lie on thinned chains).
RUN_VERSION = 4

#: Columns of the run table, before the profile's own extras.
RUN_COLUMNS: tuple[str, ...] = ("graph", "slug")


# -------------------------------------------------------------------- plans
@dataclass(frozen=True)
class MotifParams:
    """What a profile depends on (its cache key, with the graph id)."""

    null: str | None
    n_null: int
    size: int
    signed: bool
    seed: int
    keep_errors: bool = False
    min_abs_weight: float | None = None
    top_k: int | None = None

    def cache_key(self) -> dict[str, Any]:
        return {"version": RUN_VERSION, "null": self.null or "auto", "n_null": self.n_null,
                "size": self.size, "signed": self.signed, "seed": self.seed,
                "keep_errors": self.keep_errors, "min_abs_weight": self.min_abs_weight,
                "top_k": self.top_k}

    def block_key(self, block: int, n_blocks: int) -> dict[str, Any]:
        return {**self.cache_key(), "block": block, "n_blocks": n_blocks}


@dataclass(frozen=True)
class BlockTask:
    """One null block of one graph: what a worker needs, and nothing big.

    ``source`` is the corpus directory the worker loads the graph from, or,
    for a network that is not in a corpus (an edge list), the Network itself.
    """

    graph_id: str
    source: str | Network
    params: MotifParams
    block: int
    first_sample: int
    n_samples: int


def validate_params(params: MotifParams) -> None:
    """Check every run parameter once, at the boundary.

    Raises
    ------
    MotifError
        Naming the parameter and its bad value.
    """
    from motifs.nulls import NULL_MODELS

    if params.null is not None and params.null not in NULL_MODELS:
        raise MotifError(f"unknown null model {params.null!r}; choose one of "
                         f"{', '.join(NULL_MODELS)}")
    for name in ("n_null", "size", "seed"):
        value = getattr(params, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise MotifError(f"{name} must be an integer, got {value!r}")
    if params.n_null < 2:
        raise MotifError(f"n_null must be at least 2 (a standard deviation needs two samples), "
                         f"got {params.n_null}")
    if params.size not in (3, 4):
        raise MotifError(f"size must be 3 or 4, got {params.size}")
    if params.signed and params.size != 3:
        raise MotifError("signed motifs are counted on triads: use size 3 with signed")
    if params.seed < 0:
        raise MotifError(f"seed must be non-negative, got {params.seed}")
    if params.min_abs_weight is not None and not params.min_abs_weight >= 0:
        raise MotifError(f"min_abs_weight must be a non-negative number, "
                         f"got {params.min_abs_weight}")
    if params.top_k is not None and params.top_k < 1:
        raise MotifError(f"top_k must be a positive number of edges, got {params.top_k}")


# ------------------------------------------------------------ worker side
@functools.lru_cache(maxsize=8)
def _open_corpus(root: str) -> Any:
    # one Corpus per worker process: its graphs table is re-read only when it changes
    from corpus.store import Corpus

    return Corpus(root, create=False)


def _network(task: BlockTask) -> Network:
    if isinstance(task.source, Network):
        return task.source
    p = task.params
    return _corpus_network(task.source, task.graph_id, p.keep_errors, p.min_abs_weight, p.top_k)


@functools.lru_cache(maxsize=64)
def _corpus_network(root: str, graph_id: str, keep_errors: bool, min_abs_weight: float | None,
                    top_k: int | None) -> Network:
    # a worker meets each graph once per null, pruning level and census size: load it once
    # (graph ids are content hashes, so a cached network is never stale)
    graph = _open_corpus(root).load(graph_id)
    return Network.from_graph(graph, keep_errors=keep_errors, min_abs_weight=min_abs_weight,
                              top_k=top_k)


def count_null_block(task: BlockTask) -> NullBlock:
    """Census of the real network and of one block of null samples (runs in a worker).

    Returns
    -------
    motifs.analysis.NullBlock
        The real network's counts (``sample`` -1) and the block's null
        samples' counts, as arrays (small to send back to the driver).
    """
    net = _network(task)
    p = task.params
    if p.signed and net.sign is None:
        raise MotifError(f"graph {task.graph_id}: signed motifs need edge signs")
    block, _ = null_block_counts(net, task.graph_id, p.null, task.n_samples, p.seed, p.size,
                                 p.signed, block=task.block, first_sample=task.first_sample)
    return block


def compute_null_block(task: BlockTask) -> pd.DataFrame:
    """:func:`count_null_block` as the table the corpus caches.

    Returns
    -------
    pandas.DataFrame
        :func:`motifs.analysis.null_block`: one row for the real network
        (``sample`` = -1) then one per null sample, one int64 column per motif
        code, ``null_model`` and ``excluded``.
    """
    return count_null_block(task).to_frame()


# ------------------------------------------------------------ driver side
@dataclass
class _GraphState:
    graph_id: str
    slug: str
    sizes: list[int]
    n_edges: int = 0
    blocks: dict[int, NullBlock] = field(default_factory=dict)
    error: str | None = None

    @property
    def expected_cost(self) -> int:
        """Edge-samples still to switch: what a graph's remaining blocks cost, roughly."""
        return self.n_edges * sum(n for b, n in enumerate(self.sizes) if b not in self.blocks)

    @property
    def complete(self) -> bool:
        return len(self.blocks) == len(self.sizes)

    def tasks(self, source: str | Network, params: MotifParams) -> Iterator[BlockTask]:
        offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int).tolist()
        # the missing blocks now: a serial run consumes this lazily, and the merge that
        # follows the last missing block clears ``blocks`` (cached ones after it included)
        missing = [b for b in range(len(self.sizes)) if b not in self.blocks]
        for b in missing:
            yield BlockTask(self.graph_id, source, params, b, offsets[b], self.sizes[b])


def _with_graph(profile: ColumnTable, graph_id: str, slug: str) -> ColumnTable:
    rows = len(profile)
    return ColumnTable({"graph": np.full(rows, graph_id, dtype=object),
                        "slug": np.full(rows, slug, dtype=object), **profile.data})


def _merge_blocks(state: _GraphState, params: MotifParams, corpus: Any,
                  profiles: dict[str, ColumnTable]) -> None:
    """Merge a complete graph's blocks into its profile, cache it, drop the null counts."""
    try:
        profile = merge_blocks([state.blocks[b] for b in sorted(state.blocks)], params.size,
                               params.signed)
    except MotifError as exc:
        state.error = f"MotifError: {exc}"
        return
    profile.attrs = {}  # the run table carries its own attrs
    if corpus is not None:
        corpus.write_result(state.graph_id, PROFILE_METHOD, params.cache_key(),
                            profile.to_frame())
    profiles[state.graph_id] = profile
    state.blocks.clear()  # the driver keeps profiles, not null counts


def _block_tasks(pending: list[_GraphState], source: str | Network,
                 params: MotifParams) -> Iterator[tuple[tuple[str, int], BlockTask]]:
    """The missing blocks of ``pending``, keyed (graph id, block), graph after graph."""
    for state in pending:
        for task in state.tasks(source, params):
            if state.error is None:  # a graph that failed stops sending blocks
                yield (state.graph_id, task.block), task


def _record_block(state: _GraphState, block: int, outcome: Any, params: MotifParams,
                  corpus: Any, profiles: dict[str, ColumnTable]) -> bool:
    """File one finished block (cached when the graph has several); True once the graph is done."""
    if not outcome.ok:
        state.error = outcome.error
        state.blocks.clear()
        return True
    if corpus is not None and len(state.sizes) > 1:
        corpus.write_result(state.graph_id, NULL_COUNTS_METHOD,
                            params.block_key(block, len(state.sizes)), outcome.value.to_frame())
    state.blocks[block] = outcome.value
    if state.complete:
        _merge_blocks(state, params, corpus, profiles)
        return True
    return False


def _run_graphs(states: list[_GraphState], source: str | Network, params: MotifParams,
                corpus: Any, executor: str, jobs: int | None, progress: bool,
                dask_processes: bool) -> tuple[dict[str, ColumnTable], str]:
    """Run the missing blocks of ``states``; profiles by graph id, executor description."""
    from tqdm import tqdm

    from corpus.executor import Executor, usable_cores

    profiles: dict[str, ColumnTable] = {}
    for state in states:
        if state.complete:  # every block was cached: a run killed before the merge
            _merge_blocks(state, params, corpus, profiles)
    # largest first: the last tasks to finish are then short ones, so workers idle least
    # (longest-processing-time-first scheduling); the table keeps corpus order regardless
    pending = sorted((s for s in states if s.graph_id not in profiles and s.error is None),
                     key=lambda s: -s.expected_cost)
    by_id = {s.graph_id: s for s in pending}
    if not pending:
        return profiles, "nothing to compute"
    n_blocks = sum(len(s.sizes) - len(s.blocks) for s in pending)
    # an open executor is the caller's to close: many small runs can share one pool
    if isinstance(executor, Executor):
        scope = contextlib.nullcontext(executor)
    else:
        work = sum(s.expected_cost for s in pending) * _chain_share(params.null, source)
        spec = _worth_a_pool(executor, n_blocks, int(work), jobs or usable_cores())
        scope = run_executor(spec, jobs, dask_processes)
    with scope as pool:
        description = pool.describe()
        bar = tqdm(total=len(states), initial=len(states) - len(pending), unit="graph",
                   desc="motifs", disable=quiet_bar(progress), file=sys.stderr,
                   dynamic_ncols=True)
        with bar:
            outcomes = pool.run(count_null_block, _block_tasks(pending, source, params))
            for done, outcome in enumerate(outcomes, start=1):
                if n_blocks > len(pending):  # large graphs: show the blocks moving too
                    bar.set_postfix_str(f"null blocks {done}/{n_blocks}")
                graph_id, block = outcome.key
                state = by_id[graph_id]
                if state.error is None and _record_block(state, block, outcome, params, corpus,
                                                         profiles):
                    bar.update(1)
    return profiles, description


def run_executor(spec: str | None, jobs: int | None, dask_processes: bool = True) -> Any:
    """A context giving the executor ``spec`` names: ``"pool"`` is this process's
    shared pool (:func:`_shared_pool`, left open for the next run), anything
    else a fresh executor closed on exit (:func:`corpus.executor.open_executor`).
    """
    if spec == "pool":
        return contextlib.nullcontext(_shared_pool(jobs))
    from corpus.executor import open_executor

    return open_executor(spec, jobs=jobs, dask_processes=dask_processes)


@functools.lru_cache(maxsize=None)
def _shared_pool(jobs: int | None) -> Any:
    """The process pool of every default-executor run in this process, per ``jobs``.

    A report runs several nulls and pruning levels, each a :func:`run_motifs`
    call: one pool for all of them pays the workers' start-up (imports, about
    a CPU second each) once instead of once per call. Closed at exit.
    """
    import atexit

    from corpus.executor import open_executor

    pool = open_executor("pool", jobs=jobs)
    atexit.register(pool.close)
    return pool


def _chain_share(null: str | None, source: str | Network) -> float:
    """A null's attempted switches per sample as a share of 100 per edge (1 at most).

    What a block costs scales with it: :data:`BLOCK_EDGE_SAMPLES` edge-samples are
    about a second of switching at 100 attempts per edge. Without a named null a
    network takes its :func:`motifs.nulls.default_null`; a corpus's graphs, not
    loaded here, are taken as attribution graphs (``causal-config``). Nulls
    without switching cost about their census, a fifth (measured: ``er`` on
    the Dallas graph, 0.23 s for 1,000 samples and their census). A switching
    null's samples cost :func:`motifs.nulls.mean_switches_per_edge` (thinned
    chains: ``config`` 11 attempts per edge, no longer 75).

    Examples
    --------
    >>> _chain_share("config", "corpus"), _chain_share("er", "corpus")
    (0.2, 0.2)
    >>> _chain_share("triad-preserving", "corpus")
    1.0
    """
    from motifs.nulls import default_null, mean_switches_per_edge

    if null is None:
        null = default_null(source) if isinstance(source, Network) else "causal-config"
    length = mean_switches_per_edge(null)
    return 0.2 if length is None else min(1.0, max(0.2, length / 100.0))


def _worth_a_pool(executor: str | None, n_blocks: int, edge_samples: int,
                  workers: int) -> str | None:
    """``serial`` in place of the default pool when the work is smaller than its start-up.

    Each spawned worker imports numpy, pandas and the engine (over half a
    CPU second) before its first block, and a block is at most about a
    second of switching (:data:`BLOCK_EDGE_SAMPLES` edge-samples at 100
    attempts per edge; ``edge_samples`` comes scaled by the null's chain,
    :func:`_chain_share`). A run of fewer than two blocks per worker, or of
    less than one such second of work, would spend more CPU starting
    workers than it saves, so it runs in the driver. Other executors are
    kept as asked.

    Examples
    --------
    >>> _worth_a_pool("pool", 2, 10**9, workers=2), _worth_a_pool("pool", 4, 10**9, workers=2)
    ('serial', 'pool')
    >>> _worth_a_pool(None, 8, 1000, workers=2), _worth_a_pool("dask-local", 1, 10, workers=2)
    ('serial', 'dask-local')
    """
    from motifs import analysis  # read at call time: tests shrink the blocks

    if (executor or "pool").strip() == "pool" and (
            n_blocks < 2 * workers or edge_samples < analysis.BLOCK_EDGE_SAMPLES):
        return "serial"
    return executor


def _resolve_graphs(corpus: Any, keys: Sequence[str] | None
                    ) -> tuple[list[str], dict[str, str], dict[str, int]]:
    """(graph ids in corpus order or key order, slug by id, edge count by id)."""
    table = corpus.table()
    if keys is None:
        ids = table["graph_id"].astype(str).tolist()
    else:
        ids = list(dict.fromkeys(corpus.resolve(k) for k in keys))
    rows = table.set_index("graph_id").loc[ids] if ids else table.iloc[:0]
    return (ids, dict(zip(ids, rows["slug"].astype(str))),
            dict(zip(ids, rows["n_edges"].astype(int))))


def _read_cache(corpus: Any, ids: list[str], slugs: dict[str, str], n_edges: dict[str, int],
                params: MotifParams) -> tuple[dict[str, ColumnTable], list[_GraphState]]:
    """Cached profiles by graph id, and the state of every other graph (its cached blocks in)."""
    codes, _ = motif_names(params.size, params.signed)
    profiles: dict[str, ColumnTable] = {}
    states: list[_GraphState] = []
    for graph_id in ids:
        cached = corpus.read_result(graph_id, PROFILE_METHOD, params.cache_key())
        if cached is not None:
            profiles[graph_id] = ColumnTable.from_frame(cached)
            continue
        state = _GraphState(graph_id, slugs[graph_id],
                            null_blocks(n_edges[graph_id], params.n_null), n_edges[graph_id])
        if len(state.sizes) > 1:  # blocks a killed run finished
            for b in range(len(state.sizes)):
                done = corpus.read_result(graph_id, NULL_COUNTS_METHOD,
                                          params.block_key(b, len(state.sizes)))
                if done is not None:
                    state.blocks[b] = NullBlock.from_frame(done, codes)
        states.append(state)
    return profiles, states


def run_motifs(corpus: Any, keys: Sequence[str] | None = None, null: str | None = None,
               n_null: int = 1000, size: int = 3, signed: bool = False, seed: int = 0,
               executor: Any = "pool", jobs: int | None = None, keep_errors: bool = False,
               min_abs_weight: float | None = None, top_k: int | None = None,
               progress: bool = False, dask_processes: bool = True) -> pd.DataFrame:
    """Motif profiles of corpus graphs, computed in parallel and cached in the corpus.

    Parameters
    ----------
    corpus : corpus.store.Corpus or path
        The corpus; results are cached under ``ROOT/results/motif_profile``
        (and null blocks of large graphs under ``motif_null_counts``).
    keys : sequence of str, optional
        Graph ids, id prefixes or slugs (default: every graph).
    null : str, optional
        Null model (a key of :data:`motifs.nulls.NULL_MODELS`); by default
        each graph gets :func:`motifs.nulls.default_null` (``causal-config``
        for an attribution graph with token positions) and the
        ``null_model`` column says which.
    n_null, size, signed, seed
        As in :func:`motifs.analysis.motif_profile`. A graph's nulls use the
        seeds :func:`block_seed` derives from ``seed``.
    executor : str or corpus.executor.Executor
        ``serial``, ``pool`` (default), ``dask-local`` or ``dask://host:port``
        (see :func:`corpus.executor.open_executor`), or an open executor,
        which is used and left open (for many small runs in a row).
    jobs : int, optional
        Workers of ``pool`` / ``dask-local`` (default: all usable cores).
    keep_errors, min_abs_weight, top_k
        How each graph becomes a Network (:meth:`Network.from_graph`).
    progress : bool
        A tqdm bar of graphs done / total with an ETA (command-line use).
    dask_processes : bool
        ``dask-local`` workers as processes (default) or threads.

    Returns
    -------
    pandas.DataFrame
        One row per graph x motif, in corpus order: ``graph`` (graph id),
        ``slug``, then the profile columns (``motif``, ``name``, ``count``,
        ``null_mean``, ``null_sd``, ``z``, ``p``, ``sp``, ``null_model``,
        ``n_null`` and the flags of :func:`motifs.stats.zscores`).
        ``attrs``: ``failures`` (list of dicts ``graph``, ``slug``, ``error``:
        a graph that fails is left out, the others go on), ``computed`` and
        ``cached`` (graph counts), ``executor`` (a description) and
        ``seconds``.

    Raises
    ------
    MotifError
        A bad parameter. CorpusError: an unknown graph key or executor.

    References
    ----------
    Milo, R. et al. (2002). Network motifs: simple building blocks of complex
    networks. Science 298:824-827.
    Milo, R. et al. (2004). Superfamilies of evolved and designed networks.
    Science 303:1538-1542.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from corpus.graph import AttributionGraph, GraphMeta
    >>> from corpus.store import Corpus
    >>> nodes = pd.DataFrame({"node_id": ["a", "b", "c", "d"], "kind": ["embedding", "feature",
    ...                       "feature", "logit"], "layer": [-1, 0, 1, 2], "pos": [0, 0, 0, 0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0, 0, 1, 1, 2], [1, 2, 2, 3, 3], [1.0] * 5,
    ...                                  GraphMeta(slug="toy", n_layers=2))
    >>> corpus = Corpus(tempfile.mkdtemp()); _ = corpus.add(g)
    >>> table = run_motifs(corpus, n_null=10, executor="serial")
    >>> table.loc[table["motif"] == "030T", ["slug", "count", "null_model"]].values.tolist()
    [['toy', 2, 'causal-config']]
    >>> run_motifs(corpus, n_null=10, executor="serial").attrs["cached"]
    1
    """
    from corpus.store import Corpus

    if not isinstance(corpus, Corpus):
        corpus = Corpus(corpus, create=False)
    params = MotifParams(null, n_null, size, signed, seed, keep_errors,
                         None if min_abs_weight is None else float(min_abs_weight), top_k)
    validate_params(params)
    start = time.perf_counter()
    ids, slugs, n_edges = _resolve_graphs(corpus, keys)
    profiles, states = _read_cache(corpus, ids, slugs, n_edges, params)
    n_cached = len(profiles)
    computed, description = _run_graphs(states, str(Path(corpus.root).resolve()), params, corpus,
                                        executor, jobs, progress, dask_processes)
    profiles.update(computed)
    return _assemble(ids, slugs, profiles, states, n_cached, description,
                     time.perf_counter() - start).to_frame()


def _assemble(ids: list[str], slugs: dict[str, str], profiles: dict[str, ColumnTable],
              states: list[_GraphState], n_cached: int, description: str,
              seconds: float) -> ColumnTable:
    parts = [_with_graph(profiles[g], g, slugs[g]) for g in ids if g in profiles]
    if parts:
        out = ColumnTable.concat(parts)
    else:
        out = ColumnTable({c: np.array([], dtype=object)
                           for c in list(RUN_COLUMNS) + list(PROFILE_COLUMNS)})
    out.attrs = {
        "failures": [{"graph": s.graph_id, "slug": s.slug, "error": s.error}
                     for s in states if s.error is not None],
        "computed": sum(1 for s in states if s.graph_id in profiles),
        "cached": n_cached,
        "executor": description,
        "seconds": seconds,
    }
    return out


def profile_network(net: Network, name: str, null: str | None = None, n_null: int = 1000,
                    size: int = 3, signed: bool = False, seed: int = 0, executor: str = "pool",
                    jobs: int | None = None, progress: bool = False,
                    dask_processes: bool = True) -> pd.DataFrame:
    """The motif profile of one network outside a corpus (an edge list), on an executor.

    Its null blocks (:func:`null_blocks`) run in parallel; seeds come from
    :func:`network_id`. Nothing is cached. Returns the table of
    :func:`run_motifs` for one graph (``graph`` = the network id, ``slug`` =
    ``name``); a failure raises :class:`MotifError`.

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> table = profile_network(net, "toy", n_null=20, executor="serial")
    >>> table.loc[table["name"] == "ffl", ["slug", "motif", "count"]].values.tolist()
    [['toy', '030T', 1]]
    """
    return profile_network_table(net, name, null, n_null, size, signed, seed, executor, jobs,
                                 progress, dask_processes).to_frame()


def profile_network_table(net: Network, name: str, null: str | None = None, n_null: int = 1000,
                          size: int = 3, signed: bool = False, seed: int = 0,
                          executor: str = "pool", jobs: int | None = None,
                          progress: bool = False, dask_processes: bool = True) -> ColumnTable:
    """:func:`profile_network`'s table as numpy columns, without pandas (``cgram motifs --edges``).

    Examples
    --------
    >>> net = Network.from_edges([0, 0, 1, 1, 2, 3], [2, 3, 2, 4, 4, 4])
    >>> table = profile_network_table(net, "toy", n_null=20, executor="serial")
    >>> table.rows(table["name"] == "ffl")["count"].tolist(), table.attrs["computed"]
    ([1], 1)
    """
    if not isinstance(net, Network):
        raise MotifError(f"net must be a motifs.Network, got {type(net).__name__}")
    params = MotifParams(null, n_null, size, signed, seed)
    validate_params(params)
    start = time.perf_counter()
    graph_id = network_id(net)
    state = _GraphState(graph_id, name, null_blocks(net.n_edges, n_null), net.n_edges)
    profiles, description = _run_graphs([state], net, params, None, executor, jobs, progress,
                                        dask_processes)
    if state.error is not None:
        raise MotifError(f"{name}: {state.error}")
    return _assemble([graph_id], {graph_id: name}, profiles, [state], 0, description,
                     time.perf_counter() - start)


# ---------------------------------------------------- weight sensitivity
def weight_sensitivity(graph: Any, keep_fractions: Sequence[float] | None = None,
                       min_abs_weights: Sequence[float] | None = None, null: str | None = None,
                       n_null: int = 200, size: int = 3, signed: bool = False, seed: int = 0,
                       corpus: Any = None, unpruned_n_null: int | None = None,
                       **run_options: Any) -> pd.DataFrame:
    """A graph's motif profile as its edges are pruned by |weight|.

    Parameters
    ----------
    graph : corpus.AttributionGraph, or a graph key of ``corpus``
    keep_fractions, min_abs_weights : floats, optional
        The levels (:func:`motifs.compare.pruning_levels`): the strongest
        fraction of the network's edges (default ``(1, 0.5, 0.25, 0.1)``), or
        |weight| thresholds instead.
    null, n_null, size, signed, seed
        As in :func:`motifs.analysis.motif_profile` (``null=None``: the
        network's default null, ``config-dag`` for an acyclic one).
    corpus : corpus.store.Corpus, optional
        Run each level with :func:`run_motifs` on this corpus (parallel,
        cached: a level computed once is read back); ``graph`` may then be a
        key. Without it each level is one :func:`motifs.analysis.motif_profile`
        call.
    unpruned_n_null : int, optional
        Null samples of the unpruned level (fraction 1, no threshold; default
        ``n_null``). A report passes its main run's ``n_null``, so that level
        is the main profile, read from the corpus cache, instead of a second
        sample of the same null on the same network.
    **run_options
        ``executor``, ``jobs`` for ``run_motifs``.

    Returns
    -------
    pandas.DataFrame
        The profile rows of each level with ``level`` (a label such as
        ``top 25%`` or ``|w| >= 0.5``), ``top_k``, ``min_abs_weight`` and the
        pruned network's ``n_edges`` in front.

    Raises
    ------
    MotifError
        Both or bad level lists; a key without a corpus; a level that fails.
    """
    import pandas as pd

    from motifs.compare import pruning_levels

    if isinstance(graph, str):
        if corpus is None:
            raise MotifError(f"graph {graph!r} is a key: pass the corpus it is in")
        graph_id = corpus.resolve(graph)
        graph = corpus.load(graph_id)
    elif corpus is not None:
        graph_id = corpus.resolve(graph.content_hash()[:16])
    levels = pruning_levels(Network.from_graph(graph).n_edges, keep_fractions, min_abs_weights)
    parts = []
    for label, top_k, threshold in levels:  # a handful of levels, each a full vectorised run
        net = Network.from_graph(graph, min_abs_weight=threshold, top_k=top_k)
        unpruned = top_k is None and threshold is None
        level_n = unpruned_n_null if unpruned and unpruned_n_null else n_null
        if corpus is not None:
            profile = run_motifs(corpus, keys=[graph_id], null=null, n_null=level_n, size=size,
                                 signed=signed, seed=seed, min_abs_weight=threshold, top_k=top_k,
                                 **run_options)
            failures = profile.attrs.get("failures") or []
            if failures:
                raise MotifError(f"{graph.name} at {label}: {failures[0]['error']}")
            profile = profile.drop(columns=["graph", "slug"])
        else:
            from motifs.analysis import motif_profile

            profile = motif_profile(net, null=null, n_null=level_n, size=size, signed=signed,
                                    seed=seed)
        profile.insert(0, "n_edges", net.n_edges)
        profile.insert(0, "min_abs_weight", threshold)
        profile.insert(0, "top_k", top_k)
        profile.insert(0, "level", label)
        parts.append(profile)
    return pd.concat(parts, ignore_index=True)
