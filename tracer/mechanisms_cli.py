"""``cgram intervene`` and ``cgram cascades``: what features and motifs do.

Only argparse and the shared flags are imported at module level; torch, the
tracer and the motif engine load when a command runs. ``cascades`` is the one
tracer module that calls the motif engine (``--validate`` joins its cascades
with the model's causal tests), which the layer rules allow here alone.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cgram.options import add_corpus, int_at_least, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``intervene`` and ``cascades`` to the ``cgram`` dispatcher."""
    p = subparsers.add_parser(
        "intervene",
        help="set transcoder features to values and show how the next-token prediction changes",
        description=(
            "Run PROMPT with features set (circuit-tracer's feature_intervention semantics: the "
            "model's own MLPs run, the features' decoder deltas are added at the MLP outputs, "
            "downstream features respond, attention frozen to the clean run unless "
            "--no-freeze-attention). Positions count from 0 = the first token (BOS)."
        ),
    )
    p.add_argument("prompt", help="the prompt text")
    p.add_argument("--model", required=True, metavar="DIR|ID", help="Hugging Face hub id or local model directory")
    p.add_argument("--transcoders", required=True, metavar="DIR|ID", help="transcoder set (preset, hub id, directory)")
    p.add_argument("--set", dest="edits", action="append", default=[], metavar="LAYER:POS:FEATURE=VALUE",
                   help="set a feature (repeatable); VALUE 0 ablates it; an inactive feature may be set too")
    p.add_argument("--no-freeze-attention", action="store_true",
                   help="recompute attention patterns instead of holding the clean run's")
    p.add_argument("--constrained-layers", default=None, metavar="START:STOP",
                   help="freeze the MLP outputs of layers START..STOP-1 (direct effects only)")
    p.add_argument("--generate", type=int_at_least(0), default=0, metavar="N",
                   help="also continue the prompt greedily for N tokens, clean and with the features held")
    p.add_argument("--top", type=positive_int, default=10, metavar="N", help="token changes shown (10)")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="write clean_logits, logits (full last-position vectors) and top_changes here")
    p.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda when available)")
    p.add_argument("--dtype", default=None, help="float32 (default), bf16 or fp16")
    p.set_defaults(func=run_intervene)

    c = subparsers.add_parser(
        "cascades",
        help="the strongest chains of feed-forward loops from the tokens to each logit, with stages",
        description=(
            "Find the top-K FFL cascades of graph SLUG (a corpus key, or a Neuronpedia JSON file) "
            "from token embeddings to each logit, highest-probability logit first: exact dynamic "
            "programming; strength = product of the loops' strengths (geometric mean of their edges' "
            "relevance to the outputs). With --validate, ablate each cascade and each loop's mediator "
            "in the model (needs the graph's own model and transcoders)."
        ),
    )
    c.add_argument("slug", metavar="SLUG", help="graph slug / id in the corpus, or a graph JSON file")
    add_corpus(c)
    c.add_argument("--top", type=positive_int, default=3, metavar="K", help="cascades per logit (3)")
    c.add_argument("--logit", default=None, metavar="TOKEN", help="only the logit of this token (stripped match)")
    c.add_argument("--tiers", default=None, metavar="LOW,HIGH",
                   help="relative-depth cut-offs grounding|entity|output (default 0.333,0.667)")
    c.add_argument("--json", default=None, metavar="OUT", help="write the cascades as a JSON list")
    c.add_argument("--validate", action="store_true", help="add causal tests (needs --model and --transcoders)")
    c.add_argument("--model", default=None, metavar="DIR|ID", help="the graph's model, for --validate")
    c.add_argument("--transcoders", default=None, metavar="DIR|ID", help="the graph's transcoders, for --validate")
    c.add_argument("--random", type=positive_int, default=20, metavar="N", help="random control draws (20)")
    c.add_argument("--seed", type=int, default=0, help="seed of the random controls (0)")
    c.add_argument("--device", default=None, help="for --validate: cpu, cuda ...")
    c.set_defaults(func=run_cascades)


def _range(text: str | None) -> range | None:
    from tracer.errors import TracerError

    if text is None:
        return None
    try:
        start, stop = (int(v) for v in text.split(":"))
    except ValueError:
        raise TracerError(f"--constrained-layers {text!r}: expected START:STOP, e.g. 0:4") from None
    return range(start, stop)


def _write_json(path: str, payload: Any) -> None:
    import json
    from pathlib import Path

    Path(path).write_text(json.dumps(payload, indent=1))
    print(f"wrote {path}")


def run_intervene(args: argparse.Namespace) -> int:
    """Handler of ``cgram intervene``."""
    from tracer.interventions import Intervener, parse_intervention

    edits = [parse_intervention(text) for text in args.edits]
    intervener = Intervener(args.model, args.transcoders, device=args.device, dtype=args.dtype)
    result = intervener.intervene(args.prompt, edits, freeze_attention=not args.no_freeze_attention,
                                  constrained_layers=_range(args.constrained_layers))
    decode = intervener.model.tokenizer.decode
    print("tokens: " + " ".join(f"{i}:{decode([t])!r}" for i, t in enumerate(result.tokens)))
    top_clean, top_after = int(result.clean_logits.argmax()), int(result.logits.argmax())
    print(f"top token: {decode([top_clean])!r} (p={result.probability(top_clean)[0]:.3f}) -> "
          f"{decode([top_after])!r} (p={result.probability(top_after)[1]:.3f})")
    table = result.top_changes(args.top)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    payload = result.to_json(args.top)
    if args.generate:
        freeze = not args.no_freeze_attention
        clean = intervener.generate(args.prompt, [], args.generate, freeze)
        steered = intervener.generate(args.prompt, edits, args.generate, freeze)
        print(f"clean continuation:   {decode(clean)!r}")
        print(f"steered continuation: {decode(steered)!r}")
        payload.update({"generated_clean": clean, "generated": steered})
    if args.json:
        _write_json(args.json, payload)
    return 0


def _load_graph(args: argparse.Namespace) -> Any:
    from pathlib import Path

    if args.slug.endswith(".json") and Path(args.slug).is_file():
        from corpus.neuronpedia import read_json

        return read_json(args.slug)
    from corpus.cli import open_corpus

    return open_corpus(args, create=False).load(args.slug)


def run_cascades(args: argparse.Namespace) -> int:
    """Handler of ``cgram cascades``."""
    from motifs.cascades import DEFAULT_TIERS, cascades_for_graph
    from motifs.errors import MotifError

    if args.validate and not (args.model and args.transcoders):
        raise MotifError("--validate needs --model and --transcoders (the graph's own)")
    tiers = DEFAULT_TIERS
    if args.tiers:
        try:
            low, high = (float(v) for v in args.tiers.split(","))
        except ValueError:
            raise MotifError(f"--tiers {args.tiers!r}: expected LOW,HIGH, e.g. 0.3,0.7") from None
        tiers = (low, high)
    graph = _load_graph(args)
    result, net, records = cascades_for_graph(graph, top_k=args.top, tiers=tiers)
    if args.logit is not None:
        tokens = graph.nodes.set_index("node_id")["token"]
        keep = [i for i, r in enumerate(records) if str(tokens.get(r["logit"], "")).strip() == args.logit.strip()]
        if not keep:
            raise MotifError(f"graph {graph.name}: no cascade reaches a logit of token {args.logit!r}")
        from dataclasses import replace

        result = replace(result, cascades=[result.cascades[i] for i in keep])
        records = [records[i] for i in keep]
    if args.validate:
        from tracer.causal import validate_cascades
        from tracer.interventions import Intervener

        intervener = Intervener(args.model, args.transcoders, device=args.device)
        records = validate_cascades(intervener, graph, records, n_random=args.random, seed=args.seed)
    print(f"{graph.name}: {len(result.ffl)} feed-forward loops, {len(records)} cascades "
          f"(strength: product of loop strengths; stage tiers {tiers[0]:.3f}, {tiers[1]:.3f})")
    print_cascades(records, sys.stdout)
    if args.json:
        _write_json(args.json, records)
    return 0


def print_cascades(records: list[dict[str, Any]], out: Any) -> None:
    """Print cascade records: the node path with stages and labels, the loops, causal numbers."""
    for r in records:
        head = f"\n{r['logit']}  #{r['rank']}  strength {r['strength']:.4g}  " + \
               ("coherent" if r["coherent"] else "not coherent")
        if "ablation_drop" in r:
            head += (f"  ablation drop {r['ablation_drop']:.4f} vs random {r['random_drop_mean']:.4f}"
                     f" ± {r['random_drop_sd']:.4f}")
        print(head, file=out)
        labels = r.get("labels", [""] * len(r["nodes"]))
        for node, stage, label, comp in zip(r["nodes"], r["stages"], labels, r["competes"]):
            print(f"   {stage:9s} {node:18s} {label}{'  (competes)' if comp else ''}", file=out)
        for f in r["ffls"]:
            line = f"   ffl {f['sign_type']:7s} {f['stage']:9s} {f['x']} -> {f['y']} -> {f['z']}"
            if "observed_dz" in f:
                line += f"  dz predicted {f['predicted_dz']:+.3f} observed {f['observed_dz']:+.3f}"
            print(line, file=out)
