"""Property tests: malformed measurement files always end in a named MTJExploreError.

Every generated file is broken in a known way. The importer must raise an ``MTJExploreError``
(subclass) whose message names the file and the problem; any other exception, or a returned
result, fails the test. About 1,300 generated files in all, on the small example config.
"""

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtjexplore.errors import MTJExploreError
from mtjexplore.measurements import read_measurements, read_measurements_csv, read_measurements_netcdf
from mtjexplore.reference import example_config, example_csv_path

SMALL = example_config()
PRESENT = SMALL.floorplan.present
ABSENT_CELLS = [tuple(int(v) for v in cell) for cell in np.argwhere(~PRESENT)]
N_ROWS, N_COLS = PRESENT.shape
#: Die 0 of the example file: a valid one-die CSV (header + 452 lines).
LINES = example_csv_path().read_text().splitlines()[: 1 + SMALL.n_devices]
HEADER, ROWS = LINES[0], LINES[1:]
COLUMNS = HEADER.split(",")

_counter = itertools.count()


def settings_for(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder():
    path = Path(tempfile.mkdtemp(prefix="mtjexplore-malformed-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def assert_rejected(path, phrases, reader=read_measurements):
    """The import ends in an MTJExploreError naming the file and one of ``phrases``; nothing else."""
    try:
        result = reader(path, config=SMALL)
    except MTJExploreError as exc:
        text = str(exc)
        assert issubclass(type(exc), MTJExploreError)
        assert path.name in text, text
        assert any(p in text for p in phrases), f"expected one of {phrases}; got: {text}"
    except Exception as exc:  # noqa: BLE001 -- anything else escaping is the bug under test
        pytest.fail(f"{type(exc).__name__} escaped the importer for {path.name}: {exc!r}")
    else:
        pytest.fail(f"malformed file {path.name} was imported: {dict(result.sizes)}")


def write_csv(folder, content):
    path = folder / f"malformed_{next(_counter)}.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def csv_text(header, rows):
    return "\n".join([header] + rows) + "\n"


# ---------------------------------------------------------------------------- CSV strategies
NOT_NUMBERS = st.one_of(
    st.sampled_from(["", "abc", "3.1k", "1,5", "3000ohm", "--1", "1e", "0x10", "\x00", "n/a"]),
    st.text(alphabet="abcdefghjklmopqrstuvwxyz!?#%&/;:", min_size=1, max_size=6))
NOT_INTEGERS = st.one_of(st.sampled_from(["", "1.5", "a", "2e0", "1/2", "0.0", "\x00"]),
                         st.floats(allow_nan=False, allow_infinity=False).filter(
                             lambda v: v != int(v) if abs(v) < 1e15 else False).map(repr))
NON_POSITIVE = st.one_of(st.sampled_from(["0", "-0", "-0.0", "-inf", "-1e-300"]),
                         st.floats(max_value=0, allow_nan=False).map(repr))


@st.composite
def header_mutation(draw):
    kind = draw(st.sampled_from(["drop", "extra", "units", "duplicate", "none"]))
    cols = list(COLUMNS)
    if kind == "drop":
        cols.pop(draw(st.integers(0, 4)))
        return csv_text(",".join(cols), ROWS), ("missing column",)
    if kind == "extra":
        name = draw(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda n: n not in COLUMNS))
        cols.insert(draw(st.integers(0, 5)), name)
        return csv_text(",".join(cols), ROWS), ("unexpected column", "wrong units")
    if kind == "units":
        index = draw(st.sampled_from([3, 4]))
        state = COLUMNS[index][:-4]
        cols[index] = draw(st.sampled_from([state + "_kohm", state + "_mohm", state, state + "_ohms",
                                            state.replace("r_", "g_") + "_s", state + "_gohm"]))
        return csv_text(",".join(cols), ROWS), ("wrong units",)
    if kind == "duplicate":
        cols[draw(st.integers(0, 4))] = cols[draw(st.integers(0, 4))]
        if cols == COLUMNS:
            cols.append(COLUMNS[0])
        return csv_text(",".join(cols), ROWS), ("duplicate column",)
    return csv_text(ROWS[0], ROWS[1:]), ("no header line",)


@st.composite
def value_mutation(draw):
    i = draw(st.integers(0, len(ROWS) - 1))
    fields = ROWS[i].split(",")
    column = draw(st.sampled_from([3, 4]))
    kind = draw(st.sampled_from(["text", "nan", "nonpositive", "one_inf"]))
    fields[column] = draw({"text": NOT_NUMBERS,
                           "nan": st.sampled_from(["nan", "NaN", "-nan", "NAN", " nan "]),
                           "nonpositive": NON_POSITIVE,
                           "one_inf": st.sampled_from(["inf", "Infinity", "+inf", "1e999"])}[kind])
    phrase = {"text": "is not a number", "nan": "NaN", "nonpositive": "must be > 0",
              "one_inf": "inf in one state only"}[kind]
    rows = ROWS[:i] + [",".join(fields)] + ROWS[i + 1:]
    return csv_text(HEADER, rows), (phrase, "expected 5 fields") if "," in fields[column] else (phrase,)


@st.composite
def cell_mutation(draw):
    i = draw(st.integers(0, len(ROWS) - 1))
    fields = ROWS[i].split(",")
    kind = draw(st.sampled_from(["not_int", "outside", "no_device", "other_cell", "other_die"]))
    if kind == "not_int":
        fields[draw(st.integers(0, 2))] = draw(NOT_INTEGERS)
        phrases = ("is not an integer", "expected 5 fields")
    elif kind == "outside":
        big = 2**62
        row = draw(st.one_of(st.integers(-big, -1), st.integers(N_ROWS, big)))
        col = draw(st.one_of(st.integers(-big, -1), st.integers(N_COLS, big),
                             st.integers(0, N_COLS - 1)))
        fields[1], fields[2] = str(row), str(col)
        phrases = ("cell outside the 17 x 36 array",)
    elif kind == "no_device":
        fields[1], fields[2] = map(str, draw(st.sampled_from(ABSENT_CELLS)))
        phrases = ("no device at this cell",)
    elif kind == "other_cell":
        j = draw(st.integers(0, len(ROWS) - 1).filter(lambda j: j != i))
        fields[1], fields[2] = ROWS[j].split(",")[1:3]
        phrases = ("duplicated device",)
    else:
        fields[0] = str(draw(st.integers(-10**12, 10**12).filter(lambda d: d != 0)))
        phrases = ("missing device",)
    rows = ROWS[:i] + [",".join(fields)] + ROWS[i + 1:]
    return csv_text(HEADER, rows), phrases


@st.composite
def structure_mutation(draw):
    kind = draw(st.sampled_from(["delete", "repeat", "fields", "empty", "header_only", "scale",
                                 "truncate"]))
    rows = list(ROWS)
    if kind == "delete":
        for _ in range(draw(st.integers(1, 20))):
            rows.pop(draw(st.integers(0, len(rows) - 1)))
        return csv_text(HEADER, rows), ("missing device",)
    if kind == "repeat":
        rows.insert(draw(st.integers(0, len(rows))), rows[draw(st.integers(0, len(rows) - 1))])
        return csv_text(HEADER, rows), ("duplicated device",)
    if kind == "fields":
        i = draw(st.integers(0, len(rows) - 1))
        fields = rows[i].split(",")
        n = draw(st.integers(1, 9).filter(lambda n: n != 5))
        rows[i] = ",".join((fields + ["1"] * 5)[:n])
        return csv_text(HEADER, rows), ("expected 5 fields",)
    if kind == "empty":
        return draw(st.sampled_from(["", "\n", " \n\n", "\r\n", "\t"])), ("file is empty",)
    if kind == "header_only":
        return HEADER + draw(st.sampled_from(["", "\n", "\n\n", "\r\n \r\n"])), ("no data rows",)
    if kind == "scale":
        factor = draw(st.sampled_from([1e-3, 1e-6, 1e3, 1e6, 1e-4]))
        scaled = [",".join(f.split(",")[:3] + [repr(float(v) * factor) for v in f.split(",")[3:]])
                  for f in rows]
        return csv_text(HEADER, scaled), ("wrong units",)
    text = csv_text(HEADER, rows)
    cut = draw(st.integers(len(HEADER) + 1, text.rindex("\n", 0, len(text) - 1)))
    return text[:cut], ("missing device", "expected 5 fields", "is not a number",
                        "is not an integer", "no data rows", "below what the read path allows")


@st.composite
def encoding_mutation(draw):
    data = csv_text(HEADER, ROWS).encode("utf-8")
    kind = draw(st.sampled_from(["insert", "utf16", "latin1"]))
    if kind == "utf16":
        return csv_text(HEADER, ROWS).encode(draw(st.sampled_from(["utf-16", "utf-32"]))), \
            ("not UTF-8",)
    if kind == "latin1":
        bad = draw(st.sampled_from(["\u00b5", "\u00e9", "\u00b0", "\u00d6"])).encode("latin-1")
    else:
        bad = draw(st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xc3\x28", b"\xed\xa0\x80",
                                    b"\xf8\x88\x80\x80\x80", b"\xe2\x82"]))
    at = draw(st.integers(0, len(data)))
    return data[:at] + bad + data[at:], ("not UTF-8",)


@pytest.mark.parametrize("strategy, n", [
    (header_mutation(), 150),
    (value_mutation(), 250),
    (cell_mutation(), 250),
    (structure_mutation(), 200),
    (encoding_mutation(), 150),
], ids=["header", "values", "cells", "structure", "encoding"])
def test_malformed_csv_raises_named_error(folder, strategy, n):
    @settings_for(n)
    @given(strategy)
    def check(case):
        content, phrases = case
        assert_rejected(write_csv(folder, content), phrases)

    check()


@settings_for(100)
@given(st.binary(max_size=400), st.sampled_from(["csv", "nc"]))
def test_random_bytes_never_escape(data, extension):
    """Random bytes: an MTJExploreError naming the file, never another exception."""
    folder = Path(tempfile.gettempdir())
    path = folder / f"mtjexplore_random_{os.getpid()}.{extension}"
    path.write_bytes(data)
    try:
        assert_rejected(path, ("",))
    finally:
        path.unlink()


# ---------------------------------------------------------------------------- NetCDF strategies
def base_dataset():
    ens = read_measurements_csv(example_csv_path(), config=SMALL).isel(die=[0])
    ds = ens[["r_p", "r_ap"]]
    ds.attrs = {}
    return ds


BASE = base_dataset()
DEVICE_CELLS = [tuple(int(v) for v in c) for c in np.argwhere(PRESENT)]


@st.composite
def netcdf_mutation(draw):
    ds = BASE.copy(deep=True)
    kind = draw(st.sampled_from(["value", "units", "dims", "missing", "shape", "dies",
                                 "conductance", "dtype"]))
    if kind == "value":
        row, col = draw(st.sampled_from(DEVICE_CELLS))
        name = draw(st.sampled_from(["r_p", "r_ap"]))
        value, phrase = draw(st.sampled_from([(np.nan, "NaN"), (0.0, "must be > 0"),
                                              (-1.0, "must be > 0"), (-np.inf, "must be > 0"),
                                              (np.inf, "inf in one state only")]))
        ds[name].values[0, row, col] = value
        return ds, (phrase,)
    if kind == "units":
        name = draw(st.sampled_from(["r_p", "r_ap"]))
        ds[name].attrs["units"] = draw(st.sampled_from(["kohm", "Mohm", "mohm", "S", "V", "ohm m"]))
        return ds, ("wrong units",)
    if kind == "dims":
        choice = draw(st.sampled_from(["rename", "transpose", "extra"]))
        if choice == "rename":
            ds = ds.rename({draw(st.sampled_from(["row", "col", "die"])): "x"})
        elif choice == "transpose":
            ds = ds.transpose("die", "col", "row")
        else:
            ds = ds.expand_dims(state=[0])
        return ds, ("has dims",)
    if kind == "missing":
        return ds[[draw(st.sampled_from(["r_p", "r_ap"]))]], ("missing variable",)
    if kind == "shape":
        dim = draw(st.sampled_from(["row", "col"]))
        n = draw(st.integers(1, ds.sizes[dim] - 1))
        return ds.isel({dim: slice(0, n)}), ("does not match the floorplan",)
    if kind == "dies":
        choice = draw(st.sampled_from(["none", "duplicate", "float"]))
        if choice == "none":
            return ds.isel(die=slice(0, 0)), ("no dies",)
        two = xr.concat([ds, ds], "die")
        if choice == "duplicate":
            return two.assign_coords(die=[3, 3]), ("duplicated die id",)
        return two.assign_coords(die=[0.5, 1.0]), ("die coordinate is not integer",)
    if kind == "conductance":
        g = xr.Dataset({"g_p": (ds.r_p.dims, 1 / ds.r_p.values),
                        "g_ap": (ds.r_ap.dims, 1 / ds.r_ap.values)})
        row, col = draw(st.sampled_from(DEVICE_CELLS))
        value = draw(st.sampled_from([np.nan, -1e-4, np.inf, -np.inf]))
        g["g_p"].values[0, row, col] = value
        return g, ("conductance g_p must be finite and >= 0 S",)
    ds["r_p"] = ds.r_p.astype(str)
    return ds, ("is not numeric",)


@settings_for(200)
@given(netcdf_mutation())
def test_malformed_netcdf_raises_named_error(case):
    ds, phrases = case
    folder = Path(tempfile.gettempdir())
    path = folder / f"mtjexplore_malformed_{os.getpid()}.nc"
    try:
        ds.to_netcdf(path)
        assert_rejected(path, phrases, read_measurements_netcdf)
    finally:
        path.unlink(missing_ok=True)


@settings_for(100)
@given(st.data())
def test_truncated_netcdf_raises_named_error(data):
    folder = Path(tempfile.gettempdir())
    path = folder / f"mtjexplore_truncated_{os.getpid()}.nc"
    try:
        BASE.to_netcdf(path, format="NETCDF4")
        content = path.read_bytes()
        path.write_bytes(content[: data.draw(st.integers(0, len(content) - 1))])
        assert_rejected(path, ("not a readable NetCDF file", "file is empty"), read_measurements_netcdf)
    finally:
        path.unlink(missing_ok=True)
