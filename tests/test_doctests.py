"""Run the docstring examples of every eqcnn module, so examples cannot rot."""

import doctest
import importlib
import pkgutil

import pytest

import eqcnn

OPTIONAL = {"eqcnn.interop": "escnn", "eqcnn.plots": "matplotlib"}


def _modules():
    for info in pkgutil.walk_packages(eqcnn.__path__, prefix="eqcnn."):
        if info.name.endswith("__main__"):
            continue
        yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    for prefix, dep in OPTIONAL.items():
        if name.startswith(prefix):
            pytest.importorskip(dep)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        if test.examples:
            runner.run(test)
    assert runner.failures == 0, f"{runner.failures} docstring example(s) failed in {name} (see output above)"
