"""FFL cascades: our exact DP beside the peer's instance-graph method, and the zoo causal table.

Speed (default): for every shared Neuronpedia graph (``../shared/data/neuronpedia``),
time :func:`motifs.cascades.cascades_for_graph` (all logits, top 5, best of
three runs) beside the published peer's method (mkenney2/circuit-motifs,
``scripts/unrolled_cascade.py``), re-implemented here on the same FFL
instances: a pairwise Python loop over instances that links i -> j when i's
mean layer is below j's and they share a node (or, failing that, a node of
i has an edge into a node of j), then a heaviest-path DP over that instance
graph in topological order. The peer stores links in igraph one
``add_edge`` at a time; here they go into Python lists, which is faster, so
its times are a lower bound. The peer's loop runs until ``--peer-budget``
seconds (default 600, the issue's 10 minutes); when it does not finish, the
row says so and projects the total from the fraction of rows done (the loop
does the same work per row).

Zoo (``--zoo``): :func:`tracer.zoo.circuits.cascade_check` on the shipped
two_hop-llama model (PLT and CLT, first 8 held-out prompts, 20 random draws):
per prompt, whether the top cascade to the answer passes through a state
feature and how much ablating it drops p(answer) against matched random
feature sets, beside the issue's targets (6 of 8, 3x). ``n_controls`` and
``controls_on_concept`` say how many distinct features the random sets drew
(a TopK(4) slot has 3 besides the cascade's) and how many of those are
themselves selective for the prompt's state.

TopK study (``--k-study 4,5,6,8``): the same table's counts for transcoders
retrained at each TopK ``k`` on the shipped two_hop-llama LM (the shipped
recipe's transcoder settings and seed, only ``k`` replaced; trained into a
temporary directory, nothing shipped changes), beside the known-circuit bar of
issue #16 (:func:`tracer.zoo.circuits.circuit_report`: p(answer) after zeroing
the top 5 state features, bar <= 0.2). It shows the trade-off the two bars
put on ``k``: fewer active features per slot concentrate the state (the #16
bar) but leave a cascade's matched controls no off-state feature to draw
(this bar). About 2.5 CPU minutes per (kind, k).

Usage: python benchmarks/bench_cascades.py [--peer-budget 600] [--only SUBSTRING] [--zoo]
                                           [--k-study K,K,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "neuronpedia"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data/neuronpedia")


def peer_method(net, table, budget: float) -> tuple[float, bool, float, int]:
    """The peer's instance graph + heaviest path. Returns (seconds, finished, fraction done, links)."""
    layer = net.layer.astype(float)
    weight = net.weight
    edge = {(int(s), int(d)): float(w) for s, d, w in zip(net.src, net.dst, weight)}
    instances = [(int(x), int(y), int(z)) for x, y, z in zip(table.x, table.y, table.z)]
    total_weight = [abs(a) + abs(b) + abs(c) for a, b, c in zip(table.w_xy, table.w_yz, table.w_xz)]
    node_sets = [frozenset(i) for i in instances]
    mean_layer = [sum(layer[v] for v in i) / 3.0 for i in instances]
    n = len(instances)
    links_src, links_dst, links_w = [], [], []
    start = time.perf_counter()
    for i in range(n):
        if time.perf_counter() - start > budget:
            return time.perf_counter() - start, False, i / n, len(links_src)
        for j in range(n):
            if i == j or mean_layer[i] >= mean_layer[j]:
                continue
            shared = node_sets[i] & node_sets[j]
            if shared:
                links_src.append(i)
                links_dst.append(j)
                links_w.append(len(shared) * 2.0 + 0.5 * (total_weight[i] + total_weight[j]))
                continue
            found = False
            for a in node_sets[i]:
                for b in node_sets[j]:
                    w = edge.get((a, b))
                    if w is not None:
                        links_src.append(i)
                        links_dst.append(j)
                        links_w.append(w + 0.25 * (total_weight[i] + total_weight[j]))
                        found = True
                        break
                if found:
                    break
    # heaviest path: links go from lower to higher mean layer, so that order is topological
    order = sorted(range(n), key=lambda k: mean_layer[k])
    out: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for s, d, w in zip(links_src, links_dst, links_w):
        out[s].append((d, w))
    best = list(total_weight)
    for u in order:
        for v, w in out[u]:
            if best[u] + w + total_weight[v] > best[v]:
                best[v] = best[u] + w + total_weight[v]
    return time.perf_counter() - start, True, 1.0, len(links_src)


def speed(args: argparse.Namespace) -> None:
    from corpus.neuronpedia import read_json
    from motifs.cascades import cascades_for_graph, ffl_table

    files = sorted(p for p in SHARED.glob("*.json") if args.only in p.name)
    print(f"{'graph':34s} {'nodes':>5s} {'edges':>6s} {'FFLs':>7s} {'ours s':>7s} {'peer s':>10s} "
          f"{'peer/ours':>10s}  peer status")
    for path in files:
        graph = read_json(path)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result, net, _ = cascades_for_graph(graph, top_k=5)
            times.append(time.perf_counter() - start)
        ours = min(times)
        table = ffl_table(net)
        seconds, finished, fraction, links = peer_method(net, table, args.peer_budget)
        if finished:
            peer, status = seconds, f"done, {links} links"
        else:
            peer = seconds / max(fraction, 1e-9)
            status = (f"TIMED OUT at {args.peer_budget:.0f} s after {fraction:.2%} of rows; "
                      f"projected {peer:,.0f} s")
        print(f"{graph.name[:34]:34s} {net.n_nodes:5d} {net.n_edges:6d} {len(table):7d} {ours:7.3f} "
              f"{peer:10.1f} {peer / ours:10.0f}x  {status}", flush=True)


def zoo(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from motifs.cascades import cascades_for_graph
    from tracer.zoo.checkpoint import open_checkpoint
    from tracer.zoo.circuits import cascade_check

    torch.set_num_threads(1)
    pd.set_option("display.width", 200)
    for kind in ("plt", "clt"):
        table = cascade_check(open_checkpoint("two_hop-llama"), kind, lambda g, k: cascades_for_graph(g, k)[2],
                              n_prompts=8, n_random=20)
        shown = table.assign(path=table["path"].map(" -> ".join)).drop(columns=["prompt"])
        print(f"\ntwo_hop-llama {kind}: top cascade to the answer, first 8 held-out prompts")
        print(shown.to_string(float_format=lambda v: f"{v:.4g}"))
        through = int(table["through_concept"].sum())
        strong = int((table["ratio"] >= 3).sum())
        print(f"through a state feature: {through}/8 (target 6/8); ablation >= 3x random: {strong}/8 "
              f"(target 3x); both: {int(table['passes'].sum())}/8")


def retrained_checkpoint(k: int, kind: str, folder: Path):
    """The shipped two_hop-llama LM with ``kind`` transcoders retrained at TopK ``k``."""
    import dataclasses
    import shutil

    from tracer.zoo.checkpoint import open_checkpoint
    from tracer.zoo.sweep import train_cell

    shipped = open_checkpoint("two_hop-llama")
    view = folder / f"{kind}-k{k}"
    view.mkdir(parents=True)
    for name in ("recipe.json", "model"):
        (view / name).symlink_to(shipped.path / name)
    training = dataclasses.replace(shipped.recipe.transcoder, k=k)
    cell = view / "cell"
    train_cell({"folder": str(cell), "lm_dir": str(shipped.model_dir),
                "recipe": shipped.recipe.to_dict(), "kind": kind,
                "training": dataclasses.asdict(training), "n_prompts": 1, "hash": f"k{k}"})
    shutil.move(str(cell / "transcoders"), str(view / kind))
    return open_checkpoint(view)


def k_study(ks: list[int]) -> None:
    import tempfile

    import pandas as pd
    import torch

    from motifs.cascades import cascades_for_graph
    from tracer.zoo.circuits import cascade_check, circuit_report

    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("plt", "clt"):
            for k in ks:
                checkpoint = retrained_checkpoint(k, kind, Path(tmp))
                table = cascade_check(checkpoint, kind, lambda g, top: cascades_for_graph(g, top)[2],
                                      n_prompts=8, n_random=20)
                known = circuit_report(checkpoint, kind, n_prompts=8, concept_key="state",
                                       source_key="city", share=0.15, n_ablate=5)
                rows.append({"kind": kind, "k": k, "through_state": int(table["through_concept"].sum()),
                             "ratio_ge_3": int((table["ratio"] >= 3).sum()),
                             "both_of_8": int(table["passes"].sum()),
                             "controls_on_state": f"{int(table['controls_on_concept'].sum())}/"
                                                  f"{int(table['n_controls'].sum())}",
                             "p_top5_ablated": known["p_ablated"],
                             "issue16_bar": known["p_ablated"] <= 0.2})
                print(rows[-1], flush=True)
    print("\ntwo_hop-llama transcoders retrained per TopK k (targets: both_of_8 >= 6 for #13, "
          "p_top5_ablated <= 0.2 for #16)")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main() -> None:
    sys.path.insert(0, str(REPO))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-budget", type=float, default=600.0, metavar="S")
    parser.add_argument("--only", default="", metavar="SUBSTRING")
    parser.add_argument("--zoo", action="store_true")
    parser.add_argument("--k-study", default="", metavar="K,K,...")
    args = parser.parse_args()
    if args.k_study:
        k_study([int(k) for k in args.k_study.split(",")])
    else:
        zoo(args) if args.zoo else speed(args)


if __name__ == "__main__":
    main()
