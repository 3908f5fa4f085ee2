"""Transcoders: per-layer (PLT), skip and cross-layer (CLT), and their file formats.

A transcoder set replaces each MLP of a model with sparse features. Feature
``f`` of layer ``l`` reads the layer's input site ``x`` (see
:mod:`tracer.models` for the sites) through its encoder row and writes its
decoder row(s) to the output site:

- per-layer (PLT): ``a = act(W_enc x + b_enc)``, ``y_l = a W_dec + b_dec``;
- skip transcoder: a PLT plus a linear path, ``y_l += x W_skip^T``
  (Paulo et al. 2025);
- cross-layer (CLT): a layer-``l`` feature writes ``a W_dec[f, k - l]`` into
  every layer ``k >= l``; ``y_k = sum_{l <= k} a_l W_dec_l[:, k - l] + b_dec_k``.

Activations: ReLU, JumpReLU ``x * (x > threshold)`` (per feature) and TopK
(the ``k`` largest pre-activations per position kept, the rest zeroed), as in
circuit-tracer's ``transcoder/activation_functions.py``.

File layout (circuit-tracer's, read and written here)
------------------------------------------------------
``config.yaml`` with ``model_kind`` (``transcoder_set`` or
``cross_layer_transcoder``), ``feature_input_hook``, ``feature_output_hook``,
optional ``activation`` (``relu`` | ``jumprelu`` | ``topk``) and ``k``,
optional ``scan``, and either a ``transcoders:`` list (one file per layer,
``hf://org/repo/path`` URIs or paths) or the files beside it:

- PLT ``layer_{i}.safetensors``: ``W_enc (d_tc, d_model)``, ``W_dec (d_tc,
  d_model)``, ``b_enc (d_tc,)``, ``b_dec (d_model,)``, optional
  ``activation_function.threshold (d_tc,)`` and ``W_skip (d_model, d_model)``
  (applied as ``x @ W_skip.T``);
- CLT ``W_enc_{i}.safetensors``: ``W_enc_{i} (d_tc, d_model)``, ``b_enc_{i}``,
  ``b_dec_{i}``, optional ``threshold_{i}`` (and ``W_skip_{i}``, applied as
  ``x @ W_skip_{i}`` like circuit-tracer's CLT); ``W_dec_{i}.safetensors``:
  ``W_dec_{i} (d_tc, n_layers - i, d_model)``;
- GemmaScope ``params.npz``: ``W_enc (d_model, d_sae)``, ``W_dec (d_sae,
  d_model)``, ``b_enc``, ``b_dec``, ``threshold`` (JumpReLU).

Big matrices stay in their (memory-mapped) files until a layer needs them;
only that layer's block moves to the compute device, so a 2.5M-feature CLT
need not fit in GPU memory at once.

Examples
--------
>>> import torch
>>> tc = Transcoders.from_tensors(
...     "plt", W_enc=[torch.eye(2)], W_dec=[2 * torch.eye(2)], b_enc=[torch.zeros(2)],
...     b_dec=[torch.zeros(2)], feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out")
>>> acts = tc.activate(0, tc.pre_activations(0, torch.tensor([[1.0, -3.0]])))
>>> acts.tolist(), tc.decode_dense(0, acts).tolist()
([[1.0, 0.0]], [[2.0, 0.0]])

References
----------
Ameisen et al. (2025), "Circuit Tracing", transformer-circuits.pub (the CLT).
Dunefsky, Chlenski & Nanda (2024), "Transcoders find interpretable LLM
feature circuits", NeurIPS. Paulo, Shabalin & Belrose (2025), "Transcoders
beat sparse autoencoders for interpretability", arXiv:2501.18823 (skip
transcoders). Lieberum et al. (2024), "Gemma Scope", arXiv:2408.05147.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import torch

from tracer.errors import TracerError
from tracer.labels import FeatureLabels, read_labels
from tracer.models import INPUT_HOOKS, OUTPUT_HOOKS, resolve_device, resolve_dtype

#: Activation functions.
ACTIVATIONS: tuple[str, ...] = ("relu", "jumprelu", "topk")

#: Short names for published transcoder sets (hub repo ids). ``gemma`` and
#: ``llama`` are circuit-tracer 0.5.0's own shortcuts (``hf_utils.py``).
PRESETS: dict[str, str] = {
    "gemma": "mwhanna/gemma-scope-transcoders",
    "gemma-2-2b-clt": "mntss/clt-gemma-2-2b-426k",
    "gemma-2-2b-clt-426k": "mntss/clt-gemma-2-2b-426k",
    "gemma-2-2b-clt-2.5m": "mntss/clt-gemma-2-2b-2.5M",
    "llama": "mntss/transcoder-Llama-3.2-1B",
    "llama-clt": "mntss/clt-llama-3.2-1b-524k",
    "qwen3-0.6b": "mwhanna/qwen3-0.6b-transcoders-lowl0",
    "qwen3-1.7b": "mwhanna/qwen3-1.7b-transcoders-lowl0",
    "qwen3-4b": "mwhanna/qwen3-4b-transcoders",
    "qwen3-8b": "mwhanna/qwen3-8b-transcoders",
    "qwen3-14b": "mwhanna/qwen3-14b-transcoders-lowl0",
}

_MODEL_KINDS = {"transcoder_set": "plt", "cross_layer_transcoder": "clt"}
_ACTIVATION_ALIASES = {"relu": "relu", "jumprelu": "jumprelu", "jump_relu": "jumprelu", "topk": "topk"}


class _WeightFile:
    """Named tensors of one file, read when asked.

    Safetensors files are opened per read, so only the requested tensor (or
    the requested rows of it) is read from the memory-mapped file; an npz
    member is read from its zip archive per request; in-memory dicts are held
    as CPU tensors.
    """

    def __init__(self, path: Path | None = None, tensors: dict[str, torch.Tensor] | None = None):
        self.path = path
        self._tensors: dict[str, torch.Tensor] | None = None
        if tensors is not None:
            self._tensors = dict(tensors)
            self._keys = set(tensors)
        elif path is not None and path.suffix == ".npz":
            try:
                with np.load(path) as archive:
                    self._keys = set(archive.files)
            except (OSError, ValueError) as exc:
                raise TracerError(f"cannot read transcoder file {path}: {exc}") from exc
        elif path is not None:
            from safetensors import safe_open

            try:
                with safe_open(str(path), framework="pt", device="cpu") as handle:
                    self._keys = set(handle.keys())
            except (OSError, ValueError, RuntimeError) as exc:
                raise TracerError(f"cannot read transcoder file {path}: {exc}") from exc
        else:
            raise TracerError("a weight file needs a path or tensors")

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def _require(self, key: str) -> None:
        if key not in self._keys:
            raise TracerError(f"transcoder file {self.path or '<memory>'} has no tensor {key!r}")

    def get(self, key: str) -> torch.Tensor:
        self._require(key)
        if self._tensors is not None:
            return self._tensors[key]
        if self.path.suffix == ".npz":
            with np.load(self.path) as archive:
                return torch.from_numpy(np.array(archive[key]))
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt", device="cpu") as handle:
            return handle.get_tensor(key)

    def shape(self, key: str) -> tuple[int, ...]:
        """Shape of tensor ``key``, read from the file header only."""
        self._require(key)
        if self._tensors is not None:
            return tuple(self._tensors[key].shape)
        if self.path.suffix == ".npz":
            import zipfile

            with zipfile.ZipFile(self.path) as archive, archive.open(f"{key}.npy") as member:
                version = np.lib.format.read_magic(member)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                return tuple(read(member)[0])
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt", device="cpu") as handle:
            return tuple(handle.get_slice(key).get_shape())

    def rows(self, key: str, index: torch.Tensor) -> torch.Tensor:
        """Rows ``index`` of tensor ``key`` (first axis), reading only those rows."""
        self._require(key)
        if self._tensors is not None:
            return self._tensors[key][index]
        if self.path.suffix == ".npz":
            return self.get(key)[index]
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt", device="cpu") as handle:
            return handle.get_slice(key)[index.tolist()]


@dataclass
class _Layer:
    """Where one layer's weights live: (file, key) per tensor."""

    W_enc: tuple[_WeightFile, str]
    W_dec: tuple[_WeightFile, str]
    b_enc: torch.Tensor
    b_dec: torch.Tensor
    threshold: torch.Tensor | None
    W_skip: tuple[_WeightFile, str] | None
    enc_transposed: bool = False  # GemmaScope stores W_enc as (d_model, d_sae)


class Transcoders:
    """A per-layer, skip or cross-layer transcoder set over an ``n_layers`` model.

    Build one with :func:`load_transcoders` (files, hub ids, presets) or
    :meth:`from_tensors`; write one with :func:`save_transcoders`.

    Parameters
    ----------
    kind : {"plt", "clt"}
    layers : list of _Layer
    activation : {"relu", "jumprelu", "topk"}
    k : int or None
        TopK's k.
    feature_input_hook, feature_output_hook : str
        TransformerLens hook names (see :mod:`tracer.models`).
    scan : str
        Identifier of the set (Neuronpedia ``scan``).
    lazy : bool
        Read big matrices from their files at each use (True) or keep them on
        the compute device after first use (False).

    Attributes
    ----------
    n_layers, d_model, d_transcoder : int
    device, dtype : compute placement (set by :meth:`to`).
    labels : dict of (layer, feature) -> str
        Feature labels (:mod:`tracer.labels`), put on traced graphs' nodes.
    """

    def __init__(
        self,
        kind: str,
        layers: list[_Layer],
        activation: str,
        k: int | None,
        feature_input_hook: str,
        feature_output_hook: str,
        scan: str = "",
        lazy: bool = True,
    ):
        if kind not in ("plt", "clt"):
            raise TracerError(f"transcoder kind must be 'plt' or 'clt', got {kind!r}")
        if activation not in ACTIVATIONS:
            raise TracerError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if activation == "topk" and (k is None or int(k) < 1):
            raise TracerError(f"topk activation needs a positive k, got {k!r}")
        if feature_input_hook not in INPUT_HOOKS:
            raise TracerError(
                f"feature_input_hook {feature_input_hook!r} is not one of {INPUT_HOOKS}"
            )
        if feature_output_hook not in OUTPUT_HOOKS:
            raise TracerError(
                f"feature_output_hook {feature_output_hook!r} is not one of {OUTPUT_HOOKS}"
            )
        if not layers:
            raise TracerError("a transcoder set needs at least one layer")
        if activation == "jumprelu" and any(layer.threshold is None for layer in layers):
            raise TracerError("jumprelu activation needs a threshold for every layer")
        self.kind = kind
        self._layers = layers
        self.activation = activation
        self.k = None if k is None else int(k)
        self.feature_input_hook = feature_input_hook
        self.feature_output_hook = feature_output_hook
        self.scan = scan
        self.lazy = lazy
        self.labels: FeatureLabels = {}
        self.n_layers = len(layers)
        self.d_transcoder = int(layers[0].b_enc.shape[0])
        self.d_model = int(layers[0].b_dec.shape[0])
        for i, layer in enumerate(layers):
            if layer.b_enc.shape != (self.d_transcoder,) or layer.b_dec.shape != (self.d_model,):
                raise TracerError(
                    f"transcoder layer {i} has b_enc {tuple(layer.b_enc.shape)} and b_dec "
                    f"{tuple(layer.b_dec.shape)}; layer 0 has d_transcoder {self.d_transcoder}, "
                    f"d_model {self.d_model}"
                )
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self._cache: dict[tuple[int, str], torch.Tensor] = {}

    # ----------------------------------------------------------- construction
    @classmethod
    def from_tensors(
        cls,
        kind: str,
        *,
        W_enc: Sequence[torch.Tensor],
        W_dec: Sequence[torch.Tensor],
        b_enc: Sequence[torch.Tensor],
        b_dec: Sequence[torch.Tensor],
        feature_input_hook: str,
        feature_output_hook: str,
        threshold: Sequence[torch.Tensor] | None = None,
        W_skip: Sequence[torch.Tensor] | None = None,
        activation: str | None = None,
        k: int | None = None,
        scan: str = "",
    ) -> Transcoders:
        """A set from per-layer tensors (in memory, not lazy).

        Parameters
        ----------
        kind : {"plt", "clt"}
        W_enc : per layer ``(d_tc, d_model)``
        W_dec : per layer ``(d_tc, d_model)`` (PLT) or ``(d_tc, n_layers - i, d_model)`` (CLT)
        b_enc, b_dec : per layer ``(d_tc,)`` and ``(d_model,)``
        threshold : per layer ``(d_tc,)``, optional (implies JumpReLU)
        W_skip : per layer ``(d_model, d_model)``, optional
        activation : str, optional
            Default: ``jumprelu`` with thresholds, else ``relu``.
        k : int, optional
            For ``topk``.
        """
        n = len(W_enc)
        for name, seq in (("W_dec", W_dec), ("b_enc", b_enc), ("b_dec", b_dec),
                          ("threshold", threshold), ("W_skip", W_skip)):
            if seq is not None and len(seq) != n:
                raise TracerError(f"{name} has {len(seq)} layers, W_enc has {n}")
        layers = []
        for i in range(n):
            tensors = {"W_enc": W_enc[i].detach().cpu(), "W_dec": W_dec[i].detach().cpu()}
            if W_skip is not None:
                tensors["W_skip"] = W_skip[i].detach().cpu()
            store = _WeightFile(tensors=tensors)
            if kind == "clt" and W_dec[i].ndim != 3:
                raise TracerError(f"CLT W_dec for layer {i} must be (d_tc, n_layers - {i}, d_model)")
            layers.append(_Layer(
                W_enc=(store, "W_enc"), W_dec=(store, "W_dec"),
                b_enc=b_enc[i].detach().cpu(), b_dec=b_dec[i].detach().cpu(),
                threshold=None if threshold is None else threshold[i].detach().cpu(),
                W_skip=(store, "W_skip") if W_skip is not None else None,
            ))
        act = _ACTIVATION_ALIASES.get(activation or ("jumprelu" if threshold is not None else "relu"))
        if act is None:
            raise TracerError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        out = cls(kind, layers, act, k, feature_input_hook, feature_output_hook, scan, lazy=False)
        out._check_shapes()
        return out

    def _check_shapes(self) -> None:
        """Check every matrix's shape from the file headers (no weights are read)."""
        for i, layer in enumerate(self._layers):
            enc_shape = layer.W_enc[0].shape(layer.W_enc[1])
            if layer.enc_transposed:
                enc_shape = enc_shape[::-1]
            want = (self.d_transcoder, self.d_model)
            if enc_shape != want:
                raise TracerError(f"transcoder layer {i}: W_enc has shape {enc_shape}, expected {want}")
            if layer.W_skip is not None and layer.W_skip[0].shape(layer.W_skip[1]) != (self.d_model,) * 2:
                raise TracerError(f"transcoder layer {i}: W_skip must be ({self.d_model}, {self.d_model})")
            if layer.threshold is not None and tuple(layer.threshold.shape) != (self.d_transcoder,):
                raise TracerError(f"transcoder layer {i}: threshold must have shape ({self.d_transcoder},)")
            dec_shape = layer.W_dec[0].shape(layer.W_dec[1])
            want_dec = ((self.d_transcoder, self.n_layers - i, self.d_model) if self.kind == "clt"
                        else (self.d_transcoder, self.d_model))
            if dec_shape != want_dec:
                raise TracerError(f"transcoder layer {i}: W_dec has shape {dec_shape}, expected {want_dec}")

    # ------------------------------------------------------------ properties
    @property
    def has_skip(self) -> bool:
        return self._layers[0].W_skip is not None

    @property
    def transcoder_type(self) -> str:
        """``clt``, ``skip`` (a PLT with skip paths) or ``plt`` (GraphMeta's field)."""
        if self.kind == "clt":
            return "clt"
        return "skip" if self.has_skip else "plt"

    def to(self, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None) -> Transcoders:
        """Set where and in which dtype the set computes; returns self."""
        if device is not None:
            self.device = resolve_device(device)
        if dtype is not None:
            self.dtype = resolve_dtype(dtype)
        self._cache.clear()
        return self

    def __repr__(self) -> str:
        return (f"Transcoders({self.transcoder_type}, {self.n_layers} layers, d_model {self.d_model}, "
                f"d_transcoder {self.d_transcoder}, {self.activation}, scan={self.scan!r})")

    # --------------------------------------------------------------- weights
    def _raw(self, name: str, layer: int) -> torch.Tensor:
        entry = getattr(self._layers[layer], name)
        tensor = entry[0].get(entry[1])
        if name == "W_enc" and self._layers[layer].enc_transposed:
            tensor = tensor.T
        return tensor

    def _on_device(self, name: str, layer: int) -> torch.Tensor:
        key = (layer, name)
        if key in self._cache:
            return self._cache[key]
        tensor = self._raw(name, layer).to(device=self.device, dtype=self.dtype)
        if not self.lazy:
            self._cache[key] = tensor
        return tensor

    def _vector(self, name: str, layer: int) -> torch.Tensor:
        return getattr(self._layers[layer], name).to(device=self.device, dtype=self.dtype)

    def encoder(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W_enc (d_tc, d_model), b_enc (d_tc,))`` of ``layer`` on the compute device."""
        return self._on_device("W_enc", layer), self._vector("b_enc", layer)

    def decoder_bias(self, layer: int) -> torch.Tensor:
        """``b_dec`` written into output layer ``layer``, ``(d_model,)``."""
        return self._vector("b_dec", layer)

    def decoder_rows(self, layer: int, features: torch.Tensor) -> torch.Tensor:
        """Decoder rows of ``features`` (indices) of ``layer``.

        Returns
        -------
        torch.Tensor
            ``(n, d_model)`` for a PLT, ``(n, n_layers - layer, d_model)`` for a
            CLT (row ``j`` writes into layer ``layer + j``); on the compute
            device. Only these rows are read from the file.
        """
        idx = features.detach().to("cpu", torch.long)
        key = (layer, "W_dec")
        if key in self._cache:
            return self._cache[key][idx.to(self.device)]
        store, name = self._layers[layer].W_dec
        if not self.lazy:
            return self._on_device("W_dec", layer)[idx.to(self.device)]
        return store.rows(name, idx).to(device=self.device, dtype=self.dtype)

    def pre_activations(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """``W_enc x + b_enc`` for inputs ``x (..., d_model)``: ``(..., d_tc)``."""
        W_enc, b_enc = self.encoder(layer)
        return torch.nn.functional.linear(x.to(device=self.device, dtype=self.dtype), W_enc, b_enc)

    def activate(self, layer: int, pre: torch.Tensor) -> torch.Tensor:
        """Apply the activation function to pre-activations of ``layer``."""
        if self.activation == "relu":
            return torch.relu(pre)
        if self.activation == "jumprelu":
            threshold = self._vector("threshold", layer)
            return pre * (pre > threshold).to(pre.dtype)
        k = min(self.k, pre.shape[-1])
        gate = torch.zeros_like(pre).scatter_(-1, pre.topk(k, dim=-1).indices, 1.0)
        return pre * gate

    def skip(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """The linear skip path's contribution ``(..., d_model)``; zero without one."""
        if not self.has_skip:
            return torch.zeros(*x.shape[:-1], self.d_model, device=self.device, dtype=self.dtype)
        W_skip = self._on_device("W_skip", layer)
        x = x.to(device=self.device, dtype=self.dtype)
        # circuit-tracer: a PLT's skip is x @ W_skip.T, a CLT's x @ W_skip[l]
        return x @ (W_skip.T if self.kind == "plt" else W_skip)

    def decode_dense(self, layer: int, acts: torch.Tensor) -> torch.Tensor:
        """A PLT layer's decoded output ``acts @ W_dec + b_dec`` (no skip); for tests
        and small inputs, it reads the whole decoder."""
        if self.kind != "plt":
            raise TracerError("decode_dense is defined for per-layer transcoders; use decoder_rows")
        return acts.to(self.dtype) @ self._on_device("W_dec", layer) + self.decoder_bias(layer)

    def threshold(self, layer: int) -> torch.Tensor | None:
        t = self._layers[layer].threshold
        return None if t is None else t.to(device=self.device, dtype=self.dtype)

    def layer_tensors(self, layer: int) -> dict[str, torch.Tensor]:
        """All tensors of ``layer`` on the CPU, in their stored dtype (for saving)."""
        out = {"W_enc": self._raw("W_enc", layer), "W_dec": self._raw("W_dec", layer),
               "b_enc": self._layers[layer].b_enc, "b_dec": self._layers[layer].b_dec}
        if self._layers[layer].threshold is not None:
            out["threshold"] = self._layers[layer].threshold
        if self.has_skip:
            out["W_skip"] = self._raw("W_skip", layer)
        return out


# ------------------------------------------------------------------ loading
@dataclass(frozen=True)
class HubRef:
    """A hub reference ``org/repo[/subfolder][@revision]`` or ``hf://org/repo/path?revision=``."""

    repo_id: str
    path: str | None
    revision: str | None

    @classmethod
    def parse(cls, ref: str) -> HubRef:
        """Parse ``ref``.

        Examples
        --------
        >>> HubRef.parse("mwhanna/qwen3-4b-transcoders@main")
        HubRef(repo_id='mwhanna/qwen3-4b-transcoders', path=None, revision='main')
        >>> HubRef.parse("hf://google/gemma-scope-2b-pt-transcoders/layer_0/params.npz")
        HubRef(repo_id='google/gemma-scope-2b-pt-transcoders', path='layer_0/params.npz', revision=None)
        """
        if ref.startswith("hf://"):
            parsed = urlparse(ref)
            parts = parsed.path.lstrip("/").split("/", 1)
            if not parsed.netloc or len(parts) != 2 or not parts[0]:
                raise TracerError(f"invalid hf:// URI {ref!r}; expected hf://org/repo/path")
            revision = parse_qs(parsed.query).get("revision", [None])[0] or None
            return cls(f"{parsed.netloc}/{parts[0]}", parts[1] or None, revision)
        body, _, revision = ref.partition("@")
        parts = body.strip("/").split("/")
        if len(parts) < 2 or not all(parts[:2]):
            raise TracerError(
                f"transcoder reference {ref!r} is not a preset ({sorted(PRESETS)}), an existing "
                "path, or a hub id org/repo[/subfolder][@revision]"
            )
        return cls("/".join(parts[:2]), "/".join(parts[2:]) or None, revision or None)

    @property
    def scan(self) -> str:
        """circuit-tracer's scan string: ``repo[//subfolder][@revision]``."""
        base = self.repo_id if self.path is None else f"{self.repo_id}//{self.path}"
        return f"{base}@{self.revision}" if self.revision else base


def _hub_file(ref: HubRef, filename: str) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(ref.repo_id, filename, subfolder=ref.path, revision=ref.revision))
    except Exception as exc:  # huggingface_hub raises many types (offline, 404, gated)
        where = f"{ref.path}/{filename}" if ref.path else filename
        raise TracerError(f"cannot fetch {where} from hub repo {ref.repo_id}: {exc}") from exc


def _hub_snapshot(ref: HubRef, patterns: list[str]) -> Path:
    from huggingface_hub import snapshot_download

    prefix = f"{ref.path}/" if ref.path else ""
    try:
        root = Path(snapshot_download(ref.repo_id, revision=ref.revision,
                                      allow_patterns=[prefix + p for p in patterns]))
    except Exception as exc:
        raise TracerError(f"cannot fetch transcoder files from hub repo {ref.repo_id}: {exc}") from exc
    return root / ref.path if ref.path else root


def _resolve_file(entry: str, base: Path) -> Path:
    if entry.startswith("hf://"):
        uri = HubRef.parse(entry)
        folder, _, name = (uri.path or "").rpartition("/")
        return _hub_file(HubRef(uri.repo_id, folder or None, uri.revision), name)
    path = Path(entry).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise TracerError(f"transcoder file {path} (listed in config.yaml) does not exist")
    return path


def read_config(path: str | Path) -> dict[str, Any]:
    """A transcoder set's ``config.yaml``, checked.

    Raises
    ------
    TracerError
        Naming the file and the problem: unreadable, not YAML, not a mapping,
        a required key missing, or an unknown ``model_kind``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "config.yaml"
    >>> _ = path.write_text("model_kind: [unclosed")
    >>> read_config(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracer.errors.TracerError: cannot read transcoder config .../config.yaml: while parsing a flow sequence...
    """
    import yaml

    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TracerError(f"cannot read transcoder config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise TracerError(f"transcoder config {path} is not a mapping")
    for key in ("model_kind", "feature_input_hook", "feature_output_hook"):
        if key not in config:
            raise TracerError(f"transcoder config {path} lacks {key!r}")
    if config["model_kind"] not in _MODEL_KINDS:
        raise TracerError(
            f"transcoder config {path}: model_kind {config['model_kind']!r} is not one of "
            f"{sorted(_MODEL_KINDS)}"
        )
    return config


def _numbered(folder: Path, pattern: str) -> list[Path]:
    """Files ``pattern.format(i)`` for i = 0, 1, ... that exist, checking there is no gap."""
    regex = re.compile("^" + re.escape(pattern).replace(r"\{\}", r"(\d+)") + "$")
    found = {int(m.group(1)): p for p in folder.iterdir() if (m := regex.match(p.name))}
    if not found:
        raise TracerError(f"no {pattern.format('*')} files in {folder}")
    missing = sorted(set(range(max(found) + 1)) - set(found))
    if missing:
        raise TracerError(f"{folder}: {pattern.format(missing[0])} is missing (layers must be 0..{max(found)})")
    return [found[i] for i in range(len(found))]


def _plt_layer(path: Path) -> _Layer:
    store = _WeightFile(path)
    if path.suffix == ".npz":  # GemmaScope params.npz
        for key in ("W_enc", "W_dec", "b_enc", "b_dec", "threshold"):
            store._require(key)
        return _Layer(W_enc=(store, "W_enc"), W_dec=(store, "W_dec"), b_enc=store.get("b_enc"),
                      b_dec=store.get("b_dec"), threshold=store.get("threshold"), W_skip=None,
                      enc_transposed=True)
    threshold_key = next((k for k in ("activation_function.threshold", "threshold") if k in store), None)
    return _Layer(
        W_enc=(store, "W_enc"), W_dec=(store, "W_dec"), b_enc=store.get("b_enc"), b_dec=store.get("b_dec"),
        threshold=store.get(threshold_key) if threshold_key else None,
        W_skip=(store, "W_skip") if "W_skip" in store else None,
    )


def _clt_layers(folder: Path) -> list[_Layer]:
    enc_files = _numbered(folder, "W_enc_{}.safetensors")
    dec_files = _numbered(folder, "W_dec_{}.safetensors")
    if len(enc_files) != len(dec_files):
        raise TracerError(f"{folder}: {len(enc_files)} W_enc files but {len(dec_files)} W_dec files")
    layers = []
    for i, (enc_path, dec_path) in enumerate(zip(enc_files, dec_files)):
        enc, dec = _WeightFile(enc_path), _WeightFile(dec_path)
        layers.append(_Layer(
            W_enc=(enc, f"W_enc_{i}"), W_dec=(dec, f"W_dec_{i}"),
            b_enc=enc.get(f"b_enc_{i}"), b_dec=enc.get(f"b_dec_{i}"),
            threshold=enc.get(f"threshold_{i}") if f"threshold_{i}" in enc else None,
            W_skip=(enc, f"W_skip_{i}") if f"W_skip_{i}" in enc else None,
        ))
    return layers


def _build(config: dict[str, Any], layers: list[_Layer], scan: str, lazy: bool, origin: str) -> Transcoders:
    kind = _MODEL_KINDS[config["model_kind"]]
    raw = config.get("activation")
    if raw is None:
        activation = "jumprelu" if layers[0].threshold is not None else "relu"
    else:
        activation = _ACTIVATION_ALIASES.get(str(raw).lower())
        if activation is None:
            raise TracerError(f"{origin}: activation {raw!r} is not one of {ACTIVATIONS}")
    if len({layer.W_skip is None for layer in layers}) > 1:
        raise TracerError(f"{origin}: some layers have W_skip and some do not")
    out = Transcoders(kind, layers, activation, config.get("k"), str(config["feature_input_hook"]),
                      str(config["feature_output_hook"]), scan=scan, lazy=lazy)
    out._check_shapes()
    return out


def load_transcoders(
    ref: str | Path,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    lazy: bool = True,
) -> Transcoders:
    """Load a transcoder set by preset name, local directory or hub id.

    Parameters
    ----------
    ref : str or Path
        A key of :data:`PRESETS`; a directory holding ``config.yaml`` (or the
        ``config.yaml`` itself); or a hub reference ``org/repo[/subfolder]
        [@revision]`` (fetched through the ``huggingface_hub`` cache with
        ``hf_hub_download`` / ``snapshot_download``).
    device, dtype : optional
        Compute placement (default: CUDA when available; float32).
    lazy : bool
        Keep big matrices in their memory-mapped files and move one layer's
        block to the device per use (True), or cache them on the device.

    Returns
    -------
    Transcoders
        ``scan`` is the hub reference as circuit-tracer writes it
        (``repo[//subfolder][@revision]``), or the config's ``scan`` / the
        directory for a local set; ``labels`` are the set's ``labels.json``
        (:func:`tracer.labels.read_labels`; empty without one).

    Raises
    ------
    TracerError
        Naming the reference, file or key at fault.
    """
    text = str(ref)
    text = PRESETS.get(text, text)
    local = Path(text).expanduser()
    if local.exists():
        config_path = local if local.is_file() else local / "config.yaml"
        if not config_path.is_file():
            raise TracerError(f"{local} has no config.yaml")
        config = read_config(config_path)
        folder = config_path.parent
        scan = str(config.get("scan") or folder)
        hub: HubRef | None = None
    else:
        hub = HubRef.parse(text)
        config_path = _hub_file(hub, "config.yaml")
        config = read_config(config_path)
        folder = config_path.parent
        scan = hub.scan
    kind = _MODEL_KINDS[config["model_kind"]]
    listed = config.get("transcoders")
    if listed is not None:
        if kind == "clt":
            raise TracerError(f"{config_path}: a CLT given as a transcoders: list (GemmaScope-2 "
                              "format) is not supported; use the W_enc_i / W_dec_i layout")
        if not isinstance(listed, list) or not listed:
            raise TracerError(f"{config_path}: transcoders: must be a non-empty list")
        layers = [_plt_layer(_resolve_file(str(entry), folder)) for entry in listed]
    else:
        if hub is not None:
            patterns = ["layer_*.safetensors"] if kind == "plt" else ["W_enc_*.safetensors", "W_dec_*.safetensors"]
            folder = _hub_snapshot(hub, patterns)
        layers = ([_plt_layer(p) for p in _numbered(folder, "layer_{}.safetensors")]
                  if kind == "plt" else _clt_layers(folder))
    out = _build(config, layers, scan, lazy, str(config_path))
    out.labels = read_labels(folder)
    return out.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def save_transcoders(transcoders: Transcoders, directory: str | Path, *, model_name: str | None = None) -> Path:
    """Write ``transcoders`` in circuit-tracer's layout; :func:`load_transcoders` reads it back.

    Parameters
    ----------
    transcoders : Transcoders
    directory : str or Path
        Created if needed; gets ``config.yaml`` plus ``layer_{i}.safetensors``
        (PLT) or ``W_enc_{i}.safetensors`` / ``W_dec_{i}.safetensors`` (CLT).
    model_name : str, optional
        Written as ``model_name`` in the config (circuit-tracer's field).

    Returns
    -------
    Path
        The directory.
    """
    import yaml
    from safetensors.torch import save_file

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(transcoders.n_layers):
        t = {k: v.detach().cpu().contiguous() for k, v in transcoders.layer_tensors(i).items()}
        if transcoders.kind == "plt":
            if "threshold" in t:
                t["activation_function.threshold"] = t.pop("threshold")
            save_file(t, str(folder / f"layer_{i}.safetensors"))
        else:
            enc = {f"W_enc_{i}": t["W_enc"], f"b_enc_{i}": t["b_enc"], f"b_dec_{i}": t["b_dec"]}
            if "threshold" in t:
                enc[f"threshold_{i}"] = t["threshold"]
            if "W_skip" in t:
                enc[f"W_skip_{i}"] = t["W_skip"]
            save_file(enc, str(folder / f"W_enc_{i}.safetensors"))
            save_file({f"W_dec_{i}": t["W_dec"]}, str(folder / f"W_dec_{i}.safetensors"))
    config: dict[str, Any] = {
        "model_kind": "transcoder_set" if transcoders.kind == "plt" else "cross_layer_transcoder",
        "feature_input_hook": transcoders.feature_input_hook,
        "feature_output_hook": transcoders.feature_output_hook,
        "activation": transcoders.activation,
    }
    if transcoders.k is not None:
        config["k"] = transcoders.k
    if transcoders.scan:
        config["scan"] = transcoders.scan
    if model_name:
        config["model_name"] = model_name
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder
