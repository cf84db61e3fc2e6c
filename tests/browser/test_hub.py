"""deploy/jupyterhub: three students log in at once (Playwright + Chromium), each lands in the
explorer, paints a different device, and sees only their own die; another's URL is refused.

Needs ``jupyterhub`` and ``jupyterhub-idle-culler`` (PyPI), ``configurable-http-proxy`` (npm:
``npm install`` in ``deploy/jupyterhub/``, or on PATH, or ``MTJ_HUB_CHP``) and Chromium. Without
them the test skips with the reason, unless ``MTJEXPLORE_REQUIRE_HUB=1``, where it fails.
Chromium comes from pytest-playwright's ``browser`` fixture (launched as ``conftest.py`` says), so
this test shares the worker's one Playwright instead of starting a second one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mtjexplore.serve.appserver import free_port
from tests.browser._page import cell_center, defective_count

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"
STUDENTS = {"ada": (20, 30), "grace": (40, 60), "alan": (80, 150)}   # the device each one paints
PASSWORD = "class-password-for-tests"
APP_MS = 180_000   # three cold kernels on a shared 2-core machine


def _chp():
    local = CONFIG.parent / "node_modules" / ".bin" / "configurable-http-proxy"
    return os.environ.get("MTJ_HUB_CHP") or (str(local) if local.is_file() else
                                             shutil.which("configurable-http-proxy"))


def _require_hub():
    missing = [name for name in ("jupyterhub", "jupyterhub_idle_culler", "playwright")
               if importlib.util.find_spec(name) is None]
    problems = [f"pip install {' '.join(missing)}"] if missing else []
    if not _chp():
        problems.append("configurable-http-proxy not found (npm install in deploy/jupyterhub/)")
    if problems:
        reason = "the JupyterHub test needs: " + "; ".join(problems)
        if os.environ.get("MTJEXPLORE_REQUIRE_HUB") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def _wait_http(url, proc, timeout_s, log):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the hub exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)  # polling the hub answering, not synchronising on time
    raise AssertionError(f"the hub did not answer {url} in {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def hub(tmp_path):
    """A JupyterHub from deploy/jupyterhub on 127.0.0.1; stopped (culler first) at the end."""
    _require_hub()
    port = free_port()
    env = {**os.environ, "MTJ_HUB_PASSWORD": PASSWORD, "MTJ_HUB_STUDENTS": ",".join(STUDENTS),
           "MTJ_HUB_PORT": str(port), "MTJ_HUB_API_PORT": str(free_port()),
           "MTJ_HUB_PROXY_API_PORT": str(free_port()), "MTJ_HUB_CHP": _chp()}
    log = tmp_path / "hub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=tmp_path,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/hub/health", proc, 90, log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        _stop(proc)


def _stop(proc):
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:  # the idle culler ignores the hub's SIGINT: stop it first
        if "jupyterhub_idle_culler" in " ".join(child.cmdline()):
            child.terminate()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [c for c in children if c.is_running()]
        for child in alive:
            try:
                child.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(alive, timeout=10)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)


def _log_in(browser, base, name):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1600, "height": 1200})
    page = context.new_page()
    page.requested = []
    page.on("request", lambda req: page.requested.append(req.url))
    page.apps = []  # the app pages' HTML responses
    page.on("response", lambda r: page.apps.append(r) if r.request.resource_type == "document"
            and "/voila/render/" in r.url and r.status == 200 else None)
    page.goto(f"{base}/hub/login", timeout=60_000)
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/(user/{name}/|hub/spawn-pending/{name})"), timeout=60_000)
    expect(page).to_have_url(re.compile(rf"/user/{name}/voila/render/explorer\.ipynb"), timeout=APP_MS)
    return page


def test_three_students_each_get_their_own_explorer(hub, browser):
    from playwright.sync_api import expect

    base, log = hub
    expect.set_options(timeout=APP_MS)
    pages = {name: _log_in(browser, base, name) for name in STUDENTS}  # all three servers start
    for page in pages.values():
        expect(page.locator(".current-error .error-value").first).to_have_text(re.compile(r"^\d+\.\d\d %$"))
    before = {name: defective_count(page) for name, page in pages.items()}
    assert len(set(before.values())) == 1, "every student starts from the same die 0"
    for name, (row, col) in STUDENTS.items():
        pages[name].mouse.click(*cell_center(pages[name], row, col))
        expect(pages[name].locator(".paint-status")).to_contain_text(
            f"painted short on 1 device(s), last at row {row}, col {col}")
    for name, page in pages.items():
        row, col = STUDENTS[name]
        expect(page.locator(".defect-counts")).to_contain_text(f"{before[name] + 1} defective of")
        expect(page.locator(".paint-status")).to_contain_text(f"last at row {row}, col {col}")
    for name, page in pages.items():
        outside = [u for u in page.requested if urllib.parse.urlsplit(u).scheme not in ("blob", "data")
                   and urllib.parse.urlsplit(u).hostname != "127.0.0.1"]
        assert outside == [], f"{name}'s page requested {outside}"
        assert any('id="mtj-loading-elapsed"' in r.text() for r in page.apps), \
            f"{name}'s page is not the apps' page template (mtjexplore/serve/share/jupyter)"
    ada = pages["ada"]
    response = ada.goto(f"{base}/user/grace/voila/render/explorer.ipynb", timeout=60_000)
    assert response.status == 403, "a student must not reach another student's server"
    for page in pages.values():
        page.context.close()
    assert "Traceback" not in log.read_text()
