"""The docs cannot rot: every page's ``>>>`` examples run as doctests, and every other ``python``
code block runs as a script (the blocks of a page in order, in one namespace, in a scratch folder).

A page's blocks run only when the extras they import are installed (escnn, matplotlib, onnx), and
a page whose code runs on CUDA only where a GPU is found (it is part of the CUDA test matrix).
"""

import doctest
import importlib.util
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]) if (ROOT / "docs").exists() else []
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
EXTRAS = {"escnn": "escnn", "plots": "matplotlib", "onnx": "onnx"}  # import seen in a block -> module it needs


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT))


def _script_blocks(page: Path) -> list[str]:
    return [b for b in FENCE.findall(page.read_text()) if not b.lstrip().startswith(">>>")]


def _code(text: str) -> str:
    """The code of a page: its python blocks (doctest prompts included), not its prose."""
    return "\n".join(FENCE.findall(text))


def _needs(code: str) -> list[str]:
    return sorted({mod for word, mod in EXTRAS.items() if re.search(rf"\b{word}\b", code)})


def test_pages_are_found():
    names = {_id(p) for p in PAGES}
    assert {"README.md", "docs/testing.md", "docs/howto/swap-group.md"} <= names, names


@pytest.mark.parametrize("page", [p for p in PAGES if ">>> " in p.read_text()], ids=_id)
def test_page_doctests(page, tmp_path, monkeypatch):
    for mod in _needs(_code(page.read_text())):
        pytest.importorskip(mod)
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(
        str(page), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} example(s) failed in {_id(page)}"


def _needs_cuda(page: Path) -> bool:
    return bool(re.search(r"""\.cuda\(|["']cuda(:\d+)?["']""", "\n".join(_script_blocks(page))))


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, marks=[pytest.mark.eqcnn_cuda] if _needs_cuda(p) else []) for p in PAGES if _script_blocks(p)],
    ids=_id,
)
def test_page_code_blocks_run(page, tmp_path, monkeypatch):
    """(A page whose code runs on CUDA is in the CUDA test matrix, ``-m eqcnn_cuda``; skipped without a GPU.)"""
    blocks = _script_blocks(page)
    for mod in _needs("\n".join(blocks)):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{_id(page)} needs {mod}")
    if _needs_cuda(page) and not torch.cuda.is_available():
        pytest.skip(f"{_id(page)} needs a CUDA device")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{_id(page)}, python block {i + 1}", "exec"), namespace)
        except Exception as e:  # name the block: the traceback's file name is the page
            raise AssertionError(f"{_id(page)}, python block {i + 1} failed: {type(e).__name__}: {e}") from e
