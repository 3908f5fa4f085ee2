"""Signs are never invented (issue #15): an edge of sign 0 (a dual or unknown
regulation, as in biological networks) is neither + nor -.

Typed counts of hand-built networks, counted by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest

from motifs.catalog import FFL_SIGN_TYPES, SIGNED_TRIAD_NAMES
from motifs.census import (
    signed_ffl_census,
    signed_ffl_census_many,
    signed_triad_census,
    signed_triad_census_many,
    triad_census,
)
from motifs.cli import read_edge_list
from motifs.instances import motif_instances
from motifs.network import Network

# Five disjoint pieces:
#   0->1 +, 1->2 0 (dual), 0->2 +      FFL with an unknown sign: ffl_unsigned
#   3->4 +, 4->5 +, 3->5 +             FFL C1
#   6->7 -, 7->8 +, 6->8 -             FFL C2
#   9->10 0, 10->11 +                   chain with an unknown sign: no chain row
#   12->13 +, 13->14 -                  chain_+-
#   15->16 0, 15->17 0, 15->18 -        fan-outs from 15: (0,0), (0,-), (0,-): none typed;
#                                       16, 17, 18 unlinked to each other
EDGES = [(0, 1, 1), (1, 2, 0), (0, 2, 1), (3, 4, 1), (4, 5, 1), (3, 5, 1), (6, 7, -1),
         (7, 8, 1), (6, 8, -1), (9, 10, 0), (10, 11, 1), (12, 13, 1), (13, 14, -1),
         (15, 16, 0), (15, 17, 0), (15, 18, -1)]


@pytest.fixture
def dual_net() -> Network:
    src, dst, sign = zip(*EDGES)
    return Network.from_edges(src, dst, n_nodes=19, sign=sign)


def test_a_sign_of_zero_stays_zero(dual_net):
    by_edge = dict(zip(zip(dual_net.src.tolist(), dual_net.dst.tolist()),
                       dual_net.sign.tolist()))
    assert by_edge[(1, 2)] == 0 and by_edge[(9, 10)] == 0 and by_edge[(0, 1)] == 1
    assert int((dual_net.sign == 0).sum()) == 4


def test_typed_counts_of_a_network_with_dual_edges(dual_net):
    census = signed_triad_census(dual_net)
    expected = dict.fromkeys(SIGNED_TRIAD_NAMES, 0)
    expected.update({"ffl_unsigned": 1, "ffl_C1": 1, "ffl_C2": 1, "chain_+-": 1})
    assert census.to_dict() == expected
    # the FFL rows still add up to the 030T count; chains and fans only where signs are known
    triads = triad_census(dual_net)
    assert census[[*FFL_SIGN_TYPES, "ffl_unsigned"]].sum() == triads["030T"] == 3
    assert triads["021C"] == 2 and triads["021D"] == 3
    assert signed_ffl_census(dual_net).to_dict() == {
        **dict.fromkeys(FFL_SIGN_TYPES, 0), "ffl_C1": 1, "ffl_C2": 1, "ffl_unsigned": 1}


def test_batched_signed_census_agrees_with_dual_edges(dual_net):
    # sample 0: the network; sample 1: every sign known (+), so no loop is unsigned
    signs = np.stack([dual_net.sign, np.ones(dual_net.n_edges, dtype=np.int8)])
    many = signed_triad_census_many(dual_net.src, dual_net.dst, signs, dual_net.n_nodes)
    assert many[0].tolist() == signed_triad_census(dual_net).tolist()
    row = dict(zip(SIGNED_TRIAD_NAMES, many[1].tolist()))
    assert row["ffl_C1"] == 3 and row["ffl_unsigned"] == 0 and row["chain_++"] == 2
    assert signed_ffl_census_many(dual_net.src, dual_net.dst, signs,
                                  dual_net.n_nodes)[:, -1].tolist() == [1, 0]


def test_ffl_instances_with_an_unknown_sign_are_unsigned(dual_net):
    table = motif_instances(dual_net, "ffl")
    types = dict(zip(table["x"].tolist(), table["sign_type"].tolist())) \
        if "sign_type" in table else None
    assert types is not None, table.columns.tolist()
    assert types == {0: "ffl_unsigned", 3: "ffl_C1", 6: "ffl_C2"}


def test_edge_list_reads_a_zero_sign_as_unknown(tmp_path):
    path = tmp_path / "grn.txt"
    path.write_text("crp lacZ +\nlacI lacZ 0\ncrp lacI -\n")
    net = read_edge_list(path)
    signs = {(net.names[s], net.names[t]): int(v) for s, t, v in zip(net.src, net.dst, net.sign)}
    assert signs == {("crp", "lacZ"): 1, ("lacI", "lacZ"): 0, ("crp", "lacI"): -1}
    assert signed_triad_census(net)["ffl_unsigned"] == 1


@pytest.mark.parametrize("model", ["layer-config", "config-dag", "sign"])
def test_nulls_carry_unknown_signs_with_their_edges(model):
    """A 0 stays a 0, never turned into +1: switching nulls move an edge's sign with
    it (switches keep sources, so per-source counts hold), the sign shuffle
    permutes the signs (so the counts hold)."""
    from motifs.nulls import sample_nulls

    rng = np.random.default_rng(4)
    n = 30
    layer = np.repeat(np.arange(6), 5)
    cells = [(s, d) for s in range(n) for d in range(n) if layer[s] < layer[d]]
    picked = rng.choice(len(cells), size=150, replace=False)
    src, dst = np.array([cells[i] for i in picked]).T
    sign = rng.choice([-1, 0, 1], size=src.size)
    net = Network.from_edges(src, dst, n_nodes=n, sign=sign, layer=layer)
    nulls = sample_nulls(net, model, 40, seed=2)
    keep = np.zeros(n, dtype=np.int64) if model == "sign" else None  # shuffle: totals only
    for s in range(nulls.n_samples):
        for value in (-1, 0, 1):
            where = nulls.src[s][nulls.sign[s] == value] if keep is None else \
                keep[:int((nulls.sign[s] == value).sum())]
            real = net.src[net.sign == value] if keep is None else \
                keep[:int((net.sign == value).sum())]
            assert np.bincount(where, minlength=n).tolist() == \
                np.bincount(real, minlength=n).tolist(), model
