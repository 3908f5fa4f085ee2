"""FFL cascades: the DP against brute-force enumeration, hand-checked types and stages,
the influence split against a dense inverse, speed on the largest shared graph."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from motifs.cascades import (
    cascades_for_graph,
    find_cascades,
    influence_split,
    node_stages,
    topological_depth,
)
from motifs.errors import MotifError
from motifs.network import Network

from tests.conftest import SHARED_GRAPHS as SHARED


def random_dag(seed: int, n: int = 12, p: float = 0.6) -> Network:
    rng = np.random.default_rng(seed)
    src, dst = np.nonzero(np.triu(rng.random((n, n)) < p, 1))
    weight = rng.uniform(0.1, 1.0, src.size) * rng.choice([-1.0, 1.0], src.size)
    return Network.from_edges(src, dst, n_nodes=n, sign=np.sign(weight), weight=weight,
                              layer=np.arange(n))


def brute_force(net: Network, inputs: set[int], outputs: list[int]) -> dict[int, list[tuple[float, tuple]]]:
    """Every chain of FFL instances from an input to each output, strongest first,
    by plain enumeration (instances from all node triples, edge relevance from a dense inverse)."""
    n = net.n_nodes
    w = np.zeros((n, n))
    w[net.src, net.dst] = net.weight
    a = np.abs(w) / np.maximum(np.abs(w).sum(axis=0, keepdims=True), 1e-300)  # [s, t], by target column
    out_w = np.zeros(n)
    out_w[outputs] = 1.0 / len(outputs)
    influence = (np.linalg.inv(np.eye(n) - a) - np.eye(n)) @ out_w  # all paths s -> outputs
    norm = a * (influence + out_w)[None, :]  # edge relevance a[s, t] (I_t + w_t)
    loops = [(x, y, z) for x, y, z in itertools.permutations(range(n), 3)
             if w[x, y] and w[y, z] and w[x, z]]
    strength = {f: (norm[f[0], f[1]] * norm[f[1], f[2]] * norm[f[0], f[2]]) ** (1 / 3) for f in loops}
    found: dict[int, list] = {o: [] for o in outputs}

    def extend(chain: list, value: float) -> None:
        last = chain[-1]
        if last[2] in found:
            found[last[2]].append((value, tuple(chain)))
        for g in loops:
            if g[0] in (last[1], last[2]):
                extend(chain + [g], value * strength[g])

    for f in loops:
        if f[0] in inputs:
            extend([f], strength[f])
    return {o: sorted(chains, key=lambda c: -c[0]) for o, chains in found.items()}


@pytest.mark.parametrize("seed", range(8))
def test_dp_top_k_equals_brute_force_enumeration(seed):
    net = random_dag(seed)
    inputs, outputs = [0, 1], [10, 11]
    k = 6
    result = find_cascades(net, inputs, outputs, top_k=k)
    expected = brute_force(net, set(inputs), outputs)
    assert min(len(v) for v in expected.values()) > k  # more chains than kept, per output
    t = result.ffl
    for out in outputs:
        got = result.for_output(out)
        want = expected[out][:k]
        assert len(got) == len(want)
        np.testing.assert_allclose([c.strength for c in got], [v for v, _ in want], rtol=1e-10)
        assert [tuple((int(t.x[f]), int(t.y[f]), int(t.z[f])) for f in c.ffls) for c in got] == \
            [chain for _, chain in want]
        for c in got:
            # the node path is a directed path from an input to the output
            assert c.nodes[0] in inputs and c.nodes[-1] == out
            edges = set(zip(net.src.tolist(), net.dst.tolist()))
            assert all((int(a), int(b)) in edges for a, b in zip(c.nodes[:-1], c.nodes[1:]))


def test_sign_types_and_coherence_by_hand():
    # 0 -> 1 -> 2 with 0 -> 2: C1 (+,+,+); then 2 -> 3 -> 4 with 2 -> 4: I1 (+,-,+)
    net = Network.from_edges([0, 1, 0, 2, 3, 2], [1, 2, 2, 3, 4, 4], weight=[1.0, 1.0, 1.0, 1.0, -1.0, 1.0],
                             sign=[1, 1, 1, 1, -1, 1])
    result = find_cascades(net, [0], [4])
    (c,) = result.cascades
    assert result.ffl.sign_type[c.ffls].tolist() == ["ffl_C1", "ffl_I1"]
    assert result.ffl.coherent[c.ffls].tolist() == [True, False]
    assert c.coherent is False
    assert c.nodes.tolist() == [0, 1, 2, 3, 4]
    # every edge carries half of the output's input (relevance 1/2): loops 1/2 and 1/2
    assert c.strength == pytest.approx(0.25)
    # C2 = (-, +, -): x inhibits y, y activates z, x inhibits z
    c2 = Network.from_edges([0, 1, 0], [1, 2, 2], weight=[-1.0, 1.0, -2.0], sign=[-1, 1, -1])
    (only,) = find_cascades(c2, [0], [2]).cascades
    assert only.coherent and find_cascades(c2, [0], [2]).ffl.sign_type.tolist() == ["ffl_C2"]


def test_a_chain_can_continue_from_the_mediator():
    # loop (0, 1, 2) hands on at its mediator 1 to loop (1, 3, 4)
    net = Network.from_edges([0, 1, 0, 1, 3, 1], [1, 2, 2, 3, 4, 4], weight=[1.0] * 6)
    (c,) = find_cascades(net, [0], [4]).cascades
    assert c.nodes.tolist() == [0, 1, 3, 4]
    assert len(c.ffls) == 2


def test_stages_follow_relative_depth_and_can_be_overridden():
    # input 0 (layer -1), features at layers 0, 3, 6, 9, output 5 (layer 10)
    net = Network.from_edges([0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 5], weight=[1.0] * 6,
                             layer=[-1, 0, 3, 6, 9, 10])
    stage, rel = node_stages(net, np.array([0]), np.array([5]))
    assert rel.tolist() == pytest.approx([0.0, 0.0, 1 / 3, 2 / 3, 1.0, 1.0])
    assert stage.tolist() == ["grounding", "grounding", "entity", "output", "output", "output"]
    stage, _ = node_stages(net, np.array([0]), np.array([5]), tiers=(0.5, 0.9))
    assert stage.tolist() == ["grounding", "grounding", "grounding", "entity", "output", "output"]
    # depth alone decides: a layer-0 node writing straight to the output is still grounding
    writer = Network.from_edges([0, 1, 1], [1, 2, 3], weight=[1.0] * 3, layer=[-1, 0, 5, 10])
    assert node_stages(writer, np.array([0]), np.array([3]))[0][1] == "grounding"
    with pytest.raises(MotifError, match="tiers"):
        node_stages(net, np.array([0]), np.array([5]), tiers=(0.8, 0.2))


@pytest.mark.parametrize("seed", range(3))
def test_influence_split_matches_a_dense_inverse(seed):
    net = random_dag(seed, n=10)
    a = np.zeros((net.n_nodes,) * 2)
    a[net.dst, net.src] = np.abs(net.weight)
    a /= np.maximum(a.sum(axis=1, keepdims=True), 1e-300)
    b = np.linalg.inv(np.eye(net.n_nodes) - a) - np.eye(net.n_nodes)
    t = find_cascades(net, [0], [9]).ffl
    split = influence_split(net, t.x, t.y, t.z)
    np.testing.assert_allclose(split["total"], b[t.z, t.x], rtol=1e-9)
    np.testing.assert_allclose(split["via_mediator"] * split["total"], b[t.y, t.x] * b[t.z, t.y], rtol=1e-9)
    np.testing.assert_allclose(split["direct"] * split["total"], a[t.z, t.x], rtol=1e-9)
    np.testing.assert_allclose(split[["via_mediator", "direct", "other"]].sum(axis=1), 1.0)
    assert (split["other"] > -1e-12).all()


def test_cycles_and_bad_arguments_are_refused():
    with pytest.raises(MotifError, match="acyclic"):
        topological_depth(Network.from_edges([0, 1, 2], [1, 2, 0]))
    net = random_dag(0)
    with pytest.raises(MotifError, match="top_k"):
        find_cascades(net, [0], [11], top_k=0)
    with pytest.raises(MotifError, match="outputs"):
        find_cascades(net, [0], [12])


def _largest_shared_graph():
    from corpus.neuronpedia import read_json

    files = sorted(SHARED.glob("*.json"))
    if not files:
        pytest.skip("shared Neuronpedia data not present")
    return read_json(max(files, key=lambda p: p.stat().st_size))


def test_all_cascades_of_the_largest_shared_graph_take_under_two_seconds():
    graph = _largest_shared_graph()
    times = []
    for _ in range(3):  # CPU time, best of three: the machine is shared, the claim is about the code
        start = time.process_time()
        result, net, records = cascades_for_graph(graph, top_k=5)
        times.append(time.process_time() - start)
    assert net.n_edges > 20_000 and len(result.ffl) > 500_000
    assert min(times) < 2.0, times
    logits = graph.nodes["kind"].to_numpy() == "logit"
    assert len(records) == 5 * int(logits.sum())
    assert all(r["nodes"][-1] == r["logit"] for r in records)
    assert all(r["stages"][0] == "grounding" and r["stages"][-1] == "output" for r in records)
