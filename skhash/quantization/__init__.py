"""Product quantizers: ``transform`` gives ``(n, M)`` codes, ``inverse_transform``
reconstructs vectors, ``embed`` gives continuous queries for asymmetric search."""

from ._deepquan import DeepQuanHasher
from ._deepsom import DeepSOMQuantizer
from ._dpq import DPQQuantizer
from ._pq import ProductQuantizer
from ._som import SelfOrganizingMap

__all__ = ["DeepQuanHasher", "DeepSOMQuantizer", "DPQQuantizer", "ProductQuantizer",
           "SelfOrganizingMap"]
