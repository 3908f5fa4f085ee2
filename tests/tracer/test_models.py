"""Model loading and the per-family adapters."""

from __future__ import annotations

import math

import pytest
import torch

from tests.tracer.conftest import CASES, D_MODEL, VOCAB
from tracer.errors import TracerError
from tracer.models import (
    FAMILIES, family_for_config, hook_site, load_model, resolve_device, resolve_dtype,
)

ALL_FAMILIES = sorted({c.family for c in CASES.values()})


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_every_family_loads_by_hub_id_and_names_its_parts(hub, family):
    model = hub.model(family)
    assert model.family is FAMILIES[family]
    assert (model.n_layers, model.d_model, model.vocab_size) == (2, D_MODEL, VOCAB)
    assert model.name == hub.model_id(family)
    assert model.hf_model.config._attn_implementation == "eager"
    for layer in range(model.n_layers):
        assert type(model.part(layer, "pre_mlp_norm")).__name__.endswith(("RMSNorm", "LayerNorm"))
        assert "MLP" in type(model.part(layer, "mlp")).__name__
        assert "Attention" in type(model.part(layer, "attn")).__name__
    assert isinstance(model.embedding, torch.nn.Embedding)
    assert model.unembed_weight.shape == (VOCAB, D_MODEL)
    assert not any(p.requires_grad for p in model.hf_model.parameters())


def test_gemma_sandwich_norms_and_scales_are_named():
    gemma = FAMILIES["gemma2"]
    assert (gemma.pre_mlp_norm, gemma.post_mlp_norm, gemma.post_attn_norm) == (
        "pre_feedforward_layernorm", "post_feedforward_layernorm", "post_attention_layernorm")
    assert FAMILIES["llama"].post_mlp_norm is None and FAMILIES["gpt2"].pre_mlp_norm == "ln_2"


def test_gemma_scale_and_softcap_are_read_from_the_model(hub):
    gemma2 = hub.model("gemma2")
    assert gemma2.embedding_scale == pytest.approx(math.sqrt(D_MODEL))
    assert gemma2.logit_softcap == 30.0
    assert hub.model("llama").logit_softcap is None and hub.model("llama").embedding_scale == 1.0


@pytest.mark.parametrize("hook, family, expected", [
    ("hook_resid_mid", "llama", ("pre_mlp_norm", "input")),
    ("ln2.hook_normalized", "gemma2", ("pre_mlp_norm", "normalized")),
    ("mlp.hook_in", "qwen3", ("pre_mlp_norm", "output")),
    ("mlp.hook_out", "gemma3", ("mlp", "output")),
    ("hook_mlp_out", "gemma3", ("post_mlp_norm", "output")),
    ("hook_mlp_out", "gpt2", ("mlp", "output")),
    ("blocks.7.hook_mlp_out", "gemma2", ("post_mlp_norm", "output")),
])
def test_transformerlens_hook_names_map_to_hf_module_boundaries(hook, family, expected):
    assert hook_site(hook, FAMILIES[family]) == expected


def test_unknown_hooks_and_architectures_are_rejected(hub):
    from transformers import OPTConfig

    with pytest.raises(TracerError, match="hook_attn_out"):
        hook_site("hook_attn_out", FAMILIES["llama"])
    with pytest.raises(TracerError, match="'opt' is not supported"):
        family_for_config(OPTConfig())
    with pytest.raises(TracerError, match="cgram-test/no-such-model"):
        load_model("cgram-test/no-such-model", device="cpu")


def test_dtype_and_device_names_resolve():
    assert resolve_dtype("bf16") is torch.bfloat16
    assert resolve_dtype(None) is torch.float32
    assert resolve_dtype(torch.float16) is torch.float16
    with pytest.raises(TracerError, match="float64"):
        resolve_dtype("float64")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(TracerError, match="CUDA is not available"):
            resolve_device("cuda")


def test_model_loads_in_bfloat16(hub):
    model = load_model(hub.model_id("qwen3"), device="cpu", dtype="bf16")
    assert model.dtype is torch.bfloat16 and model.device == torch.device("cpu")


def test_weight_loading_draws_no_hub_bar_into_a_pipe(tmp_path):
    """Issue #15: transformers' own "Loading weights" bar is off when stderr is a
    pipe. Control in the same process: with the bars re-enabled the same load
    does draw it, so the check can fail."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    script = (
        "import sys\n"
        "from tracer.zoo.checkpoint import open_checkpoint\n"
        "from transformers.utils import logging\n"
        "ckpt = open_checkpoint('addition-gpt2')\n"
        "ckpt.load_model()\n"
        "sys.stderr.write('@@CONTROL@@')\n"
        "logging.enable_progress_bar()\n"
        "from transformers import AutoModelForCausalLM\n"
        "AutoModelForCausalLM.from_pretrained(ckpt.model_dir)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)})
    ours, control = done.stderr.split("@@CONTROL@@")
    assert "Loading weights" in control
    assert "Loading weights" not in ours and "\r" not in ours
