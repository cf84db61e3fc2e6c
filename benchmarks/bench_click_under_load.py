#!/usr/bin/env python3
"""Click -> error label in a real browser, alone and while 3 other sessions train.

One server (``--preheat 4``), four visitors in their own Chromium contexts, all interactive
first. Visitor 0 clicks cells of the output layer (columns 180-199, a short there changes the
error at once); each click is a ``mousedown``/``mouseup`` dispatched in the page, timed with
``performance.now()`` until the text of ``.current-error .error-value`` changes (a
``MutationObserver``, no polling): the whole path browser -> kernel (paint, evaluate on 10,000
test images) -> browser. The first websocket message to reach the page after the click is timed
too (``first_kernel_reply``): the round trip through the Voilà server and the kernel, without
what the page then does with the messages. Clicks are ~0.5 s apart, like a person's. First ``--clicks`` clicks
with nobody training (the reference), then visitors 1-3 press Train (``--epochs`` each, so they
train throughout) and visitor 0 clicks again. Clicking starts once the pools have refilled
and every kernel is idle. With the machine-wide training queue
(``MTJEXPLORE_TRAINING_SLOTS``, by default one fewer than the cores; set it in the environment
to compare) some of the three wait for a CPU: their status lines are recorded.

Usage::

    python benchmarks/bench_click_under_load.py [--clicks 30] [--out benchmarks/results/click_under_load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _load import load_1min, wait_for_low_load
from bench_preheat import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    INTERACTIVE_JS,
    kernels,
    memory,
    wait_for_spares,
)

from mtjexplore.serve.appserver import AppServer

MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}  # the painter figure's fig_margin
N_ROWS, N_COLS = 101, 200
CLICK_JS = """async ([x, y, timeoutMs]) => {
    const box = document.querySelector('.current-error');
    const text = () => { const el = box.querySelector('.error-value'); return el ? el.textContent : ''; };
    const before = text();
    const target = document.elementFromPoint(x, y);
    const fire = (type, buttons) => target.dispatchEvent(new MouseEvent(type,
        {bubbles: true, cancelable: true, view: window, clientX: x, clientY: y, button: 0, buttons}));
    return await new Promise(resolve => {
        window.__firstReply = null;  // set by WS_RECORDER when the next kernel message arrives
        const t0 = performance.now();
        const done = value => {
            observer.disconnect(); clearTimeout(timer);
            resolve([value, window.__firstReply === null ? null : window.__firstReply - t0]);
        };
        const observer = new MutationObserver(() => { if (text() !== before) done(performance.now() - t0); });
        observer.observe(box, {childList: true, characterData: true, subtree: true});
        const timer = setTimeout(() => done(null), timeoutMs);
        fire('mousedown', 1);
        fire('mouseup', 0);
    });
}"""


# Installed before the page's scripts: notes when the first websocket message after a click
# reaches the page (before the page handles it), which splits a click into the round trip
# browser -> Voilà server -> kernel -> browser and what the page does with the replies.
WS_RECORDER = """(() => {
    const Native = window.WebSocket;
    window.__firstReply = undefined;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', () => {
                if (window.__firstReply === null) window.__firstReply = performance.now();
            });
        }
    };
})();"""


async def cell_center(page, row, col):
    box = await page.locator(".crossbar-figure").first.bounding_box()
    width = box["width"] - MARGIN["left"] - MARGIN["right"]
    height = box["height"] - MARGIN["top"] - MARGIN["bottom"]
    return (box["x"] + MARGIN["left"] + (col + 0.5) * width / N_COLS,
            box["y"] + MARGIN["top"] + (row + 0.5) * height / N_ROWS)


async def open_visitor(browser, url, timeout_ms):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(WS_RECORDER)
    page = await context.new_page()
    start = time.monotonic()
    await page.goto(url, timeout=timeout_ms)
    await page.wait_for_function(INTERACTIVE_JS, timeout=timeout_ms, polling=50)
    return context, page, round(time.monotonic() - start, 2)


async def wait_until_quiet(server, n_kernels, timeout_s=300.0):
    """Wait until the pools have refilled (``n_kernels`` kernels) and no kernel uses the CPU."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        procs = kernels(server)
        if len(procs) >= n_kernels:
            for proc in procs:
                proc.cpu_percent(interval=None)
            await asyncio.sleep(1.0)  # a CPU sample needs an interval; a measurement, not a sync
            busy = 0.0
            for proc in procs:
                try:
                    busy += proc.cpu_percent(interval=None)
                except psutil.NoSuchProcess:
                    pass
            if busy < 10.0:
                return round(timeout_s - (deadline - time.monotonic()), 1)
        else:
            await asyncio.sleep(0.5)
    raise TimeoutError(f"the server's kernels did not settle within {timeout_s} s")


async def clicks(page, cells, timeout_ms=5000, pause_s=0.5):
    """``(label, first reply)`` ms of each click; label None where it did not change in time."""
    await page.locator(".crossbar-figure").first.scroll_into_view_if_needed()
    out = []
    for row, col in cells:
        x, y = await cell_center(page, row, col)
        out.append(await page.evaluate(CLICK_JS, [x, y, timeout_ms]))
        await asyncio.sleep(pause_s)  # pacing like a person's clicks, not a synchronisation
    return out


async def start_training(page, epochs):
    epochs_box = page.locator(".train-epochs input").first
    await epochs_box.fill(str(epochs))
    await epochs_box.press("Tab")
    await page.locator("button.train-button").first.click()


def stats(timed):
    """Label latency (median, p90, max over the clicks that changed it) and the first reply's."""
    values = [label for label, _ in timed]
    out = _quantiles(values)
    replies = [reply for label, reply in timed if label is not None]
    if any(r is not None for r in replies):
        out["first_kernel_reply"] = _quantiles(replies)
    return out


def _quantiles(values):
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"n": 0, "n_no_change": len(values)}
    p90 = got[min(len(got) - 1, round(0.9 * (len(got) - 1)))]
    return {"n": len(got), "n_no_change": len(values) - len(got), "median_ms": round(statistics.median(got), 1),
            "p90_ms": round(p90, 1), "max_ms": round(got[-1], 1), "all_ms": [round(v, 1) for v in got]}


async def freeze(page):
    """Freeze a page's scripts (Chrome DevTools ``Page.setWebLifecycleState``): its redraws then
    cost this machine nothing, as a student's browser on their own computer would."""
    session = await page.context.new_cdp_session(page)
    await session.send("Page.setWebLifecycleState", {"state": "frozen"})


async def run(server, n_clicks, epochs, timeout_ms, freeze_trainers=False, max_load=None):
    from playwright.async_api import async_playwright

    # distinct output-layer cells (rows 0-90, columns 180-199) for the two phases
    idle_cells = [(r, 180 + (7 * r + 3) % 20) for r in range(1, 91, 3)][:n_clicks]
    load_cells = [(r, 180 + (7 * r + 11) % 20) for r in range(2, 91, 3)][:n_clicks]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        opened = await asyncio.gather(*(open_visitor(browser, server.app_url("explorer"), timeout_ms)
                                        for _ in range(4)))
        pages = [page for _, page, _ in opened]
        settled_s = await wait_until_quiet(server, 4 + 2 * 4)  # 4 visitors, both pools refilled
        load = {}
        if max_load is not None:  # other jobs on the machine: wait for them to calm down
            load["wait"] = await asyncio.to_thread(wait_for_low_load, max_load)
        load["load_avg_1min_before_idle"] = load_1min()
        idle = await clicks(pages[0], idle_cells)
        for page in pages[1:]:
            await start_training(page, epochs)
            if freeze_trainers:
                await page.locator(".training-status").first.wait_for(state="visible")
        await asyncio.sleep(3.0)  # let the runs get going (their first steps) before measuring
        statuses = [await p.locator(".training-status").first.inner_text() for p in pages[1:]]
        if freeze_trainers:
            for page in pages[1:]:
                await freeze(page)
        load["load_avg_1min_before_loaded"] = load_1min()
        loaded = await clicks(pages[0], load_cells)
        load["load_avg_1min_after_loaded"] = load_1min()
        if freeze_trainers:
            for page in pages[1:]:
                session = await page.context.new_cdp_session(page)
                await session.send("Page.setWebLifecycleState", {"state": "active"})
        statuses_after = [await p.locator(".training-status").first.inner_text() for p in pages[1:]]
        kernel_memory = memory(kernels(server))
        for page in pages[1:]:  # stop what still trains (a run that has finished has nothing to stop)
            stop = page.locator("button.stop-button").first
            if await stop.is_enabled():
                await stop.click()
        for context, _, _ in opened:
            await context.close()
        await browser.close()
    return {"visitors_interactive_s": [s for _, _, s in opened], "kernels_settled_after_s": settled_s,
            "load_avg": load,
            "idle": stats(idle), "while_3_train": stats(loaded),
            "training_status_at_start": statuses, "training_status_at_end": statuses_after,
            "kernel_memory_during_training": kernel_memory}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30, help="clicks per phase (at most 30)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each of the 3 training runs")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--freeze-trainers", action="store_true",
                        help="freeze the 3 training pages while visitor 0 clicks (their browsers "
                             "would be on other computers)")
    parser.add_argument("--max-load", type=float, default=None, metavar="LOAD",
                        help="before the first click, wait up to 15 min for the 1-minute load "
                             "average to fall below LOAD")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "click_under_load.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(port=0, preheat=4, log_path=Path(tmp) / "voila.log", log_level="INFO")
        with server:
            wait_for_spares(server, 4, args.timeout)
            result = asyncio.run(run(server, min(args.clicks, 30), args.epochs, int(args.timeout * 1000),
                                     args.freeze_trainers, args.max_load))
    result = {"benchmark": "click -> error label in the browser, alone and while 3 other sessions train",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(),
              "training_slots": os.environ.get("MTJEXPLORE_TRAINING_SLOTS", "the server's default"),
              "training_pages_frozen_while_clicking": args.freeze_trainers,
              **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("kernel_memory_during_training",)}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
