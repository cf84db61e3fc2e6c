"""Tests for the headless reproduction (mtjexplore.study.reproduce) and its report (mtjexplore.study.report)."""

import json
import shutil

import numpy as np
import pytest
import xarray as xr

import mtjexplore as mx
from mtjexplore.study import report
from mtjexplore.cli import main
from mtjexplore.errors import ParameterError
from mtjexplore.study.layout import StudyMismatchError
from mtjexplore.study.reproduce import (METHODS, StudySettings, derive_seed, die_coords, measured_dies,
                                        quick_settings, recipe, reproduce)
from mtjexplore.recipes import statistics_aware_recipe

TINY = StudySettings(n_train=1000, n_test=400, max_epochs=1, n_sensitivity=3, n_remap_images=300)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The quick reproduction end to end through the command line, on 3 dies."""
    out = tmp_path_factory.mktemp("quick") / "results"
    assert main(["reproduce", "--quick", "--dies", "3", "--seed", "1", "--out", str(out),
                 "--no-progress"]) == 0
    return out


def test_quick_reproduction_writes_every_output(quick_run):
    files = {p.relative_to(quick_run).as_posix() for p in quick_run.rglob("*") if p.is_file()}
    assert {"results.nc", "summary.md", "statistics.nc", "weights/software.nc",
            "weights/statistics_aware.nc", "weights/defect_aware.nc"} <= files
    assert {f"{name}.png" for name in report.FIGURES} <= files
    for name in report.FIGURES:
        assert (quick_run / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_quick_results_have_the_documented_layout(quick_run):
    res = mx.load(quick_run / "results.nc")
    assert res.error.dims == ("method", "die") and list(res.method.values) == list(METHODS)
    assert res.sizes == {"method": 5, "die": 3, "sample": 8, "hidden": 90, "output": 10,
                         "remap_method": 2, "remap_subset": 2}
    # the first draw of the remapping images is the one the remapped rows report
    for method in ("remapped", "statistics_aware_remapped"):
        np.testing.assert_array_equal(res.remap_subset_error.sel(remap_method=method, remap_subset=0).values,
                                      res.error.sel({"method": method}).values)
    assert "a short passes 5.4 unit weights" in res.attrs["device"]
    assert np.isfinite(res.error.values).all() and ((res.error >= 0) & (res.error <= 1)).all()
    assert np.isnan(res.ideal_error.sel({"method": "defect_aware"}))
    sens = res.sens_error.dropna("method", how="all")
    assert list(sens.method.values) == ["software", "statistics_aware"]
    assert res.attrs["seed"] == 1 and res.attrs["quick"] == 1 and res.attrs["n_train"] == 5120
    assert json.loads(res.attrs["recipes"])["statistics_aware"] == recipe("statistics_aware", quick_settings())
    assert set(json.loads(res.attrs["timings_s"])) >= {"software baseline", "total"}
    assert res.remap_hidden_swap.dtype == bool
    # per-layer counts add up to the die's totals
    np.testing.assert_array_equal(res.n_short_layer1 + res.n_short_layer2, res.n_short)


def test_quick_remapping_beats_the_unaware_mapping(quick_run):
    error = mx.load(quick_run / "results.nc").error.mean("die")
    assert float(error.sel({"method": "remapped"})) < float(error.sel({"method": "software"}))
    assert float(error.sel({"method": "defect_aware"})) <= float(error.sel({"method": "software"})) + 0.01


def test_quick_summary_reports_the_paper_comparison(quick_run):
    text = (quick_run / "summary.md").read_text()
    res = mx.load(quick_run / "results.nc")
    gap = float(report.method_summary(res).gap.sel({"method": "statistics_aware"}))
    assert f"**Here:** {100 * gap:+.2f} %" in text and "within 2 % of the software baseline" in text
    assert "| software weights, unaware |" in text and "shorts layer 2" in text
    assert "![die_yield](die_yield.png)" in text
    header = text.split("## Error per method")[0]
    assert "comparator thresholds: half_integer" in header and f"dies: {res.attrs['dies']};" in header
    assert "{" not in header, header  # no unformatted template left


def test_a_folder_of_other_settings_is_refused_before_training(quick_run, capsys):
    with pytest.raises(StudyMismatchError) as info:
        reproduce(3, seed=1, out=quick_run, settings=TINY, progress=False)
    text = str(info.value)
    assert str(quick_run) in text and "settings" in text and "--overwrite" in text
    assert main(["reproduce", "--quick", "--out", str(quick_run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "n_dies" in err and "dies_hash" in err


def test_a_rerun_with_the_same_settings_reuses_every_stage(quick_run, capsys):
    before = mx.load(quick_run / "results.nc")
    assert main(["reproduce", "--quick", "--dies", "3", "--seed", "1", "--out", str(quick_run)]) == 0
    err = capsys.readouterr().err
    assert "software baseline          reused 1 of 1 finished stage files" in err
    assert "defect-aware (per die)     reused 3 of 3" in err
    xr.testing.assert_identical(mx.load(quick_run / "results.nc"), before)


def _study_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_an_interrupted_study_resumes_to_the_uninterrupted_results(tmp_path):
    whole = reproduce(2, seed=3, out=tmp_path / "a", settings=TINY, progress=False)
    files = _study_files(tmp_path / "a")
    # what a kill leaves: some stages finished, the later ones missing (each file whole or absent)
    for name in ("results.nc", "summary.md", "stages/defect_aware/die=1.nc", "stages/evaluation",
                 "stages/statistics_aware_remapped", "weights/statistics_aware.nc", "sensitivity.png"):
        path = tmp_path / "a" / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    resumed = reproduce(2, seed=3, out=tmp_path / "a", settings=TINY, progress=False)
    xr.testing.assert_identical(resumed.drop_attrs(), whole.drop_attrs())
    assert _study_files(tmp_path / "a") == files
    assert not [p for p in (tmp_path / "a").rglob("*") if ".mtjx-tmp-" in p.name]


def test_overwrite_starts_over_and_a_damaged_manifest_is_rebuilt(tmp_path):
    out = tmp_path / "s"
    first = reproduce(1, seed=0, out=out, settings=TINY, progress=False)
    (out / "manifest.json").write_text('{"settings_hash": "0123', encoding="utf-8")  # truncated
    again = reproduce(1, seed=0, out=out, settings=TINY, progress=False)  # rebuilt, all reused
    xr.testing.assert_identical(again, first)
    assert json.loads((out / "manifest.json").read_text())["settings"]["seed"] == 0
    (out / "keep.txt").write_text("mine")
    other = reproduce(1, seed=4, out=out, settings=TINY, progress=False, overwrite=True)
    assert other.attrs["seed"] == 4 and (out / "keep.txt").read_text() == "mine"
    assert json.loads((out / "manifest.json").read_text())["settings"]["seed"] == 4


def test_a_stage_file_of_other_settings_is_refused(tmp_path):
    reproduce(1, seed=0, out=tmp_path / "a", settings=TINY, progress=False)
    reproduce(1, seed=1, out=tmp_path / "b", settings=TINY, progress=False)
    (tmp_path / "a" / "manifest.json").unlink()
    shutil.copy(tmp_path / "b" / "weights" / "software.nc", tmp_path / "a" / "weights" / "software.nc")
    with pytest.raises(StudyMismatchError, match=r"software.nc' was not computed with this study's settings"):
        reproduce(1, seed=0, out=tmp_path / "a", settings=TINY, progress=False)


def test_a_results_folder_without_manifest_is_refused(tmp_path):
    """A folder written before studies were resumable (no manifest, no settings hash)."""
    res = reproduce(1, seed=0, settings=TINY, progress=False)
    mx.save(res, tmp_path / "results.nc")
    with pytest.raises(StudyMismatchError, match="written before resumable studies"):
        reproduce(1, seed=0, out=tmp_path, settings=TINY, progress=False)


def test_same_seed_gives_the_same_study_and_another_seed_does_not():
    a = reproduce(1, seed=0, settings=TINY, progress=False)
    b = reproduce(1, seed=0, settings=TINY, progress=False)
    c = reproduce(1, seed=5, settings=TINY, progress=False)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert not np.array_equal(a.error.values, c.error.values)


def test_quick_settings_only_cap_the_recipes():
    assert recipe("statistics_aware", StudySettings())["epochs"] == statistics_aware_recipe()["epochs"]
    capped = recipe("statistics_aware", quick_settings())
    assert capped == {**statistics_aware_recipe(), "epochs": min(2, statistics_aware_recipe()["epochs"])}


def test_measured_dies_takes_a_given_ensemble_and_checks_the_count():
    ens = mx.sample_dies(mx.paper_config(), 2, seed=3)
    dies, stats = measured_dies(2, ensemble=ens)
    assert dies.sizes["die"] == 2 and stats.config.n_devices == 20000
    with pytest.raises(ParameterError, match=r"n_dies must be an int in 1..2 \(the dies in the ensemble\); got 3"):
        measured_dies(3, ensemble=ens)
    ref, _ = measured_dies(2)
    np.testing.assert_array_equal(ref.g_p.values, mx.reference_ensemble(seed=0).g_p.values[:2])


def test_die_coords_split_defects_by_layer():
    die = mx.ideal_die(mx.paper_config())
    fp = mx.paper_config().floorplan
    die = mx.set_defects(die, *zip(fp.position(0, 0, 0, "+"), fp.position(1, 3, 2, "-")), "short")
    coords = die_coords(die)
    assert coords["n_short"][1].tolist() == [2]
    assert coords["n_short_layer1"][1].tolist() == [1] and coords["n_short_layer2"][1].tolist() == [1]


def test_derive_seed_depends_on_every_coordinate():
    seeds = {derive_seed(s, m, d, k) for s in (0, 1) for m in ("a", "b") for d in (0.5, 1.0) for k in (0, 1)}
    assert len(seeds) == 16 and all(0 <= s < 2**62 for s in seeds)


# ---------------------------------------------------------------- report on a hand-made result
def fake_results(stat_gap):
    methods = list(METHODS)
    error = np.full((5, 4), 0.10)
    error[0] = [0.20, 0.12, 0.11, 0.15]
    error[2] = 0.10 + stat_gap
    ideal = np.array([0.10, np.nan, 0.10, 0.10, 0.10])
    return xr.Dataset(
        {"error": (("method", "die"), error), "ideal_error": (("method",), ideal),
         "sens_error": (("method", "sample"), np.full((5, 2), np.nan))},
        coords={"method": methods, "die": np.arange(4), "n_defects": ("die", [30, 10, 5, 20]),
                "n_short_layer1": ("die", [25, 9, 5, 19]), "n_short_layer2": ("die", [2, 0, 0, 1])},
        attrs={"paper_gap": 0.02})


@pytest.mark.parametrize("gap, verdict", [(0.005, "criterion met; stretch goal (1 %) met"),
                                          (0.015, "criterion met; stretch goal (1 %) not met"),
                                          (0.03, "criterion not met")])
def test_summary_verdict_follows_the_gap(gap, verdict):
    text = report.summary_markdown(fake_results(gap))
    assert verdict in text
    assert f"**Here:** {100 * gap:+.2f} %" in text


def test_method_summary_statistics():
    s = report.method_summary(fake_results(0.01))
    sw = s.sel({"method": "software"})
    assert float(sw.mean_error) == pytest.approx(0.145) and float(sw.worst_error) == pytest.approx(0.20)
    assert float(sw.median_error) == pytest.approx(0.135) and float(sw.gap) == pytest.approx(0.045)
    # standard error of the mean over the 4 dies: sample std (ddof=1) / sqrt(4)
    assert float(sw.gap_se) == pytest.approx(np.std([0.20, 0.12, 0.11, 0.15], ddof=1) / 2)
    assert float(s.sel({"method": "statistics_aware"}).gap_se) == pytest.approx(0.0, abs=1e-12)


def test_summary_states_the_uncertainty_of_the_gap():
    text = report.summary_markdown(fake_results(0.01))
    se = 100 * np.std([0.20, 0.12, 0.11, 0.15], ddof=1) / 2
    assert f"| +4.50 % ± {se:.2f} |" in text
    assert "With 4 dies the mean gap is known to ± 0.00 % (standard error over the dies)" in text


def test_layer_notes_compare_dies_with_and_without_output_shorts():
    text = report.summary_markdown(fake_results(0.01))
    assert "Dies with at least one short in the output layer (layer 2): 2 of 4" in text
    assert "software weights, unaware: mean error 17.50 % on dies with output-layer shorts, 11.50 %" in text
