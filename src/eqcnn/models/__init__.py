"""Model builders parameterised by the group: ``Trivial()`` gives the ordinary network."""

from ._resnet import ResNet, basic_block, resnet18, resnet34
from ._sfcnn import SFCNN
from ._widths import Match, num_fields

__all__ = ["SFCNN", "Match", "ResNet", "basic_block", "num_fields", "resnet18", "resnet34"]
