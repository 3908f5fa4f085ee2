"""Known circuits in the SHIPPED checkpoints: two-hop recall (two_hop-llama) and
bilingual concepts (antonyms-gemma2), for PLT and CLT.

"fact : the capital of the state containing <city> is" must go city tokens ->
state features -> capital logit (Lindsey et al. 2025, the Dallas -> Texas ->
Austin example). A feature is *selective* for a state when its mean
activation on the training two-hop prompts of that state is at least 15% of
the sum of its 20 per-state means (3x chance). Measured by
:func:`tracer.zoo.circuits.circuit_report` (``cgram zoo check two_hop-llama``)
on the first ``N_PROMPTS`` held-out prompts, whose pruned graphs are traced
with :func:`tracer.trace`. Figures on all 60 held-out prompts (PLT / CLT):
state features on a city -> capital path 6.7 / 5.3 per graph; 63% / 62% of
the selective graph features are selective for the true state (chance 5%);
zeroing the top 5 lowers p(capital) from 0.999 to 0.52 / 0.50 and changes the
answer on 40% / 48% of prompts; swapping the state's features for another
state's makes that state's capital the answer on 93% / 95%.
"""

from __future__ import annotations

import pytest

from tracer.zoo.checkpoint import open_checkpoint
from tracer.zoo.circuits import circuit_report

N_PROMPTS = 8


@pytest.fixture(scope="module", params=["plt", "clt"])
def report(request) -> dict[str, float]:
    return circuit_report(open_checkpoint("two_hop-llama"), request.param, n_prompts=N_PROMPTS,
                          concept_key="state", source_key="city", share=0.15, n_ablate=5)


def test_the_lookup_happens_in_the_mlps():
    """Zeroing every MLP output drops held-out two-hop accuracy from 1.0 to 0.15
    (chance 0.05): the two-token city -> state lookup is not in the embeddings
    or attention alone."""
    import torch

    from tracer.zoo.lm_recipe import answer_accuracy, encode_examples
    from tracer.zoo.transcoder_recipe import mlp_modules

    ckpt = open_checkpoint("two_hop-llama")
    model, tok = ckpt.load_model()
    heldout = encode_examples(ckpt.world().heldout, tok)
    assert answer_accuracy(model, heldout) == 1.0
    handles = [m.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
               for m in mlp_modules(model)]
    try:
        assert answer_accuracy(model, heldout) <= 0.25
    finally:
        for handle in handles:
            handle.remove()


def test_graphs_hold_state_features_on_the_path_from_city_to_capital(report):
    assert report["n_prompts"] == N_PROMPTS
    # every graph has at least three features selective for the intermediate state,
    # each on a directed path from a city token to the capital's logit
    assert report["on_path_min"] >= 3
    # most selective features in the graphs are about the true state (chance 1/20)
    assert report["chance"] == pytest.approx(0.05)
    assert report["selective_true_fraction"] >= 0.5


def test_ablating_the_top_five_state_features_changes_the_answer(report):
    assert report["p_clean"] > 0.99
    assert report["p_ablated"] < 0.6
    assert report["ablation_flip_rate"] >= 0.25


def test_swapping_in_another_states_features_steers_to_its_capital(report):
    assert report["steer_rate"] >= 0.75


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
