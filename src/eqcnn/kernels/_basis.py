"""KernelBasis: the cached space of equivariant filters for one pair of representations."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Literal

import numpy as np

from .._checks import check_choice, check_int
from ..groups import GroupElement, PointGroup, Representation
from ._harmonic import harmonic_action, harmonic_basis
from ._pixel import pixel_action, pixel_filters
from ._voxel import voxel_action, voxel_filters

__all__ = ["BASIS_KINDS", "BasisKind", "KernelBasis", "default_basis_kind", "kernel_basis"]

BasisKind = Literal["auto", "harmonic", "pixel", "escnn", "lowpass"]

#: The basis kinds (``"auto"`` picks ``"pixel"`` for Trivial, ``"harmonic"`` otherwise).
BASIS_KINDS = ("auto", "harmonic", "pixel", "escnn", "lowpass")


class KernelBasis:
    """An orthonormal basis of the filters ``K`` with ``K(g p) = rho_out(g) K(p) rho_in(g)^-1``.

    Attributes:
        rep_in, rep_out: the representations of the input and output field.
        kernel_size: the side ``k`` of the square filter.
        kind: ``"harmonic"``, ``"pixel"``, ``"escnn"`` (the harmonic basis on
            escnn's default rings and band limits for ``R2Conv``: what loading
            escnn's weights needs, see :func:`eqcnn.interop.escnn.load_escnn_weights`)
            or ``"lowpass"`` (the harmonic basis with every ring's band limit one
            lower, the outer ring's 1: see :func:`~eqcnn.kernels.ring_profile`).
        filters: array ``(dim, d_out, d_in, k, k)``, orthonormal in the
            Frobenius inner product; read-only.  For the harmonic basis it is
            made from ``coefficients`` and ``spatial`` on first use (on the
            CPU the layers expand regular -> regular blocks from those, and
            read it for blocks into other fields, which are small, and off
            the CPU for regular -> regular blocks up to 16 MiB).
        init_mix: array ``(dim, n)``: the directions a random initial filter is
            drawn from, in the basis' coordinates.  For the harmonic basis these
            are the (ring, frequency) functions, each normalised on its own, so
            a random filter weights them equally, as escnn's basis does; an
            isotropic draw in the orthonormal basis would give the poorly
            sampled directions of the span (high frequencies on small rings,
            differences of overlapping rings) as much weight, and those alias
            at off-grid angles (docs/interop.md measures the effect at 45
            degrees).  For the pixel basis it is the identity.
        spatial: array ``(n_spatial, k, k)``: scalar functions on the grid
            whose span holds every filter entry (harmonic: the sampled
            ring x harmonic functions; pixel: the one-hot pixels); read-only.
        coefficients: array ``(dim, d_out, d_in, n_spatial)`` with
            ``filters[j] = coefficients[j] @ spatial``; read-only.  The
            factored form is what :func:`regular_factors` works on.
        frequencies: for the harmonic basis, the angular frequency of each
            spatial function (``(cos, sin)`` pairs for ``m > 0``); None for
            the pixel basis.
    """

    def __init__(
        self,
        rep_in: Representation,
        rep_out: Representation,
        kernel_size: int,
        kind: str,
        filters: np.ndarray | None,
        init_mix: np.ndarray | None = None,
        coefficients: np.ndarray | None = None,
        spatial: np.ndarray | None = None,
        frequencies: np.ndarray | None = None,
    ) -> None:
        self.rep_in = rep_in
        self.rep_out = rep_out
        self.kernel_size = kernel_size
        self.kind = kind
        if (coefficients is None) != (spatial is None):
            raise ValueError("`coefficients` and `spatial` are given together or not at all")
        if spatial is None:  # the one-hot pixels (voxels, for a 3-D filter)
            if filters is None:
                raise ValueError("`filters` is needed without `coefficients` and `spatial`")
            n, d_o, d_i, k = filters.shape[0], filters.shape[1], filters.shape[2], kernel_size
            dims = filters.ndim - 3
            spatial = np.eye(k**dims).reshape(k**dims, *(k,) * dims)
            coefficients = filters.reshape(n, d_o, d_i, k**dims)
        self.spatial = np.ascontiguousarray(spatial)
        self.coefficients = np.ascontiguousarray(coefficients)
        self.spatial.setflags(write=False)
        self.coefficients.setflags(write=False)
        self._filters = filters
        self._lock = threading.Lock()
        if filters is not None:
            filters.setflags(write=False)
        self.init_mix = np.eye(self.dim) if init_mix is None else np.ascontiguousarray(init_mix)
        self.init_mix.setflags(write=False)
        self.frequencies = None if frequencies is None else np.array(frequencies, dtype=np.int64)
        if self.frequencies is not None:
            self.frequencies.setflags(write=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_lock"]  # a lock does not pickle
        state["_filters"] = None  # remade from the factors on first use (exactly: for pixels, times the identity)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def filters(self) -> np.ndarray:
        """The dense filters ``(dim, d_out, d_in, k, k)``, made from the factors on first use.

        Large groups' bases run to gigabytes this way (``D16``, regular ->
        regular, k=9: 0.7 GB), and the layers do not need them for regular
        output fields, so they are not made with the basis.  (Made once, also
        when several threads ask at the same time.)
        """
        with self._lock:
            if self._filters is None:
                (n, d_o, d_i, n_sp), grid = self.coefficients.shape, self.spatial.shape[1:]
                flat = self.coefficients.reshape(n * d_o * d_i, n_sp) @ self.spatial.reshape(n_sp, int(np.prod(grid)))
                filters = _drop_rounding(flat.reshape(n, d_o, d_i, *grid))
                filters.setflags(write=False)
                self._filters = filters
            return self._filters

    def spatial_action(self, g: GroupElement) -> np.ndarray:
        """``T`` ``(n_spatial, n_spatial)`` with ``spatial[s](g^-1 p) = sum_t T[s, t] spatial[t](p)``.

        A rotation by ``m`` times the angle on each harmonic pair (exact for the
        continuous functions, and so for their samples at elements that map
        the grid onto itself), a permutation of the pixels for the pixel basis.
        """
        if self.frequencies is None:
            if self.spatial_dims == 3:
                return voxel_action(g, self.kernel_size)
            return pixel_action(g, self.kernel_size)
        g_inv = g.inverse()
        out = np.zeros((len(self.frequencies),) * 2)
        s = 0
        while s < len(self.frequencies):
            m = int(self.frequencies[s])
            a = 1 if m == 0 else 2
            out[s : s + a, s : s + a] = harmonic_action(m, g_inv)
            s += a
        return out

    @property
    def dim(self) -> int:
        return self.coefficients.shape[0]

    @property
    def spatial_dims(self) -> int:
        """2 for ``k x k`` filters, 3 for ``k x k x k`` ones (the octahedral groups)."""
        return self.spatial.ndim - 1

    @property
    def is_identity(self) -> bool:
        """Whether filter ``b`` is the one-hot pixel ``b`` (1x1 fields, every pixel free)."""
        if self.kind != "pixel":
            return False
        f = self.filters
        n = f.shape[0]
        return f.shape[1:3] == (1, 1) and n == f[0, 0, 0].size and np.array_equal(f.reshape(n, n), np.eye(n))

    def __repr__(self) -> str:
        return (
            f"KernelBasis({self.rep_in!r} -> {self.rep_out!r}, kernel_size={self.kernel_size}, "
            f"kind={self.kind!r}, dim={self.dim})"
        )


def default_basis_kind(group: PointGroup) -> str:
    """``"pixel"`` for the trivial group (so it is exactly the ordinary conv) and for the octahedral groups
    (the voxel basis: their every element maps the voxel grid onto itself), else ``"harmonic"``."""
    if not isinstance(group, PointGroup):
        raise TypeError(f"`group` must be an eqcnn group (Trivial, Cyclic, Dihedral), got {group!r}")
    return "pixel" if group.order == 1 or group.spatial_dims == 3 else "harmonic"


def kernel_basis(
    rep_in: Representation, rep_out: Representation, kernel_size: int, kind: BasisKind = "auto"
) -> KernelBasis:
    """The (cached, shared) basis of equivariant ``kernel_size x kernel_size`` filters from ``rep_in`` to ``rep_out``.

    Example:
        >>> import eqcnn
        >>> from eqcnn.kernels import kernel_basis
        >>> G = eqcnn.Cyclic(4)
        >>> kernel_basis(G.trivial_representation, G.regular_representation, 3, "pixel").dim  # 9 free taps, as GrouPy
        9
        >>> kernel_basis(G.trivial_representation, G.regular_representation, 3, "harmonic").dim
        6
    """
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Representation):
            hint = " (a field type's are in its `.representations`)" if hasattr(rep, "representations") else ""
            raise TypeError(
                f"`{name}` must be a Representation (e.g. G.regular_representation), got {type(rep).__name__}{hint}"
            )
    check_int("kernel_size", kernel_size, minimum=1)
    check_choice("kind", kind, BASIS_KINDS)
    if rep_in.group != rep_out.group:
        raise ValueError(f"`rep_in` is of {rep_in.group!r} but `rep_out` is of {rep_out.group!r}")
    if kind == "auto":
        kind = default_basis_kind(rep_in.group)  # type: ignore[assignment]
    if rep_in.group.spatial_dims == 3 and kind != "pixel":
        raise ValueError(
            f"`kind` (={kind!r}) must be 'pixel' (the voxel basis, exact) or 'auto' for {rep_in.group!r}: the "
            "harmonic bases are planar"
        )
    return _cached_basis(rep_in, rep_out, int(kernel_size), kind)


def _drop_rounding(a: np.ndarray) -> np.ndarray:
    """``a`` with entries below ``1e-14`` of its largest set to exactly zero (in place: the callers' arrays are
    fresh and contiguous; another array is copied first, so use the result).

    They are rounding noise (``cos(pi / 2) = 6e-17``) or far Gaussian tails;
    kept, they can become subnormal floats in float32, which slow every GEMM
    with the basis several times over on CPUs.
    """
    a = np.ascontiguousarray(a)  # (no copy for the fresh arrays the callers pass)
    flat = a.reshape(-1)  # a view of a contiguous array: writes land in ``a``
    step = 1 << 20  # a chunk at a time: no temporary the size of ``a`` (bases reach gigabytes)
    top = max((float(np.abs(flat[i : i + step]).max()) for i in range(0, flat.size, step)), default=0.0)
    for i in range(0, flat.size, step):
        part = flat[i : i + step]
        part[np.abs(part) < 1e-14 * top] = 0.0
    return a


@lru_cache(maxsize=512)
def _cached_basis(rep_in: Representation, rep_out: Representation, kernel_size: int, kind: str) -> KernelBasis:
    if kind == "pixel" and rep_in.group.spatial_dims == 3:
        return KernelBasis(
            rep_in, rep_out, kernel_size, kind, _drop_rounding(voxel_filters(rep_in, rep_out, kernel_size))
        )
    if kind == "pixel":
        return KernelBasis(
            rep_in, rep_out, kernel_size, kind, _drop_rounding(pixel_filters(rep_in, rep_out, kernel_size))
        )
    h = harmonic_basis(rep_in, rep_out, kernel_size, kind if kind in ("escnn", "lowpass") else "eqcnn")
    return KernelBasis(
        rep_in,
        rep_out,
        kernel_size,
        kind,
        None,  # made from the factors on first use
        h.init_mix,
        _drop_rounding(h.coefficients),
        _drop_rounding(h.spatial),
        h.frequencies,
    )
