"""Mixing of the switching nulls: how their statistics depend on ``switches_per_edge``.

Every switching null (``config``, ``config-dag``, ``layer-config``,
``causal-config``) starts each sample's chain at the real graph and makes
``switches_per_edge * m`` attempted switches. Too short a chain leaves the
sample near the real graph, which pulls the null mean of every motif count
towards the real count and shrinks the null spread: Z-scores shrink. Too long
a chain only costs CPU. This script measures, per graph and null, the null
statistics that enter the triad Z-scores at several chain lengths ``k``
(attempts per edge) and compares each with the same statistic at the
reference length (default 100 per edge, Milo et al.'s choice):

- ``overlap``: the share of the real edges still in place (the chain's own
  diagnostic; its stationary value is not 0, since degree-keeping samples
  keep some real edges);
- the mean and standard deviation over samples of the triad counts
  ``030T`` (feed-forward loop), ``021C`` (chain) and ``030C`` (3-cycle;
  zero under the order-keeping nulls).

Each (graph, null, k) draws ``--samples`` independent samples with its own
seed. For every statistic it prints ``z_mean`` = (mean_k - mean_ref) /
sqrt(var_k / S + var_ref / S), ``z_sd``, the same for log SD (standard
error from the sample kurtosis, so heavy-tailed counts are not held to the
normal-theory bound), and ``shift`` = (mean_k - mean_ref) / sd_ref, the
amount by which a Z-score computed at k would move. A length k "agrees"
when every |z| over every graph, null and statistic is within the
Bonferroni bound for that many tests at ``--alpha`` (two-sided); the
script prints, per null, the smallest k from which every longer k
tested agrees too.

It then extrapolates: per graph and null, an exponential through the shifts
of the last two lengths that still differ gives the decay time (attempts
per edge per e-fold) and the length at which the shift falls to
``--target`` null SDs (default 0.05, the Monte Carlo error of a mean of 400
samples); the slowest graph's length is printed per null.

Last full run (``--samples 200 --lengths 3,5,10,20,30,50``, 316 CPU s):
every graph agrees from 50 (config, config-dag), 5 (layer-config) and 10
(causal-config); the extrapolated lengths are 66.5 (config; qwen06-g-france,
decay 16 per edge), 67.4 (config-dag; the same graph, 13.8) and 13.9
(causal-config); layer-config differs at one length at most. Rerun on the
two Qwen graphs with 400 samples: config and config-dag agree at 75 (shift
under 0.08 SDs), layer-config from 10, causal-config from 20. The defaults
in ``motifs.nulls``: 75, 75, 20, 30.

Graphs: the 17 shared Neuronpedia exports (error nodes dropped, as
``tests/motifs/conftest.py`` reads them; topology only, since attributes
ride with their edges and do not change the chain), which are all causal
DAGs with layers and positions, so all four nulls apply; and, for
``config`` with mutual dyads and cycles, a seeded random digraph with
reciprocated pairs (``random_network`` of the motif tests' conftest: 60
nodes, p = 0.1, 30% of linked pairs mutual; the E. coli network of Milo et
al. is not shipped with this repository).

Method, after the literature on switching chains: a chain of length
proportional to m suffices in practice and its constant is found
empirically by comparing the distributions of the statistics one cares
about at increasing lengths (Ray, Pinar, Seshadhri 2012); burn-in is
judged on the observables of interest, not on a theoretical mixing bound,
and each independent sample restarts from the real graph, so the whole
chain is burn-in (Fosdick, Larremore, Nishimura, Ugander 2018, sec. 4-5,
on burn-in and sampling gap diagnostics for double-edge swaps).

References
----------
R. Milo et al., "Network motifs: simple building blocks of complex
networks", Science 298:824-827 (2002), supplementary material.
J. Ray, A. Pinar, C. Seshadhri, "Are we there yet? When to stop a Markov
chain while generating random graphs", WAW 2012, LNCS 7323:153-164.
B. K. Fosdick, D. B. Larremore, J. Nishimura, J. Ugander, "Configuring
random graph models with fixed degree sequences", SIAM Review
60(2):315-355 (2018).

Thinning (``--gaps 2,5,10,15``): the default nulls lay samples on chains of 64
(``motifs.nulls``, "Thinning"): a burn-in of the length above, then a gap of
a few attempts per edge between successive samples. For each gap this
measures the lag-1 autocorrelation of the three triad counts between
successive samples of a chain (16 chains of 64 per graph, null and gap) and
prints, per null, the smallest gap whose largest autocorrelation stays at
most ``--max-rho`` (default 0.15). Last run: see README.md.

Usage: python benchmarks/bench_mixing.py [--samples S] [--graphs N | --only SUBSTR]
       [--models config,config-dag,...] [--lengths 3,10,20,30,50] [--reference 100]
       [--alpha A] [--target T] [--no-random] [--json FILE]
       [--gaps G1,G2,... [--chains C] [--per-chain L] [--max-rho R]]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# one BLAS thread, the repository on the path, the shared graphs: as bench_causal_null sets them
from bench_causal_null import SHARED  # noqa: E402

import numpy as np  # noqa: E402

MODELS = ("config", "config-dag", "layer-config", "causal-config")
STATS = ("030T", "021C", "030C")
RANDOM = "random digraph (60 nodes, p 0.1, 30% mutual)"


def shared_networks(limit: int | None, only: str | None) -> list[tuple[str, object]]:
    """(label, Network) of the shared exports, smallest first, topology only."""
    from corpus.neuronpedia import read_json
    from motifs.network import Network

    nets = []
    for path in sorted(SHARED.glob("*.json")):
        if only and only not in path.name:
            continue
        net = Network.from_graph(read_json(path)).topology()
        nets.append((path.stem.split("__")[-1][:28], net))
    nets.sort(key=lambda item: item[1].n_edges)
    return nets[:limit] if limit else nets


def random_network(n: int = 60, p: float = 0.1, seed: int = 0, mutual: float = 0.3):
    """The motif tests' random digraph with reciprocated pairs (tests/motifs/conftest.py)."""
    from motifs.network import Network

    rng = np.random.default_rng(seed)
    i, j = np.nonzero(np.triu(rng.random((n, n)) < p, 1))
    flip = rng.random(i.size) < 0.5
    src, dst = np.where(flip, j, i), np.where(flip, i, j)
    both = rng.random(i.size) < mutual
    return Network.from_edges(np.concatenate([src, dst[both]]),
                              np.concatenate([dst, src[both]]), n_nodes=n)


def null_statistics(net, model: str, length: float, n_samples: int,
                    seed: int) -> tuple[np.ndarray, str]:
    """(S, 1 + len(STATS)): overlap with the real edges, then the triad counts; the engine."""
    from motifs.catalog import TRIAD_CODES
    from motifs.census import triad_census_edges
    from motifs.nulls import sample_nulls

    # each sample its own chain from the real graph: this study is of the burn-in
    nulls = sample_nulls(net, model, n_samples, seed=seed, switches_per_edge=float(length),
                         samples_per_chain=1)
    n = net.n_nodes
    real = np.zeros(n * n, dtype=bool)
    real[net.src.astype(np.int64) * n + net.dst] = True
    overlap = real[nulls.src.astype(np.int64) * n + nulls.dst].mean(axis=1)
    census = triad_census_edges(nulls.src, nulls.dst, n)
    columns = [TRIAD_CODES.index(code) for code in STATS]
    stats = np.column_stack([overlap, census[:, columns]]).astype(float)
    return stats, nulls.diagnostics["engine"]


def agreement(sample: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: z of the mean difference, z of the log-SD ratio, shift in reference SDs.

    A column constant in both runs at the same value agrees (z 0); one whose
    spread is 0 in one run only, or whose constant differs, gets z inf.
    """
    s, r = sample.shape[0], ref.shape[0]
    mean_k, mean_r = sample.mean(axis=0), ref.mean(axis=0)
    var_k, var_r = sample.var(axis=0, ddof=1), ref.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_mean = (mean_k - mean_r) / np.sqrt(var_k / s + var_r / r)
        shift = (mean_k - mean_r) / np.sqrt(var_r)

        def log_var_se2(x: np.ndarray, var: np.ndarray) -> np.ndarray:
            # Var(log s^2) ~ (kurtosis - (S-3)/(S-1)) / S: the delta method on s^2
            n = x.shape[0]
            kurt = ((x - x.mean(axis=0)) ** 4).mean(axis=0) / np.maximum(var, 1e-300) ** 2
            return np.maximum(kurt - (n - 3) / (n - 1), 1e-12) / n

        z_sd = 0.5 * (np.log(var_k) - np.log(var_r)) / (
            0.5 * np.sqrt(log_var_se2(sample, var_k) + log_var_se2(ref, var_r)))
    same_constant = (var_k == 0) & (var_r == 0) & (mean_k == mean_r)
    for z in (z_mean, z_sd, shift):
        z[same_constant] = 0.0
        z[~np.isfinite(z)] = np.inf
    return z_mean, z_sd, shift


def bonferroni_bound(alpha: float, n_tests: int) -> float:
    """Two-sided normal bound for ``n_tests`` tests at family-wise level ``alpha``."""
    from scipy.stats import norm

    return float(norm.isf(alpha / (2 * max(n_tests, 1))))


def study(graphs, models, lengths, reference: float, n_samples: int) -> list[dict]:
    """One row per (graph, model, length): the statistics and their agreement with the reference."""
    rows = []
    for g, (label, net) in enumerate(graphs):
        for model in models:
            if label == RANDOM and model != "config":
                continue
            cpu = time.process_time()
            ref, engine = null_statistics(net, model, reference, n_samples,
                                          seed=1_000_003 * g + 17)
            for i, k in enumerate(lengths):
                stats, _ = null_statistics(net, model, k, n_samples,
                                           seed=1_000_003 * g + 101 + i)
                z_mean, z_sd, shift = agreement(stats, ref)
                rows.append({"graph": label, "nodes": net.n_nodes, "edges": net.n_edges,
                             "model": model, "engine": engine, "length": k,
                             "mean": stats.mean(axis=0).tolist(),
                             "sd": stats.std(axis=0, ddof=1).tolist(),
                             "ref_mean": ref.mean(axis=0).tolist(),
                             "ref_sd": ref.std(axis=0, ddof=1).tolist(),
                             "z_mean": z_mean.tolist(), "z_sd": z_sd.tolist(),
                             "shift": shift.tolist()})
            print_block(label, net, model, rows[-len(lengths):], time.process_time() - cpu)
    return rows


def print_block(label: str, net, model: str, rows: list[dict], cpu: float) -> None:
    print(f"\n{label} ({net.n_nodes} nodes, {net.n_edges} edges), {model} "
          f"({rows[0]['engine']} engine) "
          f"[{cpu:.1f} s CPU]; reference: overlap {rows[0]['ref_mean'][0]:.3f}, "
          + ", ".join(f"{c} {m:.1f} +- {s:.1f}" for c, m, s in
                      zip(STATS, rows[0]["ref_mean"][1:], rows[0]["ref_sd"][1:])))
    print(f"{'k':>5} {'overlap':>8} " + " ".join(f"{c + ' z_mean z_sd shift':>26}"
                                                 for c in STATS))
    for row in rows:
        cells = " ".join(f"{'':>4}{row['z_mean'][c]:8.2f}{row['z_sd'][c]:6.2f}"
                         f"{row['shift'][c]:7.3f}{'':>1}" for c in range(1, 1 + len(STATS)))
        print(f"{row['length']:>5g} {row['mean'][0]:8.3f} {cells}")


def summarise(rows: list[dict], models, lengths, alpha: float) -> dict[str, float | None]:
    """Per model: the smallest length from which every longer one agrees."""
    tests = {k: sum(1 for r in rows if r["length"] == k) * len(STATS) * 2 for k in lengths}
    print(f"\nAgreement with the reference (Bonferroni over graphs x statistics x (mean, SD) "
          f"at family-wise alpha {alpha}; overlap not gated):")
    print(f"{'model':<14} {'k':>5} {'max|z_mean|':>12} {'max|z_sd|':>10} {'bound':>6} "
          f"{'max|shift|':>11} {'worst graph':<30}")
    verdict: dict[str, float | None] = {}
    for model in models:
        ok_from, broken = None, False
        for k in reversed(lengths):
            chosen = [r for r in rows if r["model"] == model and r["length"] == k]
            if not chosen:
                continue
            bound = bonferroni_bound(alpha, tests[k])
            zm = [max(abs(v) for v in r["z_mean"][1:]) for r in chosen]
            zs = [max(abs(v) for v in r["z_sd"][1:]) for r in chosen]
            sh = [max(abs(v) for v in r["shift"][1:]) for r in chosen]
            worst = chosen[int(np.argmax(np.maximum(zm, zs)))]["graph"]
            agrees = max(zm) <= bound and max(zs) <= bound
            print(f"{model:<14} {k:>5g} {max(zm):12.2f} {max(zs):10.2f} {bound:6.2f} "
                  f"{max(sh):11.3f} {worst:<30} {'agrees' if agrees else 'DIFFERS'}")
            broken = broken or not agrees
            if not broken:
                ok_from = k
        verdict[model] = ok_from
    for model, k in verdict.items():
        print(f"{model}: smallest length agreeing (with every longer one) = "
              f"{'none of those tested' if k is None else f'{k:g} per edge'}")
    return verdict


def extrapolate(rows: list[dict], models, bound: float, target: float) -> dict[str, float]:
    """Per model: the length at which the slowest graph's shift decays to ``target``.

    Per (graph, null), the shift (max over the statistics) of the last two
    lengths whose |z_mean| exceeds ``bound`` gives an exponential decay time
    tau = (k2 - k1) / ln(s1 / s2); the shift reaches ``target`` null SDs at
    k2 + tau ln(s2 / target). Graphs with fewer than two such lengths
    already agree at all but the shortest one and are left out.
    """
    print(f"\nLength at which the null-mean shift decays to {target} null SDs (exponential "
          f"through the last two lengths that differ):")
    needed: dict[str, float] = {}
    for model in models:
        fits = []
        for graph in dict.fromkeys(r["graph"] for r in rows if r["model"] == model):
            chosen = sorted((r for r in rows if r["model"] == model and r["graph"] == graph),
                            key=lambda r: r["length"])
            off = [(r["length"], max(abs(v) for v in r["shift"][1:])) for r in chosen
                   if max(abs(v) for v in r["z_mean"][1:]) > bound]
            if len(off) >= 2 and off[-2][1] > off[-1][1] > 0:
                (k1, s1), (k2, s2) = off[-2:]
                tau = (k2 - k1) / np.log(s1 / s2)
                fits.append((k2 + tau * max(np.log(s2 / target), 0.0), tau, graph))
        if fits:
            k, tau, graph = max(fits)
            needed[model] = float(k)
            print(f"{model:<14} {k:6.1f} per edge (slowest: {graph}, tau {tau:.1f} per edge)")
        else:
            print(f"{model:<14} no graph differs at two lengths")
    return needed


def gap_study(graphs, models, gaps: list[float], n_chains: int, per_chain: int,
              max_rho: float) -> dict[str, float | None]:
    """Lag-1 autocorrelation of successive samples of thinned chains, per gap.

    Per (graph, null, gap): ``n_chains`` chains of ``per_chain`` samples with
    the null's default burn-in and ``gap`` attempted switches per edge
    between samples; the autocorrelation of the 030T, 021C and 030C counts
    within chains (:func:`motifs.stats.lag_one_autocorrelation`; standard
    error about 1 / sqrt(n_chains * per_chain)). Prints the table and, per
    null, the smallest gap whose largest autocorrelation over graphs and
    statistics is at most ``max_rho`` (with every longer gap tested).
    """
    from motifs.catalog import TRIAD_CODES
    from motifs.census import triad_census_edges
    from motifs.nulls import mean_switches_per_edge, sample_nulls
    from motifs.stats import lag_one_autocorrelation

    columns = [TRIAD_CODES.index(code) for code in STATS]
    worst: dict[tuple[str, float], tuple[float, str]] = {}
    print(f"\nThinned chains: {n_chains} chains x {per_chain} samples; lag-1 autocorrelation "
          f"of {', '.join(STATS)} (SE about {1 / np.sqrt(n_chains * per_chain):.3f})")
    for g, (label, net) in enumerate(graphs):
        for model in models:
            if label == RANDOM and model != "config":
                continue
            for gap in gaps:
                cpu = time.process_time()
                nulls = sample_nulls(net, model, n_chains * per_chain, seed=7_919 * g + 3,
                                     samples_per_chain=per_chain, gap_switches_per_edge=gap)
                counts = triad_census_edges(nulls.src, nulls.dst, net.n_nodes)[:, columns]
                rho = lag_one_autocorrelation(counts.astype(float), per_chain)
                if worst.get((model, gap), (-1.0, ""))[0] < rho.max():
                    worst[(model, gap)] = (float(rho.max()), label)
                cost = mean_switches_per_edge(model, samples_per_chain=per_chain,
                                              gap_switches_per_edge=gap)
                print(f"{label[:28]:<28} {model:<14} gap {gap:5g}  rho "
                      + " ".join(f"{v:6.3f}" for v in rho)
                      + f"  ({cost:.1f} attempts/edge/sample, {time.process_time() - cpu:.1f} s)")
    chosen: dict[str, float | None] = {}
    for model in models:
        ok = None
        for gap in sorted(gaps, reverse=True):
            if (model, gap) not in worst:
                continue
            if worst[(model, gap)][0] > max_rho:
                break
            ok = gap
        chosen[model] = ok
        rows = ", ".join(f"{gap:g}: {worst[(model, gap)][0]:.3f} ({worst[(model, gap)][1]})"
                         for gap in gaps if (model, gap) in worst)
        print(f"{model:<14} largest rho per gap: {rows}; smallest gap with rho <= {max_rho} "
              f"from there on: {ok}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--graphs", type=int, default=None, help="the N smallest shared graphs")
    parser.add_argument("--only", default=None, help="shared graphs whose file name holds this")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--lengths", default="3,10,20,30,50")
    parser.add_argument("--reference", type=float, default=100.0)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--target", type=float, default=0.05,
                        help="residual null-mean shift (null SDs) the extrapolation aims at")
    parser.add_argument("--no-random", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="write every row here")
    parser.add_argument("--gaps", default=None,
                        help="instead of the burn-in study: the thinned chains' "
                             "autocorrelation at these gaps (attempts per edge, comma-separated)")
    parser.add_argument("--chains", type=int, default=16, help="chains per (graph, null, gap)")
    parser.add_argument("--per-chain", type=int, default=64)
    parser.add_argument("--max-rho", type=float, default=0.15)
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    lengths = [float(k) for k in args.lengths.split(",") if k]
    graphs = shared_networks(args.graphs, args.only)
    if not args.no_random and "config" in models:
        graphs.append((RANDOM, random_network()))
    if args.gaps:
        cpu = time.process_time()
        gap_study(graphs, models, [float(g) for g in args.gaps.split(",") if g], args.chains,
                  args.per_chain, args.max_rho)
        print(f"\ntotal CPU {time.process_time() - cpu:.0f} s")
        return
    print(f"{len(graphs)} graphs, nulls {', '.join(models)}, {args.samples} samples per "
          f"(graph, null, length); reference {args.reference:g} attempts per edge")
    cpu = time.process_time()
    rows = study(graphs, models, lengths, args.reference, args.samples)
    verdict = summarise(rows, models, lengths, args.alpha)
    n_tests = sum(1 for r in rows if r["length"] == lengths[0]) * len(STATS) * 2
    needed = extrapolate(rows, models, bonferroni_bound(args.alpha, n_tests), args.target)
    print(f"\ntotal CPU {time.process_time() - cpu:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"samples": args.samples, "reference": args.reference,
                                         "verdict": verdict, "needed": needed, "rows": rows},
                                        indent=1))


if __name__ == "__main__":
    main()
