"""Load a Hugging Face causal LM and name its parts for the tracer.

One small :class:`FamilyAdapter` per architecture family says where the
decoder layers, norms, attention, MLP, embedding and unembedding live in the
real ``transformers`` module tree, so the rest of the tracer never looks up a
module by a family-specific name. Supported families: Llama (Llama-3.x),
Gemma-2, Gemma-3 (text), Qwen-2, Qwen-3 and GPT-2.

Where a transcoder reads and writes
-----------------------------------
Published transcoder sets name their input and output sites with
TransformerLens hook names (circuit-tracer's ``config.yaml``:
``feature_input_hook`` / ``feature_output_hook``). :data:`HOOK_SITES` maps each
name onto an HF module boundary, as circuit-tracer's nnsight backend does
(``circuit_tracer/utils/tl_nnsight_mapping.py``):

``hook_resid_mid`` (alias ``hook_mlp_in``)
    the residual stream after attention, before the pre-MLP norm: the *input*
    of ``post_attention_layernorm`` (Llama, Qwen), ``pre_feedforward_layernorm``
    (Gemma) or ``ln_2`` (GPT-2).
``ln2.hook_normalized``
    the pre-MLP norm's normalised vector *before* its elementwise weight
    (TransformerLens computes ``hook_normalized`` before multiplying by ``w``):
    ``x / rms(x)`` for RMSNorm, ``(x - mean) / std`` for LayerNorm. GemmaScope
    transcoders read here.
``mlp.hook_in``
    the MLP's input: the pre-MLP norm's output, weight included.
``mlp.hook_out``
    the MLP module's output. For Gemma-2/3 this is *before*
    ``post_feedforward_layernorm``.
``hook_mlp_out``
    what the MLP block adds to the residual stream: for Gemma-2/3 the output
    of ``post_feedforward_layernorm``, for the other families the MLP output.

Examples
--------
>>> from tracer.models import FAMILIES, hook_site
>>> FAMILIES["gemma2"].pre_mlp_norm, FAMILIES["llama"].pre_mlp_norm
('pre_feedforward_layernorm', 'post_attention_layernorm')
>>> hook_site("hook_mlp_out", FAMILIES["gemma2"]), hook_site("hook_mlp_out", FAMILIES["llama"])
(('post_mlp_norm', 'output'), ('mlp', 'output'))

References
----------
Ameisen et al. (2025), "Circuit Tracing: Revealing Computational Graphs in
Language Models", transformer-circuits.pub (section "Building a replacement
model").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tracer.errors import TracerError

#: Norm kinds: RMSNorm with weight ``w`` (Llama, Qwen), RMSNorm with ``1 + w``
#: (Gemma), LayerNorm with weight and bias (GPT-2).
NORM_KINDS: tuple[str, ...] = ("rms", "rms_one_plus", "layernorm")


@dataclass(frozen=True)
class FamilyAdapter:
    """Where one architecture family keeps its parts.

    Attributes
    ----------
    name : str
        Family name (key of :data:`FAMILIES`).
    model_types : tuple of str
        ``config.model_type`` values of this family.
    base, layers, embed, final_norm, unembed : str
        Dotted paths from the ``*ForCausalLM`` module (``base`` is the
        decoder stack without the unembedding).
    attn, pre_attn_norm, pre_mlp_norm, mlp : str
        Dotted paths inside one decoder layer.
    post_attn_norm, post_mlp_norm : str or None
        Gemma's sandwich norms, applied to the attention / MLP output before
        it is added to the residual stream.
    norm_kind : str
        One of :data:`NORM_KINDS`.
    """

    name: str
    model_types: tuple[str, ...]
    base: str
    layers: str
    embed: str
    final_norm: str
    unembed: str
    attn: str
    pre_attn_norm: str
    pre_mlp_norm: str
    mlp: str
    post_attn_norm: str | None
    post_mlp_norm: str | None
    norm_kind: str


def _decoder_family(name: str, model_types: tuple[str, ...], norm_kind: str = "rms") -> FamilyAdapter:
    gemma = norm_kind == "rms_one_plus"
    return FamilyAdapter(
        name=name,
        model_types=model_types,
        base="model",
        layers="model.layers",
        embed="model.embed_tokens",
        final_norm="model.norm",
        unembed="lm_head",
        attn="self_attn",
        pre_attn_norm="input_layernorm",
        pre_mlp_norm="pre_feedforward_layernorm" if gemma else "post_attention_layernorm",
        mlp="mlp",
        post_attn_norm="post_attention_layernorm" if gemma else None,
        post_mlp_norm="post_feedforward_layernorm" if gemma else None,
        norm_kind=norm_kind,
    )


#: The supported families.
FAMILIES: dict[str, FamilyAdapter] = {
    "llama": _decoder_family("llama", ("llama",)),
    "qwen2": _decoder_family("qwen2", ("qwen2",)),
    "qwen3": _decoder_family("qwen3", ("qwen3",)),
    "gemma2": _decoder_family("gemma2", ("gemma2",), "rms_one_plus"),
    "gemma3": _decoder_family("gemma3", ("gemma3_text",), "rms_one_plus"),
    "gpt2": FamilyAdapter(
        name="gpt2",
        model_types=("gpt2",),
        base="transformer",
        layers="transformer.h",
        embed="transformer.wte",
        final_norm="transformer.ln_f",
        unembed="lm_head",
        attn="attn",
        pre_attn_norm="ln_1",
        pre_mlp_norm="ln_2",
        mlp="mlp",
        post_attn_norm=None,
        post_mlp_norm=None,
        norm_kind="layernorm",
    ),
}

#: TransformerLens hook name -> (role, tensor). Roles: ``pre_mlp_norm``,
#: ``mlp``, ``post_mlp_norm``; tensors: ``input``, ``normalized``, ``output``.
#: ``hook_mlp_out`` is resolved per family by :func:`hook_site`.
HOOK_SITES: dict[str, tuple[str, str]] = {
    "hook_resid_mid": ("pre_mlp_norm", "input"),
    "hook_mlp_in": ("pre_mlp_norm", "input"),
    "ln2.hook_normalized": ("pre_mlp_norm", "normalized"),
    "mlp.hook_in": ("pre_mlp_norm", "output"),
    "mlp.hook_out": ("mlp", "output"),
    "hook_mlp_out": ("mlp", "output"),
}

#: Hook names a transcoder may read from / write to.
INPUT_HOOKS: tuple[str, ...] = ("hook_resid_mid", "hook_mlp_in", "ln2.hook_normalized", "mlp.hook_in")
OUTPUT_HOOKS: tuple[str, ...] = ("mlp.hook_out", "hook_mlp_out")


def hook_site(hook_name: str, family: FamilyAdapter) -> tuple[str, str]:
    """The (role, tensor) a TransformerLens hook name denotes in ``family``.

    Parameters
    ----------
    hook_name : str
        A name from :data:`HOOK_SITES`, optionally prefixed ``blocks.{i}.``.
    family : FamilyAdapter

    Returns
    -------
    (str, str)
        Role (``pre_mlp_norm``, ``mlp`` or ``post_mlp_norm``) and tensor
        (``input``, ``normalized`` or ``output``).

    Raises
    ------
    TracerError
        For a hook name the tracer does not know.

    Examples
    --------
    >>> hook_site("blocks.3.ln2.hook_normalized", FAMILIES["gpt2"])
    ('pre_mlp_norm', 'normalized')
    """
    name = hook_name
    if name.startswith("blocks."):
        name = name.split(".", 2)[2]
    if name not in HOOK_SITES:
        raise TracerError(
            f"transcoder hook {hook_name!r} is not supported; known hooks: {sorted(HOOK_SITES)}"
        )
    if name == "hook_mlp_out" and family.post_mlp_norm is not None:
        return ("post_mlp_norm", "output")
    return HOOK_SITES[name]


def family_for_config(config: Any) -> FamilyAdapter:
    """The adapter whose ``model_types`` contains ``config.model_type``.

    Raises
    ------
    TracerError
        When the architecture is not one of the supported families.
    """
    model_type = getattr(config, "model_type", None)
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    supported = sorted(t for f in FAMILIES.values() for t in f.model_types)
    raise TracerError(f"model_type {model_type!r} is not supported; supported: {supported}")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``; None means CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise TracerError(f"device {device!r} is not a torch device") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise TracerError(f"device {device!r} was requested but CUDA is not available")
    return resolved


_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "fp32": torch.float32, "f32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """``dtype`` as a ``torch.dtype``; None means float32 (the exact setting)."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise TracerError(f"dtype {dtype} is not supported; use float32, bfloat16 or float16")
        return dtype
    key = str(dtype).lower().removeprefix("torch.")
    if key not in _DTYPES:
        raise TracerError(f"dtype {dtype!r} is not one of {sorted(_DTYPES)}")
    return _DTYPES[key]


def _get(root: nn.Module, dotted: str) -> Any:
    obj: Any = root
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass
class LoadedModel:
    """A Hugging Face causal LM, its tokenizer and the adapter naming its parts.

    Attributes
    ----------
    hf_model : transformers.PreTrainedModel
    tokenizer : transformers tokenizer
    family : FamilyAdapter
    name : str
        Hub id or directory it was loaded from (``GraphMeta.model``).
    """

    hf_model: nn.Module
    tokenizer: Any
    family: FamilyAdapter
    name: str

    @property
    def config(self) -> Any:
        return self.hf_model.config

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def d_model(self) -> int:
        return int(self.unembed_weight.shape[1])

    @property
    def vocab_size(self) -> int:
        return int(self.unembed_weight.shape[0])

    @property
    def device(self) -> torch.device:
        return self.unembed_weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unembed_weight.dtype

    @property
    def base(self) -> nn.Module:
        """The decoder stack (embedding, layers, final norm) without the unembedding."""
        return _get(self.hf_model, self.family.base)

    @property
    def layers(self) -> nn.ModuleList:
        return _get(self.hf_model, self.family.layers)

    def part(self, layer: int, role: str) -> nn.Module | None:
        """Module ``role`` (an attribute name of :class:`FamilyAdapter`) of ``layer``."""
        path = getattr(self.family, role)
        return None if path is None else _get(self.layers[layer], path)

    @property
    def embedding(self) -> nn.Module:
        return _get(self.hf_model, self.family.embed)

    @property
    def final_norm(self) -> nn.Module:
        return _get(self.hf_model, self.family.final_norm)

    @property
    def unembed(self) -> nn.Module:
        """The unembedding module (``lm_head``)."""
        return _get(self.hf_model, self.family.unembed)

    @property
    def unembed_weight(self) -> torch.Tensor:
        """``(vocab, d_model)`` unembedding matrix (``lm_head.weight``)."""
        return _get(self.hf_model, self.family.unembed).weight

    @property
    def unembed_bias(self) -> torch.Tensor | None:
        return getattr(_get(self.hf_model, self.family.unembed), "bias", None)

    @property
    def logit_softcap(self) -> float | None:
        """Gemma's ``final_logit_softcapping`` (``cap * tanh(logit / cap)``), or None."""
        cap = getattr(self.config, "final_logit_softcapping", None)
        return float(cap) if cap else None

    @property
    def embedding_scale(self) -> float:
        """Factor the embedding module applies to its rows (Gemma: ``sqrt(d_model)``)."""
        scale = getattr(self.embedding, "scalar_embed_scale", None)
        return float(scale) if scale is not None else 1.0

    def norm_eps(self, norm: nn.Module) -> float:
        for attr in ("eps", "variance_epsilon"):
            if hasattr(norm, attr):
                return float(getattr(norm, attr))
        raise TracerError(f"{self.name}: norm module {type(norm).__name__} has no eps")


def wrap_model(hf_model: nn.Module, tokenizer: Any, name: str | None = None) -> LoadedModel:
    """Wrap an already-loaded HF causal LM and its tokenizer.

    Parameters
    ----------
    hf_model : transformers.PreTrainedModel
        A ``*ForCausalLM`` of a supported family; put into eval mode.
    tokenizer : transformers tokenizer
    name : str, optional
        Defaults to ``config.name_or_path``.

    Raises
    ------
    TracerError
        For an unsupported architecture.
    """
    family = family_for_config(hf_model.config)
    hf_model.eval()
    for param in hf_model.parameters():
        param.requires_grad_(False)
    label = name or getattr(hf_model.config, "name_or_path", "") or type(hf_model).__name__
    return LoadedModel(hf_model=hf_model, tokenizer=tokenizer, family=family, name=str(label))


def load_model(
    name_or_path: str | Path,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    revision: str | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer by hub id or local directory.

    The real ``transformers`` classes (``AutoModelForCausalLM``,
    ``AutoTokenizer``) do the loading, so hub ids resolve through the
    ``huggingface_hub`` cache (``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``) exactly as
    they do for any other user. Attention runs in the ``eager`` implementation
    (what circuit-tracer uses), which the tracer's frozen-attention function
    reproduces.

    Parameters
    ----------
    name_or_path : str or Path
        Hub id (``google/gemma-2-2b``) or a directory written by
        ``save_pretrained``.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    dtype : str or torch.dtype, optional
        float32 (default), bfloat16 or float16.
    revision : str, optional
        Hub revision.

    Returns
    -------
    LoadedModel

    Raises
    ------
    TracerError
        When the model cannot be found or its architecture is unsupported.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    target_device = resolve_device(device)
    target_dtype = resolve_dtype(dtype)
    ref = str(name_or_path)
    try:
        config = AutoConfig.from_pretrained(ref, revision=revision)
    except (OSError, ValueError) as exc:
        raise TracerError(f"cannot load a model config from {ref!r}: {exc}") from exc
    family_for_config(config)  # fail before reading weights
    quiet_hub_bars()
    try:
        hf_model = AutoModelForCausalLM.from_pretrained(
            ref, revision=revision, dtype=target_dtype, attn_implementation="eager"
        )
        tokenizer = AutoTokenizer.from_pretrained(ref, revision=revision)
    except (OSError, ValueError) as exc:
        raise TracerError(f"cannot load model or tokenizer {ref!r}: {exc}") from exc
    hf_model.to(target_device)
    return wrap_model(hf_model, tokenizer, name=ref)


def quiet_hub_bars() -> None:
    """Turn off transformers' and the hub's own progress bars (weight loading,
    downloads) when stderr is not a terminal, the rule of
    :func:`corpus.progress.quiet`: a log or a CI transcript gets no
    carriage-return redraws. On a terminal they are left as they are.

    Examples
    --------
    >>> quiet_hub_bars()  # doctest stderr is not a terminal
    >>> from transformers.utils import logging
    >>> logging.is_progress_bar_enabled()
    False
    """
    from corpus.progress import quiet

    if quiet(True):
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def describe(model: LoadedModel) -> str:
    """One line naming the model, its family and size (for progress output).

    Examples
    --------
    >>> class _M:  # doctest helper: the fields describe() reads
    ...     name, family, n_layers, d_model, vocab_size = "m", FAMILIES["gpt2"], 2, 32, 100
    >>> describe(_M())
    'm (gpt2, 2 layers, d_model 32, vocab 100)'
    """
    return (
        f"{model.name} ({model.family.name}, {model.n_layers} layers, "
        f"d_model {model.d_model}, vocab {model.vocab_size})"
    )

