"""``cgram zoo``: train a tiny world's LM and transcoders, list the zoo.

    cgram zoo train WORLD --arch llama|gemma2|gpt2 --transcoder plt|skip|clt|both|all [--out DIR]
                    [--seed S] [--preset test|demo]
    cgram zoo sweep WORLD --arch ARCH --transcoders plt,skip,clt --k 2,4,8,16 [--out DIR]
                    [--prompts N] [--steps S] [--executor KIND] [-j N] [--corpus DIR]
    cgram zoo list
    cgram zoo check [CHECKPOINT] [--transcoder plt|skip|clt|both|all] [--prompts N]

WORLD is a built-in world (``two_hop``, ``antonyms``, ``addition``), an
importable module or a ``.py`` file defining ``NAME`` and ``build_world(seed,
**params)`` (see :mod:`tracer.zoo.world`). Only argparse is imported here;
torch and transformers load when a command runs.
"""

from __future__ import annotations

import argparse


#: ``--transcoder`` values: one kind, ``both`` (PLT and CLT) or ``all``.
TRANSCODER_CHOICES: tuple[str, ...] = ("plt", "skip", "clt", "both", "all")


def _kinds(choice: str) -> tuple[str, ...]:
    return {"both": ("plt", "clt"), "all": ("plt", "skip", "clt")}.get(choice, (choice,))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``zoo`` command to the ``cgram`` dispatcher's sub-parsers."""
    zoo = subparsers.add_parser("zoo", help="tiny synthetic worlds, their LMs and transcoders",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = zoo.add_subparsers(dest="zoo_command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_sweep(commands)
    commands.add_parser("list", help="built-in worlds and shipped checkpoints").set_defaults(func=_list)
    _add_check(commands)


def _add_world_and_arch(parser: argparse.ArgumentParser) -> None:
    from tracer.zoo.lm_recipe import ARCHS

    parser.add_argument("world", help="built-in world name, module path or .py file")
    parser.add_argument("--arch", choices=ARCHS, default="llama", help="model family (default llama)")


def _add_train(commands: argparse._SubParsersAction) -> None:
    from tracer.zoo.checkpoint import PRESETS

    train = commands.add_parser("train", help="train a world's LM and transcoders into a checkpoint")
    _add_world_and_arch(train)
    train.add_argument("--transcoder", choices=TRANSCODER_CHOICES, default="both",
                       help="which transcoders to train (both = plt+clt, all = plt+skip+clt; "
                            "default both)")
    train.add_argument("--out", default=None,
                       help="checkpoint directory to write (default zoo-checkpoints/WORLD-ARCH)")
    train.add_argument("--seed", type=int, default=0, help="seed of world, LM and transcoders")
    train.add_argument("--preset", choices=PRESETS, default="demo",
                       help="sizes: 'test' (seconds) or 'demo' (minutes; the shipped checkpoints)")
    train.add_argument("--threads", type=int, default=1,
                       help="torch CPU threads (recorded: exact weights can depend on it)")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    train.set_defaults(func=_train)


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    from cgram.options import add_executor, add_jobs, positive_int
    from tracer.zoo.checkpoint import PRESETS

    sweep = commands.add_parser(
        "sweep", help="train transcoder kinds x sparsities on one LM; replacement score vs L0")
    _add_world_and_arch(sweep)
    sweep.add_argument("--transcoders", default="plt,skip,clt",
                       help="comma-separated kinds among plt, skip, clt (default all three)")
    sweep.add_argument("--k", default="2,4,8,16", help="comma-separated TopK sparsities")
    sweep.add_argument("--out", default=None,
                       help="sweep directory (default zoo-sweeps/WORLD-ARCH); cells are cached there")
    sweep.add_argument("--prompts", type=positive_int, default=8,
                       help="held-out prompts traced per cell (default 8)")
    sweep.add_argument("--steps", type=positive_int, default=None,
                       help="transcoder training steps per cell (default 600)")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--preset", choices=PRESETS, default="demo",
                       help="LM sizes when no shipped checkpoint has this world and arch")
    add_executor(sweep)
    add_jobs(sweep)
    sweep.add_argument("--corpus", default=None,
                       help="also copy the table to CORPUS/transcoders/WORLD-ARCH.csv "
                            "(the corpus report's transcoders page)")
    sweep.add_argument("--quiet", action="store_true", help="no progress lines")
    sweep.set_defaults(func=_sweep)


def _add_check(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check", help="the three findings (trade-off, two-hop, multilingual), or one "
                      "checkpoint's known circuit")
    check.add_argument("checkpoint", nargs="?", default=None,
                       help="shipped checkpoint name or directory: measure its known circuit "
                            "(concept features, ablation, steering); without it, the three findings")
    check.add_argument("--sweep", default=None,
                       help="sweep.csv of the trade-off finding (default: the shipped two_hop-llama one)")
    check.add_argument("--transcoder", choices=TRANSCODER_CHOICES, default="both")
    check.add_argument("--prompts", type=int, default=None,
                       help="held-out prompts to trace (default: all)")
    check.add_argument("--concept", default="state", help="Example.info key of the concept")
    check.add_argument("--source", default="city", help="Example.info key of the source words")
    check.set_defaults(func=_check)


def _train(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from tracer.zoo.checkpoint import preset_recipe, train_checkpoint

    kinds = _kinds(args.transcoder)
    if args.world.endswith(".py") and Path(args.world).is_file():
        # the recipe keeps the world's path: make it absolute, so the checkpoint reopens
        # from any directory
        args.world = str(Path(args.world).resolve())
    if args.out is None:
        args.out = str(Path("zoo-checkpoints") / f"{Path(args.world).stem}-{args.arch}")
    # a TracerError reaches the dispatcher: "cgram: error: ...", exit code 1, as for every command
    recipe = preset_recipe(args.preset, args.world, args.arch, seed=args.seed, transcoders=kinds)
    recipe = dataclasses.replace(recipe, threads=args.threads)
    metrics = train_checkpoint(recipe, args.out, log=None if args.quiet else print)
    lm = metrics["lm"]
    print(f"wrote {args.out}: held-out accuracy {lm['heldout_accuracy']:.3f}" + "".join(
        f", {kind} replacement accuracy {metrics[kind]['replacement_accuracy']:.3f}" for kind in kinds))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import dataclasses
    import resource
    import shutil
    import time
    from pathlib import Path

    from tracer.zoo.sweep import SWEEP_TRAINING, parse_list, run_sweep

    started, cpu = time.perf_counter(), time.process_time()
    training = SWEEP_TRAINING if args.steps is None else dataclasses.replace(SWEEP_TRAINING,
                                                                             steps=args.steps)
    out = args.out or str(Path("zoo-sweeps") / f"{Path(args.world).stem}-{args.arch}")
    result = run_sweep(args.world, args.arch, parse_list(args.transcoders, str, "--transcoders"),
                       parse_list(args.k, int, "--k"), out, preset=args.preset, seed=args.seed,
                       n_prompts=args.prompts, training=training, executor=args.executor,
                       jobs=args.jobs, log=None if args.quiet else print)
    shown = ["kind", "k", "l0", "explained_variance", "replacement_accuracy", "replacement_score",
             "completeness_score", "graph_nodes"]
    print(result.table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(result.statement)
    if args.corpus:
        target = Path(args.corpus) / "transcoders" / f"{Path(args.world).stem}-{args.arch}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.csv, target)
        print(f"copied the table to {target}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"wrote {result.csv} and {result.figure}; {len(result.computed)} cells trained, "
          f"{len(result.table) - len(result.computed)} cached; wall {time.perf_counter() - started:.0f} s, "
          f"CPU {time.process_time() - cpu + children.ru_utime + children.ru_stime:.0f} s")
    return 0


def _list(args: argparse.Namespace) -> int:
    from tracer.zoo.checkpoint import open_checkpoint, shipped_checkpoints
    from tracer.zoo.world import BUILTIN_WORLDS

    print("worlds: " + ", ".join(sorted(BUILTIN_WORLDS)))
    for name in shipped_checkpoints():
        ckpt = open_checkpoint(name)
        lm = ckpt.metrics.get("lm", {})
        kinds = [k for k in ("plt", "skip", "clt") if (ckpt.path / k / "config.yaml").is_file()]
        print(f"{name}: {ckpt.recipe.shape.n_layers} layers, d_model {ckpt.recipe.shape.d_model}, "
              f"held-out accuracy {lm.get('heldout_accuracy', float('nan')):.3f}, "
              f"transcoders {'+'.join(kinds)}  ({ckpt.path})")
    return 0


def _check(args: argparse.Namespace) -> int:
    import json

    from tracer.zoo.checkpoint import open_checkpoint
    from tracer.zoo.circuits import circuit_report

    if args.checkpoint is None:
        return _findings(args)
    kinds = _kinds(args.transcoder)
    checkpoint = open_checkpoint(args.checkpoint)
    for kind in kinds:
        report = circuit_report(checkpoint, kind, n_prompts=args.prompts,
                                concept_key=args.concept, source_key=args.source)
        print(json.dumps({"checkpoint": str(args.checkpoint), "transcoder": kind, **report}))
    return 0


def _findings(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from tracer.zoo.checkpoint import CHECKPOINT_DIR, open_checkpoint
    from tracer.zoo.circuits import circuit_report
    from tracer.zoo.study import (
        language_sharing, multilingual_finding, tradeoff_finding, two_hop_finding,
    )

    def show(kind: str, finding: dict) -> None:
        print(f"{finding['finding']} [{kind}]: {finding['reading']}")
        print(json.dumps({"transcoder": kind, **finding}))

    sweep = args.sweep or str(CHECKPOINT_DIR / "two_hop-llama" / "sweep.csv")
    show("all", tradeoff_finding(pd.read_csv(sweep)))
    for kind in ("plt", "clt"):
        show(kind, two_hop_finding(circuit_report(open_checkpoint("two_hop-llama"), kind,
                                                  n_prompts=args.prompts or 8)))
    for kind in ("plt", "skip", "clt"):
        show(kind, multilingual_finding(language_sharing(open_checkpoint("multilingual-gemma2"),
                                                         kind)))
    return 0
