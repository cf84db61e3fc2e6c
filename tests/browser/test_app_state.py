"""The apps' state model in Chromium at 1366 x 768 (issue 15): runs never move the baseline or
the shipped weights, colours stay with their method, a link opens exactly its state (a
malformed one the default state with a note), Reset, a preset.

Runs are stopped after their first steps (Stop is tested in test_apps.py): a stopped run joins
the comparison like a finished one. Every wait is on a condition in the page.
"""

from __future__ import annotations

import re

import pytest

from tests.browser._page import cell_center, defective_count, expect

RUN_MS = 240_000                  # first step in a fresh kernel + evaluation on 36 dies
COLORS = {"software": "#7f7f7f", "defect_aware": "#9467bd", "statistics_aware": "#2ca02c"}
METHOD_LABELS = {"software": "software (ideal devices)", "statistics_aware": "statistics-aware (sampled dies)",
                 "defect_aware": "defect-aware (this die, as painted)"}


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}}


def error_text(page):
    return page.locator(".current-error .error-value").first.inner_text()


def expect_link(page, href):
    """The page's shareable link becomes ``href`` (it updates after the view it describes)."""
    expect()(page.locator(".share-link a.state-link").first).to_have_attribute("href", href)


@pytest.fixture
def open_explorer(open_app):
    def _open(query=""):
        page = open_app("explorer", ".crossbar-figure", query)
        expect()(page.locator(".current-error .error-value")).to_have_text(re.compile(r"^\d+\.\d\d %$"))
        expect()(page.locator(".ensemble-figure path.dot").first).to_be_visible()
        return page

    return _open


def run_and_stop(page, method, n_legend_rows, run):
    """Start run number ``run`` of ``method``, stop it after its first steps, wait until it has
    joined the chart (``n_legend_rows`` rows) and Train is enabled again."""
    page.locator(".train-method select").first.select_option(label=METHOD_LABELS[method])
    page.locator("button.train-button").first.click()
    expect()(page.locator(".training-status").first).to_contain_text("Training: epoch", timeout=RUN_MS)
    page.locator("button.stop-button").first.click()
    expect()(page.locator(".training-status").first).to_contain_text(
        re.compile(f"Run {run} .*stopped after"), timeout=RUN_MS)
    expect()(page.locator(".ensemble-view .legend-row")).to_have_count(n_legend_rows, timeout=RUN_MS)
    expect()(page.locator("button.train-button").first).to_be_enabled(timeout=RUN_MS)


def legend(page):
    """``[(name, colour)]`` of the ensemble view's legend, in order."""
    rows = page.locator(".ensemble-view .legend-row")
    return [(rows.nth(k).get_attribute("title"), rows.nth(k).get_attribute("data-color"))
            for k in range(rows.count())]


def test_a_run_never_changes_the_baseline_or_the_shipped_weights(open_explorer):
    page = open_explorer()
    caption = page.locator(".ensemble-caption").first.inner_text()
    baseline = re.search(r"ideal devices \((\d+\.\d\d) %\)", caption).group(1)
    shipped = error_text(page)
    run_and_stop(page, "software", 3, 1)
    expect()(page.locator(".weights-select select").first).to_have_value(re.compile("software, run 1"))
    expect()(page.locator(".ensemble-caption").first).to_contain_text(f"ideal devices ({baseline} %)")
    assert [name for name, _ in legend(page)] == ["software", "statistics_aware", "software, run 1"]
    page.locator(".weights-select select").first.select_option(label="software (shipped, read-only)")
    expect()(page.locator(".current-error .error-value").first).to_have_text(shipped)
    expect()(page.locator("button.remove-run")).to_be_disabled()
    page.locator(".weights-select select").first.select_option(label="software, run 1")
    expect()(page.locator("button.remove-run")).to_be_enabled()
    page.locator("button.remove-run").first.click()
    expect()(page.locator(".ensemble-view .legend-row")).to_have_count(2)
    expect()(page.locator(".ensemble-caption").first).to_contain_text(f"ideal devices ({baseline} %)")


def test_colours_stay_with_their_method_after_reruns(open_explorer):
    page = open_explorer()
    run_and_stop(page, "statistics_aware", 3, 1)
    run_and_stop(page, "software", 4, 2)
    rows = legend(page)
    assert [n for n, _ in rows] == ["software", "statistics_aware", "statistics-aware, run 1", "software, run 2"]
    for name, color in rows:
        method = "statistics_aware" if name.startswith("statistics") else "software"
        assert color == COLORS[method], f"{name} drawn in {color}"
    fills = page.evaluate("""() => Array.from(document.querySelectorAll('.ensemble-figure path.dot'))
        .map(d => getComputedStyle(d).fill).filter(f => f !== 'none')""")
    rgb = {f"rgb({int(c[1:3], 16)}, {int(c[3:5], 16)}, {int(c[5:7], 16)})" for c in
           (COLORS["software"], COLORS["statistics_aware"])}
    assert set(fills) == rgb and len(fills) == 4 * 36


def _expected_state():
    """The die and error the link below must open, built with the core in this process."""
    import mtjexplore as mx
    from mtjexplore.study.app_data import app_weights
    from mtjexplore.fast_eval import DieEvaluator
    from mtjexplore.widgets.presets import preset_die

    ensemble = mx.reference_ensemble()
    die, _ = preset_die("shorts_1pct", ensemble.sel(die=3), ensemble, seed=5)
    new = [(r, c) for r, c in ((50, 100), (50, 101)) if die.defect.values[r, c] != 1]
    die = mx.set_defects(die, [r for r, _ in new], [c for _, c in new], "short")
    _, test = mx.load_mnist()
    error = DieEvaluator(app_weights("software"), test).evaluate(die)[0]
    cells = ",".join(f"{r}.{c}" for r, c in new).replace(",", "%2C")
    return die, error, f"?die=3&preset=shorts_1pct&seed=5&short={cells}"


def test_a_link_opens_exactly_its_state_and_copy_link_puts_it_in_the_address_bar(open_explorer):
    die, error, canonical = _expected_state()
    page = open_explorer("?die=3&preset=shorts_1pct&seed=5&short=50.100,50.101")
    expect()(page.locator(".defect-counts").first).to_contain_text("die 3:")
    n_defective = int(((die.defect.values != 0) & (die.defect.values != 255)).sum())
    expect()(page.locator(".defect-counts").first).to_contain_text(f"{n_defective} defective of 20000")
    expect()(page.locator(".current-error .error-value").first).to_have_text(f"{100 * error:.2f} %")
    expect()(page.locator(".scenario-note").first).to_contain_text("1 % of this die")
    expect_link(page, canonical)
    expect()(page.locator(".state-note")).to_have_text("")
    page.locator("button.copy-link").first.click()
    expect()(page).to_have_url(re.compile(re.escape(canonical) + "$"))


def test_a_malformed_link_opens_the_default_state_with_a_note(open_explorer):
    page = open_explorer("?die=999&short=50.100")
    expect()(page.locator(".state-note").first).to_contain_text("die=999 is not one of the ensemble's die ids")
    expect()(page.locator(".state-note").first).to_contain_text("the default state is shown instead")
    expect()(page.locator(".defect-counts").first).to_contain_text("die 0:")
    expect_link(page, "?die=0")
    assert "Traceback" not in page.content()


def test_a_preset_is_one_click_and_reset_returns_to_the_loaded_state(open_explorer):
    page = open_explorer()
    loaded, loaded_error = defective_count(page), error_text(page)
    page.locator(".preset-output_short button, button.preset-output_short").first.click()
    expect()(page.locator(".defect-counts").first).to_contain_text(f"{loaded + 1} defective of")
    expect()(page.locator(".scenario-note").first).to_contain_text("One short added in the output layer")
    expect()(page.locator(".delta-error .delta-value").first).to_contain_text(re.compile(r"Δ [+-]\d+\.\d\d points"))
    expect()(page.locator(".flipped-summary").first).to_contain_text("test digits flipped")
    x, y = cell_center(page, 50, 100)
    page.mouse.click(x, y)
    expect()(page.locator(".defect-counts").first).to_contain_text(f"{loaded + 2} defective of")
    expect_link(page, "?die=0&preset=output_short&short=50.100")
    page.locator("button.reset-button").first.click()
    expect()(page.locator(".defect-counts").first).to_contain_text(f"die 0: {loaded} defective of")
    expect()(page.locator(".current-error .error-value").first).to_have_text(loaded_error)
    expect_link(page, "?die=0")


def test_the_ensemble_app_opens_a_linked_die_in_its_read_only_map(open_app):
    page = open_app("ensemble", ".ensemble-figure path.dot", "?die=5&method=defect_aware")
    expect()(page.locator(".selected-die").first).to_contain_text("Selected: die 5:")
    expect()(page.locator(".defect-counts").first).to_contain_text("die 5:")
    expect()(page.locator(".train-method select").first).to_have_value(re.compile("defect-aware"))
    assert page.locator(".painter-readonly .paint-palette").count() == 0, "the study's map is read-only"
    expect_link(page, "?die=5&method=defect_aware")
