#!/usr/bin/env python3
"""Take the README's screenshots of the Voilà apps in real Chromium: ``docs/img/app_<name>.png``.

Starts the apps with :class:`mtjexplore.appserver.AppServer` (what ``mtjexplore app`` runs),
opens each in headless Chromium, waits until its widgets have rendered and saves a screenshot.

Usage::

    python scripts/screenshot_apps.py [--out docs/img] [explorer ensemble]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtjexplore.appserver import AppServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-dev-shm-usage"]
#: What must be visible before the shot, per app.
READY = {"explorer": [".crossbar-figure", ".current-error .error-value", ".ensemble-figure path.dot"],
         "ensemble": [".ensemble-figure path.dot", ".yield-curve path.line", ".sensitivity-figure path.line",
                 ".crossbar-figure"]}


def shoot(page, url, selectors, path):
    page.goto(url, timeout=120_000)
    for selector in selectors:
        page.locator(selector).first.wait_for(state="visible", timeout=120_000)
    page.evaluate("document.fonts.ready")
    bottom = page.evaluate("Math.max(...Array.from(document.querySelectorAll('.jp-Cell'))"
                           ".map(e => e.getBoundingClientRect().bottom))")
    size = page.viewport_size
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": size["width"],
                                          "height": min(size["height"], bottom + 16)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", nargs="*", default=sorted(READY), help=f"apps to shoot (default: {' '.join(sorted(READY))})")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args(argv)
    unknown = set(args.apps) - set(READY)
    if unknown:
        parser.error(f"unknown apps {sorted(unknown)}; choose from {sorted(READY)}")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, AppServer(port=0, log_path=Path(tmp) / "voila.log") as server:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1600, "height": 2300})
            for name in args.apps:
                path = args.out / f"app_{name}.png"
                shoot(page, server.app_url(name), READY[name], path)
                print(f"wrote {path}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
