"""Read and write Neuronpedia / Anthropic attribution-graph JSON.

Every variant in ``NEURONPEDIA_FORMAT.md`` is read into an
:class:`~corpus.graph.AttributionGraph`:

- circuit-tracer schema 1 (``feature`` = Cantor pairing of layer and index),
  also what Neuronpedia generates and what its "Download Graph JSON + Labels"
  button saves;
- schema 0 (``feature`` = layer * 10**k + index, older gemma graphs);
- Anthropic ``jackl-*`` files (opaque global feature ids, jsNodeId-space
  qParams);
- the CRM / lorsa back end (4-part ids ``{L}_cro_{idx}_{pos}``, lorsa, lorsa
  error and bias nodes, ``qk_only_nodes``).

Export writes the circuit-tracer schema-1 form that Neuronpedia's upload
schema accepts. Layer conventions: our logit nodes sit at ``n_layers``; the
circuit-tracer files put them at ``n_layers + 1``, the Anthropic and CRM files
at ``n_layers``; import and export convert.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import warnings
from pathlib import Path
from functools import partial
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd

from corpus.atomic import atomic_write_bytes
from corpus.errors import CorpusError
from corpus.graph import AttributionGraph, GraphMeta, coerce_nodes

#: feature_type string of the export -> our node kind.
FEATURE_TYPE_KIND: dict[str, str] = {
    "cross layer transcoder": "feature",
    "unexplored node": "feature",  # legacy Anthropic; the UI shows it as a CLT node
    "mlp reconstruction error": "error",
    "embedding": "embedding",
    "logit": "logit",
    "lorsa": "lorsa",
    "lorsa error": "lorsa_error",
    "bias": "bias",
    "unknown": "unknown",
}

#: our node kind -> feature_type written on export (for nodes made by us).
KIND_FEATURE_TYPE: dict[str, str] = {
    "feature": "cross layer transcoder",
    "error": "mlp reconstruction error",
    "embedding": "embedding",
    "logit": "logit",
    "lorsa": "lorsa",
    "lorsa_error": "lorsa error",
    "bias": "bias",
    "unknown": "unknown",
}

#: Transformer layer counts of the models Neuronpedia hosts graphs for.
KNOWN_N_LAYERS: dict[str, int] = {
    "gemma-2-2b": 26,
    "gemma-2-9b": 42,
    "gemma-3-1b": 26,
    "gemma-3-4b": 34,
    "llama-3.2-1b": 16,
    "llama-3.1-8b": 32,
    "qwen3-0.6b": 28,
    "qwen3-1.7b": 28,
    "qwen3-4b": 36,
    "qwen3-8b": 36,
}

#: Anthropic runs: scan fragment -> (model, transcoder type).
ANTHROPIC_RUNS: dict[str, tuple[str, str]] = {
    "sofa": ("claude-3.5-haiku", "clt"),
    "druid": ("anthropic-18l", "clt"),
    "rune": ("anthropic-18l", "plt"),
    "valet": ("anthropic-model-organism", "clt"),
}

_MODEL_PATTERN = re.compile(
    r"(gemma-?[23]-\d+b(?:-it)?|llama-?3\.\d-\d+b|qwen-?[23](?:\.5)?-[\d.]+b|gpt-?2(?:-small)?)",
    re.IGNORECASE,
)
#: Node fields mapped onto our columns; any other field is kept in ``extra_json``.
_STANDARD_NODE_KEYS = frozenset({
    "node_id", "feature", "layer", "ctx_idx", "feature_type", "token_prob", "is_target_logit",
    "run_idx", "reverse_ctx_idx", "jsNodeId", "clerp", "influence", "activation", "token",
})
_LOGIT_LABEL = re.compile(r'^\s*(?:Output|output:|Logit)\s*"(.*)"\s*\(p=', re.DOTALL)


class NodeIdCollisionWarning(UserWarning):
    """Two nodes of different kinds share one node_id (a known defect of
    circuit-tracer ids: error ``0_{L}_{pos}`` vs layer-0 feature ``0_{idx}_{pos}``)."""


# ----------------------------------------------------------------- decoding
def cantor_pair(layer: np.ndarray | int, index: np.ndarray | int) -> np.ndarray | int:
    """Cantor pairing used by circuit-tracer schema 1: (l+i)(l+i+1)/2 + i.

    >>> cantor_pair(20, 15589)
    121843834
    """
    s = np.asarray(layer, dtype=np.int64) + np.asarray(index, dtype=np.int64)
    out = s * (s + 1) // 2 + np.asarray(index, dtype=np.int64)
    return int(out) if np.ndim(out) == 0 else out


def cantor_unpair(z: np.ndarray | int) -> tuple[Any, Any]:
    """Inverse of :func:`cantor_pair`: z -> (layer, index), exact for int64.

    >>> cantor_unpair(121843834)
    (20, 15589)
    """
    z = np.asarray(z, dtype=np.int64)
    w = np.floor((np.sqrt(8.0 * z.astype(np.float64) + 1.0) - 1.0) / 2.0).astype(np.int64)
    # float sqrt can be off by one for large z: correct both ways
    w = np.where(w * (w + 1) // 2 > z, w - 1, w)
    w = np.where((w + 1) * (w + 2) // 2 <= z, w + 1, w)
    index = z - w * (w + 1) // 2
    if index.ndim == 0:
        return int(w - index), int(index)
    return w - index, index


def schema0_index(feature: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Schema-0 decoding: feature = layer * 10**k + index (layer 0: index).

    ``k`` is the number of digits left after the layer's own digits, so
    gemma's 16k transcoders give 20_15589 -> 2015589.

    >>> schema0_index(np.array([2015589, 35]), np.array([20, 0])).tolist()
    [15589, 35]
    """
    feature = np.asarray(feature, dtype=np.int64)
    layer = np.asarray(layer, dtype=np.int64)
    f_digits = np.char.str_len(feature.astype(str))
    l_digits = np.char.str_len(layer.astype(str))
    power = np.power(10, np.maximum(f_digits - l_digits, 0)).astype(np.int64)
    return np.where(layer == 0, feature, feature - layer * power)


def infer_model(scan: str, transcoder_set: str = "") -> str:
    """Model name from a scan / transcoder-set name.

    >>> infer_model("mntss/clt-llama-3.2-1b-524k")
    'llama-3.2-1b'
    >>> infer_model("mntss/gemma-scope-transcoders")
    'gemma-2-2b'
    >>> infer_model("jackl-circuits-runs-1-4-sofa-v3_0")
    'claude-3.5-haiku'
    """
    for text in (scan, transcoder_set):
        if not text:
            continue
        if text.startswith("jackl"):
            for key, (model, _) in ANTHROPIC_RUNS.items():
                if key in text:
                    return model
            return "anthropic-unknown"
        if "gemma-scope-transcoders" in text:
            return "gemma-2-2b"
        found = _MODEL_PATTERN.search(text)
        if found:
            name = found.group(1).lower()
            name = re.sub(r"^llama-?3", "llama-3", name)
            name = re.sub(r"^gemma-?", "gemma-", name)
            name = re.sub(r"^qwen-?", "qwen", name)
            return name.replace("gpt-2", "gpt2")
    return "unknown"


def infer_transcoder_type(names: list[str], kinds: set[str]) -> str:
    """clt / plt / skip / unknown from scan, transcoder-set and source-set names.

    >>> infer_transcoder_type(["mntss/clt-gemma-2-2b-2.5M"], {"feature"})
    'clt'
    >>> infer_transcoder_type(["gemmascope-transcoder-16k"], {"feature"})
    'plt'
    """
    text = " ".join(n.lower() for n in names if n)
    if text.startswith("jackl") or " jackl" in text:
        for key, (_, kind) in ANTHROPIC_RUNS.items():
            if key in text:
                return kind
    if "skip" in text:
        return "skip"
    if re.search(r"(^|[^a-z])clt([^a-z]|$)|cross-?layer", text):
        return "clt"
    if "transcoder" in text or re.search(r"(^|[^a-z])plt([^a-z]|$)", text):
        return "plt"
    return "unknown"


# ------------------------------------------------------------------ reading
def _fail(origin: str, problem: str) -> CorpusError:
    return CorpusError(f"{origin}: {problem}")


def _decode_bytes(data: bytes | str, origin: str) -> Any:
    if isinstance(data, bytes):
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise _fail(origin, f"corrupt gzip data ({exc})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(origin, f"not UTF-8 text ({exc})") from None
    else:
        text = data
    if not text.strip():
        raise _fail(origin, "file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(origin, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; "
                            "truncated file?)") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_layer(value: Any, origin: str, index: int) -> int:
    if isinstance(value, bool):
        raise _fail(origin, f"node {index}: layer must be a string or integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value == "E":
            return -1
        if value == "E1":  # the UI's logit layer alias
            return 10**6
        try:
            return int(value)
        except ValueError:
            pass
    raise _fail(origin, f"node {index}: layer {value!r} is neither 'E' nor an integer")


def _check_nodes(raw_nodes: list[Any], origin: str) -> None:
    """Validate field presence and types of every node, naming the index."""
    for i, node in enumerate(raw_nodes):
        if not isinstance(node, dict):
            raise _fail(origin, f"node {i} is a {type(node).__name__}, not an object")
        for key in ("node_id", "feature_type", "layer", "ctx_idx"):
            if key not in node:
                raise _fail(origin, f"node {i} lacks the field {key!r}")
        if not isinstance(node["node_id"], str) or not node["node_id"]:
            raise _fail(origin, f"node {i}: node_id must be a non-empty string, got {node['node_id']!r}")
        if not isinstance(node["feature_type"], str):
            raise _fail(origin, f"node {i} ({node['node_id']}): feature_type must be a string")
        if node["feature_type"] not in FEATURE_TYPE_KIND:
            raise _fail(origin, f"node {i} ({node['node_id']}): unknown feature_type "
                                f"{node['feature_type']!r}")
        if not isinstance(node["ctx_idx"], int) or isinstance(node["ctx_idx"], bool) \
                or node["ctx_idx"] < 0:
            raise _fail(origin, f"node {i} ({node['node_id']}): ctx_idx must be a non-negative "
                                f"integer, got {node['ctx_idx']!r}")
        feature = node.get("feature")
        if feature is not None and (not isinstance(feature, int) or isinstance(feature, bool)):
            raise _fail(origin, f"node {i} ({node['node_id']}): feature must be an integer or "
                                f"null, got {feature!r}")
        for key in ("activation", "influence", "token_prob"):
            value = node.get(key)
            if value is not None and not _is_number(value):
                raise _fail(origin, f"node {i} ({node['node_id']}): {key} must be a number, "
                                    f"got {value!r}")
            if value is not None and not math.isfinite(value):
                raise _fail(origin, f"node {i} ({node['node_id']}): {key} is {value}")
        for key in ("clerp", "jsNodeId", "token"):
            value = node.get(key)
            if value is not None and not isinstance(value, str):
                raise _fail(origin, f"node {i} ({node['node_id']}): {key} must be a string, "
                                    f"got {value!r}")


def _variant(meta: dict[str, Any], raw_nodes: list[dict[str, Any]]) -> str:
    scan = str(meta.get("scan") or "")
    if scan.startswith("jackl"):
        return "anthropic"
    crm_types = {"lorsa", "lorsa error", "bias"}
    if any(n["feature_type"] in crm_types for n in raw_nodes) or any(
        re.match(r"^\d+_(cro|lor|error|bias)_", n["node_id"]) for n in raw_nodes
    ):
        return "crm"
    if meta.get("schema_version") == 1:
        return "schema1"
    return "schema0"


def _link_fields(raw_links: list[Any], origin: str) -> tuple[list[Any], list[Any], np.ndarray]:
    """Each link's source id, target id and weight (float64), checked: objects with
    the three fields, a finite number for the weight, node_id strings for the ends."""
    sources: list[Any] = []
    targets: list[Any] = []
    weights: list[Any] = []
    for j, link in enumerate(raw_links):
        if not isinstance(link, dict):
            raise _fail(origin, f"link {j} is a {type(link).__name__}, not an object")
        try:
            sources.append(link["source"])
            targets.append(link["target"])
            weights.append(link["weight"])
        except KeyError as exc:
            raise _fail(origin, f"link {j} lacks the field {exc.args[0]!r}") from None
    bad_type = [j for j, w in enumerate(weights) if not _is_number(w)]
    if bad_type:
        j = bad_type[0]
        raise _fail(origin, f"link {j} ({sources[j]} -> {targets[j]}): weight must be a number, "
                            f"got {weights[j]!r}")
    weight = np.asarray(weights, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(weight))
    if bad.size:
        j = int(bad[0])
        raise _fail(origin, f"link {j} ({sources[j]} -> {targets[j]}): weight is {weight[j]}")
    for label, ends in (("source", sources), ("target", targets)):
        for j, end in enumerate(ends):
            if not isinstance(end, str):
                raise _fail(origin, f"link {j}: {label} must be a node_id string, got {end!r}")
    return sources, targets, weight


def _resolve_links(
    raw_links: list[Any], ids: pd.Index, layers: np.ndarray, origin: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map link endpoints to node rows; disambiguate colliding ids.

    A link whose endpoint id names two nodes is resolved by the layer order
    every published file obeys (sources in strictly lower layers than
    targets); when both candidates fit, repeated (source, target) pairs are
    assigned to the candidates in file order.
    """
    sources, targets, weight = _link_fields(raw_links, origin)
    single = pd.Series(np.arange(len(ids)), index=ids)
    single = single[~ids.duplicated(keep=False)]
    src = np.array(single.reindex(sources).to_numpy(), dtype=np.float64)
    dst = np.array(single.reindex(targets).to_numpy(), dtype=np.float64)
    missing = np.isnan(src) | np.isnan(dst)
    if missing.any():
        dup_ids = set(ids[ids.duplicated(keep=False)])
        rows_of: dict[str, list[int]] = {}
        for row, node_id in enumerate(ids):
            if node_id in dup_ids:
                rows_of.setdefault(node_id, []).append(row)
        seen_pairs: dict[tuple[str, str], int] = {}
        for j in np.flatnonzero(missing):
            s_id, t_id = sources[j], targets[j]
            for label, end in (("source", s_id), ("target", t_id)):
                if end not in rows_of and np.isnan(single.get(end, np.nan)):
                    raise _fail(origin, f"link {j} ({s_id} -> {t_id}): {label} {end!r} is not a node")
            s_cand = rows_of.get(s_id, [int(single.get(s_id, -1))])
            t_cand = rows_of.get(t_id, [int(single.get(t_id, -1))])
            pairs = [(s, t) for s in s_cand for t in t_cand if layers[s] < layers[t]]
            if not pairs:
                pairs = [(s, t) for s in s_cand for t in t_cand]
            k = seen_pairs.get((s_id, t_id), 0)
            seen_pairs[(s_id, t_id)] = k + 1
            src[j], dst[j] = pairs[min(k, len(pairs) - 1)]
    return src.astype(np.int32), dst.astype(np.int32), weight.astype(np.float32)


def _check_envelope(data: Any, origin: str) -> tuple[dict[str, Any], dict[str, Any],
                                                      list[dict[str, Any]], list[str]]:
    """The file's envelope: ``{metadata, qParams, nodes, links}`` with the right types.

    Returns the metadata, the qParams, the (checked) nodes and the prompt tokens.
    """
    if not isinstance(data, dict):
        raise _fail(origin, f"top level is a {type(data).__name__}, expected an object with "
                            "metadata, nodes and links")
    for key in ("nodes", "links"):
        if key not in data:
            raise _fail(origin, f"missing the top-level field {key!r}")
        if not isinstance(data[key], list):
            raise _fail(origin, f"{key!r} must be a list, got {type(data[key]).__name__}")
    meta_raw = data.get("metadata")
    if meta_raw is None:
        raise _fail(origin, "missing the top-level field 'metadata'")
    if not isinstance(meta_raw, dict):
        raise _fail(origin, "'metadata' must be an object")
    qparams = data.get("qParams") or {}
    if not isinstance(qparams, dict):
        raise _fail(origin, "'qParams' must be an object")
    raw_nodes = data["nodes"]
    if not raw_nodes:
        raise _fail(origin, "the graph has no nodes")
    _check_nodes(raw_nodes, origin)
    prompt_tokens = meta_raw.get("prompt_tokens") or []
    if not isinstance(prompt_tokens, list) or not all(isinstance(t, str) for t in prompt_tokens):
        raise _fail(origin, "metadata.prompt_tokens must be a list of strings")
    return meta_raw, qparams, raw_nodes, prompt_tokens


def _check_unique_ids(ids: list[str], kinds: np.ndarray, ftypes: list[str], origin: str) -> None:
    """The same id twice within one kind is an error; across kinds a known collision.

    The collision (circuit-tracer's error ``0_{L}_{pos}`` against the layer-0
    feature ``0_{idx}_{pos}``) is warned about and kept apart by kind.
    """
    frame = pd.DataFrame({"node_id": ids, "kind": kinds})
    dup_same = frame.duplicated(keep="first")
    if dup_same.any():
        i = int(np.flatnonzero(dup_same.to_numpy())[0])
        first = ids.index(ids[i])
        raise _fail(origin, f"node {i} repeats node_id {ids[i]!r} of node {first} "
                            f"(both {ftypes[i]!r})")
    collided = sorted(set(frame.loc[frame["node_id"].duplicated(keep=False), "node_id"]))
    if collided:
        warnings.warn(
            f"{origin}: node ids shared by nodes of different kinds (kept apart by kind; links "
            f"resolved by layer order): {', '.join(collided)}",
            NodeIdCollisionWarning,
            stacklevel=3,  # the caller of from_json_dict
        )


def _our_layers(kinds: np.ndarray, layers: np.ndarray, variant: str
                ) -> tuple[np.ndarray, int | None]:
    """File layers -> ours: embeddings at -1, logits at ``n_layers``.

    circuit-tracer files (schema 0 and 1) write the logits at ``n_layers + 1``,
    Anthropic and CRM files at ``n_layers``; the UI alias ``"E1"`` (no layer)
    places them above the rest. Returns the new layers and ``n_layers``
    (None for a graph with neither logits nor inner nodes).

    >>> kinds = np.array(["embedding", "feature", "logit"], dtype=object)
    >>> layers, n_layers = _our_layers(kinds, np.array([-1, 3, 27]), "schema1")
    >>> layers.tolist(), n_layers
    ([-1, 3, 26], 26)
    """
    layers = layers.copy()
    logit = kinds == "logit"
    inner = ~np.isin(kinds, ("embedding", "logit"))
    if logit.any():
        json_logit_layer = int(layers[logit].max())
        if json_logit_layer == 10**6:  # "E1": no layer given, place above the rest
            json_logit_layer = int(layers[inner].max()) + 1 if inner.any() else 1
        n_layers = json_logit_layer - 1 if variant in ("schema0", "schema1") else json_logit_layer
        if inner.any() and n_layers <= layers[inner].max():
            n_layers = int(layers[inner].max()) + 1
    else:
        n_layers = int(layers[inner].max()) + 1 if inner.any() else None
    if n_layers is not None:
        layers[logit] = n_layers
    layers[kinds == "embedding"] = -1
    return layers, n_layers


# Per-layer feature index, one decoder per variant (the ``_FEATURE_INDEX`` table).
# Each takes (ids, is_feature, layers, raw feature field, origin) and returns an Int64 array.
def _schema1_ids_agree(raw: np.ndarray, layer: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Schema 1: ``feature`` is the Cantor pair of (layer, index)."""
    dec_layer, dec_idx = cantor_unpair(raw)
    return (dec_layer == layer) & (dec_idx == index)


def _schema0_ids_agree(raw: np.ndarray, layer: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Schema 0: ``feature`` is layer * 10**k + index (old qwen files: the index alone)."""
    return (schema0_index(raw, layer) == index) | (raw == index)


def _circuit_tracer_feature_index(
    ids: list[str], is_feat: np.ndarray, layers: np.ndarray, raw_feature: Any, origin: str,
    *, ids_agree: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> Any:
    """circuit-tracer ids ``{L}_{idx}_{pos}``: the index is the middle part.

    The ``feature`` field is checked against it (``ids_agree``); a feature whose
    field disagrees is warned about and keeps its node_id's index.
    """
    mid = np.array([int(p[1]) if len(p) == 3 and p[1].lstrip("-").isdigit() else -1
                    for p in (i.split("_") for i in ids)], dtype=np.int64)
    feature_index = pd.array(np.where(is_feat, mid, 0), dtype="Int64")
    feature_index[~is_feat] = pd.NA
    has_raw = is_feat & ~pd.isna(raw_feature)
    if has_raw.any():
        raw = raw_feature[has_raw].to_numpy(dtype=np.int64)
        ok = ids_agree(raw, layers[has_raw], mid[has_raw])
        if not ok.all():
            bad = np.flatnonzero(has_raw)[~ok]
            warnings.warn(
                f"{origin}: {bad.size} feature node(s) whose `feature` field does not decode "
                f"to the index in their node_id (first: {ids[bad[0]]}, feature "
                f"{raw_feature[bad[0]]}); using the node_id",
                stacklevel=3,  # the caller of from_json_dict
            )
    return feature_index


def _crm_feature_index(ids: list[str], is_feat: np.ndarray, layers: np.ndarray, raw_feature: Any,
                       origin: str) -> Any:
    """CRM ids ``{L}_cro_{idx}_{pos}``: the index is the third part."""
    idx = [int(p[2]) if len(p) == 4 and p[2].isdigit() else None
           for p in (i.split("_") for i in ids)]
    return pd.array([v if f else None for v, f in zip(idx, is_feat)], dtype="Int64")


def _opaque_feature_index(ids: list[str], is_feat: np.ndarray, layers: np.ndarray,
                          raw_feature: Any, origin: str) -> Any:
    """Anthropic features carry opaque global ids only: no per-layer index."""
    return pd.array([pd.NA] * len(ids), dtype="Int64")


#: variant -> decoder of the per-layer feature index.
_FEATURE_INDEX: dict[str, Callable[..., Any]] = {
    "schema1": partial(_circuit_tracer_feature_index, ids_agree=_schema1_ids_agree),
    "schema0": partial(_circuit_tracer_feature_index, ids_agree=_schema0_ids_agree),
    "crm": _crm_feature_index,
    "anthropic": _opaque_feature_index,
}


def _node_tokens(raw_nodes: list[dict[str, Any]], kinds: np.ndarray, pos: np.ndarray,
                 labels: list[Any], prompt_tokens: list[str]) -> list[Any]:
    """A node's token: its own ``token`` field, else the prompt token at its
    position (embeddings), else the quoted token of its label (logits)."""
    tokens: list[Any] = [None] * len(raw_nodes)
    for i, node in enumerate(raw_nodes):
        if node.get("token") is not None:
            tokens[i] = node["token"]
        elif kinds[i] == "embedding" and pos[i] < len(prompt_tokens):
            tokens[i] = prompt_tokens[pos[i]]
        elif kinds[i] == "logit" and labels[i]:
            found = _LOGIT_LABEL.match(labels[i])
            if found:
                tokens[i] = found.group(1)
    return tokens


def _nodes_frame(raw_nodes: list[dict[str, Any]], kinds: np.ndarray, layers: np.ndarray,
                 pos: np.ndarray, feature_index: Any, raw_feature: Any,
                 prompt_tokens: list[str]) -> pd.DataFrame:
    """The node table: the standard fields as our columns, any other field in ``extra_json``."""
    def column(key: str) -> np.ndarray:
        return np.array([np.nan if n.get(key) is None else float(n[key]) for n in raw_nodes])

    labels = [n.get("clerp") for n in raw_nodes]
    extra_fields = [
        {k: v for k, v in n.items() if k not in _STANDARD_NODE_KEYS} for n in raw_nodes
    ]
    nodes = pd.DataFrame(
        {
            "node_id": [n["node_id"] for n in raw_nodes],
            "kind": kinds,
            "layer": layers.astype(np.int32),
            "pos": pos.astype(np.int32),
            "feature": feature_index,
            "feature_id": raw_feature,
            "token": _node_tokens(raw_nodes, kinds, pos, labels, prompt_tokens),
            "activation": column("activation"),
            "influence": column("influence"),
            "prob": np.where(kinds == "logit", column("token_prob"), np.nan),
            "label": labels,
            "js_node_id": [n.get("jsNodeId") for n in raw_nodes],
            "feature_type": [n["feature_type"] for n in raw_nodes],
            "is_target": [bool(n.get("is_target_logit", False)) for n in raw_nodes],
        }
    )
    if any(extra_fields):
        # fields only some back ends write (CRM qk_tracing_results...), kept for re-export
        nodes["extra_json"] = pd.array(
            [json.dumps(e) if e else None for e in extra_fields], dtype="string")
    return coerce_nodes(nodes)


def _dict_field(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _model_and_type(meta_raw: dict[str, Any], kinds: np.ndarray, variant: str,
                    n_layers: int | None, origin: str) -> tuple[str, str]:
    """Model and transcoder type: ours if we wrote the file, else inferred from
    the scan, transcoder-set and source-set names; a model whose known depth
    disagrees with the logit layer is warned about."""
    info = _dict_field(meta_raw, "info")
    ours = _dict_field(info, "circuit_grammar")
    details = _dict_field(meta_raw, "feature_details")
    scan = str(meta_raw.get("scan") or "")
    tset = str(info.get("transcoder_set") or "")
    names = [scan, tset, str(info.get("neuronpedia_source_set") or ""),
             str(details.get("neuronpedia_source_set") or ""),
             *[str(u) for u in info.get("source_urls", []) if isinstance(u, str)],
             *[str(t) for t in (meta_raw.get("transcoder_list") or []) if isinstance(t, str)]]
    inferred_type = ours.get("transcoder_type") or infer_transcoder_type(names, set(kinds))
    inferred_model = ours.get("model") or infer_model(scan, tset)
    if inferred_model != "unknown" and inferred_model in KNOWN_N_LAYERS and n_layers is not None \
            and variant != "anthropic" and KNOWN_N_LAYERS[inferred_model] != n_layers:
        warnings.warn(f"{origin}: logit layer implies {n_layers} layers but {inferred_model} has "
                      f"{KNOWN_N_LAYERS[inferred_model]}",
                      stacklevel=4)  # the caller of from_json_dict
    return inferred_model, inferred_type


def _graph_meta(data: dict[str, Any], meta_raw: dict[str, Any], qparams: dict[str, Any],
                prompt_tokens: list[str], kinds: np.ndarray, variant: str, n_layers: int | None,
                origin: str, overrides: dict[str, str | None]) -> GraphMeta:
    """The metadata: standard keys as fields, every other key kept in ``extra``
    (with ``qk_only_nodes``), ours recovered from ``info.circuit_grammar``."""
    ours = _dict_field(_dict_field(meta_raw, "info"), "circuit_grammar")
    inferred_model, inferred_type = _model_and_type(meta_raw, kinds, variant, n_layers, origin)
    pruning = _dict_field(meta_raw, "pruning_settings")
    standard = {"slug", "scan", "prompt", "prompt_tokens", "schema_version", "node_threshold"}
    extra = {k: v for k, v in meta_raw.items() if k not in standard}
    if "qk_only_nodes" in data:
        extra["qk_only_nodes"] = data["qk_only_nodes"]
    node_threshold = meta_raw.get("node_threshold")
    task = overrides["task"]
    return GraphMeta(
        slug=overrides["slug"] or str(meta_raw.get("slug") or Path(origin).stem),
        model=overrides["model"] or inferred_model,
        scan=str(meta_raw.get("scan") or ""),
        transcoder_type=overrides["transcoder_type"] or inferred_type,
        prompt=str(meta_raw.get("prompt") or ""),
        prompt_tokens=list(prompt_tokens),
        source={"anthropic": "anthropic"}.get(variant, ours.get("source", "neuronpedia")),
        schema_version=meta_raw.get("schema_version"),
        n_layers=n_layers,
        node_threshold=float(node_threshold) if _is_number(node_threshold) else None,
        edge_threshold=float(pruning["edge_threshold"]) if _is_number(
            pruning.get("edge_threshold")) else ours.get("edge_threshold"),
        replacement_score=ours.get("replacement_score"),
        completeness_score=ours.get("completeness_score"),
        task=task if task is not None else ours.get("task"),
        qparams=qparams,
        extra=extra,
        origin=origin,
    )


def from_json_dict(
    data: Any,
    origin: str = "<json>",
    *,
    model: str | None = None,
    transcoder_type: str | None = None,
    slug: str | None = None,
    task: str | None = None,
) -> AttributionGraph:
    """Build an AttributionGraph from a parsed Neuronpedia / Anthropic graph.

    The format's parts, in order: the envelope, the variant, node ids, layers,
    feature ids (decoded per variant), the node table, links, metadata.

    Parameters
    ----------
    data : dict
        The parsed JSON (``{metadata, qParams, nodes, links}``).
    origin : str
        File name or URL, used in error messages and kept in ``meta.origin``.
    model, transcoder_type, slug, task : str, optional
        Override what is inferred from the file.

    Raises
    ------
    CorpusError
        Naming ``origin`` and the node or link index at fault.
    """
    meta_raw, qparams, raw_nodes, prompt_tokens = _check_envelope(data, origin)
    variant = _variant(meta_raw, raw_nodes)
    ids = [n["node_id"] for n in raw_nodes]
    ftypes = [n["feature_type"] for n in raw_nodes]
    kinds = np.array([FEATURE_TYPE_KIND[t] for t in ftypes], dtype=object)
    file_layers = np.array([_parse_layer(n["layer"], origin, i) for i, n in enumerate(raw_nodes)],
                           dtype=np.int64)
    pos = np.array([n["ctx_idx"] for n in raw_nodes], dtype=np.int64)
    raw_feature = pd.array([n.get("feature") for n in raw_nodes], dtype="Int64")
    _check_unique_ids(ids, kinds, ftypes, origin)
    layers, n_layers = _our_layers(kinds, file_layers, variant)
    is_feat = np.isin(kinds, ("feature", "lorsa"))
    feature_index = _FEATURE_INDEX[variant](ids, is_feat, layers, raw_feature, origin)
    nodes = _nodes_frame(raw_nodes, kinds, layers, pos, feature_index, raw_feature, prompt_tokens)
    src, dst, weight = _resolve_links(data["links"], pd.Index(ids), layers, origin)
    overrides = {"model": model, "transcoder_type": transcoder_type, "slug": slug, "task": task}
    meta = _graph_meta(data, meta_raw, qparams, prompt_tokens, kinds, variant, n_layers, origin,
                       overrides)
    graph = AttributionGraph(nodes=nodes, src=src, dst=dst, weight=weight, meta=meta)
    try:
        graph.validate()
    except CorpusError as exc:
        raise _fail(origin, str(exc).split(": ", 1)[-1]) from None
    return graph


def loads(data: bytes | str, origin: str = "<json>", **overrides: Any) -> AttributionGraph:
    """Parse graph JSON text or bytes (gzip-compressed or not).

    Parameters
    ----------
    data : bytes or str
    origin : str
        File name or URL for messages.
    **overrides
        ``model``, ``transcoder_type``, ``slug``, ``task``.

    Examples
    --------
    >>> text = '''{"metadata": {"slug": "t", "scan": "gemma-2-2b", "prompt": "a",
    ...   "prompt_tokens": ["<bos>", "a"], "schema_version": 1}, "qParams": {},
    ...   "nodes": [{"node_id": "E_2_1", "feature": 1, "layer": "E", "ctx_idx": 1,
    ...              "feature_type": "embedding", "jsNodeId": "E_2-1", "clerp": ""},
    ...             {"node_id": "27_9_1", "feature": 9, "layer": "27", "ctx_idx": 1,
    ...              "feature_type": "logit", "jsNodeId": "L_9-1", "clerp": "",
    ...              "token_prob": 0.5}],
    ...   "links": [{"source": "E_2_1", "target": "27_9_1", "weight": 1.5}]}'''
    >>> g = loads(text)
    >>> g.n_nodes, g.n_edges, g.meta.n_layers, g.meta.model
    (2, 1, 26, 'gemma-2-2b')
    """
    return from_json_dict(_decode_bytes(data, origin), origin, **overrides)


def read_json(path: str | os.PathLike[str], **overrides: Any) -> AttributionGraph:
    """Read a graph JSON file (``.json`` or gzip-compressed).

    Raises
    ------
    CorpusError
        If the file is missing, unreadable or not a valid graph.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror})") from None
    return loads(data, str(path), **overrides)


# ------------------------------------------------------------------ writing
def _none_if_nan(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class _ExportForm(NamedTuple):
    """How a graph is written: which layout its variant uses."""

    anthropic_like: bool
    crm_like: bool
    n_layers: int
    logit_json_layer: int  # circuit-tracer files put logits at n_layers + 1


def _export_form(graph: AttributionGraph) -> _ExportForm:
    """The variant to write back and its logit layer (``n_layers`` inferred when unknown)."""
    meta = graph.meta
    nodes = graph.nodes
    anthropic_like = meta.source == "anthropic" or meta.scan.startswith("jackl")
    crm_like = bool(nodes["kind"].isin(("lorsa", "lorsa_error", "bias")).any())
    n_layers = meta.n_layers
    if n_layers is None:
        inner = nodes.loc[~nodes["kind"].isin(("embedding", "logit")), "layer"]
        n_layers = int(inner.max()) + 1 if len(inner) else 1
    logit_json_layer = n_layers if (anthropic_like or crm_like) else n_layers + 1
    return _ExportForm(anthropic_like, crm_like, n_layers, logit_json_layer)


def _encode_features(graph: AttributionGraph, form: _ExportForm
                     ) -> tuple[int | None, np.ndarray, np.ndarray]:
    """Schema 1 (Cantor-paired ``feature``) when every feature has a per-layer
    index and the graph is neither Anthropic nor CRM; else the file's own ids.

    Returns the schema version, which rows are encoded, and their encoded ids.
    """
    nodes = graph.nodes
    layer = nodes["layer"].to_numpy()
    index = nodes["feature"]
    feat_mask = nodes["kind"].isin(("feature", "lorsa")).to_numpy()
    encode = feat_mask & index.notna().to_numpy()
    if form.anthropic_like or form.crm_like:
        encode[:] = False
    all_encoded = bool(encode[feat_mask].all()) if feat_mask.any() else True
    schema_version = 1 if all_encoded and not form.anthropic_like else graph.meta.schema_version
    encoded = np.zeros(len(nodes), dtype=np.int64)
    if schema_version == 1:
        encoded[encode] = cantor_pair(layer[encode], index[encode].to_numpy(dtype=np.int64))
    else:
        encode[:] = False  # written as the file's own ids
    return schema_version, encode, encoded


def _json_layer(kind: str, layer: int, form: _ExportForm) -> str:
    """``"E"`` for embeddings, the variant's logit layer for logits, else the layer."""
    if kind == "embedding":
        return "E"
    if kind == "logit":
        return str(form.logit_json_layer)
    return str(layer)


def _json_feature(kind: str, pos: int, feature_id: Any, form: _ExportForm) -> int | None:
    """An unencoded node's ``feature``: its own id, else circuit-tracer's
    convention (embeddings: the position; errors: -1)."""
    feature = _none_if_nan(feature_id)
    if feature is None and kind == "embedding" and not form.anthropic_like:
        feature = int(pos)
    elif feature is None and kind == "error" and not form.anthropic_like and not form.crm_like:
        feature = -1
    return None if feature is None else int(feature)


def _json_nodes(graph: AttributionGraph, form: _ExportForm, encode: np.ndarray,
                encoded: np.ndarray) -> list[dict[str, Any]]:
    """One node object per row, with every field Neuronpedia's schema requires."""
    nodes = graph.nodes
    extra_json = nodes["extra_json"].tolist() if "extra_json" in nodes.columns else None
    out_nodes = []
    records = zip(
        nodes["node_id"].tolist(), nodes["kind"].astype(object).tolist(),
        nodes["layer"].tolist(), nodes["pos"].tolist(),
        nodes["feature_id"].tolist(), nodes["js_node_id"].tolist(), nodes["feature_type"].tolist(),
        nodes["label"].tolist(), nodes["influence"].tolist(), nodes["activation"].tolist(),
        nodes["prob"].tolist(), nodes["is_target"].tolist(), nodes["token"].tolist(),
    )
    for row, (nid, k, lay, p, fid, js, ftype, label, infl, act, prob, target, token) in \
            enumerate(records):
        node = {
            "node_id": nid,
            "feature": int(encoded[row]) if encode[row] else _json_feature(k, p, fid, form),
            "layer": _json_layer(k, lay, form),
            "ctx_idx": int(p),
            "feature_type": _none_if_nan(ftype) or KIND_FEATURE_TYPE[k],
            "token_prob": float(prob) if k == "logit" and _none_if_nan(prob) is not None else 0.0,
            "is_target_logit": bool(target),
            "run_idx": 0,
            "reverse_ctx_idx": 0,
            "jsNodeId": _none_if_nan(js) or nid,
            "clerp": _none_if_nan(label) or "",
            "influence": _none_if_nan(infl),
            "activation": _none_if_nan(act),
        }
        if _none_if_nan(token) is not None and form.crm_like and k in ("embedding", "logit"):
            node["token"] = token
        if extra_json is not None and _none_if_nan(extra_json[row]) is not None:
            node.update(json.loads(extra_json[row]))
        out_nodes.append(node)
    return out_nodes


def _json_links(graph: AttributionGraph) -> list[dict[str, Any]]:
    """One link per (merged) edge; float32 weights written exactly as float64."""
    ids = graph.nodes["node_id"].astype(object).to_numpy()
    src, dst, weight = graph.merged_edges()
    return [
        {"source": s, "target": t, "weight": w}
        for s, t, w in zip(ids[src].tolist(), ids[dst].tolist(), weight.astype(np.float64).tolist())
    ]


def _json_metadata(meta: GraphMeta, n_layers: int, schema_version: int | None
                   ) -> tuple[dict[str, Any], Any]:
    """The ``metadata`` object, ours in ``info.circuit_grammar``; the file's
    other keys restored from ``meta.extra``. Also returns ``qk_only_nodes``
    (a top-level field of CRM files, None elsewhere)."""
    extra = dict(meta.extra)
    qk_only = extra.pop("qk_only_nodes", None)
    info = dict(extra.pop("info", None) or {})
    info["circuit_grammar"] = {
        "model": meta.model,
        "transcoder_type": meta.transcoder_type,
        "task": meta.task,
        "source": meta.source,
        "n_layers": n_layers,
        "edge_threshold": meta.edge_threshold,
        "replacement_score": meta.replacement_score,
        "completeness_score": meta.completeness_score,
    }
    info.setdefault("generator", {"name": "circuit-grammar", "version": "0.1.0",
                                  "url": "https://pypi.org/project/circuit-grammar/"})
    metadata: dict[str, Any] = {
        "slug": meta.slug or "graph",
        "scan": meta.scan or meta.model,
        "transcoder_list": extra.pop("transcoder_list", []),
        "prompt_tokens": list(meta.prompt_tokens),
        "prompt": meta.prompt,
        "node_threshold": meta.node_threshold if meta.node_threshold is not None else 0.8,
    }
    if schema_version is not None:
        metadata["schema_version"] = schema_version
    metadata.update(extra)
    metadata["info"] = info
    return metadata, qk_only


def to_json_dict(graph: AttributionGraph) -> dict[str, Any]:
    """The graph as a circuit-tracer schema-1 JSON object Neuronpedia accepts.

    Node ids, kinds, layers, positions, labels, influences, activations,
    link weights (float32 values written exactly) and qParams are kept;
    our own metadata (model, transcoder type, task, scores) rides along in
    ``metadata.info.circuit_grammar`` so a re-import recovers it.

    Examples
    --------
    >>> g = loads('''{"metadata": {"slug": "t", "scan": "gemma-2-2b", "prompt": "a",
    ...   "prompt_tokens": ["<bos>", "a"], "schema_version": 1}, "qParams": {},
    ...   "nodes": [{"node_id": "E_2_1", "feature": 1, "layer": "E", "ctx_idx": 1,
    ...              "feature_type": "embedding"},
    ...             {"node_id": "3_7_1", "feature": 62, "layer": "3", "ctx_idx": 1,
    ...              "feature_type": "cross layer transcoder"},
    ...             {"node_id": "27_9_1", "feature": 9, "layer": "27", "ctx_idx": 1,
    ...              "feature_type": "logit", "token_prob": 0.5}],
    ...   "links": [{"source": "E_2_1", "target": "3_7_1", "weight": 1.5},
    ...             {"source": "3_7_1", "target": "27_9_1", "weight": 0.25}]}''')
    >>> out = to_json_dict(g)
    >>> [(n["node_id"], n["layer"], n["feature"]) for n in out["nodes"]]
    [('E_2_1', 'E', 1), ('3_7_1', '3', 62), ('27_9_1', '27', 9)]
    >>> out["metadata"]["schema_version"], out["links"][1]["weight"]
    (1, 0.25)
    """
    form = _export_form(graph)
    schema_version, encode, encoded = _encode_features(graph, form)
    metadata, qk_only = _json_metadata(graph.meta, form.n_layers, schema_version)
    qparams = graph.meta.qparams or {  # the UI's empty state
        "pinnedIds": [], "supernodes": [], "linkType": "both", "clickedId": "", "sg_pos": ""}
    out: dict[str, Any] = {"metadata": metadata, "qParams": qparams,
                           "nodes": _json_nodes(graph, form, encode, encoded),
                           "links": _json_links(graph)}
    if qk_only is not None:
        out["qk_only_nodes"] = qk_only
    return out


def dumps(graph: AttributionGraph) -> str:
    """The graph as JSON text (see :func:`to_json_dict`)."""
    return json.dumps(to_json_dict(graph), ensure_ascii=False, allow_nan=False)


def write_json(graph: AttributionGraph, path: str | os.PathLike[str]) -> Path:
    """Write the graph as Neuronpedia JSON, atomically (gzip if ``.gz``)."""
    path = Path(path)
    payload = dumps(graph).encode("utf-8")
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write_bytes(path, payload)
    return path


# ------------------------------------------------------------- qParams ids
def qparam_rows(graph: AttributionGraph) -> dict[str, Any]:
    """Map the graph's pinned ids and supernode members to node rows.

    Anthropic graphs name nodes by ``jsNodeId`` in qParams, the others by
    ``node_id``; both are tried.

    Returns
    -------
    dict
        ``{"pinned": [row, ...], "supernodes": [(label, [row, ...]), ...],
        "unresolved": [id, ...]}``.
    """
    by_node = {k: i for i, k in enumerate(graph.nodes["node_id"].astype(object).tolist())}
    by_js = {k: i for i, k in enumerate(graph.nodes["js_node_id"].astype(object).tolist())
             if isinstance(k, str)}
    prefer_js = graph.meta.source == "anthropic"
    first, second = (by_js, by_node) if prefer_js else (by_node, by_js)
    unresolved: list[str] = []

    def row_of(key: str) -> int | None:
        row = first.get(key, second.get(key))
        if row is None:
            unresolved.append(key)
        return row

    q = graph.meta.qparams or {}
    pinned = [r for r in (row_of(k) for k in q.get("pinnedIds", []) if isinstance(k, str))
              if r is not None]
    supernodes = []
    for group in q.get("supernodes", []) or []:
        if isinstance(group, list) and group:
            members = [r for r in (row_of(k) for k in group[1:] if isinstance(k, str))
                       if r is not None]
            supernodes.append((str(group[0]), members))
    return {"pinned": pinned, "supernodes": supernodes, "unresolved": unresolved}
