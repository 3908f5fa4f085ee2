"""Import the shared real graphs into a fresh corpus and load each back.

Prints seconds and peak memory for (a) our import, (b) loading every graph
back from the corpus, beside (c) re-parsing the same files, the anchor: the
least work that gets a graph's content out of its JSON, ``json.load`` then
the edges as numpy arrays (source and target row numbers through a node-id
dictionary, float32 weights), and the ratio (c)/(b). The issue asks for
loading back to be at least 10x faster than re-parsing.

Each side runs in its own subprocess so peak memory (ru_maxrss) is its own.

Usage: python benchmarks/bench_import.py [--repeat N] [--graphs DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GRAPHS = REPO.parent / "shared" / "data" / "neuronpedia"


def run_import(graphs: Path, root: Path) -> dict:
    from corpus.neuronpedia import read_json
    from corpus.store import Corpus

    files = sorted(graphs.glob("*.json"))
    start = time.perf_counter()
    corpus = Corpus(root)
    for path in files:
        corpus.add(read_json(path))
    return {"seconds": time.perf_counter() - start, "graphs": len(files)}


def run_load(root: Path, repeat: int) -> dict:
    from corpus.store import Corpus

    corpus = Corpus(root, create=False)
    ids = corpus.list()["graph_id"].tolist()
    start = time.perf_counter()
    edges = 0
    for _ in range(repeat):
        for graph_id in ids:
            edges += corpus.load(graph_id).n_edges
    return {"seconds": (time.perf_counter() - start) / repeat, "edges": edges // repeat}


def run_json_arrays(graphs: Path, repeat: int) -> dict:
    import numpy as np

    files = sorted(graphs.glob("*.json"))
    start = time.perf_counter()
    edges = 0
    for _ in range(repeat):
        for path in files:
            with open(path) as handle:
                data = json.load(handle)
            row = {node["node_id"]: i for i, node in enumerate(data["nodes"])}
            links = data["links"]
            src = np.fromiter((row[e["source"]] for e in links), np.int32, len(links))
            dst = np.fromiter((row[e["target"]] for e in links), np.int32, len(links))
            weight = np.fromiter((e["weight"] for e in links), np.float32, len(links))
            edges += min(src.size, dst.size, weight.size)
    return {"seconds": (time.perf_counter() - start) / repeat, "edges": edges // repeat}


def child(args: argparse.Namespace) -> None:
    if args.child == "import":
        out = run_import(Path(args.graphs), Path(args.root))
    elif args.child == "load":
        out = run_load(Path(args.root), args.repeat)
    else:
        out = run_json_arrays(Path(args.graphs), args.repeat)
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def measure(kind: str, args: argparse.Namespace, root: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--graphs", str(args.graphs),
           "--root", str(root), "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", default=str(DEFAULT_GRAPHS))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=("import", "load", "json"), help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        imported = measure("import", args, root)
        loaded = measure("load", args, root)
        anchor = measure("json", args, root)
    n = imported["graphs"]
    print(f"{n} graphs, {loaded['edges']} edges in all (mean of {args.repeat} passes)")
    print(f"{'work':<42}{'seconds':>10}{'peak MiB':>10}")
    print(f"{'import into a fresh corpus':<42}{imported['seconds']:>10.3f}"
          f"{imported['peak_mib']:>10.0f}")
    print(f"{'load all back from the corpus':<42}{loaded['seconds']:>10.3f}"
          f"{loaded['peak_mib']:>10.0f}")
    print(f"{'json.load + edge arrays (anchor)':<42}{anchor['seconds']:>10.3f}"
          f"{anchor['peak_mib']:>10.0f}")
    ratio = anchor["seconds"] / loaded["seconds"]
    print(f"load-back speed-up over re-parsing (json + arrays): {ratio:.1f}x (target >= 10x); "
          f"peak memory ratio {anchor['peak_mib'] / loaded['peak_mib']:.2f}x")


if __name__ == "__main__":
    main()
