"""The public API: every public module says what it exports, and the core knows no study or CLI."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mtjexplore"
CORE = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_"))


@pytest.mark.parametrize("name", ["mtjexplore"] + [f"mtjexplore.{m}" for m in CORE])
def test_public_modules_declare_all_and_every_name_exists(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


@pytest.mark.parametrize("stem", CORE)
def test_the_core_imports_no_study_cli_widgets_or_server(stem):
    tree = ast.parse((PACKAGE / f"{stem}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            target = (node.module or "").split(".")[0]
            assert target not in {"study", "cli", "widgets", "serve"}, f"{stem}.py imports .{node.module}"


def test_import_widgets_without_the_extra_names_the_extra():
    # ipywidgets made unimportable stands in for a missing extra
    code = ("import sys; sys.modules['ipywidgets'] = None\n"
            "try:\n    import mtjexplore.widgets\nexcept Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert 'pip install "mtjexplore[widgets]"' in out.stdout, out.stdout + out.stderr
