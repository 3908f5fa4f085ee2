"""Feature labels: what each transcoder feature fires on, in a few words.

For each feature, its ``top`` largest activations over a world's texts give
two distributions: the tokens it fires on and the answers of the examples
those tokens belong to. The label names the two commonest of each with their
shares, e.g. ``"vale 41%, ford 22% | ans: texas 88%"`` (a feature on city
tokens whose examples are about Texas: a state feature). The zoo writes them
into the transcoder directory's ``labels.json`` with
:func:`tracer.labels.write_labels`; the tracer puts them on graph nodes.

References
----------
Bricken et al. (2023), "Towards Monosemanticity", transformer-circuits.pub:
labelling features by their top-activating contexts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from tracer.zoo.evaluation import feature_activations

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from tracer.labels import FeatureLabels
    from tracer.transcoders import Transcoders
    from tracer.zoo.transcoder_recipe import MLPActivations
    from tracer.zoo.world import Example


def _top_two(ids: torch.Tensor, live: torch.Tensor, n_ids: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per column of ``ids (top, n_features)``: the two commonest ids among the
    ``live`` entries and their shares, each ``(n_features, 2)``."""
    n_features = ids.shape[1]
    feature = torch.arange(n_features).expand_as(ids)
    counts = torch.zeros(n_features, n_ids)
    counts.index_put_((feature[live], ids[live]), torch.ones(int(live.sum())), accumulate=True)
    share = counts / counts.sum(-1, keepdim=True).clamp_min(1)
    return share.topk(2, dim=-1)


def feature_labels(transcoders: Transcoders, acts: MLPActivations,
                   tokenizer: PreTrainedTokenizerFast, examples: Sequence[Example],
                   top: int = 32) -> FeatureLabels:
    """Label every feature of every layer by its top-activating tokens.

    Parameters
    ----------
    transcoders : Transcoders
    acts : MLPActivations
        From the texts of ``examples`` (``acts.example`` indexes them).
    tokenizer : PreTrainedTokenizerFast
    examples : sequence of Example
    top : int
        How many of the largest activations define a label.

    Returns
    -------
    dict of (int, int) -> str
        ``{(layer, feature): label}``; features that never fire
        (activation > 0) on these texts are labelled ``"dead"``.
    """
    answers = torch.tensor([tokenizer(ex.answer, add_special_tokens=False)["input_ids"][0]
                            for ex in examples])
    vocab = len(tokenizer)
    names = tokenizer.convert_ids_to_tokens(list(range(vocab)))
    labels: FeatureLabels = {}
    with torch.no_grad():
        for layer in range(acts.n_layers):
            a = feature_activations(transcoders, layer, acts.inputs[layer])  # (n_tokens, F)
            values, rows = a.topk(min(top, a.shape[0]), dim=0)  # (top, F)
            live = values > 0
            token_share, token_id = _top_two(acts.token_ids[rows], live, vocab)
            answer_share, answer_id = _top_two(answers[acts.example[rows]], live, vocab)
            fired = live.any(dim=0).tolist()
            labels.update({
                (layer, f): (f"{_shares(names, token_share[f], token_id[f])} | ans: "
                             f"{_shares(names, answer_share[f], answer_id[f])}") if fired[f]
                else "dead"
                for f in range(a.shape[1])
            })
    return labels


def _shares(names: list[str], share: torch.Tensor, ids: torch.Tensor) -> str:
    """``"vale 41%, ford 22%"``: names with their shares, zero shares left out."""
    return ", ".join(f"{names[i]} {s:.0%}" for s, i in zip(share.tolist(), ids.tolist()) if s > 0)
