"""FieldType: sizes, printing, concatenation and the action on tensors."""

import math
import pickle

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import eqcnn
from eqcnn import FieldType
from eqcnn.fields import rotate_pixels

GROUPS = [
    eqcnn.Trivial(),
    eqcnn.Cyclic(2),
    eqcnn.Cyclic(4),
    eqcnn.Cyclic(8),
    eqcnn.Dihedral(1),
    eqcnn.Dihedral(4),
    eqcnn.Dihedral(8),
]


def mixed_type(G):
    t = G.trivial(2) + G.regular(1)
    for r in G.irreps()[1:3]:
        t = t + FieldType(G, [r])
    return t


def test_size_len_repr_and_concatenation():
    G = eqcnn.Cyclic(8)
    t = G.trivial(3) + G.regular(2) + G.irreps_field(1, multiplicity=2)
    assert t.size == 3 + 16 + 4 and len(t) == 7
    assert repr(t) == "Cyclic(8).trivial(3) + Cyclic(8).regular(2) + Cyclic(8).irreps_field(1, multiplicity=2)"
    assert t == G.trivial(3) + G.regular(2) + G.irreps_field(1, multiplicity=2)
    assert t != G.trivial(3) + G.regular(2)
    assert hash(t) == hash(G.trivial(3) + G.regular(2) + G.irreps_field(1, multiplicity=2))
    assert pickle.loads(pickle.dumps(t)) == t
    assert repr(eqcnn.Dihedral(4).irreps_field(1, 1)) == "Dihedral(4).irreps_field(1, 1)"


def test_invariant_basis_of_regular_field_is_all_ones():
    G = eqcnn.Dihedral(4)
    b = G.regular(2).invariant_basis
    assert b.shape == (16, 2)
    assert (b[:8, 0] == 1).all() and (b[8:, 0] == 0).all()


@pytest.mark.parametrize("G", GROUPS, ids=repr)
@pytest.mark.parametrize("size", [7, 8])
def test_transform_is_an_action_on_exact_elements(G, size):
    t = mixed_type(G)
    x = torch.randn(2, t.size, size, size, dtype=torch.float64)
    exact = [g for g in G.elements if g.is_grid_symmetry]
    for a in exact:
        for b in exact:
            lhs = t.transform(t.transform(x, b), a)
            rhs = t.transform(x, a @ b)
            torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
    torch.testing.assert_close(t.transform(x, G.identity), x, rtol=0, atol=0)


def test_quarter_turn_moves_pixels_counter_clockwise_like_rot90():
    G = eqcnn.Cyclic(4)
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    y = G.trivial(1).transform(x, G.element(1))
    assert torch.equal(y, torch.rot90(x, 1, dims=(-2, -1)))
    # the top-right pixel (x=1, y=1) moves to the top-left (x=-1, y=1)
    assert y[0, 0, 0, 0] == x[0, 0, 0, 2]


def test_reflection_is_horizontal_mirror():
    G = eqcnn.Dihedral(4)
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    assert torch.equal(G.trivial(1).transform(x, G.element(0, True)), torch.flip(x, dims=[-1]))


def test_regular_fibres_permute_with_the_group():
    G = eqcnn.Cyclic(4)
    x = torch.zeros(1, 4, 1, 1)
    x[0, 0] = 1.0  # the identity channel
    y = G.regular(1).transform(x, G.element(1))
    assert y.flatten().tolist() == [0.0, 1.0, 0.0, 0.0]


@given(st.floats(0, 2 * math.pi))
def test_interpolated_rotation_is_close_for_smooth_images(angle):
    # a radially symmetric smooth blob is invariant to any rotation
    # torch's bicubic kernel (a = -0.75) is second-order accurate: the error is ~1/sigma^2
    n = 41
    c = (n - 1) / 2
    i, j = torch.meshgrid(torch.arange(n) - c, torch.arange(n) - c, indexing="ij")
    blob = torch.exp(-(i**2 + j**2) / 128.0)[None, None].double()
    disk = (i**2 + j**2) <= (c - 2) ** 2  # corners rotate in from outside the image
    torch.testing.assert_close(rotate_pixels(blob, angle)[..., disk], blob[..., disk], rtol=0, atol=6e-3)


def test_unbatched_tensor():
    G = eqcnn.Cyclic(4)
    x = torch.randn(4, 5, 5)
    torch.testing.assert_close(
        G.regular(1).transform(x, G.element(1))[None], G.regular(1).transform(x[None], G.element(1))
    )


@pytest.mark.parametrize(
    ("call", "err", "message"),
    [
        (
            lambda: eqcnn.Cyclic(4).regular(1).transform(torch.randn(1, 3, 5, 5), eqcnn.Cyclic(4).identity),
            ValueError,
            r"input must have 4 channels \(dim -3\), got 3",
        ),
        (
            lambda: eqcnn.Cyclic(4).regular(1).transform(torch.randn(4, 5), eqcnn.Cyclic(4).identity),
            ValueError,
            r"input must have shape \(B, C, H, W\) or \(C, H, W\) with C=4, got shape \(4, 5\)",
        ),
        (
            lambda: (
                eqcnn.Cyclic(4).regular(1).transform(torch.ones(1, 4, 5, 5, dtype=torch.long), eqcnn.Cyclic(4).identity)
            ),
            TypeError,
            r"input must be a floating point tensor, got dtype torch.int64",
        ),
        (
            lambda: eqcnn.Cyclic(4).regular(1).transform(torch.randn(1, 4, 5, 5), eqcnn.Cyclic(8).identity),
            ValueError,
            r"`g` must be an element of Cyclic\(4\)",
        ),
        (
            lambda: eqcnn.Cyclic(4).regular(1) + eqcnn.Cyclic(8).regular(1),
            ValueError,
            r"cannot concatenate field types of different groups: Cyclic\(4\) and Cyclic\(8\)",
        ),
        (lambda: eqcnn.Cyclic(4).regular(-1), ValueError, r"`multiplicity` must be >= 0, got -1"),
        (
            lambda: eqcnn.Cyclic(4).trivial(1).transform(torch.randn(1, 1, 5, 6), eqcnn.Cyclic(4).element(1)),
            ValueError,
            r"a 90-degree turn needs a square image, got spatial shape \(5, 6\)",
        ),
    ],
)
def test_field_errors(call, err, message):
    with pytest.raises(err, match=message):
        call()


@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (1, 1)])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_off_grid_rotation_of_a_one_pixel_axis_is_zero_outside(shape, mode):
    # a 1-pixel-tall image turns like the middle row of the same image with zero rows around it
    G = eqcnn.Cyclic(8)
    t = G.trivial(1)
    x = torch.arange(1.0, 1.0 + shape[0] * shape[1]).reshape(1, 1, *shape)
    ph, pw = (2, 2) if shape[0] == 1 else (0, 0), (2, 2) if shape[1] == 1 else (0, 0)
    padded = torch.nn.functional.pad(x, (*pw, *ph))
    turned = t.transform(padded, G.element(1), interpolation=mode)
    crop = turned[..., ph[0] : ph[0] + shape[0], pw[0] : pw[0] + shape[1]]
    torch.testing.assert_close(t.transform(x, G.element(1), interpolation=mode), crop, rtol=1e-6, atol=1e-6)
