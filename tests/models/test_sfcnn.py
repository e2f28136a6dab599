"""SFCNN over the continuous groups."""

import pytest


def test_sfcnn_over_so2_uses_band_limited_fields_and_is_exact_on_quarter_turns():
    import eqcnn
    from eqcnn import nn as enn
    from eqcnn.models import SFCNN
    from eqcnn.testing import assert_equivariant

    model = SFCNN(eqcnn.SO2(2), width=0.2, kernel_sizes=(5, 3, 3, 3, 3, 3)).eval()
    convs = [m for m in model.features if isinstance(m, enn.Conv2d)]
    assert all(c.out_type == eqcnn.SO2(2).bl_regular(len(c.out_type)) for c in convs)
    assert any(isinstance(m, enn.FourierPointwise) for m in model.modules())
    assert any(isinstance(m, enn.NormPool) for m in model.modules())
    assert_equivariant(model, size=29)
    with pytest.raises(ValueError, match=r"`pool` must be 'blur' for SO2\(max_frequency=2\)"):
        SFCNN(eqcnn.SO2(2), pool="max")
