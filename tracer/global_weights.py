"""The global graph: prompt-independent virtual weights between transcoder features.

The local attribution graph of a prompt (:mod:`tracer.attribution`) freezes
that prompt's attention patterns; the *global* graph keeps only what holds in
every context, the residual-direct path decoder → residual stream → encoder
(Ameisen et al. 2025, "Circuit Tracing", §"Global weights"; Lindsey et al.
2025, "On the Biology of a Large Language Model").

The virtual weight
------------------
A layer-``l`` feature ``s`` adds ``a_s · d_s`` to the output site of layer
``l`` (a PLT) or ``a_s · d_s[k - l]`` to the output site of every layer
``k >= l`` (a CLT). Those outputs enter the residual stream, which a layer-``l'``
transcoder reads (``l' > l``) through its encoder row ``e_t``. With the
model's norms replaced by fixed linear maps (see below), the target's
pre-activation moves by ``a_s · V[s, t]`` with

    V[s, t] = < sum_{k = l}^{l' - 1} write_k(d_s[k - l]),  read_{l'}(e_t) >

(one term ``k = l`` for a PLT). Attention-mediated paths change with every
context and are left out; so are the linear skip paths of intermediate
layers (a skip transcoder's ``W_skip``), which act like a second MLP path.
Only sources in earlier layers than their targets get weights.

Norms: the choice and its option
--------------------------------
A transcoder reads its layer's input through the pre-MLP norm
(``feature_input_hook``, :mod:`tracer.models`): ``hook_resid_mid`` reads the
residual stream itself, ``ln2.hook_normalized`` reads ``C x · s`` and
``mlp.hook_in`` reads ``w ⊙ C x · s``, where ``C`` removes the mean
(LayerNorm only), ``w`` is the norm's weight (``1 + w`` for Gemma) and
``s = 1 / rms(x)`` (``1 / std(x)`` for LayerNorm) depends on the token. Gemma's
``mlp.hook_out`` writes before ``post_feedforward_layernorm``, whose
``w_post · s_post`` then multiplies every write. The global graph must pick
``s`` once for all contexts: :func:`residual_maps` folds the norm weights in
(when the model is given) and takes ``norm_scale``:

- ``"none"`` (the default): ignore the scale, ``s = 1``;
- ``"mean"``: each norm's average scale over a token stream (from
  :func:`collect_stats`);
- a number: that fixed scale for every norm.

So ``read_{l'}(e) = s · C (w ⊙ e)`` and ``write_k(d) = s_post · w_post ⊙ d``;
without a model the norm weights are unknown and taken as 1.

Co-activation weighting (TWERA)
-------------------------------
A large virtual weight between features that never fire together is
interference, not circuitry. Given activation statistics gathered over a
token stream (:func:`collect_stats`), :func:`global_weights` ranks and
reports the *target-weighted expected residual attribution* of Ameisen et
al. (2025),

    TWERA[s, t] = V[s, t] · (sum_x a_s(x) a_t(x)) / (sum_x a_t(x)),

sums over the token positions ``x`` of the stream: the virtual weight times
the source's mean activation over the contexts where the target is active,
weighted by the target's activation. Pairs that never co-occur get 0 and
drop out; a target never active gets no edges. The co-activation sums are
computed block by block from sparse per-layer activation matrices, never as
a dense matrix over all feature pairs.

Computation
-----------
Sources and targets are taken in blocks of ``block_size`` features: one
``(block, d_model) @ (d_model, block)`` product at a time, whose top ``k``
sources per target are merged into a running top ``k``. Peak memory is a few
``block × block`` matrices plus one target layer's encoder rows, whatever the
number of features; the same code runs on CPU or CUDA.

Examples
--------
>>> import torch
>>> from tracer.transcoders import Transcoders
>>> tc = Transcoders.from_tensors(
...     "plt", W_enc=[torch.eye(2), torch.tensor([[1.0, 1.0], [0.0, 2.0]])],
...     W_dec=[torch.tensor([[3.0, 0.0], [0.0, 1.0]]), torch.eye(2)],
...     b_enc=[torch.zeros(2)] * 2, b_dec=[torch.zeros(2)] * 2,
...     feature_input_hook="hook_resid_mid", feature_output_hook="hook_mlp_out")
>>> gw = global_weights(tc, top_k=2)
>>> [(f"{a}->{b}", w) for a, b, w in gw.edge_list()]  # V = D_0 E_1^T; the 0 is dropped
[('0_0->1_0', 3.0), ('0_1->1_0', 1.0), ('0_1->1_1', 2.0)]
>>> g = gw.to_graph()
>>> g.meta.source, g.nodes["node_id"].tolist()
('global', ['0_0_0', '0_1_0', '1_0_0', '1_1_0'])

References
----------
Ameisen et al. (2025), "Circuit Tracing: Revealing Computational Graphs in
Language Models", transformer-circuits.pub, §"Global weights" (virtual
weights, interference, TWERA). Lindsey et al. (2025), "On the Biology of a
Large Language Model", transformer-circuits.pub. Elhage et al. (2021), "A
Mathematical Framework for Transformer Circuits" (virtual weights through
the residual stream).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

from tracer.errors import TracerError
from tracer.models import HOOK_SITES, LoadedModel, hook_site, resolve_device
from tracer.transcoders import Transcoders

if TYPE_CHECKING:
    from corpus.graph import AttributionGraph

#: Rules for the norm scale ``s`` (besides a positive number).
NORM_SCALES: tuple[str, ...] = ("none", "mean")

#: Norm roles whose average scale :func:`collect_stats` records.
_SCALE_ROLES: tuple[str, ...] = ("pre_mlp_norm", "post_mlp_norm")

#: Neuronpedia ``feature_type`` of a feature node (circuit-tracer's string).
_FEATURE_TYPE = "cross layer transcoder"

Selection = dict[int, torch.Tensor]


# ------------------------------------------------------------- selections
def parse_selection(text: str) -> dict[int, list[int] | None]:
    """Parse a feature selection written on the command line.

    ``;``-separated items, each a layer (``2``), a layer range (``0-3``: all
    features of those layers) or ``LAYER:IDX,IDX,...`` (those features).

    Examples
    --------
    >>> parse_selection("0-2")
    {0: None, 1: None, 2: None}
    >>> parse_selection("1:5,7; 3")
    {1: [5, 7], 3: None}

    Raises
    ------
    TracerError
        For an item that is none of these.
    """
    out: dict[int, list[int] | None] = {}
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        if m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", item):
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise TracerError(f"feature selection {text!r}: range {item!r} runs backwards")
            out.update({layer: None for layer in range(lo, hi + 1)})
        elif re.fullmatch(r"\d+", item):
            out[int(item)] = None
        elif m := re.fullmatch(r"(\d+)\s*:\s*(\d+(?:\s*,\s*\d+)*)", item):
            indices = [int(i) for i in m.group(2).split(",")]
            previous = out.get(int(m.group(1)), [])
            out[int(m.group(1))] = None if previous is None else previous + indices
        else:
            raise TracerError(
                f"feature selection {text!r}: item {item!r} is not LAYER, FIRST-LAST or "
                "LAYER:IDX,IDX,..."
            )
    if not out:
        raise TracerError(f"feature selection {text!r} names no layer")
    return out


def select_features(transcoders: Transcoders, spec: Any, name: str = "features") -> Selection:
    """Normalise a feature selection to ``{layer: sorted unique indices}``.

    Parameters
    ----------
    transcoders : Transcoders
    spec : None, int, str, sequence of int, or mapping
        None: every feature of every layer; an int or a sequence of ints:
        every feature of those layers; a string: :func:`parse_selection`; a
        mapping ``{layer: indices or None}``.
    name : str
        The argument's name, for messages.

    Returns
    -------
    dict of int -> (n,) int64 tensor
        Indices on the CPU, sorted, layers in increasing order.

    Raises
    ------
    TracerError
        For a layer or index outside the transcoder set.
    """
    n_layers, width = transcoders.n_layers, transcoders.d_transcoder
    if spec is None:
        chosen: Mapping[int, Any] = {layer: None for layer in range(n_layers)}
    elif isinstance(spec, str):
        chosen = parse_selection(spec)
    elif isinstance(spec, (int, np.integer)):
        chosen = {int(spec): None}
    elif isinstance(spec, Mapping):
        chosen = spec
    elif isinstance(spec, Iterable):
        chosen = {int(layer): None for layer in spec}
    else:
        raise TracerError(f"{name} must be None, a layer, layers, a mapping or a string, "
                          f"not {type(spec).__name__}")
    out: Selection = {}
    for layer in sorted(int(k) for k in chosen):
        if not 0 <= layer < n_layers:
            raise TracerError(f"{name}: layer {layer} is outside the transcoder set's 0..{n_layers - 1}")
        raw = chosen[layer]
        if raw is None:
            index = torch.arange(width)
        else:
            index = torch.unique(torch.as_tensor(np.asarray(raw, dtype=np.int64).reshape(-1)))
            if index.numel() == 0:
                raise TracerError(f"{name}: layer {layer} selects no features")
            if int(index[0]) < 0 or int(index[-1]) >= width:
                bad = int(index[0]) if int(index[0]) < 0 else int(index[-1])
                raise TracerError(f"{name}: feature {bad} of layer {layer} is outside 0..{width - 1}")
        out[layer] = index
    if not out:
        raise TracerError(f"{name} selects no layer")
    return out


# ---------------------------------------------------------- norm handling
@dataclass(frozen=True)
class ResidualMaps:
    """Fixed linear maps standing in for the norms between writes and reads.

    Attributes
    ----------
    read_weight : tuple of ((d_model,) tensor or None), one per layer
        Multiplier folded into a layer's encoder rows: the norm weight times
        the chosen scale; None for the identity.
    read_centre : bool
        Remove the mean from the encoder rows (LayerNorm reads ``x - mean``).
    write_weight : tuple of ((d_model,) tensor or None), one per layer
        Multiplier on what a layer's output site writes to the residual
        stream (Gemma's post-MLP norm under ``mlp.hook_out``); None for the
        identity.
    description : str
        The choice in words (stored in the graph's metadata).
    """

    read_weight: tuple[torch.Tensor | None, ...]
    read_centre: bool
    write_weight: tuple[torch.Tensor | None, ...]
    description: str

    @classmethod
    def identity(cls, n_layers: int, description: str = "norms ignored (identity)") -> ResidualMaps:
        return cls((None,) * n_layers, False, (None,) * n_layers, description)

    def read(self, layer: int, encoders: torch.Tensor) -> torch.Tensor:
        """Effective read directions ``(n, d)`` of encoder rows ``(n, d)`` of ``layer``."""
        weight = self.read_weight[layer]
        out = encoders if weight is None else encoders * weight.to(encoders)
        # <e, w ⊙ C x> = <C (w ⊙ e), x>: C is symmetric
        return out - out.mean(-1, keepdim=True) if self.read_centre else out

    def write(self, source_layer: int, decoders: torch.Tensor, target_layer: int) -> torch.Tensor:
        """What features of ``source_layer`` add to the residual stream that
        ``target_layer`` reads, per unit activation.

        Parameters
        ----------
        decoders : (n, d) for a PLT, (n, n_out, d) for a CLT
            Rows from :meth:`Transcoders.decoder_rows`; a CLT's row ``j``
            writes into layer ``source_layer + j``.

        Returns
        -------
        (n, d)
            ``sum_{k = source_layer}^{target_layer - 1} write_k(d[k - source_layer])``.
        """
        if decoders.ndim == 2:
            decoders = decoders[:, None]
        n_terms = min(target_layer - source_layer, decoders.shape[1])
        parts = decoders[:, :n_terms]
        weights = self.write_weight[source_layer:source_layer + n_terms]
        if all(w is None for w in weights):
            return parts.sum(1)
        scale = torch.stack([torch.ones(parts.shape[-1]) if w is None else w.float().cpu() for w in weights])
        return torch.einsum("njd,jd->nd", parts, scale.to(parts))


def _norm_weight(model: LoadedModel, layer: int, role: str) -> torch.Tensor:
    module = model.part(layer, role)
    weight = module.weight.detach().float().cpu()
    return 1.0 + weight if model.family.norm_kind == "rms_one_plus" else weight


def _check_norm_scale(norm_scale: str | float, stats: ActivationStats | None) -> None:
    """``norm_scale`` is a rule of ``NORM_SCALES`` (``"mean"`` with statistics) or a positive number."""
    if isinstance(norm_scale, str):
        if norm_scale not in NORM_SCALES:
            raise TracerError(f"norm_scale must be one of {NORM_SCALES} or a positive number, "
                              f"got {norm_scale!r}")
        if norm_scale == "mean" and (stats is None or not stats.mean_scales):
            raise TracerError("norm_scale='mean' needs activation statistics with norm scales "
                              "(collect_stats over a token stream)")
    elif not (isinstance(norm_scale, (int, float)) and float(norm_scale) > 0):
        raise TracerError(f"norm_scale must be one of {NORM_SCALES} or a positive number, got {norm_scale!r}")


def _norm_scales(norm_scale: str | float, stats: ActivationStats | None, n_layers: int,
                 role: str) -> tuple[torch.Tensor, str]:
    """The scale ``s`` of the ``role`` norm of every layer, ``(n_layers,)``, and the rule in words."""
    if norm_scale == "none":
        return torch.ones(n_layers), "scale ignored"
    if norm_scale == "mean":
        if role not in stats.mean_scales:
            raise TracerError(f"the activation statistics have no mean scale for the {role} norm")
        return torch.as_tensor(stats.mean_scales[role], dtype=torch.float32), "mean scale"
    return torch.full((n_layers,), float(norm_scale)), f"scale {float(norm_scale):g}"


def _read_maps(transcoders: Transcoders, model: LoadedModel | None, norm_scale: str | float,
               stats: ActivationStats | None) -> tuple[list[torch.Tensor | None], bool, str]:
    """``read_{l'}(e) = s · C (w ⊙ e)``: the weight per layer (None: identity),
    whether the mean is removed, and the choice in words."""
    n = transcoders.n_layers
    # input hooks are family-independent (only hook_mlp_out, an output hook, is not)
    _, tensor = HOOK_SITES[transcoders.feature_input_hook]
    if tensor == "input":
        return [None] * n, False, "identity (reads the residual stream)"
    scale, scale_text = _norm_scales(norm_scale, stats, n, "pre_mlp_norm")
    if model is None:
        weights = [torch.ones(transcoders.d_model)] * n
        weight_text = "norm weight unknown (no model)"
    elif tensor == "output":
        weights = [_norm_weight(model, layer, "pre_mlp_norm") for layer in range(n)]
        weight_text = "norm weight folded in"
    else:
        weights = [torch.ones(transcoders.d_model)] * n
        weight_text = "before the norm weight"
    read: list[torch.Tensor | None] = [weights[layer] * scale[layer] for layer in range(n)]
    if all(bool((w == 1).all()) for w in read):
        read = [None] * n
    centre = model is not None and model.family.norm_kind == "layernorm"
    return read, centre, f"{weight_text}, {scale_text}" + (", mean removed" if centre else "")


def _write_maps(transcoders: Transcoders, model: LoadedModel | None, norm_scale: str | float,
                stats: ActivationStats | None) -> tuple[list[torch.Tensor | None], str]:
    """``write_k(d) = s_post · w_post ⊙ d`` where the output site lies before a
    post-MLP norm (Gemma's ``mlp.hook_out``), else the identity; and in words."""
    n = transcoders.n_layers
    if model is not None and hook_site(transcoders.feature_output_hook, model.family) == ("mlp", "output") \
            and model.family.post_mlp_norm is not None:
        scale, scale_text = _norm_scales(norm_scale, stats, n, "post_mlp_norm")
        write = [_norm_weight(model, layer, "post_mlp_norm") * scale[layer] for layer in range(n)]
        return write, f"post-MLP norm weight folded in, {scale_text}"
    return [None] * n, "identity"


def residual_maps(
    transcoders: Transcoders,
    model: LoadedModel | None = None,
    *,
    norm_scale: str | float = "none",
    stats: ActivationStats | None = None,
) -> ResidualMaps:
    """The read/write maps of :func:`global_weights` for a transcoder set.

    Parameters
    ----------
    transcoders : Transcoders
        Its hook names say through which norm it reads and writes.
    model : LoadedModel, optional
        Gives the norms' weights and kinds. Without it, norm weights are
        taken as 1 and no mean is removed.
    norm_scale : {"none", "mean"} or float
        ``"none"``: ignore the scale (``s = 1``); ``"mean"``: each norm's
        average scale in ``stats``; a positive number: that scale for every
        norm. See the module docstring.
    stats : ActivationStats, optional
        Needed for ``"mean"``.

    Returns
    -------
    ResidualMaps

    Raises
    ------
    TracerError
        For an unknown rule, ``"mean"`` without statistics, or a model whose
        size differs from the set's.

    Examples
    --------
    >>> import torch
    >>> from tracer.transcoders import Transcoders
    >>> tc = Transcoders.from_tensors("plt", W_enc=[torch.eye(2)] * 2, W_dec=[torch.eye(2)] * 2,
    ...     b_enc=[torch.zeros(2)] * 2, b_dec=[torch.zeros(2)] * 2,
    ...     feature_input_hook="ln2.hook_normalized", feature_output_hook="mlp.hook_out")
    >>> maps = residual_maps(tc, norm_scale=0.5)
    >>> maps.read(1, torch.ones(1, 2)).tolist(), maps.description
    ([[0.5, 0.5]], 'read: norm weight unknown (no model), scale 0.5; write: identity')
    """
    n = transcoders.n_layers
    _check_norm_scale(norm_scale, stats)
    if model is not None and (model.n_layers != n or model.d_model != transcoders.d_model):
        raise TracerError(f"model {model.name} ({model.n_layers} layers, d_model {model.d_model}) does "
                          f"not fit the transcoder set ({n} layers, d_model {transcoders.d_model})")
    read, centre, read_text = _read_maps(transcoders, model, norm_scale, stats)
    write, write_text = _write_maps(transcoders, model, norm_scale, stats)
    return ResidualMaps(tuple(read), centre, tuple(write), f"read: {read_text}; write: {write_text}")


# ----------------------------------------------------------- the weights
def _encoder_rows(transcoders: Transcoders, layer: int, index: torch.Tensor) -> torch.Tensor:
    W_enc, _ = transcoders.encoder(layer)
    return W_enc[index.to(W_enc.device)]


def virtual_weights(
    transcoders: Transcoders,
    source_layer: int,
    source_index: torch.Tensor,
    target_layer: int,
    target_index: torch.Tensor,
    maps: ResidualMaps | None = None,
) -> torch.Tensor:
    """Dense virtual weights between two small feature sets.

    Parameters
    ----------
    transcoders : Transcoders
    source_layer, target_layer : int
        ``source_layer < target_layer``.
    source_index, target_index : (n_s,), (n_t,) int64
    maps : ResidualMaps, optional
        Default: the identity (norms ignored).

    Returns
    -------
    (n_s, n_t) tensor on the set's device
        ``V[s, t]``, the change in target ``t``'s pre-activation per unit
        activation of source ``s`` through the residual stream alone.

    Raises
    ------
    TracerError
        When the source is not in an earlier layer than the target.
    """
    if not 0 <= source_layer < target_layer < transcoders.n_layers:
        raise TracerError(f"virtual weights need 0 <= source layer < target layer < {transcoders.n_layers}, "
                          f"got {source_layer} and {target_layer}")
    maps = maps or ResidualMaps.identity(transcoders.n_layers)
    writes = maps.write(source_layer, transcoders.decoder_rows(source_layer, source_index), target_layer)
    reads = maps.read(target_layer, _encoder_rows(transcoders, target_layer, target_index))
    return writes @ reads.T


@dataclass
class GlobalWeights:
    """The edges kept by :func:`global_weights` and what they were made from.

    Attributes
    ----------
    node_layer, node_index : (n_nodes,) int64
        The features at either end of a kept edge, sorted by (layer, index).
    node_activation : (n_nodes,) float64
        Mean activation over the token positions where the feature fires
        (NaN without statistics).
    src, dst : (n_edges,) int64
        Rows into the node arrays; edges sorted by target, then by
        decreasing ``|weight|``.
    weight : (n_edges,) float32
        The ranked weight: TWERA with statistics, else the virtual weight.
    virtual_weight : (n_edges,) float32
        The virtual weight ``V`` of each edge.
    weighting : {"virtual", "twera"}
    settings : dict
        Selections, ``top_k``, norm handling, statistics size (JSON-ready).
    scan, transcoder_type : str
    n_layers, d_transcoder : int
    """

    node_layer: np.ndarray
    node_index: np.ndarray
    node_activation: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    virtual_weight: np.ndarray
    weighting: str
    settings: dict[str, Any]
    scan: str
    transcoder_type: str
    n_layers: int
    d_transcoder: int

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    def edge_list(self) -> list[tuple[str, str, float]]:
        """``(source "layer_index", target "layer_index", weight)`` per edge, for reading."""
        names = [f"{a}_{b}" for a, b in zip(self.node_layer.tolist(), self.node_index.tolist())]
        return [(names[s], names[t], float(w))
                for s, t, w in zip(self.src.tolist(), self.dst.tolist(), self.weight.tolist())]

    def dense(self) -> dict[tuple[int, int], dict[tuple[int, int], float]]:
        """``{target (layer, index): {source (layer, index): weight}}`` (small results)."""
        out: dict[tuple[int, int], dict[tuple[int, int], float]] = {}
        keys = list(zip(self.node_layer.tolist(), self.node_index.tolist()))
        for s, t, w in zip(self.src.tolist(), self.dst.tolist(), self.weight.tolist()):
            out.setdefault(keys[t], {})[keys[s]] = w
        return out

    def to_graph(
        self,
        *,
        labels: Mapping[tuple[int, int], str] | None = None,
        model: str = "",
        slug: str | None = None,
        task: str | None = None,
    ) -> AttributionGraph:
        """The global graph as an :class:`corpus.AttributionGraph`.

        Nodes are features (kind ``feature``, ``pos`` 0), with circuit-tracer
        ids ``{layer}_{index}_0`` (``jsNodeId`` ``{layer}_{index}-0``, schema-1
        ``feature`` id ``cantor(layer, index)``) so the corpus, the motif
        engine and the reports read it like a traced graph; edges run source
        → target with the ranked weight; ``meta.source`` is ``"global"`` and
        ``meta.extra["global_weights"]`` holds :attr:`settings`.

        Parameters
        ----------
        labels : mapping (layer, index) -> str, optional
            Feature labels (``Transcoders.labels``, :func:`tracer.labels.read_labels`).
        model : str
            Model name for ``meta.model``.
        slug : str, optional
            Default: ``global-`` plus a hash of the settings.
        task : str, optional
        """
        import pandas as pd

        from corpus.graph import AttributionGraph, GraphMeta
        from corpus.neuronpedia import cantor_pair

        layer, index = self.node_layer, self.node_index
        text_id = layer.astype(str).astype(object) + "_" + index.astype(str).astype(object)
        labels = labels or {}
        label = [labels.get(key, "") for key in zip(layer.tolist(), index.tolist())]
        n = layer.shape[0]
        nodes = pd.DataFrame({
            "node_id": pd.Series(text_id + "_0", dtype="string"),
            "kind": pd.Series(["feature"] * n, dtype="string"),
            "layer": layer.astype(np.int32),
            "pos": np.zeros(n, dtype=np.int32),
            "feature": pd.Series(index, dtype="Int64"),
            "feature_id": pd.Series(np.asarray(cantor_pair(layer, index), dtype=np.int64), dtype="Int64"),
            "activation": self.node_activation.astype(np.float64),
            "label": pd.Series(label, dtype="string"),
            "js_node_id": pd.Series(text_id + "-0", dtype="string"),
            "feature_type": pd.Series([_FEATURE_TYPE] * n, dtype="string"),
        })
        digest = hashlib.sha1(json.dumps([self.scan, model, self.settings], sort_keys=True,
                                         default=str).encode()).hexdigest()[:10]
        stem = re.sub(r"[^a-z0-9]+", "-", Path(self.scan.rstrip("/")).name.lower()).strip("-") or "set"
        meta = GraphMeta(
            slug=slug or f"global-{stem[:24]}-{digest}",
            model=model or "unknown",
            scan=self.scan,
            transcoder_type=self.transcoder_type,
            source="global",
            schema_version=1,
            n_layers=self.n_layers,
            task=task,
            extra={"global_weights": dict(self.settings)},
        )
        graph = AttributionGraph.from_arrays(nodes, self.src, self.dst, self.weight, meta=meta)
        graph.validate()
        return graph


def _merge_top_k(best: list[torch.Tensor] | None, score: torch.Tensor, virtual: torch.Tensor,
                 ref: torch.Tensor, k: int) -> list[torch.Tensor]:
    """Merge a ``(n_s, n_t)`` block into the running top ``k`` rows (by ``|score|``) per column.

    ``best`` is ``[abs, score, virtual, ref]``, each ``(k', n_t)``; ``ref``
    codes the sources of the block's rows.
    """
    kk = min(k, score.shape[0])
    top_abs, rows = score.abs().topk(kk, dim=0)
    block = [top_abs, score.gather(0, rows), virtual.gather(0, rows), ref[rows]]
    if best is None:
        return block
    cand = [torch.cat([a, b]) for a, b in zip(best, block)]
    keep_abs, keep = cand[0].topk(min(k, cand[0].shape[0]), dim=0)
    return [keep_abs] + [c.gather(0, keep) for c in cand[1:]]


def _twera_factor(stats: ActivationStats, source_layer: int, s_block: torch.Tensor, target_layer: int,
                  t_index: torch.Tensor, t_weight: torch.Tensor) -> torch.Tensor:
    """TWERA's factor ``(sum_x a_s a_t) / (sum_x a_t)`` for one block pair, ``(n_s, n_t)``
    float64; 0 for a target that never fires."""
    co = stats.coactivation(source_layer, s_block.numpy(), target_layer, t_index.numpy())
    return torch.where(t_weight > 0, torch.as_tensor(co) / t_weight.clamp_min(1e-300), torch.zeros(()))


def _nonzero_edges(ref: torch.Tensor, score: torch.Tensor, virtual: torch.Tensor,
                   target_codes: torch.Tensor) -> tuple[np.ndarray, ...]:
    """``(source code, target code, score, virtual)`` of the non-zero scores of a ``(rows, n_t)``
    block whose entries come from the sources ``ref`` (same shape) and column targets ``target_codes``."""
    rows, cols = torch.nonzero(score, as_tuple=True)
    return tuple(x.cpu().numpy() for x in (ref[rows, cols], target_codes.to(rows.device)[cols],
                                            score[rows, cols], virtual[rows, cols]))


def _target_layer_edges(tc: Transcoders, maps: ResidualMaps, stats: ActivationStats | None,
                        target_layer: int, t_index: torch.Tensor, src_sel: Selection,
                        top_k: int | None, block_size: int, bar: Any) -> list[tuple[np.ndarray, ...]]:
    """The edges into one target layer's selected features from every earlier source layer.

    One ``(block, d_model) @ (d_model, block)`` product a block pair: the
    virtual weights ``V = write(decoders) @ read(encoders)^T``, scored as TWERA
    with statistics, then either kept whole (``top_k`` None) or merged into the
    running top ``k`` sources of each target column.
    """
    width = tc.d_transcoder
    reads = maps.read(target_layer, _encoder_rows(tc, target_layer, t_index))
    t_blocks = [slice(a, min(a + block_size, t_index.numel())) for a in range(0, t_index.numel(), block_size)]
    t_codes = [t_index[t_slice] + target_layer * width for t_slice in t_blocks]
    t_weight = None
    if stats is not None:
        t_weight = torch.as_tensor(stats.activation_sum(target_layer, t_index.numpy()))
    best: list[list[torch.Tensor] | None] = [None] * len(t_blocks)
    kept: list[tuple[np.ndarray, ...]] = []
    for source_layer in [ls for ls in src_sel if ls < target_layer]:
        s_index = src_sel[source_layer]
        for a in range(0, s_index.numel(), block_size):
            s_block = s_index[a:a + block_size]
            writes = maps.write(source_layer, tc.decoder_rows(source_layer, s_block), target_layer)
            ref = (s_block + source_layer * width).to(writes.device)
            for b, t_slice in enumerate(t_blocks):
                virtual = writes @ reads[t_slice].T
                score = virtual
                if stats is not None:
                    factor = _twera_factor(stats, source_layer, s_block, target_layer, t_index[t_slice],
                                           t_weight[t_slice])
                    score = virtual * factor.to(virtual)
                if top_k is None:
                    kept.append(_nonzero_edges(ref[:, None].expand_as(score), score, virtual, t_codes[b]))
                else:
                    best[b] = _merge_top_k(best[b], score, virtual, ref, top_k)
            if bar is not None:
                bar.update(1)
    for b, top in enumerate(best):
        if top is not None:
            _, score, virtual, ref = top
            kept.append(_nonzero_edges(ref, score, virtual, t_codes[b]))
    return kept


def _ranked_edges(edges: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """All kept edges as ``(source code, target code, weight, virtual)``, sorted by
    target, then by decreasing ``|weight|``, then by source."""
    if edges:
        src_code, dst_code, weight, virtual = (np.concatenate(parts) for parts in zip(*edges))
    else:
        src_code = dst_code = np.zeros(0, dtype=np.int64)
        weight = virtual = np.zeros(0, dtype=np.float32)
    order = np.lexsort((src_code, -np.abs(weight.astype(np.float64)), dst_code))
    return src_code[order], dst_code[order], weight[order], virtual[order]


def _feature_nodes(src_code: np.ndarray, dst_code: np.ndarray, width: int,
                   stats: ActivationStats | None) -> tuple[np.ndarray, ...]:
    """The features at either end of an edge, sorted by (layer, index): their layers,
    indices, mean activations (NaN without statistics), and the edges' rows into them."""
    codes, inverse = np.unique(np.concatenate([src_code, dst_code]), return_inverse=True)
    node_layer, node_index = codes // width, codes % width
    activation = np.full(codes.shape[0], np.nan)
    if stats is not None:
        for layer in np.unique(node_layer).tolist():
            rows = node_layer == layer
            activation[rows] = stats.mean_active(layer, node_index[rows])
    m = src_code.shape[0]
    return node_layer, node_index, activation, inverse[:m], inverse[m:]


def _settings(src_sel: Selection, tgt_sel: Selection, top_k: int | None, maps: ResidualMaps,
              stats: ActivationStats | None, block_size: int) -> dict[str, Any]:
    """What a global graph was made from, JSON-ready (``GlobalWeights.settings``)."""
    return {
        "sources": {str(k): _compact(v) for k, v in src_sel.items()},
        "targets": {str(k): _compact(v) for k, v in tgt_sel.items()},
        "top_k": None if top_k is None else int(top_k),
        "weighting": "twera" if stats is not None else "virtual",
        "norm": maps.description,
        "stats_tokens": None if stats is None else stats.n_tokens,
        "block_size": int(block_size),
    }


def global_weights(
    transcoders: Transcoders,
    sources: Any = None,
    targets: Any = None,
    *,
    top_k: int | None = 50,
    maps: ResidualMaps | None = None,
    stats: ActivationStats | None = None,
    block_size: int = 4096,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> GlobalWeights:
    """Virtual weights (or TWERA) from source features to later-layer target features.

    Parameters
    ----------
    transcoders : Transcoders
        PLT, skip (the skip path is not part of the weight) or CLT.
    sources, targets : selection, optional
        Which features (:func:`select_features`: None = every feature of
        every layer, layers, ``{layer: indices}``, or ``"0-3;5:1,2"``). A
        target gets weights from the selected sources of earlier layers only.
    top_k : int or None
        Keep, per target, the ``top_k`` sources of largest ``|weight|`` over
        all source layers together; None keeps every non-zero weight (small
        selections only).
    maps : ResidualMaps, optional
        Norm handling (:func:`residual_maps`); default: norms ignored.
    stats : ActivationStats, optional
        Co-activation statistics (:func:`collect_stats`): rank and report
        TWERA (module docstring) instead of the virtual weight.
    block_size : int
        Features per source block and per target block: the largest dense
        matrix is ``block_size × block_size``.
    device : str or torch.device, optional
        Where to compute; the set is moved there (``transcoders.to``).
        Default: where the set already is.
    progress : bool
        Show a progress bar over source blocks.

    Returns
    -------
    GlobalWeights
        Exact-zero weights are not edges.

    Raises
    ------
    TracerError
        For bad selections, ``top_k`` or ``block_size``, or statistics of
        another size.

    Notes
    -----
    Cost: ``n_s · n_t · d_model`` multiply-adds for ``n_s`` sources and
    ``n_t`` targets, plus one ``top_k`` per block column; memory: a few
    ``block_size²`` blocks, one target layer's selected encoder rows and
    ``top_k · n_t`` kept entries per target layer.
    """
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise TracerError(f"top_k must be a positive integer or None, got {top_k!r}")
    if not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise TracerError(f"block_size must be a positive integer, got {block_size!r}")
    tc = transcoders
    if device is not None and resolve_device(device) != tc.device:
        tc.to(device=device)
    src_sel = select_features(tc, sources, "sources")
    tgt_sel = select_features(tc, targets, "targets")
    if stats is not None:
        stats.check(tc)
    maps = maps or ResidualMaps.identity(tc.n_layers)
    pairs = [(lt, ls) for lt in tgt_sel for ls in src_sel if ls < lt]
    if not pairs:
        raise TracerError(f"no source layer ({sorted(src_sel)}) is earlier than a target layer "
                          f"({sorted(tgt_sel)})")
    bar = None
    if progress:
        from corpus.progress import progress_bar

        bar = progress_bar(total=sum(-(-src_sel[ls].numel() // block_size) for _, ls in pairs),
                           unit="block", desc="global weights")
    edges: list[tuple[np.ndarray, ...]] = []
    with torch.no_grad():
        for target_layer in sorted(tgt_sel):
            if any(ls < target_layer for ls in src_sel):
                edges.extend(_target_layer_edges(tc, maps, stats, target_layer, tgt_sel[target_layer],
                                                 src_sel, top_k, block_size, bar))
    if bar is not None:
        bar.close()
    src_code, dst_code, weight, virtual = _ranked_edges(edges)
    node_layer, node_index, activation, src, dst = _feature_nodes(src_code, dst_code, tc.d_transcoder, stats)
    settings = _settings(src_sel, tgt_sel, top_k, maps, stats, block_size)
    return GlobalWeights(
        node_layer=node_layer.astype(np.int64), node_index=node_index.astype(np.int64),
        node_activation=activation, src=src.astype(np.int64), dst=dst.astype(np.int64),
        weight=weight.astype(np.float32), virtual_weight=virtual.astype(np.float32),
        weighting=settings["weighting"], settings=settings, scan=tc.scan,
        transcoder_type=tc.transcoder_type, n_layers=tc.n_layers, d_transcoder=tc.d_transcoder,
    )


def _compact(index: torch.Tensor) -> str:
    """Indices as ``a-b`` runs (``"0-16383"`` for a whole layer), for metadata."""
    values = index.tolist()
    if not values:
        return ""
    runs, start, prev = [], values[0], values[0]
    for v in values[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ",".join(runs)


# ------------------------------------------------------------- statistics
@dataclass
class ActivationStats:
    """Feature activations over a token stream, kept sparse, and mean norm scales.

    Attributes
    ----------
    activations : list of scipy.sparse.csc_matrix, one per layer
        ``(n_tokens, d_transcoder)`` float32, the activation of every feature
        at every token position of the stream (BOS positions excluded).
    mean_scales : dict of str -> (n_layers,) float64
        Average norm scale ``1 / rms`` (``1 / std`` for LayerNorm) per layer,
        for the roles ``pre_mlp_norm`` and (Gemma) ``post_mlp_norm``.
    """

    activations: list[sp.csc_matrix]
    mean_scales: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_dense(cls, activations: Sequence[Any], mean_scales: Mapping[str, Any] | None = None) -> ActivationStats:
        """Statistics from per-layer ``(n_tokens, d_transcoder)`` arrays (tests, small data).

        Examples
        --------
        >>> import numpy as np
        >>> s = ActivationStats.from_dense([np.array([[1.0, 0.0], [2.0, 3.0]])] * 2)
        >>> s.coactivation(0, np.array([0, 1]), 1, np.array([1])).tolist()  # sum_x a_s a_t
        [[6.0], [9.0]]
        """
        mats = [sp.csc_matrix(np.asarray(a, dtype=np.float32)) for a in activations]
        if len({m.shape for m in mats}) != 1:
            raise TracerError("activation statistics: every layer needs the same (n_tokens, d_transcoder)")
        return cls(mats, {k: np.asarray(v, dtype=np.float64) for k, v in (mean_scales or {}).items()})

    @property
    def n_tokens(self) -> int:
        return int(self.activations[0].shape[0])

    def check(self, transcoders: Transcoders) -> None:
        """Raise TracerError when these statistics do not fit ``transcoders``."""
        shape = (len(self.activations), int(self.activations[0].shape[1]))
        if shape != (transcoders.n_layers, transcoders.d_transcoder):
            raise TracerError(f"activation statistics cover {shape[0]} layers of {shape[1]} features; the "
                              f"transcoder set has {transcoders.n_layers} of {transcoders.d_transcoder}")
        if self.n_tokens == 0:
            raise TracerError("activation statistics hold no tokens")

    def activation_sum(self, layer: int, index: np.ndarray) -> np.ndarray:
        """``sum_x a_f(x)`` over the stream for features ``index`` of ``layer`` (float64)."""
        return np.asarray(self.activations[layer][:, index].sum(axis=0), dtype=np.float64).ravel()

    def frequency(self, layer: int, index: np.ndarray) -> np.ndarray:
        """Fraction of token positions where each feature fires."""
        return np.diff(self.activations[layer][:, index].indptr) / max(self.n_tokens, 1)

    def mean_active(self, layer: int, index: np.ndarray) -> np.ndarray:
        """Mean activation where the feature fires (NaN for a feature that never does)."""
        cols = self.activations[layer][:, index]
        count = np.diff(cols.indptr)
        total = np.asarray(cols.sum(axis=0), dtype=np.float64).ravel()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def coactivation(self, source_layer: int, source_index: np.ndarray, target_layer: int,
                     target_index: np.ndarray) -> np.ndarray:
        """``sum_x a_s(x) a_t(x)``, dense ``(n_s, n_t)`` float64, for one block pair only."""
        a_s = self.activations[source_layer][:, source_index].astype(np.float64)
        a_t = self.activations[target_layer][:, target_index].astype(np.float64)
        return (a_s.T @ a_t).toarray()


def read_texts(path: str | Path) -> list[str]:
    """The non-empty lines of a text file (one context each, for :func:`collect_stats`).

    Raises
    ------
    TracerError
        When the file cannot be read or holds no text.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TracerError(f"cannot read the statistics text {path}: {exc}") from exc
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise TracerError(f"statistics text {path} has no non-empty line")
    return texts


def _windows(model: LoadedModel, transcoders: Transcoders, texts: Sequence[str],
             max_tokens: int | None) -> list[torch.Tensor]:
    """Token ids of every context, a BOS-like token first (the tracer's tokenisation)."""
    from tracer.replacement import ReplacementModel

    replacement = ReplacementModel(model, transcoders)
    config = model.config
    limit = max_tokens or getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) \
        or 1024
    if int(limit) < 2:
        raise TracerError(f"max_tokens must be at least 2, got {limit}")
    window = int(limit) - 1
    out = []
    for text in texts:
        ids = list(model.tokenizer(text, add_special_tokens=False)["input_ids"])
        out.extend(replacement.tokenize(ids[start:start + window]).cpu()
                   for start in range(0, len(ids), window))
    return out


def _norm_scale(x: torch.Tensor, eps: float, layernorm: bool) -> torch.Tensor:
    """``1 / rms(x)`` (``1 / std(x)`` for LayerNorm) over the last axis, float32."""
    xf = x.float()
    spread = xf.var(-1, unbiased=False) if layernorm else xf.pow(2).mean(-1)
    return torch.rsqrt(spread + eps)


def _capture_hooks(model: LoadedModel, n_layers: int, site: str, layernorm: bool,
                   captured: dict[tuple[int, str], torch.Tensor]) -> list[Any]:
    """Forward hooks on every pre-/post-MLP norm recording into ``captured``: the
    norm's scale (``(layer, role)``) and, on the pre-MLP norm, the transcoders'
    input site (``(layer, "site")``: the norm's input, output, or normalised input)."""
    def hook(layer: int, role: str):
        module = model.part(layer, role)
        eps = model.norm_eps(module)

        def record(mod: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
            x = args[0]
            scale = _norm_scale(x, eps, layernorm)
            captured[(layer, role)] = scale
            if role == "pre_mlp_norm":
                centred = x.float() - x.float().mean(-1, keepdim=True) if layernorm else x.float()
                captured[(layer, "site")] = {"input": x, "output": output,
                                             "normalized": centred * scale[..., None]}[site]
        return module.register_forward_hook(record)

    return [hook(layer, role) for layer in range(n_layers) for role in _SCALE_ROLES
            if model.part(layer, role) is not None]


def _padded_batch(contexts: Sequence[torch.Tensor], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(batch, longest)`` token ids and the mask of real tokens."""
    lengths = torch.tensor([t.numel() for t in contexts])
    ids = torch.full((len(contexts), int(lengths.max())), pad, dtype=torch.long)
    for i, t in enumerate(contexts):
        ids[i, :t.numel()] = t
    return ids, torch.arange(ids.shape[1])[None] < lengths[:, None]


class _StreamActivations:
    """Feature activations and norm-scale sums gathered batch by batch over a token stream."""

    def __init__(self, n_layers: int) -> None:
        self.rows: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
        self.cols: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
        self.vals: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
        self.scale_sum = {role: np.zeros(n_layers) for role in _SCALE_ROLES}
        self.n_tokens = 0

    def add_batch(self, tc: Transcoders, captured: dict[tuple[int, str], torch.Tensor], mask: torch.Tensor,
                  device: torch.device) -> None:
        """Record one batch's activations (BOS positions left out) from the captured sites."""
        real = mask.clone()
        real[:, 0] = False  # position 0 carries no features
        real_dev = real.to(device)
        # token rows in stream order: context by context, positions 1..T-1
        token_row = torch.cumsum(real.reshape(-1).long(), 0).reshape(real.shape) - 1 + self.n_tokens
        token_row = token_row[real].numpy()
        for layer in range(tc.n_layers):
            acts = tc.activate(layer, tc.pre_activations(layer, captured[(layer, "site")][real_dev]))
            r, c = torch.nonzero(acts, as_tuple=True)
            self.rows[layer].append(token_row[r.cpu().numpy()])
            self.cols[layer].append(c.cpu().numpy())
            self.vals[layer].append(acts[r, c].float().cpu().numpy())
            for role in _SCALE_ROLES:
                if (layer, role) in captured:
                    self.scale_sum[role][layer] += float(captured[(layer, role)][real_dev].double().sum())
        self.n_tokens += int(real.sum())

    def stats(self, width: int) -> ActivationStats:
        """Sparse ``(n_tokens, width)`` activations per layer and the mean norm scales."""
        mats = [sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(self.n_tokens, width), dtype=np.float32)
                for rows, cols, vals in zip(self.rows, self.cols, self.vals)]
        means = {role: total / self.n_tokens for role, total in self.scale_sum.items() if total.any()}
        return ActivationStats(mats, means)


def collect_stats(
    model: LoadedModel,
    transcoders: Transcoders,
    texts: Sequence[str],
    *,
    max_tokens: int | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> ActivationStats:
    """Run the model and its transcoders over texts and keep every feature activation.

    Each text is one context (split into windows of ``max_tokens`` when
    longer), tokenised as :meth:`tracer.replacement.ReplacementModel.tokenize`
    does (a BOS-like token first, which carries no features and is left out
    of the statistics). Contexts run in right-padded batches through the real
    model; forward hooks on the pre-MLP norms read each transcoder's input
    site (``feature_input_hook``) and the norms' scales.

    Parameters
    ----------
    model : LoadedModel
    transcoders : Transcoders
        Moved to the model's device and dtype.
    texts : sequence of str
    max_tokens : int, optional
        Longest context including the BOS token; default the model's
        ``max_position_embeddings`` (or ``n_positions``), else 1024.
    batch_size : int
        Contexts per forward pass.
    progress : bool
        Progress bar over batches.

    Returns
    -------
    ActivationStats
        Sparse activations (memory: ``n_tokens × L0`` entries per layer) and
        the average pre-/post-MLP norm scales.

    Raises
    ------
    TracerError
        For no texts, or a model that does not fit the set.
    """
    if not texts:
        raise TracerError("collect_stats needs at least one text")
    if batch_size < 1:
        raise TracerError(f"batch_size must be positive, got {batch_size}")
    contexts = _windows(model, transcoders, texts, max_tokens)  # also checks model and set fit
    tc = transcoders
    _, site = HOOK_SITES[tc.feature_input_hook]
    pad = model.tokenizer.pad_token_id
    pad = 0 if pad is None else int(pad)
    stream = _StreamActivations(tc.n_layers)
    captured: dict[tuple[int, str], torch.Tensor] = {}
    handles = _capture_hooks(model, tc.n_layers, site, model.family.norm_kind == "layernorm", captured)
    batches = range(0, len(contexts), batch_size)
    if progress:
        from corpus.progress import progress_bar

        batches = progress_bar(batches, unit="batch", desc="activation statistics")
    try:
        with torch.no_grad():
            for first in batches:
                ids, mask = _padded_batch(contexts[first:first + batch_size], pad)
                captured.clear()
                model.base(input_ids=ids.to(model.device), attention_mask=mask.long().to(model.device),
                           use_cache=False)
                stream.add_batch(tc, captured, mask, model.device)
    finally:
        for handle in handles:
            handle.remove()
    if stream.n_tokens == 0:
        raise TracerError("the statistics texts hold no token besides BOS")
    return stream.stats(tc.d_transcoder)
