"""The one layout of a study's results: folder structure, file names, and resumable stages.

Every study runner (``mtjexplore reproduce``, :mod:`.sweep`, the scripts in ``scripts/``, the
shipped app data of :mod:`.app_data`) reads and writes a results folder through this module::

    <out>/
      manifest.json              settings of the study and their hash (written first)
      statistics.nc              the defect statistics fitted to the dies
      weights/software.nc        software baseline (ideal devices)
      weights/statistics_aware.nc
      weights/defect_aware.nc    per-die weights, one Dataset with a ``die`` dim
      stages/defect_aware/die=<id>.nc           one die's defect-aware weights
      stages/<remapped method>/subset=<i>/die=<id>.nc   one die's placement (Remapping)
      stages/evaluation/<method>.nc             error and loss of one method on every die
      stages/remap_subset_error.nc
      stages/sensitivity/<method>.nc
      results.nc                 the study results (:data:`RESULT_DIMS`)
      <figure>.png, summary.md

Resuming (:class:`StudyFolder`): each stage's file is written atomically
(:func:`mtjexplore.io.save` / :func:`~mtjexplore.io.atomic_write`: a temporary name, then published
in one step, refusing to replace) and records the hash of the study's settings in its attrs
(``study_settings``). A rerun with the same settings loads ("reuses") the finished files and
computes the rest; the stage functions always continue from the *loaded* file, so a resumed study
computes exactly what an uninterrupted one does. Other settings in the same folder are refused,
naming the folder and the settings that differ; ``overwrite=True`` deletes this layout's files
(and only those) to start over. A damaged manifest is rebuilt from the current settings: every
stage file records the hash it was computed with, and one of other settings is refused when it
would be reused. A folder with a ``results.nc`` but no manifest (written before studies were
resumable) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import DataFileError, FileExistsRefusedError, MTJExploreError, ParameterError
from ..io import atomic_write, clean_stale_temps, load, save

MANIFEST = "manifest.json"
RESULTS = "results.nc"
STATISTICS = "statistics.nc"
SUMMARY = "summary.md"
WEIGHTS = "weights"
STAGES = "stages"
#: attr of every stage file: the hash of the settings it was computed with
SETTINGS_ATTR = "study_settings"
#: attr of every stage file: seconds its computation took
SECONDS_ATTR = "stage_seconds"
#: dims of the results Dataset's main variables (``error``, ``loss``)
RESULT_DIMS = ("method", "die")
FIGURE_SUFFIX = ".png"


class StudyMismatchError(MTJExploreError, ValueError):
    """A results folder holds a study computed with other settings."""


def weights_path(folder, method):
    """``<folder>/weights/<method>.nc``: the weights of a trained method."""
    return Path(folder) / WEIGHTS / f"{method}.nc"


def die_stage(method, die, subset=None):
    """Relative path of one die's stage file (defect-aware weights, or a placement)."""
    part = f"{STAGES}/{method}" + ("" if subset is None else f"/subset={int(subset)}")
    return f"{part}/die={int(die)}.nc"


def settings_hash(fingerprint, length=16):
    """Short hash of a JSON-able settings dict (order of keys ignored)."""
    text = json.dumps(fingerprint, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def dataset_hash(ds):
    """Short hash of a Dataset's variables (names and values), e.g. the dies of a study."""
    h = hashlib.sha256()
    for name in sorted(ds.variables):
        h.update(str(name).encode() + np.ascontiguousarray(ds[name].values).tobytes())
    return h.hexdigest()[:16]


def layout_paths(folder, figures=()):
    """Every file and folder of this layout in ``folder`` (what ``overwrite`` deletes)."""
    folder = Path(folder)
    files = [MANIFEST, RESULTS, STATISTICS, SUMMARY] + [f"{name}{FIGURE_SUFFIX}" for name in figures]
    return [folder / name for name in files], [folder / WEIGHTS, folder / STAGES]


def write_text(path, text, *, overwrite=True):
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`mtjexplore.io.atomic_write`)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite)


def write_section(path, key, text, *, made_by):
    """Put ``text`` into the section ``key`` of the Markdown file ``path``, atomically.

    The section lies between ``<!-- key: written by made_by -->`` and ``<!-- /key -->`` and is
    replaced on every call (appended when the file has none yet), so a generated table can live
    in a hand-written page (the README, a study's summary) and be regenerated with its results.
    """
    path = Path(path)
    text_now = path.read_text(encoding="utf-8")
    begin, end = f"<!-- {key}: written by {made_by} -->", f"<!-- /{key} -->"
    block = f"{begin}\n{text.strip()}\n\n{end}\n"
    start = text_now.find(f"<!-- {key}: ")
    if start >= 0 and end in text_now[start:]:
        rest = text_now[start:].split(end, 1)[1].lstrip("\n")
        text_now = text_now[:start] + block + ("\n" + rest if rest else "")
    else:
        text_now = text_now.rstrip("\n") + "\n\n" + block
    return write_text(path, text_now)


def write_results(folder, results, summary, *, overwrite=True):
    """Write a study runner's ``results.nc`` and ``summary.md`` into ``folder``, each atomically.

    The layout every runner shares (``mtjexplore reproduce``, ``scripts/short_strength.py``,
    ``scripts/defect_aware_fresh.py``); returns ``{"results": path, "summary": path}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {"results": save(results, folder / RESULTS, overwrite=overwrite),
            "summary": write_text(folder / SUMMARY, summary, overwrite=overwrite)}


def _differing(stored, fingerprint):
    return sorted(k for k in set(stored) | set(fingerprint) if stored.get(k) != fingerprint.get(k))


class StudyFolder:
    """A resumable study folder: its manifest and its stage files.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if missing.
    fingerprint : dict
        JSON-able settings of the study (the manifest holds it and its hash).
    overwrite : bool, default False
        Delete this layout's files first (start over).
    figures : sequence of str
        Figure names (``<name>.png``) that belong to the layout.
    on_reuse : callable, optional
        ``on_reuse(relative_path)`` after each file reused.

    Raises
    ------
    StudyMismatchError
        The folder's manifest (or a stage file) records other settings.
    """

    def __init__(self, folder, fingerprint, *, overwrite=False, figures=(), on_reuse=None):
        self.folder = Path(folder)
        self.fingerprint = json.loads(json.dumps(fingerprint))
        self.token = settings_hash(self.fingerprint)
        self.figures = tuple(figures)
        self.on_reuse = on_reuse
        self.n_reused = 0
        self.seconds = {}  # relative path -> seconds its computation took (stage files seen)
        if self.folder.exists() and not self.folder.is_dir():
            raise ParameterError(f"out must be a folder; {self.folder} is a file")
        if overwrite:
            self.clear()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_manifest()
        self.clean_temps()

    # ---------------------------------------------------------------- manifest
    def _check_manifest(self):
        path = self.folder / MANIFEST
        stored = self._read_manifest(path) if path.is_file() else None
        if stored is None and (self.folder / RESULTS).is_file():
            self._check_token(self.folder / RESULTS)  # an old folder without manifest is refused
        if stored is not None:
            differ = _differing(stored.get("settings", {}), self.fingerprint)
            if differ or stored.get("settings_hash") != self.token:
                raise self._mismatch(", ".join(differ) or "settings_hash")
            return
        text = json.dumps({"settings_hash": self.token, "settings": self.fingerprint}, indent=1)
        write_text(path, text)

    def _read_manifest(self, path):
        """The stored manifest, or None if it is damaged (it is then rebuilt: every stage file
        records the settings hash it was computed with, so no stage of other settings slips in)."""
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return stored if isinstance(stored, dict) and isinstance(stored.get("settings"), dict) else None

    def _mismatch(self, what):
        return StudyMismatchError(
            f"the study in {self.folder} was computed with other settings (differing: {what}); choose "
            f"another --out folder, or pass --overwrite (overwrite=True) to delete its results "
            f"and start over")

    def clear(self):
        """Delete this layout's files and folders in the study folder (nothing else)."""
        files, folders = layout_paths(self.folder, self.figures)
        for path in files:
            path.unlink(missing_ok=True)
        for path in folders:
            if path.is_dir():
                shutil.rmtree(path)

    def clean_temps(self):
        """Delete temporary files of killed writers in every folder of the layout."""
        folders = [self.folder]
        for sub in (WEIGHTS, STAGES):
            folders += [Path(root) for root, _, _ in os.walk(self.folder / sub)]
        return sum(clean_stale_temps(path) for path in folders)

    # ---------------------------------------------------------------- stages
    def _check_token(self, path):
        ds = self._load(path)
        stored = ds.attrs.get(SETTINGS_ATTR)
        if stored is None or str(stored) != self.token:
            raise StudyMismatchError(
                f"'{path}' was not computed with this study's settings (its hash "
                f"{stored if stored is not None else '(none: written before resumable studies)'}, "
                f"this study {self.token}); pass --overwrite (overwrite=True) to start over in "
                f"{self.folder}, or choose another --out folder")
        return ds

    def _load(self, path):
        try:
            return load(path)
        except DataFileError as exc:
            raise DataFileError(f"{exc} (a stage file of the study in {self.folder}; delete it "
                                f"and rerun: the stage is recomputed)") from None

    def dataset(self, relative, compute):
        """The Dataset of stage ``relative``: loaded if finished, else ``compute()``d and saved.

        The Dataset returned is the one read back from the file (attrs ``study_settings`` and
        ``stage_seconds`` removed), so a resumed study continues from exactly what a fresh one
        does.
        """
        path = self.folder / relative
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            ds = compute()
            ds = ds.assign_attrs({SETTINGS_ATTR: self.token,
                                  SECONDS_ATTR: round(time.perf_counter() - start, 3)})
            try:
                save(ds, path)
            except FileExistsRefusedError:  # another run of the same study finished it first
                pass
            else:
                return self._strip(relative, self._load(path))
        self.n_reused += 1
        if self.on_reuse is not None:
            self.on_reuse(relative)
        return self._strip(relative, self._check_token(path))

    def _strip(self, relative, ds):
        self.seconds[relative] = float(ds.attrs.pop(SECONDS_ATTR, 0.0))
        ds.attrs.pop(SETTINGS_ATTR, None)
        return ds

    def file(self, relative, write, *, replace=False):
        """Write a non-NetCDF output (figure, summary) with ``write(tmp_path)`` unless it exists
        (or ``replace``: write it again), atomically. Returns ``(path, reused)``."""
        path = self.folder / relative
        if path.is_file() and not replace:
            self.n_reused += 1
            if self.on_reuse is not None:
                self.on_reuse(relative)
            return path, True
        try:
            atomic_write(path, write, overwrite=replace)
        except FileExistsRefusedError:
            return path, True
        return path, False

class MemoryStore:
    """The stage interface of :class:`StudyFolder` without a folder: every stage is computed."""

    n_reused = 0

    def __init__(self):
        self.seconds = {}

    def dataset(self, relative, compute):
        start = time.perf_counter()
        ds = compute()
        self.seconds[relative] = round(time.perf_counter() - start, 3)
        return ds
