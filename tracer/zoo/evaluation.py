"""How good are a tiny LM's transcoders? Reconstruction and replacement.

The zoo has no replacement model of its own: everything here runs through the
tracer's, :class:`tracer.replacement.ReplacementModel`, and its transcoder
loader :class:`tracer.transcoders.Transcoders`, so the zoo measures exactly
what the tracer traces:

- :func:`reconstruction_metrics`: per layer, normalised MSE, explained
  variance, L0 and the dead-feature fraction on stored MLP activations;
- :func:`replacement_logits`: the model with every MLP replaced by its
  transcoders, the features computed live from each MLP's actual input
  (:meth:`ReplacementModel.replace`); optionally with the clean run's
  reconstruction errors added back (then an unedited run reproduces the
  model) and with feature activations edited (ablation, steering) before
  they are decoded. As in the tracer, position 0 (the BOS token) carries no
  features and keeps its error, so it is the model's own there;
- :func:`replacement_accuracy`: answer accuracy of that replacement model.

References
----------
Ameisen et al. (2025), "Circuit Tracing", transformer-circuits.pub: the
replacement model, its error nodes, and interventions on features.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from tracer.replacement import FeatureEdit, ReplacementModel, decode_features
from tracer.zoo.transcoder_recipe import MLPActivations

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from tracer.transcoders import Transcoders
    from tracer.zoo.lm_recipe import EncodedExamples


def feature_activations(transcoders: Transcoders, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Activations ``(..., n_features)`` of ``layer``'s features on MLP inputs
    ``x (..., d_model)``."""
    return transcoders.activate(layer, transcoders.pre_activations(layer, x))


def decode(transcoders: Transcoders, acts: list[torch.Tensor]) -> list[torch.Tensor]:
    """Predicted MLP outputs of every layer from every layer's activations.

    Parameters
    ----------
    acts : list of (..., n_features), one per layer

    Returns
    -------
    list of (..., d_model)
        PLT: layer ``l`` decodes its own features; CLT: layer ``j`` sums the
        decoders of features of layers ``l <= j`` (plus ``b_dec_j``);
        :func:`tracer.replacement.decode_features` per layer.
    """
    return [decode_features(transcoders, acts, j) for j in range(transcoders.n_layers)]


def reconstruction_metrics(transcoders: Transcoders, acts: MLPActivations) -> list[dict[str, float]]:
    """Per-layer quality of ``transcoders`` on stored MLP activations.

    Returns
    -------
    list of dict, one per layer
        ``nmse``: ||y - y_hat||^2 / ||y||^2 (error relative to predicting 0);
        ``explained_variance``: 1 - ||y - y_hat||^2 / ||y - mean(y)||^2;
        ``l0``: mean number of non-zero features per token;
        ``dead_fraction``: features that are zero on every token.

    Examples
    --------
    >>> from tracer.transcoders import Transcoders
    >>> tc = Transcoders.from_tensors(
    ...     "plt", W_enc=[torch.eye(2)], W_dec=[torch.eye(2)], b_enc=[torch.zeros(2)],
    ...     b_dec=[torch.zeros(2)], feature_input_hook="mlp.hook_in",
    ...     feature_output_hook="mlp.hook_out", activation="topk", k=1)
    >>> x = torch.tensor([[[3.0, 1.0], [0.0, 2.0]]])  # y = x; TopK(1) keeps one coordinate
    >>> acts = MLPActivations(x, x.clone(), *(torch.zeros(2, dtype=torch.long),) * 3)
    >>> m = reconstruction_metrics(tc, acts)[0]
    >>> round(m["nmse"], 4), m["l0"], m["dead_fraction"]  # error 1 of total 14
    (0.0714, 1.0, 0.0)
    """
    with torch.no_grad():
        feats = [feature_activations(transcoders, layer, acts.inputs[layer])
                 for layer in range(acts.n_layers)]
        predicted = decode(transcoders, feats)
    metrics = []
    for layer, (a, y_hat) in enumerate(zip(feats, predicted)):
        y = acts.outputs[layer].to(y_hat.dtype)
        error = float(((y - y_hat) ** 2).sum())
        total = float((y ** 2).sum())
        centred = float(((y - y.mean(dim=0)) ** 2).sum())
        active = a != 0
        metrics.append({
            "nmse": error / total if total > 0 else float("inf"),
            "explained_variance": 1.0 - error / centred if centred > 0 else float("nan"),
            "l0": float(active.sum(-1).float().mean()),
            "dead_fraction": float((~active.any(dim=0)).float().mean()),
        })
    return metrics


def replacement_model(model: PreTrainedModel, transcoders: Transcoders) -> ReplacementModel:
    """The tracer's replacement model of a zoo LM (put in eval mode) and its transcoders."""
    from tracer.models import LoadedModel, family_for_config

    model.eval()
    # built directly rather than with wrap_model, which would also freeze the
    # parameters of a model the caller may still train
    loaded = LoadedModel(hf_model=model, tokenizer=None, family=family_for_config(model.config),
                         name=str(getattr(model.config, "name_or_path", "") or "zoo"))
    return ReplacementModel(loaded, transcoders)


def replacement_logits(
    model: PreTrainedModel,
    transcoders: Transcoders,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    add_errors: bool = False,
    edit: FeatureEdit | None = None,
    return_activations: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits of ``model`` with every MLP output replaced by the transcoders'.

    A thin call into :meth:`tracer.replacement.ReplacementModel.replace`.

    Parameters
    ----------
    model : PreTrainedModel
    transcoders : Transcoders
        Reading each ``mlp`` module's input, writing its output.
    input_ids, attention_mask : (batch, seq)
        Position 0 is the BOS token: it carries no features and keeps its
        error (the tracer's convention), with or without ``add_errors``.
    add_errors : bool
        Add each site's reconstruction error from a clean run of the model
        (the replacement model's error nodes, held fixed), so that with no
        ``edit`` the logits equal the model's.
    edit : callable (layer, acts) -> acts, optional
        Applied to each layer's live feature activations ``(batch, seq,
        n_features)`` before decoding: zero features to ablate them, set
        them to steer. Downstream features respond to the edit.
    return_activations : bool
        Also return each layer's (edited) activations.

    Returns
    -------
    logits : (batch, seq, vocab)
    activations : list of (batch, seq, n_features), when asked for
    """
    rm = replacement_model(model, transcoders)
    errors = rm.clean_errors(input_ids, attention_mask)
    if not add_errors:
        errors[:, :, 1:] = 0
    logits, acts = rm.replace(input_ids, attention_mask, errors=errors, edit=edit)
    return (logits, acts) if return_activations else logits


def replacement_accuracy(model: PreTrainedModel, transcoders: Transcoders,
                         batch: EncodedExamples) -> float:
    """Fraction of ``batch`` answered right (every answer token the argmax)
    with all MLPs replaced by ``transcoders`` and no error terms."""
    from tracer.zoo.lm_recipe import answer_correct

    logits = replacement_logits(model, transcoders, batch.input_ids, batch.attention_mask)
    return float(answer_correct(logits, batch).float().mean())


def describe_metrics(metrics: list[dict[str, float]]) -> str:
    """One line per layer of :func:`reconstruction_metrics`, for logs."""
    return "\n".join(
        f"    layer {i}: nmse {m['nmse']:.4f}  explained variance {m['explained_variance']:.4f}  "
        f"L0 {m['l0']:.2f}  dead {m['dead_fraction']:.1%}" for i, m in enumerate(metrics)
    )
