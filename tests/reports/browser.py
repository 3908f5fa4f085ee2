"""Render an HTML report in headless Chromium and say what a reader would see.

One Chromium run loads the page from disk, takes a screenshot and dumps the
DOM after the load event, with console logging on stderr. A probe script is
added to a *copy* of the page (the report's only scripts are those of an
embedded graph explorer, inside its iframe) that writes
the number of images and of images that decoded into the document title.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

#: Flags that keep a headless run self-contained: no sandbox (containers), no
#: GPU, no network chatter, a throw-away profile.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0")

PROBE = ("<script>window.addEventListener('load',function(){var im=[].slice.call("
         "document.images);document.title='PROBE '+JSON.stringify({images:im.length,"
         "decoded:im.filter(function(i){return i.complete&&i.naturalWidth>0}).length,"
         "height:document.body.scrollHeight});});</script>")


def find_chromium() -> str | None:
    """Path of a Chromium / Chrome binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def in_ci() -> bool:
    """Whether the tests run under CI (``CI`` set to true, 1 or yes, as CI services do)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_chromium() -> str:
    """The Chromium binary. Missing: the test fails under CI, and is skipped only outside it."""
    path = find_chromium()
    if path is None:
        message = ("no chromium binary on PATH: install Debian's chromium and chromium-driver "
                   "(.ci/run does) to run the HTML rendering tests")
        if in_ci():
            pytest.fail(f"CI={os.environ['CI']}: {message}")
        pytest.skip(f"{message}; CI is not true, so skipped")
    return path


@dataclass(frozen=True)
class Rendering:
    screenshot: np.ndarray  # (H, W, 3) floats in [0, 1]
    console: list[str]  # every console message Chromium logged
    images: int
    decoded: int
    height: int


def render(html_path: Path, work: Path, width: int = 1280, height: int = 2400) -> Rendering:
    """Load ``html_path`` in headless Chromium; screenshot, console and image counts."""
    import matplotlib.image as mpimg

    chromium = require_chromium()
    work.mkdir(parents=True, exist_ok=True)
    probe = work / f"probe-{html_path.name}"
    text = html_path.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    shot = work / "screenshot.png"
    run = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={work / 'profile'}", "--virtual-time-budget=5000",
         f"--window-size={width},{height}", f"--screenshot={shot}", "--dump-dom",
         probe.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert shot.exists(), f"chromium wrote no screenshot (rc {run.returncode}): {run.stderr[-2000:]}"
    found = re.search(r"<title>PROBE (\{.*?\})</title>", run.stdout)
    assert found, f"the probe did not run; DOM starts {run.stdout[:500]!r}"
    counts = json.loads(found.group(1))
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return Rendering(mpimg.imread(shot)[..., :3], console, counts["images"], counts["decoded"],
                     counts["height"])


EXTERNAL = r"""(src|href)\s*=\s*["']?(https?:|//)"""


def assert_renders_cleanly(html_path: Path, work: Path, n_figures: int) -> Rendering:
    """The checks every report page must pass in a browser."""
    text = html_path.read_text(encoding="utf-8")
    # an embedded graph explorer (reports.view) is the page's only script: it sits
    # in an iframe's srcdoc, its library and data inline, and fetches nothing
    explorers = [html.unescape(doc) for doc in re.findall(r'<iframe[^>]*\ssrcdoc="([^"]*)"', text)]
    text = re.sub(r'\ssrcdoc="[^"]*"', "", text)
    for page in explorers:
        assert not re.search(EXTERNAL, page) and not re.search(r"<script[^>]*\ssrc", page)
        assert "<link" not in page and "window.cgramView" in page
    # self-contained: nothing fetched, nothing run outside the explorer
    assert not re.search(EXTERNAL, text)
    assert "<script" not in text and "<link" not in text and "url(" not in text
    page = render(html_path, work)
    assert page.console == [], page.console
    assert page.images == n_figures and page.decoded == n_figures, (page.images, page.decoded)
    # not blank: real contrast, and ink on a real share of the first screen
    assert page.screenshot.std() > 0.05
    assert (page.screenshot.mean(axis=2) < 0.9).mean() > 0.02
    return page
