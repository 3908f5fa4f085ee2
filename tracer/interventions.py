"""Feature interventions: set transcoder features to chosen values and see what the model does.

The semantics are those of circuit-tracer's
``ReplacementModel.feature_intervention`` (release 0.5.0), run on the real
``transformers`` modules through plain PyTorch hooks:

- the model's own MLPs run, so its error terms are kept implicitly and an
  empty intervention reproduces the original model exactly;
- setting feature ``f`` of layer ``l`` at position ``p`` to ``v`` adds
  ``(v - a) * W_dec[l, f]`` to that layer's MLP output site at ``p``, where
  ``a`` is the feature's activation in this very pass (so the feature reads
  ``v`` afterwards whatever upstream edits did to it); a cross-layer
  transcoder's feature adds ``(v - a) * W_dec[l, f, j]`` into every later
  layer ``l + j``;
- downstream features respond: every layer's transcoder activations are
  recomputed from the live residual stream;
- attention patterns are frozen to the clean run by default
  (``freeze_attention``), or recomputed live;
- ``constrained_layers`` (a range) freezes the MLP outputs of those layers at
  their clean values (plus the interventions' decoder deltas, computed from
  the clean activations), so only direct effects pass through them; when the
  range covers every layer the norms' scales are frozen too, and the change
  is the attribution graph's direct effect of the edited features.

:class:`Intervener` holds a model, a transcoder set and the clean run of the
last prompt it saw (patterns, scales, MLP outputs), so many interventions on
one prompt cost one forward pass each; :func:`intervene` and
:func:`generate` are the one-call forms.

References
----------
Ameisen et al. (2025), "Circuit Tracing", and Lindsey et al. (2025), "On the
Biology of a Large Language Model", transformer-circuits.pub: interventions
on features, with attention patterns frozen or not, validate circuits.
circuit-tracer (github.com/safety-research/circuit-tracer),
``ReplacementModel.feature_intervention``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from tracer.errors import TracerError
from tracer.models import LoadedModel
from tracer.replacement import ReplacementModel, ReplacementState, _apply_pattern, hooks_installed
from tracer.transcoders import Transcoders

#: One intervention: (layer, position, feature index, value). Position 0 is the first token (BOS).
Intervention = tuple[int, int, int, float]

_NORM_ROLES = ("pre_attn_norm", "post_attn_norm", "pre_mlp_norm", "post_mlp_norm")


def parse_intervention(text: str) -> Intervention:
    """Parse ``LAYER:POS:FEATURE=VALUE`` (the ``--set`` syntax).

    Examples
    --------
    >>> parse_intervention("2:5:117=0")
    (2, 5, 117, 0.0)
    >>> parse_intervention("1:3:7=-2.5")
    (1, 3, 7, -2.5)

    Raises
    ------
    TracerError
        For anything else, naming the text.
    """
    head, sep, value = text.partition("=")
    parts = head.split(":")
    try:
        if not sep or len(parts) != 3:
            raise ValueError
        layer, pos, feature = (int(p) for p in parts)
        number = float(value)
    except ValueError:
        raise TracerError(f"--set {text!r}: expected LAYER:POS:FEATURE=VALUE, "
                          "e.g. 2:5:117=0 (integers, then a number)") from None
    if not math.isfinite(number):
        raise TracerError(f"--set {text!r}: the value must be a finite number")
    return layer, pos, feature, number


@dataclass
class InterventionResult:
    """What an intervention did to the last position's next-token prediction.

    Attributes
    ----------
    tokens : list of int
        The prompt's token ids (a special token first).
    clean_logits, logits : (vocab,) float32
        Last-position logits before and after.
    activations : list of (T, d_transcoder) float32, or None
        Every feature's activation after the intervention, per layer (the
        edited features read their set values), when asked for.
    decode : callable, optional
        Token ids -> text (the tokenizer's ``decode``), for :meth:`top_changes`.
    """

    tokens: list[int]
    clean_logits: torch.Tensor
    logits: torch.Tensor
    activations: list[torch.Tensor] | None
    decode: Any = None

    def probability(self, token: int) -> tuple[float, float]:
        """``(p_clean, p_after)`` of vocabulary id ``token``."""
        clean = torch.softmax(self.clean_logits.double(), -1)[token]
        after = torch.softmax(self.logits.double(), -1)[token]
        return float(clean), float(after)

    def top_changes(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` tokens whose logit moved most (by |change|), largest first.

        Columns ``token_id``, ``token``, ``clean_logit``, ``logit``,
        ``delta``, ``clean_prob``, ``prob``.
        """
        delta = (self.logits - self.clean_logits).double()
        order = torch.argsort(delta.abs(), descending=True, stable=True)[:k]
        clean_p = torch.softmax(self.clean_logits.double(), -1)
        p = torch.softmax(self.logits.double(), -1)
        ids = order.tolist()
        return pd.DataFrame({
            "token_id": ids,
            "token": [self.decode([i]) if self.decode else str(i) for i in ids],
            "clean_logit": self.clean_logits[order].double().numpy(),
            "logit": self.logits[order].double().numpy(),
            "delta": delta[order].numpy(),
            "clean_prob": clean_p[order].numpy(),
            "prob": p[order].numpy(),
        })

    def to_json(self, k: int = 10) -> dict[str, Any]:
        """The ``--json`` record: ``clean_logits``, ``logits`` (full vectors),
        ``top_changes`` (``k`` rows), the top token before and after."""
        return {
            "tokens": self.tokens,
            "clean_logits": self.clean_logits.double().tolist(),
            "logits": self.logits.double().tolist(),
            "top_changes": self.top_changes(k).to_dict("records"),
            "clean_top": int(self.clean_logits.argmax()),
            "top": int(self.logits.argmax()),
        }


class _SteerPass:
    """What the hooks do during one intervention pass."""

    def __init__(self, owner: Intervener, state: ReplacementState, by_layer: dict[int, list],
                 freeze_attention: bool, constrained: range | None, clean_acts: list[torch.Tensor] | None):
        self.owner = owner
        self.state = state
        self.by_layer = by_layer
        self.freeze_attention = freeze_attention
        self.constrained = constrained
        L = owner.model.n_layers
        self.freeze_norms = constrained is not None and set(range(L)) <= set(constrained)
        self.clean_acts = clean_acts
        self.site_delta = torch.zeros(L, state.n_pos, owner.model.d_model, dtype=owner.transcoders.dtype,
                                      device=owner.model.device)
        self.acts: list[torch.Tensor | None] = [None] * L
        self.pre: list[torch.Tensor | None] = [None] * L

    def attention(self, layer: int, module: nn.Module, eager: Any, query: torch.Tensor, key: torch.Tensor,
                  value: torch.Tensor, mask: torch.Tensor | None, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if self.freeze_attention:
            pattern = self.state.patterns[layer]
            return _apply_pattern(pattern, value, getattr(module, "num_key_value_groups", 1)), pattern
        return eager(module, query, key, value, mask, **kwargs)

    def applies(self, layer: int) -> bool:
        return self.constrained is None or layer in self.constrained

    def features(self, layer: int, x: torch.Tensor) -> None:
        """Live activations of ``layer`` from its transcoder input ``x (1, T, d)``, edited,
        and the edits' decoder deltas into this and (CLT) later sites."""
        tc = self.owner.transcoders
        pre = tc.pre_activations(layer, x[0])
        self.pre[layer] = pre
        acts = tc.activate(layer, pre)
        base = self.clean_acts[layer] if self.constrained is not None else acts
        edits = self.by_layer.get(layer, [])
        if edits:
            pos = torch.tensor([e[0] for e in edits], device=acts.device)
            feat = torch.tensor([e[1] for e in edits], device=acts.device)
            value = torch.tensor([e[2] for e in edits], device=acts.device, dtype=acts.dtype)
            diff = value - base[pos, feat]
            dec = tc.decoder_rows(layer, feat)
            dec = dec[:, None] if tc.kind == "plt" else dec  # (n, n_out, d)
            for j in range(dec.shape[1]):
                self.site_delta[layer + j].index_add_(0, pos, diff[:, None] * dec[:, j])
            acts = acts.clone()
            acts[pos, feat] = value
        self.acts[layer] = acts


class Intervener:
    """A model and transcoder set ready for feature interventions on any prompt.

    Parameters
    ----------
    model : LoadedModel, or a hub id / directory (loaded with :func:`tracer.models.load_model`)
    transcoders : Transcoders, or a preset / hub id / directory
    device, dtype : optional, for loading

    Examples
    --------
    See ``tests/tracer/test_interventions.py``: on tiny Llama and GPT-2
    models with PLT, CLT, TopK and skip transcoders, an intervention equals a
    hand-written forward pass with the decoder delta added at the MLP output.
    """

    def __init__(self, model: str | Path | LoadedModel, transcoders: str | Path | Transcoders,
                 device: str | torch.device | None = None, dtype: str | torch.dtype | None = None):
        from tracer.trace import _resolve_model
        from tracer.transcoders import load_transcoders

        loaded = _resolve_model(model, device, dtype)
        tc = transcoders if isinstance(transcoders, Transcoders) else \
            load_transcoders(transcoders, device=loaded.device, dtype=loaded.dtype)
        self.replacement = ReplacementModel(loaded, tc)
        self._clean: tuple[tuple[int, ...], ReplacementState] | None = None

    @property
    def model(self) -> LoadedModel:
        return self.replacement.model

    @property
    def transcoders(self) -> Transcoders:
        return self.replacement.transcoders

    def tokenize(self, prompt: str | Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Token ids with a special token first (:meth:`ReplacementModel.tokenize`)."""
        return self.replacement.tokenize(prompt)

    def clean(self, tokens: torch.Tensor) -> ReplacementState:
        """The clean run of ``tokens`` (memoised for the last prompt)."""
        key = tuple(tokens.tolist())
        if self._clean is None or self._clean[0] != key:
            self._clean = (key, self.replacement.setup(tokens))
        return self._clean[1]

    def check(self, interventions: Sequence[Intervention], n_pos: int) -> list[Intervention]:
        """Interventions as ints and floats, each checked against the model and prompt.

        Raises
        ------
        TracerError
            Naming the intervention whose layer, position or feature is out of range.
        """
        L, F = self.model.n_layers, self.transcoders.d_transcoder
        out = []
        for item in interventions:
            if len(item) != 4:
                raise TracerError(f"intervention {item!r}: expected (layer, pos, feature, value)")
            layer, pos, feature, value = int(item[0]), int(item[1]), int(item[2]), float(item[3])
            text = f"{layer}:{pos}:{feature}={value:g}"
            if not 0 <= layer < L:
                raise TracerError(f"intervention {text}: layer {layer} is out of range 0..{L - 1}")
            if not 0 <= pos < n_pos:
                raise TracerError(f"intervention {text}: position {pos} is out of range 0..{n_pos - 1} "
                                  f"(the prompt has {n_pos} tokens, BOS at 0)")
            if not 0 <= feature < F:
                raise TracerError(f"intervention {text}: feature {feature} is out of range 0..{F - 1}")
            if not math.isfinite(value):
                raise TracerError(f"intervention {text}: the value must be finite")
            out.append((layer, pos, feature, value))
        return out

    def run(self, tokens: torch.Tensor, interventions: Sequence[Intervention] = (),
            freeze_attention: bool = True, constrained_layers: range | None = None,
            return_activations: bool | str = False) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """One intervention pass over ``tokens``.

        ``return_activations``: True (or ``"post"``) for every feature's
        activation after the intervention, ``"pre"`` for the pre-activations
        (``W_enc x + b_enc`` of the live input, before any edit).

        Returns
        -------
        logits : (T, vocab) float32
        activations : list of (T, d_transcoder), one per layer, or None
        """
        if return_activations not in (False, True, "post", "pre"):
            raise TracerError(f"return_activations must be a bool, 'post' or 'pre', not {return_activations!r}")
        state = self.clean(tokens)
        edits = self.check(interventions, state.n_pos)
        L = self.model.n_layers
        if constrained_layers is not None:
            constrained_layers = range(constrained_layers.start, constrained_layers.stop,
                                       constrained_layers.step)
            outside = [e for e in edits if e[0] not in constrained_layers]
            if outside:
                raise TracerError(f"intervention at layer {outside[0][0]} is outside constrained_layers "
                                  f"{constrained_layers.start}..{constrained_layers.stop - 1}")
        by_layer: dict[int, list] = {}
        for layer, pos, feature, value in edits:
            by_layer.setdefault(layer, []).append((pos, feature, value))
        clean_acts = None
        if constrained_layers is not None:
            tc = self.transcoders
            clean_acts = [tc.activate(l, tc.pre_activations(l, state.feature_inputs[l])) for l in range(L)]
        run = _SteerPass(self, state, by_layer, freeze_attention, constrained_layers, clean_acts)
        with torch.no_grad(), self._hooked(run):
            hidden = self.model.base(input_ids=tokens.to(self.model.device)[None], use_cache=False)
        final = hidden.last_hidden_state if hasattr(hidden, "last_hidden_state") else hidden[0]
        logits = self.replacement._logits(final[0])
        chosen = run.pre if return_activations == "pre" else run.acts
        acts = [a.float().cpu() for a in chosen] if return_activations else None
        return logits.float().cpu(), acts

    def intervene(self, prompt: str | Sequence[int] | torch.Tensor, interventions: Sequence[Intervention],
                  freeze_attention: bool = True, constrained_layers: range | None = None,
                  return_activations: bool = False) -> InterventionResult:
        """See :func:`intervene`."""
        tokens = self.tokenize(prompt)
        logits, acts = self.run(tokens, interventions, freeze_attention, constrained_layers,
                                return_activations)
        clean = self.clean(tokens).logits.float().cpu()
        return InterventionResult(tokens=tokens.tolist(), clean_logits=clean, logits=logits[-1],
                                  activations=acts, decode=self.model.tokenizer.decode)

    def generate(self, prompt: str | Sequence[int] | torch.Tensor, interventions: Sequence[Intervention],
                 n_tokens: int, freeze_attention: bool = True) -> list[int]:
        """See :func:`generate`."""
        if n_tokens < 0:
            raise TracerError(f"n_tokens must be non-negative, got {n_tokens}")
        tokens = self.tokenize(prompt)
        new: list[int] = []
        for _ in range(n_tokens):
            logits, _ = self.run(tokens, interventions, freeze_attention)
            token = int(logits[-1].argmax())
            new.append(token)
            tokens = torch.cat([tokens, torch.tensor([token], device=tokens.device)])
        return new

    # ----------------------------------------------------------------- hooks
    def _norm_hook(self, run: _SteerPass, key: Any, module: nn.Module, args: tuple, output: torch.Tensor) -> Any:
        rm = self.replacement
        x = args[0]
        frozen = run.freeze_norms and key in run.state.scales
        result = None
        if frozen:
            normed, result = rm._norm_linear(module, x, run.state.scales[key])
        if key != "final" and key[1] == "pre_mlp_norm":
            if rm.input_tensor == "input":
                feature_input = x
            elif rm.input_tensor == "normalized":
                feature_input = normed if frozen else rm._norm_linear(module, x, rm._scale(module, x))[0]
            else:
                feature_input = result if frozen else output
            run.features(key[0], feature_input)
        return result

    def _site_hook(self, run: _SteerPass, layer: int, module: nn.Module, args: tuple, output: torch.Tensor) -> Any:
        if not run.applies(layer):
            return None
        base = run.state.sites[layer][None] if run.constrained is not None else output
        return (base + run.site_delta[layer].to(output.dtype)).to(output.dtype)

    @contextlib.contextmanager
    def _hooked(self, run: _SteerPass) -> Iterator[None]:
        lm, rm = self.model, self.replacement
        handles = []
        for layer in range(lm.n_layers):
            for role in _NORM_ROLES:
                module = lm.part(layer, role)
                if module is not None and role != rm.site_role:
                    handles.append(module.register_forward_hook(partial(self._norm_hook, run, (layer, role))))
            handles.append(lm.part(layer, rm.site_role).register_forward_hook(partial(self._site_hook, run, layer)))
        handles.append(lm.final_norm.register_forward_hook(partial(self._norm_hook, run, "final")))
        with hooks_installed(lm, run, handles):
            yield


def intervene(model: str | Path | LoadedModel | Intervener, transcoders: str | Path | Transcoders | None,
              prompt: str | Sequence[int], interventions: Sequence[Intervention],
              freeze_attention: bool = True, constrained_layers: range | None = None,
              return_activations: bool = False) -> InterventionResult:
    """Set transcoder features to values and return the next-token logits before and after.

    Parameters
    ----------
    model : LoadedModel, hub id, directory, or an :class:`Intervener` (then
        ``transcoders`` is ignored and its clean runs are reused)
    transcoders : Transcoders, preset, hub id or directory
    prompt : str or token ids
        A special token is prepended as the tracer does; position 0 is it.
    interventions : sequence of (layer, pos, feature, value)
        Feature ``feature`` of transcoder layer ``layer`` at token position
        ``pos`` is set to ``value`` (0 ablates it; an inactive feature may be
        set too).
    freeze_attention : bool
        Hold attention patterns at the clean run's (default), or let them respond.
    constrained_layers : range, optional
        Freeze the MLP outputs of these layers (direct effects only); every
        intervention must lie in it.
    return_activations : bool
        Also return every feature's activation after the intervention.

    Returns
    -------
    InterventionResult
        ``clean_logits`` and ``logits`` of the last position, ``top_changes()``.

    Raises
    ------
    TracerError
        An intervention's layer, position or feature is out of range.

    Examples
    --------
    >>> import torch
    >>> from tracer.transcoders import Transcoders
    >>> from tracer.models import wrap_model
    >>> from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    >>> from tokenizers import Tokenizer, models
    >>> _ = torch.manual_seed(0)
    >>> hf = GPT2LMHeadModel(GPT2Config(vocab_size=8, n_embd=4, n_layer=1, n_head=1, n_positions=8,
    ...                                 bos_token_id=1, eos_token_id=1))
    >>> tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(
    ...     {"<pad>": 0, "<bos>": 1, "a": 2, "b": 3}, unk_token="<pad>")), bos_token="<bos>")
    >>> tc = Transcoders.from_tensors("plt", W_enc=[torch.eye(4)], W_dec=[torch.eye(4)],
    ...     b_enc=[torch.zeros(4)], b_dec=[torch.zeros(4)], feature_input_hook="mlp.hook_in",
    ...     feature_output_hook="hook_mlp_out")
    >>> lm = wrap_model(hf, tok)
    >>> clean = intervene(lm, tc, [2, 3], [])   # BOS prepended: positions 0, 1, 2
    >>> bool(torch.allclose(clean.logits, hf(torch.tensor([[1, 2, 3]])).logits[0, -1], atol=1e-5))
    True
    >>> steered = intervene(lm, tc, [2, 3], [(0, 2, 3, 5.0)])   # feature 3 at the last token
    >>> bool((steered.logits != clean.logits).any())
    True

    References
    ----------
    circuit-tracer, ``ReplacementModel.feature_intervention``; Ameisen et al. (2025).
    """
    runner = model if isinstance(model, Intervener) else Intervener(model, transcoders)
    return runner.intervene(prompt, interventions, freeze_attention, constrained_layers, return_activations)


def generate(model: str | Path | LoadedModel | Intervener, transcoders: str | Path | Transcoders | None,
             prompt: str | Sequence[int], interventions: Sequence[Intervention], n_tokens: int = 5,
             freeze_attention: bool = True) -> list[int]:
    """Greedy continuation of ``prompt`` with the interventions held.

    At every step the interventions stay set at their prompt positions; with
    ``freeze_attention`` the patterns are the clean model's on the current
    sequence (prompt plus the tokens generated so far).

    Returns
    -------
    list of int
        The ``n_tokens`` generated token ids.
    """
    runner = model if isinstance(model, Intervener) else Intervener(model, transcoders)
    return runner.generate(prompt, interventions, n_tokens, freeze_attention)
