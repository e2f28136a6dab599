"""docs/testing.md is executable: run its examples (CI also runs `pytest --doctest-glob='*.md' docs`)."""

import doctest
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


@pytest.mark.skipif(not PAGE.exists(), reason="docs/ is not shipped with this checkout")
def test_testing_page_examples():
    pytest.importorskip("matplotlib")
    result = doctest.testfile(
        str(PAGE), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.attempted > 20 and result.failed == 0
