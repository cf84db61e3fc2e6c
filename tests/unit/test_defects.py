"""The defect-kind registry (mtjexplore.defects): append-only codes, one place to add a kind."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import mtjexplore as mx
from mtjexplore.defects import DEFECT_CODES, DEFECT_KINDS, REGISTRY, kind

SAVED_DIE = Path(__file__).resolve().parents[1] / "data" / "die_v0_1.nc"
#: Cells painted in the saved die (written with the code before the registry existed).
SAVED_CELLS = {"short": [(0, 0), (5, 7)], "open": [(1, 1)], "stuck_p": [(2, 2)], "stuck_ap": [(3, 190)]}


def test_codes_are_the_positions_in_the_registry():
    assert [k.code for k in REGISTRY] == list(range(len(REGISTRY)))
    assert DEFECT_KINDS[0] == "ok" and len(set(DEFECT_KINDS)) == len(DEFECT_KINDS)


def test_codes_are_append_only_against_a_die_saved_by_version_0_1():
    # A code, once written to a file, keeps its meaning: every kind the old file names must have
    # the same code today, and the painted cells must still read as those kinds.
    with xr.open_dataset(SAVED_DIE) as saved:
        saved = saved.load()
    meanings = saved.defect.attrs["flag_meanings"].split()
    values = [int(v) for v in saved.defect.attrs["flag_values"]]
    for name, code in zip(meanings, values):
        if name != "no_device":
            assert DEFECT_CODES[name] == code, f"kind {name!r} was code {code} in version 0.1"
    assert DEFECT_KINDS[:len(meanings) - 1] == tuple(meanings[:-1])
    for name, cells in SAVED_CELLS.items():
        for row, col in cells:
            assert DEFECT_KINDS[int(saved.defect.values[row, col])] == name


def test_the_saved_die_is_rebuilt_identically_by_todays_code():
    with xr.open_dataset(SAVED_DIE) as saved:
        saved = saved.load()
    die = mx.ideal_die(mx.paper_config())
    for name, cells in SAVED_CELLS.items():
        rows, cols = zip(*cells)
        die = mx.set_defects(die, list(rows), list(cols), name)
    for var in ("g_p", "g_ap", "defect"):
        np.testing.assert_array_equal(die[var].values, saved[var].values, err_msg=var)
    np.testing.assert_array_equal(mx.classify_defects(saved).values, saved.defect.values)


def test_every_kind_describes_itself():
    for k in REGISTRY:
        assert k.name and k.label and k.plural and k.description
        assert k.color.startswith("#") and len(k.color) == 7
        assert 0 <= k.reference_rate < 0.5
    with pytest.raises(KeyError, match="known: ok, short"):
        kind("crack")


# A kind added as ONE registry entry: the test copies the package, appends the entry to
# defects.py and checks that painting, sampling, statistics, the die stream, classification and
# the widgets' tables all know it, without any other file changing.
NEW_KIND = '''
REGISTRY = REGISTRY + (
    DefectKind(5, "weak", "weak", "weak", "#8c564b", "reads half of its healthy TMR", 1e-4,
               lambda g_p, g_ap, g_short, g_open: (g_p, (g_p + g_ap) / 2)),
)
'''

CHECK = '''
import numpy as np, torch
import mtjexplore as mx
from mtjexplore import defects
from mtjexplore.die_stream import DieStream
assert mx.__file__.startswith({root!r}), mx.__file__
assert defects.DEFECT_CODES["weak"] == 5 and mx.DEFECT_KINDS[-1] == "weak"
cfg = mx.paper_config()
die = mx.set_defects(mx.ideal_die(cfg), [4], [4], "weak")
assert die.defect.values[4, 4] == 5
assert die.g_ap.values[4, 4] == (cfg.device.g_p_s + cfg.device.g_ap_s) / 2
ens = mx.sample_dies(cfg, 40, rates={{"weak": 5e-4}}, seed=0)
counts = mx.defect_counts(ens)
assert "weak" in counts.kind.values and int(counts.sel(kind="weak").sum()) > 100
stats = mx.DefectStatistics.fit(ens)
assert 5 < stats.mean_counts["weak"] < 15, stats.mean_counts
stream = DieStream(stats, 2, torch.Generator().manual_seed(0), refresh=4)
coeffs = stream()
assert coeffs.n_dies == 2
from mtjexplore.widgets.painter import PALETTE
from mtjexplore.widgets.state import CELL_KINDS
from mtjexplore.widgets._util import KIND_COLORS
assert ("weak", "weak") in PALETTE and "weak" in CELL_KINDS and KIND_COLORS["weak"] == "#8c564b"
print("ok")
'''


def test_adding_a_kind_is_one_registry_entry(tmp_path):
    pytest.importorskip("ipywidgets")
    package = Path(mx.__file__).resolve().parent
    copy = tmp_path / "mtjexplore"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.npz", "apps"))
    (copy / "data" / "mnist.npz").symlink_to(package / "data" / "mnist.npz")
    defects_py = copy / "defects.py"
    text = defects_py.read_text()
    anchor = "\n#: Kind names in code order"
    assert anchor in text
    defects_py.write_text(text.replace(anchor, textwrap.dedent(NEW_KIND) + anchor, 1))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", CHECK.format(root=str(tmp_path))], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
