"""Real-browser tests of the Voilà apps: Debian's Chromium driven by Playwright.

* One Voilà server per session (:class:`mtjexplore.serve.appserver.AppServer`, the code behind
  ``mtjexplore app``) on a free 127.0.0.1 port; SIGTERM to its process group at the end.
* Chromium is ``/usr/bin/chromium`` (never ``playwright install``). Without it the tests skip
  with the reason, unless ``MTJEXPLORE_REQUIRE_BROWSER=1`` (CI), where they fail.
* On a failure the test's screenshot, console log and page HTML go to
  ``test-artifacts/<test name>/``; Voilà's log is ``test-artifacts/voila.log``.

Run them alone with ``python -m pytest tests/browser -p no:cacheprovider``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("MTJEXPLORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-dev-shm-usage"]
FIRST_RENDER_MS = 90_000   # cold kernel: imports torch, loads MNIST, builds the widgets


def _require_browser():
    """Skip (or fail, when CI demands a browser) unless Chromium and Playwright are there."""
    problems = []
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        problems.append(f"no Chromium at {CHROMIUM} (install it: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("playwright is not installed (pip install -e '.[test]')")
    if not problems:
        return
    reason = "browser tests need a browser: " + "; ".join(problems)
    if os.environ.get("MTJEXPLORE_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " -- MTJEXPLORE_REQUIRE_BROWSER=1 makes this an error", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, pointed at Debian's Chromium."""
    _require_browser()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_name():
    return "chromium"


@pytest.fixture(scope="session")
def voila_server():
    """One Voilà server serving the packaged apps for the whole session."""
    _require_browser()
    from mtjexplore.serve.appserver import AppServer

    ARTIFACTS.mkdir(exist_ok=True)
    server = AppServer(port=0, log_path=ARTIFACTS / "voila.log")
    server.start(timeout_s=90)
    yield server
    server.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def app_page(page, request, voila_server):
    """A Playwright page that records the console; on failure saves screenshot, log and HTML."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    console = []
    page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    yield page
    failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    if failed:
        _save_artifacts(page, request.node.name, console)


def _save_artifacts(page, test_name, console):
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "console.log").write_text("\n".join(console) + "\n")
    try:
        page.screenshot(path=str(folder / "screenshot.png"), full_page=True)
        (folder / "page.html").write_text(page.content())
    except Exception as exc:  # the page may be gone; keep what we have
        (folder / "screenshot-error.txt").write_text(repr(exc))


@pytest.fixture
def open_app(app_page, voila_server):
    """``open_app(name, ready_selector, query="")``: open an app (with a query string such as
    ``"?die=3"``), wait until the selector is visible."""
    from playwright.sync_api import expect

    def _open(name, ready_selector, query=""):
        app_page.goto(voila_server.app_url(name) + query, timeout=FIRST_RENDER_MS)
        expect(app_page.locator(ready_selector).first).to_be_visible(timeout=FIRST_RENDER_MS)
        return app_page

    return _open
