import subprocess
import sys


def test_import_loads_no_widget_libraries():
    code = ("import sys, mtjexplore; bad = [m for m in ('ipywidgets', 'bqplot', 'voila', 'ipyevents') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
