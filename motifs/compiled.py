"""The compiled kernels of the motif engine, or None where the install has none.

``setup.py`` builds ``motifs/_kernels.c`` when a C compiler is at hand (the
extension is optional); without it every caller takes its numpy path, with
identical results: the numpy switching engine runs the kernel's random
streams (``motifs.nulls._Xoshiro``), only slower.
"""

from __future__ import annotations

from types import ModuleType

kernels: ModuleType | None
try:
    from motifs import _kernels as kernels
except ImportError:  # pragma: no cover - depends on the install
    kernels = None
