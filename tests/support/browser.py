"""A real browser for the operator console's tests: Debian's Chromium, headless, driven
by Selenium through Debian's chromedriver.

The paths are explicit and Selenium Manager is kept offline (``SE_OFFLINE``), so a test
run never downloads a browser or a driver: ``make test`` installs Debian's ``chromium``
and ``chromium-driver`` when they are missing, and without them these tests fail with a
message saying so rather than skipping.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1440, 900)
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
)
REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "docs" / "screenshots"


class BrowserMissing(RuntimeError):
    pass


def missing_parts() -> list[str]:
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, 1440x900; quit (and its profile removed) on exit."""
    missing = missing_parts()
    if missing:
        raise BrowserMissing(
            f"The operator console's browser tests need Debian's Chromium and chromedriver; missing: "
            f"{', '.join(missing)}. `make test` installs them (apt-get install chromium chromium-driver)."
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    with tempfile.TemporaryDirectory(prefix="bespoke-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            driver.set_window_size(*WINDOW)
            yield driver
        finally:
            driver.quit()


def screenshots_wanted() -> bool:
    """``BESPOKE_SCREENSHOTS=1`` (``make screenshots``): the README's pictures are refreshed."""
    return os.environ.get("BESPOKE_SCREENSHOTS") == "1"
