"""PyTorch building blocks: backbones, heads and losses used by the estimators."""

from ._backbones import (
    BACKBONES,
    CifarCNN,
    CNNBHCifarNet,
    DSHNet,
    FeatureLayer,
    MLPBackbone,
    SmallCNN,
    TorchvisionBackbone,
    make_augment,
    make_backbone,
    make_feature_extractor,
)
from ._heads import LatentHashNet, RandomShift

__all__ = [
    "BACKBONES",
    "CifarCNN",
    "CNNBHCifarNet",
    "DSHNet",
    "FeatureLayer",
    "LatentHashNet",
    "MLPBackbone",
    "RandomShift",
    "SmallCNN",
    "TorchvisionBackbone",
    "make_backbone",
    "make_augment",
    "make_feature_extractor",
]
