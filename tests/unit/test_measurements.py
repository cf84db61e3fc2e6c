"""Tests for importing measured dies (CSV and NetCDF): formats, validation messages, pipeline."""

import numpy as np
import pytest

import mtjexplore as mx
from mtjexplore.errors import DataFileError, ParameterError
from mtjexplore.measurements import (read_measurements, read_measurements_csv,
                                     read_measurements_netcdf, write_measurements_csv)
from mtjexplore.recipes import software_recipe, statistics_aware_recipe
from mtjexplore.reference import (EXAMPLE_CSV, example_config, example_csv_path,
                                  reference_ensemble)

SMALL = example_config()
HEADER = "die,row,col,r_p_ohm,r_ap_ohm"


@pytest.fixture(scope="module")
def example_lines():
    return example_csv_path().read_text().splitlines()


def write(tmp_path, lines, name="dies.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def message(path, config=SMALL, reader=read_measurements_csv):
    with pytest.raises(DataFileError) as info:
        reader(path, config=config)
    return str(info.value)


# ---------------------------------------------------------------------------- the example file
def test_example_csv_imports_into_the_reference_dies():
    ens = read_measurements(example_csv_path(), config=SMALL)
    ref = reference_ensemble(seed=0, config=SMALL, n_dies=3)
    assert dict(ens.sizes) == {"die": 3, "row": 17, "col": 36}
    np.testing.assert_allclose(ens.g_p.values, ref.g_p.values, rtol=1e-6)
    np.testing.assert_allclose(ens.g_ap.values, ref.g_ap.values, rtol=1e-6)
    np.testing.assert_array_equal(ens.defect.values, ref.defect.values)
    assert ens.attrs["provenance"] == EXAMPLE_CSV and "SYNTHETIC" in EXAMPLE_CSV
    assert ens.r_p.attrs["units"] == "ohm"
    assert np.isnan(ens.r_p.values[:, ~SMALL.floorplan.present]).all()


def test_csv_round_trip_is_lossless_with_ids_and_opens(tmp_path):
    ens = mx.DefectStatistics(SMALL, {"short": 5, "open": 3, "stuck_p": 2, "stuck_ap": 2}).sample(3, seed=1)
    ens = ens.assign_coords(die=[7, -2, 100])
    path = write_measurements_csv(ens, tmp_path / "dies.csv")
    back = read_measurements_csv(path, config=SMALL)
    order = np.argsort([7, -2, 100])
    assert back.die.values.tolist() == [-2, 7, 100]
    np.testing.assert_array_equal(back.g_p.values, ens.g_p.values[order])
    np.testing.assert_array_equal(back.defect.values, ens.defect.values[order])
    opens = back.defect.values == 2
    assert opens.any() and np.isinf(back.r_p.values[opens]).all() and (back.g_ap.values[opens] == 0).all()


def test_csv_layout_variants_are_accepted(tmp_path, example_lines):
    body = [",".join(reversed(line.split(","))) for line in example_lines[1:]]
    header = "R_AP_OHM, r_p_ohm ,col,row,die"
    text = "\ufeff" + "\r\n".join([header, ""] + body[:10] + ["", "   "] + body[10:]) + "\r\n"
    path = tmp_path / "variants.csv"
    path.write_text(text, encoding="utf-8", newline="")
    ens = read_measurements_csv(path, config=SMALL)
    ref = read_measurements_csv(example_csv_path(), config=SMALL)
    np.testing.assert_array_equal(ens.g_ap.values, ref.g_ap.values)


def test_thresholds_are_configurable(tmp_path, example_lines):
    d = SMALL.device
    leaky = 0.3 * d.r_p_ohm + d.r_series_ohm  # junction at 0.3 R_P in both states
    lines = example_lines[:2] + [f"0,0,1,{leaky},{leaky}"] + example_lines[3:]
    path = write(tmp_path, lines)
    default = read_measurements_csv(path, config=SMALL)
    strict = read_measurements_csv(path, config=SMALL,
                                   thresholds=mx.ClassifyThresholds(short_fraction=0.5))
    assert int(default.defect[0, 0, 1]) == mx.DEFECT_CODES["stuck_p"]
    assert int(strict.defect[0, 0, 1]) == mx.DEFECT_CODES["short"]
    assert '"short_fraction": 0.5' in strict.attrs["classify_thresholds"]


def test_imported_dies_save_and_load_without_loss(tmp_path):
    ens = read_measurements(example_csv_path(), config=SMALL)
    assert mx.load(mx.save(ens, tmp_path / "dies.nc")).identical(ens)


# ---------------------------------------------------------------------------- CSV errors (pinned)
def replace_line(lines, index, new):
    return lines[:index] + [new] + lines[index + 1:]


@pytest.mark.parametrize("edit, expected", [
    (lambda L: [L[0].replace("r_p_ohm", "r_p_kohm")] + L[1:],
     "line 1: wrong units: resistances must be in ohm, column r_p_ohm (got column 'r_p_kohm')"),
    (lambda L: [L[0].replace("r_ap_ohm", "g_ap_s")] + L[1:], "wrong units: got conductance column"),
    (lambda L: [L[0].replace(",r_ap_ohm", "")] + L[1:], "line 1: missing column r_ap_ohm"),
    (lambda L: [L[0] + ",temp"] + L[1:], "line 1: unexpected column 'temp'"),
    (lambda L: [L[0] + ",die"] + L[1:], "line 1: duplicate column die"),
    (lambda L: L[1:], "line 1: no header line"),
    (lambda L: L[:1], "no data rows after the header"),
    (lambda L: replace_line(L, 5, "0,0,4,nan,8000"),
     "line 6 (die=0, row=0, col=4): resistance is NaN"),
    (lambda L: replace_line(L, 5, "0,0,4,0,8000"),
     "line 6 (die=0, row=0, col=4): resistance must be > 0 ohm"),
    (lambda L: replace_line(L, 5, "0,0,4,-inf,-inf"), "resistance must be > 0 ohm"),
    (lambda L: replace_line(L, 5, "0,0,4,inf,8000"),
     "line 6 (die=0, row=0, col=4): inf in one state only"),
    (lambda L: replace_line(L, 5, "0,0,4,3.1k,8000"),
     "line 6 (die=0, row=0, col=4): r_p_ohm is not a number in ohm: got '3.1k'"),
    (lambda L: replace_line(L, 5, "0,0,x4,3000,8000"), "line 6 (die=0, row=0): col is not an integer"),
    (lambda L: replace_line(L, 5, "0,0,4,3000"), "line 6: expected 5 fields, got 4"),
    (lambda L: replace_line(L, 5, L[3]),
     "line 6 (die=0, row=0, col=2): duplicated device: also measured on line 4"),
    (lambda L: L[:5] + L[6:], "(die=0, row=0, col=4): missing device: no line for it (1 missing"),
    (lambda L: replace_line(L, 5, "0,17,4,3000,8000"),
     "line 6 (die=0, row=17, col=4): cell outside the 17 x 36 array"),
    (lambda L: replace_line(L, 5, "0,16,30,3000,8000"),
     "line 6 (die=0, row=16, col=30): no device at this cell"),
    (lambda L: [L[0]] + [",".join(x.split(",")[:3] + ["3.5", "8.0"]) for x in L[1:]],
     "wrong units or wrong device: the median r_p is 3.5 ohm"),
])
def test_csv_errors_name_file_place_and_fix(tmp_path, example_lines, edit, expected):
    path = write(tmp_path, edit(example_lines), "bad file.csv")
    text = message(path)
    assert f"'{path}'" in text and expected in text


def test_csv_with_wrong_config_says_to_pass_config():
    text = message(example_csv_path(), config=mx.paper_config())
    assert "missing device" in text and "pass config=" in text and "rows 0..16" in text


@pytest.mark.parametrize("content, expected", [
    (b"", "file is empty"),
    (b"\n \n", "file is empty"),
    (HEADER.encode() + b"\n0,0,0,3000,\xe9\n", "line 2: not UTF-8 text (byte 0xe9 at byte offset 40)"),
    (HEADER.encode() + b'\n0,0,0,"3000\x00",8000\n', "r_p_ohm is not a number in ohm"),
    (HEADER.encode() + b'\n0,0,0,"' + b"9" * 200_000 + b'",8000\n', "line 2: malformed CSV"),
])
def test_csv_byte_level_errors(tmp_path, content, expected):
    path = tmp_path / "raw.csv"
    path.write_bytes(content)
    assert expected in message(path)


def test_bad_arguments_and_paths(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_measurements_csv(tmp_path / "absent.csv")
    with pytest.raises(DataFileError, match="is a folder"):
        read_measurements_csv(tmp_path)
    with pytest.raises(ParameterError, match="config must be a CrossbarConfig"):
        read_measurements_csv(example_csv_path(), config="small")
    with pytest.raises(ParameterError, match="thresholds must be a ClassifyThresholds"):
        read_measurements_csv(example_csv_path(), config=SMALL, thresholds=0.2)
    (tmp_path / "dies.txt").write_text("x")
    with pytest.raises(DataFileError, match="unknown file extension '.txt'"):
        read_measurements(tmp_path / "dies.txt")


# ---------------------------------------------------------------------------- NetCDF
@pytest.fixture(scope="module")
def measured():
    return read_measurements(example_csv_path(), config=SMALL)


def test_netcdf_project_layout_round_trip(tmp_path):
    ens = mx.DefectStatistics(SMALL, {"short": 4, "open": 2}).sample(3, seed=2)
    path = mx.save(ens, tmp_path / "project.NC")
    back = read_measurements(path)  # config from the file's attrs
    np.testing.assert_array_equal(back.g_p.values, ens.g_p.values)
    np.testing.assert_array_equal(back.defect.values, ens.defect.values)
    assert back.attrs["provenance"] == "project.NC"


def test_netcdf_resistance_layout_with_ids_and_single_die(tmp_path, measured):
    ds = measured[["r_p", "r_ap"]].assign_coords(die=[10, 20, 30])
    ds.attrs = {}
    ds.to_netcdf(tmp_path / "r.nc")
    back = read_measurements_netcdf(tmp_path / "r.nc", config=SMALL)
    assert back.die.values.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(back.defect.values, measured.defect.values)
    ds.isel(die=0, drop=True).to_netcdf(tmp_path / "one.nc")
    assert read_measurements(tmp_path / "one.nc", config=SMALL).sizes["die"] == 1


def netcdf_case(measured, name):
    r = measured[["r_p", "r_ap"]].copy(deep=True)
    if name == "kohm":
        r.r_p.attrs["units"] = "kohm"
    elif name == "nan":
        r.r_p.values[1, 2, 3] = np.nan
    elif name == "negative":
        r.r_ap.values[2, 0, 5] = -1.0
    elif name == "dims":
        r = r.rename(row="y")
    elif name == "shape":
        r = r.isel(row=slice(0, 10))
    elif name == "missing":
        r = r[["r_p"]]
    elif name == "dupdie":
        r = r.assign_coords(die=[5, 5, 7])
    elif name == "g_units":
        r = measured[["g_p", "g_ap"]].copy(deep=True)
        r.g_p.attrs["units"] = "mS"
    elif name == "g_negative":
        r = measured[["g_p", "g_ap"]].copy(deep=True)
        r.g_p.values[0, 1, 1] = -1e-4
    return r


@pytest.mark.parametrize("name, expected", [
    ("kohm", "wrong units: variable r_p has units 'kohm', expected 'ohm'"),
    ("nan", "(die=1, row=2, col=3): resistance is NaN"),
    ("negative", "(die=2, row=0, col=5): resistance must be > 0 ohm"),
    ("dims", "variable r_p has dims ('die', 'y', 'col')"),
    ("shape", "array shape (row, col) = (10, 36) does not match the floorplan's (17, 36)"),
    ("missing", "missing variable r_ap"),
    ("dupdie", "duplicated die id"),
    ("g_units", "wrong units: variable g_p has units 'mS', expected 'S'"),
    ("g_negative", "(die=0, row=1, col=1): conductance g_p must be finite and >= 0 S"),
])
def test_netcdf_errors_name_file_place_and_fix(tmp_path, measured, name, expected):
    path = tmp_path / f"{name}.nc"
    netcdf_case(measured, name).to_netcdf(path)
    text = message(path, reader=read_measurements_netcdf)
    assert f"'{path}'" in text and expected in text


@pytest.mark.parametrize("content, expected", [
    (b"", "file is empty (0 bytes)"),
    (b"CDF\x01garbage" * 10, "not a readable NetCDF file"),
])
def test_netcdf_unreadable(tmp_path, content, expected):
    path = tmp_path / "broken.nc"
    path.write_bytes(content)
    assert expected in message(path, reader=read_measurements_netcdf)


# ---------------------------------------------------------------------------- end to end
def run_pipeline(seed):
    """Import -> fit -> software start (2 epochs) -> statistics-aware (1 epoch) -> evaluate."""
    dies = read_measurements(example_csv_path(), config=SMALL)
    stats = mx.DefectStatistics.fit(dies)
    train, test = mx.load_mnist(size=4, n_train=10_000, n_test=1000)
    start = mx.Trainer(SMALL, seed=seed, **{**software_recipe(), "epochs": 2}).fit(train)
    trainer = mx.Trainer(method="statistics_aware", sampler=stats, seed=seed,
                         **{**statistics_aware_recipe(), "epochs": 1}).fit(train, init=start.weights_)
    return dies, stats, trainer, mx.evaluate(trainer.weights_, dies, test)


def test_import_fit_sample_train_evaluate_end_to_end():
    dies, stats, trainer, result = run_pipeline(seed=0)
    assert stats.config == SMALL and stats.sample(2, seed=0).sizes["die"] == 2
    assert trainer.weights_.w1.shape == (17, 8) and trainer.weights_.w2.shape == (9, 10)
    assert result.error.dims == ("die",) and result.die.values.tolist() == [0, 1, 2]
    assert (result.error < 0.9).all()  # chance is 0.9; this 16-8-10 network reaches ~0.7
    _, stats2, trainer2, result2 = run_pipeline(seed=0)
    assert stats2 == stats
    assert trainer2.weights_.identical(trainer.weights_)
    np.testing.assert_array_equal(result2.error.values, result.error.values)
