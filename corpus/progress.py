"""Progress bars that stay quiet where nobody watches them.

Every long loop of the command line shows a tqdm bar (DESIGN.md), but a bar
redraws itself with carriage returns: in a log file or a CI transcript that is
one line of spam per update. :func:`progress_bar` draws on stderr only when the
caller asks for it *and* stderr is a terminal (or a Jupyter kernel, which
draws a widget instead). ``corpus`` is the base layer, so the tracer, the
reports and the demo share this one rule; the motif core, which may not
import ``corpus``, keeps the same rule in :func:`motifs.analysis.quiet_bar`.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, TextIO


def quiet(progress: bool, stream: TextIO | None = None) -> bool:
    """Whether a bar asked for with ``progress`` stays hidden (tqdm's ``disable``).

    Hidden when not asked for, and when ``stream`` (default: stderr) is not
    a terminal, unless a Jupyter kernel is running (its bars are widgets).

    Examples
    --------
    >>> import io
    >>> quiet(False), quiet(True, io.StringIO())
    (True, True)
    """
    if not progress:
        return True
    if "ipykernel" in sys.modules:
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not (isatty is not None and isatty())


def progress_bar(iterable: Iterable[Any] | None = None, *, progress: bool = True,
                 **options: Any) -> Any:
    """A tqdm bar on stderr that draws only when :func:`quiet` says it may.

    ``options`` go to ``tqdm`` (``total``, ``desc``, ``unit``, ``leave``...).

    Examples
    --------
    >>> bar = progress_bar(range(3), progress=True, desc="quiet under doctest")
    >>> list(bar), bar.disable
    ([0, 1, 2], True)
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=quiet(progress), file=sys.stderr, **options)
