"""Shared fixtures of the motif tests: tiny hand-built networks, seeded random
graphs with mutual edges and cycles, the 17 real Neuronpedia graphs, and
converters to the independent implementations we check against (networkx,
igraph)."""

from __future__ import annotations

import functools
from pathlib import Path

import igraph
import networkx as nx
import numpy as np
import pytest

from motifs.network import Network

DATA_DIR = Path("/work/shared/data/neuronpedia")
REAL_GRAPHS = sorted(p.name for p in DATA_DIR.glob("*.json")) if DATA_DIR.is_dir() else []
DALLAS = "mkenney2__circuit-motifs__capital-state-dallas.json"


@functools.lru_cache(maxsize=None)
def real_graph(name: str):
    """The AttributionGraph of one real export (read once per session)."""
    from corpus.neuronpedia import read_json

    if not (DATA_DIR / name).is_file():
        pytest.skip(f"real graph {name} is not available")
    return read_json(DATA_DIR / name)


@functools.lru_cache(maxsize=None)
def real_network(name: str, keep_errors: bool = False) -> Network:
    """The Network of one real export, error nodes dropped unless asked."""
    return Network.from_graph(real_graph(name), keep_errors=keep_errors)


def random_network(n: int, p: float, seed: int, mutual: float = 0.3,
                   signed: bool = False) -> Network:
    """A seeded random digraph: each pair linked with probability p, a
    ``mutual`` share of the linked pairs reciprocated (so mutual dyads and
    cycles of every length occur), signs +/- at random when asked."""
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < p, 1)
    i, j = np.nonzero(upper)
    flip = rng.random(i.size) < 0.5
    src, dst = np.where(flip, j, i), np.where(flip, i, j)
    both = rng.random(i.size) < mutual
    src = np.concatenate([src, dst[both]])
    dst = np.concatenate([dst, src[: i.size][both]])
    weight = rng.normal(size=src.size)
    return Network.from_edges(src, dst, n_nodes=n, weight=weight,
                              sign=np.sign(weight) if signed else None)


def to_networkx(net: Network) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    graph.add_edges_from(zip(net.src.tolist(), net.dst.tolist()))
    return graph


def to_igraph(net: Network) -> igraph.Graph:
    return igraph.Graph(n=net.n_nodes, edges=list(zip(net.src.tolist(), net.dst.tolist())),
                        directed=True)


def dense(net: Network) -> np.ndarray:
    """(n, n) bool adjacency."""
    return net.adjacency().toarray().astype(bool)


@pytest.fixture
def ffl_pair() -> Network:
    """Two feed-forward loops sharing the edge 0->1: 0->1->2, 0->2 and 0->1->3, 0->3.

    Triads by hand: {0,1,2} and {0,1,3} are 030T; {0,2,3} is 0->2, 0->3
    (021D); {1,2,3} is 1->2, 1->3 (021D).
    """
    return Network.from_edges([0, 1, 0, 1, 0], [1, 2, 2, 3, 3],
                              weight=[2.0, 8.0, -4.0, 1.0, -1.0],
                              sign=[1, 1, -1, 1, -1])


@pytest.fixture
def layered_dag() -> Network:
    """A seeded 4-layer DAG (6 nodes a layer), edges only upwards."""
    rng = np.random.default_rng(7)
    layer = np.repeat(np.arange(4), 6)
    src, dst = np.nonzero((layer[:, None] < layer[None, :]) & (rng.random((24, 24)) < 0.3))
    weight = rng.normal(size=src.size)
    return Network.from_edges(src, dst, n_nodes=24, weight=weight, sign=np.sign(weight),
                              layer=layer)
