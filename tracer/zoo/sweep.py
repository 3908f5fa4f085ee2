"""Transcoder sweep: PLT vs skip vs CLT at several sparsities on one tiny LM.

``cgram zoo sweep WORLD --arch ARCH --transcoders plt,skip,clt --k 2,4,8,16``
trains the world's LM once (or reuses a shipped checkpoint's LM when the world
and architecture match), then one transcoder set per (kind, k) *cell*, and
measures each cell: explained variance per layer and L0 on held-out tokens,
replacement accuracy (every MLP replaced, no error terms), and over held-out
prompts the replacement and completeness scores of the traced graphs
(:func:`tracer.trace`, scores of the unpruned graph) and the size of the
pruned graphs.

Cells are independent tasks run by :mod:`corpus.executor` (serial, a process
pool or Dask). Each cell lives in ``OUT/cells/<hash>/``, the hash being that of
its full configuration (LM, transcoder settings, kind, k, prompts); its
``result.json`` is written last and atomically, so a run killed midway leaves
finished cells complete and the next run computes only the missing ones.

The published reading this checks (Ameisen et al. 2025, "Circuit Tracing",
transformer-circuits.pub, on cross-layer transcoders against per-layer ones;
Paulo, Shabalin & Belrose 2025, arXiv:2501.18823, on skip transcoders):
at equal L0 a CLT reaches a higher replacement score than a PLT, and the
skip path adds less.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tracer.errors import TracerError
from tracer.zoo.transcoder_recipe import MODEL_KINDS, TranscoderTraining

if TYPE_CHECKING:
    import pandas as pd

    from tracer.zoo.checkpoint import Recipe

#: Columns of the sweep table, in order (``ev_layer_{i}`` columns follow ``explained_variance``).
SWEEP_COLUMNS: tuple[str, ...] = (
    "kind", "k", "l0", "explained_variance", "replacement_accuracy",
    "replacement_score", "replacement_score_std", "completeness_score", "completeness_score_std",
    "graph_nodes", "graph_edges", "n_prompts", "train_seconds", "config_hash",
)

#: Transcoder training of a sweep cell when not given: short enough that the
#: 12 cells of two_hop x llama fit in minutes on one core.
SWEEP_TRAINING = TranscoderTraining(n_features=256, k=8, steps=600, batch_size=256, lr=3e-3,
                                    dead_after=20_000)


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` produced.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per cell, :data:`SWEEP_COLUMNS` plus ``ev_layer_{i}``.
    computed : list of (kind, k)
        Cells trained by this run (the others came from the cache).
    csv, figure : Path
    statement : str
        Which kind dominates where (:func:`dominance_statement`).
    lm_dir : Path
        The LM every cell was trained on.
    """

    table: pd.DataFrame
    computed: list[tuple[str, int]]
    csv: Path
    figure: Path
    statement: str
    lm_dir: Path


def parse_list(text: str, kind: type, name: str) -> list:
    """``"plt,clt"`` -> ``["plt", "clt"]``; ``"2,4"`` -> ``[2, 4]`` (a clear error otherwise).

    Examples
    --------
    >>> parse_list("plt, skip", str, "--transcoders"), parse_list("2,4", int, "--k")
    (['plt', 'skip'], [2, 4])
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    try:
        values = [kind(item) for item in items]
    except ValueError as exc:
        raise TracerError(f"{name}: cannot read {text!r} as a comma-separated list ({exc})") from exc
    if not values or len(set(values)) != len(values):
        raise TracerError(f"{name}: give distinct comma-separated values, got {text!r}")
    return values


def config_hash(config: dict[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``config`` as sorted JSON.

    Examples
    --------
    >>> config_hash({"b": 1, "a": [2]}) == config_hash({"a": [2], "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def sweep_lm(recipe: Recipe, out: Path, log: Callable[[str], None]) -> tuple[Recipe, Path]:
    """The LM of a sweep: a shipped checkpoint's when its world, arch and seed
    match ``recipe`` (its recipe then replaces ``recipe``), else one trained
    into ``out/lm/<hash>/`` (reused when already there)."""
    from tracer.zoo.checkpoint import open_checkpoint, shipped_checkpoints

    for name in shipped_checkpoints():
        shipped = open_checkpoint(name)
        if (shipped.recipe.world, shipped.recipe.arch, shipped.recipe.seed) == \
                (recipe.world, recipe.arch, recipe.seed):
            log(f"LM: shipped checkpoint {name}")
            return shipped.recipe, shipped.model_dir
    lm_config = {key: value for key, value in recipe.to_dict().items()
                 if key not in ("transcoder", "transcoders")}
    folder = out / "lm" / config_hash(lm_config)
    if (folder / "model" / "config.json").is_file():
        log(f"LM: cached {folder}")
        return recipe, folder / "model"
    from tracer.zoo.checkpoint import train_lm_checkpoint

    log(f"LM: training into {folder}")
    train_lm_checkpoint(recipe, folder, log)
    return recipe, folder / "model"


def run_sweep(world: str, arch: str, kinds: Sequence[str], ks: Sequence[int], out: str | Path,
              *, preset: str = "demo", seed: int = 0, n_prompts: int = 8,
              training: TranscoderTraining = SWEEP_TRAINING, executor: str = "pool",
              jobs: int | None = None, log: Callable[[str], None] | None = None) -> SweepResult:
    """Train and measure every (kind, k) cell; write ``sweep.csv`` and ``sweep.png``.

    Parameters
    ----------
    world, arch : str
        As ``cgram zoo train`` takes them.
    kinds : sequence of {"plt", "skip", "clt"}
    ks : sequence of int
        TopK sparsities.
    out : path
        Sweep directory (cells, LM if trained, CSV, figure, statement).
    preset : {"test", "demo"}
        Sizes of the world and LM when no shipped LM matches.
    seed : int
    n_prompts : int
        Held-out prompts traced per cell (the first ones).
    training : TranscoderTraining
        Transcoder settings; ``k`` is replaced by each cell's.
    executor, jobs
        :func:`corpus.executor.open_executor` arguments.
    log : callable (str) -> None, optional

    Returns
    -------
    SweepResult
    """
    from corpus.atomic import atomic_write
    from corpus.executor import open_executor
    from tracer.zoo.checkpoint import preset_recipe

    say = log or (lambda line: None)
    bad = [kind for kind in kinds if kind not in MODEL_KINDS]
    if bad or not kinds:
        raise TracerError(f"--transcoders must name kinds among {sorted(MODEL_KINDS)}, got {list(kinds)}")
    if not ks or min(ks) < 1 or max(ks) > training.n_features:
        raise TracerError(f"--k values must be in [1, {training.n_features}], got {list(ks)}")
    if n_prompts < 1:
        raise TracerError(f"--prompts must be >= 1, got {n_prompts}")
    out = Path(out)
    recipe, lm_dir = sweep_lm(preset_recipe(preset, world, arch, seed=seed), out, say)
    lm_config = {key: value for key, value in recipe.to_dict().items()
                 if key not in ("transcoder", "transcoders", "threads")}
    tasks, cached, rows = [], [], {}
    for kind in kinds:
        for k in ks:
            cell_training = dataclasses.replace(training, k=k)
            config = {"lm": lm_config, "kind": kind, "transcoder": dataclasses.asdict(cell_training),
                      "n_prompts": n_prompts}
            folder = out / "cells" / config_hash(config)
            result = folder / "result.json"
            if result.is_file():
                rows[(kind, k)] = json.loads(result.read_text())
                cached.append((kind, k))
                continue
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
            tasks.append(((kind, k), {"folder": str(folder), "lm_dir": str(lm_dir),
                                      "recipe": recipe.to_dict(), "kind": kind,
                                      "training": dataclasses.asdict(cell_training),
                                      "n_prompts": n_prompts, "hash": folder.name}))
    say(f"{len(cached)} cells cached, {len(tasks)} to train")
    computed = []
    if tasks:
        with open_executor(executor, jobs) as ex:
            say(f"training on {ex.describe()}")
            for outcome in ex.run(train_cell, tasks):
                if not outcome.ok:
                    raise TracerError(f"sweep cell {outcome.key}: {outcome.error}\n{outcome.traceback}")
                rows[outcome.key] = outcome.value
                computed.append(outcome.key)
                say(f"  {outcome.key[0]} k={outcome.key[1]}: replacement score "
                    f"{outcome.value['replacement_score']:.3f}, L0 {outcome.value['l0']:.2f}, "
                    f"{outcome.value['train_seconds']:.0f} s")
    table = sweep_table([rows[(kind, k)] for kind in kinds for k in ks])
    csv = atomic_write(out / "sweep.csv", lambda tmp: table.to_csv(tmp, index=False))
    figure = plot_sweep(table, out / "sweep.png", title=f"{recipe.world} x {recipe.arch}")
    statement = dominance_statement(table)
    (out / "statement.txt").write_text(statement + "\n")
    return SweepResult(table, computed, csv, figure, statement, Path(lm_dir))


def train_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Executor task: train one (kind, k) cell and measure it; writes
    ``transcoders/`` and, last and atomically, ``result.json`` in the cell's folder."""
    import numpy as np
    import torch

    import tracer
    from corpus.atomic import atomic_write
    from tracer.models import load_model
    from tracer.transcoders import load_transcoders
    from tracer.zoo.checkpoint import Recipe
    from tracer.zoo.lm_recipe import encode_examples
    from tracer.zoo.evaluation import replacement_accuracy
    from tracer.zoo.quality import layer_metrics
    from tracer.zoo.transcoder_recipe import collect_mlp_activations, save_trained, train_transcoders
    from tracer.zoo.world import build_world

    torch.set_num_threads(1)
    started = time.perf_counter()
    folder = Path(payload["folder"])
    recipe = Recipe.from_dict(payload["recipe"])
    training = TranscoderTraining(**payload["training"])
    loaded = load_model(payload["lm_dir"], device="cpu")
    model, tokenizer = loaded.hf_model, loaded.tokenizer
    world = build_world(recipe.world, recipe.seed, recipe.world_params)
    train = encode_examples(world.train, tokenizer)
    heldout = encode_examples(world.heldout, tokenizer)
    trained = train_transcoders(collect_mlp_activations(model, train), payload["kind"], training,
                                recipe.seed + 1)
    tc_dir = save_trained(trained, folder / "transcoders", scan=f"sweep-{payload['kind']}-k{training.k}",
                          model_name=payload["lm_dir"])
    transcoders = load_transcoders(tc_dir, device="cpu", lazy=False)
    train_seconds = time.perf_counter() - started
    layers = layer_metrics(transcoders, collect_mlp_activations(model, heldout))
    scores, completeness, nodes, edges = [], [], [], []
    for example in world.heldout[:payload["n_prompts"]]:
        graph = tracer.trace(loaded, transcoders, example.prompt, device="cpu")
        scores.append(graph.meta.replacement_score)
        completeness.append(graph.meta.completeness_score)
        nodes.append(graph.n_nodes)
        edges.append(graph.n_edges)
    result = {
        "kind": payload["kind"], "k": training.k,
        "l0": float(np.mean([m["l0"] for m in layers])),
        "explained_variance": float(np.mean([m["explained_variance"] for m in layers])),
        **{f"ev_layer_{i}": m["explained_variance"] for i, m in enumerate(layers)},
        "replacement_accuracy": replacement_accuracy(model, transcoders, heldout),
        "replacement_score": float(np.mean(scores)), "replacement_score_std": float(np.std(scores)),
        "completeness_score": float(np.mean(completeness)),
        "completeness_score_std": float(np.std(completeness)),
        "graph_nodes": float(np.mean(nodes)), "graph_edges": float(np.mean(edges)),
        "n_prompts": len(scores), "train_seconds": round(train_seconds, 1),
        "config_hash": payload["hash"],
    }
    atomic_write(folder / "result.json", lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2)))
    return result


def sweep_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Cell results -> the sweep table (:data:`SWEEP_COLUMNS`, then ``ev_layer_{i}``)."""
    import pandas as pd

    table = pd.DataFrame(list(results))
    missing = [c for c in SWEEP_COLUMNS if c not in table.columns]
    if missing:
        raise TracerError(f"sweep results lack columns {missing}")
    layers = sorted((c for c in table.columns if c.startswith("ev_layer_")),
                    key=lambda c: int(c.rsplit("_", 1)[1]))
    return table[list(SWEEP_COLUMNS[:4]) + layers + list(SWEEP_COLUMNS[4:])]


def dominance_statement(table: pd.DataFrame) -> str:
    """Which kind has the highest replacement score at each k, and overall.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"kind": ["plt", "clt", "plt", "clt"], "k": [2, 2, 4, 4],
    ...                   "replacement_score": [0.5, 0.6, 0.7, 0.65], "l0": [2, 2, 4, 4]})
    >>> print(dominance_statement(t))
    k=2: clt leads (0.600 vs plt 0.500); k=4: plt leads (0.700 vs clt 0.650).
    clt leads at 1 of 2 sparsities, plt at 1.
    """
    parts, wins = [], {}
    for k, group in table.groupby("k", sort=True):
        ranked = group.sort_values("replacement_score", ascending=False, kind="stable")
        best, rest = ranked.iloc[0], ranked.iloc[1:]
        wins[best["kind"]] = wins.get(best["kind"], 0) + 1
        others = ", ".join(f"{r['kind']} {r['replacement_score']:.3f}" for _, r in rest.iterrows())
        parts.append(f"k={k}: {best['kind']} leads ({best['replacement_score']:.3f} vs {others})")
    order = sorted(wins, key=lambda kind: -wins[kind])
    summary = f"{order[0]} leads at {wins[order[0]]} of {len(parts)} sparsities" + "".join(
        f", {kind} at {wins[kind]}" for kind in order[1:]) + "."
    if "replacement_score_std" in table:
        # a lead smaller than the spread over prompts is not a finding
        gaps = table.groupby("k")["replacement_score"].agg(lambda v: v.max() - v.min())
        spread = table.groupby("k")["replacement_score_std"].min()
        within = [str(k) for k in gaps.index if gaps[k] < spread[k]]
        if within:
            summary += (f" At k = {', '.join(within)} the kinds differ by less than the spread "
                        "of the score over prompts.")
    return "; ".join(parts) + ".\n" + summary


def plot_sweep(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Replacement score vs L0, one line per kind, error bars = the spread
    (standard deviation) over the traced prompts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for kind, group in table.groupby("kind", sort=False):
        group = group.sort_values("l0")
        ax.errorbar(group["l0"], group["replacement_score"], yerr=group["replacement_score_std"],
                    marker="o", capsize=3, label=kind)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("L0 (active features per token and layer)")
    ax.set_ylabel("replacement score (mean over prompts)")
    ax.set_title(f"transcoder sweep {title}".strip())
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
