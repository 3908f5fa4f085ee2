"""The layer rules of DESIGN.md, read from every import statement of the packages.

Imports point one way:

- ``corpus`` imports nothing of ours; only ``corpus/cli.py`` may import the
  leaf ``cgram.options`` (the shared flags, which import nothing of ours);
- ``tracer`` imports ``corpus`` (and ``cgram.options`` in its ``cli`` modules;
  ``tracer/mechanisms_cli.py``, the ``cascades`` command, also ``motifs``);
- in ``motifs`` only the adapters ``network.py`` and ``corpus_run.py`` and
  ``cli.py`` import ``corpus``; nothing imports ``tracer`` or ``reports``;
- ``reports`` imports ``corpus`` and ``motifs`` only (``cgram.options`` in its
  ``cli``), never ``tracer``;
- nothing outside ``cgram/`` imports ``cgram.cli`` or ``cgram.demo``.

Every import counts: module level, inside functions and under
``if TYPE_CHECKING:`` alike.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

from tests.conftest import REPO

OURS = ("cgram", "corpus", "tracer", "motifs", "reports")
_CLI = ("cgram.options",)

#: (module path pattern, what it may import of ours); the first matching pattern applies.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cgram/options.py", ()),
    ("cgram/*", OURS),
    ("corpus/cli.py", ("corpus", *_CLI)),
    ("corpus/*", ("corpus",)),
    ("tracer/cli.py", ("tracer", "corpus", *_CLI)),
    ("tracer/global_cli.py", ("tracer", "corpus", *_CLI)),
    ("tracer/zoo/cli.py", ("tracer", "corpus", *_CLI)),
    # cgram cascades --validate joins the motif engine's cascades with the tracer's causal tests
    ("tracer/mechanisms_cli.py", ("tracer", "corpus", "motifs", *_CLI)),
    ("tracer/*", ("tracer", "corpus")),
    ("motifs/cli.py", ("motifs", "corpus", *_CLI)),
    ("motifs/network.py", ("motifs", "corpus")),
    ("motifs/corpus_run.py", ("motifs", "corpus")),
    ("motifs/*", ("motifs",)),
    ("reports/cli.py", ("reports", "corpus", "motifs", *_CLI)),
    ("reports/view_cli.py", ("reports", "corpus", "motifs", *_CLI)),
    ("reports/*", ("reports", "corpus", "motifs")),
)


def imported_names(path: Path, package: str) -> set[str]:
    """Dotted names a module imports (``from a.b import c`` gives ``a.b.c``), relative ones resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_violations(root: Path) -> list[str]:
    """``"module imports name"`` for every import of ours that :data:`RULES` forbids."""
    found = []
    for top in OURS:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            allowed = next(allow for pattern, allow in RULES if fnmatch.fnmatch(rel, pattern))
            package = ".".join(path.relative_to(root).parent.parts)
            for name in sorted(imported_names(path, package)):
                if _within(name, OURS) and not _within(name, allowed):
                    found.append(f"{rel} imports {name}")
    return found


def test_the_packages_keep_the_layer_rules():
    assert layer_violations(REPO) == []


def test_the_checker_finds_each_kind_of_planted_violation(tmp_path):
    files = {
        "corpus/store.py": "import json\nfrom corpus.graph import AttributionGraph\n"
                           "def f():\n    from motifs import Network\n",
        "corpus/cli.py": "from cgram.options import add_corpus\nfrom cgram import cli\n",
        "tracer/trace.py": "from corpus.graph import AttributionGraph\nimport reports.html\n",
        "tracer/cli.py": "from cgram.options import add_graph_outputs\nfrom . import trace\n",
        "tracer/zoo/labels.py": "from ..labels import read_labels\nfrom ...motifs import census\n",
        "motifs/instances.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                               "    from corpus.graph import AttributionGraph\n",
        "motifs/network.py": "from corpus.graph import AttributionGraph\n",
        "motifs/cli.py": "from corpus.cli import open_corpus\nimport tracer\n",
        "reports/graph_report.py": "from motifs.network import Network\n"
                                   "def g():\n    from tracer.trace import trace\n",
        "reports/cli.py": "from cgram.demo import run\n",
        "cgram/options.py": "import argparse\nimport corpus.store\n",
        "cgram/demo.py": "from tracer.trace import trace\nfrom reports.corpus_report import x\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert sorted(layer_violations(tmp_path)) == [
        "cgram/options.py imports corpus.store",
        "corpus/cli.py imports cgram.cli",
        "corpus/store.py imports motifs.Network",
        "motifs/cli.py imports tracer",
        "motifs/instances.py imports corpus.graph.AttributionGraph",
        "reports/cli.py imports cgram.demo.run",
        "reports/graph_report.py imports tracer.trace.trace",
        "tracer/trace.py imports reports.html",
        "tracer/zoo/labels.py imports motifs.census",
    ]
