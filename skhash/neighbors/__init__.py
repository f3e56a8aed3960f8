"""Retrievers: index learned codes and search them, like ``sklearn.neighbors``."""

from ._retriever import KNeighborsRetriever
from ._storage import encode_to_file

__all__ = ["KNeighborsRetriever", "encode_to_file"]
