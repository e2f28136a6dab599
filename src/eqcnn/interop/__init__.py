"""Bridges to other libraries.

:mod:`eqcnn.interop.escnn` converts field types and tensors to and from escnn and
wraps escnn modules as eqcnn modules.  It imports escnn itself, so nothing here
is loaded by ``import eqcnn``; import the submodule when you need it::

    from eqcnn.interop import escnn as ie   # imports escnn (needs the escnn extra)
"""

__all__ = ["escnn"]


def __getattr__(name: str):
    if name == "escnn":
        import importlib

        return importlib.import_module(".escnn", __name__)
    raise AttributeError(f"module 'eqcnn.interop' has no attribute {name!r}")
