"""Our side of bench_trace.py: run inside the project's .venv.

Loads the fixture's model and transcoders with ``tracer.models`` /
``tracer.transcoders``, traces one prompt with ``tracer.trace`` (attribution,
pruning and graph scores), and writes the graph to an .npz in the format
trace_worker_ct.py writes. Peak memory is this process's own high-water
mark (``ct_env.peak_rss_mb``), read right after the timed work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ct_env import add_trace_arguments, peak_rss_mb  # noqa: E402
from trace_fixture import prompt_ids  # noqa: E402

KIND_CODES = {"embedding": 0, "feature": 1, "error": 2, "logit": 3}


def node_identities(graph) -> dict[str, np.ndarray]:
    """(kind, layer, pos, index) per node of a traced graph, numbered as
    trace_worker_ct.py numbers them: index = feature for features, token id
    for embeddings (``E_{vocab}_{pos}``), vocab id for logits, 0 for errors."""
    nodes = graph.nodes
    kind = nodes["kind"].map(KIND_CODES).to_numpy(dtype=np.int64)
    feature = nodes["feature"].to_numpy(dtype="float64", na_value=0.0).astype(np.int64)
    feature_id = nodes["feature_id"].to_numpy(dtype="float64", na_value=0.0).astype(np.int64)
    vocab = nodes["node_id"].str.split("_").str[1].to_numpy(dtype=object)
    index = np.select([kind == 1, kind == 0, kind == 3],
                      [feature, np.where(kind == 0, vocab, 0).astype(np.int64), feature_id], 0)
    return dict(kind=kind, layer=nodes["layer"].to_numpy(dtype=np.int64),
                pos=nodes["pos"].to_numpy(dtype=np.int64), index=index)


def unpruned_identities(attribution) -> dict[str, np.ndarray]:
    """The same identities for every row of the unpruned adjacency."""
    kinds = np.asarray(attribution.kinds())
    layer, pos = attribution.layers_and_positions()
    n_e = attribution.n_errors
    features = attribution.state.features.index[attribution.feature_rows].cpu().numpy()
    index = np.concatenate([features, np.zeros(n_e, dtype=np.int64),
                            attribution.state.tokens.cpu().numpy(),
                            attribution.targets.token_ids.cpu().numpy()]).astype(np.int64)
    return dict(full_kind=np.vectorize(KIND_CODES.get)(kinds).astype(np.int64),
                full_layer=np.asarray(layer, dtype=np.int64), full_pos=np.asarray(pos, dtype=np.int64),
                full_index=index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_trace_arguments(parser)
    args = parser.parse_args()

    import tracer
    from tracer.models import load_model
    from tracer.transcoders import load_transcoders

    torch.set_num_threads(args.threads)
    fixture = Path(args.fixture)
    model = load_model(fixture / "model", device="cpu", dtype=torch.float32)
    transcoders = load_transcoders(fixture / args.kind, device="cpu", dtype=torch.float32)
    ids = prompt_ids(args.n_tokens)
    rss_loaded = peak_rss_mb()

    # keep the unpruned Attribution that trace() builds, for the full-adjacency comparison
    import tracer.trace as trace_module

    captured = {}
    build_graph = trace_module.attribution_graph

    def capture(attribution, replacement, **kwargs):
        captured["attribution"] = attribution
        return build_graph(attribution, replacement, **kwargs)

    trace_module.attribution_graph = capture

    start = time.perf_counter()
    graph = tracer.trace(model, transcoders, ids, max_n_logits=10, desired_logit_prob=0.95,
                         max_feature_nodes=None, batch_size=args.batch_size,
                         node_threshold=0.8, edge_threshold=0.98)
    seconds = time.perf_counter() - start
    rss_peak = peak_rss_mb()

    src, dst, weight = graph.merged_edges()
    out = dict(**node_identities(graph), node_mask=np.ones(graph.n_nodes, dtype=bool),
               edge_source=src, edge_target=dst, edge_weight=weight)
    attribution = captured["attribution"]
    if args.save_adjacency:
        out.update(unpruned_identities(attribution), adjacency=attribution.adjacency.numpy())
    np.savez(args.out, **out)
    print(json.dumps(dict(
        seconds=seconds, rss_loaded_mb=rss_loaded, rss_peak_mb=rss_peak,
        n_nodes=int(attribution.n_nodes), n_features=int(attribution.n_features),
        kept_nodes=int(graph.n_nodes), kept_edges=int(graph.n_edges),
        replacement=graph.meta.replacement_score, completeness=graph.meta.completeness_score)))


if __name__ == "__main__":
    main()
