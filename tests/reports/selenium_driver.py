"""Headless Chromium driven by Selenium, for the explorer's browser tests.

One driver serves a whole test module (start-up costs seconds); pages load
from ``file://`` URLs. Without Debian's ``chromium`` and ``chromium-driver``
the tests skip, except under ``CI=true`` where they fail (as
``tests/reports/browser.py`` does for the static report tests).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

#: Flags that keep a headless run self-contained: no sandbox (containers), no
#: GPU, no network chatter; a fresh profile is added per driver.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")


def _binaries() -> tuple[str | None, str | None]:
    chromium = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                 "/usr/bin/chromium") if p and Path(p).exists()), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                   if p and Path(p).exists()), None)
    return chromium, driver


def require_selenium() -> tuple[str, str]:
    """(chromium, chromedriver) paths; skips outside CI when missing, fails under CI."""
    chromium, driver = _binaries()
    missing = [name for name, path in (("chromium", chromium), ("chromium-driver", driver))
               if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        message = f"browser tests need {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {message}: .ci/run installs Debian's chromium and "
                        "chromium-driver; selenium is in the dev extras")
        pytest.skip(f"{message}; CI is unset")
    return chromium, driver  # type: ignore[return-value]


def start_driver(download_dir: Path, width: int = 1400, height: int = 900) -> Any:
    """A headless Chromium WebDriver with a fresh profile, its console log
    readable (``driver.get_log('browser')``) and downloads going to ``download_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = require_selenium()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="cgram-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {
        "download.default_directory": str(download_dir),
        "download.prompt_for_download": False,
    })
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver._cgram_profile = profile  # removed by stop_driver
    driver._cgram_downloads = str(download_dir)
    return driver


def stop_driver(driver: Any) -> None:
    profile = getattr(driver, "_cgram_profile", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def driver_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Body of a module-scoped fixture: one driver for the module."""
    driver = start_driver(tmp_path_factory.mktemp("downloads"))
    try:
        yield driver
    finally:
        stop_driver(driver)


def console_problems(driver: Any) -> list[str]:
    """Console messages at WARNING or SEVERE level since the last call."""
    return [f"{entry['level']}: {entry['message']}" for entry in driver.get_log("browser")
            if entry["level"] in ("WARNING", "SEVERE")]


def screenshot_array(driver: Any, path: Path):
    """Save a screenshot to ``path``; its pixels as an (H, W, 3) float array in [0, 1]."""
    import matplotlib.image as mpimg

    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    return mpimg.imread(path)[..., :3]
