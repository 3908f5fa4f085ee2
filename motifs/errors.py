"""The one exception family of the motifs package."""

from __future__ import annotations


class MotifError(Exception):
    """A network, motif name, null model or argument that cannot be used.

    Messages name the argument or graph at fault.
    """
