"""Product quantizers: ``transform`` gives ``(n, M)`` codes, ``inverse_transform``
reconstructs vectors, ``embed`` gives continuous queries for asymmetric search."""

from ._dpq import DPQQuantizer

__all__ = ["DPQQuantizer"]
