"""Motif instances: hand-built loops, brute force on random graphs, agreement
with the census, and mapping back to the attribution graph."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from motifs.census import signed_triad_census, triad_census
from motifs.errors import MotifError
from motifs.instances import INSTANCE_MOTIFS, motif_instances
from motifs.network import Network, instances_for_graph
from tests.motifs.conftest import DALLAS, dense, random_network, real_graph, real_network

CODES = {"ffl": "030T", "chain": "021C", "fan_in": "021U", "fan_out": "021D", "cycle3": "030C"}


def test_ffl_instances_of_two_loops_by_hand(ffl_pair):
    table = motif_instances(ffl_pair, "ffl")
    # loop 0->1->2: |w| = 2, 8, 4 -> geometric mean 4; loop 0->1->3: 2, 1, 1 -> 2**(1/3)
    assert table[["x", "y", "z"]].values.tolist() == [[0, 1, 2], [0, 1, 3]]
    assert table["w_xy"].tolist() == [2.0, 2.0]
    assert table["w_yz"].tolist() == [8.0, 1.0]
    assert table["w_xz"].tolist() == [-4.0, -1.0]
    assert table["strength"].tolist() == pytest.approx([4.0, 2 ** (1 / 3)])
    assert table["sign_type"].tolist() == ["ffl_I3", "ffl_I3"]
    assert motif_instances(ffl_pair, "ffl", limit=1)[["x", "y", "z"]].values.tolist() == [[0, 1, 2]]


def test_fan_instances_by_hand(ffl_pair):
    table = motif_instances(ffl_pair, "fan_out")
    # 0 -> {2, 3} with weights -4, -1 and 1 -> {2, 3} with 8, 1
    assert table[["x", "y", "z"]].values.tolist() == [[1, 2, 3], [0, 2, 3]]
    assert table["sign_type"].tolist() == ["fan_out_++", "fan_out_--"]
    assert motif_instances(ffl_pair, "chain").empty


def brute_force(net: Network, motif: str) -> set[tuple[int, int, int]]:
    """Every (x, y, z) of the motif, checked triple by triple (test reference)."""
    a = dense(net)
    found = set()
    for x, y, z in itertools.permutations(range(net.n_nodes), 3):
        links = {(u, v) for u, v in itertools.permutations((x, y, z), 2) if a[u, v]}
        roles = {"x": x, "y": y, "z": z}
        wanted = {(roles[u], roles[v]) for u, v in INSTANCE_MOTIFS[motif]}
        if links != wanted:
            continue
        if motif == "fan_in" and x > y or motif == "fan_out" and y > z:
            continue
        if motif == "cycle3" and not (x < y and x < z):
            continue
        found.add((x, y, z))
    return found


@pytest.mark.parametrize("motif", list(INSTANCE_MOTIFS))
@pytest.mark.parametrize("seed", range(3))
def test_instances_match_brute_force_and_census(motif, seed):
    net = random_network(n=11, p=0.4, seed=400 + seed, mutual=0.25, signed=True)
    table = motif_instances(net, motif)
    got = set(map(tuple, table[["x", "y", "z"]].values.tolist()))
    assert got == brute_force(net, motif)
    assert len(table) == len(got) == triad_census(net)[CODES[motif]]
    assert np.all(np.diff(table["strength"].to_numpy()) <= 0)


def test_instance_sign_types_add_up_to_the_signed_census():
    net = random_network(n=30, p=0.3, seed=9, mutual=0.1, signed=True)
    census = signed_triad_census(net)
    for motif in ("ffl", "chain", "fan_in", "fan_out"):
        counts = motif_instances(net, motif)["sign_type"].value_counts()
        for name, count in counts.items():
            assert census[name] == count


def test_unsigned_network_has_no_sign_types():
    net = Network.from_edges([0, 1, 0], [1, 2, 2])
    table = motif_instances(net)
    assert table["sign_type"].isna().all() and table["strength"].tolist() == [1.0]


def test_instances_on_the_dallas_graph_map_back_to_node_ids():
    graph = real_graph(DALLAS)
    net = real_network(DALLAS)
    table = instances_for_graph(graph, net, "ffl")
    assert len(table) == triad_census(net)["030T"]
    top = table.iloc[0]
    assert top["x_id"] == graph.nodes["node_id"].iloc[net.rows[top["x"]]]
    # attribution graphs point up the layers
    assert (table["x_layer"] < table["y_layer"]).all() and (table["y_layer"] < table["z_layer"]).all()
    assert set(table["x_kind"]) <= {"embedding", "feature"}


def test_instances_reject_bad_arguments(ffl_pair):
    with pytest.raises(MotifError, match="lists"):
        motif_instances(ffl_pair, "bifan")
    with pytest.raises(MotifError, match="limit"):
        motif_instances(ffl_pair, limit=-1)
    with pytest.raises(MotifError, match="rows"):
        instances_for_graph(real_graph(DALLAS), ffl_pair)


def test_ranked_instances_limit_keeps_the_full_ranking_with_ties():
    from motifs.instances import ranked_instances

    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 40, 400), rng.integers(0, 40, 400)
    keep = src < dst  # a DAG with many loops; weights from {-2, -1, 1, 2}: many tied strengths
    weight = rng.choice([-2.0, -1.0, 1.0, 2.0], keep.sum())
    net = Network.from_edges(src[keep], dst[keep], weight=weight, sign=np.sign(weight))
    full = motif_instances(net, "ffl")
    assert len(full) > 50
    for limit in (1, 7, 30, len(full) + 5):
        top = pd.DataFrame(ranked_instances(net, "ffl", limit))
        pd.testing.assert_frame_equal(top, full.head(limit))
