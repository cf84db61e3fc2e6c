"""scripts/short_strength.py: the study of how the result depends on the series resistance."""
import subprocess
import sys
from pathlib import Path

import numpy as np

import mtjexplore as mx

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "short_strength.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), "--quick", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_quick_study_writes_results_summary_and_figure(tmp_path):
    out = tmp_path / "strength"
    done = run("--out", out, "--seeds", 0, 1, "--r-series", 500, 1800, 4000, "--loss-cap", 3)
    assert done.returncode == 0, done.stderr
    res = mx.load(out / "results.nc")
    assert dict(res.error.sizes) == {"r_series": 3, "method": 6, "seed": 2, "die": 36}
    seeded = ["statistics_aware", "statistics_aware_remapped", "statistics_aware_capped"]
    assert not np.isnan(res.error.sel({"method": seeded}).values).any()
    fixed = res.error.sel({"method": ["software", "defect_aware", "remapped"]})
    assert not np.isnan(fixed.isel(seed=0).values).any() and np.isnan(fixed.isel(seed=1).values).all()
    # a larger series resistance bounds a short's current: weaker shorts, less damage
    assert res.short_to_weight.values[0] > 2 * res.short_to_weight.values[2]
    unaware = res.error.sel({"method": "software"}).mean("die").values[:, 0]
    assert unaware[2] < unaware[0]
    text = (out / "summary.md").read_text()
    assert "| 500 Ω | 11.7 unit weights |" in text and "| 1.8 kΩ (default) | 5.4 unit weights |" in text
    assert "statistics-aware, loss capped at 3 nats" in text and "defect-aware (per die)" in text
    assert "- statistics-aware: within 2 % at" in text
    assert (out / "gap_vs_short.png").stat().st_size > 10_000

    again = run("--out", out, "--seeds", 0, "--r-series", 500)
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr
    assert mx.load(out / "results.nc").sizes["r_series"] == 3  # untouched
