"""skhash: learned hashing and learned quantization for nearest-neighbour
image retrieval, as scikit-learn estimators.

Subpackages
-----------
hashing       binary hashers (``CNNBHHasher``, ``SSDHHasher``, ``ITQHasher``, ``LSHHasher``)
quantization  product quantizers (``DPQQuantizer``, ``DeepQuanHasher``, ``ProductQuantizer``,
              ``DeepSOMQuantizer``, ``SelfOrganizingMap``)
neighbors     retrievers that index and search codes (``KNeighborsRetriever``)
codes         code spaces: how codes compare (Hamming, product codes)
metrics       exact retrieval metrics and GridSearchCV scorers
datasets      loaders (digits, MNIST, CIFAR-10) and retrieval protocols
nn            PyTorch backbones used by the estimators

``save`` and ``load`` persist a fitted estimator without pickle (see the
persistence page of the documentation).
"""

from ._persistence import load, save
from .codes import HammingSpace, ProductSpace
from .hashing import CNNBHHasher, ITQHasher, LSHHasher, SSDHHasher
from .neighbors import KNeighborsRetriever
from .quantization import (
    DeepQuanHasher,
    DeepSOMQuantizer,
    DPQQuantizer,
    ProductQuantizer,
    SelfOrganizingMap,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CNNBHHasher",
    "SSDHHasher",
    "ITQHasher",
    "LSHHasher",
    "DPQQuantizer",
    "DeepQuanHasher",
    "ProductQuantizer",
    "DeepSOMQuantizer",
    "SelfOrganizingMap",
    "KNeighborsRetriever",
    "HammingSpace",
    "ProductSpace",
    "save",
    "load",
    "__version__",
]
