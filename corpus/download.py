"""Download attribution-graph JSON over HTTP, with an on-disk cache.

What a person pastes after ``cgram import`` becomes a list of graph JSON
downloads here; parsing them is :mod:`corpus.neuronpedia`'s job. Four kinds of
URL are understood:

- a Neuronpedia graph page, ``https://www.neuronpedia.org/{model}/graph?slug=...``
  (other query parameters such as ``pruningThreshold`` are ignored): it is
  resolved through the metadata API below, the page itself is never fetched;
- the Neuronpedia metadata API, ``https://www.neuronpedia.org/api/graph/{model}/{slug}``,
  which answers with the graph's database row, whose ``url`` field says where
  the graph JSON lives in storage;
- a ``graph-metadata.json`` index ``{"graphs": [{"slug": ...}, ...]}``: every
  graph it lists is downloaded. An index in a folder named ``data`` has its
  graphs in the sibling folder ``graph_data/{slug}.json`` (the layout of
  transformer-circuits.pub, of Neuronpedia's buckets and of circuit-tracer's
  local server); any other index has them beside it as ``{slug}.json`` (the
  folder circuit-tracer's ``create_graph_files`` writes);
- any other http(s) URL: a graph JSON, plain or gzip-compressed (recognised by
  ``Content-Encoding: gzip``, by the gzip magic bytes, or by a ``.gz`` suffix).

Requests use the standard library only. Each has a timeout; 429 and 5xx
answers, timeouts and broken connections are retried with exponential backoff
(honouring ``Retry-After``); every other failure raises
:class:`~corpus.errors.CorpusError` naming the URL. Every successful answer is
cached on disk, keyed by the SHA-256 of its URL and written atomically, so a
second import of the same URL makes no request and ``offline=True`` works from
the cache alone.

Environment
-----------
``CGRAM_NEURONPEDIA_URL``, ``CGRAM_TRANSFORMER_CIRCUITS_URL``
    Replace the base URLs ``NEURONPEDIA_URL`` and ``TRANSFORMER_CIRCUITS_URL``
    (a mirror, or a local test server): URLs naming the public hosts are
    rewritten onto these bases before any request.
``CGRAM_CACHE``
    The cache directory (default ``~/.cache/circuit-grammar/http``).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.client
import json
import math
import os
import posixpath
import socket
import time
import urllib.error
import urllib.request
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit, urlunsplit

from corpus.progress import progress_bar

from corpus.atomic import atomic_write_bytes
from corpus.errors import CorpusError

#: Public Neuronpedia; ``CGRAM_NEURONPEDIA_URL`` overrides it.
NEURONPEDIA_URL = "https://www.neuronpedia.org"
#: Anthropic's publication site; ``CGRAM_TRANSFORMER_CIRCUITS_URL`` overrides it.
TRANSFORMER_CIRCUITS_URL = "https://transformer-circuits.pub"
NEURONPEDIA_HOSTS = ("www.neuronpedia.org", "neuronpedia.org")
TRANSFORMER_CIRCUITS_HOSTS = ("transformer-circuits.pub",)
#: File name of a graph index (Anthropic, Neuronpedia buckets, circuit-tracer).
INDEX_NAME = "graph-metadata.json"
#: Longest ``Retry-After`` we wait for; a server asking for more gets an error.
MAX_RETRY_AFTER = 120.0
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"circuit-grammar/{version('circuit-grammar')} (python-urllib)"
    except PackageNotFoundError:
        return "circuit-grammar (python-urllib)"


USER_AGENT = _user_agent()


@dataclass(frozen=True)
class Fetched:
    """One downloaded graph JSON.

    Attributes
    ----------
    origin : str
        The URL the bytes finally came from (after redirects).
    data : bytes
        The graph JSON, gzip already undone.
    overrides : dict
        Metadata learned from the URL or the index entry (``slug``, ``model``),
        to pass on as ``neuronpedia.loads(data, origin, **overrides)``.
    """

    origin: str
    data: bytes
    overrides: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- URL forms
def is_url(text: object) -> bool:
    """Whether ``text`` is an http(s) URL (as opposed to a file path).

    Examples
    --------
    >>> is_url("https://www.neuronpedia.org/gemma-2-2b/graph?slug=meow")
    True
    >>> is_url("graphs/meow.json"), is_url("C:\\\\graphs\\\\meow.json"), is_url("ftp://host/x.json")
    (False, False, False)
    """
    if not isinstance(text, str):
        return False
    try:
        parts = urlsplit(text.strip())
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _base(env: str, default: str) -> str:
    base = os.environ.get(env) or default
    if not is_url(base):
        raise CorpusError(f"{env}={base!r} is not an http(s) URL")
    return base.strip().rstrip("/")


def _neuronpedia_url() -> str:
    """The Neuronpedia base URL in force (``CGRAM_NEURONPEDIA_URL`` or the default)."""
    return _base("CGRAM_NEURONPEDIA_URL", NEURONPEDIA_URL)


def _transformer_circuits_url() -> str:
    """The transformer-circuits base URL in force (``CGRAM_TRANSFORMER_CIRCUITS_URL``
    or the default)."""
    return _base("CGRAM_TRANSFORMER_CIRCUITS_URL", TRANSFORMER_CIRCUITS_URL)


def _rebase(url: str) -> str:
    """``url`` moved onto the configured base when it names a public host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in NEURONPEDIA_HOSTS:
        base = _neuronpedia_url()
    elif host in TRANSFORMER_CIRCUITS_HOSTS:
        base = _transformer_circuits_url()
    else:
        return url
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def _neuronpedia_graph(url: str) -> tuple[str, str] | None:
    """(model, slug) when ``url`` is a Neuronpedia graph page or metadata API URL."""
    base, parts = urlsplit(_neuronpedia_url()), urlsplit(url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    if not parts.path.startswith(base.path.rstrip("/") + "/"):
        return None
    segments = [unquote(s) for s in parts.path[len(base.path.rstrip("/")):].strip("/").split("/")]
    if len(segments) == 4 and segments[:2] == ["api", "graph"] and all(segments[2:]):
        return segments[2], segments[3]
    if len(segments) == 2 and segments[1] == "graph" and segments[0]:
        slugs = [s for s in parse_qs(parts.query).get("slug", []) if s.strip()]
        if not slugs:
            raise CorpusError(
                f"{url}: a Neuronpedia graph URL must name its graph with ?slug=..."
            )
        return segments[0], slugs[0].strip()
    return None


def _neuronpedia_overrides(model: str, slug: str) -> dict[str, Any]:
    # Neuronpedia files Anthropic's graphs under their scan id (jackl-...),
    # which names a training run, not a model: the parser maps scans to
    # models from the file itself, so only the slug is passed on.
    if model.startswith("jackl-"):
        return {"slug": slug}
    return {"slug": slug, "model": model}


def _index_graph_urls(index_url: str, index: Any) -> list[tuple[str, dict[str, Any]]]:
    """Graph URLs and overrides for each entry of a ``graph-metadata.json``."""
    graphs = index.get("graphs") if isinstance(index, dict) else None
    if not isinstance(graphs, list):
        raise CorpusError(f"{index_url}: a {INDEX_NAME} index must hold a 'graphs' list")
    if not graphs:
        raise CorpusError(f"{index_url}: the index lists no graphs")
    parts = urlsplit(index_url)
    folder = posixpath.dirname(parts.path)
    if posixpath.basename(folder) == "data":
        folder = posixpath.join(posixpath.dirname(folder), "graph_data")
    out = []
    for i, entry in enumerate(graphs):
        slug = entry.get("slug") if isinstance(entry, dict) else None
        if not isinstance(slug, str) or not slug.strip() or "/" in slug:
            raise CorpusError(
                f"{index_url}: graph {i} of the index has no usable 'slug' ({str(entry)[:80]})"
            )
        path = posixpath.join(folder, quote(slug.strip()) + ".json")
        out.append((urlunsplit((parts.scheme, parts.netloc, path, "", "")), {"slug": slug.strip()}))
    return out


# ------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    """The HTTP cache directory: ``$CGRAM_CACHE``, else ``~/.cache/circuit-grammar/http``.

    Examples
    --------
    >>> import os
    >>> default_cache_dir() == Path(os.environ.get("CGRAM_CACHE")
    ...                             or "~/.cache/circuit-grammar/http").expanduser()
    True
    """
    env = os.environ.get("CGRAM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "circuit-grammar" / "http"


def cache_path(url: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the answer for ``url`` is cached: ``{cache_dir}/{sha256(url)}.gz``.

    Examples
    --------
    >>> cache_path("https://example.org/g.json", "/tmp/c").name[:12]
    '6fcd97460941'
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / (hashlib.sha256(url.encode()).hexdigest() + ".gz")


def _cache_read(path: Path, url: str) -> tuple[str, bytes] | None:
    """(final URL, body) cached for ``url``, or None when absent or unreadable."""
    try:
        header, _, body = gzip.decompress(path.read_bytes()).partition(b"\n")
        meta = json.loads(header)
    except (OSError, EOFError, zlib.error, ValueError):
        return None  # absent, or cut short by a crash: download again
    if not isinstance(meta, dict) or meta.get("url") != url:
        return None
    return str(meta.get("final_url") or url), body


def _cache_write(path: Path, url: str, final_url: str, body: bytes) -> None:
    """Store atomically: a reader sees the old entry or the whole new one."""
    header = json.dumps({"url": url, "final_url": final_url}).encode()
    try:
        atomic_write_bytes(path, gzip.compress(header + b"\n" + body, compresslevel=1))
    except OSError as err:
        # The download itself succeeded; a cache we cannot write only costs a
        # second download later, so say so instead of failing the import.
        warnings.warn(f"could not cache {url} in {path.parent}: {err}", stacklevel=3)


# -------------------------------------------------------------------- HTTP
def _retry_after(value: str | None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _gunzip(url: str, body: bytes) -> bytes:
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as err:
        raise CorpusError(
            f"{url}: invalid gzip data ({err}); the download is truncated or corrupt"
        ) from None


def _decode(url: str, body: bytes, encoding: str) -> bytes:
    """Undo gzip, whether the server says so (Content-Encoding) or the bytes
    and the name do (a ``.json.gz`` file served as is)."""
    encoding = encoding.strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise CorpusError(f"{url}: unsupported Content-Encoding {encoding!r}")
    claimed = encoding in ("gzip", "x-gzip") or urlsplit(url).path.endswith(".gz")
    # Some proxies decompress but keep the header: plain JSON is taken as is.
    if body[:2] == GZIP_MAGIC or (claimed and not _looks_like_json(body)):
        body = _gunzip(url, body)
        if body[:2] == GZIP_MAGIC:  # a .json.gz also sent with Content-Encoding: gzip
            body = _gunzip(url, body)
    return body


@dataclass
class _Client:
    """One import's HTTP settings, cache and progress display."""

    cache_dir: Path
    timeout: float
    retries: int
    backoff: float
    offline: bool
    progress: bool

    def get(self, url: str, what: str) -> tuple[str, bytes]:
        """(final URL, decoded body) of ``url``, from the cache or the network.

        ``what`` names the thing requested, for the 404 message.
        """
        path = cache_path(url, self.cache_dir)
        cached = _cache_read(path, url)
        if cached is not None:
            return cached
        if self.offline:
            raise CorpusError(
                f"{url} is not in the download cache {self.cache_dir} and offline=True; "
                "import it once online first"
            )
        final_url, body, encoding, content_type = self._download(url, what)
        body = _decode(final_url, body, encoding)
        if not _looks_like_json(body):
            raise CorpusError(
                f"{final_url}: expected JSON but got {content_type or 'no Content-Type'} "
                f"starting {body[:40]!r}"
            )
        _cache_write(path, url, final_url, body)
        return final_url, body

    def get_json(self, url: str, what: str) -> tuple[str, Any]:
        final_url, body = self.get(url, what)
        try:
            return final_url, json.loads(body)
        except ValueError as err:
            raise CorpusError(f"{final_url}: invalid JSON in {what}: {err}") from None

    def _download(self, url: str, what: str) -> tuple[str, bytes, str, str]:
        """One URL with retries; (final URL, raw body, Content-Encoding, Content-Type)."""
        request = urllib.request.Request(url, headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json, application/gzip;q=0.9, */*;q=0.1",
            "Accept-Encoding": "gzip",
        })
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            wait = self.backoff * 2.0 ** attempt
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = self._read(response, url)
                    return (response.geturl(), body,
                            response.headers.get("Content-Encoding", ""),
                            response.headers.get("Content-Type", ""))
            except urllib.error.HTTPError as err:
                status, reason = err.code, err.reason
                asked = _retry_after(err.headers.get("Retry-After")) if err.headers else None
                detail = _error_detail(err)
                err.close()
                if status == 404:
                    raise CorpusError(f"{url}: HTTP 404 Not Found: {what} was not found") from None
                if status != 429 and not 500 <= status < 600:
                    raise CorpusError(f"{url}: HTTP {status} {reason}{detail}") from None
                problem = f"HTTP {status} {reason}{detail}"
                if asked is not None:
                    if asked > MAX_RETRY_AFTER:
                        raise CorpusError(
                            f"{url}: HTTP {status} {reason}: the server asks to retry after "
                            f"{asked:.0f} s (more than {MAX_RETRY_AFTER:.0f} s); try again later"
                        ) from None
                    wait = asked
            except (TimeoutError, socket.timeout):
                problem = f"timed out after {self.timeout:g} s"
            except urllib.error.URLError as err:
                if isinstance(err.reason, (TimeoutError, socket.timeout)):
                    problem = f"timed out after {self.timeout:g} s"
                else:
                    problem = f"could not connect ({err.reason})"
            except (ValueError, http.client.InvalidURL) as err:  # a bad port, a space
                raise CorpusError(f"{url}: not a valid URL ({err})") from None
            except (http.client.HTTPException, ConnectionError) as err:
                problem = f"connection broken ({type(err).__name__}: {err})"
            if attempt + 1 < attempts:
                time.sleep(wait)
        raise CorpusError(f"{url}: {problem} (gave up after {attempts} attempts)")

    def _read(self, response: Any, url: str) -> bytes:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        chunks = []
        with progress_bar(total=total, unit="B", unit_scale=True, leave=False,
                          desc=posixpath.basename(urlsplit(url).path) or url,
                          progress=self.progress) as bar:
            while chunk := response.read(_CHUNK):
                chunks.append(chunk)
                bar.update(len(chunk))
        return b"".join(chunks)


def _error_detail(err: urllib.error.HTTPError) -> str:
    """A short excerpt of an error answer's body, for the message."""
    try:
        text = err.read(300).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return ""
    if not text:
        return ""
    try:
        message = json.loads(text).get("error")
    except (ValueError, AttributeError):
        message = None
    return f": {message if isinstance(message, str) else ' '.join(text.split())[:200]}"


def _client(cache_dir: str | os.PathLike[str] | None, timeout: float, retries: int,
            backoff: float, offline: bool, progress: bool) -> _Client:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise CorpusError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise CorpusError(f"retries must be an integer >= 0, got {retries!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) \
            or not math.isfinite(backoff) or backoff < 0:
        raise CorpusError(f"backoff must be a number of seconds >= 0, got {backoff!r}")
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise CorpusError(f"cache_dir {str(folder)!r} is not a directory")
    return _Client(folder, float(timeout), retries, float(backoff), bool(offline), bool(progress))


# --------------------------------------------------------------- public API
def _plan(url: str, client: _Client) -> list[tuple[str, dict[str, Any]]]:
    """The graph JSON URLs behind ``url``, each with its overrides."""
    if not is_url(url):
        raise CorpusError(f"{url!r} is not an http(s) URL")
    url = _rebase(url.strip())
    graph = _neuronpedia_graph(url)
    if graph is not None:
        model, slug = graph
        api_url = f"{_neuronpedia_url()}/api/graph/{quote(model, safe='')}/{quote(slug, safe='')}"
        final_api, row = client.get_json(
            api_url, f"Neuronpedia graph {slug!r} of model {model!r} (check the slug)")
        storage = row.get("url") if isinstance(row, dict) else None
        if not isinstance(storage, str) or not storage.strip():
            raise CorpusError(f"{final_api}: the Neuronpedia answer has no 'url' of the graph JSON")
        model = row.get("modelId") if isinstance(row.get("modelId"), str) else model
        slug = row.get("slug") if isinstance(row.get("slug"), str) else slug
        return [(_rebase(urljoin(final_api, storage.strip())), _neuronpedia_overrides(model, slug))]
    if posixpath.basename(urlsplit(url).path) == INDEX_NAME:
        final_index, index = client.get_json(url, f"graph index {INDEX_NAME}")
        return _index_graph_urls(final_index, index)
    return [(url, {})]


def resolve(
    url: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 0.5,
    offline: bool = False,
) -> list[str]:
    """The graph JSON URLs that :func:`fetch` would download for ``url``.

    A Neuronpedia URL and an index need one (cached) request to answer: the
    metadata API, or the index itself. Graph JSON is not downloaded.

    Parameters
    ----------
    url : str
        Any URL :func:`fetch` accepts.
    cache_dir, timeout, retries, backoff, offline
        As for :func:`fetch`.

    Returns
    -------
    list of str
        One URL per graph, in index order.

    Raises
    ------
    CorpusError
        As for :func:`fetch`.

    Examples
    --------
    >>> resolve("https://example.org/graphs/meow.json")
    ['https://example.org/graphs/meow.json']
    """
    client = _client(cache_dir, timeout, retries, backoff, offline, progress=False)
    return [graph_url for graph_url, _ in _plan(url, client)]


def fetch(
    url: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 0.5,
    offline: bool = False,
    progress: bool = False,
) -> list[Fetched]:
    """Download the graph JSON behind a URL (Neuronpedia, an index, a file).

    Parameters
    ----------
    url : str
        A Neuronpedia graph page or metadata API URL, a ``graph-metadata.json``
        index, or a graph JSON (gzip or not); see the module docstring.
    cache_dir : path, optional
        Cache directory; default ``$CGRAM_CACHE`` or ``~/.cache/circuit-grammar/http``.
    timeout : float
        Seconds each connection or read may wait.
    retries : int
        Further attempts after a 429, a 5xx, a timeout or a broken connection.
    backoff : float
        Wait before retry k (0-based) is ``backoff * 2**k`` seconds, unless the
        server sends ``Retry-After`` (honoured up to ``MAX_RETRY_AFTER``).
    offline : bool
        Use only the cache; a URL not in it is an error.
    progress : bool
        Show tqdm progress bars (for the command line).

    Returns
    -------
    list of Fetched
        One per graph, in index order: final URL, JSON bytes, overrides.

    Raises
    ------
    CorpusError
        Naming the URL: not an http(s) URL, HTTP 404 (the graph or slug was not
        found) or another 4xx, retries exhausted (5xx, 429, timeout, no
        connection), a ``Retry-After`` beyond ``MAX_RETRY_AFTER``, invalid gzip,
        an answer that is not JSON, an index without graphs, an offline cache
        miss, or an invalid argument. When one graph of an index fails, the
        graphs before it are already cached, so a second attempt resumes.

    Notes
    -----
    Each answer is cached under the SHA-256 of its URL, written to a temporary
    file and renamed into place, so an interrupted run never leaves a partial
    entry. Neuronpedia's metadata answers are cached too: a second import of
    the same URL makes no request at all.

    References
    ----------
    .. [1] Ameisen et al. (2025), "Circuit Tracing: Revealing Computational
       Graphs in Language Models", transformer-circuits.pub (graph files and
       ``graph-metadata.json``).
    .. [2] Neuronpedia, ``GET /api/graph/{modelId}/{slug}``
       (hijohnnylin/neuronpedia, apps/webapp/app/api/graph/[modelId]/[slug]/route.ts).
    .. [3] RFC 9110 §10.2.3 (Retry-After); RFC 1952 (gzip).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     fetch("https://example.org/g.json", cache_dir=cache, offline=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    corpus.errors.CorpusError: https://example.org/g.json is not in the download cache ...
    """
    client = _client(cache_dir, timeout, retries, backoff, offline, progress)
    plan = _plan(url, client)
    fetched = []
    for graph_url, overrides in progress_bar(plan, unit="graph", desc="download",
                                             progress=progress and len(plan) >= 2):
        slug = overrides.get("slug")
        what = f"graph {slug!r} listed by {url}" if slug and len(plan) > 1 else "the graph JSON"
        final_url, data = client.get(graph_url, what)
        fetched.append(Fetched(final_url, data, dict(overrides)))
    return fetched
