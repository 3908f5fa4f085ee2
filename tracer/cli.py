"""``cgram trace``: trace one prompt's attribution graph from the command line.

Only argparse is imported here; torch, transformers and the tracer load when
the command runs, so ``cgram --help`` stays fast.
"""

from __future__ import annotations

import argparse


#: Where ``cgram trace`` differs from circuit-tracer's ``circuit-tracer attribute``
#: (0.5.0, ``circuit_tracer/__main__.py``), shown in ``cgram trace --help``.
CIRCUIT_TRACER_DIFFERENCES = """\
circuit-tracer's spellings are accepted: -m, -t/--transcoder_set, -p/--prompt, and
the underscore forms --max_feature_nodes, --max_n_logits, --desired_logit_prob,
--batch_size, --node_threshold, --edge_threshold. Where this command differs:
  --max-feature-nodes  defaults to 8192 (circuit-tracer: 7500)
  --model/-m           is required (circuit-tracer can read it from the transcoder config)
  -o FILE              writes pruned Neuronpedia graph JSON (circuit-tracer's -o,
                       --graph_output_path, writes the unpruned graph as a .pt file)
  --corpus DIR         adds the graph to a corpus (circuit-tracer's --slug with
                       --graph_file_dir writes the frontend's graph files instead)
  not here             --offload, --lazy-encoder/--lazy-decoder (a local transcoder set
                       loads lazily anyway), --backend (one back end: PyTorch hooks on
                       the transformers modules), --server/--port/--features_dir,
                       --verbose (a progress bar is always shown)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``trace`` sub-command to the ``cgram`` dispatcher."""
    from cgram.options import add_graph_outputs

    p = subparsers.add_parser(
        "trace",
        help="trace a prompt's attribution graph (HF model + transcoders)",
        description=(
            "Trace the attribution graph of PROMPT (Ameisen et al. 2025, as circuit-tracer "
            "computes it), prune it, and write it as Neuronpedia JSON and/or add it to a corpus."
        ),
        epilog=CIRCUIT_TRACER_DIFFERENCES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("prompt", nargs="?", help="the prompt text")
    prompt.add_argument("-p", "--prompt", dest="prompt_text", metavar="PROMPT",
                        help="the prompt text, as an option (circuit-tracer's spelling)")
    p.add_argument("-m", "--model", required=True, metavar="ID|DIR",
                   help="Hugging Face hub id or local model directory")
    p.add_argument("-t", "--transcoders", "--transcoder_set", dest="transcoders", required=True,
                   metavar="ID|DIR|PRESET",
                   help="transcoder set: a preset (gemma, llama, llama-clt, gemma-2-2b-clt, qwen3-4b, ...), "
                        "a hub id or a local directory with config.yaml (its labels.json, if any, "
                        "labels the nodes)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--dtype", default=None, help="float32 (default), bf16/bfloat16 or fp16/float16")
    p.add_argument("--batch-size", "--batch_size", type=int, default=256, metavar="N",
                   help="targets per backward pass (256)")
    p.add_argument("--max-feature-nodes", "--max_feature_nodes", type=int, default=8192,
                   metavar="N", help="most feature nodes, chosen by influence (8192; "
                                     "circuit-tracer: 7500)")
    p.add_argument("--max-n-logits", "--max_n_logits", type=int, default=10, metavar="N",
                   help="most logit targets (10)")
    p.add_argument("--desired-logit-prob", "--desired_logit_prob", type=float, default=0.95,
                   metavar="P", help="take top logits until their probability reaches P (0.95)")
    p.add_argument("--target-token", action="append", default=None, metavar="TOKEN",
                   help="attribute from this token instead (repeatable; a token string or id)")
    p.add_argument("--node-threshold", "--node_threshold", type=float, default=0.8, metavar="F",
                   help="node pruning threshold (0.8)")
    p.add_argument("--edge-threshold", "--edge_threshold", type=float, default=0.98,
                   metavar="F", help="edge pruning threshold (0.98)")
    p.add_argument("--split-paths", action="store_true",
                   help="store every edge as residual-direct and attention-mediated parts")
    p.add_argument("--slug", default=None, help="graph slug (default: from the prompt)")
    p.add_argument("--task", default=None, help="task label stored with the graph")
    add_graph_outputs(p)
    p.set_defaults(func=run_trace)


def _target(token: str) -> int | str:
    return int(token) if token.isdigit() else token


def run_trace(args: argparse.Namespace) -> int:
    """Handler of ``cgram trace``; returns the exit code."""
    from cgram.options import corpus_to_add
    from corpus.cli import write_graph
    from tracer.trace import trace

    targets = None if args.target_token is None else [_target(t) for t in args.target_token]
    graph = trace(
        args.model, args.transcoders, args.prompt if args.prompt is not None else args.prompt_text,
        max_n_logits=args.max_n_logits, desired_logit_prob=args.desired_logit_prob,
        max_feature_nodes=args.max_feature_nodes, batch_size=args.batch_size,
        node_threshold=args.node_threshold, edge_threshold=args.edge_threshold,
        split_paths=args.split_paths, device=args.device, dtype=args.dtype,
        target_tokens=targets, progress=True,
    )
    if args.slug:
        graph.meta.slug = args.slug
    if args.task:
        graph.meta.task = args.task
    meta = graph.meta
    print(f"{meta.slug}: {graph.n_nodes} nodes, {graph.n_edges} edges, replacement "
          f"{meta.replacement_score:.3f}, completeness {meta.completeness_score:.3f}")
    write_graph(graph, args.output, corpus_to_add(args), args.task)
    return 0
