"""Retrievers: index learned codes and search them, like ``sklearn.neighbors``."""

from ._retriever import KNeighborsRetriever

__all__ = ["KNeighborsRetriever"]
