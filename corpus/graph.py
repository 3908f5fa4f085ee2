"""AttributionGraph: the one in-memory form of an attribution graph.

Whatever produced a graph (our tracer, a Neuronpedia export, an Anthropic
``jackl-*`` file), the rest of the toolkit sees this structure:

- ``nodes``: a pandas DataFrame, one row per node (columns in ``NODE_COLUMNS``);
- ``src``, ``dst``, ``weight``: aligned edge arrays, ``src``/``dst`` int32 row
  numbers into ``nodes`` and ``weight`` float32 (signed direct effect);
- ``path``: optional int8 array aligned with the edges, ``PATHS`` codes, set
  when the tracer split each edge into its residual-direct and
  attention-mediated parts (then one (src, dst) pair has up to two rows);
- ``meta``: a :class:`GraphMeta`.

Row order carries no meaning: code selects nodes by ``kind``, never by
position in the table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from corpus.errors import CorpusError

if TYPE_CHECKING:  # heavy or optional imports only for type checkers
    import igraph
    import networkx

#: Node kinds. ``lorsa`` (attention features), ``lorsa_error`` and ``bias``
#: appear only in CRM exports; ``unknown`` keeps a node whose type a file
#: declares as unknown.
KINDS: tuple[str, ...] = (
    "embedding",
    "feature",
    "error",
    "logit",
    "lorsa",
    "lorsa_error",
    "bias",
    "unknown",
)

#: Edge path codes (``AttributionGraph.path``).
PATHS: tuple[str, ...] = ("residual", "attention")

#: Transcoder types a graph can come from.
TRANSCODER_TYPES: tuple[str, ...] = ("plt", "clt", "skip", "unknown")

#: Where a graph came from.
SOURCES: tuple[str, ...] = ("trace", "neuronpedia", "anthropic", "global", "file")

#: Node table columns and their dtypes.
NODE_COLUMNS: dict[str, str] = {
    "node_id": "string",  # Neuronpedia-compatible id, what links reference
    "kind": "string",  # one of KINDS
    "layer": "int32",  # embeddings -1, logits n_layers
    "pos": "int32",  # token position (ctx_idx)
    "feature": "Int64",  # per-layer feature index where known
    "feature_id": "Int64",  # the raw `feature` field of the export (cantor, opaque, vocab id)
    "token": "string",  # token text for embeddings and logits
    "activation": "float64",
    "influence": "float64",
    "prob": "float64",  # logits: token probability
    "label": "string",  # clerp
    "js_node_id": "string",
    "feature_type": "string",  # the export's own feature_type string
    "is_target": "bool",  # the target logit
}


@dataclass
class GraphMeta:
    """Everything known about a graph besides its nodes and edges.

    Attributes
    ----------
    slug : str
        Short unique-ish name (Neuronpedia slug).
    model : str
        Model name (``gemma-2-2b``, ``llama-3.2-1b``, ``claude-3.5-haiku``...).
    scan : str
        Neuronpedia ``scan`` (model id, transcoder-set name or Anthropic run).
    transcoder_type : str
        One of ``TRANSCODER_TYPES``.
    prompt : str
    prompt_tokens : list of str
    source : str
        One of ``SOURCES``.
    schema_version : int or None
        Neuronpedia feature-encoding schema (None = schema 0).
    n_layers : int or None
        Number of transformer layers (logit nodes sit at this layer).
    node_threshold, edge_threshold : float or None
        Pruning thresholds used to make the graph.
    replacement_score, completeness_score : float or None
        Graph scores of Ameisen et al. 2025, when computed.
    task : str or None
        A user label (``factual-recall``, ``antonyms``...).
    qparams : dict
        Saved UI state: ``pinnedIds``, ``supernodes``, ``linkType``,
        ``clickedId``, ``sg_pos``.
    extra : dict
        Every other metadata key of the export, kept for a faithful re-export.
    origin : str
        The file or URL it was read from (not part of the content hash).
    """

    slug: str = ""
    model: str = "unknown"
    scan: str = ""
    transcoder_type: str = "unknown"
    prompt: str = ""
    prompt_tokens: list[str] = field(default_factory=list)
    source: str = "file"
    schema_version: int | None = None
    n_layers: int | None = None
    node_threshold: float | None = None
    edge_threshold: float | None = None
    replacement_score: float | None = None
    completeness_score: float | None = None
    task: str | None = None
    qparams: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphMeta:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def empty_nodes(n: int = 0) -> pd.DataFrame:
    """A node table of ``n`` rows with every column at its missing value."""
    frame = pd.DataFrame(
        {name: pd.Series([pd.NA] * n, dtype=dtype) if dtype in ("string", "Int64")
         else pd.Series(np.zeros(n), dtype=dtype) for name, dtype in NODE_COLUMNS.items()}
    )
    for name in ("activation", "influence", "prob"):
        frame[name] = np.nan
    return frame


def coerce_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    """Return ``nodes`` with exactly ``NODE_COLUMNS`` in order and dtype.

    Missing columns are added at their missing value; extra columns are kept
    after the standard ones.
    """
    out = nodes.reset_index(drop=True).copy()
    n = len(out)
    for name, dtype in NODE_COLUMNS.items():
        if name not in out.columns:
            if dtype in ("string", "Int64"):
                out[name] = pd.Series([pd.NA] * n, dtype=dtype)
            elif dtype == "bool":
                out[name] = np.zeros(n, dtype=bool)
            elif dtype == "float64":
                out[name] = np.full(n, np.nan)
            else:
                raise CorpusError(f"node table lacks required column {name!r}")
        else:
            out[name] = out[name].astype(dtype)
    extra = [c for c in out.columns if c not in NODE_COLUMNS]
    return out[list(NODE_COLUMNS) + extra]


@dataclass
class AttributionGraph:
    """One prompt's attribution graph (Ameisen et al. 2025, "Circuit Tracing").

    Parameters
    ----------
    nodes : pandas.DataFrame
        One row per node; see ``NODE_COLUMNS``.
    src, dst : (n_edges,) int32
        Row numbers into ``nodes`` of each edge's source and target.
    weight : (n_edges,) float32
        Signed direct effect of source on target.
    meta : GraphMeta
    path : (n_edges,) int8 or None
        Codes into ``PATHS`` when edges were split by path.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> nodes = pd.DataFrame({"node_id": ["E_5_0", "0_7_0", "2_9_0"],
    ...                       "kind": ["embedding", "feature", "logit"],
    ...                       "layer": [-1, 0, 2], "pos": [0, 0, 0]})
    >>> g = AttributionGraph.from_arrays(nodes, [0, 1, 0], [1, 2, 2], [0.5, 2.0, -1.0])
    >>> g.n_nodes, g.n_edges
    (3, 3)
    >>> g.validate()
    >>> sorted(g.to_networkx().edges(data="weight"))
    [('0_7_0', '2_9_0', 2.0), ('E_5_0', '0_7_0', 0.5), ('E_5_0', '2_9_0', -1.0)]
    """

    nodes: pd.DataFrame
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    meta: GraphMeta = field(default_factory=GraphMeta)
    path: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls,
        nodes: pd.DataFrame,
        src: Any,
        dst: Any,
        weight: Any,
        meta: GraphMeta | None = None,
        path: Any = None,
    ) -> AttributionGraph:
        """Build a graph, coercing columns and arrays to their canonical dtypes."""
        return cls(
            nodes=coerce_nodes(nodes),
            src=np.ascontiguousarray(src, dtype=np.int32),
            dst=np.ascontiguousarray(dst, dtype=np.int32),
            weight=np.ascontiguousarray(weight, dtype=np.float32),
            meta=meta if meta is not None else GraphMeta(),
            path=None if path is None else np.ascontiguousarray(path, dtype=np.int8),
        )

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def name(self) -> str:
        """The slug, or the origin when there is no slug: for messages."""
        return self.meta.slug or self.meta.origin or "<graph>"

    def kind_mask(self, *kinds: str) -> np.ndarray:
        """Boolean (n_nodes,) mask of nodes whose kind is one of ``kinds``."""
        return self.nodes["kind"].isin(kinds).to_numpy(dtype=bool)

    def edges_frame(self) -> pd.DataFrame:
        """Edges as a DataFrame with source/target node ids, for reading."""
        ids = self.nodes["node_id"].to_numpy(dtype=object)
        frame = pd.DataFrame(
            {"src": self.src, "dst": self.dst, "source": ids[self.src],
             "target": ids[self.dst], "weight": self.weight}
        )
        if self.path is not None:
            frame["path"] = np.asarray(PATHS, dtype=object)[self.path]
        return frame

    def merged_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, weight) with split path parts summed into one edge."""
        if self.path is None:
            return self.src, self.dst, self.weight
        key = self.src.astype(np.int64) * max(self.n_nodes, 1) + self.dst
        uniq, inverse = np.unique(key, return_inverse=True)
        total = np.zeros(uniq.shape[0], dtype=np.float64)
        np.add.at(total, inverse, self.weight)
        n = max(self.n_nodes, 1)
        return (uniq // n).astype(np.int32), (uniq % n).astype(np.int32), total.astype(np.float32)

    # -------------------------------------------------------------- checking
    def validate(self) -> None:
        """Check the graph is internally consistent.

        Raises
        ------
        CorpusError
            Naming the graph and the first problem found: unequal edge
            arrays, an endpoint outside the node table, a non-finite weight,
            an unknown kind or path code, a layer inconsistent with its kind,
            or a (node_id, kind) pair used twice.
        """
        missing = [c for c in NODE_COLUMNS if c not in self.nodes.columns]
        if missing:
            raise CorpusError(f"{self.name}: node table lacks columns {missing}")
        self._check_edges()
        self._check_node_ids()
        self._check_layers()
        if self.meta.transcoder_type not in TRANSCODER_TYPES:
            raise CorpusError(f"{self.name}: unknown transcoder_type {self.meta.transcoder_type!r}")

    def _check_edges(self) -> None:
        """Equal edge arrays, endpoints among the nodes, finite weights, known path codes."""
        name = self.name
        n, m = self.n_nodes, self.n_edges
        if not (self.dst.shape[0] == m and self.weight.shape[0] == m):
            raise CorpusError(
                f"{name}: edge arrays differ in length (src {m}, dst {self.dst.shape[0]}, "
                f"weight {self.weight.shape[0]})"
            )
        if self.path is not None and self.path.shape[0] != m:
            raise CorpusError(f"{name}: path has {self.path.shape[0]} entries for {m} edges")
        for end, arr in (("src", self.src), ("dst", self.dst)):
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                raise CorpusError(
                    f"{name}: edge {bad[0]} has {end} {arr[bad[0]]} outside the {n} nodes"
                )
        bad = np.flatnonzero(~np.isfinite(self.weight))
        if bad.size:
            raise CorpusError(f"{name}: edge {bad[0]} has non-finite weight {self.weight[bad[0]]}")
        if self.path is not None:
            bad = np.flatnonzero((self.path < 0) | (self.path >= len(PATHS)))
            if bad.size:
                raise CorpusError(f"{name}: edge {bad[0]} has unknown path code {self.path[bad[0]]}")

    def _check_node_ids(self) -> None:
        """Known kinds, a node_id on every node, each (node_id, kind) pair once."""
        name = self.name
        kinds = self.nodes["kind"]
        unknown = ~kinds.isin(KINDS)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise CorpusError(f"{name}: node {row} has unknown kind {kinds.iloc[row]!r}")
        if self.nodes["node_id"].isna().any():
            row = int(np.flatnonzero(self.nodes["node_id"].isna().to_numpy())[0])
            raise CorpusError(f"{name}: node {row} has no node_id")
        dup = self.nodes.duplicated(subset=["node_id", "kind"])
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise CorpusError(
                f"{name}: node {row} repeats id {self.nodes['node_id'].iloc[row]!r} "
                f"of kind {kinds.iloc[row]!r}"
            )

    def _check_layers(self) -> None:
        """The layer convention: embeddings at -1, features and errors at 0 or
        above, logits above them all (at ``n_layers`` when it is known)."""
        name = self.name
        layer = self.nodes["layer"].to_numpy()
        kind = self.nodes["kind"].to_numpy(dtype=object)
        emb = kind == "embedding"
        if (layer[emb] != -1).any():
            row = int(np.flatnonzero(emb & (layer != -1))[0])
            raise CorpusError(f"{name}: embedding node {row} has layer {layer[row]}, expected -1")
        inner = ~np.isin(kind, ("embedding", "logit"))
        if (layer[inner] < 0).any():
            row = int(np.flatnonzero(inner & (layer < 0))[0])
            raise CorpusError(f"{name}: {kind[row]} node {row} has negative layer {layer[row]}")
        logit = kind == "logit"
        if logit.any() and inner.any() and layer[logit].min() <= layer[inner].max():
            raise CorpusError(
                f"{name}: logit layer {layer[logit].min()} is not above every feature/error "
                f"layer (max {layer[inner].max()})"
            )
        n_layers = self.meta.n_layers
        if n_layers is not None:
            if inner.any() and layer[inner].max() >= n_layers:
                row = int(np.flatnonzero(inner & (layer >= n_layers))[0])
                raise CorpusError(
                    f"{name}: node {row} has layer {layer[row]} but the model has {n_layers} layers"
                )
            if logit.any() and (layer[logit] != n_layers).any():
                raise CorpusError(f"{name}: logit nodes must sit at layer n_layers={n_layers}")

    # ------------------------------------------------------------- identity
    def content_hash(self) -> str:
        """SHA-256 (hex) of the graph's content: nodes, edges, prompt, model.

        User-side labels (task, origin, qParams) are left out, so re-importing
        the same file with another task label is recognised as the same graph.
        """
        h = hashlib.sha256()
        cols = ["node_id", "kind", "layer", "pos", "feature", "feature_id", "token",
                "activation", "influence", "prob", "label"]
        h.update(pd.util.hash_pandas_object(self.nodes[cols], index=False).to_numpy().tobytes())
        for arr in (self.src, self.dst, self.weight):
            h.update(np.ascontiguousarray(arr).tobytes())
        if self.path is not None:
            h.update(self.path.tobytes())
        m = self.meta
        h.update(json.dumps([m.slug, m.model, m.scan, m.transcoder_type, m.prompt,
                             m.prompt_tokens]).encode())
        return h.hexdigest()

    # ---------------------------------------------------------- conversions
    def node_keys(self) -> list[str]:
        """Unique string keys for the nodes: ``node_id``, or ``node_id|kind``
        for the later rows of an id shared by two kinds (a known collision in
        published files between error ids and layer-0 feature ids)."""
        ids = self.nodes["node_id"].astype(object).tolist()
        dup = self.nodes["node_id"].duplicated().to_numpy()
        kinds = self.nodes["kind"].astype(object).tolist()
        return [f"{i}|{k}" if d else i for i, k, d in zip(ids, kinds, dup)]

    def to_networkx(self) -> networkx.DiGraph:
        """A ``networkx.DiGraph`` keyed by :meth:`node_keys`, node columns as
        attributes, edge ``weight`` (split path parts summed)."""
        import networkx as nx

        keys = self.node_keys()
        graph = nx.DiGraph(**{k: v for k, v in self.meta.to_dict().items()
                              if k not in ("qparams", "extra")})
        records = self.nodes.astype(object).where(self.nodes.notna(), None).to_dict("records")
        graph.add_nodes_from(zip(keys, records))
        src, dst, weight = self.merged_edges()
        graph.add_weighted_edges_from(
            (keys[s], keys[t], float(w)) for s, t, w in zip(src.tolist(), dst.tolist(), weight.tolist())
        )
        return graph

    def to_igraph(self) -> igraph.Graph:
        """An ``igraph.Graph`` (directed), vertex i = node row i, vertex
        attribute ``name`` = :meth:`node_keys`, other node columns as
        attributes, edge attribute ``weight`` (split path parts summed)."""
        import igraph as ig

        src, dst, weight = self.merged_edges()
        graph = ig.Graph(n=self.n_nodes, edges=np.column_stack([src, dst]).tolist(), directed=True)
        graph.vs["name"] = self.node_keys()
        for col in self.nodes.columns:
            values = self.nodes[col].astype(object)
            graph.vs[col] = values.where(values.notna(), None).tolist()
        graph.es["weight"] = weight.astype(float).tolist()
        return graph

    def subgraph(self, keep: np.ndarray) -> AttributionGraph:
        """The graph induced on the nodes where boolean ``keep`` is true."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.full(self.n_nodes, -1, dtype=np.int64)
        new_index[keep] = np.arange(int(keep.sum()))
        edge_keep = keep[self.src] & keep[self.dst]
        return AttributionGraph(
            nodes=self.nodes[keep].reset_index(drop=True),
            src=new_index[self.src[edge_keep]].astype(np.int32),
            dst=new_index[self.dst[edge_keep]].astype(np.int32),
            weight=self.weight[edge_keep],
            meta=dataclasses.replace(self.meta),
            path=None if self.path is None else self.path[edge_keep],
        )
