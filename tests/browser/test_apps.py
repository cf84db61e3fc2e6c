"""The Voilà apps in a real browser, used the way a person uses them: look, paint, train, click.

Every wait is on a condition in the page (Playwright's ``expect`` or ``wait_for_function``), never
on a fixed time.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

N_ROWS, N_COLS = 101, 200          # the paper die's physical array
STEP_MS = 60_000                   # first training step in a fresh kernel
MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}   # the painter figure's fig_margin


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1200}}


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def cell_center(page, row, col):
    """Page coordinates of the centre of cell (row, col) of the crossbar figure."""
    figure = page.locator(".crossbar-figure").first
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    width = box["width"] - MARGIN["left"] - MARGIN["right"]
    height = box["height"] - MARGIN["top"] - MARGIN["bottom"]
    return (box["x"] + MARGIN["left"] + (col + 0.5) * width / N_COLS,
            box["y"] + MARGIN["top"] + (row + 0.5) * height / N_ROWS)


def defective_count(page):
    text = page.locator(".defect-counts").first.inner_text()
    return int(re.search(r"(\d+) defective of", text).group(1))


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
    expect()(page.locator(".selected-die")).to_contain_text("No die selected")
    page.locator(".ensemble-figure").first.scroll_into_view_if_needed()
    dot = _first_unobscured_dot(page)
    assert dot is not None, "some die dot must be clickable"
    die_id = dot["index"] % 36          # dots of each method are drawn die by die
    page.mouse.click(dot["x"], dot["y"])
    expect()(page.locator(".selected-die")).to_contain_text(f"Selected: die {die_id}:")
    expect()(page.locator(".defect-counts").first).to_contain_text(f"die {die_id}:")
