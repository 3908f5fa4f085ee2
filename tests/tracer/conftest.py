"""Tiny models and transcoder sets, published into a local Hugging Face hub cache.

Every model (Llama, Gemma-2, Gemma-3 text, Qwen-2, Qwen-3, GPT-2: 2 layers,
d_model 32, vocab 100) and every transcoder set is written with the real
writers (``save_pretrained``, :func:`tracer.transcoders.save_transcoders`,
``np.savez`` for GemmaScope) into the hub cache layout
(``models--org--name/snapshots/<rev>/`` + ``refs/main``), and
``huggingface_hub`` is pointed at that cache, offline, for the session: the
tests load everything by hub id through the same code a user's hub id takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

ORG = "cgram-test"
REVISION = "0123456789abcdef0123456789abcdef01234567"
VOCAB = 100
D_MODEL = 32
D_TRANSCODER = 48
PROMPT = "w3 w14 w15 w92 w65 w35 w89"  # 7 words; BOS prepended -> 8 positions
PROMPT_IDS = [4 + int(w[1:]) for w in PROMPT.split()]  # the word-level tokenizer's ids


@dataclass(frozen=True)
class Case:
    """One transcoder set over one tiny model."""

    family: str
    kind: str
    activation: str
    k: int | None
    skip: bool
    input_hook: str
    output_hook: str
    npz: bool = False
    n_layers: int = 2

    @property
    def model_key(self) -> str:
        """The tiny model this set sits on: the family, or ``<family>-<n>l`` when deeper."""
        return self.family if self.n_layers == 2 else f"{self.family}-{self.n_layers}l"

    @property
    def prompt(self) -> str | list[int]:
        # transformers maps model_type qwen2 to Qwen2Tokenizer, which cannot encode
        # the tiny word-level vocabulary; that model is traced from token ids
        return PROMPT_IDS if self.family == "qwen2" else PROMPT


#: Transcoder sets: every family, PLT/CLT/skip, ReLU/JumpReLU/TopK, every hook.
CASES: dict[str, Case] = {
    "llama-plt": Case("llama", "plt", "relu", None, False, "mlp.hook_in", "mlp.hook_out"),
    "llama-clt": Case("llama", "clt", "jumprelu", None, False, "hook_resid_mid", "hook_mlp_out"),
    "gemma2-gemmascope": Case("gemma2", "plt", "jumprelu", None, False, "ln2.hook_normalized",
                              "hook_mlp_out", npz=True),
    "gemma2-clt-skip": Case("gemma2", "clt", "relu", None, True, "hook_resid_mid", "mlp.hook_out"),
    "gemma3-topk-skip": Case("gemma3", "plt", "topk", 8, True, "mlp.hook_in", "hook_mlp_out"),
    "qwen3-topk-skip": Case("qwen3", "plt", "topk", 8, True, "mlp.hook_in", "mlp.hook_out"),
    "qwen2-plt": Case("qwen2", "plt", "relu", None, False, "hook_resid_mid", "hook_mlp_out"),
    "gpt2-jumprelu-skip": Case("gpt2", "plt", "jumprelu", None, True, "ln2.hook_normalized",
                               "hook_mlp_out"),
}


#: 4-layer sets (traced only by the attribution tests): CLT decoders span up to 4
#: layers, and feature-to-feature paths cross intermediate layers.
DEEP_CASES: dict[str, Case] = {
    "llama4-clt": Case("llama", "clt", "jumprelu", None, False, "hook_resid_mid", "hook_mlp_out",
                       n_layers=4),
    "llama4-clt-topk": Case("llama", "clt", "topk", 8, False, "mlp.hook_in", "mlp.hook_out",
                            n_layers=4),
}

#: Every published set.
ALL_CASES: dict[str, Case] = {**CASES, **DEEP_CASES}


def tiny_config(family: str, n_layers: int = 2):
    """An ``n_layers``-layer, d_model-32, vocab-100 config of ``family``."""
    import transformers as tf

    common = dict(vocab_size=VOCAB, hidden_size=D_MODEL, intermediate_size=64,
                  num_hidden_layers=n_layers,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                  initializer_range=0.3, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if family == "llama":
        return tf.LlamaConfig(**common, tie_word_embeddings=False)
    if family == "qwen2":
        return tf.Qwen2Config(**common, tie_word_embeddings=False)
    if family == "qwen3":
        return tf.Qwen3Config(**common, head_dim=8, tie_word_embeddings=False)
    if family == "gemma2":
        # a 4-token sliding window on layer 0 and both soft-caps exercise Gemma-2's extras
        return tf.Gemma2Config(**common, head_dim=8, query_pre_attn_scalar=8, sliding_window=4,
                               final_logit_softcapping=30.0, attn_logit_softcapping=50.0)
    if family == "gemma3":
        return tf.Gemma3TextConfig(**common, head_dim=8, query_pre_attn_scalar=8, sliding_window=4,
                                   layer_types=["sliding_attention", "full_attention"])
    if family == "gpt2":
        return tf.GPT2Config(vocab_size=VOCAB, n_embd=D_MODEL, n_layer=n_layers, n_head=4,
                             n_positions=64,
                             initializer_range=0.3, bos_token_id=1, eos_token_id=2)
    raise ValueError(family)


def tiny_tokenizer():
    """Word-level tokenizer: <pad> <bos> <eos> <unk> w0 .. w95."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3, **{f"w{i}": 4 + i for i in range(VOCAB - 4)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>")


def repo_dir(cache: Path, repo_id: str) -> Path:
    """Create ``models--org--name`` with ``refs/main``; return its snapshot folder."""
    root = cache / ("models--" + repo_id.replace("/", "--"))
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(REVISION)
    snapshot = root / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def _random_sets(model, case: Case, seed: int):
    """Random transcoders for ``model``, encoders scaled so pre-activations have unit
    spread on the test prompt (about half the features fire)."""
    from tracer.replacement import ReplacementModel
    from tracer.transcoders import Transcoders

    L, d, n = model.n_layers, model.d_model, D_TRANSCODER

    def build(input_rms: list[float]):
        gen = torch.Generator().manual_seed(seed)
        W_dec = ([torch.randn(n, L - i, d, generator=gen) / n ** 0.5 for i in range(L)]
                 if case.kind == "clt" else [torch.randn(n, d, generator=gen) / n ** 0.5 for _ in range(L)])
        return Transcoders.from_tensors(
            case.kind,
            W_enc=[torch.randn(n, d, generator=gen) / d ** 0.5 / rms for rms in input_rms],
            W_dec=W_dec,
            b_enc=[0.2 * torch.randn(n, generator=gen) for _ in range(L)],
            b_dec=[0.1 * torch.randn(d, generator=gen) for _ in range(L)],
            threshold=([0.5 * torch.rand(n, generator=gen) for _ in range(L)]
                       if case.activation == "jumprelu" else None),
            W_skip=[0.3 * torch.randn(d, d, generator=gen) / d ** 0.5 for _ in range(L)] if case.skip else None,
            activation=case.activation, k=case.k,
            feature_input_hook=case.input_hook, feature_output_hook=case.output_hook,
        )

    probe = ReplacementModel(model, build([1.0] * L))
    inputs = probe.setup(probe.tokenize(case.prompt)).feature_inputs
    return build(inputs.float().pow(2).mean(dim=(1, 2)).sqrt().tolist())


def _write_gemmascope(cache: Path, tc, weights_repo: str, config_repo: str) -> None:
    """GemmaScope layout: params.npz per layer in one repo, config.yaml listing hf:// URIs in another."""
    import yaml

    folder = repo_dir(cache, weights_repo)
    uris = []
    for i in range(tc.n_layers):
        t = tc.layer_tensors(i)
        path = folder / f"layer_{i}" / "width_48" / "params.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, W_enc=t["W_enc"].T.numpy(), W_dec=t["W_dec"].numpy(), b_enc=t["b_enc"].numpy(),
                 b_dec=t["b_dec"].numpy(), threshold=t["threshold"].numpy())
        uris.append(f"hf://{weights_repo}/layer_{i}/width_48/params.npz")
    config = {"model_name": "tiny", "model_kind": "transcoder_set", "feature_input_hook": tc.feature_input_hook,
              "feature_output_hook": tc.feature_output_hook, "transcoders": uris}
    (repo_dir(cache, config_repo) / "config.yaml").write_text(yaml.safe_dump(config))


@dataclass
class Hub:
    """The session's local hub: repo ids and loaders."""

    cache: Path
    _models: dict
    _references: dict

    def model_id(self, family: str) -> str:
        return f"{ORG}/{family}"

    def transcoder_id(self, case: str) -> str:
        return f"{ORG}/{case}-transcoders"

    def model(self, family: str):
        """The family's tiny model, loaded by hub id (memoised)."""
        from tracer.models import load_model

        if family not in self._models:
            self._models[family] = load_model(self.model_id(family), device="cpu")
        return self._models[family]

    def reference(self, case: str):
        """The in-memory set that was published as ``case`` (to compare loads with)."""
        return self._references[case]


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory):
    """Publish every tiny model and transcoder set into a local hub cache and point
    huggingface_hub at it (offline) for the session."""
    import huggingface_hub.constants as hf_constants
    from transformers import AutoModelForCausalLM

    from tracer.transcoders import save_transcoders

    cache = tmp_path_factory.mktemp("hub")
    tokenizer = tiny_tokenizer()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
        mp.setattr(hf_constants, "HF_HUB_OFFLINE", True)
        mp.setenv("HF_HUB_OFFLINE", "1")
        # the 2-layer families first, in the order (and so with the seeds) they always had
        models = {c.model_key: c for c in sorted(CASES.values(), key=lambda c: c.family)}
        models.update({c.model_key: c for c in DEEP_CASES.values()})
        for i, key in enumerate(models):
            torch.manual_seed(100 + i)
            model = AutoModelForCausalLM.from_config(tiny_config(models[key].family,
                                                                 models[key].n_layers))
            with torch.no_grad():  # non-trivial norm weights, so weighted and unweighted sites differ
                for name, param in model.named_parameters():
                    if "norm" in name or "ln_" in name:
                        param.add_(0.3 * torch.randn_like(param))
            folder = repo_dir(cache, f"{ORG}/{key}")
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
        hub = Hub(cache=cache, _models={}, _references={})
        for seed, (name, case) in enumerate(ALL_CASES.items()):
            model = hub.model(case.model_key)
            tc = _random_sets(model, case, seed)
            tc.scan = hub.transcoder_id(name)
            hub._references[name] = tc
            if case.npz:
                _write_gemmascope(cache, tc, f"{ORG}/{name}-weights", hub.transcoder_id(name))
            else:
                save_transcoders(tc, repo_dir(cache, hub.transcoder_id(name)),
                                 model_name=hub.model_id(case.model_key))
        yield hub


@pytest.fixture(scope="session")
def traced(hub: Hub) -> Callable:
    """``traced(case)``: (ReplacementModel, state, full Attribution), memoised.

    Every active feature gets a row, so every column of the adjacency is
    complete, and the set is loaded by hub id (lazily, from its files).
    """
    from tracer.attribution import compute_attribution
    from tracer.replacement import ReplacementModel
    from tracer.transcoders import load_transcoders

    memo: dict = {}

    def get(case: str, split_paths: bool = False):
        key = (case, split_paths)
        if key not in memo:
            spec = ALL_CASES[case]
            rm = ReplacementModel(hub.model(spec.model_key),
                                  load_transcoders(hub.transcoder_id(case), device="cpu"))
            state = rm.setup(rm.tokenize(spec.prompt))
            attribution = compute_attribution(rm, state, max_feature_nodes=None, batch_size=128,
                                              split_paths=split_paths)
            memo[key] = (rm, state, attribution)
        return memo[key]

    return get


def frozen_columns(rm, state, attribution, columns: np.ndarray, chunk: int = 128,
                   block_attention: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each source column's effect measured by perturbing the frozen model forward.

    For source ``s`` (a column of the adjacency), add ``s``'s write vector (an
    error vector, a token's embedding, or a feature's scaled decoders, i.e.
    doubling its activation) with attention patterns, norm scales and MLP
    outputs frozen at their clean values, and read the change in every active
    feature's pre-activation and every target's demeaned logit.

    Returns
    -------
    feature_change : (n_features, len(columns))
    logit_change : (n_logits, len(columns))
    """
    f = state.features
    n_f, n_e, T, L = attribution.n_features, attribution.n_errors, state.n_pos, attribution.n_layers
    d = state.embeddings.shape[-1]
    rows = attribution.feature_rows
    base_inputs, base_final = rm.frozen_forward(state, block_attention=block_attention)
    feature_out, logit_out = [], []
    for block in np.array_split(columns, max(1, int(np.ceil(len(columns) / chunk)))):
        B = len(block)
        emb = torch.zeros(B, T, d)
        site = torch.zeros(B, L, T, d)
        for b, col in enumerate(block.tolist()):
            if col < n_f:
                j = int(rows[col])
                l, p = int(f.layer[j]), int(f.pos[j])
                dec = f.write_vectors(j)
                site[b, l:l + dec.shape[0], p] += dec
            elif col < n_f + n_e:
                l, p = divmod(col - n_f, T - 1)
                site[b, l, p + 1] = state.errors[l, p + 1]
            else:
                p = col - n_f - n_e
                emb[b, p] = state.embeddings[p]
        inputs, final = rm.frozen_forward(state, emb_delta=emb, site_delta=site,
                                          block_attention=block_attention)
        change = (inputs - base_inputs).float()
        picked = change[:, f.layer[rows], f.pos[rows]]  # (B, n_f, d)
        feature_out.append((picked * f.encoders[rows].float()).sum(-1).T)
        logit_out.append(((final - base_final)[:, -1].float() @ attribution.targets.vectors.T.float()).T)
    return torch.cat(feature_out, 1).numpy(), torch.cat(logit_out, 1).numpy()


@pytest.fixture(scope="session")
def measure_columns() -> Callable:
    """:func:`frozen_columns` as a fixture."""
    return frozen_columns


def dense_prune_reference(adjacency: np.ndarray, n_features: int, n_tokens: int, n_logits: int,
                          probs: np.ndarray, node_threshold: float, edge_threshold: float):
    """circuit-tracer 0.5.0's ``prune_graph`` on a dense matrix in its node order
    (features, errors, tokens, logits), written out independently in numpy."""
    A = np.abs(adjacency.astype(np.float64))
    n = A.shape[0]
    w = np.zeros(n)
    w[n - n_logits:] = probs

    def normalise(m):
        return m / np.maximum(m.sum(1, keepdims=True), 1e-10)

    def influence(norm):
        total, current = np.zeros(n), w @ norm
        while current.any():
            total += current
            current = current @ norm
        return total

    def threshold(scores, t):
        s = np.sort(scores)[::-1]
        cum = np.cumsum(s) / s.sum()
        i = min(int(np.searchsorted(cum, t)), max(int((s > 0).sum()) - 1, 0))
        return s[i]

    node_inf = influence(normalise(A))
    node_mask = node_inf >= threshold(node_inf, node_threshold)
    node_mask[n - n_logits - n_tokens:] = True
    pruned = A.copy()
    pruned[~node_mask] = 0
    pruned[:, ~node_mask] = 0
    norm_p = normalise(pruned)
    edge_scores = norm_p * (influence(norm_p) + w)[:, None]
    edge_mask = edge_scores >= threshold(edge_scores.ravel(), edge_threshold)
    inner = n - n_logits - n_tokens
    old = None
    while old is None or (old != node_mask).any():
        old = node_mask.copy()
        edge_mask[~node_mask] = False
        edge_mask[:, ~node_mask] = False
        node_mask[:inner] &= edge_mask[:, :inner].any(0)
        node_mask[:n_features] &= edge_mask[:n_features].any(1)
    return node_mask, edge_mask

