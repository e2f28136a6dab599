"""Field types: how the channels of a feature tensor transform (layer 2 of eqcnn)."""

from ._field_type import FieldType
from ._spatial import move_voxels, rotate_pixels

__all__ = ["FieldType", "move_voxels", "rotate_pixels"]
