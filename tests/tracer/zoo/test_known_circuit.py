"""Known circuits in the SHIPPED checkpoints: two-hop recall (two_hop-llama) and
bilingual concepts (antonyms-gemma2), for PLT and CLT.

"fact : the capital of the state containing <city> is" must go city token ->
state features -> capital logit (Lindsey et al. 2025, the Dallas -> Texas ->
Austin example; the shipped world spells each city as one token, "northvale",
see :mod:`tracer.zoo.two_hop`). A feature is *selective* for a state when its
mean activation on the training two-hop prompts of that state is at least 15%
of the sum of its 20 per-state means (3x chance). Measured by
:func:`tracer.zoo.circuits.circuit_report` (``cgram zoo check two_hop-llama``)
on the first ``N_PROMPTS`` held-out prompts, whose pruned graphs are traced
with :func:`tracer.trace`: state features on a city -> capital path 7.25 /
6.5 per graph (PLT / CLT), at least 4 / 2; 98% / 98% of the selective graph
features are selective for the true state (chance 5%); zeroing the top 5
lowers p(capital) from 1.000 to 0.145 / 0.127 and changes the answer on 7 of
8; swapping the state's features for another state's makes that state's
capital the answer on 7 / 8 of 8. On all 60 held-out prompts: 7.0 / 6.1 on
a path, true-state share 0.986 / 0.984, p(capital) after zeroing the top 5
0.23 / 0.20, answer changed on 77% / 78%, steered on 92% / 93%.
"""

from __future__ import annotations

import pytest

from tracer.zoo.checkpoint import open_checkpoint
from tracer.zoo.circuits import circuit_report
from tracer.zoo.study import TWO_HOP_P_ABLATED, TWO_HOP_TRUE_SHARE

N_PROMPTS = 8


@pytest.fixture(scope="module", params=["plt", "clt"])
def report(request) -> dict[str, float]:
    return circuit_report(open_checkpoint("two_hop-llama"), request.param, n_prompts=N_PROMPTS,
                          concept_key="state", source_key="city", share=0.15, n_ablate=5)


def test_where_the_city_to_state_lookup_happens():
    """Zeroing every MLP output drops held-out two-hop accuracy from 1.0 to 0.63
    (chance 0.05): with one-token cities the embedding and attention alone answer
    most prompts, MLP 0 carries the rest (zeroed alone: 0.72) and MLPs 1-3 are
    not needed (1.0 each). The two-token world of the default ``build_world``
    needs the MLPs (0.15 with the pre-#16 two-token checkpoint), but its lookup
    features are word-pair detectors that the selectivity test reads as
    arbitrary states (true-state share 0.63 / 0.68)."""
    import torch

    from tracer.zoo.lm_recipe import answer_accuracy, encode_examples
    from tracer.zoo.transcoder_recipe import mlp_modules

    ckpt = open_checkpoint("two_hop-llama")
    model, tok = ckpt.load_model()
    heldout = encode_examples(ckpt.world().heldout, tok)
    assert answer_accuracy(model, heldout) == 1.0

    def zeroed(modules) -> float:
        handles = [m.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
                   for m in modules]
        try:
            return answer_accuracy(model, heldout)
        finally:
            for handle in handles:
                handle.remove()

    mlps = mlp_modules(model)
    assert zeroed(mlps) == pytest.approx(38 / 60)
    assert zeroed(mlps[:1]) == pytest.approx(43 / 60)
    assert all(zeroed([m]) == 1.0 for m in mlps[1:])


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_the_last_tokens_features_carry_the_answer_in_the_replacement_model(kind):
    """With attention frozen to the clean run and error terms kept
    (:class:`tracer.interventions.Intervener`), zeroing every transcoder feature
    active at the last token drops mean p(answer) over the first 8 held-out
    prompts from 1.0 to 0.029 (PLT) / 0.025 (CLT); zeroing layer 0's alone to
    0.17 / 0.15, and layers 1-3's together only to 0.98 / 0.99: the state read
    at layer 0 reaches the logits directly, the later layers repeat it."""
    import numpy as np
    import torch

    from tracer.zoo.circuits import _load

    ckpt = open_checkpoint("two_hop-llama")
    _, tok, _, intervener = _load(ckpt, kind)
    means = []
    for ex in ckpt.world().heldout[:N_PROMPTS]:
        answer = tok.convert_tokens_to_ids(ex.answer)
        _, acts = intervener.run(intervener.tokenize(ex.prompt), return_activations=True)
        last = acts[0].shape[0] - 1
        row = []
        for layers in ([0], range(1, len(acts)), range(len(acts))):
            edits = [(layer, last, int(f), 0.0) for layer in layers
                     for f in torch.nonzero(acts[layer][last]).flatten().tolist()]
            row.append(intervener.intervene(ex.prompt, edits).probability(answer)[1])
        means.append(row)
    layer0, later, every = np.mean(means, axis=0)
    assert every < 0.05 and layer0 < 0.2 and later > 0.95


def test_graphs_hold_state_features_on_the_path_from_city_to_capital(report):
    assert report["n_prompts"] == N_PROMPTS
    # every graph has at least two features selective for the intermediate state
    # (4 with PLT, 2 with CLT), each on a directed path from the city token to the
    # capital's logit
    assert report["on_path_min"] >= 2 and report["on_path_mean"] >= 6
    # the selective features in the graphs are about the true state (chance 1/20),
    # above the bar of 0.85 (measured 0.983 / 0.981)
    assert report["chance"] == pytest.approx(0.05)
    assert report["selective_true_fraction"] >= TWO_HOP_TRUE_SHARE


def test_ablating_the_top_five_state_features_changes_the_answer(report):
    assert report["p_clean"] > 0.99
    # the bar: <= 0.2 (measured 0.145 / 0.127)
    assert report["p_ablated"] <= TWO_HOP_P_ABLATED
    assert report["ablation_flip_rate"] >= 0.75


def test_swapping_in_another_states_features_steers_to_its_capital(report):
    assert report["steer_rate"] >= 0.875


@pytest.mark.parametrize("kind", ["plt", "clt"])
def test_antonym_transcoders_have_language_agnostic_and_language_specific_features(kind):
    """In the shipped antonyms-gemma2 checkpoint, at every layer, at least 50
    features are concept-selective (share >= 0.2 of 48 concepts, ~10x chance)
    while firing in both languages (language share <= 0.75), and at least 50
    concept-selective features fire in one language only (share >= 0.95)."""
    from tracer.transcoders import load_transcoders
    from tracer.zoo.circuits import concept_selectivity

    ckpt = open_checkpoint("antonyms-gemma2")
    model, tok = ckpt.load_model()
    world = ckpt.world()
    queries = [ex for ex in world.train + world.heldout if ex.kind == "antonym"]
    tc = load_transcoders(ckpt.transcoder_dir(kind), device="cpu", lazy=False)
    concept = concept_selectivity(model, tc, tok, queries, "concept")
    language = concept_selectivity(model, tc, tok, queries, "language")
    assert len(concept.concepts) == 48 and language.concepts == ["en", "fr"]
    selective = concept.share >= 0.2
    agnostic = (selective & (language.share <= 0.75)).sum(axis=1)
    specific = (selective & (language.share >= 0.95)).sum(axis=1)
    assert agnostic.min() >= 50 and specific.min() >= 50
