"""Datasets and evaluation protocols for learned hashing / quantization.

skhash never downloads data. :func:`load_digits` uses the small dataset that
ships with scikit-learn (the embedded default); :func:`load_mnist` and
:func:`load_cifar10` read the standard distribution files from a local
directory (:func:`load_cifar10` also reads ``train/`` and ``test/`` image
folders); :func:`load_image_folder` reads any folder with one sub-folder of
images per class (decoded with Pillow, an optional dependency, and cached).
:func:`cnnh_split`, :func:`dsh_split`, :func:`ssdh_split`,
:func:`unseen_classes_split` and :func:`random_split` build the
query / database / training index splits of the papers' retrieval protocols.
"""

from ._images import load_image_folder
from ._loaders import load_cifar10, load_digits, load_mnist, read_idx
from ._multilabel import make_multilabel_digits
from ._protocols import (
    RetrievalSplit,
    cnnh_split,
    dsh_split,
    random_split,
    ssdh_split,
    unseen_classes_split,
)

__all__ = [
    "load_digits",
    "read_idx",
    "load_mnist",
    "load_cifar10",
    "load_image_folder",
    "RetrievalSplit",
    "cnnh_split",
    "random_split",
    "dsh_split",
    "ssdh_split",
    "unseen_classes_split",
    "make_multilabel_digits",
]
