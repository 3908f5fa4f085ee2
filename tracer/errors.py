"""The one exception family of the tracer package."""

from __future__ import annotations


class TracerError(Exception):
    """A model, transcoder set, prompt or argument the tracer cannot use.

    Messages name the model / file / argument at fault.
    """
