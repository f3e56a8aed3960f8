"""CNNBH: a CNN trained for classification whose hash is the sign of one layer."""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from .._docstrings import fill_shared_parameters
from ..base import BaseHasher
from ..nn import LatentHashNet, make_backbone
from ..nn._backbones import make_augment, resolve_backbone_name
from ..utils._params import store_init_params

# CNNBH's Table 2: drop probability of the last dropout layer by code length
# on its CIFAR-10 network
CIFAR_DROPOUT = ((8, 0.0), (12, 0.2), (16, 0.3), (24, 0.5), (32, 0.5), (40, 0.5), (48, 0.5))


def cifar_dropout(n_bits):
    """Table 2's drop probability for ``n_bits``: the entry of the largest
    tabulated length <= ``n_bits`` (0 below 8 bits, 0.5 past 48)."""
    p = 0.0
    for length, prob in CIFAR_DROPOUT:
        if n_bits >= length:
            p = prob
    return p

__all__ = ["CNNBHHasher"]


class ClassificationLoss(nn.Module):
    """Cross-entropy on the first output of a module returning a tuple."""

    def __init__(self):
        super().__init__()
        self.cross_entropy = nn.CrossEntropyLoss()

    def forward(self, output, y):
        return self.cross_entropy(output[0], y)


@fill_shared_parameters
class CNNBHHasher(BaseHasher):
    """CNN-based hashing (CNNBH): classification training, sign-of-layer codes.

    A network is trained only for classification, with cross-entropy. Its
    penultimate layer -- the "knob" layer of ``n_bits`` linear units,
    followed by dropout and the classifier -- gives the hash: bit ``i`` is
    1 when unit ``i`` is positive (the sign, threshold 0).

    Parameters
    ----------
    n_bits : int, default=48
        Code length (units of the knob layer).
    dropout : float in [0, 1) or "auto", default="auto"
        Dropout between the knob layer and the classifier. "auto": with the
        paper's CIFAR-10 network (``backbone="cnnbh_cifar"``), the paper's
        Table 2 by code length (0 at 8 bits, 0.2 at 12, 0.3 at 16, 0.5 from
        24 bits; a length between two entries takes the lower one's); 0.5
        otherwise (the paper's MNIST setting).
    input_shape : tuple (C, H, W) or None, default=None
        View rows as images; None uses the MLP backbone.
    backbone : str or nn.Module class, default="auto"
        "auto": the paper's ``32C5-MP2-32C5-MP2`` CNN (``"cnnbh_mnist"``) for grey images
        (e.g. MNIST 28x28), skhash's CIFAR CNN for 32x32x3 images
        (``"cifar_cnn"``; the paper's own network is ``"cnnbh_cifar"``), an MLP
        for plain vectors. See :func:`skhash.nn.make_backbone`.
    hidden_units : tuple of int, default=(512,)
        Hidden widths of the MLP backbone.
    max_epochs : int or "auto", default="auto"
        Training epochs; "auto": 30, and for colour photos of side >= 32 at
        least 4,000 optimizer steps, at most 100 epochs (100 on CIFAR-10's
        5,000 CNNH training images, 30 on its 50,000). ``max_epochs_`` holds
        the number used.
    batch_size : int, default=128
    optimizer : {"adam", "adamw", "sgd"} or optimizer class, default="adam"
    shift_augment : int or "auto", default="auto"
        Random shifts (crops of the zero-padded image) of up to this many
        pixels during training; "auto": 4 for colour photos of side >= 32,
        0 for other images (the MNIST network trains without augmentation).
    flip_augment : bool or "auto", default="auto"
        Random left-right mirroring during training; "auto": on for colour
        photos only.
    lr_schedule : {"auto", "constant", "cosine", "onecycle"}, default="auto"
        Learning-rate schedule over the whole training; "auto": one-cycle
        for colour photos of side >= 32, constant otherwise.
    lr, weight_decay : float or "auto", default="auto"
        "auto": lr 2e-3 and weight decay 5e-4 for colour photos of side
        >= 32, lr 1e-3 and no weight decay otherwise (see
        :class:`skhash.base.BaseDeepEncoder`).
    validation_fraction : float or None, default=None
        Held-out fraction of the training data (for ``valid_loss`` and early
        stopping).
    early_stopping : bool, default=False
    n_iter_no_change : int, default=5
    callbacks : list of skorch callbacks, default=None
    verbose : int, default=0
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (``net_.history`` holds the training history).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    code_space_ : skhash.codes.HammingSpace
        How codes compare (Hamming distance over ``n_bits``).
    %(shared_attributes)s

    See Also
    --------
    skhash.neighbors.KNeighborsRetriever : index and search the codes.

    Notes
    -----
    Guo & Li, "CNN Based Hashing for Image Retrieval", arXiv:1509.01354.
    The hash layer is linear (no activation) so its sign is balanced around
    0. What we changed: convolutions are zero-padded so the same network
    serves any image size (the 8x8 digits included), training uses Adam by
    default, and colour photos get a from-scratch CNN with batch norm,
    crops and flips and a cosine schedule (the paper's CIFAR-10 network,
    ``backbone="cnnbh_cifar"``, needs its 900 epochs; see the docs page).

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> from skhash.hashing import CNNBHHasher
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = CNNBHHasher(n_bits=16, max_epochs=2, random_state=0).fit(X, y)
    >>> hasher.transform(X[:2]).shape
    (2, 16)
    >>> hasher.encode(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseHasher._parameter_constraints,
        "n_bits": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [StrOptions({"auto"}), Interval(numbers.Real, 0, 1, closed="left")],
    }

    _grey_shift = 0  # the MNIST network trains without augmentation
    _grey_backbone = "cnnbh_mnist"  # the paper's 32C5-MP2-32C5-MP2

    def __init__(
        self,
        n_bits=48,
        *,
        dropout="auto",
        input_shape=None,
        backbone="auto",
        hidden_units=(512,),
        max_epochs="auto",
        batch_size=128,
        lr="auto",
        optimizer="adam",
        weight_decay="auto",
        shift_augment="auto",
        flip_augment="auto",
        lr_schedule="auto",
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        verbose=0,
        device="cpu",
        random_state=None,
    ):
        store_init_params(self, locals())

    def _resolved_dropout(self):
        if self.dropout != "auto":
            return float(self.dropout)
        name = self.backbone
        if isinstance(name, str):
            name = resolve_backbone_name(name, self._input_shape, self._colour_backbone,
                                         self._grey_backbone)
        return cifar_dropout(self.n_bits) if name == "cnnbh_cifar" else 0.5

    def _build_module(self, n_features, n_outputs):
        backbone = make_backbone(self.backbone, n_features, self._input_shape, self.hidden_units,
                                 colour_backbone=self._colour_backbone,
                                 grey_backbone=self._grey_backbone)
        return LatentHashNet(backbone, self.n_bits, n_outputs, dropout=self._resolved_dropout(),
                             augment=make_augment(self._input_shape, *self._augmentation()))

    def _build_criterion(self, n_outputs):
        return ClassificationLoss()

    def _code_activations(self, X):
        return self._infer(X, 1).numpy()

    def decision_function(self, X):
        """Class scores (logits) of the classifier, ``(n_samples, n_classes)``."""
        X = self._validated(X)
        return self._infer(X, 0).numpy()

    def predict_proba(self, X):
        """Class probabilities (softmax of the classifier)."""
        return torch.softmax(torch.from_numpy(self.decision_function(X)), dim=1).numpy()

    def predict(self, X):
        """Class labels from the classifier."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]
