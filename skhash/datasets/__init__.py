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
:func:`distort_images` makes a distorted copy of an image dataset (inverted
contrast, random rotations and shifts): a synthetic dataset no default was
tuned on.
"""

from . import _distort, _images, _loaders, _multilabel, _protocols
from ._distort import *  # noqa: F403
from ._images import *  # noqa: F403  (each module's public names, re-exported)
from ._loaders import *  # noqa: F403
from ._multilabel import *  # noqa: F403
from ._protocols import *  # noqa: F403

__all__ = [*_loaders.__all__, *_images.__all__, *_protocols.__all__, *_multilabel.__all__,
           *_distort.__all__]
