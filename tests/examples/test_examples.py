"""The examples cannot rot: each is listed in run_all.py, has a --quick mode, and (slow) runs in it."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if p.name != "run_all.py")


def _run_all_names() -> set[str]:
    tree = ast.parse((EXAMPLES / "run_all.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "EXAMPLES":
            return {k.value for k in node.value.keys}  # type: ignore[union-attr]
    raise AssertionError("run_all.py has no EXAMPLES table")


def test_every_example_is_run_by_run_all():
    assert {p.stem for p in SCRIPTS} == _run_all_names()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_has_a_quick_mode_and_a_docstring(script):
    tree = ast.parse(script.read_text())
    doc = ast.get_docstring(tree)
    assert doc and f"examples/{script.name}" in doc, "the docstring should show how to run it"
    assert '"--quick"' in script.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_runs_in_quick_mode(script):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "run_all.py"), "--quick", "--only", script.stem],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1/1 examples passed" in result.stdout
