"""tracer: HF model + transcoders + prompt -> attribution graph (Ameisen et al. 2025).

- :mod:`tracer.models` loads a Hugging Face causal LM and names its parts;
- :mod:`tracer.transcoders` reads and writes per-layer, skip and cross-layer
  transcoders (circuit-tracer's layout, GemmaScope npz, hub ids, presets);
- :mod:`tracer.replacement` builds the local replacement model with plain
  PyTorch hooks;
- :mod:`tracer.attribution` computes the adjacency matrix with batched
  backward passes;
- :mod:`tracer.prune` prunes it and scores it;
- :func:`trace` does all of it and returns a :class:`corpus.AttributionGraph`.

Public names are imported lazily, so ``import tracer`` (and ``cgram --help``)
does not import torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

from tracer.errors import TracerError

_EXPORTS = {
    "trace": "tracer.trace",
    "attribution_graph": "tracer.trace",
    "load_model": "tracer.models",
    "wrap_model": "tracer.models",
    "LoadedModel": "tracer.models",
    "load_transcoders": "tracer.transcoders",
    "save_transcoders": "tracer.transcoders",
    "Transcoders": "tracer.transcoders",
    "PRESETS": "tracer.transcoders",
    "ReplacementModel": "tracer.replacement",
    "compute_attribution": "tracer.attribution",
    "Attribution": "tracer.attribution",
    "prune_graph": "tracer.prune",
}

__all__ = sorted([*_EXPORTS, "TracerError"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tracer' has no attribute {name!r}")
