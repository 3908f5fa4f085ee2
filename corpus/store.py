"""Corpus: a directory of Parquet tables holding many attribution graphs.

Layout (readable by pandas, pyarrow, DuckDB and Dask as plain Parquet; the
``nodes`` and ``edges`` folders are Hive-partitioned datasets, so reading a
folder whole yields a ``graph_id`` column)::

    ROOT/graphs.parquet             one row per graph (the commit point)
    ROOT/nodes/graph_id={id}/part-0.parquet   node table of one graph
    ROOT/edges/graph_id={id}/part-0.parquet   src, dst, weight[, path]
    ROOT/results/{method}/{graph_id}-{params_hash}.parquet   cached analyses
    ROOT/.lock                      writers take an exclusive flock

A graph is in the corpus exactly when ``graphs.parquet`` lists it. Every file
is written to a temporary name and renamed into place, and the graphs table
is rewritten last, so a writer killed at any moment leaves the corpus as it
was before that graph (an orphaned node/edge file, if any, is removed by the
next writer). ``graph_id`` is the first 16 hex digits of the content hash, so
adding the same graph twice is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from corpus.atomic import atomic_write
from corpus.errors import CorpusError
from corpus.graph import AttributionGraph, GraphMeta, coerce_nodes

#: Columns of the graphs table, in order.
GRAPH_COLUMNS: tuple[str, ...] = (
    "graph_id", "slug", "model", "scan", "transcoder_type", "task", "source", "prompt",
    "n_nodes", "n_edges", "n_layers", "content_hash", "origin", "added", "meta_json",
)

#: Environment variable naming the default corpus directory.
CORPUS_ENV = "CGRAM_CORPUS"


def default_corpus_dir() -> Path:
    """``$CGRAM_CORPUS`` or ``./corpus-data``."""
    return Path(os.environ.get(CORPUS_ENV, "corpus-data"))


def params_hash(params: dict[str, Any]) -> str:
    """Stable 16-hex-digit hash of a parameter dict (keys sorted)."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AddResult:
    """What :meth:`Corpus.add` did: ``added`` False means already present."""

    graph_id: str
    slug: str
    added: bool


def _write_table(path: Path, table: pa.Table) -> None:
    # snappy: loading a graph back is latency-bound, and snappy decodes ~2x faster than zstd
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="snappy"))


def _read_table(path: Path) -> pa.Table:
    # ParquetFile skips the dataset machinery of pq.read_table: ~3x less overhead per file
    return pq.ParquetFile(path).read(use_threads=False)


class Corpus:
    """A corpus of attribution graphs on disk.

    Parameters
    ----------
    root : path
        The corpus directory; created when ``create`` is true.
    create : bool
        Create an empty corpus if the directory has none.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from corpus.graph import AttributionGraph, GraphMeta
    >>> nodes = pd.DataFrame({"node_id": ["E_1_0", "1_3_0"], "kind": ["embedding", "logit"],
    ...                       "layer": [-1, 1], "pos": [0, 0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0], [1], [2.5], GraphMeta(slug="tiny"))
    >>> c = Corpus(tempfile.mkdtemp())
    >>> c.add(g).added, c.add(g).added
    (True, False)
    >>> c.load("tiny").weight.tolist()
    [2.5]
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, create: bool = True):
        self.root = Path(root) if root is not None else default_corpus_dir()
        if self.root.exists() and not self.root.is_dir():
            raise CorpusError(f"{self.root}: exists and is not a directory")
        if not self.root.exists():
            if not create:
                raise CorpusError(f"{self.root}: no corpus here (import a graph first)")
            self.root.mkdir(parents=True)
        for sub in ("nodes", "edges", "results"):
            (self.root / sub).mkdir(exist_ok=True)
        self._table: pd.DataFrame | None = None
        self._table_stamp: tuple[int, int] | None = None
        self._rows: dict[str, int] = {}

    # ---------------------------------------------------------------- paths
    @property
    def graphs_path(self) -> Path:
        return self.root / "graphs.parquet"

    def _nodes_path(self, graph_id: str) -> Path:
        return self.root / "nodes" / f"graph_id={graph_id}" / "part-0.parquet"

    def _edges_path(self, graph_id: str) -> Path:
        return self.root / "edges" / f"graph_id={graph_id}" / "part-0.parquet"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --------------------------------------------------------------- tables
    def table(self) -> pd.DataFrame:
        """The graphs table (one row per graph), re-read when it changed on disk."""
        path = self.graphs_path
        try:
            stat = path.stat()
        except FileNotFoundError:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in GRAPH_COLUMNS})
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._table is None or stamp != self._table_stamp:
            try:
                self._table = pq.read_table(path).to_pandas()
            except (pa.ArrowInvalid, OSError) as exc:
                raise CorpusError(f"{path}: unreadable graphs table ({exc})") from None
            self._table_stamp = stamp
            self._rows = {g: i for i, g in enumerate(self._table["graph_id"])}
        return self._table

    def __len__(self) -> int:
        return len(self.table())

    def _commit(self, table: pd.DataFrame) -> None:
        frame = table.reset_index(drop=True)
        _write_table(self.graphs_path, pa.Table.from_pandas(frame, preserve_index=False))
        self._table = None

    def _remove_orphans(self, table: pd.DataFrame) -> None:
        known = {f"graph_id={g}" for g in table["graph_id"]}
        for sub in ("nodes", "edges"):
            for folder in (self.root / sub).glob("graph_id=*"):
                if folder.name not in known:
                    shutil.rmtree(folder, ignore_errors=True)
            for path in (self.root / sub).glob("graph_id=*/.*.tmp"):
                path.unlink(missing_ok=True)
        # temporaries of a writer killed mid-rename (we hold the lock: none is live)
        for pattern in (".graphs.parquet.*.tmp", "results/*/.*.tmp"):
            for path in self.root.glob(pattern):
                path.unlink(missing_ok=True)

    # ----------------------------------------------------------------- add
    def add(self, graph: AttributionGraph, task: str | None = None) -> AddResult:
        """Add a graph (validated first); a no-op if the same content is present.

        Parameters
        ----------
        graph : AttributionGraph
        task : str, optional
            Task label; overrides ``graph.meta.task``. Re-adding a present
            graph with a new task label updates the label only.
        """
        graph.validate()
        content_hash = graph.content_hash()
        graph_id = content_hash[:16]
        with self._lock():
            table = self.table()
            self._remove_orphans(table)
            present = table["graph_id"] == graph_id
            if present.any():
                if task is not None and table.loc[present, "task"].iloc[0] != task:
                    self._set_task_locked(table, present.to_numpy(), task)
                return AddResult(graph_id, str(table.loc[present, "slug"].iloc[0]), False)
            meta = graph.meta.to_dict()
            if task is not None:
                meta["task"] = task
            nodes = coerce_nodes(graph.nodes)
            _write_table(self._nodes_path(graph_id), pa.Table.from_pandas(nodes,
                                                                           preserve_index=False))
            edges = {"src": graph.src, "dst": graph.dst, "weight": graph.weight}
            if graph.path is not None:
                edges["path"] = graph.path
            _write_table(self._edges_path(graph_id), pa.table(edges))
            row = {
                "graph_id": graph_id, "slug": meta["slug"], "model": meta["model"],
                "scan": meta["scan"], "transcoder_type": meta["transcoder_type"],
                "task": meta["task"], "source": meta["source"], "prompt": meta["prompt"],
                "n_nodes": graph.n_nodes, "n_edges": graph.n_edges,
                "n_layers": meta["n_layers"], "content_hash": content_hash,
                "origin": meta["origin"], "added": time.time(),
                "meta_json": json.dumps(meta, allow_nan=True),
            }
            new = pd.concat([table, pd.DataFrame([row])], ignore_index=True) if len(table) \
                else pd.DataFrame([row])
            self._commit(new[list(GRAPH_COLUMNS)])
        return AddResult(graph_id, meta["slug"], True)

    # --------------------------------------------------------------- lookup
    def resolve(self, key: str) -> str:
        """graph_id for a key: a graph_id, a unique id prefix (≥ 6) or a slug.

        Raises
        ------
        CorpusError
            If nothing matches, or a slug / prefix names several graphs.
        """
        table = self.table()
        if key in self._rows:
            return key
        ids = table["graph_id"].astype(str)
        by_slug = table.loc[table["slug"] == key, "graph_id"].tolist()
        if len(by_slug) == 1:
            return by_slug[0]
        if len(by_slug) > 1:
            raise CorpusError(f"{self.root}: slug {key!r} names {len(by_slug)} graphs "
                              f"({', '.join(by_slug)}); use a graph_id")
        if len(key) >= 6:
            prefixed = ids[ids.str.startswith(key)].tolist()
            if len(prefixed) == 1:
                return prefixed[0]
            if len(prefixed) > 1:
                raise CorpusError(f"{self.root}: id prefix {key!r} is ambiguous")
        raise CorpusError(f"{self.root}: no graph {key!r} in the corpus ({len(table)} graphs)")

    def row(self, key: str) -> pd.Series:
        """The graphs-table row of a graph."""
        graph_id = self.resolve(key)
        return self.table().iloc[self._rows[graph_id]]

    def load(self, key: str) -> AttributionGraph:
        """Load one graph back, bit-exact (dtypes, float32 weights, metadata)."""
        row = self.row(key)
        graph_id = row["graph_id"]
        try:
            nodes = _read_table(self._nodes_path(graph_id)).to_pandas()
            edges = _read_table(self._edges_path(graph_id))
        except (FileNotFoundError, pa.ArrowInvalid, OSError) as exc:
            raise CorpusError(f"{self.root}: graph {graph_id} ({row['slug']}) has unreadable "
                              f"tables ({exc})") from None
        names = edges.column_names
        meta = GraphMeta.from_dict(json.loads(row["meta_json"]))
        return AttributionGraph(
            nodes=nodes,
            src=edges.column("src").to_numpy(),
            dst=edges.column("dst").to_numpy(),
            weight=edges.column("weight").to_numpy(),
            meta=meta,
            path=edges.column("path").to_numpy() if "path" in names else None,
        )

    def iter_graphs(self, keys: Sequence[str] | None = None) -> Iterator[AttributionGraph]:
        """Yield graphs one at a time (memory holds one graph at a time)."""
        for key in (keys if keys is not None else self.table()["graph_id"].tolist()):
            yield self.load(key)

    def list(
        self,
        model: str | None = None,
        scan: str | None = None,
        transcoder_type: str | None = None,
        task: str | None = None,
        prompt: str | None = None,
        source: str | None = None,
    ) -> pd.DataFrame:
        """Graphs matching every given filter (``prompt``: case-insensitive substring).

        Returns the graphs table without the ``meta_json`` column.
        """
        table = self.table()
        mask = np.ones(len(table), dtype=bool)
        for col, value in (("model", model), ("scan", scan), ("transcoder_type", transcoder_type),
                           ("task", task), ("source", source)):
            if value is not None:
                mask &= (table[col] == value).to_numpy()
        if prompt is not None:
            mask &= table["prompt"].astype(str).str.contains(prompt, case=False, regex=False) \
                .to_numpy()
        return table.loc[mask, [c for c in GRAPH_COLUMNS if c != "meta_json"]] \
            .reset_index(drop=True)

    # --------------------------------------------------------------- change
    def _set_task_locked(self, table: pd.DataFrame, mask: np.ndarray, task: str | None) -> None:
        table = table.copy()
        table.loc[mask, "task"] = task
        metas = []
        for text in table.loc[mask, "meta_json"]:
            meta = json.loads(text)
            meta["task"] = task
            metas.append(json.dumps(meta, allow_nan=True))
        table.loc[mask, "meta_json"] = metas
        self._commit(table)

    def set_task(self, key: str, task: str | None) -> None:
        """Label one graph with a task."""
        with self._lock():
            graph_id = self.resolve(key)
            table = self.table()
            self._set_task_locked(table, (table["graph_id"] == graph_id).to_numpy(), task)

    def label_tasks(self, csv_path: str | os.PathLike[str]) -> int:
        """Bulk task labels from a CSV with columns ``slug,task`` (header row).

        Returns the number of graphs labelled. Every slug must be in the
        corpus; nothing is changed when one is not.
        """
        try:
            labels = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise CorpusError(f"{csv_path}: cannot read task labels ({exc})") from None
        if not {"slug", "task"} <= set(labels.columns):
            raise CorpusError(f"{csv_path}: needs the columns slug and task, has "
                              f"{list(labels.columns)}")
        with self._lock():
            table = self.table().copy()
            unknown = sorted(set(labels["slug"]) - set(table["slug"]))
            if unknown:
                raise CorpusError(f"{csv_path}: slugs not in the corpus: {', '.join(unknown[:10])}")
            mapping = dict(zip(labels["slug"], labels["task"]))
            mask = table["slug"].isin(mapping).to_numpy()
            new_task = table.loc[mask, "slug"].map(mapping)
            table.loc[mask, "task"] = new_task
            metas = []
            for text, task in zip(table.loc[mask, "meta_json"], new_task):
                meta = json.loads(text)
                meta["task"] = task
                metas.append(json.dumps(meta, allow_nan=True))
            table.loc[mask, "meta_json"] = metas
            self._commit(table)
        return int(mask.sum())

    def remove(self, key: str) -> str:
        """Remove a graph and its cached results; returns its graph_id."""
        with self._lock():
            graph_id = self.resolve(key)
            table = self.table()
            self._commit(table.loc[table["graph_id"] != graph_id])
            shutil.rmtree(self._nodes_path(graph_id).parent, ignore_errors=True)
            shutil.rmtree(self._edges_path(graph_id).parent, ignore_errors=True)
            for path in (self.root / "results").glob(f"*/{graph_id}-*.parquet"):
                path.unlink(missing_ok=True)
        return graph_id

    # -------------------------------------------------------------- results
    def _result_path(self, graph_id: str, method: str, params: dict[str, Any]) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in method)
        return self.root / "results" / safe / f"{graph_id}-{params_hash(params)}.parquet"

    def read_result(self, graph_id: str, method: str, params: dict[str, Any]) -> pd.DataFrame | None:
        """A cached analysis table, or None when not computed yet."""
        path = self._result_path(graph_id, method, params)
        if not path.exists():
            return None
        try:
            return _read_table(path).to_pandas()
        except (pa.ArrowInvalid, OSError):
            return None  # a corrupt cache entry is recomputed, not fatal

    def write_result(self, graph_id: str, method: str, params: dict[str, Any],
                     table: pd.DataFrame) -> Path:
        """Cache an analysis table for (graph, method, params), atomically."""
        path = self._result_path(graph_id, method, params)
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        arrow = arrow.replace_schema_metadata({
            **(arrow.schema.metadata or {}),
            b"circuit_grammar_params": json.dumps(params, sort_keys=True, default=str).encode(),
        })
        _write_table(path, arrow)
        return path
