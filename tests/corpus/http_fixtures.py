"""A real HTTP server on 127.0.0.1 for tests that download.

``LocalServer`` is the standard library's ``ThreadingHTTPServer`` bound to
port 0 (the OS picks a free port) and run in a thread. Tests register routes
(a path and what to answer), then make real requests with whatever client the
code under test uses, and read back what the server saw: every request is
recorded with its path, query and headers, so a test can assert how many
requests a download made.

Use the ``http_server`` fixture (import it into the test module)::

    from tests.corpus.http_fixtures import LocalServer, Reply, http_server  # noqa: F401

    def test_x(http_server: LocalServer):
        http_server.add("/a.json", Reply(200, {"Content-Type": "application/json"}, b"{}"))
        ...
        assert http_server.count("/a.json") == 1

Nothing here talks to any address but 127.0.0.1, and every wait is bounded:
a hanging route waits at most its own ``seconds`` and returns as soon as the
server stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers and body (Content-Length is added)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Seconds to wait before answering (a hanging server); cut short at stop.
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Route = Callable[[Recorded], Reply]


class LocalServer:
    """Threaded HTTP server on 127.0.0.1, routes by path, records requests."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    # ------------------------------------------------------------- set-up
    @property
    def url(self) -> str:
        """``http://127.0.0.1:{port}``, no trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, reply: Reply | Route) -> None:
        """Answer GET ``path`` (query ignored) with ``reply``, or with what
        ``reply(request)`` returns when it is a function."""
        self._routes[path] = reply if callable(reply) else (lambda _request, r=reply: r)

    def add_sequence(self, path: str, replies: Sequence[Reply]) -> None:
        """Answer the n-th request of ``path`` with ``replies[n]``; the last
        reply repeats once the sequence is used up."""
        state = {"n": 0}

        def route(_request: Recorded) -> Reply:
            with self._lock:
                n = state["n"]
                state["n"] += 1
            return replies[min(n, len(replies) - 1)]

        self._routes[path] = route

    def count(self, path: str | None = None) -> int:
        """Requests received for ``path``, or in all when ``path`` is None."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    # ------------------------------------------------------------ running
    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # release hanging handlers first
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(self, raw_path: str, headers: dict[str, str]) -> Reply:
        parts = urlsplit(raw_path)
        request = Recorded(parts.path, parse_qs(parts.query), headers)
        with self._lock:
            self.requests.append(request)
        route = self._routes.get(parts.path)
        if route is None:
            return Reply(404, {"Content-Type": "text/plain"}, b"no such route")
        return route(request)


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            reply = server._answer(self.path, dict(self.headers.items()))
            if reply.delay and server.stopping.wait(reply.delay):
                return  # the server is stopping: drop the connection
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up (a timeout test): nothing to tell it

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A started :class:`LocalServer`, stopped at teardown.

    Requests to 127.0.0.1 bypass any proxy configured in the environment, so
    test traffic never leaves the machine.
    """
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()
