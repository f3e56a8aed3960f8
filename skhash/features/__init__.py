"""Hand-crafted image descriptors, as scikit-learn transformers (for the label-free baselines)."""

from ._gist import GIST, gabor_bank

__all__ = ["GIST", "gabor_bank"]
