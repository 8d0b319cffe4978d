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
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1440, 900)
LAPTOP = (1366, 768)  # the smallest screen the console is laid out for
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
WAIT_SECONDS = 10  # the longest any page or element may take to appear


SIDEWAYS = """
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.classList.length ? "." + [...el.classList].join(".") : "");
const found = [];
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth) {
    found.push(`the page: ${page.scrollWidth} px wide in ${page.clientWidth} px`);
}
for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (!["auto", "scroll"].includes(style.overflowX)) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    if (el.scrollWidth > el.clientWidth) {
        found.push(`${describe(el)}: ${el.scrollWidth} px wide in ${el.clientWidth} px`);
    }
}
return found;
"""


class BrowserMissing(RuntimeError):
    pass


def missing_parts() -> list[str]:
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]


@contextmanager
def chromium() -> Iterator[WebDriver]:
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


class Console:
    """The admin as an operator sees it, in the browser, against the live server."""

    def __init__(self, driver: WebDriver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url.rstrip("/")

    def wait(self) -> WebDriverWait[WebDriver]:
        return WebDriverWait(self.driver, WAIT_SECONDS)

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base_url}{path}")

    def visible(self, css: str) -> Any:
        return self.wait().until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def all_visible(self, css: str) -> list[Any]:
        return list(self.wait().until(ec.visibility_of_all_elements_located((By.CSS_SELECTOR, css))))

    def log_in(self, username: str, password: str) -> None:
        """Through the login form, as a person would."""
        self.driver.delete_all_cookies()
        self.open("/admin/login/?next=/admin/")
        self.visible("#id_username").send_keys(username)
        self.visible("#id_password").send_keys(password)
        self.visible("#login-form input[type=submit]").click()
        self.wait().until(ec.url_to_be(f"{self.base_url}/admin/"))
        self.visible("#user-tools")

    def run_action(self, action: str, *, selected: list[str]) -> None:
        """Tick the rows of a changelist, pick the action and press its button."""
        for pk in selected:
            box = self.visible(f"input.action-select[value='{pk}']")
            if not box.is_selected():
                box.click()
        self.visible("select[name=action]").find_element(By.CSS_SELECTOR, f"option[value='{action}']").click()
        self.visible("#changelist-form button[name=index]").click()

    def viewport(self, width: int, height: int) -> None:
        """Make the page itself ``width`` x ``height`` CSS pixels (the window is a little larger)."""
        self.driver.set_window_size(width, height)
        inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
        self.driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])

    def sideways(self) -> list[str]:
        """What scrolls sideways on the page: the page itself, or any box inside it that
        scrolls (``overflow`` auto or scroll) and is shown. Empty: nothing does."""
        return list(self.driver.execute_script(SIDEWAYS))

    def messages(self) -> list[tuple[str, str]]:
        """The messages the admin shows after an action: (level, text as shown; the admin
        capitalises the first letter)."""
        return [
            (str(element.get_attribute("class")), element.text) for element in self.all_visible("ul.messagelist li")
        ]
