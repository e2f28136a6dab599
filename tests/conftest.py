"""Shared test configuration: deterministic hypothesis profile, seeded torch."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("EQCNN_HYPOTHESIS_EXAMPLES", "20")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("default")


# Test tensors are small: one thread is several times faster than two on a busy 2-core machine.
# EQCNN_TEST_THREADS runs the suite with another count (CI runs it with 2 too, in random order):
# no test may depend on the thread count. Every test starts with this count (the fixture below).
TEST_THREADS = int(os.environ.get("EQCNN_TEST_THREADS", "1"))
torch.set_num_threads(TEST_THREADS)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(TEST_THREADS)  # a test that changed it leaves the next one the suite's count
    yield


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_leaked_torch_globals():
    """A test that changes torch's process-wide settings must restore them: fail it, not the next."""
    before = (torch.get_default_dtype(), torch.is_grad_enabled(), torch.are_deterministic_algorithms_enabled())
    yield
    after = (torch.get_default_dtype(), torch.is_grad_enabled(), torch.are_deterministic_algorithms_enabled())
    if after != before:
        torch.set_default_dtype(before[0])
        torch.set_grad_enabled(before[1])
        torch.use_deterministic_algorithms(before[2])
        pytest.fail(f"this test left torch's (default dtype, grad mode, deterministic) at {after}, not {before}")
