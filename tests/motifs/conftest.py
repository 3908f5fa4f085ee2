"""Shared fixtures of the motif tests: tiny hand-built networks, seeded random
graphs with mutual edges and cycles, the 17 real Neuronpedia graphs, and
converters to the independent implementations we check against (networkx,
igraph)."""

from __future__ import annotations

import functools
import json

import igraph
import networkx as nx
import numpy as np
import pytest

from motifs.network import Network
from tests.conftest import SHARED_GRAPHS, real_graph_files
from tests.data.make_motif_references import REFERENCE_FILE

#: igraph's counts of every shared real graph (tests/data/make_motif_references.py).
REFERENCES: dict = json.loads(REFERENCE_FILE.read_text())["graphs"]
#: The real exports: those the references name and any others in the data folder,
#: so a missing data folder fails each real-graph test instead of collecting none.
REAL_GRAPHS = sorted(set(REFERENCES) | {p.name for p in real_graph_files()})
DALLAS = "mkenney2__circuit-motifs__capital-state-dallas.json"


@functools.lru_cache(maxsize=None)
def real_graph(name: str):
    """The AttributionGraph of one real export (read once per session)."""
    from corpus.neuronpedia import read_json

    path = SHARED_GRAPHS / name
    if not path.is_file():
        pytest.fail(f"real graph {path} is missing: put the shared exports there or point "
                    "CGRAM_SHARED_GRAPHS at their folder")
    return read_json(path)


@functools.lru_cache(maxsize=None)
def real_network(name: str, keep_errors: bool = False) -> Network:
    """The Network of one real export, error nodes dropped unless asked."""
    return Network.from_graph(real_graph(name), keep_errors=keep_errors)


def stored_reference(name: str, keep_errors: bool, folder=None) -> dict:
    """igraph's stored counts of one real export, after checking they are its counts.

    Fails (never skips) when the export is missing, when its sha256 is not the
    one the references were computed from, or when our reader builds another
    network from it: rerun ``tests/data/make_motif_references.py``.
    """
    from tests.data.make_motif_references import edges_sha256, file_sha256

    regenerate = ("regenerate the references: PYTHONPATH=$PWD python "
                  "tests/data/make_motif_references.py")
    if name not in REFERENCES:
        pytest.fail(f"no stored igraph reference for {name}; {regenerate}")
    path = (SHARED_GRAPHS if folder is None else folder) / name
    if not path.is_file():
        pytest.fail(f"real graph {path} is missing (set CGRAM_SHARED_GRAPHS)")
    entry = REFERENCES[name]
    if file_sha256(path) != entry["sha256"]:
        pytest.fail(f"{path} changed since its igraph reference was computed (sha256 "
                    f"{entry['sha256'][:12]}...); {regenerate}")
    counted = entry["keep_errors" if keep_errors else "drop_errors"]
    from corpus.neuronpedia import read_json

    net = real_network(name, keep_errors) if folder is None else \
        Network.from_graph(read_json(path), keep_errors=keep_errors)
    if (net.n_nodes, net.n_edges, edges_sha256(net)) != \
            (counted["n_nodes"], counted["n_edges"], counted["edges_sha256"]):
        pytest.fail(f"{name}: the network read now ({net.n_nodes} nodes, {net.n_edges} edges) "
                    f"is not the one the reference counted ({counted['n_nodes']}, "
                    f"{counted['n_edges']}); {regenerate}")
    return counted


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
