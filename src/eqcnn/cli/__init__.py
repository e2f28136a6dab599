"""The ``eqcnn`` command line: ``eqcnn demo``, ``eqcnn check``, ``eqcnn bench``."""

from ._main import main

__all__ = ["main"]
