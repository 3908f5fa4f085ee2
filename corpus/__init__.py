"""corpus: the data layer — AttributionGraph, Neuronpedia JSON, downloads, the Corpus store.

Public names are imported lazily so that ``cgram --help`` does not pay for
pandas and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AttributionGraph": "corpus.graph",
    "GraphMeta": "corpus.graph",
    "NODE_COLUMNS": "corpus.graph",
    "KINDS": "corpus.graph",
    "CorpusError": "corpus.errors",
    "Corpus": "corpus.store",
    "read_json": "corpus.neuronpedia",
    "write_json": "corpus.neuronpedia",
    "loads": "corpus.neuronpedia",
    "dumps": "corpus.neuronpedia",
    "fetch": "corpus.download",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'corpus' has no attribute {name!r}")
