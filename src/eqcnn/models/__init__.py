"""Model builders parameterised by the group: ``Trivial()`` gives the ordinary network (of images or volumes)."""

from ._resnet import ResNet, ResNet3d, basic_block, resnet18, resnet34
from ._sfcnn import SFCNN
from ._widths import Match, num_fields

__all__ = ["SFCNN", "Match", "ResNet", "ResNet3d", "basic_block", "num_fields", "resnet18", "resnet34"]
