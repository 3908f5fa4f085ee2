"""The three findings ``cgram zoo check`` prints, on the shipped zoo, asserted
as measured (issue #16).

1. Transcoder trade-off, from the shipped ``two_hop-llama/sweep.csv``
   (``cgram zoo sweep two_hop --arch llama``: PLT, skip, CLT at TopK 2, 4,
   8, 16; 256 features, 600 steps per cell; 8 traced prompts; re-run on the
   one-token-city LM shipped for the two-hop bar, 168 s wall). Measured: the
   CLT reconstructs best at k = 4 and 8, PLT at k = 2, all three within 1e-4
   at k = 16; the CLT's replacement score leads at k = 4, 8, 16 and PLT's at
   k = 2, so CLT - PLT averages +0.002 and skip - PLT -0.055, and the coded
   reading (CLT above PLT on average, skip adding less) holds. It is thin:
   the leads at k = 8 and 16 are within the spread over prompts, and on the
   two-token LM before it the same sweep gave CLT - PLT -0.003 (PLT leading
   at k = 2 and 4, skip at 8 and 16), where the reading did not hold.
2. Two-hop: see ``test_known_circuit.py`` for the circuit's thresholds; here
   the issue's bar (true-state share >= 0.85, p(answer) after ablating the
   top 5 <= 0.2) is read, and it is reached by the one-token-city checkpoint
   (PLT / CLT: 0.983 / 0.981 and 0.145 / 0.127; the two-token checkpoint
   before it: 0.63 / 0.68 and 0.49 / 0.37).
3. Multilingual (``multilingual-gemma2``: antonyms in two invented languages
   sharing concepts, no token): over all 48 concepts, the two languages'
   pruned graphs share no feature at any layer (Jaccard 0, one skip-layer-0
   exception at 0.005) and no logit (the answers are different words). The
   published reading (shared in the middle, language-specific at the output)
   does NOT reproduce: the tiny model keeps the languages apart.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.tracer.zoo.conftest import run_zoo_cli
from tracer.zoo.checkpoint import CHECKPOINT_DIR, open_checkpoint
from tracer.zoo.study import (
    MIDDLE_SHARED_MIN, TWO_HOP_P_ABLATED, TWO_HOP_TRUE_SHARE, language_sharing,
    multilingual_finding, tradeoff_finding,
)


def test_the_shipped_sweep_table_and_its_reading():
    table = pd.read_csv(CHECKPOINT_DIR / "two_hop-llama" / "sweep.csv")
    assert sorted(zip(table["kind"], table["k"])) == sorted(
        (kind, k) for kind in ("plt", "skip", "clt") for k in (2, 4, 8, 16))
    assert (table["l0"] == table["k"]).all() and (table["n_prompts"] == 8).all()
    ev = table.pivot(index="k", columns="kind", values="explained_variance")
    score = table.pivot(index="k", columns="kind", values="replacement_score")
    # the CLT reconstructs best at k = 4 and 8, the PLT at k = 2; all within 1e-4 at 16
    assert (ev.loc[[4, 8], "clt"] > ev.loc[[4, 8], "plt"]).all()
    assert (ev.loc[[4, 8], "clt"] > ev.loc[[4, 8], "skip"]).all()
    assert ev.loc[2].idxmax() == "plt" and ev.loc[16].max() - ev.loc[16].min() < 1e-4
    # every kind's replacement score is higher at k = 16 than at k = 2 (skip by 0.18)
    assert (score.loc[16] > score.loc[2]).all() and score.loc[16, "skip"] > score.loc[2, "skip"] + 0.15
    # the coded reading holds, by a margin smaller than the spread over prompts
    finding = tradeoff_finding(table)
    assert finding["reproduces"]
    assert finding["clt_minus_plt"] == pytest.approx(0.002, abs=0.001)
    assert finding["skip_minus_plt"] == pytest.approx(-0.055, abs=0.002)
    assert score.idxmax(axis=1).to_dict() == {2: "plt", 4: "clt", 8: "clt", 16: "clt"}
    assert "At k = 8, 16 the kinds differ by less than the spread" in finding["statement"]


@pytest.mark.parametrize("kind", ["plt", "skip", "clt"])
def test_the_two_invented_languages_share_no_feature(kind):
    sharing = language_sharing(open_checkpoint("multilingual-gemma2"), kind, n_concepts=None)
    assert sharing["n_concepts"] == 48 and sharing["languages"] == ["ka", "zu"]
    assert max(sharing["by_layer"]) <= 0.01 and sharing["logits"] == 0.0
    finding = multilingual_finding(sharing)
    assert not finding["reproduces"] and "does not reproduce" in finding["reading"]


def test_the_shipped_skip_transcoders_reconstruct_at_least_as_well_as_the_plt():
    """multilingual-gemma2 ships PLT, skip and CLT trained on one LM; the
    metrics are re-measured through the tracer's loader."""
    import torch

    from tracer.transcoders import load_transcoders
    from tracer.zoo.lm_recipe import encode_examples
    from tracer.zoo.quality import layer_metrics
    from tracer.zoo.transcoder_recipe import collect_mlp_activations

    ckpt = open_checkpoint("multilingual-gemma2")
    skip = load_transcoders(ckpt.transcoder_dir("skip"), device="cpu", lazy=False)
    assert skip.transcoder_type == "skip"
    model, tok = ckpt.load_model()
    acts = collect_mlp_activations(model, encode_examples(ckpt.world().heldout, tok))
    measured = [m["explained_variance"] for m in layer_metrics(skip, acts)]
    shipped = [m["explained_variance"] for m in ckpt.metrics["skip"]["layers"]]
    assert measured == pytest.approx(shipped, abs=1e-4)
    plt = [m["explained_variance"] for m in ckpt.metrics["plt"]["layers"]]
    assert all(s >= p for s, p in zip(shipped, plt)) and min(shipped) > 0.96
    assert ckpt.metrics["skip"]["replacement_accuracy"] == 1.0
    # the tracer's replacement model (skip path included) agrees
    from tracer.zoo.evaluation import replacement_accuracy

    assert replacement_accuracy(model, skip, encode_examples(ckpt.world().heldout, tok)) == 1.0
    with torch.no_grad():
        skip_part = skip.skip(0, acts.inputs[0])
    assert float(skip_part.norm()) > 0.05 * float(acts.outputs[0].norm())  # the path is used


def test_cgram_zoo_check_prints_the_three_findings(capsys):
    assert run_zoo_cli("zoo", "check") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by = {(f["finding"], f["transcoder"]): f for f in lines}
    assert sorted(by) == sorted([("transcoder trade-off", "all"), ("two-hop", "plt"), ("two-hop", "clt"),
                                 ("multilingual", "plt"), ("multilingual", "skip"),
                                 ("multilingual", "clt")])
    assert by[("transcoder trade-off", "all")]["reproduces"]
    for kind in ("plt", "clt"):
        two_hop = by[("two-hop", kind)]
        assert two_hop["n_prompts"] == 8 and two_hop["chance"] == pytest.approx(0.05)
        # the bar of the issue, read as measured: reached for both kinds
        assert two_hop["reproduces"] == (two_hop["selective_true_fraction"] >= TWO_HOP_TRUE_SHARE
                                         and two_hop["p_ablated"] <= TWO_HOP_P_ABLATED)
        assert two_hop["reproduces"] and "carries the answer" in two_hop["reading"]
    for kind in ("plt", "skip", "clt"):
        finding = by[("multilingual", kind)]
        assert not finding["reproduces"] and finding["middle"] < MIDDLE_SHARED_MIN
