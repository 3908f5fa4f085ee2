"""The ``cgram`` command line: one thin dispatcher over the packages' sub-commands.

Each package owns its sub-commands in a ``cli`` module listed in
:data:`COMMAND_MODULES`; its ``register(subparsers)`` imports nothing heavy
(torch, pandas, igraph are imported inside the handlers), so ``cgram --help``
and ``cgram motifs --help`` start fast. A listed module that cannot be
imported is an error, never a sub-command silently missing from ``--help``.

Exit codes, the same for every sub-command:

===  ==========================================================================
0    success
1    a known error (:class:`~corpus.errors.CorpusError`,
     :class:`~motifs.errors.MotifError`, :class:`~tracer.errors.TracerError`),
     printed as ``cgram: error: MESSAGE``; or a command that finished and
     listed the inputs that failed (``import``, ``motifs``, ``compare``)
2    a usage error: bad or missing arguments (argparse), or no command
130  interrupted (Ctrl-C)
===  ==========================================================================

Run it as ``cgram ...`` or ``python -m cgram.cli ...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from cgram.options import error
from corpus.errors import CorpusError
from motifs.errors import MotifError
from tracer.errors import TracerError

#: Modules that contribute sub-commands, in help order; each defines ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "corpus.cli",
    "tracer.cli",
    "tracer.global_cli",
    "tracer.zoo.cli",
    "tracer.mechanisms_cli",
    "motifs.cli",
    "reports.cli",
    "reports.view_cli",
    "cgram.demo",
)

#: The errors a command reports as ``cgram: error: MESSAGE`` with exit code 1.
KNOWN_ERRORS: tuple[type[Exception], ...] = (CorpusError, MotifError, TracerError)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandLoadError(RuntimeError):
    """A module of :data:`COMMAND_MODULES` cannot be imported or has no ``register``."""


def build_parser(modules: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``cgram`` parser with the sub-commands of ``modules`` (default :data:`COMMAND_MODULES`).

    Raises
    ------
    CommandLoadError
        Naming the module that fails to import (and why) or lacks ``register``.
    """
    parser = argparse.ArgumentParser(
        prog="cgram",
        description="circuit-grammar: attribution graphs and their network motifs.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if modules is None else modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise CommandLoadError(f"cannot load the sub-commands of {name}: {exc} "
                                   "(is the installation complete?)") from exc
        register = getattr(module, "register", None)
        if register is None:
            raise CommandLoadError(f"{name} has no register(subparsers) function")
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cgram``; returns the exit code (see the module docstring)."""
    try:
        parser = build_parser()
    except CommandLoadError as exc:
        error(str(exc))
        return EXIT_ERROR
    args = parser.parse_args(argv)  # a usage error exits with 2 here
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except KNOWN_ERRORS as exc:
        error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
