"""Screenshots of the widget composites in real Chromium, served by Voilà (for docs/widgets.md).

Serves ``widgets_demo.ipynb`` (the Explorer at paper size: 36 dies of 20,000 devices, the full
MNIST test set) with Voilà on a free port, drives it with Playwright, and writes:

* ``docs/img/painter.png``, ``docs/img/painter_conductance.png``, ``docs/img/training_panel.png``,
  ``docs/img/ensemble_view.png``, ``docs/img/explorer.png``;
* ``docs/screenshots/browser_measurements.json``: click -> pixels / counts / error latencies
  measured inside the page, and whether each click landed on the intended cell.

The Voilà server is stopped (SIGTERM to its process group) at the end, also on failure.
Run: ``python docs/screenshots/take_screenshots.py``.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
IMG = HERE.parent / "img"
NOTEBOOK = HERE / "widgets_demo.ipynb"
MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}  # CrossbarPainter's fig_margin
SHAPE = (101, 200)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
LATENCY_JS = """() => {
  // One observer on the whole page (bqplot may replace elements when it re-lays a figure out):
  // the first mutation after a mousedown inside each part gives that part's latency.
  window.__lat = {t0: null};
  document.addEventListener('mousedown', () => {
    window.__lat = {t0: performance.now(), image: null, counts: null, error: null};
  }, true);
  const parts = {image: '.crossbar-figure', counts: '.defect-counts', error: '.current-error'};
  new MutationObserver((mutations) => {
    const lat = window.__lat;
    if (lat.t0 === null) return;
    for (const m of mutations) {
      const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (!node) continue;
      for (const [key, selector] of Object.entries(parts)) {
        if (lat[key] !== null || !node.closest(selector)) continue;
        if (key === 'image' && !(node.tagName === 'image' && m.attributeName === 'href')) continue;
        lat[key] = performance.now() - lat.t0;
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_voila(port, log):
    command = ["voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              cwd=HERE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:  # a TCP connection, not a page request: every page request starts a kernel
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.5)  # not listening yet: poll again
    stop_voila(server)
    raise RuntimeError(f"Voila did not start within 60 s; see {log.name}")


def stop_voila(server):
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)


def cell_xy(box, row, col):
    width = box["width"] - MARGIN["left"] - MARGIN["right"]
    height = box["height"] - MARGIN["top"] - MARGIN["bottom"]
    return (box["x"] + MARGIN["left"] + (col + 0.5) * width / SHAPE[1],
            box["y"] + MARGIN["top"] + (row + 0.5) * height / SHAPE[0])


def paint_clicks(page, cells):
    """Click each cell; return per-click latencies (ms, measured in the page) and the cell hit."""
    figure = page.locator(".crossbar-figure").first
    figure.scroll_into_view_if_needed()
    page.evaluate(LATENCY_JS)
    out = []
    for row, col in cells:
        box = figure.bounding_box()
        page.mouse.click(*cell_xy(box, row, col))
        try:
            page.wait_for_function("() => window.__lat.counts !== null && window.__lat.image !== null",
                                   timeout=15_000)
        except Exception:
            page.screenshot(path="/tmp/debug_click.png")
            print("lat", page.evaluate("() => window.__lat"), "box", box,
                  "status", page.locator(".paint-status").first.inner_text())
            raise
        page.wait_for_function("() => window.__lat.error !== null || "
                               "performance.now() - window.__lat.t0 > 1500", timeout=15_000)
        status = page.locator(".paint-status").first.inner_text()
        lat = page.evaluate("() => window.__lat")
        out.append({"cell": [row, col], "status": status,
                    "hit": f"last at row {row}, col {col}." in status,
                    "click_to_pixels_ms": lat["image"], "click_to_counts_ms": lat["counts"],
                    "click_to_error_ms": lat["error"]})
    return out


def wait_selected(page, selector, text, timeout_ms=60_000):
    """Wait until the <select> at ``selector`` shows an option whose text starts with ``text``."""
    page.wait_for_function(
        "([sel, text]) => { const s = document.querySelector(sel);"
        " return s && s.selectedIndex >= 0 && s.options[s.selectedIndex].text.startsWith(text); }",
        arg=[selector, text], timeout=timeout_ms)


def drag(page, start, end):
    figure = page.locator(".crossbar-figure").first
    box = figure.bounding_box()
    page.mouse.move(*cell_xy(box, *start))
    page.mouse.down()
    page.mouse.move(*cell_xy(box, *end), steps=12)
    page.mouse.up()
    expect(page.locator(".paint-status").first).to_contain_text(f"last at row {end[0]}, col {end[1]}",
                                                                 timeout=15_000)
    return page.locator(".paint-status").first.inner_text()


def main():
    IMG.mkdir(parents=True, exist_ok=True)
    port = free_port()
    measurements = {}
    with open(Path(tempfile.gettempdir()) / "mtjexplore_screenshots_voila.log", "w") as log:
        server = start_voila(port, log)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                started = time.monotonic()
                try:
                    drive(page, port, measurements, started)
                except Exception:
                    page.screenshot(path="/tmp/debug_page.png", full_page=True)
                    raise
                browser.close()
        finally:
            stop_voila(server)
    report(measurements)


def drive(page, port, measurements, started):
        page.goto(f"http://127.0.0.1:{port}/", timeout=300_000)
        page.wait_for_selector(".crossbar-figure image", timeout=300_000)
        expect(page.locator(".current-error .error-value")).to_contain_text("%", timeout=120_000)
        measurements["page_ready_s"] = round(time.monotonic() - started, 1)
        page.wait_for_timeout(1000)  # let bqplot finish its first layout before measuring

        cells = [(5 + 9 * k, 7 + 17 * k) for k in range(10)] + [(40, 181), (12, 199)]
        measurements["clicks"] = paint_clicks(page, cells)
        measurements["drag_status"] = drag(page, (60, 20), (60, 60))
        measurements["drag_status_2"] = drag(page, (70, 120), (85, 150))
        page.locator(".crossbar-painter").first.screenshot(path=str(IMG / "painter.png"))

        page.locator(".color-by button", has_text="conductance").first.click()
        expect(page.locator(".defect-counts").first).to_contain_text("colour: g_p")
        page.wait_for_timeout(500)
        page.locator(".crossbar-figure").first.screenshot(path=str(IMG / "painter_conductance.png"))
        page.locator(".color-by button", has_text="defects").first.click()

        page.locator(".train-method select").first.select_option(label="defect-aware (current die)")
        page.locator("button.train-button").first.click()
        expect(page.locator(".training-status").first).to_contain_text("finished after",
                                                                      timeout=240_000)
        expect(page.locator(".ensemble-view .widget-html-content").first).to_be_visible()
        wait_selected(page, ".weights-select select", "defect_aware")
        page.wait_for_timeout(800)
        page.locator(".training-panel").first.screenshot(path=str(IMG / "training_panel.png"))
        measurements["training_status"] = page.locator(".training-status").first.inner_text()

        dots = page.locator(".ensemble-figure path.dot")
        dots.nth(12).scroll_into_view_if_needed()
        dots.nth(12).click()
        expect(page.locator(".selected-die").first).to_contain_text("Selected: die 12")
        expect(page.locator(".defect-counts").first).to_contain_text("die 12:")
        box = dots.nth(36 + 20).bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
        expect(page.locator(".hover-info").first).to_contain_text("die 20")
        page.wait_for_timeout(700)
        page.locator(".ensemble-view").first.screenshot(path=str(IMG / "ensemble_view.png"))
        measurements["selected"] = page.locator(".selected-die").first.inner_text()
        measurements["painter_after_select"] = page.locator(".defect-counts").first.inner_text()

        # paint a short on hidden neuron 30's '-' device of pixel 45: the neuron view shows it
        page.locator(".crossbar-figure").first.scroll_into_view_if_needed()
        page.mouse.click(*cell_xy(page.locator(".crossbar-figure").first.bounding_box(), 45, 61))
        expect(page.locator(".neuron-info").first).to_contain_text("input 45 (short)")
        measurements["neuron_info"] = page.locator(".neuron-info").first.inner_text()
        measurements["error_after_paint"] = page.locator(".current-error").first.inner_text()
        page.mouse.move(5, 5)
        height = page.evaluate("() => Math.ceil(document.querySelector('.mtj-explorer')"
                               ".getBoundingClientRect().height) + 120")
        page.set_viewport_size({"width": 1500, "height": height})
        page.locator(".mtj-explorer").first.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        page.locator(".mtj-explorer").first.screenshot(path=str(IMG / "explorer.png"))


def report(measurements):
    (HERE / "browser_measurements.json").write_text(json.dumps(measurements, indent=1) + "\n")
    clicks = measurements["clicks"]
    for key in ("click_to_pixels_ms", "click_to_counts_ms", "click_to_error_ms"):
        values = [c[key] for c in clicks if c[key] is not None]
        print(key, "median", round(statistics.median(values), 1), "ms of", len(values))
    print("hits", sum(c["hit"] for c in clicks), "of", len(clicks))


if __name__ == "__main__":
    main()
