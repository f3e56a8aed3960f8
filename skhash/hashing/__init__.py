"""Binary hashers: ``transform`` gives {0, 1} codes, ``encode`` packs them."""

from ._cnnbh import CNNBHHasher

__all__ = ["CNNBHHasher"]
