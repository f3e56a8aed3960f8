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

from . import hashing, neighbors, quantization
from ._persistence import load, save
from .codes import HammingSpace, ProductSpace
from .hashing import *  # noqa: F403  (every estimator, re-exported)
from .neighbors import *  # noqa: F403
from .quantization import *  # noqa: F403

try:  # the version pyproject.toml declares, as installed
    from importlib.metadata import PackageNotFoundError as _NotInstalled
    from importlib.metadata import version as _version

    __version__ = _version("skhash")
except _NotInstalled:  # a source tree that was never installed
    __version__ = "0+unknown"

# the estimators of the subpackages, then the code spaces and persistence
__all__ = [
    *hashing.__all__,
    *quantization.__all__,
    *neighbors.__all__,
    "HammingSpace",
    "ProductSpace",
    "save",
    "load",
    "__version__",
]
