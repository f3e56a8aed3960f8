"""Binary hashers: ``transform`` gives {0, 1} codes, ``encode`` packs them."""

from ._baselines import ITQHasher, LSHHasher
from ._cnnbh import CNNBHHasher
from ._ssdh import SSDHHasher

__all__ = ["CNNBHHasher", "SSDHHasher", "ITQHasher", "LSHHasher"]
