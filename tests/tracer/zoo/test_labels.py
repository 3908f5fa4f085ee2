"""Feature labels: top tokens and answers, stored per layer, put on graph nodes."""

from __future__ import annotations

import torch

from tracer.labels import read_labels, write_labels
from tracer.transcoders import Transcoders
from tracer.zoo.labels import feature_labels
from tracer.zoo.tokenizer import build_tokenizer
from tracer.zoo.transcoder_recipe import MLPActivations
from tracer.zoo.world import Example


def test_labels_name_the_top_tokens_and_answers_by_hand():
    tok = build_tokenizer(["a", "b", "c", "x", "y"])  # ids 4..8
    # feature 0 reads coordinate 0, feature 1 coordinate 1, feature 2 never wins TopK(1)
    tc = Transcoders.from_tensors(
        "plt", W_enc=[torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])],
        W_dec=[torch.zeros(3, 2)], b_enc=[torch.zeros(3)], b_dec=[torch.zeros(2)],
        feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out",
        activation="topk", k=1)
    x = torch.tensor([[[5.0, 0.0], [4.0, 0.0], [3.0, 0.0], [0.0, 2.0], [1.0, 0.0]]])
    acts = MLPActivations(x, torch.zeros_like(x), token_ids=torch.tensor([4, 4, 5, 6, 6]),
                          example=torch.tensor([0, 0, 1, 1, 1]), position=torch.arange(5))
    examples = [Example("a a", "x", "k"), Example("b c c", "y", "k")]
    labels = feature_labels(tc, acts, tok, examples, top=3)
    # feature 0's three largest activations: rows 0, 1 (token a, answer x), 2 (token b, answer y)
    assert labels[(0, 0)] == "a 67%, b 33% | ans: x 67%, y 33%"
    # feature 1 fires once (row 3: token c of the second example)
    assert labels[(0, 1)] == "c 100% | ans: y 100%"
    assert labels[(0, 2)] == "dead"


def test_traced_feature_nodes_get_their_labels(test_checkpoint, tmp_path):
    import tracer
    from tracer.zoo.checkpoint import open_checkpoint

    ckpt = open_checkpoint(test_checkpoint)
    labels = read_labels(ckpt.transcoder_dir("plt"))
    assert read_labels(write_labels(labels, tmp_path).parent) == labels == ckpt.labels("plt")
    # trace() itself labels the nodes from the set's labels.json
    graph = tracer.trace(ckpt.model_dir, ckpt.transcoder_dir("plt"), ckpt.world().heldout[1].prompt,
                         device="cpu")
    features = graph.nodes[graph.kind_mask("feature")]
    assert len(features) > 0
    # every feature active on a held-out prompt fired somewhere in the world: none is "dead"
    assert features["label"].notna().all() and not (features["label"] == "dead").any()
    assert features["label"].str.contains(" | ans: ").all()


def test_cgram_trace_labels_the_nodes_from_the_transcoders_labels_file(test_checkpoint, tmp_path):
    from cgram.cli import main
    from corpus.neuronpedia import read_json
    from tracer.zoo.checkpoint import open_checkpoint

    ckpt = open_checkpoint(test_checkpoint)
    out = tmp_path / "graph.json"
    assert main(["trace", "--model", str(ckpt.model_dir), "--transcoders",
                 str(ckpt.transcoder_dir("plt")), "--device", "cpu", "-o", str(out),
                 ckpt.world().heldout[1].prompt]) == 0
    features = read_json(out).nodes
    features = features[features["kind"] == "feature"]
    labels = read_labels(ckpt.transcoder_dir("plt"))
    expected = [labels[(int(l), int(f))] for l, f in zip(features["layer"], features["feature"])]
    assert len(features) > 0 and features["label"].tolist() == expected
