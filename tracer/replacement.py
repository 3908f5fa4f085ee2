"""The local replacement model: transcoders replace the MLPs, errors close the gap.

For one prompt, the *local replacement model* of Ameisen et al. (2025) is the
original model with

- each MLP output site replaced by its transcoder's reconstruction plus an
  error term ``error[l, p] = y_l[p] - reconstruction_l[p]``, which makes the
  output exactly the original model's;
- attention patterns and normalisation scales (the norms' denominators)
  frozen at their values on the prompt.

With those freezes the residual stream is *linear* in the token embeddings,
the feature activations times their decoders, and the error vectors, which is
what makes attribution exact: a backward pass from a target's input
direction, contracted with a source's write vector, is the source's direct
effect on the target.

Everything here runs on the real ``transformers`` modules through plain
PyTorch hooks, installed only for the duration of one forward pass:

- forward hooks on the norms (pre-attention, Gemma's post-attention, pre-MLP,
  Gemma's post-MLP, final) recompute the output from the input with the
  norm's scale (its denominator) as a constant;
- a registered attention function (``transformers.AttentionInterface``) calls
  the family's own eager attention on the clean pass, keeps the softmax
  pattern, and afterwards applies that pattern, as a constant, to the values;
- a forward hook on each MLP output site (see :mod:`tracer.models`) swaps the
  MLP's output for its clean value, through which gradients reach the
  sources, plus the skip transcoder's linear path when there is one;
- a forward pre-hook on the first decoder layer exposes the embedding (the
  residual stream before layer 0, Gemma's ``sqrt(d_model)`` scale and GPT-2's
  position embedding included).

Four kinds of pass use these hooks: ``record`` (the clean run: feature inputs,
MLP outputs, scales, patterns), ``linear`` (the frozen model on a batch of
prompt copies, whose gradients :mod:`tracer.attribution` reads), ``frozen``
(the frozen model run forward with perturbations added, for checking
attributions column by column and for interventions), and ``replace`` (the
replacement model computed live from its transcoders and errors, which must
reproduce the original logits). In the batched passes the modules whose
output is replaced (MLPs, norm internals) run on a single copy.

References
----------
Ameisen et al. (2025), "Circuit Tracing: Revealing Computational Graphs in
Language Models", transformer-circuits.pub, sections "Building a replacement
model" and "Attribution graphs".
"""

from __future__ import annotations

import contextlib
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn

from tracer.errors import TracerError
from tracer.models import LoadedModel, hook_site
from tracer.transcoders import Transcoders

#: An edit of layer ``l``'s live feature activations ``(batch, T, n_features)`` -> same
#: shape (zero features to ablate them, set them to steer).
FeatureEdit = Callable[[int, torch.Tensor], torch.Tensor]

#: Name under which the tracer's attention function is registered.
ATTENTION_IMPLEMENTATION = "cgram_frozen_eager"

# attention module -> (pass, layer) while a hooked pass runs
_ATTENTION_PASSES: weakref.WeakKeyDictionary[nn.Module, tuple[Any, int]] = weakref.WeakKeyDictionary()


def _family_eager(module: nn.Module) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The eager attention function of the module's own modeling file."""
    fn = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if fn is None:
        raise TracerError(f"{type(module).__module__} has no eager_attention_forward")
    return fn


def _repeat_kv(value: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, H_kv, T, D) -> (B, H_kv * n_rep, T, D), grouped-query attention's sharing."""
    if n_rep == 1:
        return value
    b, h, t, d = value.shape
    return value[:, :, None].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


def _apply_pattern(pattern: torch.Tensor, value: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``pattern @ value`` for one ``(1, H, T, T)`` pattern shared by a batch of values.

    The batch is folded into the columns, ``(H, T, T) @ (H, T, B * D)``, so
    forward and backward are one GEMM per head and the pattern is never copied
    per batch element. Returns ``(B, T, H, D)``, the layout HF's attention
    functions return.
    """
    v = _repeat_kv(value, n_rep)
    b, h, t, d = v.shape
    folded = v.permute(1, 2, 0, 3).reshape(h, t, b * d)
    out = torch.bmm(pattern[0].to(v.dtype), folded).reshape(h, t, b, d)
    return out.permute(2, 1, 0, 3)


def _attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    eager = _family_eager(module)
    owner = _ATTENTION_PASSES.get(module)
    if owner is None:
        return eager(module, query, key, value, attention_mask, **kwargs)
    run, layer = owner
    return run.attention(layer, module, eager, query, key, value, attention_mask, kwargs)


def _register_attention() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask

    AttentionInterface.register(ATTENTION_IMPLEMENTATION, _attention)
    AttentionMaskInterface.register(ATTENTION_IMPLEMENTATION, eager_mask)


@contextlib.contextmanager
def hooks_installed(lm: LoadedModel, run: Any, handles: list) -> Iterator[None]:
    """For one pass: route every attention module of ``lm`` to ``run.attention`` (through
    the registered attention function) and keep the hook ``handles`` installed; all of it
    is removed afterwards, also on error."""
    attn_modules = [lm.part(layer, "attn") for layer in range(lm.n_layers)]
    for layer, attn in enumerate(attn_modules):
        _ATTENTION_PASSES[attn] = (run, layer)
    config = lm.hf_model.config
    previous = config._attn_implementation
    config._attn_implementation = ATTENTION_IMPLEMENTATION
    try:
        yield
    finally:
        config._attn_implementation = previous
        for handle in handles:
            handle.remove()
        for attn in attn_modules:
            _ATTENTION_PASSES.pop(attn, None)


class _Probe(torch.autograd.Function):
    """A write site's clean value, broadcast to the batch, through which each
    source coefficient receives its direct effect in the backward pass.

    Forward: ``clean (T, d)`` expanded to ``(batch, T, d)`` (the sources'
    coefficients are zero, so they add nothing). Backward: ``contract(grad)``
    maps the gradient at the site ``(batch, T, d)`` to one gradient per
    coefficient tensor, ``gradient . write_vector`` for every source there.
    """

    @staticmethod
    def forward(ctx: Any, contract: Callable, clean: torch.Tensor, batch: int,
                *coefficients: torch.Tensor) -> torch.Tensor:
        ctx.contract = contract
        return clean.expand(batch, *clean.shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        return (None, None, None, *ctx.contract(grad))


class _Readout(torch.autograd.Function):
    """A target read site, seen only by the backward pass.

    Forward: a zero scalar; the site tensor is not kept. Backward: the site
    receives the input directions injected for the current batch of targets
    (``injections[key]``, ``(B, T, d)``), or no gradient at all, so a backward
    pass only runs below the highest layer its targets read.
    """

    @staticmethod
    def forward(ctx: Any, site: torch.Tensor, injections: dict, key: Any) -> torch.Tensor:
        ctx.injections, ctx.key = injections, key
        return site.new_zeros((), dtype=torch.float32)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        return ctx.injections.get(ctx.key), None, None


def _scatter_blocks(positions: torch.Tensor, vectors: torch.Tensor, n_pos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack ``vectors (n, d)`` by position into ``(n_pos, P, d)`` (P = most per position).

    Returns the packed tensor and each vector's slot, so that
    ``packed[positions, slot] == vectors``; one ``bmm`` then contracts a
    ``(T, B, d)`` gradient with every vector at its own position.
    """
    n, d = vectors.shape
    order = torch.argsort(positions, stable=True)
    sorted_pos = positions[order]
    counts = torch.bincount(sorted_pos, minlength=n_pos)
    starts = torch.cumsum(counts, 0) - counts
    slot_sorted = torch.arange(n, device=positions.device) - starts[sorted_pos]
    slot = torch.empty_like(slot_sorted)
    slot[order] = slot_sorted
    packed = vectors.new_zeros(n_pos, int(counts.max()) if n else 0, d)
    packed[positions, slot] = vectors
    return packed, slot


def decode_features(transcoders: Transcoders, acts: Sequence[torch.Tensor], layer: int) -> torch.Tensor:
    """The transcoders' output at site ``layer`` from feature activations, skip path excluded.

    ``b_dec[layer]`` plus each source layer's active features times their
    decoder rows into ``layer``: a PLT's own layer, a CLT's layers ``l <=
    layer``. Only non-zero activations are gathered, so the cost follows the
    active features, not the dictionary size.

    Parameters
    ----------
    transcoders : Transcoders
    acts : sequence of (..., n_features), one per layer (at least up to ``layer``)
    layer : int

    Returns
    -------
    (..., d_model)

    Examples
    --------
    >>> tc = Transcoders.from_tensors(
    ...     "clt", W_enc=[torch.eye(2)] * 2, W_dec=[torch.ones(2, 2, 2), torch.ones(2, 1, 2)],
    ...     b_enc=[torch.zeros(2)] * 2, b_dec=[torch.zeros(2)] * 2,
    ...     feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out")
    >>> acts = [torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])]
    >>> decode_features(tc, acts, 1).tolist()  # layer 0's feature (1) and layer 1's (2)
    [[3.0, 3.0]]
    """
    tc = transcoders
    shape = acts[layer].shape[:-1]
    out = tc.decoder_bias(layer).expand(*shape, -1).reshape(-1, tc.d_model).clone()
    for source in (range(layer + 1) if tc.kind == "clt" else (layer,)):
        flat = acts[source].reshape(-1, acts[source].shape[-1])
        row, index = torch.nonzero(flat, as_tuple=True)
        if row.numel() == 0:
            continue
        rows = tc.decoder_rows(source, index)
        rows = rows[:, layer - source] if tc.kind == "clt" else rows
        out.index_add_(0, row, flat[row, index, None].to(rows.dtype) * rows)
    return out.reshape(*shape, tc.d_model)


@dataclass
class ActiveFeatures:
    """The transcoder features active on a prompt, sorted by (layer, pos, index).

    Attributes
    ----------
    layer, pos, index : (n,) int64
    activation : (n,) float
    layer_starts : (n_layers + 1,) int64
        Features of layer ``l`` are rows ``layer_starts[l]:layer_starts[l + 1]``.
    encoders : (n, d_model)
        Encoder rows (the targets' input directions).
    packed : list (per source layer l) of list (per output j) of (T, P_l, d_model)
        The features' write vectors (decoder row times activation) into
        layer ``l + j``, packed by position: feature ``g`` of layer ``l`` sits
        at ``packed[l][j][pos[g], slot[g]]``. A PLT has one output per layer
        (``j = 0``), a CLT ``n_layers - l``. Packing once lets every pass
        contract a ``(T, B, d)`` gradient with all of them in one ``bmm``.
    slot : (n,) int64
        Each feature's slot among the features of its layer and position.
    """

    layer: torch.Tensor
    pos: torch.Tensor
    index: torch.Tensor
    activation: torch.Tensor
    layer_starts: torch.Tensor
    encoders: torch.Tensor
    packed: list[list[torch.Tensor]]
    slot: torch.Tensor

    def __len__(self) -> int:
        return int(self.layer.shape[0])

    def write_vectors(self, feature: int) -> torch.Tensor:
        """``(n_out, d_model)`` write vectors of feature ``feature`` (into its layer and, for
        a CLT, every later one)."""
        l, p, s = int(self.layer[feature]), int(self.pos[feature]), int(self.slot[feature])
        return torch.stack([block[p, s] for block in self.packed[l]])

    def prefix(self, n_pos: int) -> tuple[ActiveFeatures, torch.Tensor]:
        """The features at positions ``< n_pos`` and their indices into this set.

        The packed write vectors are views, cut at ``n_pos``."""
        starts = self.layer_starts.tolist()
        keep = []
        for l in range(len(self.packed)):
            # within a layer features are sorted by position
            count = int((self.pos[starts[l]:starts[l + 1]] < n_pos).sum())
            keep.append(torch.arange(starts[l], starts[l] + count))
        index = torch.cat(keep) if keep else torch.zeros(0, dtype=torch.long)
        counts = torch.tensor([0] + [len(k) for k in keep])
        on_device = index.to(self.layer.device)
        sub = ActiveFeatures(
            layer=self.layer[on_device], pos=self.pos[on_device], index=self.index[on_device],
            activation=self.activation[on_device], layer_starts=torch.cumsum(counts, 0),
            encoders=self.encoders[on_device], slot=self.slot[on_device],
            packed=[[block[:n_pos] for block in blocks] for blocks in self.packed],
        )
        return sub, index


@dataclass
class ReplacementState:
    """Everything the clean pass and the transcoders give for one prompt.

    Attributes
    ----------
    tokens : (T,) int64
    logits : (vocab,) float32
        The model's logits at the last position (soft-capped where the model
        caps them); their softmax gives the logit targets' probabilities.
    embeddings : (T, d)
        Residual stream entering layer 0 (the token nodes' vectors).
    feature_inputs : (L, T, d)
        Transcoder input site per layer.
    sites : (L, T, d)
        Clean MLP output site per layer.
    final : (T, d)
        Final-norm output (the logits' input).
    features : ActiveFeatures
    errors : (L, T, d)
        ``sites - reconstruction``. Position 0 carries no nodes; its error is
        kept here so the replacement stays exact.
    scales, patterns : dict
        Norm scales and attention patterns of the clean pass (patterns only
        when asked for: frozen passes need them).
    """

    tokens: torch.Tensor
    logits: torch.Tensor
    embeddings: torch.Tensor
    feature_inputs: torch.Tensor
    sites: torch.Tensor
    final: torch.Tensor
    features: ActiveFeatures
    errors: torch.Tensor
    scales: dict[Any, torch.Tensor] = field(default_factory=dict)
    patterns: dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def n_pos(self) -> int:
        return int(self.tokens.shape[0])

    def prefix(self, n_pos: int) -> tuple[ReplacementState, torch.Tensor]:
        """The state of the first ``n_pos`` tokens and its features' indices into this state's.

        The frozen model is causal, so the prefix's patterns, scales, sites and
        errors are this state's, cut at ``n_pos``.
        """
        features, index = self.features.prefix(n_pos)
        sub = ReplacementState(
            tokens=self.tokens[:n_pos], logits=self.logits, embeddings=self.embeddings[:n_pos],
            feature_inputs=self.feature_inputs[:, :n_pos], sites=self.sites[:, :n_pos],
            final=self.final[:n_pos], features=features, errors=self.errors[:, :n_pos],
            scales={k: v[:, :n_pos] for k, v in self.scales.items()},
            patterns={k: v[:, :, :n_pos, :n_pos] for k, v in self.patterns.items()},
        )
        return sub, index


class _Pass:
    """What the hooks do during one forward pass, and what they collect."""

    def __init__(self, rm: ReplacementModel, mode: str, state: ReplacementState | None = None,
                 block_attention: bool = False):
        self.rm = rm
        self.mode = mode
        self.state = state
        self.block_attention = block_attention
        L = rm.model.n_layers
        self.feature_inputs: list[torch.Tensor | None] = [None] * L
        self.sites: list[torch.Tensor | None] = [None] * L
        self.final: torch.Tensor | None = None
        self.embeddings: torch.Tensor | None = None
        self.scales: dict[Any, torch.Tensor] = {}
        self.patterns: dict[int, torch.Tensor] = {}
        self.emb_delta: torch.Tensor | None = None
        self.site_delta: torch.Tensor | None = None
        self.probes: _LinearProbes | None = None
        self.norm_inputs: dict[Any, torch.Tensor] = {}
        self.injections: dict[Any, torch.Tensor] = {}
        self.readout: torch.Tensor | None = None
        self.live_acts: list[torch.Tensor | None] = [None] * L
        # replace passes: the error added at each site ((..., T, d), broadcast over the
        # batch; None: none) and the edit applied to the live activations
        self.errors: Sequence[torch.Tensor] | None = None
        self.edit: FeatureEdit | None = None
        # frozen passes: record each layer's attention values, or replay recorded
        # ones so that no perturbation passes through an attention OV path
        self.values: dict[int, torch.Tensor] | None = None
        self.clean_values: dict[int, torch.Tensor] | None = None

    def read(self, key: Any, site: torch.Tensor) -> None:
        """Register a target read site (a layer's transcoder input, or ``"final"``)."""
        if self.mode == "linear":
            term = _Readout.apply(site, self.injections, key)
            self.readout = term if self.readout is None else self.readout + term

    # ------------------------------------------------------------- attention
    def attention(self, layer: int, module: nn.Module, eager: Callable, query: torch.Tensor,
                  key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
                  kwargs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode in ("linear", "frozen"):
            # the clean pattern, as a constant: no scores or softmax are recomputed
            pattern = self.state.patterns[layer]
            if self.mode == "linear" and self.block_attention:
                value = value.detach()
            if self.values is not None:
                self.values[layer] = value
            if self.clean_values is not None:
                value = self.clean_values[layer].expand_as(value)
            return _apply_pattern(pattern, value, getattr(module, "num_key_value_groups", 1)), pattern
        out, pattern = eager(module, query, key, value, mask, **kwargs)
        if self.mode == "record":
            self.patterns[layer] = pattern.detach()
        return out, pattern


class _LinearProbes:
    """The source coefficients of one linear pass and how each write site
    contracts its gradient with them.

    Coefficient leaves (all zero, float32): ``tokens (B, T)``, ``errors
    (B, L, T)`` and one ``(B, n_l)`` per source layer with active features.
    """

    def __init__(self, state: ReplacementState, batch: int, n_layers: int, device: torch.device):
        self.state = state
        feats = state.features
        T = state.n_pos
        self.tokens = torch.zeros(batch, T, device=device, requires_grad=True)
        self.errors = torch.zeros(batch, n_layers, T, device=device, requires_grad=True)
        self.features: list[torch.Tensor | None] = []
        starts = feats.layer_starts.tolist()
        for l in range(n_layers):
            n_l = starts[l + 1] - starts[l]
            self.features.append(torch.zeros(batch, n_l, device=device, requires_grad=True) if n_l else None)
        # per write site k: (source layer l, its packed write vectors into k, positions, slots)
        self._writers: list[list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]]] = []
        for k in range(n_layers):
            writers = []
            for l in range(k + 1):
                if starts[l + 1] == starts[l] or len(feats.packed[l]) <= k - l:
                    continue
                rows = slice(starts[l], starts[l + 1])
                writers.append((l, feats.packed[l][k - l], feats.pos[rows].to(device), feats.slot[rows].to(device)))
            self._writers.append(writers)

    @property
    def leaves(self) -> list[torch.Tensor]:
        return [self.tokens, self.errors] + [c for c in self.features if c is not None]

    @property
    def batch(self) -> int:
        return int(self.tokens.shape[0])

    def embedding(self, clean: torch.Tensor) -> torch.Tensor:
        """The embedding ``clean (T, d)`` for the batch, with the token coefficients behind it."""
        vectors = self.state.embeddings

        def contract(grad: torch.Tensor) -> tuple[torch.Tensor]:
            return ((grad.float() * vectors.float()).sum(-1),)

        return _Probe.apply(contract, clean, self.batch, self.tokens)

    def site(self, layer: int, clean: torch.Tensor) -> torch.Tensor:
        """MLP output site ``layer``'s clean value for the batch, with the error and
        feature coefficients of everything written there behind it."""
        errors = self.state.errors[layer]
        writers = self._writers[layer]
        coefs = [self.errors[:, layer]] + [self.features[l] for l, _, _, _ in writers]

        def contract(grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = [(grad.float() * errors.float()).sum(-1)]
            if writers:
                by_position = grad.transpose(0, 1).contiguous()
            for _, block, pos, slot in writers:
                # (T, B, d) x (T, d, P) -> (T, B, P): every feature against the gradient at its position
                scores = torch.bmm(by_position.to(block.dtype), block.transpose(1, 2))
                out.append(scores[pos, :, slot].T.float())
            return tuple(out)

        return _Probe.apply(contract, clean, self.batch, *coefs)


@dataclass
class LinearPass:
    """A batched forward pass through the frozen model, kept for many backward passes.

    Only the graph is kept (its saved tensors are the frozen constants); the
    batch's activations are not. :meth:`rows` injects target directions at
    their read sites and contracts the gradients at the sources into rows.
    """

    readout: torch.Tensor
    injections: dict
    probes: _LinearProbes
    n_layers: int
    shape: tuple[int, int, int]  # (batch, n_pos, d_model)
    dtype: torch.dtype
    columns: torch.Tensor | None = None  # pass column -> full-prompt column, for a prefix pass
    n_columns: int | None = None

    def rows(self, layers: torch.Tensor, positions: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """Attribution rows of a batch of targets.

        Parameters
        ----------
        layers : (nb,) int64
            Target read sites: a transcoder layer, or ``n_layers`` for the
            final-norm output (logits).
        positions : (nb,) int64
        vectors : (nb, d)
            Input directions (encoder rows, demeaned unembedding rows).

        Returns
        -------
        (nb, n_active + n_layers * (T - 1) + T) float32
            Columns: active features (in ActiveFeatures order), errors
            (layer-major, positions 1..T-1), tokens (positions 0..T-1), of
            the whole prompt also for a prefix pass (sources past the prefix
            get zeros: they cannot reach its targets).
        """
        batch, n_pos, d = self.shape
        nb = int(layers.shape[0])
        if nb > batch:
            raise TracerError(f"{nb} targets exceed the pass's batch of {batch}")
        if nb and int(positions.max()) >= n_pos:
            raise TracerError(f"a target at position {int(positions.max())} is past this pass's {n_pos} tokens")
        device = self.readout.device
        layers, positions, vectors = layers.to(device), positions.to(device), vectors.to(device)
        for layer in torch.unique(layers).tolist():
            mask = layers == layer
            injection = torch.zeros(batch, n_pos, d, device=device, dtype=self.dtype)
            injection[torch.nonzero(mask).squeeze(1), positions[mask]] = vectors[mask].to(self.dtype)
            self.injections["final" if layer == self.n_layers else layer] = injection
        leaves = self.probes.leaves
        try:
            grads = torch.autograd.grad(self.readout, leaves, retain_graph=True, allow_unused=True)
        finally:
            self.injections.clear()
        grads = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]
        tokens, errors = grads[0], grads[1]
        parts = list(grads[2:]) + [errors[:, :, 1:].reshape(batch, -1), tokens]
        local = torch.cat(parts, dim=1)[:nb].detach()
        if self.columns is None:
            return local
        full = local.new_zeros(nb, self.n_columns)
        full[:, self.columns] = local
        return full


class ReplacementModel:
    """A model and its transcoders, as the local replacement model of a prompt.

    Parameters
    ----------
    model : LoadedModel
    transcoders : Transcoders
        Moved to the model's device and dtype.

    Raises
    ------
    TracerError
        When the set's layer count, width or hook names do not fit the model.

    Examples
    --------
    See ``tests/tracer/test_replacement.py``: a replacement model built on a
    tiny Llama reproduces the original logits to 1e-6.
    """

    def __init__(self, model: LoadedModel, transcoders: Transcoders):
        if transcoders.n_layers != model.n_layers:
            raise TracerError(
                f"transcoder set {transcoders.scan!r} has {transcoders.n_layers} layers, "
                f"model {model.name} has {model.n_layers}"
            )
        if transcoders.d_model != model.d_model:
            raise TracerError(
                f"transcoder set {transcoders.scan!r} has d_model {transcoders.d_model}, "
                f"model {model.name} has {model.d_model}"
            )
        self.model = model
        self.transcoders = transcoders.to(model.device, model.dtype)
        self.input_role, self.input_tensor = hook_site(transcoders.feature_input_hook, model.family)
        self.site_role, _ = hook_site(transcoders.feature_output_hook, model.family)
        if self.input_role != "pre_mlp_norm":
            raise TracerError(f"feature_input_hook {transcoders.feature_input_hook!r} does not read the MLP input")
        _register_attention()

    @property
    def n_layers(self) -> int:
        return self.model.n_layers

    # ------------------------------------------------------------ tokenising
    def tokenize(self, prompt: str | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Token ids of ``prompt`` with a special token first, as circuit-tracer does.

        A string is tokenised without special tokens; when the first id is not
        a special token, the first non-zero id among BOS, PAD, EOS and the
        tokenizer's other special tokens is prepended (circuit-tracer 0.5.0,
        ``replacement_model/common.py::ensure_tokenized``). Position 0 then
        carries no feature or error nodes.

        Raises
        ------
        TracerError
            For an empty prompt or ids outside the vocabulary.
        """
        tok = self.model.tokenizer
        if isinstance(prompt, str):
            ids = list(tok(prompt, add_special_tokens=False)["input_ids"])
        elif isinstance(prompt, torch.Tensor):
            ids = prompt.reshape(-1).tolist()
        else:
            ids = [int(i) for i in prompt]
        if not ids:
            raise TracerError("the prompt is empty")
        bad = [i for i in ids if not 0 <= i < self.model.vocab_size]
        if bad:
            raise TracerError(f"token ids {bad[:5]} are outside the vocabulary of {self.model.vocab_size}")
        special = list(getattr(tok, "all_special_ids", []) or [])
        if ids[0] not in special:
            candidates = [tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, *special]
            first = next(filter(None, candidates), None)  # like the reference, skips id 0
            if first is None:
                warnings.warn("no special token to prepend; position 0 (a prompt token) carries no nodes")
            else:
                ids = [int(first)] + ids
        return torch.tensor(ids, dtype=torch.long, device=self.model.device)

    # ----------------------------------------------------------------- hooks
    def _norm_linear(self, module: nn.Module, x: torch.Tensor,
                     scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised before weight, norm output) with ``scale`` as given."""
        kind = self.model.family.norm_kind
        xf = x.float()
        if kind == "layernorm":
            normed = (xf - xf.mean(-1, keepdim=True)) * scale
            out = normed * module.weight.float() + module.bias.float()
            return normed.to(x.dtype), out.to(x.dtype)
        normed = xf * scale
        if kind == "rms_one_plus":
            return normed.to(x.dtype), (normed * (1.0 + module.weight.float())).to(x.dtype)
        return normed.to(x.dtype), module.weight * normed.to(x.dtype)

    def _scale(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        eps = self.model.norm_eps(module)
        xf = x.float()
        if self.model.family.norm_kind == "layernorm":
            return torch.rsqrt(xf.var(-1, keepdim=True, unbiased=False) + eps)
        return torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)

    @staticmethod
    def _norm_input_hook(run: _Pass, key: Any, module: nn.Module, args: tuple) -> Any:
        """In linear and frozen passes the norm's output is recomputed from its input
        with the clean scale (:meth:`_norm_hook`), so the module itself runs on one
        copy; the full input is kept for the forward hook."""
        if run.mode not in ("linear", "frozen") or not args:
            return None
        run.norm_inputs[key] = args[0]
        return (args[0][:1], *args[1:])

    def _norm_hook(self, run: _Pass, key: Any, module: nn.Module, args: tuple, output: torch.Tensor) -> Any:
        x = run.norm_inputs.pop(key, args[0])
        if run.mode == "record":
            scale = self._scale(module, x)
            run.scales[key] = scale
            normed, _ = self._norm_linear(module, x, scale)
            result = None
            value = output
        elif run.mode == "linear":
            # the clean scale as a constant: the map is linear, and its value is the clean
            # output up to rounding (values never enter the backward pass, only constants do)
            normed, result = self._norm_linear(module, x, run.state.scales[key])
            value = result
        elif run.mode == "frozen":
            normed, result = self._norm_linear(module, x, run.state.scales[key])
            value = result
        else:  # replace: live model
            normed, _ = self._norm_linear(module, x, self._scale(module, x))
            result, value = None, output
        if key == "final":
            run.final = value
            run.read("final", value)
        elif key[1] == "pre_mlp_norm":
            run.feature_inputs[key[0]] = {"input": x, "normalized": normed, "output": value}[self.input_tensor]
            run.read(key[0], run.feature_inputs[key[0]])
            if run.mode == "replace":
                self._live_activations(run, key[0])
        return result

    def _site_hook(self, run: _Pass, layer: int, module: nn.Module, args: tuple, output: torch.Tensor) -> Any:
        tc = self.transcoders
        if run.mode == "record":
            run.sites[layer] = output
            return None
        x = run.feature_inputs[layer]
        if run.mode == "linear":
            # the MLP ran on one copy (see _mlp_input_hook); the site carries the batch
            clean = run.state.sites[layer].to(output.dtype)
            value = run.probes.site(layer, clean)
            if tc.has_skip:
                skip = tc.skip(layer, x).to(value.dtype)
                value = value + (skip - skip.detach())
            return value
        if run.mode == "frozen":
            value = run.state.sites[layer].to(output.dtype) + run.site_delta[:, layer].to(output.dtype)
            if tc.has_skip:
                delta = tc.skip(layer, x) - tc.skip(layer, run.state.feature_inputs[layer])
                value = value + delta.to(value.dtype)
            return value
        # replace: the transcoders' reconstruction from the live input, plus the error
        value = self._reconstruct(run, layer, x)
        if run.errors is not None:
            value = value + run.errors[layer].to(tc.dtype)
        return value.to(output.dtype)

    @staticmethod
    def _mlp_input_hook(run: _Pass, module: nn.Module, args: tuple, kwargs: dict) -> Any:
        """In linear and frozen passes the MLP's output is replaced at its site, so
        the MLP runs on one copy of the prompt instead of the whole batch."""
        if run.mode not in ("linear", "frozen"):
            return None
        if args:
            return (args[0][:1], *args[1:]), kwargs
        return args, {key: v[:1] if isinstance(v, torch.Tensor) else v for key, v in kwargs.items()}

    def _embed_hook(self, run: _Pass, module: nn.Module, args: tuple, kwargs: dict) -> Any:
        hidden = args[0] if args else kwargs["hidden_states"]
        if run.mode == "record":
            run.embeddings = hidden
            return None
        if run.mode == "linear":
            new = run.probes.embedding(run.state.embeddings.to(hidden.dtype))
        elif run.mode == "frozen":
            new = hidden + run.emb_delta.to(hidden.dtype)
        else:
            return None
        if args:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": new}

    def _live_activations(self, run: _Pass, layer: int) -> None:
        """Layer ``layer``'s features ``(batch, T, n_features)`` from its live input, edited."""
        tc = self.transcoders
        acts = tc.activate(layer, tc.pre_activations(layer, run.feature_inputs[layer]))
        acts[:, 0] = 0  # position 0 carries no features
        run.live_acts[layer] = acts if run.edit is None else run.edit(layer, acts)

    def _reconstruct(self, run: _Pass, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Transcoder output ``(batch, T, d)`` at site ``layer`` from the live activations."""
        return decode_features(self.transcoders, run.live_acts, layer) + self.transcoders.skip(layer, x)

    @contextlib.contextmanager
    def _hooked(self, run: _Pass) -> Iterator[None]:
        lm = self.model
        handles = [lm.layers[0].register_forward_pre_hook(partial(self._embed_hook, run), with_kwargs=True)]
        for layer in range(lm.n_layers):
            for role in ("pre_attn_norm", "post_attn_norm", "pre_mlp_norm", "post_mlp_norm"):
                module = lm.part(layer, role)
                if module is not None and role != self.site_role:
                    handles.append(module.register_forward_pre_hook(partial(self._norm_input_hook, run, (layer, role))))
                    handles.append(module.register_forward_hook(partial(self._norm_hook, run, (layer, role))))
            site = lm.part(layer, self.site_role)
            handles.append(site.register_forward_hook(partial(self._site_hook, run, layer)))
            handles.append(lm.part(layer, "mlp").register_forward_pre_hook(
                partial(self._mlp_input_hook, run), with_kwargs=True))
        handles.append(lm.final_norm.register_forward_pre_hook(partial(self._norm_input_hook, run, "final")))
        handles.append(lm.final_norm.register_forward_hook(partial(self._norm_hook, run, "final")))
        with hooks_installed(lm, run, handles):
            yield

    def _run(self, run: _Pass, tokens: torch.Tensor, batch: int = 1,
             attention_mask: torch.Tensor | None = None) -> None:
        """One pass on ``batch`` copies of ``tokens (T,)``, or on a batch ``tokens (B, T)``."""
        ids = tokens.to(self.model.device)
        ids = ids[None].expand(batch, -1) if ids.dim() == 1 else ids
        mask = None if attention_mask is None else attention_mask.to(self.model.device)
        with self._hooked(run):
            self.model.base(input_ids=ids, attention_mask=mask, use_cache=False)

    def _logits(self, final: torch.Tensor) -> torch.Tensor:
        """Logits (float32) from final-norm outputs ``(..., d)``, as the HF head computes them."""
        logits = self.model.unembed(final).float()
        cap = self.model.logit_softcap
        return cap * torch.tanh(logits / cap) if cap else logits

    # --------------------------------------------------------------- passes
    @torch.no_grad()
    def setup(self, tokens: torch.Tensor) -> ReplacementState:
        """The clean pass and the transcoders' view of it.

        Parameters
        ----------
        tokens : (T,) int64
            From :meth:`tokenize`.

        Returns
        -------
        ReplacementState
            With the clean attention patterns (``L x H x T^2`` values) and norm
            scales the linear and frozen passes hold constant.
        """
        run = _Pass(self, "record")
        self._run(run, tokens)
        if any(t is None for t in run.sites + run.feature_inputs) or run.final is None:
            raise TracerError(f"{self.model.name}: the tracer's hooks did not see every layer")
        feature_inputs = torch.cat(run.feature_inputs, dim=0)
        sites = torch.cat(run.sites, dim=0)
        features, recon = self._encode(feature_inputs)
        errors = sites - recon.to(sites.dtype)
        state = ReplacementState(
            tokens=tokens, logits=self._logits(run.final[0, -1]), embeddings=run.embeddings[0],
            feature_inputs=feature_inputs, sites=sites, final=run.final[0], features=features,
            errors=errors, scales=run.scales, patterns=run.patterns,
        )
        return state

    def _encode(self, feature_inputs: torch.Tensor) -> tuple[ActiveFeatures, torch.Tensor]:
        """Active features (position 0 zeroed) and the reconstruction of every site."""
        tc = self.transcoders
        L, T, d = feature_inputs.shape
        layer_ids, pos_ids, feat_ids, values, encoders, packed, slots = [], [], [], [], [], [], []
        recon = torch.stack([tc.decoder_bias(k).expand(T, d) for k in range(L)]).clone()
        for l in range(L):
            W_enc, b_enc = tc.encoder(l)
            acts = tc.activate(l, torch.nn.functional.linear(feature_inputs[l].to(tc.dtype), W_enc, b_enc))
            acts[0] = 0
            pos, idx = torch.nonzero(acts, as_tuple=True)
            a = acts[pos, idx]
            dec = tc.decoder_rows(l, idx)
            dec = (dec[:, None] if tc.kind == "plt" else dec) * a[:, None, None]
            blocks = []
            for j in range(dec.shape[1]):
                recon[l + j].index_add_(0, pos, dec[:, j])
                block, slot = _scatter_blocks(pos, dec[:, j], T)
                blocks.append(block)
            del dec
            recon[l] += tc.skip(l, feature_inputs[l])
            layer_ids.append(torch.full_like(pos, l))
            pos_ids.append(pos)
            feat_ids.append(idx)
            values.append(a)
            encoders.append(W_enc[idx])
            packed.append(blocks)
            slots.append(slot)
        counts = torch.tensor([0] + [int(p.numel()) for p in pos_ids])
        features = ActiveFeatures(
            layer=torch.cat(layer_ids), pos=torch.cat(pos_ids), index=torch.cat(feat_ids),
            activation=torch.cat(values), layer_starts=torch.cumsum(counts, 0),
            encoders=torch.cat(encoders), packed=packed, slot=torch.cat(slots),
        )
        return features, recon

    def linear_pass(self, state: ReplacementState, batch: int, block_attention: bool = False,
                    n_pos: int | None = None) -> LinearPass:
        """Run the frozen model on ``batch`` copies of the prompt, keeping the graph.

        Parameters
        ----------
        state : ReplacementState
        batch : int
            Number of targets one backward pass serves.
        block_attention : bool
            Also cut gradients through attention: rows then hold only the
            residual-direct part of every edge.
        n_pos : int, optional
            Run on the first ``n_pos`` tokens only: enough for targets at
            earlier positions, and cheaper (the model is causal).
        """
        full_columns = None
        L, T, n_active = self.n_layers, state.n_pos, len(state.features)
        if n_pos is not None and n_pos < T:
            state, feature_index = state.prefix(n_pos)
            error_index = (torch.arange(L)[:, None] * (T - 1) + torch.arange(n_pos - 1)[None, :]).reshape(-1)
            full_columns = torch.cat([feature_index, n_active + error_index,
                                      n_active + L * (T - 1) + torch.arange(n_pos)])
        run = _Pass(self, "linear", state=state, block_attention=block_attention)
        run.probes = _LinearProbes(state, batch, self.n_layers, self.model.device)
        with torch.enable_grad():
            self._run(run, state.tokens, batch)
        return LinearPass(readout=run.readout, injections=run.injections, probes=run.probes,
                          n_layers=self.n_layers, shape=(batch, state.n_pos, self.model.d_model),
                          dtype=run.final.dtype,
                          columns=None if full_columns is None else full_columns.to(self.model.device),
                          n_columns=n_active + L * (T - 1) + T)

    @torch.no_grad()
    def frozen_forward(
        self,
        state: ReplacementState,
        emb_delta: torch.Tensor | None = None,
        site_delta: torch.Tensor | None = None,
        block_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the frozen model forward with perturbations added.

        Attention patterns, norm scales and MLP outputs stay at their clean
        values (a skip transcoder's linear path responds to its input); the
        perturbations are added to the embedding and to the MLP output sites.
        Because this model is linear, the change it makes in a target is the
        sum of the sources' attributions times their perturbation scale: the
        independent check of :mod:`tracer.attribution`.

        Parameters
        ----------
        state : ReplacementState
            From :meth:`setup`.
        emb_delta : (B, T, d), optional
        site_delta : (B, L, T, d), optional
        block_attention : bool
            Keep every attention layer's values at their clean values too, so
            perturbations reach targets only through the residual stream (and
            skip paths): the forward counterpart of the residual-direct part
            of a split edge.

        Returns
        -------
        feature_inputs : (B, L, T, d)
        final : (B, T, d)
        """
        shapes = [t.shape[0] for t in (emb_delta, site_delta) if t is not None]
        batch = shapes[0] if shapes else 1
        T, d, L = state.n_pos, self.model.d_model, self.n_layers
        device = self.model.device
        run = _Pass(self, "frozen", state=state)
        if block_attention:
            clean = _Pass(self, "frozen", state=state)
            clean.emb_delta = torch.zeros(1, T, d, device=device)
            clean.site_delta = torch.zeros(1, L, T, d, device=device)
            clean.values = {}
            self._run(clean, state.tokens, 1)
            run.clean_values = clean.values
        run.emb_delta = (emb_delta.to(device) if emb_delta is not None
                         else torch.zeros(batch, T, d, device=device))
        run.site_delta = (site_delta.to(device) if site_delta is not None
                          else torch.zeros(batch, L, T, d, device=device))
        self._run(run, state.tokens, batch)
        return torch.stack(run.feature_inputs, dim=1), run.final

    @torch.no_grad()
    def replacement_logits(self, state: ReplacementState) -> torch.Tensor:
        """Logits ``(T, vocab)`` of the replacement model run live.

        Every MLP output site is the transcoders' reconstruction, computed
        from the site's live input (features, decoders, decoder bias, skip
        path), plus the error vector; attention and norms run normally. It
        equals the original model's logits up to float rounding.
        """
        run = _Pass(self, "replace", state=state)
        run.errors = state.errors
        self._run(run, state.tokens)
        return self._logits(run.final[0])

    @torch.no_grad()
    def clean_errors(self, input_ids: torch.Tensor,
                     attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The error vectors of a batch of sequences: each site's clean output minus its
        reconstruction, ``(L, B, T, d)``.

        The batched counterpart of :attr:`ReplacementState.errors`: position 0
        carries no features, so its error is the whole site there.
        """
        run = _Pass(self, "record")
        self._run(run, input_ids, attention_mask=attention_mask)
        for layer in range(self.n_layers):
            self._live_activations(run, layer)
        return torch.stack([run.sites[layer] - self._reconstruct(run, layer, run.feature_inputs[layer])
                            .to(run.sites[layer].dtype) for layer in range(self.n_layers)])

    @torch.no_grad()
    def replace(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        errors: torch.Tensor | None = None,
        edit: FeatureEdit | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the replacement model live on a batch of sequences, optionally edited.

        Every MLP output site is the transcoders' reconstruction from the site's
        live input, plus ``errors`` (held fixed); attention and norms run
        normally, so an ``edit`` of one layer's features reaches every later
        feature. With the batch's own :meth:`clean_errors` and no edit, the
        logits are the model's.

        Parameters
        ----------
        input_ids, attention_mask : (B, T)
            Right-padded sequences whose position 0 is a special token (it
            carries no features).
        errors : (L, B, T, d) or (L, T, d), optional
            Added at each site (None: no error terms anywhere).
        edit : callable (layer, acts) -> acts, optional
            Applied to each layer's live activations ``(B, T, n_features)``
            before they are decoded.

        Returns
        -------
        logits : (B, T, vocab) float32
        activations : list of (B, T, n_features), one per layer, as edited
        """
        run = _Pass(self, "replace")
        run.errors, run.edit = errors, edit
        self._run(run, input_ids, attention_mask=attention_mask)
        return self._logits(run.final), list(run.live_acts)
