"""Transcoder quality that counts a skip transcoder's linear path.

:mod:`tracer.zoo.evaluation` decodes features only; a skip transcoder
(Paulo, Shabalin & Belrose 2025, "Transcoders beat sparse autoencoders for
interpretability", arXiv:2501.18823) predicts ``W_dec^T a + b_dec + W_skip x``.
These two functions give the zoo's per-layer reconstruction metrics and
replacement accuracy for every kind: PLT and CLT sets go straight to
:mod:`tracer.zoo.evaluation`; a skip set gets its linear path
(:meth:`tracer.transcoders.Transcoders.skip`, the tracer's own) added to the
same feature decoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch

from tracer.zoo.evaluation import (
    decode, feature_activations, reconstruction_metrics, replacement_accuracy,
)
from tracer.zoo.transcoder_recipe import MLPActivations, mlp_modules

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from tracer.transcoders import Transcoders
    from tracer.zoo.lm_recipe import EncodedExamples


def layer_metrics(transcoders: Transcoders, acts: MLPActivations) -> list[dict[str, float]]:
    """:func:`tracer.zoo.evaluation.reconstruction_metrics` with a skip set's
    linear path in its predictions (``nmse``, ``explained_variance``, ``l0``,
    ``dead_fraction`` per layer).

    Examples
    --------
    >>> from tracer.transcoders import Transcoders
    >>> tc = Transcoders.from_tensors(
    ...     "plt", W_enc=[torch.eye(2)], W_dec=[torch.zeros(2, 2)], b_enc=[torch.zeros(2)],
    ...     b_dec=[torch.zeros(2)], W_skip=[torch.eye(2)], feature_input_hook="mlp.hook_in",
    ...     feature_output_hook="mlp.hook_out", activation="topk", k=1)
    >>> x = torch.tensor([[[3.0, 1.0], [0.0, 2.0]]])  # y = x: the skip path alone is exact
    >>> m = layer_metrics(tc, MLPActivations(x, x.clone(), *(torch.zeros(2, dtype=torch.long),) * 3))[0]
    >>> m["explained_variance"], m["l0"]
    (1.0, 1.0)
    """
    if not transcoders.has_skip:
        return reconstruction_metrics(transcoders, acts)
    # the feature part's metrics, then the error recomputed with the skip path added
    metrics = reconstruction_metrics(transcoders, acts)
    with torch.no_grad():
        feats = [feature_activations(transcoders, layer, acts.inputs[layer])
                 for layer in range(acts.n_layers)]
        predicted = decode(transcoders, feats)
        for layer, (y_hat, m) in enumerate(zip(predicted, metrics)):
            y = acts.outputs[layer].to(y_hat.dtype)
            error = float(((y - y_hat - transcoders.skip(layer, acts.inputs[layer])) ** 2).sum())
            total, centred = float((y ** 2).sum()), float(((y - y.mean(dim=0)) ** 2).sum())
            m["nmse"] = error / total if total > 0 else float("inf")
            m["explained_variance"] = 1.0 - error / centred if centred > 0 else float("nan")
    return metrics


def replacement_accuracy_of(model: PreTrainedModel, transcoders: Transcoders,
                            batch: EncodedExamples) -> float:
    """:func:`tracer.zoo.evaluation.replacement_accuracy` (every MLP replaced,
    no error terms) with a skip set's linear path in each MLP's replacement."""
    from tracer.zoo.lm_recipe import answer_correct

    if not transcoders.has_skip:
        return replacement_accuracy(model, transcoders, batch)

    every = torch.arange(transcoders.d_transcoder)

    def replace(layer: int) -> Callable[..., torch.Tensor]:
        # a skip set is per-layer: layer l's output reads layer l's features only
        def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
            x = args[0]
            out = (transcoders.decoder_bias(layer)
                   + feature_activations(transcoders, layer, x) @ transcoders.decoder_rows(layer, every)
                   + transcoders.skip(layer, x))
            return out.to(output.dtype)
        return hook

    handles = [m.register_forward_hook(replace(i)) for i, m in enumerate(mlp_modules(model))]
    try:
        model.eval()
        with torch.no_grad():
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    finally:
        for handle in handles:
            handle.remove()
    return float(answer_correct(logits, batch).float().mean())

