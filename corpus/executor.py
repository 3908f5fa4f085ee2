"""One way to run corpus-level work: serially, on a local process pool, or on Dask.

Corpus-level work (a motif census with its null models per graph, imports,
comparisons) is a bag of independent tasks. A task is a picklable function
applied to a small payload (typically a corpus directory and a graph id: each
worker loads its own graph, so the driver never holds the corpus). Every
executor yields :class:`TaskOutcome` objects as tasks finish, keeps a bounded
number of tasks in flight (the task iterable is consumed lazily, so a corpus
of any size is scheduled in constant driver memory), and turns a task's
exception into a failed outcome instead of stopping the run.

Executor specs, as the command line takes them (``--executor``):

``serial``
    In this process, one task after another (debugging, tiny corpora).
``pool``
    A local process pool of ``jobs`` workers (default: all usable cores).
``dask-local``
    A ``distributed.LocalCluster`` of ``jobs`` single-threaded workers,
    started for the run and closed after it.
``dask://HOST:PORT`` (or ``tcp://``, ``tls://``, ``ws://``, ``wss://``)
    An existing Dask scheduler. Its workers must have this package installed
    and see the corpus directory at the same path (a shared file system).

Dask is an optional dependency (``pip install circuit-grammar[dask]``); it is
imported only when a Dask executor is opened.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import traceback
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator

from corpus.errors import CorpusError

#: Executor kinds that take no address.
LOCAL_KINDS: tuple[str, ...] = ("serial", "pool", "dask-local")

#: URL schemes naming an existing Dask scheduler.
DASK_SCHEMES: tuple[str, ...] = ("dask://", "tcp://", "tls://", "ws://", "wss://")

#: Message of a task whose worker process died (killed, out of memory, crashed).
WORKER_DIED = "worker process died while running this task (killed or out of memory?)"

Task = tuple[Hashable, Any]

#: Dask settings for the LocalCluster we start. Two Dask defaults cost numpy-heavy tasks
#: dearly (measured on a motif census block: 1.65x the serial CPU time with both, 1.05x
#: without): the nanny's MALLOC_TRIM_THRESHOLD_ stops glibc from adapting its mmap threshold,
#: so every large numpy temporary is a fresh mmap faulted in page by page (10x the system
#: time); the statistical profiler samples every worker thread's stack every 10 ms.
DASK_LOCAL_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


@dataclass(frozen=True)
class TaskOutcome:
    """What became of one task.

    Attributes
    ----------
    key : hashable
        The key the task was submitted with.
    value : Any
        The function's return value (None when it failed).
    error : str or None
        ``"ExceptionType: message"`` when the task failed, else None.
    traceback : str or None
        The formatted traceback of a failed task, when one was caught.
    """

    key: Hashable
    value: Any = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Thread-count variables of the numeric libraries, set to 1 in pool workers.
_THREAD_VARIABLES: tuple[str, ...] = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                      "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _single_threaded_worker() -> None:
    """Pool worker initialiser: one BLAS/OpenMP thread per process, as Dask's nanny does.

    The pool already uses every core with processes; threads inside each
    worker would oversubscribe them. Runs before the worker imports numpy.
    """
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"


def _guarded(fn: Callable[[Any], Any], payload: Any) -> tuple[bool, Any, str | None]:
    """Run ``fn(payload)`` in a worker; an exception becomes data, not a crash."""
    try:
        return True, fn(payload), None
    except Exception as exc:  # noqa: BLE001 - every task failure is reported, none kills the run
        return False, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def _outcome(key: Hashable, guarded: tuple[bool, Any, str | None]) -> TaskOutcome:
    ok, value, trace = guarded
    return TaskOutcome(key, value) if ok else TaskOutcome(key, None, value, trace)


class Executor:
    """Base class: ``run(fn, tasks)`` yields a :class:`TaskOutcome` per task as each finishes.

    Use as a context manager so that pools and clusters are shut down::

        with open_executor("pool", jobs=4) as ex:
            for outcome in ex.run(work, ((key, payload) for ...)):
                ...
    """

    kind: str = ""
    n_workers: int = 1

    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Task]) -> Iterator[TaskOutcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (a no-op for the serial executor)."""

    def describe(self) -> str:
        """A short phrase for messages, e.g. ``"pool of 4 processes"``."""
        return self.kind

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Tasks run in this process, in submission order."""

    kind = "serial"

    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Task]) -> Iterator[TaskOutcome]:
        for key, payload in tasks:
            yield _outcome(key, _guarded(fn, payload))


def _submit(pool: cf.ProcessPoolExecutor, fn: Callable[[Any], Any], task: Task,
            pending: dict[cf.Future, Task]) -> bool:
    """Submit ``task`` into ``pending``; False when the pool broke first (a worker died
    since the last wait), and then nothing ran the task."""
    try:
        pending[pool.submit(_guarded, fn, task[1])] = task
    except BrokenProcessPool:
        return False
    return True


class PoolExecutor(Executor):
    """A local pool of worker processes (started with ``spawn``), one thread each.

    ``spawn`` rather than ``fork``: the driver may hold threads (a progress
    bar's monitor, a Dask client), and forking a threaded process can
    deadlock the child. Like Dask's workers, each process runs its numeric
    libraries single-threaded, so ``jobs`` processes use ``jobs`` cores.
    A worker that dies (killed, out of memory) breaks the pool: the tasks it
    took down are re-run one at a time in a fresh pool, so only the task
    that kills its worker is reported as failed.
    """

    kind = "pool"

    def __init__(self, jobs: int | None = None, max_in_flight: int | None = None):
        self.n_workers = jobs or usable_cores()
        self.max_in_flight = max_in_flight or 2 * self.n_workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def describe(self) -> str:
        return f"pool of {self.n_workers} process{'es' if self.n_workers != 1 else ''}"

    def _fresh_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.n_workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_single_threaded_worker)
        return self._pool

    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Task]) -> Iterator[TaskOutcome]:
        pool = self._pool or self._fresh_pool()
        todo = iter(tasks)
        unsent: deque[Task] = deque()  # taken, but the pool broke before it was submitted
        suspects: deque[Task] = deque()  # tasks in flight when a worker died
        pending: dict[cf.Future, Task] = {}
        isolating = False  # a suspect runs alone, so a second death convicts it
        exhausted = False
        while True:
            refused = False  # a worker died after the last wait: the pool takes nothing now
            while not isolating and len(pending) < self.max_in_flight:
                task = unsent.popleft() if unsent else None if exhausted else next(todo, None)
                if task is None:
                    exhausted = True
                    break
                refused = not _submit(pool, fn, task, pending)
                if refused:
                    unsent.appendleft(task)
                    break
            if not pending and suspects and not refused:
                task = suspects.popleft()
                refused = not _submit(pool, fn, task, pending)
                if refused:
                    suspects.appendleft(task)
                isolating = not refused
            if refused and not pending:
                pool = self._fresh_pool()
                continue
            if not pending:
                return
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in done:
                task = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken = True
                    if isolating:
                        yield TaskOutcome(task[0], None, WORKER_DIED)
                    else:
                        suspects.append(task)
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
                    yield TaskOutcome(task[0], None, f"{type(exc).__name__}: {exc}")
                    continue
                yield _outcome(task[0], result)
            if broken:
                # every other future of a broken pool fails too: re-run those tasks in isolation
                if not isolating:
                    suspects.extend(pending.values())
                pending.clear()
                pool = self._fresh_pool()
            isolating = isolating and bool(pending)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Tasks run on a Dask ``distributed`` cluster: a LocalCluster or a scheduler address.

    Dask re-runs a task whose worker died and reports ``KilledWorker`` after
    its retry limit; that and any other error become a failed outcome.
    """

    kind = "dask"

    def __init__(self, address: str | None = None, jobs: int | None = None,
                 processes: bool = True, max_in_flight: int | None = None,
                 connect_timeout_s: float = 20.0):
        try:
            import dask
            import distributed
        except ImportError:
            raise CorpusError("the Dask executor needs the optional dependency: "
                              "pip install 'circuit-grammar[dask]'") from None
        self._cluster = None
        if address is None:
            with dask.config.set(DASK_LOCAL_CONFIG):
                self._cluster = distributed.LocalCluster(
                    n_workers=jobs or usable_cores(), threads_per_worker=1, processes=processes,
                    dashboard_address=None, silence_logs=logging.ERROR)
            self.kind = "dask-local"
            target: Any = self._cluster
        else:
            target = address
        try:
            self._client = distributed.Client(target, timeout=connect_timeout_s,
                                              set_as_default=False)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise CorpusError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
        self.address = address or self._cluster.scheduler_address
        threads = self._client.nthreads()
        self._n_processes = len(threads)
        self.n_workers = max(1, sum(threads.values()))
        self.max_in_flight = max_in_flight or 2 * self.n_workers

    def describe(self) -> str:
        where = "local cluster" if self._cluster is not None else f"scheduler {self.address}"
        return f"dask {where} ({self._n_processes} workers, {self.n_workers} threads)"

    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Task]) -> Iterator[TaskOutcome]:
        import distributed

        todo = iter(tasks)
        keys: dict[str, Hashable] = {}

        def submit(task: Task) -> distributed.Future:
            future = self._client.submit(_guarded, fn, task[1], pure=False)
            keys[future.key] = task[0]
            return future

        first = [submit(t) for t in (next(todo, None) for _ in range(self.max_in_flight))
                 if t is not None]
        stream = distributed.as_completed(first, loop=self._client.loop)
        for future in stream:
            key = keys.pop(future.key)
            try:
                yield _outcome(key, future.result())
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection...
                yield TaskOutcome(key, None, f"{type(exc).__name__}: {exc}")
            future.release()
            task = next(todo, None)
            if task is not None:
                stream.add(submit(task))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def open_executor(spec: str | None = "pool", jobs: int | None = None,
                  dask_processes: bool = True) -> Executor:
    """The executor named by ``spec``; close it (or use ``with``) when done.

    Parameters
    ----------
    spec : str or None
        ``serial``, ``pool`` (default), ``dask-local`` or a Dask scheduler
        address ``dask://host:port`` (``tcp://...`` etc. also accepted).
    jobs : int, optional
        Workers for ``pool`` and ``dask-local`` (default: all usable cores).
        ``pool`` with ``jobs=1`` runs serially: a one-process pool only adds
        start-up time.
    dask_processes : bool
        ``dask-local`` workers as processes (default) or as threads of this
        process (quicker to start; for tests and small runs).

    Raises
    ------
    CorpusError
        An unknown spec, a non-positive ``jobs``, Dask not installed, or a
        scheduler that cannot be reached.

    Examples
    --------
    >>> with open_executor("serial") as ex:
    ...     [o.value for o in ex.run(abs, [("a", -2), ("b", 3)])]
    [2, 3]
    >>> with open_executor("serial") as ex:
    ...     next(iter(ex.run(int, [("bad", "x")]))).error
    "ValueError: invalid literal for int() with base 10: 'x'"
    """
    if jobs is not None and jobs < 1:
        raise CorpusError(f"jobs must be a positive number of workers, got {jobs}")
    spec = (spec or "pool").strip()
    if spec == "serial" or (spec == "pool" and jobs == 1):
        return SerialExecutor()
    if spec == "pool":
        return PoolExecutor(jobs)
    if spec == "dask-local":
        return DaskExecutor(None, jobs, processes=dask_processes)
    if spec.startswith(DASK_SCHEMES):
        address = spec[len("dask://"):] if spec.startswith("dask://") else spec
        if "://" not in address:
            address = f"tcp://{address}"
        if not address.split("://", 1)[1]:
            raise CorpusError(f"executor {spec!r}: no scheduler host:port after the scheme")
        return DaskExecutor(address)
    raise CorpusError(f"unknown executor {spec!r}: use serial, pool, dask-local or "
                      f"dask://host:port")
