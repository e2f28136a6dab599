"""Guards for the escnn tests: escnn keeps process-wide state that a test can leak into the next."""

import pytest


@pytest.fixture(autouse=True)
def _escnn_basis_cache_stays_float32():
    """escnn shares one sampled-basis module per (basis, grid) among all its layers (a module-level
    cache), so ``escnn_module.double()`` converts every later escnn layer too. Fail the test that
    does it (convert a ``copy.deepcopy`` instead), not the unrelated test that runs next."""
    yield
    try:
        from escnn.nn.modules.basismanager import basisexpansion_singleblock as cache_module
    except ImportError:  # the core suite has no escnn
        return
    leaked = sorted(
        {str(t.dtype) for m in cache_module._stored_filters.values() for t in [*m.parameters(), *m.buffers()]}
        - {"torch.float32"}
    )
    if leaked:
        cache_module._stored_filters.clear()  # the next test starts clean
        pytest.fail(f"this test converted escnn's shared basis cache to {leaked}: convert a deep copy instead")
