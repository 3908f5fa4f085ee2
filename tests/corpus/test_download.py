"""corpus.download against a real HTTP server on 127.0.0.1 (no mocks of urllib).

The server (tests/corpus/http_fixtures.py) stands in for Neuronpedia (its
graph pages, metadata API and storage), transformer-circuits.pub (the
``data/graph-metadata.json`` index and ``graph_data/`` files), a folder of
circuit-tracer output, and misbehaving servers (503s, 429s, 404, 403, a hang,
truncated gzip). The base-URL environment variables point the public hosts at
it, so tests use the real public URLs. Every request is recorded, and tests
assert how many were made.

The graph fixtures are real exports cut down to 10 nodes
(tests/corpus/fixtures/download/README.md).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import time
from pathlib import Path

import pytest

from corpus import download
from corpus.download import Fetched, cache_path, default_cache_dir, fetch, is_url, resolve
from corpus.errors import CorpusError
from tests.corpus.http_fixtures import LocalServer, Reply, http_server  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures" / "download"
SLUGS = ("capital-state-dallas", "meow", "dallas-austin-llamma")
GRAPH = {slug: (FIXTURES / f"{slug}.json").read_bytes() for slug in SLUGS}
MEOW = GRAPH["meow"]
JSON = {"Content-Type": "application/json"}
#: Quick settings: real retries, tiny waits.
FAST = {"timeout": 5.0, "retries": 2, "backoff": 0.01}

NP_PAGE = ("https://www.neuronpedia.org/gemma-2-2b/graph?slug=meow"
           "&pruningThreshold=0.6&densityThreshold=0.99&pinnedIds=27_186942_10")
TC_INDEX = "https://transformer-circuits.pub/2025/attribution-graphs/data/graph-metadata.json"


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture
def site(http_server: LocalServer, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
         tmp_path: Path) -> LocalServer:
    """The local server with every route the tests use, the public base URLs
    pointed at it, and the default cache in a temporary folder."""
    s = http_server
    monkeypatch.setenv("CGRAM_NEURONPEDIA_URL", s.url + "/np")
    monkeypatch.setenv("CGRAM_TRANSFORMER_CIRCUITS_URL", s.url + "/tc")
    monkeypatch.setenv("CGRAM_CACHE", str(tmp_path / "cache"))

    # Neuronpedia: the page (must never be fetched), the API, storage (S3
    # serves gzip with Content-Encoding), a missing slug, a row without url.
    s.add("/np/gemma-2-2b/graph", Reply(200, {"Content-Type": "text/html"}, b"<html></html>"))
    api = (FIXTURES / "api-graph-gemma-2-2b-meow.json").read_bytes()
    s.add("/np/api/graph/gemma-2-2b/meow", Reply(200, JSON, api.replace(b"{server}", s.url.encode())))
    s.add("/storage/graphs/gemma-2-2b/meow.json",
          Reply(200, {**JSON, "Content-Encoding": "gzip"}, gzip.compress(MEOW)))
    s.add("/np/api/graph/gemma-2-2b/no-such-graph", Reply(404, JSON, _json({"error": "Graph not found"})))
    s.add("/np/api/graph/gemma-2-2b/no-url", Reply(200, JSON, _json({"slug": "no-url", "modelId": "gemma-2-2b"})))
    s.add("/np/api/graph/jackl-circuits-runs-1-4-sofa-v3_0/capital-state-dallas", Reply(200, JSON, _json({
        "modelId": "jackl-circuits-runs-1-4-sofa-v3_0", "slug": "capital-state-dallas",
        "url": "https://transformer-circuits.pub/2025/attribution-graphs/graph_data/"
               "capital-state-dallas.json"})))

    # transformer-circuits.pub layout: data/graph-metadata.json + graph_data/{slug}.json
    s.add("/tc/2025/attribution-graphs/data/graph-metadata.json",
          Reply(200, JSON, (FIXTURES / "graph-metadata-anthropic.json").read_bytes()))
    for slug in SLUGS:
        s.add(f"/tc/2025/attribution-graphs/graph_data/{slug}.json", Reply(200, JSON, GRAPH[slug]))
    # circuit-tracer's create_graph_files folder: graph-metadata.json + {slug}.json beside it
    s.add("/ct/graph-metadata.json",
          Reply(200, JSON, (FIXTURES / "graph-metadata-circuit-tracer.json").read_bytes()))
    for slug in ("meow", "dallas-austin-llamma"):
        s.add(f"/ct/{slug}.json", Reply(200, JSON, GRAPH[slug]))
    s.add("/no-slug/graph-metadata.json", Reply(200, JSON, _json({"graphs": [{"scan": "gemma-2-2b"}]})))
    s.add("/empty/graph-metadata.json", Reply(200, JSON, _json({"graphs": []})))
    s.add("/partial/graph-metadata.json",
          Reply(200, JSON, _json({"graphs": [{"slug": "meow"}, {"slug": "gone"}]})))
    s.add("/partial/meow.json", Reply(200, JSON, MEOW))

    # plain, gzip and misbehaving files
    s.add("/plain/meow.json", Reply(200, JSON, MEOW))
    s.add("/files/meow.json.gz", Reply(200, {"Content-Type": "application/gzip"}, gzip.compress(MEOW)))
    s.add("/files/twice.json.gz", Reply(200, {"Content-Type": "application/gzip",
                                              "Content-Encoding": "gzip"},
                                        gzip.compress(gzip.compress(MEOW))))
    s.add("/files/truncated.json.gz", Reply(200, {"Content-Type": "application/gzip"},
                                            gzip.compress(MEOW)[:600]))
    s.add("/files/not-gzip.json", Reply(200, {**JSON, "Content-Encoding": "gzip"}, b"\x00garbage"))
    s.add("/files/page.json", Reply(200, {"Content-Type": "text/html"}, b"<!doctype html><p>login</p>"))
    s.add("/redirect/meow.json", Reply(302, {"Location": "/plain/meow.json"}))
    unavailable = Reply(503, {"Content-Type": "text/plain"}, b"busy")
    s.add_sequence("/flaky/meow.json", [unavailable, unavailable, Reply(200, JSON, MEOW)])
    s.add("/overloaded/meow.json", unavailable)
    s.add_sequence("/limited/meow.json", [Reply(429, {"Retry-After": "1"}, b"slow down"),
                                          Reply(200, JSON, MEOW)])
    s.add("/slow-down/meow.json", Reply(429, {"Retry-After": "3600"}, b"come back tomorrow"))
    s.add("/missing/meow.json", Reply(404, {"Content-Type": "text/plain"}, b"Not Found"))
    s.add("/forbidden/meow.json", Reply(403, JSON, _json({"error": "Access Denied"})))
    s.add("/hang/meow.json", Reply(200, JSON, MEOW, delay=30.0))
    return s


# ------------------------------------------------------------- Neuronpedia
def test_neuronpedia_graph_url_resolves_through_the_api_to_the_stored_json(site):
    [got] = fetch(NP_PAGE, **FAST)
    assert got == Fetched(site.url + "/storage/graphs/gemma-2-2b/meow.json", MEOW,
                          {"slug": "meow", "model": "gemma-2-2b"})
    assert site.count("/np/api/graph/gemma-2-2b/meow") == 1
    assert site.count("/storage/graphs/gemma-2-2b/meow.json") == 1
    assert site.count("/np/gemma-2-2b/graph") == 0  # the HTML page is never fetched
    assert site.count() == 2
    agent = site.requests[0].headers["User-Agent"]
    assert agent.startswith("circuit-grammar") and agent == download.USER_AGENT


def test_neuronpedia_api_url_gives_the_same_graph(site):
    for url in ("https://neuronpedia.org/api/graph/gemma-2-2b/meow",
                site.url + "/np/api/graph/gemma-2-2b/meow"):
        [got] = fetch(url, **FAST)
        assert (got.origin, got.data) == (site.url + "/storage/graphs/gemma-2-2b/meow.json", MEOW)
        assert got.overrides == {"slug": "meow", "model": "gemma-2-2b"}
    assert site.count() == 2  # the second URL is the same request: answered by the cache


def test_resolve_lists_the_storage_url_without_downloading_the_graph(site):
    assert resolve(NP_PAGE, **FAST) == [site.url + "/storage/graphs/gemma-2-2b/meow.json"]
    assert site.count("/storage/graphs/gemma-2-2b/meow.json") == 0
    assert site.count() == 1


def test_missing_neuronpedia_slug_names_the_graph_and_is_not_retried(site):
    with pytest.raises(CorpusError) as err:
        fetch("https://www.neuronpedia.org/gemma-2-2b/graph?slug=no-such-graph", **FAST)
    message = str(err.value)
    assert site.url + "/np/api/graph/gemma-2-2b/no-such-graph" in message
    assert "404" in message and "'no-such-graph'" in message and "not found" in message
    assert site.count() == 1


def test_neuronpedia_page_without_slug_fails_before_any_request(site):
    with pytest.raises(CorpusError, match=r"slug="):
        fetch("https://www.neuronpedia.org/gemma-2-2b/graph?pruningThreshold=0.6", **FAST)
    assert site.count() == 0


def test_api_answer_without_url_field_is_an_error(site):
    with pytest.raises(CorpusError, match="no 'url'"):
        fetch("https://www.neuronpedia.org/api/graph/gemma-2-2b/no-url", **FAST)


def test_anthropic_graph_on_neuronpedia_is_rebased_and_passes_no_model(site):
    [got] = fetch("https://www.neuronpedia.org/jackl-circuits-runs-1-4-sofa-v3_0/graph"
                  "?slug=capital-state-dallas", **FAST)
    assert got.origin == site.url + "/tc/2025/attribution-graphs/graph_data/capital-state-dallas.json"
    assert got.data == GRAPH["capital-state-dallas"]
    # a jackl-* id is a scan, not a model: the parser infers the model from the file
    assert got.overrides == {"slug": "capital-state-dallas"}


# ------------------------------------------------------------------ indexes
def test_transformer_circuits_index_imports_every_graph_from_graph_data(site):
    got = fetch(TC_INDEX, **FAST)
    folder = site.url + "/tc/2025/attribution-graphs/graph_data/"
    assert [f.origin for f in got] == [folder + f"{slug}.json" for slug in SLUGS]
    assert [f.data for f in got] == [GRAPH[slug] for slug in SLUGS]
    assert [f.overrides for f in got] == [{"slug": slug} for slug in SLUGS]
    assert site.count("/tc/2025/attribution-graphs/data/graph-metadata.json") == 1
    assert site.count() == 4


def test_circuit_tracer_index_finds_graphs_beside_it(site):
    assert resolve(site.url + "/ct/graph-metadata.json", **FAST) == [
        site.url + "/ct/meow.json", site.url + "/ct/dallas-austin-llamma.json"]
    got = fetch(site.url + "/ct/graph-metadata.json", **FAST)
    assert [f.data for f in got] == [MEOW, GRAPH["dallas-austin-llamma"]]
    assert site.count("/ct/graph-metadata.json") == 1  # resolve's request was cached
    assert site.count() == 3


@pytest.mark.parametrize("path, problem", [("/no-slug/graph-metadata.json", "graph 0 .* no usable 'slug'"),
                                           ("/empty/graph-metadata.json", "lists no graphs")])
def test_unusable_index_is_an_error_naming_it(site, path, problem):
    with pytest.raises(CorpusError, match=problem) as err:
        fetch(site.url + path, **FAST)
    assert site.url + path in str(err.value)


def test_index_with_a_missing_graph_names_it_and_keeps_the_others_cached(site):
    with pytest.raises(CorpusError) as err:
        fetch(site.url + "/partial/graph-metadata.json", **FAST)
    assert "/partial/gone.json" in str(err.value) and "'gone'" in str(err.value)
    assert "404" in str(err.value)
    before = site.count()
    [got] = fetch(site.url + "/partial/meow.json", **FAST)
    assert got.data == MEOW and site.count() == before  # already in the cache


# -------------------------------------------------------------------- cache
def test_second_fetch_makes_no_request_and_offline_reads_the_cache(site):
    first = fetch(NP_PAGE, **FAST) + fetch(TC_INDEX, **FAST)
    assert site.count() == 6
    second = fetch(NP_PAGE, **FAST) + fetch(TC_INDEX, **FAST)
    offline = fetch(NP_PAGE, offline=True) + fetch(TC_INDEX, offline=True)
    assert second == first and offline == first
    assert site.count() == 6


def test_offline_cache_miss_is_an_error_without_request(site):
    with pytest.raises(CorpusError, match="not in the download cache") as err:
        fetch(site.url + "/plain/meow.json", offline=True)
    assert site.url + "/plain/meow.json" in str(err.value)
    assert site.count() == 0


def test_cache_file_is_named_by_url_hash_and_no_temporary_file_remains(site, tmp_path):
    url = site.url + "/plain/meow.json"
    fetch(url, cache_dir=tmp_path / "c", **FAST)
    name = hashlib.sha256(url.encode()).hexdigest() + ".gz"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [name]
    assert cache_path(url, tmp_path / "c") == tmp_path / "c" / name
    assert not (tmp_path / "cache").exists()  # the explicit cache_dir wins over CGRAM_CACHE


def test_corrupt_cache_entry_is_downloaded_again(site):
    url = site.url + "/plain/meow.json"
    fetch(url, **FAST)
    cache_path(url).write_bytes(b"\x1f\x8b half a file")
    [got] = fetch(url, **FAST)
    assert got.data == MEOW and site.count() == 2
    [again] = fetch(url, **FAST)
    assert again.data == MEOW and site.count() == 2  # the entry was repaired


def test_redirect_origin_is_the_final_url(site):
    [got] = fetch(site.url + "/redirect/meow.json", **FAST)
    assert got.origin == site.url + "/plain/meow.json" and got.data == MEOW
    [cached] = fetch(site.url + "/redirect/meow.json", offline=True)
    assert cached.origin == got.origin


# --------------------------------------------------------------------- gzip
@pytest.mark.parametrize("path", ["/storage/graphs/gemma-2-2b/meow.json",  # Content-Encoding
                                  "/files/meow.json.gz",  # magic bytes, no header
                                  "/files/twice.json.gz"])  # both at once
def test_gzip_is_undone_however_it_is_signalled(site, path):
    [got] = fetch(site.url + path, **FAST)
    assert got.data == MEOW


def test_truncated_gzip_is_an_error_naming_the_url_and_is_not_cached(site):
    url = site.url + "/files/truncated.json.gz"
    with pytest.raises(CorpusError, match="invalid gzip") as err:
        fetch(url, **FAST)
    assert url in str(err.value)
    assert not cache_path(url).exists()
    assert site.count() == 1


def test_gzip_header_over_non_gzip_bytes_is_an_error(site):
    with pytest.raises(CorpusError, match="invalid gzip"):
        fetch(site.url + "/files/not-gzip.json", **FAST)


def test_html_answer_is_rejected_and_not_cached(site):
    url = site.url + "/files/page.json"
    with pytest.raises(CorpusError, match="expected JSON but got text/html"):
        fetch(url, **FAST)
    assert not cache_path(url).exists()


# ---------------------------------------------------------- retries, errors
def test_503_twice_then_200_succeeds_on_the_third_request(site):
    [got] = fetch(site.url + "/flaky/meow.json", timeout=5.0, retries=2, backoff=0.01)
    assert got.data == MEOW
    assert site.count("/flaky/meow.json") == 3


def test_persistent_503_gives_up_after_the_last_retry(site):
    with pytest.raises(CorpusError) as err:
        fetch(site.url + "/overloaded/meow.json", timeout=5.0, retries=3, backoff=0.01)
    assert "HTTP 503" in str(err.value) and "gave up after 4 attempts" in str(err.value)
    assert site.count("/overloaded/meow.json") == 4


def test_429_waits_as_long_as_retry_after_asks(site):
    start = time.monotonic()
    [got] = fetch(site.url + "/limited/meow.json", timeout=5.0, retries=2, backoff=0.01)
    elapsed = time.monotonic() - start
    assert got.data == MEOW
    assert site.count("/limited/meow.json") == 2
    assert 0.95 <= elapsed < 5.0  # Retry-After: 1 s, not the 0.01 s backoff


def test_retry_after_beyond_the_limit_fails_at_once(site):
    with pytest.raises(CorpusError, match="3600 s"):
        fetch(site.url + "/slow-down/meow.json", **FAST)
    assert site.count() == 1


def test_404_says_not_found_and_is_not_retried(site):
    url = site.url + "/missing/meow.json"
    with pytest.raises(CorpusError, match="404 Not Found") as err:
        fetch(url, **FAST)
    assert str(err.value).startswith(url) and "not found" in str(err.value)
    assert site.count() == 1


def test_other_4xx_is_an_error_quoting_the_server_and_is_not_retried(site):
    with pytest.raises(CorpusError, match="HTTP 403 Forbidden: Access Denied"):
        fetch(site.url + "/forbidden/meow.json", **FAST)
    assert site.count() == 1


def test_hanging_server_times_out_after_the_last_retry(site):
    url = site.url + "/hang/meow.json"
    start = time.monotonic()
    with pytest.raises(CorpusError) as err:
        fetch(url, timeout=0.3, retries=1, backoff=0.01)
    elapsed = time.monotonic() - start
    assert "timed out after 0.3 s" in str(err.value) and "2 attempts" in str(err.value)
    assert url in str(err.value)
    assert site.count("/hang/meow.json") == 2
    assert 0.6 <= elapsed < 5.0


def test_refused_connection_is_retried_then_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CorpusError, match="could not connect.*gave up after 3 attempts"):
        fetch(f"http://127.0.0.1:{port}/meow.json", timeout=2.0, retries=2, backoff=0.01,
              cache_dir=tmp_path)


# ---------------------------------------------------------------- arguments
def test_is_url_accepts_only_http_urls():
    assert is_url("https://www.neuronpedia.org/gemma-2-2b/graph?slug=x")
    assert is_url("http://127.0.0.1:8000/a.json")
    assert is_url(" HTTPS://transformer-circuits.pub/x ")
    for text in ("meow.json", "/tmp/meow.json", "C:\\meow.json", "file:///tmp/a.json",
                 "ftp://host/a.json", "https://", "http://[::1", "", None, 3):
        assert not is_url(text), text


def test_resolve_of_a_plain_json_url_makes_no_request(site):
    assert resolve(site.url + "/plain/meow.json") == [site.url + "/plain/meow.json"]
    assert site.count() == 0


@pytest.mark.parametrize("kwargs, problem", [
    ({"timeout": 0}, "timeout"), ({"timeout": float("nan")}, "timeout"),
    ({"retries": -1}, "retries"), ({"retries": 1.5}, "retries"),
    ({"backoff": -0.5}, "backoff"),
])
def test_invalid_arguments_are_rejected_by_name(kwargs, problem, tmp_path):
    with pytest.raises(CorpusError, match=problem):
        fetch("https://example.org/a.json", cache_dir=tmp_path, **kwargs)


def test_non_url_and_bad_base_url_are_rejected(monkeypatch, tmp_path):
    with pytest.raises(CorpusError, match="not an http"):
        fetch("graphs/meow.json", cache_dir=tmp_path)
    with pytest.raises(CorpusError, match="not a valid URL"):
        fetch("http://127.0.0.1:8/a b.json", cache_dir=tmp_path)
    monkeypatch.setenv("CGRAM_NEURONPEDIA_URL", "neuronpedia.local")
    with pytest.raises(CorpusError, match="CGRAM_NEURONPEDIA_URL"):
        fetch(NP_PAGE, cache_dir=tmp_path)


def test_default_cache_dir_follows_cgram_cache_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("CGRAM_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("CGRAM_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "circuit-grammar" / "http"


# ---------------------------------------------------- parsing and the CLI
def test_fixtures_are_valid_graphs_that_the_parser_reads(site):
    from corpus import neuronpedia

    for got in fetch(TC_INDEX, **FAST):
        raw = json.loads(got.data)
        ids = {node["node_id"] for node in raw["nodes"]}
        assert all(link["source"] in ids and link["target"] in ids for link in raw["links"])
        graph = neuronpedia.loads(got.data, got.origin, **got.overrides)
        graph.validate()
        assert (graph.n_nodes, graph.n_edges) == (len(raw["nodes"]), len(raw["links"]))
        assert graph.n_nodes == 10 and graph.meta.slug == got.overrides["slug"]
    [meow] = fetch(NP_PAGE, **FAST)
    graph = neuronpedia.loads(meow.data, meow.origin, **meow.overrides)
    assert (graph.meta.model, graph.meta.slug, graph.n_edges) == ("gemma-2-2b", "meow", 29)


def test_cgram_import_url_adds_the_graphs_and_reimport_makes_no_request(site, tmp_path, capsys):
    from cgram.cli import main
    from corpus.store import Corpus

    store = tmp_path / "corpus"
    assert main(["import", NP_PAGE, TC_INDEX, "--corpus", str(store), "-q"]) == 0
    table = Corpus(store, create=False).list()
    assert sorted(table["slug"]) == sorted(SLUGS)  # meow twice: once from each URL
    meow = table[table["slug"] == "meow"].iloc[0]
    assert (meow["model"], meow["n_nodes"], meow["n_edges"]) == ("gemma-2-2b", 10, 29)
    dallas = table[table["slug"] == "capital-state-dallas"].iloc[0]
    assert (dallas["model"], dallas["n_nodes"], dallas["n_edges"]) == ("claude-3.5-haiku", 10, 39)
    assert site.count() == 6
    assert "3 added, 1 already present, 0 failed" in capsys.readouterr().out

    assert main(["import", NP_PAGE, "--corpus", str(store), "--offline", "-q"]) == 0
    assert site.count() == 6
    assert "0 added, 1 already present" in capsys.readouterr().out


def test_cgram_import_reports_a_missing_slug_and_exits_1(site, tmp_path, capsys):
    from cgram.cli import main

    code = main(["import", "https://www.neuronpedia.org/gemma-2-2b/graph?slug=no-such-graph",
                 "--corpus", str(tmp_path / "corpus"), "-q"])
    assert code == 1
    assert "'no-such-graph'" in capsys.readouterr().err
