"""The package layering is a contract: infra <- model <- data <- evaluation <- training <- scripts. Checked with
import-linter (the contract is in pyproject.toml) and, for what it cannot see, by reading the code:
no import of a project package hides inside a function."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGES = ("infra", "model", "data", "evaluation", "training")


def test_import_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        lint = shutil.which("lint-imports")
    assert lint, "import-linter is not installed (environment.yml)"
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def project_imports_inside_functions(path: Path) -> list[str]:
    """``module:line name`` of every import of a project package below a def."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            names = []
            if isinstance(inner, ast.Import):
                names = [a.name for a in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names = [inner.module]
            elif isinstance(inner, ast.ImportFrom) and inner.level > 0:
                names = ["." * inner.level + (inner.module or "")]
            hidden = [n for n in names if n.startswith(".") or n.split(".")[0] in PACKAGES]
            found += [f"{path.relative_to(ROOT)}:{inner.lineno} {n}" for n in hidden]
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_project_import_hides_inside_a_function(package):
    hidden = [hit for p in sorted((ROOT / package).rglob("*.py")) for hit in project_imports_inside_functions(p)]
    assert hidden == []


def test_the_check_sees_a_hidden_import(tmp_path):
    bad = ROOT / "tests" / "_hidden_import_probe.py"
    try:
        bad.write_text("def f():\n    from model.glim import GLIM\n    return GLIM\n")
        assert project_imports_inside_functions(bad) == ["tests/_hidden_import_probe.py:2 model.glim"]
    finally:
        bad.unlink()
