"""Our tracer against circuit-tracer 0.5.0, side by side on one tiny model.

Traces the same prompts on the same local model (a random 4-layer, d_model 128
Llama with 4,096-feature JumpReLU transcoders, ~16 active features per token
and layer; see trace_fixture.py) with ``tracer.trace`` and with circuit-tracer
(installed only in ``.bench-venv``, created here when missing), for a PLT and
a CLT, and prints for each prompt length: wall time, peak memory (each side in
its own process: its peak resident set, VmHWM), node and edge counts, and how far our graph is
from circuit-tracer's (nodes kept by both, edges kept by both, the largest
adjacency difference relative to the largest |weight|). The figure of merit
is at 128 tokens with the PLT: our time and memory as fractions of
circuit-tracer's (target: at most 0.5 each).

It also runs circuit-tracer's own pruning functions (``prune_graph``,
``compute_graph_scores``) and ours (``tracer/prune.py``) on the same matrices:
random attribution-shaped DAGs and the traced adjacency, reporting the largest
influence difference and how many node/edge decisions differ.

Usage::

    .venv/bin/python benchmarks/bench_trace.py                 # PLT 16..256, CLT 16..128
    .venv/bin/python benchmarks/bench_trace.py --lengths 16,64
    .venv/bin/python benchmarks/bench_trace.py --quick         # 16 tokens + pruning check

Scratch files (fixture, graphs as .npz) go to out/bench_trace/.

Both sides run under ``nice`` with one thread each (``--threads``).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ct_env import REPO, ensure_bench_venv, run_child  # noqa: E402

KIND_NAMES = ("embedding", "feature", "error", "logit")  # codes 0..3 in the worker files


# ------------------------------------------------------------- the pruning check
def random_ct_ordered_dag(seed: int, n_features: int = 600, n_layers: int = 4, n_tokens: int = 12,
                          n_logits: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An attribution-shaped DAG in circuit-tracer's node order (features,
    errors, tokens, logits): sources at a lower layer and an earlier-or-same
    position feed a target; logits read everything at the last position."""
    rng = np.random.default_rng(seed)
    f_layer = rng.integers(0, n_layers, n_features)
    f_pos = rng.integers(1, n_tokens, n_features)
    layer = np.concatenate([f_layer, np.repeat(np.arange(n_layers), n_tokens), np.full(n_tokens, -1),
                            np.full(n_logits, n_layers)])
    pos = np.concatenate([f_pos, np.tile(np.arange(n_tokens), n_layers), np.arange(n_tokens),
                          np.full(n_logits, n_tokens - 1)])
    kind = np.concatenate([np.full(n_features, 1), np.full(n_layers * n_tokens, 2),
                           np.full(n_tokens, 0), np.full(n_logits, 3)])
    reads = (kind == 1) | (kind == 3)
    present = (reads[:, None] & (layer[:, None] > layer[None, :]) & (pos[:, None] >= pos[None, :])
               & (kind != 3)[None, :] & (rng.random((kind.size, kind.size)) < 0.5))
    adjacency = np.where(present, rng.standard_t(3, present.shape), 0.0).astype(np.float32)
    probs = (rng.dirichlet(np.ones(n_logits)) * 0.95).astype(np.float32)
    return adjacency, kind, probs


def prune_agreement(python_ct: Path, work: Path, extra: dict[str, tuple]) -> list[str]:
    """Run both pruning implementations on the same matrices; one line each."""
    import torch

    from tracer.prune import prune_graph

    cases = {}
    for seed, (node_t, edge_t) in enumerate([(0.8, 0.98), (0.5, 0.9), (0.95, 0.7), (0.3, 0.99)]):
        adjacency, kind, probs = random_ct_ordered_dag(seed)
        cases[f"random{seed}"] = (adjacency, kind, probs, node_t, edge_t)
    cases.update(extra)
    payload = {}
    for name, (adjacency, kind, probs, node_t, edge_t) in cases.items():
        counts = [int((kind == c).sum()) for c in (1, 2, 0, 3)]
        payload.update({f"adjacency_{name}": adjacency, f"probs_{name}": probs,
                        f"sizes_{name}": np.array(counts), f"node_threshold_{name}": node_t,
                        f"edge_threshold_{name}": edge_t})
    matrices, answers = work / "prune_in.npz", work / "prune_ct.npz"
    np.savez(matrices, **payload)
    run_child(python_ct, "trace_worker_ct.py", ["prune", "--matrices", str(matrices),
                                                "--out", str(answers)])
    reference = np.load(answers)
    lines = []
    for name, (adjacency, kind, probs, node_t, edge_t) in cases.items():
        kinds = np.asarray(KIND_NAMES, dtype=object)[kind]
        ours = prune_graph(torch.from_numpy(adjacency), kinds, probs, node_t, edge_t)
        theirs_influence = reference[f"influence_{name}"]
        scale = max(float(np.abs(theirs_influence).max()), 1e-30)
        influence_diff = float(np.abs(ours.node_influence - theirs_influence).max()) / scale
        node_diff = int((ours.node_mask != reference[f"node_mask_{name}"]).sum())
        edge_diff = int((ours.edge_mask.numpy() != reference[f"edge_mask_{name}"]).sum())
        cumulative_diff = float(np.abs(ours.cumulative_influence - reference[f"cumulative_{name}"]).max())
        replacement, completeness = reference[f"scores_{name}"]
        score_diff = max(abs(ours.replacement_score - replacement),
                         abs(ours.completeness_score - completeness))
        lines.append(
            f"  {name:<14} n={adjacency.shape[0]:>6} thresholds {node_t:.2f}/{edge_t:.2f}: "
            f"influence rel diff {influence_diff:.1e}, cumulative {cumulative_diff:.1e}, "
            f"scores {score_diff:.1e}; differing nodes {node_diff}/{adjacency.shape[0]}, "
            f"edges {edge_diff}/{int(reference[f'edge_mask_{name}'].sum())} kept")
    return lines


# ---------------------------------------------------------------- graph compare
def node_keys(data) -> np.ndarray:
    """One int64 identity per node: (kind, layer, pos, index)."""
    return (((data["kind"].astype(np.int64) * 64 + data["layer"] + 1) * 4096 + data["pos"])
            * 1_000_003 + data["index"])


def compare_graphs(ours, theirs) -> dict:
    """How far our pruned graph (and adjacency, where both saved one) is from theirs."""
    their_keys, our_keys = node_keys(theirs), node_keys(ours)
    kept_theirs = their_keys[theirs["node_mask"]]
    kept_ours = our_keys[ours["node_mask"]]
    out = {
        "nodes_only_ours": int(np.setdiff1d(kept_ours, kept_theirs).size),
        "nodes_only_theirs": int(np.setdiff1d(kept_theirs, kept_ours).size),
    }
    universe = np.union1d(their_keys, our_keys)  # sorted node identities of both graphs

    def edges(data, keys):
        source = np.searchsorted(universe, keys[data["edge_source"]])
        target = np.searchsorted(universe, keys[data["edge_target"]])
        return source * universe.size + target

    e_theirs, e_ours = edges(theirs, their_keys), edges(ours, our_keys)
    common, i_t, i_o = np.intersect1d(e_theirs, e_ours, return_indices=True)
    out["edges_only_ours"] = int(e_ours.size - common.size)
    out["edges_only_theirs"] = int(e_theirs.size - common.size)
    w_t, w_o = theirs["edge_weight"][i_t], ours["edge_weight"][i_o]
    scale = max(float(np.abs(theirs["edge_weight"]).max(initial=0.0)), 1e-30)
    out["kept_edge_max_rel_diff"] = float(np.abs(w_t - w_o).max(initial=0.0)) / scale
    out["kept_edge_rel_diff"] = float((np.abs(w_t - w_o) / np.abs(w_t)).max(initial=0.0))
    if "adjacency" in theirs.files and "adjacency" in ours.files:
        # our tracer leaves out circuit-tracer's zero error nodes at the BOS position:
        # compare on our nodes, and check that every node we lack has no edge at all
        full_keys = node_keys({name: ours[f"full_{name}"] for name in ("kind", "layer", "pos", "index")})
        order = np.argsort(their_keys)
        where = np.minimum(np.searchsorted(their_keys[order], full_keys), their_keys.size - 1)
        if np.array_equal(their_keys[order][where], full_keys):
            perm = order[where]  # CT row of each of our rows
            full = theirs["adjacency"]
            lacking = np.setdiff1d(np.arange(their_keys.size), perm)
            out["ct_only_nodes"] = int(lacking.size)
            out["ct_only_nodes_with_edges"] = int(
                (full[lacking].any(1) | full[:, lacking].any(0)).sum())
            theirs_on_ours = full[np.ix_(perm, perm)]
            mine = ours["adjacency"]
            largest = float(np.abs(theirs_on_ours).max())
            delta = np.abs(mine - theirs_on_ours)
            out["adjacency_max_rel_diff"] = float(delta.max()) / largest
            # per-edge relative difference, over the edges above float32 cancellation noise
            big = np.abs(theirs_on_ours) >= 1e-4 * largest
            out["edge_rel_diff"] = float((delta[big] / np.abs(theirs_on_ours[big])).max(initial=0.0))
            out["same_nonzeros"] = bool(np.array_equal(mine != 0, theirs_on_ours != 0))
        else:
            out["adjacency_max_rel_diff"] = math.nan  # a node of ours that CT lacks
    return out


# ------------------------------------------------------------------------ main
def build_fixture(python_ct: Path, work: Path) -> Path:
    fixture = work / "fixture"
    subprocess.run(["nice", "-n", "10", str(python_ct), str(REPO / "benchmarks" / "trace_fixture.py"),
                    str(fixture)], check=True, capture_output=True)
    return fixture


def growth(lengths: list[int], values: list[float]) -> str:
    """Exponents of value ∝ length^k between consecutive lengths."""
    pairs = zip(zip(lengths, values), zip(lengths[1:], values[1:]))
    return ", ".join(f"{a}→{b}: ^{math.log(y / x) / math.log(b / a):.2f}"
                     for (a, x), (b, y) in pairs if x > 0 and y > 0)


def available_mb() -> float:
    """MemAvailable from /proc/meminfo, in MB (inf where unreadable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.inf


def row(kind: str, n: int, ct: dict | None, ours: dict, diff: dict | None) -> str:
    """One table line; circuit-tracer's columns blank when it was skipped."""
    ours_part = f"{ours['seconds']:>7.2f}", f"{ours['rss_peak_mb']:>7.0f}", \
        f"{ours['kept_nodes']:>6}/{ours['kept_edges']:<7}"
    if ct is None or diff is None:
        return (f"{kind:<4} {n:>6} | {'-':>7} {ours_part[0]} {'-':>6} | {'-':>7} {ours_part[1]} "
                f"{'-':>6} | {'-':>14} {ours_part[2]} | circuit-tracer skipped")
    adjacency = diff.get("adjacency_max_rel_diff", diff["kept_edge_max_rel_diff"])
    per_edge = diff["kept_edge_rel_diff"]
    return (f"{kind:<4} {n:>6} | {ct['seconds']:>7.2f} {ours_part[0]} "
            f"{ours['seconds'] / ct['seconds']:>6.2f} | {ct['rss_peak_mb']:>7.0f} {ours_part[1]} "
            f"{ours['rss_peak_mb'] / ct['rss_peak_mb']:>6.2f} | "
            f"{ct['kept_nodes']:>6}/{ct['kept_edges']:<7} {ours_part[2]} | "
            f"{diff['nodes_only_ours'] + diff['nodes_only_theirs']:>5} "
            f"{diff['edges_only_ours'] + diff['edges_only_theirs']:>5} "
            f"{adjacency:>9.1e} {per_edge:>9.1e} {'full' if 'adjacency_max_rel_diff' in diff else 'kept':>5}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--lengths", default="16,64,128,256", help="PLT prompt lengths in words")
    parser.add_argument("--clt-lengths", default=None,
                        help="CLT prompt lengths (default: those of --lengths up to 128; "
                             "circuit-tracer's CLT takes ~25 min at 256 here)")
    parser.add_argument("--kinds", default="plt,clt", help="transcoder kinds: plt, clt")
    parser.add_argument("--quick", action="store_true", help="16 tokens only, both kinds")
    parser.add_argument("--work", default=str(REPO / "out" / "bench_trace"), help="scratch directory")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--full-adjacency-max", type=int, default=128,
                        help="compare the full unpruned adjacency up to this many tokens")
    return parser.parse_args()


def prompt_lengths(args: argparse.Namespace) -> dict[str, list[int]]:
    """The prompt lengths to trace per transcoder kind."""
    plt_lengths = [16] if args.quick else [int(x) for x in args.lengths.split(",")]
    if args.quick:
        clt_lengths = [16]
    elif args.clt_lengths:
        clt_lengths = [int(x) for x in args.clt_lengths.split(",")]
    else:
        clt_lengths = [n for n in plt_lengths if n <= 128]
    return {"plt": plt_lengths, "clt": clt_lengths}


Results = dict[tuple[str, int], tuple[dict | None, dict, dict | None]]


def circuit_tracer_need_mb(results: Results, lengths: list[int], kind: str, n: int) -> float:
    """circuit-tracer's expected peak MB at ``n`` tokens, its memory growing with n² from
    the last length it ran (0 when none ran)."""
    earlier = [m for m in lengths if m < n and results.get((kind, m), (None,))[0]]
    if not earlier:
        return 0.0
    last = results[(kind, earlier[-1])][0]
    grown = last["rss_peak_mb"] - last["rss_loaded_mb"]
    return last["rss_loaded_mb"] + grown * (n / earlier[-1]) ** 2


def trace_both(args: argparse.Namespace, python_ct: Path, fixture: Path, work: Path,
               lengths: dict[str, list[int]]) -> tuple[Results, dict[str, tuple]]:
    """Trace every (kind, length) with both tools, printing one table row each; the
    results and the first traced PLT adjacency (a real case for the pruning check)."""
    results: Results = {}
    real_cases = {}
    for kind in args.kinds.split(","):
        for n in lengths[kind]:
            save = ["--save-adjacency"] if n <= args.full_adjacency_max else []
            ct_file, our_file = work / f"ct_{kind}_{n}.npz", work / f"ours_{kind}_{n}.npz"
            common = ["--fixture", str(fixture), "--kind", kind, "--n-tokens", str(n),
                      "--batch-size", str(args.batch_size), "--threads", str(args.threads), *save]
            ct = None
            # circuit-tracer's memory grows with n²: skip a length this machine cannot hold
            need = circuit_tracer_need_mb(results, lengths[kind], kind, n)
            if need < 0.8 * available_mb():
                ct = run_child(python_ct, "trace_worker_ct.py", ["trace", *common, "--out", str(ct_file)],
                               threads=args.threads)
            else:
                print(f"  (circuit-tracer at {n} tokens would need ~{need / 1024:.0f} GB; "
                      f"{available_mb() / 1024:.0f} GB available)")
            ours = run_child(sys.executable, "trace_worker_ours.py", [*common, "--out", str(our_file)],
                             threads=args.threads)
            diff = compare_graphs(np.load(our_file), np.load(ct_file)) if ct else None
            results[(kind, n)] = (ct, ours, diff)
            print(row(kind, n, ct, ours, diff), flush=True)
            if kind == "plt" and ct and not real_cases and save:
                theirs = np.load(ct_file)
                real_cases[f"traced-{kind}{n}"] = (theirs["adjacency"], theirs["kind"],
                                                   theirs["logit_probs"], 0.8, 0.98)
    return results, real_cases


def print_summary(results: Results, kinds: list[str], lengths: dict[str, list[int]]) -> None:
    """The notes under the table: BOS error nodes, graph sizes, growth, the figure of merit."""
    print("\ncolumns: nodeΔ/edgeΔ = nodes/edges kept by one tool only; |ΔA|/|A| = largest "
          "adjacency difference over the largest |weight| (full = unpruned adjacency, kept = kept "
          "edges); kept rel = largest relative difference of one kept edge's weight")
    extra_nodes = [(k, n, d["ct_only_nodes"], d["ct_only_nodes_with_edges"])
                   for (k, n), (_, _, d) in results.items() if d and "ct_only_nodes" in d]
    if extra_nodes:
        print("unpruned nodes only circuit-tracer has (its zero error nodes at the BOS position), "
              "and how many of them have an edge: " + ", ".join(
                  f"{k} {n}: {count} / {with_edges}" for k, n, count, with_edges in extra_nodes))
    print("\nunpruned graphs (circuit-tracer): " + "; ".join(
        f"{k} {n}: {ct['n_nodes']} nodes ({ct['n_features']} features), {ct['n_nonzero']} nonzero"
        for (k, n), (ct, _, _) in results.items() if ct))
    for kind in kinds:
        for side, index in (("circuit-tracer", 0), ("ours", 1)):
            done = [n for n in lengths[kind] if results.get((kind, n), (None, None))[index]]
            if len(done) > 1:
                secs = [results[(kind, n)][index]["seconds"] for n in done]
                mbs = [results[(kind, n)][index]["rss_peak_mb"] for n in done]
                print(f"growth {kind} {side:<14} time ∝ n^k: {growth(done, secs)}; "
                      f"peak MB: {growth(done, mbs)}")
    ct, ours, _ = results.get(("plt", 128), (None, None, None))
    if ct and ours:
        t, m = ours["seconds"] / ct["seconds"], ours["rss_peak_mb"] / ct["rss_peak_mb"]
        print(f"\nPLT, 128 tokens: time ratio {t:.3f} (target ≤ 0.5: {'met' if t <= 0.5 else 'MISSED'}), "
              f"memory ratio {m:.3f} (target ≤ 0.5: {'met' if m <= 0.5 else 'MISSED'})")


def main() -> None:
    args = parse_args()
    lengths = prompt_lengths(args)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)

    python_ct = ensure_bench_venv()
    fixture = build_fixture(python_ct, work)
    print(f"fixture: {fixture}\n  random Llama, 4 layers, d_model 128; JumpReLU transcoders, 4096 "
          f"features per layer, ~16 active per token and layer")
    print(f"both sides: own process under nice, {args.threads} thread(s), batch size {args.batch_size}, "
          "all active features, ≤10 logits up to p=0.95, thresholds 0.8/0.98;\n"
          "  seconds = trace + prune + scores (model loading excluded); MB = the process's peak RSS (VmHWM)\n")
    header = (f"{'kind':<4} {'tokens':>6} | {'ct s':>7} {'ours s':>7} {'ratio':>6} | "
              f"{'ct MB':>7} {'ours MB':>7} {'ratio':>6} | {'ct nodes/edges':>14} "
              f"{'ours nodes/edges':>14} | {'nodeΔ':>5} {'edgeΔ':>5} {'|ΔA|/|A|':>9} "
              f"{'kept rel':>9} {'on':>5}")
    print(header)
    print("-" * len(header))
    results, real_cases = trace_both(args, python_ct, fixture, work, lengths)
    print_summary(results, args.kinds.split(","), lengths)
    print("\npruning: tracer/prune.py against circuit-tracer's prune_graph / compute_graph_scores")
    for line in prune_agreement(python_ct, work, real_cases):
        print(line)


if __name__ == "__main__":
    main()
