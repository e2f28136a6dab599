"""Wrong user input fails up front with a real exception whose message names the argument, what it
accepts and what arrived (never an AttributeError, an IndexError or a numpy/torch error from deep inside,
and never silence).  One row per defect found by the input-error sweep: each row failed on the code
before it (a different exception or message, or no exception at all)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import eqcnn
from eqcnn import kernels, models, plots, testing
from eqcnn import nn as enn
from eqcnn._checks import ShapeError
from eqcnn.fields import rotate_pixels

G = eqcnn.Cyclic(4)
D = eqcnn.Dihedral(4)
R = G.regular(1)
NAN, INF = float("nan"), float("inf")


def conv():
    return enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1)


def x4():
    return torch.randn(1, 1, 9, 9)


def custom_net():
    """A model whose receptive field is measured (Softmax2d is not read from the tree)."""
    return nn.Sequential(nn.Conv2d(1, 1, 3), nn.Softmax2d())


def strategies():
    pytest.importorskip("hypothesis")
    from eqcnn.testing import strategies as est

    return est


ROWS = [
    # -- eqcnn.testing: the model argument ------------------------------------------------------------
    ("assert_equivariant-int", lambda: testing.assert_equivariant(3, size=17), TypeError,
     r"`model` must be a torch\.nn\.Module, got int \(3\)"),
    ("assert_equivariant-function", lambda: testing.assert_equivariant(lambda t: t, size=17), TypeError,
     r"`model` must be a torch\.nn\.Module, got function .*wrap a plain function in an nn\.Module"),
    ("equivariance_report-tensor", lambda: testing.equivariance_report(x4(), size=9), TypeError,
     r"`model` must be a torch\.nn\.Module, got Tensor of shape \(1, 1, 9, 9\)"),
    ("equivariance_error-int", lambda: testing.equivariance_error(3, x4(), 90), TypeError, r"`model` must be"),
    ("layerwise_errors-int", lambda: testing.layerwise_errors(3), TypeError, r"`model` must be"),
    ("lie_derivative-int", lambda: testing.lie_derivative(3, x4()), TypeError, r"`model` must be"),
    ("error_by_angle-int", lambda: testing.error_by_angle(3), TypeError, r"`model` must be"),
    ("receptive_field-int", lambda: testing.receptive_field(3), TypeError, r"`model` must be"),
    ("plain_baseline-int", lambda: testing.plain_baseline(3), TypeError, r"`model` must be"),
    ("declare-int", lambda: testing.declare(3), TypeError, r"`model` must be"),
    ("grid_symmetry_problems-int", lambda: testing.grid_symmetry_problems(3, x4()), TypeError, r"`model` must be"),
    # -- eqcnn.testing: the input and the other arguments ---------------------------------------------
    ("assert_equivariant-x-list", lambda: testing.assert_equivariant(conv(), [1, 2]), TypeError,
     r"`x` must be a torch\.Tensor of shape \(B, C, H, W\) or \(C, H, W\), got list \(\[1, 2\]\)"),
    ("equivariance_error-x-int", lambda: testing.equivariance_error(conv(), 3, 90), TypeError, r"`x` must be a torch"),
    ("equivariance_error-x-2d", lambda: testing.equivariance_error(conv(), torch.randn(9, 9), 90), ShapeError,
     r"`x` must have shape \(B, C, H, W\) or \(C, H, W\), got shape \(9, 9\)"),
    ("equivariance_error-g-nan", lambda: testing.equivariance_error(conv(), x4(), NAN), ValueError,
     r"`g` must be a finite number, got nan"),
    ("equivariance_error-mask-str", lambda: testing.equivariance_error(conv(), x4(), 90, mask="a"), TypeError,
     r"`mask` must be a torch\.Tensor"),
    ("equivariance_error-mask-shape",
     lambda: testing.equivariance_error(conv(), x4(), 90, mask=torch.ones(3, 3, dtype=torch.bool)), ShapeError,
     r"`mask` must have the shape of the output's pixels \(9, 9\), got shape \(3, 3\)"),
    ("layerwise_errors-size-0", lambda: testing.layerwise_errors(conv(), size=0), ValueError,
     r"`size` must be >= 1, got 0"),
    ("layerwise_errors-x-str", lambda: testing.layerwise_errors(conv(), "a"), TypeError, r"`x` must be a torch"),
    ("lie_derivative-x-int", lambda: testing.lie_derivative(conv(), 3), TypeError, r"`x` must be a torch"),
    ("warp_velocity-x-3d", lambda: testing.warp_velocity(torch.randn(1, 9, 9), "rotation"), ShapeError,
     r"`x` must have shape \(B, C, H, W\), got shape \(1, 9, 9\)"),
    ("warp_velocity-scale-str", lambda: testing.warp_velocity(x4(), "translation_x", scale="a"), TypeError,
     r"`scale` must be a finite number, got str"),
    ("error_by_angle-angles-int", lambda: testing.error_by_angle(conv(), angles=5, size=9), TypeError,
     r"`angles` must be a sequence of angles in degrees, got int \(5\)"),
    ("error_by_angle-angles-str", lambda: testing.error_by_angle(conv(), angles=["a"], size=9), TypeError,
     r"`angles\[0\]` must be a finite number, got str"),
    ("receptive_field-input_shape-int", lambda: testing.receptive_field(custom_net(), input_shape=5), TypeError,
     r"`input_shape` must be a sequence of ints, got int \(5\)"),
    ("plain_baseline-seed-str", lambda: testing.plain_baseline(conv(), seed="a"), TypeError,
     r"`seed` must be an int, got str"),
    ("declare-in_type-0", lambda: testing.declare(nn.Conv2d(1, 1, 3), in_type=0), ValueError,
     r"`in_type` must be >= 1, got 0"),
    ("declare-group-str", lambda: testing.declare(conv(), group="C4"), TypeError,
     r"`group` must be an eqcnn group .*got 'C4'"),
    ("declare-channels-negative", lambda: testing.declare(nn.Conv2d(1, 1, 3), channels=-1), ValueError,
     r"`channels` must be >= 1, got -1"),
    ("report-ratio-negative", lambda: testing.assert_equivariant(conv(), size=9, ratio=-1), ValueError,
     r"`ratio` must be a finite number >= 0, got -1"),
    ("report-rtol-nan", lambda: testing.assert_equivariant(conv(), size=9, rtol=NAN), ValueError,
     r"`rtol` must be a finite number >= 0, got nan"),
    ("report-seed-str", lambda: testing.assert_equivariant(conv(), size=9, seed="a"), TypeError,
     r"`seed` must be an int, got str"),
    ("report-dtype-str", lambda: testing.assert_equivariant(conv(), size=9, dtype="float32"), TypeError,
     r"`dtype` must be a floating point torch\.dtype \(e\.g\. torch\.float32\), got str \('float32'\)"),
    ("report-transforms-int", lambda: testing.assert_equivariant(conv(), size=9, transforms=5), TypeError,
     r"`transforms` must be an iterable of transforms .*got int \(5\)"),
    ("report-angles-str", lambda: testing.assert_equivariant(conv(), size=9, angles=["a"]), TypeError,
     r"`angles\[0\]` must be a finite number"),
    ("report-shifts-int", lambda: testing.assert_equivariant(conv(), size=9, shifts=[1]), TypeError,
     r"`shifts\[0\]` must be a \(dy, dx\) pair of ints, got int \(1\)"),
    ("shift-x-str", lambda: testing.shift("a", 1, 1), TypeError, r"`x` must be a torch\.Tensor"),
    ("shift-x-1d", lambda: testing.shift(torch.randn(5), 1, 1), ShapeError, r"`x` must have shape \(\.\.\., H, W\)"),
    ("rotate-x-str", lambda: testing.rotate("a", 90), TypeError, r"`x` must be a torch\.Tensor"),
    ("rotate-degrees-nan", lambda: testing.rotate(x4(), NAN), ValueError, r"`degrees` must be a finite number"),
    ("Rotation-degrees-str", lambda: testing.Rotation("a"), TypeError, r"`degrees` must be a finite number"),
    ("band_limited_noise-sigma-str", lambda: testing.band_limited_noise(5, sigma="a"), TypeError,
     r"`sigma` must be a finite number >= 0, got str"),
    ("band_limited_noise-sigma-inf", lambda: testing.band_limited_noise(5, sigma=INF), ValueError,
     r"`sigma` must be a finite number >= 0, got inf"),
    ("band_limited_noise-seed-float", lambda: testing.band_limited_noise(5, seed=1.5), TypeError,
     r"`seed` must be an int, got float \(1\.5\)"),
    ("band_limited_noise-dtype-int", lambda: testing.band_limited_noise(5, dtype=torch.long), ValueError,
     r"`dtype` must be a floating point torch\.dtype .*got torch\.int64"),
    ("natural_image-size-float", lambda: testing.natural_image(5.0), TypeError,
     r"`size` must be an int or a sequence of ints ending with \(H, W\), got float \(5\.0\)"),
    ("natural_image-size-0", lambda: testing.natural_image(0), ValueError, r"`size` must be >= 1, got 0"),
    ("disk_mask-radius-negative", lambda: testing.disk_mask(5, radius=-1), ValueError,
     r"`radius` must be a finite number >= 0, got -1"),
    ("disk_mask-margin-str", lambda: testing.disk_mask(5, margin="a"), TypeError, r"`margin` must be a finite number"),
    ("soft_disk-width-0", lambda: testing.soft_disk(5, width=0), ValueError,
     r"`width` must be a positive number of pixels, got 0"),
    ("valid_mask-rf-str", lambda: testing.valid_mask("a", 5, 5), TypeError, r"`rf` must be a ReceptiveField"),
    # -- eqcnn.testing.strategies ---------------------------------------------------------------------
    ("strategies-groups-min_n-str", lambda: strategies().groups(min_n="a"), TypeError, r"`min_n` must be an int"),
    ("strategies-groups-max_n-0", lambda: strategies().groups(max_n=0), ValueError, r"`max_n` must be >= 1, got 0"),
    ("strategies-groups-family", lambda: strategies().groups(families=["cyclic", "x"]), ValueError,
     r"`families\[1\]` must be one of 'trivial', 'cyclic', 'dihedral', 'so2', 'o2', 'octahedral', "
     r"'full_octahedral'; got 'x'"),
    ("strategies-representations-group", lambda: strategies().representations("G"), TypeError,
     r"`group` must be an eqcnn group"),
    ("strategies-field_types-min_fields", lambda: strategies().field_types(G, min_fields=-1), ValueError,
     r"`min_fields` must be >= 0, got -1"),
    ("strategies-conv_configs-even", lambda: strategies().conv_configs(kernel_sizes=(2, 4)), ValueError,
     r"`kernel_sizes` must include an odd size"),
    ("strategies-input_sizes-config", lambda: strategies().input_sizes("a"), TypeError,
     r"`config` must be a ConvConfig"),
    ("strategies-ConvConfig-float", lambda: strategies().ConvConfig(3.5), TypeError,
     r"`kernel_size` must be an int, got float \(3\.5\)"),
    ("strategies-conv_cases-strategy", lambda: strategies().conv_cases(group_strategy="a"), TypeError,
     r"`group_strategy` must be a hypothesis strategy or None, got 'a'"),
    # -- eqcnn.nn --------------------------------------------------------------------------------------
    ("GroupPool-trivial-fields", lambda: enn.GroupPool(G.trivial(2)), ValueError,
     r"`in_type` of GroupPool has only trivial fields, so there is nothing to pool over the group; got "
     r"Cyclic\(4\)\.trivial\(2\); pass regular fields .* or drop the layer"),
    ("GroupPool-trivial-fields-dihedral", lambda: enn.GroupPool(D.trivial(1)), ValueError,
     r"`in_type` of GroupPool has only trivial fields"),
    ("Conv2d-dtype-str", lambda: enn.Conv2d(R, R, 3, dtype="float"), TypeError,
     r"`dtype` must be a floating point torch\.dtype .*got str \('float'\)"),
    ("Conv2d-dtype-int", lambda: enn.Conv2d(R, R, 3, dtype=torch.long), ValueError,
     r"`dtype` must be a floating point torch\.dtype .*got torch\.int64"),
    ("ConvTranspose2d-dtype-str", lambda: enn.ConvTranspose2d(R, R, 3, dtype="float"), TypeError,
     r"`dtype` must be a floating point torch\.dtype"),
    ("Linear-dtype-str", lambda: enn.Linear(G.trivial(2), 3, dtype="float"), TypeError,
     r"`dtype` must be a floating point torch\.dtype"),
    ("BatchNorm2d-eps-negative", lambda: enn.BatchNorm2d(R, eps=-1), ValueError,
     r"`eps` must be a finite number >= 0, got -1"),
    ("BatchNorm2d-momentum-2", lambda: enn.BatchNorm2d(R, momentum=2), ValueError,
     r"`momentum` must be a probability in \[0, 1\], got 2"),
    ("GroupNorm-eps-negative", lambda: enn.GroupNorm(1, R, eps=-1), ValueError, r"`eps` must be a finite number >= 0"),
    ("ELU-alpha-str", lambda: enn.ELU(R, alpha="a"), TypeError, r"`alpha` must be a finite number, got str"),
    ("ELU-alpha-nan", lambda: enn.ELU(R, alpha=NAN), ValueError, r"`alpha` must be a finite number, got nan"),
    ("LeakyReLU-slope-nan", lambda: enn.LeakyReLU(R, NAN), ValueError, r"`negative_slope` must be a finite number"),
    ("NormNonlinearity-eps-negative", lambda: enn.NormNonlinearity(G.irreps_field(1), eps=-1), ValueError,
     r"`eps` must be a finite number >= 0, got -1"),
    ("Sequential-str", lambda: enn.Sequential("a"), TypeError,
     r"Sequential: argument 0 must be a torch\.nn\.Module .*got str \('a'\)"),
    ("exact_input_sizes-model-str", lambda: enn.exact_input_sizes("a", 9), TypeError,
     r"`model` must be a torch\.nn\.Module, got str"),
    ("exact_input_sizes-search-negative", lambda: enn.exact_input_sizes(conv(), 9, search=-1), ValueError,
     r"`search` must be >= 0, got -1"),
    ("exact_input_sizes-in_channels-0", lambda: enn.exact_input_sizes(conv(), 9, in_channels=0), ValueError,
     r"`in_channels` must be >= 1, got 0"),
    # -- eqcnn.groups, eqcnn.fields, eqcnn.kernels ------------------------------------------------------
    ("rotation_by-str", lambda: G.rotation_by("a"), TypeError, r"`degrees` must be a finite number, got str"),
    ("rotation_by-nan", lambda: G.rotation_by(NAN), ValueError, r"`degrees` must be a finite number, got nan"),
    ("irrep-str", lambda: G.irrep("a"), TypeError, r"`index\[0\]` must be an int, got str"),
    ("irrep-float", lambda: G.irrep(1.0), TypeError, r"`index\[0\]` must be an int, got float \(1\.0\)"),
    ("GroupElement-rotation-out-of-range", lambda: eqcnn.GroupElement(G, 7), ValueError,
     r"`rotation` must be an int in \[0, 4\) for Cyclic\(4\), got 7"),
    ("GroupElement-rotation-float", lambda: eqcnn.GroupElement(G, 1.5), TypeError,
     r"`rotation` must be an int, got float"),
    ("GroupElement-group-str", lambda: eqcnn.GroupElement("G", 1), TypeError, r"`group` must be an eqcnn group"),
    ("GroupElement-reflection-cyclic", lambda: eqcnn.GroupElement(G, 0, True), ValueError,
     r"`reflection` \(=True\) needs a group with reflections"),
    ("Representation-group-str", lambda: eqcnn.Representation("G", "r", np.ones((4, 1, 1))), TypeError,
     r"`group` must be an eqcnn group"),
    ("Representation-name-int", lambda: eqcnn.Representation(G, 3, np.ones((4, 1, 1))), TypeError,
     r"`name` must be a str, got int \(3\)"),
    ("Representation-matrices-str", lambda: eqcnn.Representation(G, "r", "abc"), TypeError,
     r"`matrices` must be an array of real numbers of shape \(4, d, d\), got str"),
    ("Representation-matrices-nan", lambda: eqcnn.Representation(G, "r", np.full((4, 1, 1), np.nan)), ValueError,
     r"`matrices` must be finite"),
    ("FieldType-representations-int", lambda: eqcnn.FieldType(G, 3), TypeError,
     r"`representations` must be a list of Representations \(one per field\), got int \(3\)"),
    ("FieldType-representations-one", lambda: eqcnn.FieldType(G, G.regular_representation), TypeError,
     r"`representations` must be a list of Representations .*got Representation"),
    ("rotate_pixels-x-str", lambda: rotate_pixels("a", 1.0), TypeError, r"`x` must be a torch\.Tensor"),
    ("rotate_pixels-angle-inf", lambda: rotate_pixels(x4(), INF), ValueError, r"`angle` must be a finite number"),
    ("kernel_basis-rep-str", lambda: kernels.kernel_basis("a", G.regular_representation, 3), TypeError,
     r"`rep_in` must be a Representation \(e\.g\. G\.regular_representation\), got str"),
    ("kernel_basis-field-type", lambda: kernels.kernel_basis(R, G.regular_representation, 3), TypeError,
     r"`rep_in` must be a Representation .*got FieldType \(a field type's are in its `\.representations`\)"),
    ("regular_factors-str", lambda: kernels.regular_factors("a"), TypeError, r"`basis` must be a KernelBasis"),
    ("default_basis_kind-str", lambda: kernels.default_basis_kind("a"), TypeError, r"`group` must be an eqcnn group"),
    ("default_max_frequency-negative", lambda: kernels.default_max_frequency(-1, 1), ValueError,
     r"`radius` must be a finite number >= 0, got -1"),
    # -- eqcnn.plots (checked before matplotlib is needed) ----------------------------------------------
    ("plot_accuracy_vs_angle-str", lambda: plots.plot_accuracy_vs_angle("a"), TypeError,
     r"`curves` must be a mapping \{name: \(angles, accuracies\)\}, got str"),
    ("plot_accuracy_vs_angle-entry", lambda: plots.plot_accuracy_vs_angle({"a": 3}), TypeError,
     r"`curves\['a'\]` must be a pair \(angles, accuracies\), got int \(3\)"),
    ("plot_accuracy_vs_angle-chance", lambda: plots.plot_accuracy_vs_angle({"a": ([0], [1.0])}, chance="a"),
     ValueError, r"`chance` must be a probability in \[0, 1\], got 'a'"),
    ("plot_error_by_angle-int", lambda: plots.plot_error_by_angle(3), TypeError,
     r"`model` must be a torch\.nn\.Module or an AngleCurve"),
    ("plot_layerwise_errors-int", lambda: plots.plot_layerwise_errors(3), TypeError,
     r"`errors` must be a LayerwiseErrors .* or a torch\.nn\.Module, got int \(3\)"),
    ("rotated_features-out_type-str", lambda: plots.rotated_features(conv(), "a", x4(), 90), TypeError,
     r"`out_type` must be an eqcnn FieldType"),
    ("plot_rotated_features-str", lambda: plots.plot_rotated_features("a", torch.randn(1, 9, 9)), TypeError,
     r"`models` must be a mapping \{name: \(features, out_type\)\}, got str"),
    ("plot_rotated_features-entry", lambda: plots.plot_rotated_features({"a": conv()}, torch.randn(1, 9, 9)),
     TypeError, r"`models\['a'\]` must be a pair \(features, out_type\), got Conv2d"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_wrong_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    # the refusal is the library's own check, not an error from deep inside
    assert type(info.value) not in (AttributeError, IndexError, KeyError)


def test_group_pool_keeps_accepting_what_it_should():
    """Mixed types pool their regular fields (trivial ones pass through); on Trivial() the layer is the
    identity, so the same model code still builds the ordinary CNN."""
    pool = enn.GroupPool(G.trivial(1) + G.regular(2))
    assert pool(torch.randn(2, 9, 5, 5)).shape == (2, 3, 5, 5)
    T = eqcnn.Trivial()
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(enn.GroupPool(T.regular(3))(x), x)
    assert torch.equal(enn.GroupPool(T.trivial(3), "mean")(x), x)
    model = models.SFCNN(T, width=0.25).eval()
    assert model(torch.randn(1, 1, 29, 29)).shape == (1, 10)


def test_the_checks_accept_what_they_should():
    """The new checks do not refuse valid values of the same arguments."""
    assert testing.Rotation(np.float64(45.0)).degrees == 45.0
    assert eqcnn.GroupElement(G, np.int64(3)).index == 3
    assert (
        testing.band_limited_noise((1, 1, 4, 4), sigma=0, seed=np.int64(2), dtype=torch.float64).dtype == torch.float64
    )
    assert testing.disk_mask(5, radius=0).sum() == 1
    assert G.rotation_by(np.float32(90.0)) == G.element(1)
    assert math.isclose(testing.soft_disk(9, width=1.5).max().item(), 1.0)
    assert enn.Sequential(enn.ReLU(R), nn.Identity())(torch.randn(1, 4, 3, 3)).shape == (1, 4, 3, 3)
