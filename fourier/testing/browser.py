"""Headless Chromium for the report's browser test and screenshots (Selenium + Debian's chromium).

`browser()` yields a WebDriver, or raises `NoBrowser` where Chromium, its driver or Selenium is
missing, so tests can skip cleanly. Nothing is downloaded: the system chromium and chromedriver
are used, and Chromium's background networking is off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NoBrowser", "browser", "find_browser"]

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class NoBrowser(RuntimeError):
    """No headless Chromium can be started here."""


def find_browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver (env FOURIER_CHROMIUM / FOURIER_CHROMEDRIVER, else PATH)."""
    chrome = (
        os.environ.get("FOURIER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    driver = os.environ.get("FOURIER_CHROMEDRIVER") or shutil.which("chromedriver")
    if not chrome or not driver:
        raise NoBrowser(
            "no chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)"
        )
    return chrome, driver


@contextmanager
def browser(width: int = 1600, height: int = 1000, scale: float = 1.0) -> Iterator[Any]:
    """A headless Chromium WebDriver with the browser console log enabled."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        raise NoBrowser(f"selenium is not installed: {e}") from e
    chrome, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in (*FLAGS, f"--window-size={width},{height}", f"--force-device-scale-factor={scale}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with tempfile.TemporaryDirectory(prefix="fourier-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        try:
            driver = webdriver.Chrome(service=Service(driver_path), options=options)
        except Exception as e:  # a browser that cannot start is the same as none for the tests
            first = (str(e).strip().splitlines() or [""])[0]
            raise NoBrowser(f"chromium did not start: {type(e).__name__}: {first}") from e
        try:
            yield driver
        finally:
            driver.quit()
