"""escnn interop: field types, tensors, modules and trained weights (imports escnn; see :mod:`eqcnn.interop`).

Install the extra with ``pip install 'eqcnn[escnn]' && pip install --no-deps escnn``.
"""

from ._escnn import (
    escnn_element,
    from_escnn_type,
    from_geometric_tensor,
    gspace_of,
    is_mappable,
    to_escnn_element,
    to_escnn_type,
    to_geometric_tensor,
)
from ._escnn_module import EscnnFieldType, EscnnModule
from ._escnn_weights import LayerPort, PortReport, load_escnn_weights

__all__ = [
    "EscnnFieldType",
    "EscnnModule",
    "LayerPort",
    "PortReport",
    "escnn_element",
    "from_escnn_type",
    "from_geometric_tensor",
    "gspace_of",
    "is_mappable",
    "load_escnn_weights",
    "to_escnn_element",
    "to_escnn_type",
    "to_geometric_tensor",
]
