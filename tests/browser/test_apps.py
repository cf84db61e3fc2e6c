"""The Voilà apps in a real browser, used the way a person uses them: look, paint, train, click.

Every wait is on a condition in the page (Playwright's ``expect`` or ``wait_for_function``), never
on a fixed time.
"""

from __future__ import annotations

import re

import pytest

from tests.browser._page import cell_center, defective_count, expect

STEP_MS = 60_000                   # first training step in a fresh kernel


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1200}}


try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # the fixtures skip (or fail) with the reason
    PlaywrightTimeoutError = TimeoutError


def error_text(page):
    return page.locator(".current-error .error-value").first.inner_text()


@pytest.fixture
def explorer(open_app):
    page = open_app("explorer", ".crossbar-figure")
    expect()(page.locator(".current-error .error-value")).to_have_text(re.compile(r"^\d+\.\d\d %$"))
    return page


def test_the_explorer_renders_die_error_and_no_source(explorer):
    expect()(explorer.locator(".defect-counts")).to_contain_text("die 0:")
    expect()(explorer.locator(".defect-counts")).to_contain_text("of 20000 devices")
    expect()(explorer.locator(".ensemble-figure path.dot").first).to_be_visible()
    html = explorer.content()
    assert "reference_ensemble(seed=0)" not in html, "the notebook's source must not be on the page"
    assert "Traceback" not in html


def test_clicking_a_cell_paints_exactly_that_device(explorer):
    before = defective_count(explorer)
    x, y = cell_center(explorer, 50, 100)
    explorer.mouse.click(x, y)
    expect()(explorer.locator(".paint-status")).to_contain_text(
        "painted short on 1 device(s), last at row 50, col 100")
    expect()(explorer.locator(".defect-counts")).to_contain_text(f"{before + 1} defective of")


def test_dragging_paints_a_stroke_and_the_error_changes(explorer):
    before_error, before_count = error_text(explorer), defective_count(explorer)
    # Down the '+' column of hidden neuron 10 (column 20): 81 shorts make that neuron fire always.
    # A person drags at a finite speed: move through waypoints, each reached before the next.
    explorer.mouse.move(*cell_center(explorer, 5, 20))
    explorer.mouse.down()
    for row in (25, 45, 65, 85):
        explorer.mouse.move(*cell_center(explorer, row, 20), steps=8)
        expect()(explorer.locator(".paint-status")).to_contain_text(f"last at row {row}, col 20")
    explorer.mouse.up()
    expect()(explorer.locator(".current-error .error-value")).not_to_have_text(before_error)
    after_count = defective_count(explorer)
    assert after_count >= before_count + 60, "a stroke over 81 cells paints (almost) all of them"


FAST_DRAG_JS = """([start, end]) => {
    // One drag inside one task, faster than any hand: press, three moves, release. The first
    // move goes out at once, the throttle holds the other two for ~15 ms, and the unthrottled
    // mouseup goes out before them.
    const target = document.elementFromPoint(start[0], start[1]);
    const fire = (type, [x, y], buttons) => target.dispatchEvent(new MouseEvent(type,
        {bubbles: true, cancelable: true, view: window, clientX: x, clientY: y, button: 0, buttons}));
    fire('mousedown', start, 1);
    for (const t of [0.2, 0.6, 1.0]) {
        fire('mousemove', [start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])], 1);
    }
    fire('mouseup', end, 0);
}"""


def test_a_fast_drag_paints_up_to_where_the_button_went_up(explorer):
    # Playwright's own mouse moves each take a round trip, slower than the 15 ms throttle, so the
    # race is made in the page: the mouseup reaches the kernel before the last moves.
    before = defective_count(explorer)
    start, end = cell_center(explorer, 3, 100), cell_center(explorer, 3, 160)
    assert explorer.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('.crossbar-figure')",
                             list(start))
    explorer.evaluate(FAST_DRAG_JS, [list(start), list(end)])
    expect()(explorer.locator(".paint-status")).to_contain_text("last at row 3, col 160")
    assert defective_count(explorer) >= before + 55, "a stroke over 61 cells paints (almost) all of them"


LAYOUT_JS = """() => {
    const fig = document.querySelector('.crossbar-figure');
    const side = document.querySelector('.explorer-side');
    const r = fig.getBoundingClientRect(), s = side.getBoundingClientRect();
    if (Math.round(r.width) !== 900 || Math.round(r.height) !== 470) return false;
    const apart = s.left >= r.right - 0.5 || s.top >= r.bottom - 0.5;
    const points = [[r.left + 50, r.top + 30], [r.right - 14, r.top + 30], [r.left + 50, r.bottom - 38],
                    [r.right - 14, r.bottom - 38], [(r.left + r.right) / 2, (r.top + r.bottom) / 2]];
    return apart && r.left >= 0 && r.right <= window.innerWidth
        && points.every(([x, y]) => fig.contains(document.elementFromPoint(x, y)));
}"""


def test_the_crossbar_is_never_shrunk_clipped_or_covered(explorer):
    for width in (1440, 1280, 1024):   # the side panel sits beside the crossbar, then below it
        explorer.set_viewport_size({"width": width, "height": 1200})
        explorer.locator(".crossbar-figure").first.scroll_into_view_if_needed()
        try:
            explorer.wait_for_function(LAYOUT_JS, timeout=10_000)
        except PlaywrightTimeoutError as exc:
            raise AssertionError(f"at a {width} px wide page the crossbar figure is shrunk, clipped or "
                                 "covered") from exc


def test_train_advances_progress_and_curve_then_stop_stops(explorer):
    # A long run (200 epochs), so that there is time to watch it and to stop it.
    epochs = explorer.locator(".train-epochs input").first
    epochs.fill("200")
    epochs.press("Enter")
    explorer.locator("button.train-button").first.click()
    expect()(explorer.locator(".training-status")).to_contain_text(re.compile(r"Training: epoch \d+, step \d+/\d+"),
                                                                timeout=STEP_MS)
    total = int(re.search(r"step \d+/(\d+)", explorer.locator(".training-status").inner_text()).group(1))
    assert total >= 200, "the epochs typed in must reach the run"
    progress = ".train-progress .progress-bar"
    width_js = f"() => parseFloat(document.querySelector('{progress}').style.width) || 0"
    explorer.wait_for_function(f"({width_js})() > 0", timeout=STEP_MS)
    first = explorer.evaluate(width_js)
    explorer.wait_for_function(f"({width_js})() > {first}", timeout=STEP_MS)
    path_js = "() => (document.querySelector('.loss-curve path.line')?.getAttribute('d') || '').length"
    drawn = explorer.evaluate(path_js)
    explorer.wait_for_function(f"({path_js})() > {drawn}", timeout=STEP_MS)
    assert explorer.evaluate(path_js) > drawn > 0
    explorer.locator("button.stop-button").first.click()
    expect()(explorer.locator(".training-status")).to_contain_text(re.compile(r"stopped after \d+ steps"),
                                                                timeout=STEP_MS)
    expect()(explorer.locator("button.train-button")).to_be_enabled()
    expect()(explorer.locator("button.stop-button")).to_be_disabled()


def _first_unobscured_dot(page):
    """Index and centre of the first die dot (first method) not covered by another mark."""
    return page.evaluate("""() => {
        const dots = Array.from(document.querySelectorAll('.ensemble-figure path.dot'));
        for (let i = 0; i < dots.length; i++) {
            const r = dots[i].getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (document.elementFromPoint(x, y) === dots[i]) return {index: i, x: x, y: y, n: dots.length};
        }
        return null;
    }""")


def test_clicking_a_die_in_the_ensemble_app_selects_it(open_app):
    page = open_app("ensemble", ".ensemble-figure path.dot")
    expect()(page.locator(".selected-die")).to_contain_text("Selected: die 0:")  # a die is always selected
    page.locator(".ensemble-figure").first.scroll_into_view_if_needed()
    dot = _first_unobscured_dot(page)
    assert dot is not None, "some die dot must be clickable"
    die_id = dot["index"] % 36          # dots of each method are drawn die by die
    page.mouse.click(dot["x"], dot["y"])
    expect()(page.locator(".selected-die")).to_contain_text(f"Selected: die {die_id}:")
    expect()(page.locator(".defect-counts").first).to_contain_text(f"die {die_id}:")

