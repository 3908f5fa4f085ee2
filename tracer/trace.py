"""``trace``: model + transcoders + prompt -> a pruned :class:`corpus.AttributionGraph`.

Node ids are the ones circuit-tracer's ``create_graph_files`` writes
(``circuit_tracer/frontend/graph_models.py``, release 0.5.0), so a traced
graph and a circuit-tracer graph of the same prompt can be compared edge by
edge:

========== ===================================== ================================
kind       node_id                               feature_id (JSON ``feature``)
========== ===================================== ================================
feature    ``{layer}_{index}_{pos}``             ``cantor(layer, index)``
error      ``0_{layer}_{pos}``                   ``-1``
embedding  ``E_{vocab_id}_{pos}``                ``pos``
logit      ``{n_layers + 1}_{vocab_id}_{pos}``   ``vocab_id``
========== ===================================== ================================

The ``layer`` column follows :class:`corpus.AttributionGraph`'s convention
(embeddings -1, logits ``n_layers``); the logit *id* keeps circuit-tracer's
``n_layers + 1`` prefix so ids match its JSON files. Logit labels read
``Output " Austin" (p=0.450)``; ``influence`` is the cumulative influence of
:func:`tracer.prune.prune_graph` (lower = more important), as circuit-tracer
writes it.

References
----------
Ameisen et al. (2025), "Circuit Tracing: Revealing Computational Graphs in
Language Models", transformer-circuits.pub.
"""

from __future__ import annotations

import hashlib
import re
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from corpus.graph import AttributionGraph, GraphMeta
from tracer.attribution import Attribution, compute_attribution
from tracer.errors import TracerError
from tracer.labels import label_graph
from tracer.models import LoadedModel, load_model, resolve_device, resolve_dtype
from tracer.replacement import ReplacementModel
from tracer.transcoders import Transcoders, load_transcoders

if TYPE_CHECKING:
    from tracer.prune import PruneResult

#: Neuronpedia ``feature_type`` of each node kind (circuit-tracer's strings).
FEATURE_TYPES: dict[str, str] = {
    "feature": "cross layer transcoder",
    "error": "mlp reconstruction error",
    "embedding": "embedding",
    "logit": "logit",
}


def cantor(layer: np.ndarray | int, index: np.ndarray | int) -> np.ndarray:
    """Cantor pairing ``(l + i)(l + i + 1) / 2 + i``: Neuronpedia's schema-1 feature id.

    Examples
    --------
    >>> int(cantor(20, 15589)), cantor(np.array([0, 1]), np.array([0, 0])).tolist()
    (121843834, [0, 1])
    """
    x = np.asarray(layer, dtype=np.int64)
    y = np.asarray(index, dtype=np.int64)
    return (x + y) * (x + y + 1) // 2 + y


def trace(
    model: str | Path | LoadedModel,
    transcoders: str | Path | Transcoders,
    prompt: str | Sequence[int],
    *,
    max_n_logits: int = 10,
    desired_logit_prob: float = 0.95,
    max_feature_nodes: int | None = 8192,
    batch_size: int = 256,
    node_threshold: float = 0.8,
    edge_threshold: float = 0.98,
    split_paths: bool = False,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    target_tokens: Sequence[int | str] | None = None,
    progress: bool = False,
) -> AttributionGraph:
    """Trace the attribution graph of ``prompt`` and prune it.

    Parameters
    ----------
    model : str, Path or LoadedModel
        Hub id, local directory, or a model from :func:`tracer.models.load_model`.
    transcoders : str, Path or Transcoders
        Preset name, hub id, local directory, or a loaded set.
    prompt : str or sequence of int
        Text (tokenised without special tokens, a BOS-like token prepended)
        or token ids.
    max_n_logits, desired_logit_prob, target_tokens
        Logit targets (:func:`tracer.attribution.select_logit_targets`).
    max_feature_nodes : int or None
        Most features given rows, chosen by estimated influence.
    batch_size : int
        Targets per backward pass.
    node_threshold, edge_threshold : float in [0, 1]
        Cumulative-influence pruning thresholds.
    split_paths : bool
        Store each edge as a residual-direct part and an attention-mediated
        part (``AttributionGraph.path``); the parts sum to the edge.
    device, dtype : optional
        Where and in which precision to run (default: CUDA if available;
        float32). A loaded model is moved there.
    progress : bool
        Show a progress bar over backward passes.

    Returns
    -------
    AttributionGraph
        ``meta.source == "trace"``, with the replacement and completeness
        scores of the unpruned graph; feature nodes carry the set's labels
        (``Transcoders.labels``, a local set's ``labels.json``).

    Raises
    ------
    TracerError
        For invalid arguments, models or transcoder sets.
    """
    for name, value in (("node_threshold", node_threshold), ("edge_threshold", edge_threshold)):
        if not 0.0 <= float(value) <= 1.0:
            raise TracerError(f"{name} must be in [0, 1], got {value}")
    loaded = _resolve_model(model, device, dtype)
    if isinstance(transcoders, Transcoders):
        tc = transcoders
    else:
        tc = load_transcoders(transcoders, device=loaded.device, dtype=loaded.dtype)
    replacement = ReplacementModel(loaded, tc)
    tokens = replacement.tokenize(prompt)
    state = replacement.setup(tokens)
    attribution = compute_attribution(
        replacement, state, max_n_logits=max_n_logits, desired_logit_prob=desired_logit_prob,
        target_tokens=target_tokens, batch_size=batch_size, max_feature_nodes=max_feature_nodes,
        split_paths=split_paths, progress=progress)
    settings = {
        "generation_settings": {"max_n_logits": max_n_logits, "desired_logit_prob": desired_logit_prob,
                                "batch_size": batch_size, "max_feature_nodes": max_feature_nodes},
        "pruning_settings": {"node_threshold": node_threshold, "edge_threshold": edge_threshold},
        "transcoder_list": [],
    }
    graph = attribution_graph(attribution, replacement, node_threshold=node_threshold,
                              edge_threshold=edge_threshold, extra=settings)
    return label_graph(graph, tc.labels) if tc.labels else graph


def _resolve_model(model: str | Path | LoadedModel, device: Any, dtype: Any) -> LoadedModel:
    if isinstance(model, LoadedModel):
        if device is not None or dtype is not None:
            target_device = resolve_device(device) if device is not None else model.device
            target_dtype = resolve_dtype(dtype) if dtype is not None else model.dtype
            model.hf_model.to(device=target_device, dtype=target_dtype)
        return model
    if isinstance(model, (str, Path)):
        return load_model(model, device=device, dtype=dtype)
    raise TracerError(f"model must be a hub id, a directory or a LoadedModel, not {type(model).__name__}")


def _nonzero(mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the true entries of a dense (torch / numpy) or scipy.sparse mask."""
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    if hasattr(mask, "tocoo"):
        coo = mask.tocoo()
        keep = coo.data.astype(bool)
        order = np.lexsort((coo.col[keep], coo.row[keep]))
        return coo.row[keep][order].astype(np.int64), coo.col[keep][order].astype(np.int64)
    rows, cols = np.nonzero(np.asarray(mask, dtype=bool))
    return rows.astype(np.int64), cols.astype(np.int64)


def _as_numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _slug(prompt: str, *parts: Any) -> str:
    """First 16 alphanumerics of the prompt plus a hash of what made the graph (deterministic)."""
    stem = re.sub(r"[^a-z0-9]", "", prompt.lower())[:16] or "graph"
    digest = hashlib.sha1(repr(parts).encode()).hexdigest()[:10]
    return f"{stem}-{digest}"


def attribution_graph(
    attribution: Attribution,
    replacement: ReplacementModel,
    *,
    node_threshold: float = 0.8,
    edge_threshold: float = 0.98,
    extra: dict[str, Any] | None = None,
) -> AttributionGraph:
    """Prune an :class:`~tracer.attribution.Attribution` and build the graph.

    Pruning is :func:`tracer.prune.prune_graph`; as in circuit-tracer's
    ``create_graph_files``, an edge is kept when the edge mask and both
    endpoints' node masks keep it, and a feature or error node is kept only
    when a kept edge touches it (tokens and logits always stay).

    Parameters
    ----------
    attribution : Attribution
    replacement : ReplacementModel
        For the tokenizer, model name and transcoder set.
    node_threshold, edge_threshold : float
    extra : dict, optional
        Stored in ``meta.extra``.

    Returns
    -------
    AttributionGraph
    """
    from tracer.prune import prune_graph

    kinds = attribution.kinds()
    probabilities = attribution.targets.probabilities.detach().cpu().numpy()
    result = prune_graph(attribution.matrix, kinds, probabilities, node_threshold=node_threshold,
                         edge_threshold=edge_threshold)
    src, dst, used = _kept_edges(result, kinds)
    new_index = np.full(len(kinds), -1, dtype=np.int64)
    new_index[used] = np.arange(int(used.sum()))
    src, dst, weight, path = _edge_weights(attribution, src, dst)
    nodes = _node_table(attribution, replacement, _as_numpy(result.cumulative_influence))
    meta = _graph_meta(attribution, replacement, node_threshold, edge_threshold, result, extra)
    graph = AttributionGraph.from_arrays(
        nodes[used].reset_index(drop=True), new_index[src], new_index[dst], weight, meta=meta, path=path)
    graph.validate()
    return graph


def _kept_edges(result: PruneResult, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src, dst) of the edges pruning keeps, and the mask of the nodes kept.

    An edge stays when the edge mask and both endpoints' node masks keep it; a
    feature or error node stays only when a kept edge touches it (tokens and
    logits always stay), as in circuit-tracer's ``create_graph_files``.
    """
    node_mask = _as_numpy(result.node_mask).astype(bool)
    dst, src = _nonzero(result.edge_mask)
    keep = node_mask[dst] & node_mask[src]
    dst, src = dst[keep], src[keep]
    touched = np.zeros(len(kinds), dtype=bool)
    touched[src] = True
    touched[dst] = True
    used = node_mask & (touched | np.isin(kinds, ("embedding", "logit")))
    return src, dst, used


def _edge_weights(attribution: Attribution, src: np.ndarray,
                  dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(src, dst, weight, path) of the kept edges; with a residual matrix each edge
    becomes its residual-direct (path 0) and attention-mediated (path 1) parts,
    zero parts left out."""
    weight = np.asarray(attribution.matrix[dst, src], dtype=np.float32).ravel()
    if attribution.residual_matrix is None:
        return src, dst, weight, None
    residual = np.asarray(attribution.residual_matrix[dst, src], dtype=np.float32).ravel()
    parts = np.stack([residual, weight - residual], axis=1).ravel()
    codes = np.tile(np.array([0, 1], dtype=np.int8), len(weight))
    nonzero = parts != 0
    return np.repeat(src, 2)[nonzero], np.repeat(dst, 2)[nonzero], parts[nonzero], codes[nonzero]


def _graph_meta(attribution: Attribution, replacement: ReplacementModel, node_threshold: float,
                edge_threshold: float, result: PruneResult, extra: dict[str, Any] | None) -> GraphMeta:
    """The traced graph's metadata: prompt, model, transcoder set, thresholds, scores."""
    lm, tc = replacement.model, replacement.transcoders
    tokenizer = lm.tokenizer
    token_ids = attribution.state.tokens.tolist()
    prompt = tokenizer.decode(token_ids)
    return GraphMeta(
        slug=_slug(prompt, lm.name, tc.scan, token_ids, node_threshold, edge_threshold,
                   attribution.n_features, attribution.residual_matrix is not None),
        model=lm.name,
        scan=tc.scan,
        transcoder_type=tc.transcoder_type,
        prompt=prompt,
        prompt_tokens=[tokenizer.decode([t]) for t in token_ids],
        source="trace",
        schema_version=1,
        n_layers=attribution.n_layers,
        node_threshold=float(node_threshold),
        edge_threshold=float(edge_threshold),
        replacement_score=float(result.replacement_score),
        completeness_score=float(result.completeness_score),
        extra=dict(extra or {}),
    )


def _node_table(attribution: Attribution, replacement: ReplacementModel, cumulative: np.ndarray) -> pd.DataFrame:
    """Every node of the unpruned graph, in adjacency order, as NODE_COLUMNS."""
    state, targets = attribution.state, attribution.targets
    tokenizer = replacement.model.tokenizer
    kinds = attribution.kinds()
    layer, pos = attribution.layers_and_positions()
    n, n_f, n_e, T = len(kinds), attribution.n_features, attribution.n_errors, attribution.n_pos
    token_ids = state.tokens.cpu().numpy()
    logit_ids = targets.token_ids.cpu().numpy()
    index = state.features.index[attribution.feature_rows].cpu().numpy()

    # the number in each id's middle slot: feature index, error layer, token / logit vocab id
    middle = np.concatenate([index, layer[n_f:n_f + n_e], token_ids, logit_ids]).astype(str)
    first = np.concatenate([layer[:n_f], np.zeros(n_e, dtype=np.int64)]).astype(str)
    first = np.concatenate([first, np.full(T, "E"), np.full(len(logit_ids), str(attribution.n_layers + 1))])
    node_id = pd.Series(first, dtype=object) + "_" + middle + "_" + pos.astype(str)

    # circuit-tracer's jsNodeId: features {layer}_{index}-0, errors {layer}_{pos}-0,
    # embeddings E_{vocab}-{pos}, logits L_{vocab}-{pos}
    js_first = np.concatenate([layer[:n_f].astype(str), layer[n_f:n_f + n_e].astype(str),
                               np.full(T, "E"), np.full(len(logit_ids), "L")])
    js_middle = np.concatenate([index, pos[n_f:n_f + n_e], token_ids, logit_ids]).astype(str)
    js_last = np.concatenate([np.zeros(n_f + n_e, dtype=np.int64), pos[n_f + n_e:]]).astype(str)
    js_id = pd.Series(js_first, dtype=object) + "_" + js_middle + "-" + js_last

    feature = np.full(n, None, dtype=object)
    feature[:n_f] = index
    feature_id = np.concatenate([cantor(layer[:n_f], index), np.full(n_e, -1), np.arange(T), logit_ids])
    prompt_tokens = [tokenizer.decode([int(t)]) for t in token_ids]
    token = np.full(n, None, dtype=object)
    token[n_f + n_e:n_f + n_e + T] = prompt_tokens
    token[n_f + n_e + T:] = targets.tokens
    activation = np.full(n, np.nan)
    activation[:n_f] = state.features.activation[attribution.feature_rows].float().cpu().numpy()
    probs = targets.probabilities.float().cpu().numpy()
    prob = np.full(n, np.nan)
    prob[n - len(probs):] = probs
    influence = cumulative.astype(np.float64).copy()
    influence[kinds == "logit"] = np.nan
    label = np.full(n, "", dtype=object)
    label[n - len(probs):] = [f'Output "{t}" (p={p:.3f})' for t, p in zip(targets.tokens, probs)]
    is_target = np.zeros(n, dtype=bool)
    if len(probs):
        is_target[n - len(probs)] = True
    return pd.DataFrame({
        "node_id": node_id.astype("string"),
        "kind": pd.Series(kinds, dtype="string"),
        "layer": layer.astype(np.int32),
        "pos": pos.astype(np.int32),
        "feature": pd.Series(feature, dtype="Int64"),
        "feature_id": pd.Series(feature_id.astype(np.int64), dtype="Int64"),
        "token": pd.Series(token, dtype="string"),
        "activation": activation,
        "influence": influence,
        "prob": prob,
        "label": pd.Series(label, dtype="string"),
        "js_node_id": js_id.astype("string"),
        "feature_type": pd.Series(kinds).map(FEATURE_TYPES).astype("string"),
        "is_target": is_target,
    })


class _CallableModule(types.ModuleType):
    """Importing ``tracer.trace`` binds the *module* to the package attribute
    ``tracer.trace``, shadowing the function; calling the module calls the
    function, so ``tracer.trace(...)`` works however it was reached."""

    def __call__(self, *args: Any, **kwargs: Any) -> AttributionGraph:
        return trace(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
