"""pytest plugin (entry point ``eqcnn``): ``--eqcnn-device`` and the ``device`` and ``dtype`` fixtures.

Installed with eqcnn, so any project's tests can use it::

    def test_my_layer(device, dtype):
        x = torch.randn(1, 3, 9, 9).to(device=device, dtype=dtype)  # made on the CPU, then moved
        ...

- ``--eqcnn-device=cpu|cuda|all`` (default ``cpu``) parametrizes tests that take
  ``device``; CUDA runs are skipped, with the reason, where no GPU is found.
- ``--eqcnn-dtype=float32,float64`` (the default) parametrizes tests that take ``dtype``.
- The ``eqcnn_exact`` fixture switches TF32 off for the test (see
  :func:`eqcnn.testing.no_tf32`); the harness's exact checks do so by themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

_DTYPES = ("float16", "bfloat16", "float32", "float64")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("eqcnn", "eqcnn equivariance tests")
    group.addoption(
        "--eqcnn-device",
        choices=("cpu", "cuda", "all"),
        default="cpu",
        help="devices for tests that take the `device` fixture: cpu (default), cuda, or all",
    )
    group.addoption(
        "--eqcnn-dtype",
        default="float32,float64",
        help=f"comma-separated dtypes for tests that take the `dtype` fixture, from {', '.join(_DTYPES)}",
    )


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "eqcnn_cuda: the test runs on a CUDA device (added by eqcnn's plugin)")


def _already_parametrized(metafunc: Any, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc: Any) -> None:
    if "device" in metafunc.fixturenames and not _already_parametrized(metafunc, "device"):
        choice = metafunc.config.getoption("eqcnn_device")
        names = {"cpu": ["cpu"], "cuda": ["cuda"], "all": ["cpu", "cuda"]}[choice]
        params = []
        for name in names:
            if name == "cuda":
                import torch

                skip = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
                params.append(pytest.param(name, marks=[skip, pytest.mark.eqcnn_cuda], id=name))
            else:
                params.append(pytest.param(name, id=name))
        metafunc.parametrize("device", params, indirect=True)
    if "dtype" in metafunc.fixturenames and not _already_parametrized(metafunc, "dtype"):
        names = [d.strip() for d in metafunc.config.getoption("eqcnn_dtype").split(",") if d.strip()]
        bad = [d for d in names if d not in _DTYPES]
        if bad or not names:
            raise pytest.UsageError(f"--eqcnn-dtype must list dtypes from {', '.join(_DTYPES)}; got {bad or names}")
        metafunc.parametrize("dtype", names, indirect=True, ids=names)


@pytest.fixture
def device(request: Any) -> Any:
    """The ``torch.device`` to run on (parametrized by ``--eqcnn-device``)."""
    import torch

    return torch.device(getattr(request, "param", "cpu"))


@pytest.fixture
def dtype(request: Any) -> Any:
    """The floating ``torch.dtype`` to run in (parametrized by ``--eqcnn-dtype``)."""
    import torch

    return getattr(torch, getattr(request, "param", "float32"))


@pytest.fixture
def eqcnn_exact() -> Iterator[None]:
    """TF32 off for the whole test."""
    from eqcnn.testing import no_tf32

    with no_tf32():
        yield
