"""The executor: serial, process pool and Dask run the same tasks to the same results."""

from __future__ import annotations

import os

import pytest

from corpus.errors import CorpusError
from corpus.executor import WORKER_DIED, DaskExecutor, PoolExecutor, open_executor


def triad_census_of_random_graph(seed: int) -> dict[str, int]:
    """Stand-in corpus task: networkx's triad census of a seeded random digraph."""
    import networkx as nx

    graph = nx.gnp_random_graph(12, 0.25, seed=seed, directed=True)
    if seed == 3:
        raise ValueError("graph 3 is malformed")
    return nx.triadic_census(graph)


def exit_on_seven(x: int) -> int:
    """A task that kills its own worker process on input 7."""
    if x == 7:
        os._exit(3)
    return x * x


def unpicklable_result(x: int):
    return lambda: x


def blas_threads(_: object) -> str | None:
    return os.environ.get("OPENBLAS_NUM_THREADS")


def _run(spec: str, fn, payloads, **kw) -> dict:
    with open_executor(spec, **kw) as ex:
        return {o.key: (o.value, o.error) for o in ex.run(fn, ((p, p) for p in payloads))}


def test_serial_pool_and_dask_give_identical_results_and_isolate_failures():
    seeds = list(range(6))
    serial = _run("serial", triad_census_of_random_graph, seeds)
    pool = _run("pool", triad_census_of_random_graph, seeds, jobs=2)
    dask = _run("dask-local", triad_census_of_random_graph, seeds, jobs=2, dask_processes=False)
    assert serial == pool == dask
    assert serial[3] == (None, "ValueError: graph 3 is malformed")
    import networkx as nx

    expected = nx.triadic_census(nx.gnp_random_graph(12, 0.25, seed=5, directed=True))
    assert serial[5] == (expected, None)
    assert sum(serial[5][0].values()) == 12 * 11 * 10 // 6  # every triad counted once


def test_existing_dask_scheduler_by_address():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        host_port = cluster.scheduler_address.split("://", 1)[1]
        with open_executor(f"dask://{host_port}") as ex:
            assert ex.n_workers == 2
            assert "scheduler" in ex.describe()
            got = {o.key: o.value for o in ex.run(abs, [("a", -4), ("b", 5)])}
    assert got == {"a": 4, "b": 5}


def test_pool_worker_death_fails_only_the_task_that_killed_it():
    with PoolExecutor(jobs=2) as ex:
        outcomes = {o.key: o for o in ex.run(exit_on_seven, ((x, x) for x in range(10)))}
        # the pool survives its broken workers, and every worker is single-threaded
        threads = {o.value for o in ex.run(blas_threads, ((x, x) for x in range(4)))}
        unsendable = next(iter(ex.run(unpicklable_result, [("u", 1)])))
    assert sorted(outcomes) == list(range(10))
    assert outcomes[7].error == WORKER_DIED
    assert {k: o.value for k, o in outcomes.items() if k != 7} == \
        {x: x * x for x in range(10) if x != 7}
    assert threads == {"1"}
    assert unsendable.key == "u" and "pickle" in unsendable.error.lower()


class _PoolBrokenAtSubmit:
    """A real process pool whose ``refuse``-th submit raises BrokenProcessPool, as a pool
    does when a worker died between the driver's last wait and its next submit."""

    submits = 0

    def __init__(self, pool, refuse: int):
        self.pool, self.refuse = pool, refuse

    def submit(self, *args, **kwargs):
        from concurrent.futures.process import BrokenProcessPool

        type(self).submits += 1
        if type(self).submits == self.refuse:
            raise BrokenProcessPool("a child process terminated abruptly")
        return self.pool.submit(*args, **kwargs)

    def shutdown(self, *args, **kwargs):
        self.pool.shutdown(*args, **kwargs)


def test_pool_broken_before_a_submit_loses_no_task_and_reports_no_death():
    """The race of a worker dying after a wait: the refused task never ran, so it is sent
    again to a fresh pool; every task gets its result (none reported dead)."""
    class Racy(PoolExecutor):
        def _fresh_pool(self):
            return _PoolBrokenAtSubmit(super()._fresh_pool(), refuse=6)

    _PoolBrokenAtSubmit.submits = 0
    with Racy(jobs=2) as ex:
        outcomes = {o.key: o for o in ex.run(abs, ((x, -x) for x in range(12)))}
    assert _PoolBrokenAtSubmit.submits > 12  # the refused one was submitted again
    assert {k: (o.value, o.error) for k, o in outcomes.items()} == \
        {x: (x, None) for x in range(12)}


def test_tasks_are_pulled_lazily_with_bounded_in_flight():
    pulled = []

    def tasks():
        for x in range(40):
            pulled.append(x)
            yield x, x

    with open_executor("dask-local", jobs=2, dask_processes=False) as ex:
        stream = ex.run(abs, tasks())
        next(stream)
        assert len(pulled) <= ex.max_in_flight + 1  # driver memory: a window, not the corpus
        assert sum(1 for _ in stream) == 39


@pytest.mark.parametrize("spec, jobs, message", [
    ("threads", None, "unknown executor 'threads'"),
    ("pool", 0, "jobs must be a positive number"),
    ("dask://", None, "no scheduler host:port"),
])
def test_bad_executor_specs_are_clear_errors(spec, jobs, message):
    with pytest.raises(CorpusError, match=message):
        open_executor(spec, jobs=jobs)


def test_unreachable_scheduler_is_a_corpus_error():
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CorpusError, match=f"cannot reach the Dask scheduler at "
                                          f"tcp://127.0.0.1:{port}"):
        DaskExecutor(f"tcp://127.0.0.1:{port}", connect_timeout_s=1)


def worker_settings(_: object) -> tuple[str | None, bool, str | None]:
    import dask

    return (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            dask.config.get("distributed.worker.profile.enabled"),
            os.environ.get("OMP_NUM_THREADS"))


def test_local_dask_worker_processes_skip_memory_trim_and_profiler():
    # both Dask defaults cost numpy-heavy tasks ~1.6x CPU (see DASK_LOCAL_CONFIG)
    pytest.importorskip("distributed")
    with open_executor("dask-local", jobs=1) as ex:
        outcome = next(iter(ex.run(worker_settings, [("w", None)])))
    assert outcome.value == (None, False, "1")
