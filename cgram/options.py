"""The flags several ``cgram`` sub-commands share, defined once.

A leaf module: it imports the standard library only, so every package's
``cli`` may use it (``corpus/cli.py`` included) without pulling in the others.

``--corpus DIR`` has one meaning everywhere: the corpus a command works on,
``$CGRAM_CORPUS`` or ``./corpus-data`` when omitted. The commands that
*produce* a graph (``cgram trace``, ``cgram global``) write it to a corpus
only when one is named, by ``--corpus`` or by ``$CGRAM_CORPUS``
(:func:`corpus_to_add`): with neither they write ``-o FILE`` alone, so a trace
never lands in ``./corpus-data`` by surprise.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

#: The environment variable naming the default corpus (``corpus.store.CORPUS_ENV``).
CORPUS_ENV = "CGRAM_CORPUS"

#: What ``--executor`` accepts (``corpus.executor.open_executor``).
EXECUTOR_HELP = ("serial, pool (default), dask-local, or dask://HOST:PORT for an existing Dask "
                 "scheduler (its workers must see the corpus directory)")


def error(message: str) -> None:
    """Print ``cgram: error: MESSAGE`` on stderr: the one form of a reported error."""
    print(f"cgram: error: {message}", file=sys.stderr)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``minimum``, else a usage error.

    Examples
    --------
    >>> positive_int("3"), int_at_least(2)("2")
    (3, 2)
    >>> int_at_least(2)("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at least 2, got 1
    >>> positive_int("x")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 'x' is not an integer
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"  # argparse names the type in its messages
    return parse


#: ``N >= 1``: worker counts, sample counts, ``--top-k``.
positive_int = int_at_least(1)


def add_corpus(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--corpus DIR`` (default ``None``: ``$CGRAM_CORPUS`` or ``./corpus-data``)."""
    parser.add_argument("--corpus", metavar="DIR", default=None,
                        help=help or "corpus directory (default: $CGRAM_CORPUS or ./corpus-data)")


def add_graph_outputs(parser: argparse.ArgumentParser) -> None:
    """``--corpus DIR`` and ``-o FILE`` of a command that produces a graph (trace, global)."""
    add_corpus(parser, help="add the graph to this corpus (default: $CGRAM_CORPUS when set; "
                            "with neither, the graph goes to -o FILE only)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="write Neuronpedia graph JSON here")


def corpus_to_add(args: argparse.Namespace) -> str | None:
    """The corpus a produced graph goes to: ``--corpus``, else ``$CGRAM_CORPUS``, else None.

    Examples
    --------
    >>> import os
    >>> env = os.environ.pop(CORPUS_ENV, None)
    >>> corpus_to_add(argparse.Namespace(corpus=None)), corpus_to_add(argparse.Namespace(corpus="c"))
    (None, 'c')
    >>> os.environ[CORPUS_ENV] = "shared"; corpus_to_add(argparse.Namespace(corpus=None))
    'shared'
    >>> _ = os.environ.pop(CORPUS_ENV) if env is None else os.environ.update({CORPUS_ENV: env})
    """
    return args.corpus or os.environ.get(CORPUS_ENV) or None


def add_jobs(parser: argparse.ArgumentParser, help: str = "workers (default: all cores)") -> None:
    """``-j/--jobs N`` (N >= 1; default None: all cores)."""
    parser.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N", help=help)


def add_executor(parser: argparse.ArgumentParser, default: str | None = "pool",
                 help: str = EXECUTOR_HELP) -> None:
    """``--executor KIND``: serial, pool, dask-local or dask://HOST:PORT."""
    parser.add_argument("--executor", default=default, metavar="KIND", help=help)


def add_quiet(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``-q/--quiet``."""
    parser.add_argument("-q", "--quiet", action="store_true", help=help)


def add_run_options(parser: argparse.ArgumentParser, *, null: dict[str, Any], n_null: int,
                    n_null_min: int = 1, quiet_help: str) -> None:
    """The options of a motif run, shared by ``motifs``, ``compare`` and ``report``.

    Adds ``--corpus``, ``--null``, ``--n-null``, ``--seed``, ``-j/--jobs``,
    ``--executor`` and ``-q/--quiet``, in that order.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    null : dict
        Keyword arguments of ``--null`` (one null name for ``motifs``, a
        comma-separated list for ``compare`` and ``report``).
    n_null : int
        Default of ``--n-null``.
    n_null_min : int
        Smallest ``--n-null`` accepted (2 where a null standard deviation is
        reported from the samples of each graph).
    quiet_help : str
        What ``-q`` silences in this command.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_run_options(p, null=dict(default=None), n_null=1000, quiet_help="silence")
    >>> a = p.parse_args(["-j", "2", "--seed", "7"])
    >>> a.corpus, a.null, a.n_null, a.seed, a.jobs, a.executor, a.quiet
    (None, None, 1000, 7, 2, 'pool', False)
    """
    add_corpus(parser)
    parser.add_argument("--null", **null)
    parser.add_argument("--n-null", type=int_at_least(n_null_min), default=n_null, metavar="N",
                        help=f"null samples per graph and null model (default {n_null})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_jobs(parser)
    add_executor(parser)
    add_quiet(parser, quiet_help)



def add_network_options(parser: argparse.ArgumentParser) -> None:
    """The network and motif options of a motif run, shared by ``motifs`` and ``report``.

    Adds ``--size``, ``--signed``, ``--keep-errors``, ``--min-weight`` and
    ``--top-k``; :func:`network_options` turns them into the keywords of
    ``motifs.corpus_run.run_motifs``, so a report reproduces a motif run.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_network_options(p)
    >>> network_options(p.parse_args(["--signed", "--min-weight", "0.5"]))
    {'size': 3, 'signed': True, 'keep_errors': False, 'min_abs_weight': 0.5, 'top_k': None}
    """
    parser.add_argument("--size", type=int, choices=(3, 4), default=3, help="motif size (default 3)")
    parser.add_argument("--signed", action="store_true",
                        help="signed triads: FFL types ffl_C1..ffl_I4, signed chains and fans")
    parser.add_argument("--keep-errors", action="store_true",
                        help="keep error nodes in the network")
    parser.add_argument("--min-weight", type=float, default=None, metavar="W",
                        help="drop edges with |weight| below W")
    parser.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                        help="keep only the K strongest edges")


def network_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`add_network_options` as ``run_motifs`` keywords."""
    return dict(size=args.size, signed=args.signed, keep_errors=args.keep_errors,
                min_abs_weight=args.min_weight, top_k=args.top_k)
