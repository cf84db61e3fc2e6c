"""The app pages in Chromium as a class uses them: nothing fetched from outside the server, and a
reload or leaving the page shuts the old kernel down instead of leaving it to the culler."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

READY = {"explorer": ".current-error .error-value", "ensemble": ".ensemble-figure"}


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def kernel_id(page):
    return page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


def kernel_status(server, kid):
    try:
        with urllib.request.urlopen(f"{server.url}api/kernels/{kid}", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)  # polling the server's state, not synchronising on time
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.mark.parametrize("name", ["explorer", "ensemble"])
def test_the_page_fetches_nothing_from_outside_the_server(app_page, voila_server, name):
    requests, failed = [], []
    app_page.on("request", lambda req: requests.append(req.url))
    app_page.on("requestfailed", lambda req: failed.append(f"{req.url} ({req.failure})"))
    app_page.goto(voila_server.app_url(name), timeout=90_000)
    expect()(app_page.locator(READY[name]).first).to_be_visible(timeout=90_000)
    app_page.wait_for_load_state("networkidle", timeout=60_000)
    outside = [url for url in requests
               if urllib.parse.urlsplit(url).scheme not in ("data", "blob")
               and urllib.parse.urlsplit(url).hostname != "127.0.0.1"]
    assert len(requests) > 20, "the recorder should see the page's scripts and styles"
    assert outside == [], f"requests leaving 127.0.0.1: {outside}"
    assert [f for f in failed if "127.0.0.1" not in f] == []


def test_the_loading_message_counts_seconds_without_animating(app_page, voila_server):
    # Voilà's own spinner turns an SVG with a CSS animation: the browser composites a frame 60
    # times a second while the page loads, CPU that 8 pages opened at once on a small machine
    # need for loading (voila_sessions.md). Ours changes a number once a second.
    # Without pre-heating the server runs the notebook while the page waits: seconds of loading.
    app_page.goto(voila_server.app_url("explorer"), wait_until="commit", timeout=90_000)
    loading = app_page.locator("#loading")
    expect()(loading).to_be_visible(timeout=30_000)
    expect()(app_page.locator("#loading_text")).to_contain_text(re.compile(r"Loading|Executing|Reading"))
    animations = app_page.evaluate("""() => document.getElementById('loading') === null ? null
        : document.getAnimations().map(a => a.animationName || a.constructor.name)""")
    assert animations == [] or animations is None, f"animations running while the page loads: {animations}"
    expect()(app_page.locator("#mtj-loading-elapsed")).to_have_text(re.compile(r"^\d+ s$"), timeout=5_000)
    expect()(app_page.locator(READY["explorer"]).first).to_have_text(re.compile(r"^\d+\.\d\d %$"), timeout=90_000)
    expect()(loading).to_have_count(0)


def test_a_reload_shuts_the_old_kernel_down(app_page, voila_server):
    app_page.goto(voila_server.app_url("explorer"), timeout=90_000)
    expect()(app_page.locator(READY["explorer"]).first).to_have_text(re.compile(r"^\d+\.\d\d %$"), timeout=90_000)
    old = kernel_id(app_page)
    assert kernel_status(voila_server, old) == 200
    app_page.reload(timeout=90_000)
    expect()(app_page.locator(READY["explorer"]).first).to_have_text(re.compile(r"^\d+\.\d\d %$"), timeout=90_000)
    new = kernel_id(app_page)
    assert new != old and kernel_status(voila_server, new) == 200
    wait_for(lambda: kernel_status(voila_server, old) == 404, 30, f"kernel {old} of the reloaded page to end")
    log = voila_server.log_path.read_text()
    assert "'_xsrf' argument missing" not in log


def test_leaving_the_page_shuts_its_kernel_down(app_page, voila_server):
    # Navigating away unloads the page as closing its tab does. (Playwright's page.close() drops
    # the page's shutdown beacon in headless Chromium, so a tab close itself is not testable here;
    # the culler ends such kernels after --cull-idle-timeout.)
    app_page.goto(voila_server.app_url("explorer"), timeout=90_000)
    expect()(app_page.locator(READY["explorer"]).first).to_have_text(re.compile(r"^\d+\.\d\d %$"),
                                                                     timeout=90_000)
    kid = kernel_id(app_page)
    assert kernel_status(voila_server, kid) == 200
    app_page.goto("about:blank")
    wait_for(lambda: kernel_status(voila_server, kid) == 404, 30, f"kernel {kid} of the left page to end")


@pytest.fixture
def math_server(tmp_path):
    """A server for one notebook with maths in Markdown and in an output."""
    import nbformat

    from mtjexplore.serve.appserver import AppServer

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("Inline $E = m c^2$ and display $$\\int_0^1 x\\,dx$$"),
                nbformat.v4.new_code_cell("from IPython.display import Math\nMath(r'G = g_{ap} + (g_p - g_{ap}) s')")]
    (tmp_path / "apps").mkdir()
    nbformat.write(nb, tmp_path / "apps" / "maths.ipynb")
    with AppServer(port=0, root=tmp_path / "apps", log_path=tmp_path / "voila.log") as server:
        yield server


def test_maths_is_typeset_without_a_cdn(app_page, math_server):
    requests = []
    app_page.on("request", lambda req: requests.append(req.url))
    app_page.goto(math_server.app_url("maths"), timeout=90_000)
    expect()(app_page.locator("mjx-container")).to_have_count(3, timeout=60_000)
    app_page.wait_for_load_state("networkidle", timeout=60_000)
    outside = [url for url in requests if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", None)]
    assert outside == [], f"requests leaving 127.0.0.1: {outside}"


@pytest.fixture
def one_slot_server(tmp_path):
    """The apps served with a machine-wide training queue of one slot in a private folder."""
    from mtjexplore.serve.appserver import AppServer

    env = {"MTJEXPLORE_TRAINING_SLOTS": "1", "MTJEXPLORE_QUEUE_DIR": str(tmp_path / "queue")}
    with AppServer(port=0, log_path=tmp_path / "voila.log", env=env) as server:
        yield server


def test_a_second_student_pressing_train_sees_the_wait_and_starts_when_the_first_stops(
        browser, one_slot_server):
    pages = []
    for _ in range(2):  # two students: separate browser contexts, separate kernels
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(one_slot_server.app_url("explorer"), timeout=120_000)
        expect()(page.locator(READY["explorer"]).first).to_have_text(re.compile(r"^\d+\.\d\d %$"),
                                                                     timeout=120_000)
        pages.append(page)
    first, second = pages
    first.locator(".train-epochs input").first.fill("50")
    first.locator(".train-epochs input").first.press("Tab")
    first.locator("button.train-button").first.click()
    expect()(first.locator(".training-status").first).to_contain_text("Training: epoch", timeout=90_000)

    second.locator("button.train-button").first.click()
    waiting = second.locator(".training-status.training-waiting").first
    expect()(waiting).to_contain_text("Waiting for CPU: next in line (1 training runs going", timeout=30_000)
    expect()(second.locator(".train-progress .progress-bar").first).to_have_attribute(
        "style", re.compile(r"width: 0%"))

    first.locator("button.stop-button").first.click()
    expect()(second.locator(".training-status").first).to_contain_text("Training: epoch", timeout=90_000)
    expect()(second.locator(".training-status.training-waiting")).to_have_count(0)
    second.locator("button.stop-button").first.click()
    expect()(second.locator(".training-status").first).to_contain_text("stopped", timeout=60_000)
    for page in pages:
        page.context.close()
