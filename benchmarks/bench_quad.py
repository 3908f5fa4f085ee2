"""The size-4 census of null samples, per shared graph: numpy path beside the compiled link sums.

For each of the 17 shared Neuronpedia graphs (error nodes dropped, as
``Network.from_graph`` builds them), draws ``--samples`` null samples
(``--null``, default causal-config, the demo's first null; seed 0) and times
``motifs.census.motif4_census_many`` on them twice in this process: with the
compiled kernels (``quad_row_links`` / ``quad_link_sums`` walk the links of
oriented samples on bitsets) and with the numpy path they replace
(``census._kernel`` set to None: links listed with ``numpy.nonzero``, gathered
with ``numpy.take``, 4-cliques by numpy bitset popcounts). Prints CPU
milliseconds per sample (``time.process_time``, one BLAS thread: the machine
is shared) for both, the ratio numpy / compiled, and checks that both give the
same counts. The last line sums the per-sample times over the graphs: the
census work of one null sample of every graph, the unit the demo's stage 4
repeats 200 times per null.

Usage: python benchmarks/bench_quad.py [--samples S] [--null MODEL]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# one BLAS thread (the machine is shared, CPU time is the figure compared, and the demo's
# pool workers run one each), the repository on the path, the shared graphs
from bench_causal_null import SHARED  # noqa: E402

import numpy as np  # noqa: E402


def cpu_ms_per_sample(adjacency: np.ndarray, compiled: bool) -> tuple[float, np.ndarray]:
    """(CPU ms per sample, counts) of the size-4 census, by the chosen path."""
    import motifs.census as census

    kernel = census._kernel
    census._kernel = kernel if compiled else None
    try:
        start = time.process_time()
        counts = census.motif4_census_many(adjacency)
        return (time.process_time() - start) / len(adjacency) * 1e3, counts
    finally:
        census._kernel = kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--null", default="causal-config")
    args = parser.parse_args()

    import motifs.census as census
    from corpus.neuronpedia import read_json
    from motifs.network import Network
    from motifs.nulls import sample_nulls

    if census._kernel is None:
        raise SystemExit("the C extension is not built: python setup.py build_ext --inplace")
    files = sorted(SHARED.glob("*.json"))
    if not files:
        raise SystemExit(f"no shared graphs at {SHARED} (set CGRAM_SHARED_GRAPHS)")
    nets = sorted(((Network.from_graph(read_json(path)), path.stem.split("__")[-1])
                   for path in files), key=lambda item: item[0].n_edges)
    cpu_ms_per_sample(np.zeros((1, 8, 8), dtype=bool), True)  # imports and caches
    print(f"size-4 census of {args.samples} {args.null} nulls, CPU ms per sample")
    print(f"{'graph':<44} {'nodes':>6} {'edges':>7} {'numpy':>9} {'compiled':>9} {'ratio':>6}")
    totals = np.zeros(2)
    for net, name in nets:
        adjacency = sample_nulls(net, args.null, args.samples, seed=0).adjacency_dense()
        slow, expected = cpu_ms_per_sample(adjacency, compiled=False)
        fast, counts = cpu_ms_per_sample(adjacency, compiled=True)
        if not (counts == expected).all():
            raise SystemExit(f"{name}: the compiled census differs from the numpy path")
        totals += (slow, fast)
        print(f"{name[:44]:<44} {net.n_nodes:>6} {net.n_edges:>7} {slow:>9.1f} {fast:>9.1f} "
              f"{slow / fast:>5.1f}x")
    print(f"{'all graphs, one sample each':<59} {totals[0]:>9.1f} {totals[1]:>9.1f} "
          f"{totals[0] / totals[1]:>5.1f}x")


if __name__ == "__main__":
    main()
