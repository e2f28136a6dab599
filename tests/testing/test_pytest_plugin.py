"""eqcnn's pytest plugin: --eqcnn-device, and the device and dtype fixtures."""

import pytest
import torch

pytest_plugins = ["pytester"]


def test_fixtures_give_torch_objects(device, dtype):
    assert isinstance(device, torch.device) and isinstance(dtype, torch.dtype)
    x = torch.randn(2, 3).to(device=device, dtype=dtype)  # made on the CPU, then moved
    assert x.device.type == device.type and x.dtype == dtype


def test_options_registered(request):
    assert request.config.getoption("eqcnn_device") in ("cpu", "cuda", "all")
    assert request.config.getoption("eqcnn_dtype")


@pytest.mark.parametrize("device", ["cpu"], indirect=True)
def test_explicit_parametrization_wins(device):
    assert device == torch.device("cpu")


def test_tf32_fixture(eqcnn_exact):
    assert not torch.backends.cudnn.allow_tf32


def test_cuda_is_skipped_with_a_reason_when_absent(pytester):
    pytester.makepyfile(
        """
        def test_dev(device, dtype):
            assert device.type in ("cpu", "cuda")
        """
    )
    result = pytester.runpytest_inprocess(
        "-rs", "-p", "no:cacheprovider", "--eqcnn-device=all", "--eqcnn-dtype=float64"
    )
    if torch.cuda.is_available():
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(["*CUDA is not available*"])
    bad = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--eqcnn-dtype=float8")
    assert bad.ret != 0
    assert "--eqcnn-dtype must list dtypes" in bad.stdout.str() + bad.stderr.str()
