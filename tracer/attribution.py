"""Attribution: the direct effect of every source node on every target node.

Nodes, in the order circuit-tracer uses (``Graph`` in ``circuit_tracer/graph.py``):

1. active transcoder features (selected ones), sorted by (layer, position, index);
2. error nodes, layer-major, positions 1..T-1;
3. token (embedding) nodes, positions 0..T-1;
4. logit nodes, most probable first.

Like the reference, position 0 (the BOS token circuit-tracer prepends) has no
feature or error nodes, only its token node; circuit-tracer keeps zero-valued
error nodes there, which carry no edge, and we leave them out.

Edges (``adjacency[target, source]``)
-------------------------------------
A source writes a vector into the residual stream: a feature its decoder
row(s) times its activation (a CLT feature's decoders into every later layer
are one source), an error node its error vector, a token node its embedding.
A target reads through an input direction at one site: a feature its encoder
row at its layer's transcoder input (its *pre*-activation), a logit the
demeaned unembedding row ``W_U[t] - mean_t' W_U[t']`` at the final-norm output
of the last position. In the local replacement model
(:mod:`tracer.replacement`) the target's input is linear in the sources, so

    A[target, source] = write_vector(source) . d target_input / d write_site

one backward pass per target, batched ``batch_size`` targets at a time
through a forward pass over that many copies of the prompt.

Which targets get rows
----------------------
Logit rows first; then features in order of estimated influence on the
logits, recomputed from the rows known so far every ``update_interval``
batches, until ``max_feature_nodes`` features have rows (circuit-tracer's
``attribute`` and ``compute_partial_influences``). Columns of features without
a row are dropped. When every active feature gets a row there is nothing to
rank, and batches run on the shortest prompt prefix holding their targets
(the frozen model is causal), which changes no row and saves up to half the
work.

Splitting edges by path
-----------------------
With ``split_paths`` a second pass repeats the row computation with gradients
through attention cut: that gives each edge's *residual-direct* part (paths
through the residual stream, norms and skip connections only); the
*attention-mediated* part is the rest (paths through at least one frozen
attention OV circuit). The two parts sum to the edge by construction.

Memory
------
With ``n_a`` active features, ``n_s = min(n_a, max_feature_nodes)`` given
rows, ``k`` logits, ``T`` positions, ``L`` layers, ``d`` = d_model,
``B = batch_size`` and ``z`` the stored (nonzero) entries of the rows, the
host holds at its peak about

    8 z  (the rows as CSR: float32 value + int32 column; x 2 with split_paths)
  + 8 z  (the output CSR matrix, built block by block from them)

and no dense ``n x n`` matrix (circuit-tracer keeps a dense
``(n_s + k) x (n_a + (L + 1) T)`` row buffer and a dense ``n x n`` copy). On
the device: the batched forward pass, whose live tensors are ``O(L B T d)``
(the transcoder input of every layer for every copy; attention patterns,
norm scales and MLP outputs are held once, not per copy), the decoder
vectors of the active features packed per position (``~ n_a d`` for a PLT,
``~ sum_l n_l (L - l) d`` for a CLT), and one ``B x (n_a + L T)`` block of
rows per backward pass.

References
----------
Ameisen et al. (2025), "Circuit Tracing: Revealing Computational Graphs in
Language Models", transformer-circuits.pub, sections "Attribution graphs" and
"Graph pruning"; circuit-tracer 0.5.0 (Hanna, Piotrowski, Lindsey, Ameisen),
``attribution/attribute.py`` and ``attribution/targets.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from tracer.errors import TracerError
from tracer.replacement import ReplacementModel, ReplacementState

#: Node kinds in adjacency order.
NODE_KINDS: tuple[str, ...] = ("feature", "error", "embedding", "logit")


@dataclass
class LogitTargets:
    """The logits attribution starts from.

    Attributes
    ----------
    token_ids : (k,) int64
    probabilities : (k,) float32
        Softmax probabilities of the model's (soft-capped) last-position logits.
    vectors : (k, d_model)
        Demeaned unembedding rows (the logit nodes' input directions).
    tokens : list of str
        Decoded tokens.
    """

    token_ids: torch.Tensor
    probabilities: torch.Tensor
    vectors: torch.Tensor
    tokens: list[str]

    def __len__(self) -> int:
        return int(self.token_ids.shape[0])


def select_logit_targets(
    logits: torch.Tensor,
    unembed: torch.Tensor,
    tokenizer: object,
    *,
    max_n_logits: int = 10,
    desired_logit_prob: float = 0.95,
    target_tokens: Sequence[int | str] | None = None,
) -> LogitTargets:
    """Choose logit targets and their demeaned unembedding directions.

    Without ``target_tokens``: the most probable tokens, in order, until their
    cumulative probability reaches ``desired_logit_prob`` (the token that
    crosses it included), at most ``max_n_logits``.

    Parameters
    ----------
    logits : (vocab,)
        Last-position logits.
    unembed : (vocab, d_model)
        ``lm_head.weight``.
    tokenizer
        For decoding (and encoding string targets).
    max_n_logits : int
    desired_logit_prob : float in (0, 1]
    target_tokens : sequence of int or str, optional
        Explicit targets: token ids, or strings that encode to one token.

    Returns
    -------
    LogitTargets

    Raises
    ------
    TracerError
        For invalid limits or targets.

    Examples
    --------
    >>> import torch
    >>> class Tok:
    ...     def decode(self, i): return f"t{i}"
    >>> logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    >>> t = select_logit_targets(logits, torch.eye(4), Tok(), desired_logit_prob=0.8)
    >>> t.token_ids.tolist(), t.tokens
    ([0, 1], ['t0', 't1'])
    >>> [round(v, 2) for v in t.vectors[0].tolist()]
    [0.75, -0.25, -0.25, -0.25]
    """
    probs = torch.softmax(logits.float(), dim=-1)
    vocab = int(probs.shape[0])
    if target_tokens is None:
        if not 0 < desired_logit_prob <= 1:
            raise TracerError(f"desired_logit_prob must be in (0, 1], got {desired_logit_prob}")
        if max_n_logits < 1:
            raise TracerError(f"max_n_logits must be at least 1, got {max_n_logits}")
        top_p, top_idx = torch.topk(probs, min(max_n_logits, vocab))
        threshold = torch.tensor(desired_logit_prob, device=top_p.device)
        cutoff = int(torch.searchsorted(torch.cumsum(top_p, 0), threshold)) + 1
        ids = top_idx[:cutoff]
    else:
        resolved = []
        for target in target_tokens:
            if isinstance(target, str):
                encoded = tokenizer(target, add_special_tokens=False)["input_ids"]
                if len(encoded) != 1:
                    raise TracerError(f"target token {target!r} encodes to {len(encoded)} tokens, not 1")
                target = encoded[0]
            if not 0 <= int(target) < vocab:
                raise TracerError(f"target token id {target} is outside the vocabulary of {vocab}")
            resolved.append(int(target))
        if not resolved:
            raise TracerError("target_tokens is empty")
        ids = torch.tensor(resolved, dtype=torch.long, device=probs.device)
    U = unembed.float()
    vectors = U[ids] - U.mean(dim=0, keepdim=True)
    tokens = [tokenizer.decode(int(i)) for i in ids.tolist()]
    return LogitTargets(token_ids=ids, probabilities=probs[ids], vectors=vectors, tokens=tokens)


def _row_blocks(rows: Any) -> list[sp.csr_array]:
    if isinstance(rows, (list, tuple)):
        return [sp.csr_array(block) for block in rows]
    if isinstance(rows, torch.Tensor):
        rows = rows.detach().cpu().numpy()
    return [sp.csr_array(rows)]


def partial_influences(
    rows: Any, probabilities: Any, row_nodes: Any, n_columns: int, max_iter: int = 128,
) -> np.ndarray:
    """Influence on the logits of every column node, from the rows known so far.

    Rows are normalised to unit absolute sum; influence is the logit
    probabilities pushed back through them until nothing is left (the graph
    is acyclic), ``sum_{k>=1} p^T N^k`` restricted to the known rows
    (circuit-tracer's ``compute_partial_influences``), in float32.

    Parameters
    ----------
    rows : (r, n_columns) array, tensor or scipy.sparse matrix, or a list of row blocks
        Attribution rows computed so far.
    probabilities : (k,)
        Logit probabilities.
    row_nodes : (r,) int
        Node of each row: a column index, or ``n_columns + j`` for logit ``j``.
    n_columns : int

    Returns
    -------
    (n_columns,) float32 ndarray

    Notes
    -----
    ``O(depth x nnz)`` time for ``nnz`` stored entries; the rows are never
    densified.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.array([[2.0, -2.0, 0.0], [0.0, 0.0, 1.0]])  # logit <- nodes 0, 1; node 0 <- 2
    >>> partial_influences(rows, [1.0], [3, 0], 3).tolist()
    [0.5, 0.5, 0.5]
    """
    normalised = []
    for block in _row_blocks(rows):
        magnitude = np.abs(block.data).astype(np.float32)
        row_of_entry = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        sums = np.maximum(np.bincount(row_of_entry, weights=magnitude, minlength=block.shape[0]), 1e-8)
        magnitude /= sums[row_of_entry].astype(np.float32)
        # shares the block's index arrays: only the values are copied
        normalised.append(sp.csr_array((magnitude, block.indices, block.indptr), shape=block.shape))
    nodes = np.asarray(row_nodes.cpu() if isinstance(row_nodes, torch.Tensor) else row_nodes, dtype=np.int64)
    probs = np.asarray(probabilities.cpu() if isinstance(probabilities, torch.Tensor) else probabilities,
                       dtype=np.float32)
    starts = np.cumsum([0] + [b.shape[0] for b in normalised])
    mass = np.zeros(n_columns + len(probs), dtype=np.float32)
    mass[n_columns:] = probs
    influence = np.zeros(n_columns, dtype=np.float32)
    for _ in range(max_iter):
        weights = mass[nodes]
        pushed = np.zeros(n_columns, dtype=np.float32)
        for block, start, stop in zip(normalised, starts[:-1], starts[1:]):
            pushed += block.T @ weights[start:stop]
        if not pushed.any():
            return influence
        influence += pushed
        mass = np.zeros_like(mass)
        mass[:n_columns] = pushed
    raise TracerError(f"influence estimate did not converge in {max_iter} steps (a cycle in the rows?)")


class _RowStore:
    """Attribution rows, kept sparse (CSR blocks) in the order they were computed."""

    def __init__(self, n_columns: int):
        self.n_columns = n_columns
        self.blocks: list[sp.csr_array] = []
        self.nodes: list[np.ndarray] = []

    def add(self, rows: torch.Tensor, nodes: Any) -> None:
        self.blocks.append(sp.csr_array(rows.detach().to("cpu", torch.float32).numpy()))
        self.nodes.append(np.asarray(nodes, dtype=np.int64))

    def row_nodes(self) -> np.ndarray:
        return np.concatenate(self.nodes) if self.nodes else np.zeros(0, dtype=np.int64)

    def matrix(self, row_targets: np.ndarray, column_map: np.ndarray, n: int) -> sp.csr_array:
        """The stored rows as an ``(n, n)`` CSR matrix: stored row ``i`` becomes row
        ``row_targets[i]`` (-1 drops it), column ``c`` becomes ``column_map[c]``
        (-1 drops it); rows no stored row maps to stay empty.

        Works block by block and releases each stored block once copied, so the
        peak is the output plus one block's temporaries.
        """
        def kept(block: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            columns = column_map[block.indices]
            keep = columns >= 0
            local_rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))[keep]
            return local_rows, columns[keep], keep

        lengths = np.zeros(n, dtype=np.int64)
        first = 0
        for block in self.blocks:
            local_rows, _, _ = kept(block)
            targets = row_targets[first:first + block.shape[0]]
            counts = np.bincount(local_rows, minlength=block.shape[0])
            lengths[targets[targets >= 0]] = counts[targets >= 0]
            first += block.shape[0]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        first = 0
        for i, block in enumerate(self.blocks):
            local_rows, columns, keep = kept(block)
            targets = row_targets[first:first + block.shape[0]]
            first += block.shape[0]
            ok = targets[local_rows] >= 0
            local_rows, columns, values = local_rows[ok], columns[ok], block.data[keep][ok]
            # entries of a row are contiguous: offset within the row = rank since the row's first entry
            row_start = np.searchsorted(local_rows, local_rows, side="left")
            dest = indptr[targets[local_rows]] + (np.arange(len(local_rows)) - row_start)
            data[dest] = values
            indices[dest] = columns
            self.blocks[i] = None  # release as we go
        self.blocks = []
        return sp.csr_array((data, indices, indptr), shape=(n, n))


@dataclass
class Attribution:
    """The unpruned attribution graph of one prompt.

    Attributes
    ----------
    matrix : scipy.sparse.csr_array, (n, n) float32
        ``matrix[target, source]``; node order in the module docstring.
    residual_matrix : scipy.sparse.csr_array or None
        The residual-direct part of each edge (``split_paths``); the
        attention-mediated part is ``matrix - residual_matrix``.
    feature_rows : (n_s,) int64
        Indices into ``state.features`` of the selected features.
    state : ReplacementState
    targets : LogitTargets
    n_layers : int
    """

    matrix: sp.csr_array
    residual_matrix: sp.csr_array | None
    feature_rows: torch.Tensor
    state: ReplacementState
    targets: LogitTargets
    n_layers: int

    @property
    def adjacency(self) -> torch.Tensor:
        """Dense ``(n, n)`` float32 copy of :attr:`matrix` (for small graphs)."""
        return torch.from_numpy(self.matrix.toarray())

    @property
    def residual(self) -> torch.Tensor | None:
        """Dense copy of :attr:`residual_matrix`, or None."""
        return None if self.residual_matrix is None else torch.from_numpy(self.residual_matrix.toarray())

    @property
    def n_features(self) -> int:
        return int(self.feature_rows.shape[0])

    @property
    def n_pos(self) -> int:
        return self.state.n_pos

    @property
    def n_errors(self) -> int:
        return self.n_layers * (self.n_pos - 1)

    @property
    def n_nodes(self) -> int:
        return int(self.matrix.shape[0])

    def kinds(self) -> np.ndarray:
        """(n,) node kinds, in adjacency order."""
        counts = (self.n_features, self.n_errors, self.n_pos, len(self.targets))
        return np.repeat(np.array(NODE_KINDS, dtype=object), counts)

    def layers_and_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) layer (embeddings -1, logits n_layers) and (n,) position of every node."""
        f = self.state.features
        L, T, k = self.n_layers, self.n_pos, len(self.targets)
        layer = np.concatenate([
            f.layer[self.feature_rows].cpu().numpy(), np.repeat(np.arange(L), T - 1),
            np.full(T, -1), np.full(k, L)])
        pos = np.concatenate([
            f.pos[self.feature_rows].cpu().numpy(), np.tile(np.arange(1, T), L),
            np.arange(T), np.full(k, T - 1)])
        return layer.astype(np.int64), pos.astype(np.int64)


def compute_attribution(
    replacement: ReplacementModel,
    state: ReplacementState,
    *,
    max_n_logits: int = 10,
    desired_logit_prob: float = 0.95,
    target_tokens: Sequence[int | str] | None = None,
    batch_size: int = 256,
    max_feature_nodes: int | None = 8192,
    split_paths: bool = False,
    update_interval: int = 4,
    progress: bool = False,
) -> Attribution:
    """The attribution graph of the prompt in ``state``.

    Parameters
    ----------
    replacement : ReplacementModel
    state : ReplacementState
        From ``replacement.setup(tokens)``.
    max_n_logits, desired_logit_prob, target_tokens
        Logit targets (:func:`select_logit_targets`).
    batch_size : int
        Targets per backward pass (and prompt copies in the forward pass).
    max_feature_nodes : int or None
        Most features to give rows (None: all active features).
    split_paths : bool
        Also compute each edge's residual-direct part.
    update_interval : int
        Batches between re-estimates of feature influence.
    progress : bool
        Show a tqdm bar over backward-pass rows.

    Returns
    -------
    Attribution

    Raises
    ------
    TracerError
        For invalid arguments.
    """
    from corpus.progress import progress_bar

    _check_arguments(batch_size, max_feature_nodes, update_interval)
    model = replacement.model
    targets = select_logit_targets(
        state.logits, model.unembed_weight, model.tokenizer, max_n_logits=max_n_logits,
        desired_logit_prob=desired_logit_prob, target_tokens=target_tokens)
    L, T = replacement.n_layers, state.n_pos
    n_active, n_logits = len(state.features), len(targets)
    n_columns = n_active + L * (T - 1) + T
    n_select = n_active if max_feature_nodes is None else min(max_feature_nodes, n_active)
    batch = max(1, min(batch_size, max(n_logits, n_select)))

    store = _RowStore(n_columns)
    bar = progress_bar(total=n_logits + n_select, desc="attribution rows", unit="row",
                       progress=progress)
    rows = _PrefixPasses(replacement, state, batch, n_rows=n_logits + n_select)
    selected = _compute_rows(rows, store, state, targets, n_select, update_interval * batch_size, bar)
    bar.close()
    del rows

    column_map, n_sources = _column_map(selected, n_active, n_columns)
    n = n_sources + n_logits
    matrix = store.matrix(_row_targets(store.row_nodes(), column_map, n_columns, n_sources), column_map, n)
    residual = None
    if split_paths:  # the same rows again, gradients through attention cut
        part = _RowStore(n_columns)
        _PrefixPasses(replacement, state, batch, n_rows=n_logits + n_select, block_attention=True).compute(
            part, *_all_targets(state, selected, targets, n_columns, L))
        residual = part.matrix(_row_targets(part.row_nodes(), column_map, n_columns, n_sources), column_map, n)
    return Attribution(matrix=matrix, residual_matrix=residual, feature_rows=selected, state=state,
                       targets=targets, n_layers=L)


def _check_arguments(batch_size: int, max_feature_nodes: int | None, update_interval: int) -> None:
    """Reject bad arguments of :func:`compute_attribution` (TracerError naming each)."""
    if batch_size < 1:
        raise TracerError(f"batch_size must be at least 1, got {batch_size}")
    if max_feature_nodes is not None and max_feature_nodes < 0:
        raise TracerError(f"max_feature_nodes must be non-negative, got {max_feature_nodes}")
    if update_interval < 1:
        raise TracerError(f"update_interval must be at least 1, got {update_interval}")


def _compute_rows(rows: _PrefixPasses, store: _RowStore, state: ReplacementState, targets: LogitTargets,
                  n_select: int, queue_size: int, bar: Any) -> torch.Tensor:
    """The logit rows, then the rows of ``n_select`` features; returns their indices, sorted.

    When only some features get rows, they are chosen in order of estimated
    influence on the logits (:func:`partial_influences`), re-estimated from
    the rows computed so far after every ``queue_size`` features, as
    circuit-tracer does.
    """
    features, n_columns, L = state.features, store.n_columns, rows.replacement.n_layers
    n_active = len(features)
    visited = torch.zeros(n_active, dtype=torch.bool)
    if n_select == n_active:  # every feature gets a row: nothing to rank
        rows.compute(store, *_all_targets(state, torch.arange(n_active), targets, n_columns, L), bar)
        return torch.arange(n_active)
    rows.compute(store, *_all_targets(state, torch.zeros(0, dtype=torch.long), targets, n_columns, L), bar)
    device = rows.replacement.model.device
    done = 0
    while done < n_select:
        influence = partial_influences(store.blocks, targets.probabilities, store.row_nodes(), n_columns)
        rank = torch.from_numpy(np.argsort(-influence[:n_active], kind="stable"))
        pending = rank[~visited[rank]][:min(queue_size, n_select - done)]
        on_device = pending.to(device)
        rows.compute(store, features.layer[on_device].cpu(), features.pos[on_device].cpu(),
                     features.encoders[on_device], pending.numpy(), bar)
        visited[pending] = True
        done += len(pending)
    return torch.nonzero(visited).squeeze(1)


def _column_map(selected: torch.Tensor, n_active: int, n_columns: int) -> tuple[np.ndarray, int]:
    """Map from the backward passes' columns (every active feature, errors, tokens) to the
    graph's source nodes (selected features, errors, tokens; -1: dropped), and their count."""
    n_select = len(selected)
    n_sources = n_select + n_columns - n_active
    column_map = np.full(n_columns, -1, dtype=np.int64)
    column_map[selected.numpy()] = np.arange(n_select)
    column_map[n_active:] = np.arange(n_select, n_sources)
    return column_map, n_sources


def _all_targets(state: ReplacementState, features: torch.Tensor, targets: LogitTargets, n_columns: int,
                 n_layers: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """(read layer, position, input direction, node) of the given features, then of the logits."""
    f, k = state.features, len(targets)
    on_device = features.to(f.encoders.device)
    layers = torch.cat([f.layer[on_device].cpu(), torch.full((k,), n_layers)])
    positions = torch.cat([f.pos[on_device].cpu(), torch.full((k,), state.n_pos - 1)])
    vectors = torch.cat([f.encoders[on_device].float(), targets.vectors.float().to(f.encoders.device)])
    nodes = np.concatenate([features.numpy(), n_columns + np.arange(k)])
    return layers, positions, vectors, nodes


class _PrefixPasses:
    """Linear passes over prompt prefixes, built on first use and kept.

    The frozen model is causal, so a target at position ``p`` is reached only
    by sources at positions ``<= p``: its row from a pass over the first
    ``p + 1`` tokens equals its row from the full pass, at a fraction of the
    cost. Targets are batched in order of position, and each batch runs on the
    shortest of up to four prefixes (quarters of the prompt) that holds it;
    prefixes pay for their forward pass only when there are enough batches,
    so short runs use the whole prompt alone. A pass keeps only its graph,
    whose saved tensors are the frozen constants, so keeping four costs little.
    """

    def __init__(self, replacement: ReplacementModel, state: ReplacementState, batch: int, n_rows: int,
                 block_attention: bool = False):
        self.replacement, self.state, self.batch = replacement, state, batch
        self.block_attention = block_attention
        T = state.n_pos
        n_buckets = max(1, min(4, -(-n_rows // batch) // 6, T // 2))
        self.ends = np.array([-(-T * (k + 1) // n_buckets) for k in range(n_buckets)])
        self.passes: dict[int, Any] = {}

    def _pass(self, n_pos: int) -> Any:
        if n_pos not in self.passes:
            self.passes[n_pos] = self.replacement.linear_pass(
                self.state, self.batch, block_attention=self.block_attention, n_pos=n_pos)
        return self.passes[n_pos]

    def compute(self, store: _RowStore, layers: torch.Tensor, positions: torch.Tensor, vectors: torch.Tensor,
                nodes: np.ndarray, bar: Any = None) -> None:
        """Rows of the given targets (CPU layers and positions), added to ``store``."""
        order = torch.from_numpy(np.argsort(positions.numpy(), kind="stable"))
        for chunk in torch.split(order, self.batch):
            end = int(self.ends[np.searchsorted(self.ends, int(positions[chunk].max()), side="right")])
            store.add(self._pass(end).rows(layers[chunk], positions[chunk], vectors[chunk.to(vectors.device)]),
                      nodes[chunk.numpy()])
            if bar is not None:
                bar.update(len(chunk))


def _row_targets(nodes: np.ndarray, column_map: np.ndarray, n_columns: int, n_sources: int) -> np.ndarray:
    """Output row of each stored row: a feature's node index becomes its column
    (= row) in the final order; logit ``j`` (node ``n_columns + j``) goes to
    ``n_sources + j``, below the empty error and token rows."""
    return np.where(nodes < n_columns, column_map[np.minimum(nodes, n_columns - 1)],
                    n_sources + nodes - n_columns)
