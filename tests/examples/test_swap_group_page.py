"""docs/howto/swap-group.md quotes what examples/quickstart.py prints: the table must match a fresh run."""

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "howto" / "swap-group.md"


def _page_rows() -> dict[str, list[str]]:
    rows = {}
    for line in PAGE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and re.fullmatch(r"(Trivial|Cyclic|Dihedral)\(\d*\)", cells[0]):
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.skipif(not PAGE.exists(), reason="docs/ is not shipped with this checkout")
def test_swap_group_table_is_what_quickstart_prints(capsys):
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="quickstart").get("main")([])
    printed = {}
    for line in capsys.readouterr().out.splitlines():
        words = line.split()
        if words and re.fullmatch(r"(Trivial|Cyclic|Dihedral)\(\d*\)", words[0]) and len(words) == 6:
            printed[words[0]] = words[1:]
    page = _page_rows()
    assert set(page) == set(printed), (page, printed)
    for group, (params, channels, e0, e45, e90) in printed.items():
        p_params, p_channels, p0, p45, p90 = page[group]
        assert p_params.replace(",", "") == params and p_channels == channels, group
        assert float(p0) == float(e0) == 0.0, group
        # 45 degrees: the page gives two significant digits of the printed error
        assert float(p45) == pytest.approx(float(e45), rel=0.05), (group, p45, e45)
        if group == "Trivial()":
            assert float(p90) == pytest.approx(float(e90), rel=0.05), (group, p90, e90)
        else:  # exact up to float32 rounding: only the order of magnitude is machine-independent
            assert float(p90) < 1e-5 and float(e90) < 1e-5, (group, p90, e90)
