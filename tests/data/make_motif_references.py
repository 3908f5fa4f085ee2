"""Compute igraph's motif counts of the 17 shared real graphs once, for the census tests.

igraph's size-4 census (``motifs_randesu``) of the larger real graphs takes
minutes; the test suite reads the numbers this script wrote instead of
recomputing them at every run (``tests/motifs/test_census.py``), and still
runs igraph live on a few small graphs. Each entry is keyed by the export's
file name and the sha256 of its bytes, and records the network it counted
(nodes, edges, a hash of the edge list) so a test can tell "the file
changed, regenerate" from "our census is wrong".

Run from the repository root (re-runnable; rewrites the JSON beside it)::

    PYTHONPATH=$PWD python tests/data/make_motif_references.py [--data DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: Where the references are written, beside this script.
REFERENCE_FILE = HERE / "motif_references.json"
#: Both network variants the census tests check.
KEEP_ERRORS = (False, True)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def edges_sha256(net) -> str:
    """Hex sha256 of a network's node count and (src, dst) arrays as int64."""
    import numpy as np

    digest = hashlib.sha256(np.int64(net.n_nodes).tobytes())
    digest.update(np.asarray(net.src, dtype=np.int64).tobytes())
    digest.update(np.asarray(net.dst, dtype=np.int64).tobytes())
    return digest.hexdigest()


def igraph_counts(net, size: int) -> list[int]:
    """igraph's counts of the connected classes of ``size`` nodes, isoclass order."""
    import igraph
    import numpy as np

    from motifs.catalog import connected_isoclasses

    graph = igraph.Graph(n=net.n_nodes, edges=list(zip(net.src.tolist(), net.dst.tolist())),
                         directed=True)
    counts = np.array(graph.motifs_randesu(size=size), dtype=float)
    return counts[connected_isoclasses(size)].astype(np.int64).tolist()


def reference_entry(path: Path, keep_errors: bool) -> dict:
    """igraph's triad census and size-3 / size-4 class counts of one export."""
    import igraph

    from corpus.neuronpedia import read_json
    from motifs.network import Network

    net = Network.from_graph(read_json(path), keep_errors=keep_errors)
    graph = igraph.Graph(n=net.n_nodes, edges=list(zip(net.src.tolist(), net.dst.tolist())),
                         directed=True)
    started = time.process_time()
    size4 = igraph_counts(net, 4)
    return {"n_nodes": int(net.n_nodes), "n_edges": int(net.n_edges),
            "edges_sha256": edges_sha256(net),
            "triad_census": [int(v) for v in graph.triad_census()],
            "motif3": igraph_counts(net, 3), "motif4": size4,
            "igraph_motif4_cpu_s": round(time.process_time() - started, 2)}


def build(data_dir: Path) -> dict:
    """The reference document of every ``*.json`` export in ``data_dir``."""
    import igraph

    files = sorted(Path(data_dir).glob("*.json"))
    if not files:
        raise SystemExit(f"no *.json exports in {data_dir}")
    graphs = {}
    for path in files:
        entry = {"sha256": file_sha256(path)}
        for keep in KEEP_ERRORS:
            entry["keep_errors" if keep else "drop_errors"] = reference_entry(path, keep)
            print(f"{path.name} keep_errors={keep}: "
                  f"{entry['keep_errors' if keep else 'drop_errors']['igraph_motif4_cpu_s']} s",
                  file=sys.stderr, flush=True)
        graphs[path.name] = entry
    return {"generator": "tests/data/make_motif_references.py",
            "igraph_version": igraph.__version__, "graphs": graphs}


def main(argv: list[str] | None = None) -> int:
    default = os.environ.get("CGRAM_SHARED_GRAPHS", REPO.parent / "shared" / "data" / "neuronpedia")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(default),
                        help=f"folder of the real exports (default {default})")
    parser.add_argument("--out", type=Path, default=REFERENCE_FILE)
    args = parser.parse_args(argv)
    document = build(args.data)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(document['graphs'])} graphs)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
