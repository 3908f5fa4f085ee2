"""circuit-tracer's side of bench_trace.py: run inside .bench-venv only.

``trace``: load the fixture's model and transcoders from disk, trace one
prompt with ``circuit_tracer.attribute``, prune with its ``prune_graph`` and
score with ``compute_graph_scores``, and write the graph to an .npz.
``prune``: run circuit-tracer's own pruning and scores on adjacency matrices
read from an .npz (the agreement check for tracer/prune.py).

Peak memory is this process's own high-water mark (``ct_env.peak_rss_mb``),
read right after the timed work, before anything is written out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ct_env import add_trace_arguments, peak_rss_mb  # noqa: E402
from trace_fixture import N_LAYERS, prompt_ids  # noqa: E402


def load_transcoders(fixture: Path, kind: str):
    import yaml
    from circuit_tracer.transcoder.cross_layer_transcoder import load_clt
    from circuit_tracer.utils.hf_utils import load_transcoders

    config = yaml.safe_load((fixture / kind / "config.yaml").read_text())
    device = torch.device("cpu")
    if kind == "plt":
        # circuit-tracer's own loader for a config whose paths are local files
        return load_transcoders(config, device=device, dtype=torch.float32)
    # its CLT loader fetches from the hub; the loading function itself takes a directory
    return load_clt(str(fixture / kind), feature_input_hook=config["feature_input_hook"],
                    feature_output_hook=config["feature_output_hook"], scan=config["scan"],
                    device=device, dtype=torch.float32, lazy_decoder=True, lazy_encoder=False)


def trace(args: argparse.Namespace) -> None:
    from circuit_tracer import ReplacementModel, attribute
    from circuit_tracer.graph import compute_graph_scores, prune_graph

    torch.set_num_threads(args.threads)
    fixture = Path(args.fixture)
    transcoders = load_transcoders(fixture, args.kind)
    model = ReplacementModel.from_pretrained_and_transcoders(
        str(fixture / "model"), transcoders, backend="nnsight", device=torch.device("cpu"),
        dtype=torch.float32)
    ids = torch.tensor(prompt_ids(args.n_tokens))
    rss_loaded = peak_rss_mb()

    start = time.perf_counter()
    graph = attribute(ids, model, max_n_logits=10, desired_logit_prob=0.95,
                      batch_size=args.batch_size)
    attributed = time.perf_counter()
    pruned = prune_graph(graph, node_threshold=0.8, edge_threshold=0.98)
    replacement, completeness = compute_graph_scores(graph)
    seconds = time.perf_counter() - start
    rss_peak = peak_rss_mb()

    adjacency = graph.adjacency_matrix
    n = adjacency.shape[0]
    n_pos = len(graph.input_tokens)
    feats = graph.active_features[graph.selected_features].numpy()
    n_feat = feats.shape[0]
    n_logit = len(graph.logit_targets)
    # node identities: (kind code, layer, pos, index); kinds 0 embedding, 1 feature, 2 error, 3 logit
    kind = np.concatenate([np.full(n_feat, 1), np.full(N_LAYERS * n_pos, 2), np.full(n_pos, 0),
                           np.full(n_logit, 3)])
    layer = np.concatenate([feats[:, 0], np.repeat(np.arange(N_LAYERS), n_pos),
                            np.full(n_pos, -1), np.full(n_logit, N_LAYERS)])
    pos = np.concatenate([feats[:, 1], np.tile(np.arange(n_pos), N_LAYERS), np.arange(n_pos),
                          np.full(n_logit, n_pos - 1)])
    index = np.concatenate([feats[:, 2], np.zeros(N_LAYERS * n_pos, int),
                            graph.input_tokens.numpy(), graph.logit_token_ids.numpy()])
    edge_rows, edge_cols = torch.nonzero(pruned.edge_mask, as_tuple=True)
    out = dict(
        kind=kind, layer=layer, pos=pos, index=index,
        activation=np.concatenate([graph.activation_values[graph.selected_features].numpy(),
                                   np.zeros(n - n_feat)]),
        logit_probs=graph.logit_probabilities.numpy(),
        node_mask=pruned.node_mask.numpy(),
        cumulative_influence=pruned.cumulative_scores.numpy(),
        edge_target=edge_rows.numpy(), edge_source=edge_cols.numpy(),
        edge_weight=adjacency[edge_rows, edge_cols].numpy(),
    )
    if args.save_adjacency:
        out["adjacency"] = adjacency.numpy()
    np.savez(args.out, **out)
    print(json.dumps(dict(
        seconds=seconds, attribute_seconds=attributed - start, rss_loaded_mb=rss_loaded,
        rss_peak_mb=rss_peak, n_nodes=int(n), n_features=int(n_feat), n_logits=int(n_logit),
        n_nonzero=int((adjacency != 0).sum()), kept_nodes=int(pruned.node_mask.sum()),
        kept_edges=int(pruned.edge_mask.sum()), replacement=replacement,
        completeness=completeness)))


def prune(args: argparse.Namespace) -> None:
    """circuit-tracer's pruning on each matrix of ``args.matrices``."""
    from circuit_tracer.graph import compute_graph_scores, compute_node_influence, prune_graph

    data = np.load(args.matrices)
    out = {}
    for key in [k for k in data.files if k.startswith("adjacency_")]:
        name = key.removeprefix("adjacency_")
        adjacency = torch.from_numpy(data[key])
        n_feat, n_err, n_tok, n_logit = (int(v) for v in data[f"sizes_{name}"])
        probs = torch.from_numpy(data[f"probs_{name}"])
        graph = SimpleNamespace(
            adjacency_matrix=adjacency, input_tokens=torch.zeros(n_tok),
            logit_targets=[None] * n_logit, selected_features=torch.arange(n_feat),
            logit_probabilities=probs, cfg=SimpleNamespace(n_layers=n_err // n_tok))
        result = prune_graph(graph, float(data[f"node_threshold_{name}"]),
                             float(data[f"edge_threshold_{name}"]))
        weights = torch.zeros(adjacency.shape[0], dtype=adjacency.dtype)
        weights[-n_logit:] = probs
        out[f"influence_{name}"] = compute_node_influence(adjacency, weights).numpy()
        out[f"node_mask_{name}"] = result.node_mask.numpy()
        out[f"edge_mask_{name}"] = result.edge_mask.numpy()
        out[f"cumulative_{name}"] = result.cumulative_scores.numpy()
        out[f"scores_{name}"] = np.array(compute_graph_scores(graph))
    np.savez(args.out, **out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_trace_arguments(sub.add_parser("trace"))
    p = sub.add_parser("prune")
    p.add_argument("--matrices", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    trace(args) if args.command == "trace" else prune(args)


if __name__ == "__main__":
    main()
