"""Transcoder quality that counts a skip transcoder's linear path.

:mod:`tracer.zoo.evaluation` decodes features only; a skip transcoder
(Paulo, Shabalin & Belrose 2025, "Transcoders beat sparse autoencoders for
interpretability", arXiv:2501.18823) predicts ``W_dec^T a + b_dec + W_skip x``.
:func:`layer_metrics` gives the zoo's per-layer reconstruction metrics for
every kind: PLT and CLT sets go straight to
:func:`tracer.zoo.evaluation.reconstruction_metrics`; a skip set gets its
linear path (:meth:`tracer.transcoders.Transcoders.skip`, the tracer's own)
added to the same feature decoding. (Replacement accuracy needs nothing of
the kind: :func:`tracer.zoo.evaluation.replacement_accuracy` runs the
tracer's replacement model, which includes the skip path.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from tracer.zoo.evaluation import decode, feature_activations, reconstruction_metrics
from tracer.zoo.transcoder_recipe import MLPActivations

if TYPE_CHECKING:
    from tracer.transcoders import Transcoders


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
