"""Long-chain null statistics of a few shared real graphs, for the mixing test.

The switching nulls' default chain length (``switches_per_edge`` in
``motifs.nulls``) was chosen by ``benchmarks/bench_mixing.py``: the shortest
length at which every shared graph's null mean and SD of the triad counts
agree with those of 100 attempted switches per edge, with a margin.
``tests/motifs/test_nulls.py`` holds the default to that: on the graphs
below, the mean feed-forward-loop count (030T) and 3-cycle count (030C) of
samples drawn with the default must agree with these references, computed
once here with 1,000 independent samples of 100 attempts per edge each (a
minute or two). The default nulls lay samples on thinned chains (``motifs.nulls``,
"Thinning"), so the test widens its bound by the chains' lag-1 autocorrelation.

Run from the repository root (re-runnable; rewrites the JSON beside it)::

    PYTHONPATH=$PWD python tests/data/make_mixing_references.py [--samples 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Where the references are written, beside this script.
MIXING_FILE = HERE / "mixing_references.json"
#: Attempted switches per edge of the reference chains (Milo et al.'s choice).
REFERENCE_LENGTH = 100.0
DALLAS = "mkenney2__circuit-motifs__capital-state-dallas.json"
#: (export, null) pairs: Dallas under three nulls, and the slowest-mixing graphs of
#: bench_mixing.py's study under the null each mixed slowest.
CASES: tuple[tuple[str, str], ...] = (
    (DALLAS, "config"),
    (DALLAS, "config-dag"),
    (DALLAS, "causal-config"),
    ("hajimedayo328__attribution-graph-poc__qwen06-g-france.json", "config"),
    ("hajimedayo328__attribution-graph-poc__qwen06-f-egypt.json", "causal-config"),
    ("hajimedayo328__attribution-graph-poc__qwen06-f-egypt.json", "layer-config"),
)
#: Triad classes whose null means the test compares.
CLASSES = ("030T", "030C")
SEED = 20_251_204


def null_moments(net, model: str, n_samples: int, seed: int, switches_per_edge: float | None = None,
                 **options) -> dict[str, tuple[float, float, float]]:
    """Mean, SD and lag-1 autocorrelation within chains over ``n_samples`` nulls of
    each class in :data:`CLASSES` (``options`` go to ``sample_nulls``)."""
    from motifs.catalog import TRIAD_CODES
    from motifs.census import triad_census_edges
    from motifs.nulls import sample_nulls
    from motifs.stats import lag_one_autocorrelation

    if switches_per_edge is not None:
        options["switches_per_edge"] = switches_per_edge
    nulls = sample_nulls(net.topology(), model, n_samples, seed=seed, **options)
    census = triad_census_edges(nulls.src, nulls.dst, net.n_nodes)
    columns = census[:, [TRIAD_CODES.index(code) for code in CLASSES]].astype(float)
    rho = lag_one_autocorrelation(columns, nulls.diagnostics.get("samples_per_chain", 1))
    return {code: (float(columns[:, i].mean()), float(columns[:, i].std(ddof=1)), float(rho[i]))
            for i, code in enumerate(CLASSES)}


def main() -> None:
    import sys

    sys.path.insert(0, str(HERE.parents[1]))
    from corpus.neuronpedia import read_json
    from motifs.network import Network
    from tests.conftest import SHARED_GRAPHS
    from tests.data.make_motif_references import edges_sha256

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    entries = []
    for name, model in CASES:
        started = time.process_time()
        net = Network.from_graph(read_json(SHARED_GRAPHS / name))
        # independent long chains, each from the real graph (no thinning)
        moments = null_moments(net, model, args.samples, SEED, REFERENCE_LENGTH,
                               samples_per_chain=1)
        entries.append({"graph": name, "null": model, "edges_sha256": edges_sha256(net),
                        "n_samples": args.samples, "switches_per_edge": REFERENCE_LENGTH,
                        "moments": {code: {"mean": m, "sd": s} for code, (m, s, _) in
                                    moments.items()}})
        print(f"{name} {model}: " + ", ".join(f"{c} {m:.1f} +- {s:.1f}"
                                              for c, (m, s, _) in moments.items())
              + f" ({time.process_time() - started:.1f} s)")
    MIXING_FILE.write_text(json.dumps({"seed": SEED, "cases": entries}, indent=1) + "\n")
    print(f"wrote {MIXING_FILE}")


if __name__ == "__main__":
    main()
