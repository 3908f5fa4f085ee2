"""The benchmark's tiny model and transcoders, built locally and saved to disk.

A random Llama (``LlamaForCausalLM``: the architecture circuit-tracer 0.5.0's
nnsight back end loads from a local directory) with 4 layers and d_model 128,
a word-level tokenizer, and two transcoder sets in circuit-tracer's on-disk
layout, both JumpReLU with 4,096 features per layer reading ``mlp.hook_in``
(the MLP's normalised input) and writing ``mlp.hook_out`` (the MLP output):

- ``plt/``: ``config.yaml`` + ``layer_{i}.safetensors`` (``W_enc``, ``W_dec``,
  ``b_enc``, ``b_dec``, ``activation_function.threshold``);
- ``clt/``: ``config.yaml`` + ``W_enc_{i}.safetensors`` (``W_enc_i``, ``b_enc_i``,
  ``b_dec_i``, ``threshold_i``) and ``W_dec_{i}.safetensors`` (``W_dec_i`` of
  shape (4096, n_layers − i, d_model)).

Each feature's threshold is the quantile of its pre-activation over random
calibration text at which it fires on ``ACTIVE_PER_TOKEN / 4096`` of the
tokens, so about ``ACTIVE_PER_TOKEN`` features fire per token and layer.
Decoders are random, so the error nodes carry most of each MLP output: that
does not matter for timing and equality checks.

Runs under either virtual environment (torch, transformers, tokenizers,
safetensors, pyyaml). ``python trace_fixture.py OUT_DIR`` builds it once;
``prompt_ids(n)`` gives the benchmark prompts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

N_LAYERS = 4
D_MODEL = 128
D_MLP = 512
N_HEADS = 4
N_FEATURES = 4096
ACTIVE_PER_TOKEN = 16
VOCAB_WORDS = 1000
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
BOS_ID = 2
SEED = 0
FIXTURE_VERSION = 1
CALIBRATION_TOKENS = 16 * 256


def prompt_ids(n_tokens: int, seed: int = 1) -> list[int]:
    """``<bos>`` followed by ``n_tokens`` random words' ids (same for both tools)."""
    rng = np.random.default_rng(seed)
    return [BOS_ID] + (rng.integers(0, VOCAB_WORDS, n_tokens) + len(SPECIAL_TOKENS)).tolist()


def _build_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({f"w{i}": i + len(SPECIAL_TOKENS) for i in range(VOCAB_WORDS)})
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<bos>", eos_token="<eos>")


def _build_model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=VOCAB_WORDS + len(SPECIAL_TOKENS), hidden_size=D_MODEL,
        intermediate_size=D_MLP, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
        num_key_value_heads=N_HEADS, max_position_embeddings=1024, rms_norm_eps=1e-5,
        rope_theta=10000.0, tie_word_embeddings=False, initializer_range=0.1,
        bos_token_id=BOS_ID, eos_token_id=3, pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    return model


def _mlp_inputs(model, n_tokens: int):
    """(n_layers, n_tokens, d_model) normalised MLP inputs on random text."""
    import torch

    ids = torch.tensor([prompt_ids(255, seed=100 + i) for i in range(n_tokens // 256)])
    captured = [[] for _ in range(N_LAYERS)]
    hooks = [layer.post_attention_layernorm.register_forward_hook(
        lambda _m, _i, out, k=k: captured[k].append(out[:, 1:].reshape(-1, D_MODEL)))
        for k, layer in enumerate(model.model.layers)]
    with torch.no_grad():
        model(ids)
    for hook in hooks:
        hook.remove()
    return torch.stack([torch.cat(c) for c in captured])


def build(out_dir: Path) -> Path:
    """Write model/, plt/ and clt/ under ``out_dir`` (skipped when up to date)."""
    import torch
    import yaml
    from safetensors.torch import save_file

    out_dir = Path(out_dir).resolve()
    stamp = out_dir / "fixture.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("version") == FIXTURE_VERSION:
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    model = _build_model()
    model.save_pretrained(out_dir / "model", safe_serialization=True)
    _build_tokenizer().save_pretrained(out_dir / "model")

    generator = torch.Generator().manual_seed(SEED + 1)
    w_enc = torch.randn(N_LAYERS, N_FEATURES, D_MODEL, generator=generator) / D_MODEL**0.5
    inputs = _mlp_inputs(model, CALIBRATION_TOKENS)
    n_calib = inputs.shape[1]
    rank = int(round(n_calib * (1.0 - ACTIVE_PER_TOKEN / N_FEATURES)))
    threshold = torch.stack([(inputs[layer] @ w_enc[layer].T).kthvalue(rank, dim=0).values
                             for layer in range(N_LAYERS)])  # (L, F)
    w_dec_plt = torch.randn(N_LAYERS, N_FEATURES, D_MODEL, generator=generator) * 0.02
    w_dec_clt = [torch.randn(N_FEATURES, N_LAYERS - i, D_MODEL, generator=generator) * 0.02
                 for i in range(N_LAYERS)]
    hooks = {"feature_input_hook": "mlp.hook_in", "feature_output_hook": "mlp.hook_out"}

    plt_dir = out_dir / "plt"
    plt_dir.mkdir(exist_ok=True)
    paths = []
    for layer in range(N_LAYERS):
        path = plt_dir / f"layer_{layer}.safetensors"
        save_file({"W_enc": w_enc[layer].contiguous(), "W_dec": w_dec_plt[layer].contiguous(),
                   "b_enc": torch.zeros(N_FEATURES), "b_dec": torch.zeros(D_MODEL),
                   "activation_function.threshold": threshold[layer].contiguous()}, str(path))
        paths.append(str(path))
    (plt_dir / "config.yaml").write_text(yaml.safe_dump(
        {"model_kind": "transcoder_set", "scan": "bench-plt", **hooks, "transcoders": paths}))

    clt_dir = out_dir / "clt"
    clt_dir.mkdir(exist_ok=True)
    for layer in range(N_LAYERS):
        save_file({f"W_enc_{layer}": w_enc[layer].contiguous(),
                   f"b_enc_{layer}": torch.zeros(N_FEATURES), f"b_dec_{layer}": torch.zeros(D_MODEL),
                   f"threshold_{layer}": threshold[layer].contiguous()},
                  str(clt_dir / f"W_enc_{layer}.safetensors"))
        save_file({f"W_dec_{layer}": w_dec_clt[layer].contiguous()},
                  str(clt_dir / f"W_dec_{layer}.safetensors"))
    (clt_dir / "config.yaml").write_text(yaml.safe_dump(
        {"model_kind": "cross_layer_transcoder", "scan": "bench-clt", **hooks}))

    stamp.write_text(json.dumps({"version": FIXTURE_VERSION, "n_layers": N_LAYERS,
                                 "d_model": D_MODEL, "n_features": N_FEATURES}))
    return out_dir


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
