#!/usr/bin/env python3
"""Take the screenshots of the Voilà apps in real Chromium at 1366 x 768: ``docs/img/app_*.png``.

Starts the apps with :class:`mtjexplore.serve.appserver.AppServer` (what ``mtjexplore app`` runs),
opens each in headless Chromium at a 1366 x 768 window, uses it as a student would and saves:

* ``app_explorer_paint.png`` -- the explorer's first screen after one click painted a short
  (Δerror, rings, flipped digits); ``app_explorer_runs.png`` -- the whole page after two runs
  (defect-aware on the painted die, then statistics-aware), 1366 px wide;
* ``app_ensemble_select.png`` -- the ensemble app's first screen after clicking a die;
  ``app_ensemble_runs.png`` -- the whole page after two runs;
* ``app_explorer.png`` and ``app_ensemble.png`` -- copies of the two "runs" shots (the names
  the README uses).

Each step waits on what the page shows (never on a fixed time). Runs are 1 epoch each.

Usage::

    python scripts/screenshot_apps.py [--out docs/img] [explorer ensemble]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtjexplore.serve.appserver import AppServer  # noqa: E402
from mtjexplore.widgets.training_panel import METHODS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1366, "height": 768}
MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}   # the painter figure's fig_margin
SHAPE = (101, 200)
LOAD_MS, RUN_MS = 180_000, 300_000
#: What must be visible before the first shot, per app.
READY = {"explorer": [".crossbar-figure", ".current-error .error-value", ".ensemble-figure path.dot"],
         "ensemble": [".ensemble-figure path.dot", ".yield-curve path.line", ".sensitivity-figure path.line",
                      ".crossbar-figure"]}


def cell_center(page, row, col):
    """Page coordinates (viewport) of the centre of cell (row, col) of the crossbar figure."""
    box = page.locator(".crossbar-figure").first.bounding_box()
    width = box["width"] - MARGIN["left"] - MARGIN["right"]
    height = box["height"] - MARGIN["top"] - MARGIN["bottom"]
    return (box["x"] + MARGIN["left"] + (col + 0.5) * width / SHAPE[1],
            box["y"] + MARGIN["top"] + (row + 0.5) * height / SHAPE[0])


def open_app(page, url, selectors):
    page.goto(url, timeout=LOAD_MS)
    for selector in selectors:
        page.locator(selector).first.wait_for(state="visible", timeout=LOAD_MS)
    page.evaluate("document.fonts.ready")


def train(page, method, n_runs_after, run):
    """Train ``method`` for one epoch (run number ``run``); wait until it joined the charts
    (``n_runs_after`` rows in the legend) and Train is enabled again."""
    from playwright.sync_api import expect

    page.locator(".train-method select").first.select_option(label={m: l for l, m in METHODS}[method])
    # choosing a method loads its recipe's epochs: wait until that update is in (the note under
    # the charts changes after it), or it would overwrite the 1 typed below
    note = {"software": "Software:", "defect_aware": "Defect-aware:", "statistics_aware": "Statistics-aware:"}
    expect(page.locator(".validation-note").first).to_contain_text(note[method])
    epochs = page.locator(".train-epochs input").first
    epochs.fill("1")
    epochs.press("Enter")
    page.locator("button.train-button").first.click()
    expect(page.locator(".training-status").first).to_contain_text(
        re.compile(f"Run {run} .*finished after"), timeout=RUN_MS)
    expect(page.locator(".ensemble-view .method-legend .legend-row")).to_have_count(n_runs_after,
                                                                                    timeout=RUN_MS)
    expect(page.locator("button.train-button").first).to_be_enabled(timeout=RUN_MS)


def full_page(page, path):
    """The whole app, 1366 px wide: Voilà scrolls an inner element, not the window, so the
    window is made as tall as the content for the shot."""
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('body *'))"
                           ".map(e => e.scrollHeight))")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 40, 8000)})
    page.evaluate("document.fonts.ready")
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def shoot_explorer(page, url, out):
    from playwright.sync_api import expect

    open_app(page, url, READY["explorer"])
    page.locator(".crossbar-figure").first.scroll_into_view_if_needed()
    before = page.locator(".current-error .error-value").first.inner_text()
    page.mouse.click(*cell_center(page, 88, 185))     # a short in the output layer
    expect(page.locator(".paint-status").first).to_contain_text("painted short on 1 device(s)")
    expect(page.locator(".delta-error .delta-value")).to_be_visible()
    expect(page.locator(".current-error .error-value").first).not_to_have_text(before)
    # Voilà scrolls an inner element: bring the error line to the top (Δ, toolbar, crossbar, legend)
    page.locator(".current-error").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(out / "app_explorer_paint.png"))
    train(page, "defect_aware", 3, 1)
    train(page, "statistics_aware", 4, 2)
    full_page(page, out / "app_explorer_runs.png")


def shoot_ensemble(page, url, out):
    from playwright.sync_api import expect

    open_app(page, url, READY["ensemble"])
    page.locator(".ensemble-figure").first.scroll_into_view_if_needed()
    dot = page.evaluate("""() => {
        const dots = Array.from(document.querySelectorAll('.ensemble-figure path.dot'));
        for (let i = 0; i < dots.length; i++) {
            const r = dots[i].getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (document.elementFromPoint(x, y) === dots[i]) return {index: i, x: x, y: y};
        }
        return null;
    }""")
    page.mouse.click(dot["x"], dot["y"])
    die = dot["index"] % 36
    expect(page.locator(".selected-die").first).to_contain_text(f"Selected: die {die}:")
    expect(page.locator(".defect-counts").first).to_contain_text(f"die {die}:")
    page.mouse.move(1, 1)   # no tooltip over the chart
    page.locator(".mtj-study").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(out / "app_ensemble_select.png"))
    train(page, "defect_aware", 4, 1)
    train(page, "statistics_aware", 5, 2)
    full_page(page, out / "app_ensemble_runs.png")


SHOOT = {"explorer": shoot_explorer, "ensemble": shoot_ensemble}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", nargs="*", default=sorted(SHOOT), help=f"apps to shoot (default: {' '.join(sorted(SHOOT))})")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args(argv)
    unknown = set(args.apps) - set(SHOOT)
    if unknown:
        parser.error(f"unknown apps {sorted(unknown)}; choose from {sorted(SHOOT)}")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, AppServer(port=0, log_path=Path(tmp) / "voila.log") as server:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for name in args.apps:
                page = browser.new_page(viewport=VIEWPORT)
                SHOOT[name](page, server.app_url(name), args.out)
                shutil.copyfile(args.out / f"app_{name}_runs.png", args.out / f"app_{name}.png")
                print(f"wrote {args.out}/app_{name}_*.png")
                page.close()
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
