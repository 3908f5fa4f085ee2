"""motifs: a general directed-network motif engine.

Census (triads, 3- and 4-node classes, named and signed motifs, cycles),
motif instances, null models, statistics and per-graph motif profiles, all on
the plain-array :class:`Network`.

Public names are imported lazily so that ``cgram motifs --help`` does not pay
for numpy, pandas, scipy and igraph.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Network": "motifs.network",
    "MotifError": "motifs.errors",
    # catalog: one source of truth for motif names
    "TRIAD_CODES": "motifs.catalog",
    "NAMED_MOTIFS": "motifs.catalog",
    "FFL_SIGN_TYPES": "motifs.catalog",
    "SIGNED_TRIAD_NAMES": "motifs.catalog",
    "MotifClass": "motifs.catalog",
    "motif_class": "motifs.catalog",
    "motif_classes": "motifs.catalog",
    "motif_drawing": "motifs.catalog",
    "motif_class_of": "motifs.catalog",
    # census
    "triad_census": "motifs.census",
    "triad_census_many": "motifs.census",
    "motif3_census": "motifs.census",
    "motif3_census_many": "motifs.census",
    "motif4_census": "motifs.census",
    "motif4_census_many": "motifs.census",
    "ffl_count_many": "motifs.census",
    "named_census": "motifs.census",
    "named_census_many": "motifs.census",
    "simple_cycles_count": "motifs.census",
    "simple_cycles_count_many": "motifs.census",
    "signed_triad_census": "motifs.census",
    "signed_triad_census_many": "motifs.census",
    "signed_ffl_census": "motifs.census",
    "signed_ffl_census_many": "motifs.census",
    # instances, statistics, profiles
    "motif_instances": "motifs.instances",
    "instances_for_graph": "motifs.network",
    "zscores": "motifs.stats",
    "significance_profile": "motifs.stats",
    "linear_identities": "motifs.stats",
    "motif_profile": "motifs.analysis",
    # null models (motifs.nulls)
    "sample_nulls": "motifs.nulls",
    "default_null": "motifs.nulls",
    "NullSamples": "motifs.nulls",
    "NULL_MODELS": "motifs.nulls",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'motifs' has no attribute {name!r}")
