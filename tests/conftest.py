"""Shared test fixtures: the real Neuronpedia exports in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The 17 real graph exports shipped beside the repository.
SHARED_GRAPHS = Path(os.environ.get("CGRAM_SHARED_GRAPHS",
                                    REPO.parent / "shared" / "data" / "neuronpedia"))


def real_graph_files() -> list[Path]:
    """Paths of the real exports (empty when ../shared is absent)."""
    return sorted(SHARED_GRAPHS.glob("*.json"))


@pytest.fixture(scope="session")
def real_graphs() -> dict[str, object]:
    """Every real export parsed once per session, keyed by file name."""
    from corpus.neuronpedia import read_json

    files = real_graph_files()
    if not files:
        pytest.fail(f"no real graphs at {SHARED_GRAPHS} (set CGRAM_SHARED_GRAPHS)")
    return {path.name: read_json(path) for path in files}
