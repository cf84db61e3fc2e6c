import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import xarray as xr  # noqa: E402

from mtjexplore.errors import ParameterError  # noqa: E402
from mtjexplore.widgets import EnsembleView  # noqa: E402


@pytest.fixture()
def results():
    error = np.array([[0.10, 0.30, 0.20, 0.12], [0.11, 0.13, 0.12, 0.115]])
    return xr.Dataset({"error": (("method", "die"), error)},
                      coords={"method": ["software", "statistics_aware"], "die": [4, 7, 9, 12],
                              "n_defects": ("die", [3, 25, 14, 5]), "n_short": ("die", [2, 24, 13, 5])})


def test_clicking_a_die_selects_it_and_calls_back(results):
    view = EnsembleView(results, baseline=0.1)
    seen = []
    view.on_select(seen.append)
    strip = view._strips[1]
    view._on_dot_click(strip, {"event": "element_click", "data": {"index": 1, "x": 1.0, "y": 13.0}})
    assert view.selected_die == 7 and seen == [7]
    assert "die 7" in view.selected_label.value and "short 24" in view.selected_label.value
    np.testing.assert_allclose(view._highlight.y, [30.0, 13.0])


def test_select_rejects_unknown_dies(results):
    with pytest.raises(ParameterError, match="die 5 is not in the results"):
        EnsembleView(results).select(5)


def test_hover_shows_die_id_and_defect_counts(results):
    view = EnsembleView(results)
    view._strips[0].hovered_point = 2
    assert "die 9" in view.hover_info.value and "defects 14" in view.hover_info.value
    assert view._tooltip.value == view.hover_info.value


def test_strips_boxes_and_baseline_show_the_errors(results):
    view = EnsembleView(results, baseline=0.1)
    np.testing.assert_allclose(view._strips[0].y, [10, 30, 20, 12])
    assert view._boxes.y.shape == (2, 4)
    assert view._baseline_line.visible and view._baseline_line.y[0] == pytest.approx(10.0)
    assert view._x_axis.tick_labels == {0: "1", 1: "2"}
    assert "<b>1</b>" in view.legend.value and "statistics_aware" in view.legend.value


def test_yield_follows_the_spec_slider(results):
    view = EnsembleView(results)
    view.spec.value = 13.0
    assert view.yields() == {"software": 0.5, "statistics_aware": 1.0}
    np.testing.assert_allclose(view._bars.y, [50.0, 100.0])
    view.spec.value = 11.0
    assert view.yields() == {"software": 0.25, "statistics_aware": 0.25}
    assert "25 %" in view.yield_summary.value


def test_single_method_results_and_empty_views(results):
    view = EnsembleView(None)
    assert view.yields() == {} and "No results" in view.message.value
    view.results = results.isel(method=0, drop=True).assign_attrs(method="software")
    assert view.methods == ["software"]
    with pytest.raises(ParameterError, match="error\\(method, die\\)"):
        EnsembleView(xr.Dataset({"loss": ("die", [1.0])}))


def test_colours_follow_the_method_name_not_the_position(results):
    from mtjexplore.widgets import METHOD_COLORS

    view = EnsembleView(results)
    first = [strip.colors[0] for strip in view._strips]
    assert first == [METHOD_COLORS[str(m)] for m in results.method.values]
    view.results = results.isel(method=[1, 0])        # the same methods, the other order
    assert [strip.colors[0] for strip in view._strips] == first[::-1]
    assert len(set(METHOD_COLORS.values())) == len(METHOD_COLORS) >= 3, "one distinct colour per method"


def test_axes_show_numbers_and_the_legend_names_eight_runs(results):
    from mtjexplore.widgets import METHOD_COLORS

    names = [f"defect-aware, die {k}, painted (3 shorts), run {k}" for k in range(8)]
    many = xr.concat([results.isel(method=0)] * 8, dim="method").assign_coords(method=names)
    view = EnsembleView(many)
    assert view._x_axis.tick_labels == {k: str(k + 1) for k in range(8)}
    assert list(view._bars.x) == [str(k + 1) for k in range(8)]
    for k, name in enumerate(names):
        assert f"<b>{k + 1}</b>" in view.legend.value and name in view.legend.value
    assert list(view._bars.colors) == [METHOD_COLORS["defect_aware"]] * 8
