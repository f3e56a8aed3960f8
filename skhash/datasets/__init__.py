"""Datasets and evaluation protocols for learned hashing / quantization.

skhash never downloads data. :func:`load_digits` uses the small dataset that
ships with scikit-learn (the embedded default); :func:`load_mnist` and
:func:`load_cifar10` read the standard distribution files from a local
directory. :func:`cnnh_split` and :func:`random_split` build the
query / database / training index splits used by retrieval benchmarks.
"""

from ._loaders import load_cifar10, load_digits, load_mnist, read_idx
from ._multilabel import make_multilabel_digits
from ._protocols import RetrievalSplit, cnnh_split, random_split

__all__ = [
    "load_digits",
    "read_idx",
    "load_mnist",
    "load_cifar10",
    "RetrievalSplit",
    "cnnh_split",
    "random_split",
    "make_multilabel_digits",
]
