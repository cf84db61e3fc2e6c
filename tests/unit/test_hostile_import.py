"""Hostile measured-data files (issue 13): special files, sizes, malformed attributes, coordinate
labels, swapped columns, impossible values, out-of-range ids -- for ``read_measurements``,
``load_statistics`` and ``read_idx``. Memory limits are asserted in
``tests/integration/test_hostile_limits.py`` (subprocesses with an address-space limit)."""

import gzip
import json
import os
import socket
import threading
import time

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import mtjexplore as mx
from mtjexplore import _files
from mtjexplore.datasets import read_idx
from mtjexplore.measurements import min_resistance, write_measurements_csv
from mtjexplore.statistics import DefectStatistics, load_statistics
from tests._hostile import Tally, hypothesis_settings, report_fixture

CONFIG = mx.paper_config()
TALLY = Tally("import")
HYPO = hypothesis_settings(25)


_report = report_fixture(TALLY)


@pytest.fixture(scope="module")
def ens():
    return mx.sample_dies(CONFIG, 2, seed=0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile_import")


@pytest.fixture(scope="module")
def good_csv(ens, folder):
    return write_measurements_csv(ens, folder / "good.csv")


@pytest.fixture(scope="module")
def resistances(ens):
    with np.errstate(divide="ignore"):
        return xr.Dataset({"r_p": (("die", "row", "col"), 1.0 / ens.g_p.values, {"units": "ohm"}),
                           "r_ap": (("die", "row", "col"), 1.0 / ens.g_ap.values, {"units": "ohm"})})


def netcdf(folder, name, ds):
    path = folder / name
    if path.exists():
        path.unlink()
    ds.to_netcdf(path, engine="netcdf4")
    return path


def finishes(call, seconds=20):
    """Run ``call`` in a thread; fail if it is still running after ``seconds`` (a hang)."""
    box = {}

    def run():
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("result")


# ------------------------------------------------------------------ special files
def special_files(folder):
    fifo = folder / "pipe.csv"
    if not fifo.exists():
        os.mkfifo(fifo)
    zero = folder / "zero.csv"
    if not zero.is_symlink():
        zero.symlink_to("/dev/zero")
    sock_path = folder / "sock.nc"
    if not sock_path.exists():
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(sock_path))
        s.close()
    links = {}
    for name, target in (("pipe.nc", fifo), ("zero-idx", "/dev/zero"), ("null.csv", "/dev/null"),
                         ("pipe-idx", fifo)):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(target)
        links[name] = link
    return [fifo, zero, sock_path, folder, *links.values()]


@pytest.mark.parametrize("reader", ["read_measurements", "load_statistics", "read_idx", "load"])
def test_special_files_are_refused_at_once(folder, reader):
    call = {"read_measurements": mx.read_measurements, "load_statistics": load_statistics,
            "read_idx": read_idx, "load": mx.load}[reader]
    for path in special_files(folder):  # read_measurements: an unknown extension is clean too
        start = time.perf_counter()
        TALLY.rejects(lambda: finishes(lambda: call(path)), "not a regular file", "is a folder",
                      "is a directory", "unknown file extension")
        assert time.perf_counter() - start < 5


def test_symlink_to_a_regular_file_is_read(good_csv, folder):
    link = folder / "link.csv"
    if not link.is_symlink():
        link.symlink_to(good_csv)
    TALLY.accepts(lambda: mx.read_measurements(link), lambda e: e.sizes["die"] == 2)


# ------------------------------------------------------------------ sizes and cost
def test_files_over_the_size_limit_are_refused_before_reading(good_csv, folder, resistances):
    nc = netcdf(folder, "r.nc", resistances)
    for path in (good_csv, nc):
        text = TALLY.rejects(lambda: mx.read_measurements(path, max_bytes=1000), "more than the limit")
        assert "max_bytes" in text
    sparse = folder / "sparse.csv"
    with open(sparse, "wb") as f:
        f.truncate(_files.MAX_INPUT_BYTES + 1)  # a sparse file: no disk, 1 GiB + 1 byte
    TALLY.rejects(lambda: mx.read_measurements(sparse), "more than the limit of 1,073,741,824 bytes")
    sparse.unlink()


def test_decoded_size_of_a_netcdf_is_checked_before_loading(folder, resistances):
    path = folder / "zipped.nc"  # compressed: the file is far smaller than its decoded data
    uniform = xr.full_like(resistances, 5000.0).assign(r_ap=lambda d: d.r_p * 2)
    uniform.to_netcdf(path, engine="netcdf4", encoding={v: {"zlib": True} for v in ("r_p", "r_ap")})
    size = path.stat().st_size
    assert size * 10 < 2 * resistances.r_p.nbytes
    TALLY.rejects(lambda: mx.read_measurements(path, max_bytes=size + 1), "decoded data of r_p, r_ap")


@pytest.mark.parametrize("n_columns", [50_000, 200_000])
def test_a_wide_header_answers_in_well_under_a_second(folder, n_columns):
    for header in ("die,row,col,r_p_ohm,r_ap_ohm," + ",".join(f"x{i}" for i in range(n_columns)),
                   ",".join(["die"] * n_columns),
                   ",".join(f"c{i}" for i in range(n_columns))):
        path = folder / f"wide{n_columns}.csv"
        path.write_text(header + "\n0,0,0,3000,8000\n")
        start, cpu = time.perf_counter(), time.process_time()
        text = TALLY.rejects(lambda: mx.read_measurements(path), "column")
        assert time.process_time() - cpu < 1.0  # CPU time: other jobs on the machine don't count
        assert time.perf_counter() - start < 5.0
        assert len(text) < 600  # the message lists a few names, not 200,000


def test_a_die_id_per_line_is_refused_before_the_maps_are_allocated(folder):
    lines = ["die,row,col,r_p_ohm,r_ap_ohm"] + [f"{i},0,0,3500,8000" for i in range(20_000)]
    path = folder / "perdie.csv"
    path.write_text("\n".join(lines) + "\n")
    # 20,000 dies x 20,200 cells x 8 bytes x 2 maps would be 6.5 GB; the check comes first
    TALLY.rejects(lambda: mx.read_measurements(path), "missing device", "in 20000 of 20000 dies")


# ------------------------------------------------------------------ malformed attributes
CONFIG_JSON = json.loads(CONFIG.to_json())
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                       max_leaves=8)


def config_variants():
    fields = ["n_inputs", "n_hidden", "n_outputs", "device"]
    return st.one_of(
        st.builds(lambda k, v: json.dumps({**CONFIG_JSON, k: v}), st.sampled_from(fields), JSONISH),
        st.builds(lambda v: json.dumps({**CONFIG_JSON, "n_inputs": v}),
                  st.integers(10**5, 10**12)),
        st.builds(lambda k, v: json.dumps({**CONFIG_JSON, "device": {**CONFIG_JSON["device"], k: v}}),
                  st.sampled_from(sorted(CONFIG_JSON["device"])), JSONISH),
        st.builds(lambda n: "[" * n + "]" * n, st.integers(1, 200_000)),
        st.text(max_size=30))


@HYPO
@given(text=config_variants())
def test_malformed_config_attribute_of_a_measured_netcdf(folder, resistances, text):
    path = netcdf(folder, "cfg.nc", resistances.assign_attrs(config=text))
    TALLY.outcome(lambda: mx.read_measurements(path),
                  lambda e: e.sizes["row"] * e.sizes["col"] == 20_200,
                  "attribute 'config'", "does not match the floorplan", "not a readable")


def test_a_huge_network_in_the_config_attribute_is_a_clean_error(folder, resistances):
    huge = {**CONFIG_JSON, "n_inputs": 10**7, "n_hidden": 10**5}
    path = netcdf(folder, "huge.nc", resistances.assign_attrs(config=json.dumps(huge)))
    TALLY.rejects(lambda: mx.read_measurements(path), "whose floorplan has 2,000,200,200,020 cells")


STATS = DefectStatistics(CONFIG, {"short": 15, "open": 1})
STAT_ATTRS = ["config", "spatial", "cluster_fraction", "n_clusters", "cluster_radius_cells",
              "cluster_shapes"]
ATTR_VALUE = st.one_of(JSONISH.map(json.dumps), st.text(max_size=8), st.integers(-10**20, 10**20),
                       st.floats(), st.lists(st.integers(0, 9), min_size=1, max_size=3).map(np.array),
                       st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n))


@HYPO
@given(name=st.sampled_from(STAT_ATTRS), value=ATTR_VALUE)
def test_malformed_statistics_attributes_never_escape_as_raw_errors(folder, name, value):
    path = netcdf(folder, "stats.nc", STATS.to_dataset().assign_attrs({name: value}))
    TALLY.outcome(lambda: load_statistics(path), lambda s: isinstance(s, DefectStatistics),
                  f"'{path}'")


@HYPO
@given(name=st.sampled_from(["mean_counts", "count_shape", "spread_p", "g_short_s", "kind"]),
       value=st.one_of(st.floats(), st.integers(-5, 5), st.text(max_size=3)))
def test_malformed_statistics_variables_are_named(folder, name, value):
    ds = STATS.to_dataset()
    if name in ("mean_counts", "count_shape", "kind"):
        n = ds.sizes["kind"]
        ds = ds.drop_vars(name).assign({name: (("kind",), [value] * n)}) if name != "kind" else \
            ds.assign_coords(kind=[str(value)] * n)
    else:
        ds = ds.assign({name: ((), value)})
    path = netcdf(folder, "stats_var.nc", ds)
    TALLY.outcome(lambda: load_statistics(path), lambda s: isinstance(s, DefectStatistics),
                  f"'{path}'")


def test_statistics_errors_name_file_and_attribute(folder):
    path = netcdf(folder, "deep.nc", STATS.to_dataset().assign_attrs(config="[" * 100_000 + "]" * 100_000))
    text = TALLY.rejects(lambda: load_statistics(path), "attribute 'config' is malformed (RecursionError")
    assert str(path) in text


# ------------------------------------------------------------------ coordinates
@HYPO
@given(perm=st.permutations(range(200)), rows=st.permutations(range(101)))
def test_row_and_col_labels_are_honoured(folder, ens, resistances, perm, rows):
    perm, rows = np.array(perm), np.array(rows)
    shuffled = resistances.isel(col=perm, row=rows).assign_coords(col=perm, row=rows)
    path = netcdf(folder, "perm.nc", shuffled)
    TALLY.accepts(lambda: mx.read_measurements(path),
                  lambda e: np.array_equal(e.defect.values, ens.defect.values)
                  and np.allclose(e.g_p.values, ens.g_p.values, rtol=1e-12))


@HYPO
@given(labels=st.lists(st.integers(-3, 205), min_size=200, max_size=200))
def test_col_labels_that_are_not_a_permutation_are_refused(folder, resistances, labels):
    if sorted(labels) == list(range(200)):
        return
    path = netcdf(folder, "labels.nc", resistances.assign_coords(col=np.array(labels)))
    TALLY.rejects(lambda: mx.read_measurements(path), "coordinate col is not a permutation of 0..199")


def test_non_integer_labels_are_refused(folder, resistances):
    for labels in (np.arange(200) + 0.5, np.r_[np.arange(199), np.nan]):
        path = netcdf(folder, "flabels.nc", resistances.assign_coords(col=labels))
        TALLY.rejects(lambda: mx.read_measurements(path), "coordinate col")


# ------------------------------------------------------------------ swapped columns
def test_a_swapped_header_is_detected(folder, good_csv):
    lines = good_csv.read_text().splitlines()
    swapped = folder / "swapped.csv"
    swapped.write_text("die,row,col,r_ap_ohm,r_p_ohm\n" + "\n".join(lines[1:]) + "\n")
    text = TALLY.rejects(lambda: mx.read_measurements(swapped), "look swapped")
    assert "exchange the names r_p_ohm and r_ap_ohm" in text and "die 0" in text


def test_swapped_variables_in_a_netcdf_are_detected(folder, resistances):
    path = netcdf(folder, "swapped.nc", resistances.rename(r_p="r_ap", r_ap="r_p"))
    TALLY.rejects(lambda: mx.read_measurements(path), "columns r_p and r_ap look swapped")


@HYPO
@given(n_reversed=st.integers(0, 500))
def test_a_few_reversed_devices_are_not_a_swap(folder, ens, resistances, n_reversed):
    ds = resistances.copy(deep=True)
    rows, cols = np.nonzero(CONFIG.floorplan.present)
    pick = np.random.default_rng(n_reversed).choice(rows.size, n_reversed, replace=False)
    r_p, r_ap = ds.r_p.values, ds.r_ap.values
    r_p[0, rows[pick], cols[pick]], r_ap[0, rows[pick], cols[pick]] = (
        r_ap[0, rows[pick], cols[pick]].copy(), r_p[0, rows[pick], cols[pick]].copy())
    path = netcdf(folder, "few.nc", ds)
    TALLY.accepts(lambda: mx.read_measurements(path),
                  lambda e: (e.defect.values[1] == ens.defect.values[1]).all())


# ------------------------------------------------------------------ impossible values
FLOOR = min_resistance(CONFIG.device)


@HYPO
@given(value=st.one_of(st.floats(max_value=FLOOR, exclude_max=True), st.just(np.nan)),
       column=st.sampled_from(["r_p_ohm", "r_ap_ohm"]))
def test_impossible_resistances_are_refused_with_the_reason(folder, good_csv, value, column):
    lines = good_csv.read_text().splitlines()
    parts = lines[7].split(",")
    parts[3 if column == "r_p_ohm" else 4] = repr(float(value))
    path = folder / "impossible.csv"
    path.write_text("\n".join(lines[:7] + [",".join(parts)] + lines[8:]) + "\n")
    text = TALLY.rejects(lambda: mx.read_measurements(path), "below what the read path allows",
                         "must be > 0 ohm", "is NaN", "inf in one state only")
    assert "line 8 (die=0, row=0, col=6)" in text


@HYPO
@given(value=st.floats(min_value=FLOOR, max_value=1e12))
def test_resistances_above_the_floor_are_accepted(folder, good_csv, value):
    lines = good_csv.read_text().splitlines()
    parts = lines[7].split(",")
    parts[3] = parts[4] = repr(value)
    path = folder / "possible.csv"
    path.write_text("\n".join(lines[:7] + [",".join(parts)] + lines[8:]) + "\n")
    TALLY.accepts(lambda: mx.read_measurements(path),
                  lambda e: float(e.r_p.values[0, 0, 6]) == value)


def test_a_huge_conductance_is_refused(folder, ens):
    g = ens[["g_p", "g_ap"]].drop_vars(list(ens.coords))
    g["g_p"] = g.g_p.where(~((g.row == 0) & (g.col == 0)), 1e30)
    path = netcdf(folder, "g30.nc", g)
    TALLY.rejects(lambda: mx.read_measurements(path), "1/g_p=1e-30", "below what the read path allows")


# ------------------------------------------------------------------ integer ids
@pytest.mark.parametrize("die_id", [2**64 - 1, 2**63, -(2**63) - 1, 10**30])
def test_out_of_range_die_ids_are_refused_not_wrapped(folder, good_csv, die_id):
    lines = good_csv.read_text().splitlines()
    path = folder / "bigid.csv"
    path.write_text("\n".join([lines[0]] + [f"{die_id}{line[line.index(','):]}" if line.startswith("0,")
                                            else line for line in lines[1:]]) + "\n")
    TALLY.rejects(lambda: mx.read_measurements(path), "die is out of range")


def test_out_of_range_netcdf_die_ids_are_refused(folder, resistances):
    for ids in (np.array([2**64 - 1, 0], np.uint64), np.array([1e19, 0.0])):
        path = netcdf(folder, "u64.nc", resistances.assign_coords(die=ids))
        TALLY.rejects(lambda: mx.read_measurements(path), "is out of range (die ids must lie in")


def test_extreme_but_valid_die_ids_are_kept(folder, resistances):
    ids = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max])
    path = netcdf(folder, "extreme.nc", resistances.assign_coords(die=ids))
    TALLY.accepts(lambda: mx.read_measurements(path), lambda e: list(e.die.values) == list(ids))


# ------------------------------------------------------------------ IDX
def test_a_gzip_bomb_is_refused_at_the_limit(folder, monkeypatch):
    monkeypatch.setattr(_files, "MAX_INPUT_BYTES", 1 << 20)
    path = folder / "bomb-idx.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0x40, 0, 0]) + bytes(4 << 20)))
    TALLY.rejects(lambda: read_idx(path), "decompresses to more than 1,048,576 bytes")
    truncated = folder / "trunc-idx.gz"
    truncated.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))[:-10])
    TALLY.rejects(lambda: read_idx(truncated), "corrupt gzip stream")


def test_multi_member_gzip_idx_is_read(folder):
    data = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])
    path = folder / "multi-idx.gz"
    path.write_bytes(gzip.compress(data[:5]) + gzip.compress(data[5:]))
    TALLY.accepts(lambda: read_idx(path), lambda a: a.tolist() == [7, 8, 9])
