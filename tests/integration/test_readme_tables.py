"""The README's result tables are what scripts/readme_tables.py writes from the committed results."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (REPO / "docs" / "results" / "short_strength" / "results.nc").exists(),
                    reason="the committed results are not here")
def test_readme_tables_match_the_committed_results(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    subprocess.run([sys.executable, str(REPO / "scripts" / "readme_tables.py"), "--readme", str(readme)],
                   check=True, capture_output=True, text=True)
    assert readme.read_text() == (REPO / "README.md").read_text(), \
        "README.md's tables differ from the committed results: run python scripts/readme_tables.py"
