"""eqcnn: rotation-equivariant convolutional networks for PyTorch.

The same model code builds an ordinary CNN (``Trivial()``) or a rotation- and
reflection-equivariant one (``Cyclic(N)``, ``Dihedral(N)``); tensors stay plain
``torch.Tensor``; types live on the modules.
"""

from importlib.metadata import PackageNotFoundError, version

from .fields import FieldType
from .groups import (
    O2,
    SO2,
    Cyclic,
    Dihedral,
    FullOctahedral,
    GroupElement,
    Octahedral,
    PointGroup,
    Representation,
    Trivial,
)

try:
    __version__ = version("eqcnn")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "O2",
    "SO2",
    "Cyclic",
    "Dihedral",
    "FieldType",
    "FullOctahedral",
    "GroupElement",
    "Octahedral",
    "PointGroup",
    "Representation",
    "Trivial",
    "__version__",
]


def __getattr__(name: str):
    # Subpackages load on first use so `import eqcnn` stays light.
    import importlib

    if name in ("nn", "kernels", "testing", "models", "interop", "datasets", "plots"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'eqcnn' has no attribute {name!r}")
