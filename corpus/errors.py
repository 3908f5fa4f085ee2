"""The one exception family of the corpus package."""

from __future__ import annotations


class CorpusError(Exception):
    """A graph file, corpus directory or argument that cannot be used.

    The message always names the file (or URL, or graph) and the problem,
    and where it applies the node or link index at fault.
    """
