"""Import measured die maps (CSV or NetCDF), validate them, classify every device.

Formats
-------
**CSV** (UTF-8, a UTF-8 byte-order mark is accepted): a header line naming the five columns
``die,row,col,r_p_ohm,r_ap_ohm`` (any order, case-insensitive, no other columns), then one line
per device and die::

    die,row,col,r_p_ohm,r_ap_ohm
    0,0,0,3512.4,7986.1
    0,0,1,528.9,531.2
    0,0,2,inf,inf

* ``die``: any integer; the ids are kept as the ``die`` coordinate (sorted ascending).
* ``row``, ``col``: the physical cell on the die's array (see :class:`~mtjexplore.Floorplan`).
  Every device of the floorplan must appear exactly once per die; a line at a cell that holds no
  device is an error.
* ``r_p_ohm``, ``r_ap_ohm``: the resistance read after writing P / AP, in ohm, *including* the
  series resistance of the access device (the conductance is ``g = 1 / R``). Values must be
  finite and > 0, except that an **open** device (no current) is written ``inf`` in *both*
  columns. NaN, 0, negative values and ``inf`` in one state only are rejected.
* Blank lines are ignored; no comment lines.

**NetCDF**: either the project's own die/ensemble layout (variables ``g_p``, ``g_ap`` in S, as
written by :func:`mtjexplore.save`) or variables ``r_p``, ``r_ap`` in ohm (``units`` attribute
``"ohm"`` or absent), with dims ``(die, row, col)`` or ``(row, col)`` and the floorplan's shape.
Cells without a device are ignored (NaN is fine there); at a device NaN means a missing
measurement and is an error. An optional integer ``die`` coordinate gives the die ids (they must
fit in a signed 64-bit integer; nothing wraps). Optional ``row`` / ``col`` coordinates are
honoured: the file's cells are put in label order, and labels that are not a permutation of
``0..n-1`` are an error. A ``config`` attribute (the project's layout) is used when ``config=`` is
not given; it must parse and describe a floorplan of the arrays' shape.

Checks common to both: the resistances must be of the magnitude the config's device implies
(median ``r_p`` within a factor 100 of ``r_p_ohm + r_series_ohm``), which catches kohm or
Mohm values written into an ohm column; no reading may be below what the read path allows
(:func:`min_resistance`: half of ``r_series_ohm``, since even a shorted junction reads its
series resistance); and on every die most switching devices must read more after AP than after
P, else the two columns are reported as swapped.

Limits (checked before the data are read or allocated): the path must resolve to a regular file
(a FIFO, a device, a socket or a link to ``/dev/zero`` is refused at once); the file, and for
NetCDF the decoded maps, may hold at most ``max_bytes`` (default 1 GiB,
``mtjexplore._files.MAX_INPUT_BYTES``); a CSV must give every device of every die it names
before the maps are allocated, so memory stays a small multiple of the file's size.

Every problem raises :class:`~mtjexplore.errors.DataFileError` naming the file, the first
offending place (line and/or die, row, col) and the fix; nothing is returned half-imported.

Classification
--------------
Each device is classified from its two readings by :func:`mtjexplore.die.classify_maps` with
:class:`~mtjexplore.ClassifyThresholds` (pass ``thresholds=`` to change them). With the junction
resistance ``R = 1/g - r_series_ohm`` of each state and the defaults: **open** when both
conductances are below ``0.1 * G_AP`` (``open_fraction``); **short** when both junction
resistances are below ``0.2 * R_P`` (``short_fraction``); **stuck** when the measured TMR is
below ``0.25 * tmr`` (``stuck_tmr_fraction``), stuck-P if the readings are nearer ``R_P`` than
``R_AP`` (log scale), else stuck-AP; otherwise **ok**. ``R_P``, ``R_AP``, ``tmr`` and
``r_series_ohm`` come from ``config.device``.

Result
------
An ensemble ``xarray.Dataset`` (dims ``die, row, col``) with ``g_p``, ``g_ap`` (S), ``defect``
(classified by :func:`mtjexplore.die.classify_maps` with configurable
:class:`~mtjexplore.ClassifyThresholds`) and the raw ``r_p``, ``r_ap`` (ohm; NaN where there is no
device). ``attrs["provenance"]`` is the file name.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import itertools
import json
import math
import os
from pathlib import Path

import numpy as np

from . import _files
from .config import CrossbarConfig, paper_config
from .die import ClassifyThresholds, as_ensemble, classify_maps, config_of, die_dataset
from .errors import DataFileError, MTJExploreError, ParameterError
from .io import atomic_write, open_netcdf

__all__ = ["CSV_COLUMNS", "NETCDF_EXTENSIONS", "UNIT_RANGE", "read_measurements",
           "read_measurements_csv", "read_measurements_netcdf", "write_measurements_csv",
           "min_resistance"]

CSV_COLUMNS = ("die", "row", "col", "r_p_ohm", "r_ap_ohm")
NETCDF_EXTENSIONS = (".nc", ".nc4", ".netcdf", ".cdf")
UNIT_RANGE = 100.0  # allowed factor between the median measured R_P and the config's
_CHUNK_LINES = 16384
_OHM_UNITS = ("ohm", "ohms", "\u03c9", "\u2126")
_SIEMENS_UNITS = ("s", "siemens")
_FORMAT_HINT = "the CSV format is one line per device: die,row,col,r_p_ohm,r_ap_ohm"
_SHOWN = 5  # names listed in a message before "..."
#: Exceptions a malformed attribute can raise while it is parsed (all reported as DataFileError).
_ATTR_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError,
                OverflowError, MTJExploreError)


# ---------------------------------------------------------------------------- errors
def _where(line=None, die=None, row=None, col=None):
    parts = []
    if line is not None:
        parts.append(f"line {line}")
    cell = [f"{n}={v}" for n, v in (("die", die), ("row", row), ("col", col)) if v is not None]
    if cell:
        parts.append(f"({', '.join(cell)})")
    return (" " + " ".join(parts)) if parts else ""


def _error(path, problem, fix, **place):
    """A DataFileError "'<file>' <place>: <problem>; <fix>"."""
    return DataFileError(f"'{path}'{_where(**place)}: {problem}; {fix}")


# ---------------------------------------------------------------------------- public API
def read_measurements(path, config=None, thresholds=None, *, max_bytes=None):
    """Import measured dies from a ``.csv`` or NetCDF (``.nc``) file, chosen by extension.

    See :func:`read_measurements_csv` and :func:`read_measurements_netcdf`.

    Examples
    --------
    >>> import mtjexplore as mx
    >>> from mtjexplore.reference import example_config, example_csv_path
    >>> ens = mx.read_measurements(example_csv_path(), config=example_config())
    >>> dict(ens.sizes)
    {'die': 3, 'row': 17, 'col': 36}
    """
    path = _check_path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_measurements_csv(path, config, thresholds, max_bytes=max_bytes)
    if suffix in NETCDF_EXTENSIONS:
        return read_measurements_netcdf(path, config, thresholds, max_bytes=max_bytes)
    raise _error(path, f"unknown file extension {suffix or '(none)'!r}",
                 f"use .csv ({','.join(CSV_COLUMNS)}) or one of {', '.join(NETCDF_EXTENSIONS)}, "
                 "or call read_measurements_csv / read_measurements_netcdf directly")


def read_measurements_csv(path, config=None, thresholds=None, *, max_bytes=None):
    """Import measured dies from a CSV file ``die,row,col,r_p_ohm,r_ap_ohm`` (see module doc).

    Parameters
    ----------
    path : str or os.PathLike
    config : CrossbarConfig, optional
        Network (hence floorplan) and device the dies hold; default :func:`paper_config`.
    thresholds : ClassifyThresholds, optional
        Thresholds of the defect classification (default ``ClassifyThresholds()``).
    max_bytes : int, optional
        Largest file accepted, in bytes (default ``mtjexplore._files.MAX_INPUT_BYTES``, 1 GiB).
        Memory use is a small multiple of the file's size.

    Returns
    -------
    xarray.Dataset
        Ensemble with ``g_p``, ``g_ap``, ``defect``, ``r_p``, ``r_ap`` and a ``die`` coordinate
        holding the file's die ids.

    Raises
    ------
    DataFileError
        For any problem with the file; the message names the file, the first offending line
        (and die, row, col when known) and the fix.

    Examples
    --------
    >>> from mtjexplore.reference import example_config, example_csv_path
    >>> ens = read_measurements_csv(example_csv_path(), config=example_config())
    >>> ens.attrs["provenance"]
    'example_measured_SYNTHETIC.csv'
    """
    path, config, thresholds = _check_args(path, config, thresholds)
    text = _read_text(path, max_bytes)
    reader = csv.reader(_lines(text))
    order, n_header = _read_header(path, reader)
    table = _read_rows(path, text, reader, order, n_header, config)
    ids, r_p, r_ap = _csv_maps(path, table, config)
    return _assemble(path, config, thresholds, ids, r_p, r_ap, CSV_COLUMNS[3:])


def read_measurements_netcdf(path, config=None, thresholds=None, *, max_bytes=None):
    """Import measured dies from NetCDF: variables ``r_p``/``r_ap`` (ohm) or ``g_p``/``g_ap`` (S).

    Parameters
    ----------
    path : str or os.PathLike
    config : CrossbarConfig, optional
        Default: the file's ``config`` attribute (project layout), else :func:`paper_config`.
    thresholds : ClassifyThresholds, optional
    max_bytes : int, optional
        Largest file, and largest decoded data (the two maps as float64), accepted in bytes
        (default ``mtjexplore._files.MAX_INPUT_BYTES``, 1 GiB); checked before anything is read.

    Returns
    -------
    xarray.Dataset
        As :func:`read_measurements_csv`; the file's ``defect`` variable, if any, is replaced
        by a fresh classification of its maps.

    Raises
    ------
    DataFileError
        Unreadable file, missing variables, wrong dims, shape, units or values.

    Examples
    --------
    >>> import mtjexplore as mx, tempfile, os
    >>> ens = mx.sample_dies(mx.paper_config(), 2, seed=0)
    >>> p = mx.save(ens, os.path.join(tempfile.mkdtemp(), "dies.nc"))
    >>> back = read_measurements_netcdf(p)
    >>> bool((back.defect == ens.defect).all())
    True
    """
    path, config, thresholds = _check_args(path, config, thresholds, allow_none=True)
    with open_netcdf(path, max_bytes=max_bytes, decode_times=False) as ds:
        resistance = bool({"r_p", "r_ap"} & set(ds.data_vars))
        names = ("r_p", "r_ap") if resistance else ("g_p", "g_ap")
        missing = [n for n in names if n not in ds.data_vars]
        if missing:
            raise _error(path, f"missing variable {', '.join(missing)}",
                         "a measured file needs variables r_p and r_ap (ohm) or g_p and g_ap (S) "
                         "with dims (die, row, col)")
        _check_variables(path, ds, names, resistance, max_bytes)
        config = config or _file_config(path, ds, names[0])
        ids, arrays = _netcdf_arrays(path, ds, names, config, resistance)
    with np.errstate(divide="ignore"):
        r_p, r_ap = arrays if resistance else (1.0 / arrays[0], 1.0 / arrays[1])
    return _assemble(path, config, thresholds, ids, r_p, r_ap, names)


def write_measurements_csv(dies, path, *, overwrite=False, decimals=None):
    """Write dies in the measured CSV format (``die,row,col,r_p_ohm,r_ap_ohm``, R = 1/g).

    Parameters
    ----------
    dies : xarray.Dataset
        A die or an ensemble; uses ``r_p``/``r_ap`` if present, else ``1/g_p``, ``1/g_ap``.
    path : str or os.PathLike
    overwrite : bool, default False
    decimals : int, optional
        Round resistances to this many decimals (None: full precision, a lossless round trip).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import mtjexplore as mx, tempfile, os
    >>> ens = mx.sample_dies(mx.paper_config(), 1, seed=0)
    >>> p = write_measurements_csv(ens, os.path.join(tempfile.mkdtemp(), "die.csv"))
    >>> back = read_measurements_csv(p)
    >>> bool(abs(back.g_p - ens.g_p).max() < 1e-15)
    True
    """
    ens = as_ensemble(dies)
    present = config_of(ens).floorplan.present
    with np.errstate(divide="ignore"):
        r_p = ens.r_p.values if "r_p" in ens else 1.0 / ens.g_p.values
        r_ap = ens.r_ap.values if "r_ap" in ens else 1.0 / ens.g_ap.values
    d_idx, rows, cols = np.nonzero(np.broadcast_to(present, r_p.shape))
    fmt = repr if decimals is None else (lambda v: f"{v:.{int(decimals)}f}")
    lines = [",".join(CSV_COLUMNS)]
    die_ids = ens.die.values
    lines += [f"{die_ids[d]},{r},{c},{fmt(float(r_p[d, r, c]))},{fmt(float(r_ap[d, r, c]))}"
              for d, r, c in zip(d_idx, rows, cols)]
    return _write_atomic(Path(path), "\n".join(lines) + "\n", overwrite)


# ---------------------------------------------------------------------------- arguments
def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    return Path(path)


def _check_args(path, config, thresholds, allow_none=False):
    path = _check_path(path)
    if config is None and not allow_none:
        config = paper_config()
    if config is not None and not isinstance(config, CrossbarConfig):
        raise ParameterError(f"config must be a CrossbarConfig (e.g. paper_config()); got {config!r}")
    if thresholds is not None and not isinstance(thresholds, ClassifyThresholds):
        raise ParameterError(f"thresholds must be a ClassifyThresholds or None; got {thresholds!r}")
    _files.regular_file(path, _error, max_bytes=math.inf)  # size is checked by each reader
    return path, config, thresholds


def _write_atomic(path, text, overwrite):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    return atomic_write(path, write, overwrite=overwrite)


# ---------------------------------------------------------------------------- CSV
def _read_text(path, max_bytes):
    data = _files.read_bytes(path, _error, max_bytes)
    if not data.strip():
        raise _error(path, "file is empty", f"{_FORMAT_HINT}, after a header line")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _error(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at byte offset "
                     f"{exc.start})", "save the file as UTF-8 CSV (plain ASCII digits are fine)",
                     line=line) from None


def _lines(text):
    """The lines of ``text`` (ending ``\n``, ``\r\n`` or ``\r``), lazily: ``io.StringIO`` would
    hold a 4-byte-per-character copy of the whole file."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        end = size if end < 0 else end + 1
        line = text[start:end]
        if "\r" in line.rstrip("\r\n"):  # old Mac line ends: split them too
            yield from line.splitlines(keepends=True)
        else:
            yield line
        start = end


def _next_row(path, reader):
    """The next non-blank CSV row as stripped fields and the records read, or (None, n)."""
    n = 0
    try:
        for fields in reader:
            n += 1
            if any(f.strip() for f in fields):
                return [f.strip() for f in fields], n
    except csv.Error as exc:
        raise _error(path, f"malformed CSV ({exc})", _FORMAT_HINT, line=reader.line_num) from None
    return None, n


def _line_number(text, record):
    """Physical line (1-based, where the record ends) of CSV record number ``record`` (0-based)."""
    reader = csv.reader(_lines(text))
    for index, _ in enumerate(reader):
        if index == record:
            return reader.line_num
    return reader.line_num  # pragma: no cover


def _read_header(path, reader):
    """Indices of the expected columns in the header (any order)."""
    header, n_records = _next_row(path, reader)
    if header is None:
        raise _error(path, "file is empty", f"{_FORMAT_HINT}, after a header line")
    line = reader.line_num
    names = [h.lower() for h in header]
    expected = ",".join(CSV_COLUMNS)
    if len(names) > 4 * len(CSV_COLUMNS) and not set(CSV_COLUMNS) <= set(names):
        raise _error(path, f"the header has {len(names):,} columns, not the {len(CSV_COLUMNS)} "
                     f"of the format (first: {_listed(header, ',')})", f"the header must be {expected}",
                     line=line)
    if all(_is_number(h) for h in names):
        raise _error(path, "no header line (the first line holds numbers)",
                     f"add the header line {expected}", line=line)
    for name in (n for n in names if n.startswith(("r_", "g_"))):
        problem = _unit_problem(name)
        if problem:
            raise _error(path, problem, "convert the values to ohm and name the columns "
                         f"{expected}", line=line)
    duplicated = sorted(n for n, k in collections.Counter(names).items() if k > 1)
    known = set(CSV_COLUMNS)
    missing = [c for c in CSV_COLUMNS if c not in set(names)]
    extra = [n for n in names if n not in known]
    if duplicated:
        raise _error(path, f"duplicate column {_listed(duplicated)} in the header",
                     f"the header must be {expected}", line=line)
    if missing:
        raise _error(path, f"missing column {', '.join(missing)} in the header "
                     f"(got {_listed(header, ',')})", f"the header must be {expected}", line=line)
    if extra:
        raise _error(path, f"unexpected column {_listed([repr(e) for e in extra])} in the header",
                     f"remove it: the header must be {expected}", line=line)
    return [names.index(c) for c in CSV_COLUMNS], n_records


def _listed(items, sep=", "):
    """The first few ``items`` joined, with how many more there are."""
    items = list(items)
    more = f"{sep}... ({len(items)} in all)" if len(items) > _SHOWN else ""
    return sep.join(str(i)[:40] for i in items[:_SHOWN]) + more


def _unit_problem(name):
    """A message if a column name looks like a resistance/conductance in the wrong unit."""
    for state in ("r_p", "r_ap"):
        if name.startswith(state + "_") and name != f"{state}_ohm" or name == state:
            return (f"wrong units: resistances must be in ohm, column {state}_ohm "
                    f"(got column {name!r})")
    if name.startswith(("g_p", "g_ap")):
        return (f"wrong units: got conductance column {name!r}, but the format takes resistances "
                "in ohm (r_p_ohm = 1 / g_p)")
    return None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_rows(path, text, reader, order, first_record, config):
    """Parse all data records into int/float numpy arrays, chunk by chunk.

    The arrays carry ``record`` (the CSV record index) for error messages; it is turned into a
    line number only when an error is reported.
    """
    chunks, base = [], first_record
    while True:
        try:
            rows = list(itertools.islice(reader, _CHUNK_LINES))
        except csv.Error as exc:
            raise _error(path, f"malformed CSV ({exc})", _FORMAT_HINT, line=reader.line_num) from None
        if not rows:
            break
        records = np.arange(base, base + len(rows))
        base += len(rows)
        if any(len(r) != len(CSV_COLUMNS) for r in rows):
            rows, records = _drop_blank(path, text, rows, records)
        if rows:
            chunks.append(_parse_chunk(path, text, rows, records, order, config))
    if not chunks:
        raise _error(path, "no data rows after the header", _FORMAT_HINT)
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0] if k != "text"} | {
        "text": text}


def _drop_blank(path, text, rows, records):
    """Remove blank records; a record with the wrong number of fields is an error."""
    kept, kept_records = [], []
    for fields, record in zip(rows, records):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(CSV_COLUMNS):
            raise _error(path, f"expected {len(CSV_COLUMNS)} fields, got {len(fields)}",
                         _FORMAT_HINT, line=_line_number(text, int(record)))
        kept.append(fields)
        kept_records.append(record)
    return kept, np.asarray(kept_records, dtype=np.int64)


def _parse_chunk(path, text, rows, records, order, config):
    columns = list(zip(*rows))
    out = {"record": records, "text": text}
    for name in CSV_COLUMNS[:3]:
        out[name] = _convert(path, columns[order[CSV_COLUMNS.index(name)]], name, int, out)
    _check_cells(path, out, config)
    for name in CSV_COLUMNS[3:]:
        out[name] = _convert(path, columns[order[CSV_COLUMNS.index(name)]], name, float, out)
    return out


def _convert(path, strings, name, kind, known):
    dtype = np.int64 if kind is int else np.float64
    try:
        return np.fromiter(map(kind, strings), dtype, len(strings))
    except (ValueError, OverflowError):
        pass
    for k, s in enumerate(strings):
        try:
            np.asarray(kind(s), dtype=dtype)
        except OverflowError:
            raise _error(path, f"{name} is out of range: got {s.strip()!r}",
                         "die, row and col must fit in 64-bit integers", **_place(known, k)) from None
        except ValueError:
            what = "an integer" if kind is int else "a number in ohm"
            raise _error(path, f"{name} is not {what}: got {s.strip()!r}",
                         f"write plain decimal numbers ({_FORMAT_HINT})",
                         **_place(known, k)) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _check_cells(path, t, config):
    fp = config.floorplan
    n_rows, n_cols = fp.shape
    row, col = t["row"], t["col"]
    outside = (row < 0) | (row >= n_rows) | (col < 0) | (col >= n_cols)
    where = _config_text(config)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise _error(path, f"cell outside the {n_rows} x {n_cols} array of the floorplan "
                     f"(rows 0..{n_rows - 1}, cols 0..{n_cols - 1}) of {where}",
                     "pass config= for the network the dies hold", **_place(t, k))
    empty = ~fp.present[row, col]
    if empty.any():
        k = int(np.flatnonzero(empty)[0])
        raise _error(path, f"no device at this cell in the floorplan of {where}",
                     "remove the line or pass config= for the network the dies hold",
                     **_place(t, k))


def _place(t, k):
    """``line``, ``die``, ``row``, ``col`` (those known) of record ``k`` of a parsed table."""
    place = {c: int(t[c][k]) for c in CSV_COLUMNS[:3] if c in t}
    place["line"] = _line_number(t["text"], int(t["record"][k]))
    return place


def _config_text(config):
    return (f"config (n_inputs={config.n_inputs}, n_hidden={config.n_hidden}, "
            f"n_outputs={config.n_outputs})")


def _csv_maps(path, t, config):
    """Check that every device appears exactly once per die; return ids and r maps."""
    n_rows, n_cols = config.floorplan.shape
    ids, die_index = np.unique(t["die"], return_inverse=True)
    key = (die_index * n_rows + t["row"]) * n_cols + t["col"]
    order = np.argsort(key, kind="stable")
    repeat = np.flatnonzero(key[order][1:] == key[order][:-1])
    if repeat.size:
        later = order[repeat + 1]
        j = int(np.argmin(later))
        first, second = int(order[repeat[j]]), int(later[j])
        raise _error(path, "duplicated device: also measured on line "
                     f"{_line_number(t['text'], int(t['record'][first]))}",
                     "keep one line per device and die", **_place(t, second))
    _check_values(path, t["r_p_ohm"], t["r_ap_ohm"], lambda k: _place(t, k), "r_p_ohm", "r_ap_ohm",
                  config.device)
    _check_complete(path, t, ids, die_index, config)  # before allocating: memory ~ the file's size
    r_p = np.full((len(ids), n_rows, n_cols), np.nan)
    r_ap = r_p.copy()
    r_p[die_index, t["row"], t["col"]] = t["r_p_ohm"]
    r_ap[die_index, t["row"], t["col"]] = t["r_ap_ohm"]
    return ids, r_p, r_ap


def _check_complete(path, t, ids, die_index, config):
    """Every die has a line for every device (lines are unique and at devices by now)."""
    n_lines = np.bincount(die_index, minlength=len(ids))
    short = np.flatnonzero(n_lines < config.n_devices)
    if not short.size:
        return
    d = int(short[0])
    seen = np.zeros(config.floorplan.shape, bool)
    mine = die_index == d
    seen[t["row"][mine], t["col"][mine]] = True
    r, c = (int(v) for v in np.argwhere(config.floorplan.present & ~seen)[0])
    n_missing = int(config.n_devices * len(ids) - n_lines.sum())
    raise _error(path, f"missing device: no line for it ({n_missing} missing in all, in "
                 f"{short.size} of {len(ids)} dies; die {int(ids[d])} has {int(n_lines[d])} lines; the "
                 f"file covers rows 0..{int(t['row'].max())}, cols 0..{int(t['col'].max())}; the floorplan of {_config_text(config)} needs {config.n_devices} devices per die)",
                 "measure every device of every die, or pass config= for the network the "
                 "dies hold", die=int(ids[d]), row=r, col=c)


# ---------------------------------------------------------------------------- values
def min_resistance(device):
    """Smallest plausible reading (ohm): half the series resistance of the read path, or a
    thousandth of a shorted junction's ``r_short_ohm`` when there is no series resistance."""
    return 0.5 * device.r_series_ohm if device.r_series_ohm > 0 else 1e-3 * device.r_short_ohm


def _check_values(path, r_p, r_ap, place, name_p, name_ap, device):
    """Resistances must be finite and above the read path's floor, or inf in both states (open);
    the first bad one wins."""
    nan = np.isnan(r_p) | np.isnan(r_ap)
    nonpositive = (r_p <= 0) | (r_ap <= 0)
    one_inf = np.isinf(r_p) != np.isinf(r_ap)
    floor = min_resistance(device)
    too_low = np.zeros_like(nan)
    if not (nan | nonpositive | one_inf).any():
        _check_magnitude(path, r_p, device)  # kohm in an ohm column: say so, not "too low"
        too_low = (r_p < floor) | (r_ap < floor)
    bad = nan | nonpositive | one_inf | too_low
    if not bad.any():
        return
    k = int(np.flatnonzero(bad)[0])
    value = (float(r_p[k]), float(r_ap[k]))
    if nan[k]:
        problem, fix = (f"resistance is NaN ({name_p}={value[0]}, {name_ap}={value[1]})",
                        "every device needs a measured value (mark an open device with inf in both states)")
    elif nonpositive[k]:
        problem, fix = (f"resistance must be > 0 ohm; got {name_p}={value[0]}, "
                        f"{name_ap}={value[1]}",
                        "even a shorted junction reads the series resistance; check the "
                        "measurement or the sign")
    elif too_low[k]:
        problem, fix = _too_low(name_p, name_ap, value, floor, device)
    else:
        problem, fix = (f"inf in one state only ({name_p}={value[0]}, {name_ap}={value[1]})",
                        "inf marks an open device, which reads no current in either state: give "
                        "both as inf or both as finite values")
    raise _error(path, problem, fix, **place(k))


def _too_low(name_p, name_ap, value, floor, device):
    if device.r_series_ohm > 0:
        why = (f"half the read path's series resistance r_series_ohm={device.r_series_ohm:g}: even "
               "a shorted junction reads at least the series resistance")
    else:
        why = f"a thousandth of a shorted junction's r_short_ohm={device.r_short_ohm:g}"
    return (f"resistance below what the read path allows ({name_p}={value[0]:g}, "
            f"{name_ap}={value[1]:g} ohm; the least is {floor:g} ohm, {why})",
            "check the units and the measurement, or pass config= with your device's "
            "r_series_ohm")


def _check_orientation(path, r_p, r_ap, ids, present, device, names):
    """Refuse a die on which most switching devices read more after P than after AP."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(present, np.log(r_ap / r_p), 0.0)
    cut = np.log1p(ClassifyThresholds().stuck_tmr_fraction * device.tmr)
    reversed_, normal = (log_ratio < -cut).sum((1, 2)), (log_ratio > cut).sum((1, 2))
    swapped = np.flatnonzero(reversed_ > normal)
    if not swapped.size:
        return
    d = int(swapped[0])
    r, c = (int(v) for v in np.argwhere(log_ratio[d] < -cut)[0])
    raise _error(path, f"the columns {names[0]} and {names[1]} look swapped: {int(reversed_[d])} "
                 f"of the {int(reversed_[d] + normal[d])} switching devices of die {int(ids[d])} "
                 f"read a higher resistance after writing P than after writing AP (here "
                 f"{r_p[d, r, c]:g} ohm after P, {r_ap[d, r, c]:g} ohm after AP), but R_AP > R_P",
                 f"exchange the names {names[0]} and {names[1]} (in the header of a CSV file)",
                 die=int(ids[d]), row=r, col=c)


def _check_magnitude(path, values, d):
    """The median reading after P (``values``: at the devices) must be of the device's magnitude."""
    expected = d.r_p_ohm + d.r_series_ohm
    median = float(np.median(values[np.isfinite(values)])) if np.isfinite(values).any() else None
    if median is not None and not expected / UNIT_RANGE <= median <= expected * UNIT_RANGE:
        raise _error(path, f"wrong units or wrong device: the median r_p is {median:.4g} ohm "
                     f"but the config's device reads about {expected:.4g} ohm in P "
                     "(r_p_ohm + r_series_ohm)",
                     "give resistances in ohm (not kohm, Mohm or S), or pass config= with your "
                     "device's r_p_ohm and r_series_ohm")


def _assemble(path, config, thresholds, ids, r_p, r_ap, names):
    """Classify and wrap validated resistance maps ``[die, row, col]`` into an ensemble."""
    present = config.floorplan.present
    _check_orientation(path, r_p, r_ap, ids, present, config.device, names)
    with np.errstate(divide="ignore"):
        g_p = np.where(present, 1.0 / np.where(present, r_p, 1.0), 0.0)
        g_ap = np.where(present, 1.0 / np.where(present, r_ap, 1.0), 0.0)
    defect = classify_maps(config.device, g_p, g_ap, present, thresholds)
    ens = die_dataset(config, g_p, g_ap, defect, provenance=path.name).assign_coords(
        die=np.asarray(ids, dtype=np.int64))
    for name, values, text in (("r_p", r_p, "P"), ("r_ap", r_ap, "AP")):
        ens[name] = (("die", "row", "col"), np.where(present, values, np.nan),
                     {"units": "ohm", "long_name": f"measured resistance after writing {text} "
                                                   "(incl. series; inf: open, NaN: no device)"})
    ens.attrs.update(source_file=str(path), classify_thresholds=json.dumps(
        dataclasses.asdict(thresholds or ClassifyThresholds())))
    return ens


# ---------------------------------------------------------------------------- NetCDF
def _check_variables(path, ds, names, resistance, max_bytes):
    """Dims, dtype, units and decoded size of the two variables, before any data is read."""
    dims = ds[names[0]].dims
    for name in names:
        var = ds[name]
        if var.dims != dims or dims not in (("die", "row", "col"), ("row", "col")):
            raise _error(path, f"variable {name} has dims {var.dims}",
                         "give r_p and r_ap (or g_p and g_ap) dims (die, row, col)")
        if var.dtype.kind not in "iuf":
            raise _error(path, f"variable {name} is not numeric (dtype {var.dtype})",
                         "store the values as floating-point numbers")
        _check_units(path, name, var, resistance)
    decoded = 2 * 8 * int(np.prod(ds[names[0]].shape, dtype=object))
    _files.check_size(path, decoded, max_bytes, _error, f"decoded data of {names[0]}, {names[1]}")


def _file_config(path, ds, name):
    """The file's ``config`` attribute, checked against the size of its arrays."""
    if "config" not in ds.attrs:
        return paper_config()
    try:
        config = CrossbarConfig.from_json(ds.attrs["config"])
    except _ATTR_ERRORS as exc:
        raise _error(path, f"attribute 'config' is not a valid CrossbarConfig "
                     f"({type(exc).__name__}: {str(exc)[:200]})", "pass config= explicitly") from None
    n_cells = int(np.prod(ds[name].shape[-2:], dtype=object))
    _files.check_config_size(path, config, _error, cells=n_cells)
    return config


def _netcdf_arrays(path, ds, names, config, resistance):
    """Validated ``[die, row, col]`` float arrays of the two variables, and the die ids."""
    fp = config.floorplan
    shape = tuple(ds[names[0]].shape[-2:])
    if shape != fp.shape:
        raise _error(path, f"array shape (row, col) = {shape} does not match the floorplan's "
                     f"{fp.shape} for {_config_text(config)}", "pass config= for the network "
                     "the dies hold")
    ds = ds.isel(row=_label_order(path, ds, "row"), col=_label_order(path, ds, "col"))
    arrays = [np.asarray(ds[n].values, dtype=np.float64) for n in names]
    arrays = [a[None] if a.ndim == 2 else a for a in arrays]
    if arrays[0].shape[0] == 0:
        raise _error(path, "no dies (the die dimension has length 0)", "store at least one die")
    ids = _die_ids(path, ds, arrays[0].shape[0], ds[names[0]].dims)
    _check_grid(path, arrays, ids, fp.present, names, resistance, config.device)
    return ids, arrays


def _label_order(path, ds, dim):
    """Positions that put ``dim`` in label order 0..n-1 (the labels must be a permutation)."""
    n = ds.sizes[dim]
    if dim not in ds.coords:
        return np.arange(n)
    labels = ds[dim].values
    fix = (f"label the {dim}s 0..{n - 1} (each once: the physical {dim} of the array), or drop "
           f"the {dim} coordinate")
    if labels.dtype.kind not in "iuf" or (labels.dtype.kind == "f" and not np.isfinite(labels).all()):
        raise _error(path, f"coordinate {dim} is not integer (dtype {labels.dtype})", fix)
    if labels.dtype.kind == "f" and not (labels == np.round(labels)).all():
        raise _error(path, f"coordinate {dim} holds non-integer labels", fix)
    order = np.argsort(labels, kind="stable")
    if not np.array_equal(labels[order], np.arange(n)):
        first = int(np.flatnonzero(labels[order] != np.arange(n))[0])
        raise _error(path, f"coordinate {dim} is not a permutation of 0..{n - 1} (sorted, "
                     f"position {first} holds {labels[order][first].item()!r})", fix)
    return order


def _check_units(path, name, var, resistance):
    units = var.attrs.get("units")
    if units is None:
        return
    allowed = _OHM_UNITS if resistance else _SIEMENS_UNITS
    if str(units).strip().lower() not in allowed:
        want = "ohm" if resistance else "S"
        raise _error(path, f"wrong units: variable {name} has units {units!r}, expected {want!r}",
                     f"convert the values to {want} and set units='{want}'")


def _die_ids(path, ds, n_dies, dims):
    if "die" not in dims or "die" not in ds.coords:
        return np.arange(n_dies)
    ids = ds["die"].values
    if ids.dtype.kind not in "iu" and not (ids.dtype.kind == "f" and np.all(np.isfinite(ids))
                                           and np.all(ids == np.round(ids))):
        raise _error(path, f"die coordinate is not integer (dtype {ids.dtype})",
                     "number the dies with integers")
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    outside = [v for v in ids.tolist() if not low <= v <= high]
    if outside:
        raise _error(path, f"die id {outside[0]!r} is out of range (die ids must lie in "
                     f"{low}..{high}, 64-bit signed)", "renumber the dies",
                     die=outside[0])
    ids = ids.astype(np.int64)
    if len(np.unique(ids)) != len(ids):
        raise _error(path, "duplicated die id in the die coordinate", "give every die its own id")
    return ids


def _check_grid(path, arrays, ids, present, names, resistance, device):
    """Values at device cells: the checks of the CSV path, plus g >= 0 finite for conductances."""
    cells = np.argwhere(np.broadcast_to(present, arrays[0].shape))
    values = [a[tuple(cells.T)] for a in arrays]

    def place(k):
        d, r, c = cells[k]
        return {"die": int(ids[d]), "row": int(r), "col": int(c)}

    if resistance:
        return _check_values(path, values[0], values[1], place, *names, device)
    for name, v in zip(names, values):
        bad = np.isnan(v) | np.isinf(v) | (v < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise _error(path, f"conductance {name} must be finite and >= 0 S; got {v[k]} "
                         "(NaN: missing measurement)", "0 S marks an open device", **place(k))
    with np.errstate(divide="ignore"):
        _check_values(path, 1.0 / values[0], 1.0 / values[1], place, *(f"1/{n}" for n in names),
                      device)
