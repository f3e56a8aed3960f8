"""PyTorch building blocks: backbones, heads and losses used by the estimators."""

from ._backbones import BACKBONES, CifarCNN, MLPBackbone, SmallCNN, make_backbone

__all__ = ["BACKBONES", "CifarCNN", "MLPBackbone", "SmallCNN", "make_backbone"]
