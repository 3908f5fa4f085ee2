"""Attribution rows against the frozen model run forward, column by column.

circuit-tracer's own verification: perturb one source (an error vector, a
token embedding, or a feature whose activation is doubled) in the model with
attention patterns, norm scales and MLP outputs frozen, and every active
feature's pre-activation and every target's demeaned logit must move by that
source's column of the adjacency.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.tracer.conftest import ALL_CASES, DEEP_CASES

#: Agreement of an adjacency entry with its float32 perturbation. The perturbation
#: reference subtracts two frozen forward passes whose pre-activations and logits
#: reach 4-26 here, so float32 rounding (eps 1.2e-7) leaves about 1e-6 of cancellation
#: error: ~1e-6 relative to the largest values. Measured over every case and column:
#: at most 1.1e-6 on feature rows and 1.9e-6 on logit rows (was atol 1e-3, rtol 1e-3).
ATOL = 5e-6
RTOL = 1e-5
from tracer.attribution import compute_attribution, partial_influences, select_logit_targets
from tracer.errors import TracerError


def _columns(attribution, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All error and token columns, and ``n_features`` random feature columns."""
    n_f = attribution.n_features
    rng = np.random.default_rng(seed)
    features = np.sort(rng.choice(n_f, size=min(n_features, n_f), replace=False))
    return features, np.arange(n_f, n_f + attribution.n_errors + attribution.n_pos)


def _assert_columns_match(A: np.ndarray, n_f: int, logit_rows: np.ndarray, cols: np.ndarray,
                          feat_change: np.ndarray, logit_change: np.ndarray) -> None:
    np.testing.assert_allclose(A[:n_f][:, cols], feat_change, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(A[logit_rows][:, cols], logit_change, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("case", sorted(ALL_CASES))
def test_adjacency_columns_match_frozen_forward_perturbations(case, traced, measure_columns):
    rm, state, attribution = traced(case)
    A = attribution.adjacency.numpy()
    n_f, k = attribution.n_features, len(attribution.targets)
    assert n_f >= 100, f"{case}: the tiny graph should have at least 100 active features"
    feature_cols, other_cols = _columns(attribution, 100, seed=len(case))
    logit_rows = np.arange(A.shape[0] - k, A.shape[0])
    for cols in (other_cols, feature_cols):
        _assert_columns_match(A, n_f, logit_rows, cols,
                              *measure_columns(rm, state, attribution, cols))
    # the check has teeth: edges reach 10^4 times the tolerance, and a third of the
    # sampled columns carry an edge over 1,000 times it
    column_max = np.abs(A[:, feature_cols]).max(axis=0)
    assert column_max.max() > 5e-2 and (column_max > 5e-3).mean() > 1 / 3


@pytest.mark.parametrize("case", sorted(DEEP_CASES))
def test_four_layer_clt_decoders_and_edges_across_layers_match_perturbations(
        case, traced, measure_columns):
    # layer-0 features of a 4-layer CLT write to all 4 layers; their edges to
    # features 2-3 layers up cross the attention of the layers in between
    rm, state, attribution = traced(case)
    A = attribution.adjacency.numpy()
    n_f, k = attribution.n_features, len(attribution.targets)
    layer, pos = attribution.layers_and_positions()
    f = state.features
    first = np.flatnonzero(layer[:n_f] == 0)
    assert attribution.n_layers == 4 and len(first) >= 20
    assert all(f.write_vectors(int(attribution.feature_rows[c])).shape[0] == 4 for c in first)
    far = layer[:n_f] >= 2
    assert (np.abs(A[:n_f][far][:, first]) > 1e3 * ATOL).sum() >= 20
    _assert_columns_match(A, n_f, np.arange(A.shape[0] - k, A.shape[0]), first,
                          *measure_columns(rm, state, attribution, first))
    if ALL_CASES[case].activation == "topk":
        # TopK: at most k features of a layer fire at each position
        per_cell = np.bincount(layer[:n_f] * state.n_pos + pos[:n_f])
        assert per_cell.max() == ALL_CASES[case].k


def test_adjacency_is_causal_in_layer_and_position(traced):
    _, _, attribution = traced("llama-clt")
    A = attribution.adjacency.numpy()
    layer, pos = attribution.layers_and_positions()
    kinds = attribution.kinds()
    target, source = np.nonzero(A)
    assert len(target) > 1000
    # information flows forward in position, and from a write at layer l (embeddings at -1)
    # only to reads at later layers (a CLT feature of layer l is first read by layer l + 1)
    assert (pos[source] <= pos[target]).all()
    assert (layer[source] < layer[target]).all()
    # error and token rows are empty: they are sources only
    assert not A[kinds == "error"].any() and not A[kinds == "embedding"].any()


@pytest.mark.parametrize("case", ["gemma2-clt-skip", "llama-clt", "gpt2-jumprelu-skip",
                                  "llama4-clt"])
def test_residual_direct_part_matches_perturbations_with_attention_values_frozen(
        case, traced, measure_columns):
    # the independent check of the split: run the frozen model forward with the
    # attention values clamped too, so a source reaches its targets only through
    # the residual stream; the change must equal the residual-direct part
    rm, state, attribution = traced(case, split_paths=True)
    residual, total = attribution.residual.numpy(), attribution.adjacency.numpy()
    n_f, k = attribution.n_features, len(attribution.targets)
    feature_cols, other_cols = _columns(attribution, 100, seed=7)
    logit_rows = np.arange(total.shape[0] - k, total.shape[0])
    for cols in (other_cols, feature_cols):
        _assert_columns_match(residual, n_f, logit_rows, cols,
                              *measure_columns(rm, state, attribution, cols,
                                               block_attention=True))
        # and the attention-mediated part is far from zero on these columns, so the
        # clamp changed the answer: the test would see a wrong split
        assert np.abs(total[:, cols] - residual[:, cols]).max() > 2e3 * ATOL


def test_split_path_parts_sum_to_edge_and_cross_position_edges_are_all_attention(traced):
    _, _, attribution = traced("gemma2-clt-skip", split_paths=True)
    _, _, unsplit = traced("gemma2-clt-skip")
    total, residual = attribution.adjacency.numpy(), attribution.residual.numpy()
    np.testing.assert_allclose(total, unsplit.adjacency.numpy(), atol=1e-6)
    _, pos = attribution.layers_and_positions()
    same_pos = pos[:, None] == pos[None, :]
    # residual stream and skip paths never move information across positions
    assert np.abs(residual[~same_pos]).max() < 1e-6
    attention = total - residual
    assert np.abs(attention[same_pos & (total != 0)]).max() > 1e-3
    assert np.abs(residual[same_pos]).max() > 1e-3


def test_rows_do_not_depend_on_batch_size(hub, traced):
    from tracer.replacement import ReplacementModel
    from tracer.transcoders import load_transcoders

    rm, state, full = traced("qwen3-topk-skip")
    # 50 small batches run on prompt prefixes (position buckets); 3 large ones on the whole prompt
    small = compute_attribution(rm, state, max_feature_nodes=None, batch_size=7, split_paths=True)
    np.testing.assert_allclose(small.adjacency.numpy(), full.adjacency.numpy(), atol=1e-6)
    _, _, split = traced("qwen3-topk-skip", split_paths=True)
    np.testing.assert_allclose(small.residual.numpy(), split.residual.numpy(), atol=1e-6)
    # and a set loaded eagerly (weights on the device) gives the same graph as the lazy one
    eager = ReplacementModel(rm.model, load_transcoders(hub.transcoder_id("qwen3-topk-skip"), lazy=False))
    again = compute_attribution(eager, eager.setup(state.tokens), max_feature_nodes=None, batch_size=64)
    np.testing.assert_allclose(again.adjacency.numpy(), full.adjacency.numpy(), atol=1e-6)


def test_first_selected_features_are_the_most_influential_on_the_logits(traced):
    """With a feature budget, the first batches go to the features with the largest
    influence estimated from the logit rows alone (circuit-tracer's ranking)."""
    rm, state, full = traced("llama-plt")
    A = full.adjacency.numpy()
    n_f, k = full.n_features, len(full.targets)
    probs = full.targets.probabilities.numpy()
    logit_rows = np.abs(A[-k:, :n_f + full.n_errors + full.n_pos])
    logit_rows /= logit_rows.sum(1, keepdims=True)
    first_step = probs @ logit_rows  # features feed logits directly in the first estimate
    budget = 20
    expected = np.sort(np.argsort(-first_step[:n_f], kind="stable")[:budget])
    # batches of 2: 15 batches, run on prompt prefixes (two position buckets)
    chosen = compute_attribution(rm, state, max_feature_nodes=budget, batch_size=2, update_interval=10)
    assert chosen.feature_rows.tolist() == expected.tolist()
    # the rows and columns kept are the full graph's restricted to the chosen features
    keep = np.concatenate([expected, np.arange(n_f, A.shape[0])])
    np.testing.assert_allclose(chosen.adjacency.numpy(), A[np.ix_(keep, keep)], atol=1e-6)


def test_salient_logits_stop_at_the_token_crossing_the_probability_mass():
    class Tok:
        def decode(self, i):
            return f"<{i}>"

    probs = torch.tensor([0.05, 0.4, 0.3, 0.2, 0.05])
    unembed = torch.arange(15.0).reshape(5, 3)
    t = select_logit_targets(torch.log(probs), unembed, Tok(), desired_logit_prob=0.75)
    assert t.token_ids.tolist() == [1, 2, 3]  # 0.4 + 0.3 < 0.75 <= 0.4 + 0.3 + 0.2
    np.testing.assert_allclose(t.probabilities.numpy(), [0.4, 0.3, 0.2], rtol=1e-6)
    assert t.tokens == ["<1>", "<2>", "<3>"]
    # demeaned unembedding rows: row - mean row (the mean row is [6, 7, 8])
    np.testing.assert_allclose(t.vectors.numpy(), [[-3, -3, -3], [0, 0, 0], [3, 3, 3]])
    capped = select_logit_targets(torch.log(probs), unembed, Tok(), max_n_logits=2, desired_logit_prob=0.99)
    assert capped.token_ids.tolist() == [1, 2]


def test_explicit_target_tokens_by_id_and_string(hub):
    tokenizer = hub.model("llama").tokenizer
    logits = torch.zeros(100)
    t = select_logit_targets(logits, torch.eye(100)[:, :4], tokenizer, target_tokens=[7, "w9"])
    assert t.token_ids.tolist() == [7, 13]
    np.testing.assert_allclose(t.probabilities.numpy(), [0.01, 0.01], rtol=1e-5)
    with pytest.raises(TracerError, match="encodes to 2 tokens"):
        select_logit_targets(logits, torch.eye(100), tokenizer, target_tokens=["w1 w2"])
    with pytest.raises(TracerError, match="outside the vocabulary"):
        select_logit_targets(logits, torch.eye(100), tokenizer, target_tokens=[100])


def test_partial_influence_matches_dense_power_series():
    rng = np.random.default_rng(0)
    # a 5-node DAG: logit rows (nodes 5, 6) read nodes 0..4, node rows 0..2 read later-indexed nodes
    rows = np.zeros((5, 5))
    rows[0] = rng.normal(size=5)  # logit 0
    rows[1] = rng.normal(size=5)  # logit 1
    rows[2, 1:] = rng.normal(size=4)  # node 0 <- 1..4
    rows[3, 2:] = rng.normal(size=3)  # node 1 <- 2..4
    rows[4, 4] = 1.0  # node 2 <- 4
    row_nodes = [5, 6, 0, 1, 2]
    probs = np.array([0.7, 0.3])
    full = np.zeros((7, 7))
    full[row_nodes, :5] = np.abs(rows) / np.abs(rows).sum(1, keepdims=True)
    weights = np.r_[np.zeros(5), probs]
    expected = weights @ (np.linalg.inv(np.eye(7) - full) - np.eye(7))
    got = partial_influences(torch.tensor(rows, dtype=torch.float32), torch.tensor(probs, dtype=torch.float32),
                             torch.tensor(row_nodes), 5)
    np.testing.assert_allclose(got, expected[:5], rtol=1e-5)
    # rows given as sparse blocks (as the tracer keeps them) give the same influence
    blocks = [sp.csr_array(rows[:2]), sp.csr_array(rows[2:])]
    np.testing.assert_allclose(partial_influences(blocks, probs, row_nodes, 5), got, rtol=1e-6)


def test_invalid_arguments_are_rejected(traced):
    rm, state, _ = traced("llama-plt")
    with pytest.raises(TracerError, match="batch_size"):
        compute_attribution(rm, state, batch_size=0)
    with pytest.raises(TracerError, match="desired_logit_prob"):
        compute_attribution(rm, state, desired_logit_prob=1.5)
