"""Utilities: discovery of skhash's estimators."""

from .discovery import all_estimators

__all__ = ["all_estimators"]
