"""``cgram global``: the prompt-independent global graph of a transcoder set.

Only argparse is imported here; torch and the tracer load when the command
runs, so ``cgram --help`` stays fast.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``global`` sub-command to the ``cgram`` dispatcher."""
    from cgram.options import add_graph_outputs

    p = subparsers.add_parser(
        "global",
        help="global graph: virtual weights between transcoder features (no prompt)",
        description=(
            "Compute the global graph of a transcoder set: for each target feature, its top-k "
            "source features of earlier layers by virtual weight through the residual stream "
            "(decoder -> residual -> encoder; attention left out), or by TWERA when --stats "
            "gives a text to gather co-activation statistics on (Ameisen et al. 2025)."
        ),
    )
    p.add_argument("--transcoders", required=True, metavar="ID|DIR|PRESET",
                   help="transcoder set: a preset, a hub id or a local directory with config.yaml "
                        "(its labels.json, if any, labels the nodes)")
    p.add_argument("--layers", default=None, metavar="SPEC",
                   help="layers for sources and targets, e.g. 0-3 (default: all)")
    p.add_argument("--sources", default=None, metavar="SPEC",
                   help="source features, overriding --layers: '0-2', '1;3' or '1:5,7;2' (LAYER:IDX,...)")
    p.add_argument("--targets", default=None, metavar="SPEC", help="target features, same syntax")
    p.add_argument("--top-k", type=int, default=50, metavar="K",
                   help="sources kept per target, by |weight| (50; 0 keeps every non-zero weight)")
    p.add_argument("--model", default=None, metavar="ID|DIR",
                   help="the model the set belongs to: folds its norm weights in; needed by --stats")
    p.add_argument("--stats", default=None, metavar="TEXTFILE",
                   help="one context per line: run model + transcoders over it and weight edges by "
                        "co-activation (TWERA)")
    p.add_argument("--norm-scale", default="none", metavar="none|mean|X",
                   help="norm scale between write and read: none (ignore, default), mean (average over "
                        "--stats), or a fixed number")
    p.add_argument("--max-tokens", type=int, default=None, metavar="N",
                   help="longest context for --stats (default: the model's maximum)")
    p.add_argument("--block-size", type=int, default=4096, metavar="N",
                   help="features per block; the largest dense matrix is N x N (4096)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--slug", default=None, help="graph slug (default: global-<set>-<hash>)")
    p.add_argument("--task", default=None, help="task label stored with the graph")
    add_graph_outputs(p)
    p.set_defaults(func=run_global)


def _norm_scale(text: str) -> str | float:
    from tracer.errors import TracerError

    if text in ("none", "mean"):
        return text
    try:
        return float(text)
    except ValueError:
        raise TracerError(f"--norm-scale must be none, mean or a number, got {text!r}") from None


def _local_config(ref: str) -> tuple[object, dict]:
    """The local transcoder directory of ``ref`` (or None) and the config the set
    was loaded from (``ref`` itself when it is a file, else its config.yaml); a
    config that cannot be read is a TracerError naming it, never ``{}``."""
    from pathlib import Path

    from tracer.transcoders import read_config

    path = Path(ref).expanduser()
    if not path.exists():
        return None, {}
    config_path = path if path.is_file() else path / "config.yaml"
    return config_path.parent, read_config(config_path)


def run_global(args: argparse.Namespace) -> int:
    """Handler of ``cgram global``; returns the exit code."""
    from cgram.options import corpus_to_add
    from corpus.cli import write_graph
    from tracer.errors import TracerError
    from tracer.global_weights import (
        collect_stats,
        global_weights,
        read_texts,
        residual_maps,
    )
    from tracer.models import load_model, resolve_device
    from tracer.transcoders import load_transcoders

    norm_scale = _norm_scale(args.norm_scale)
    if args.stats and not args.model:
        raise TracerError("--stats needs --model: the statistics come from running the model")
    if norm_scale == "mean" and not args.stats:
        raise TracerError("--norm-scale mean needs --stats TEXTFILE to average the scales over")
    if args.top_k < 0:
        raise TracerError(f"--top-k must be 0 (all) or positive, got {args.top_k}")
    texts = read_texts(args.stats) if args.stats else None
    device = resolve_device(args.device)
    tc = load_transcoders(args.transcoders, device=device)
    folder, config = _local_config(args.transcoders)
    model = load_model(args.model, device=device) if args.model else None
    stats = None
    if model is not None and texts is not None:
        stats = collect_stats(model, tc, texts, max_tokens=args.max_tokens, progress=True)
        print(f"statistics: {stats.n_tokens} tokens from {len(texts)} contexts of {args.stats}")
    maps = residual_maps(tc, model, norm_scale=norm_scale, stats=stats)
    sources = args.sources or args.layers
    targets = args.targets or args.layers
    result = global_weights(tc, sources, targets, top_k=args.top_k or None, maps=maps, stats=stats,
                            block_size=args.block_size, progress=True)
    model_name = args.model or str(config.get("model_name") or "")
    if not args.model and model_name and folder is not None and (folder / model_name).is_dir():
        model_name = str((folder / model_name).resolve())  # the zoo writes model_name: ../model
    graph = result.to_graph(labels=tc.labels, model=model_name, slug=args.slug, task=args.task)
    print(f"{graph.meta.slug}: {graph.n_nodes} features, {graph.n_edges} edges ({result.weighting}; "
          f"{maps.description})")
    write_graph(graph, args.output, corpus_to_add(args), args.task)
    return 0
