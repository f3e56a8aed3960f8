"""Training machinery of the deep estimators: the skorch net, its callbacks
and the checks around a fit.

* :class:`_Net` -- the skorch ``NeuralNet`` whose loss sees the module's
  whole output, and which notes a Ctrl-C;
* :class:`_FiniteLoss` -- stops training with :class:`TrainingDivergedError`
  on a non-finite or blown-up loss;
* :class:`_ResumingLRScheduler` -- a per-batch schedule that resumes across
  the phases of a multi-phase fit;
* ``OPTIMIZERS``, :func:`resolve_device`, :func:`check_layer_sizes` and
  the input-shape check.

:mod:`skhash.base` builds the estimators on these.
"""

import math
import numbers

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, LRScheduler

__all__ = [
    "OPTIMIZERS",
    "TrainingDivergedError",
    "check_layer_sizes",
    "resolve_device",
]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


class TrainingDivergedError(FloatingPointError, ValueError):
    """Training diverged: a loss, the weights or the network's outputs became
    NaN or infinite.

    Raised by ``fit`` of the deep estimators as soon as a training or
    validation batch loss is not finite, or a training batch loss exceeds
    10,000 times the first batch's of its phase (the message names the epoch
    and the training phase), and when the weights or the features handed to a
    k-means / SOM phase are not finite. The estimator keeps the fitted state
    it had before this ``fit`` (none on a first fit), so it never returns
    codes computed from non-finite weights. The usual cause is a learning
    rate too large for the data: try a smaller ``lr``.

    A subclass of both :class:`FloatingPointError` (what it is) and
    :class:`ValueError` (what scikit-learn raises for unusable settings), so
    either ``except`` clause catches it.
    """


def _divergence_message(owner, what, *, epoch=None, batch=None, phase=None, lr=None):
    """``"<owner>: training diverged at epoch <n>, batch <b> (<phase>): <what>. <advice>."``"""
    where = "".join([f" at epoch {epoch}" if epoch is not None else "",
                     f", batch {batch}" if batch is not None else "",
                     f" ({phase})" if phase else ""])
    advice = "The learning rate is probably too large for this data: try a smaller lr"
    if lr is not None:
        advice += f" (lr={lr:g} now; e.g. lr={lr / 10:g})"
    return f"{owner}: training diverged{where}: {what}. {advice}."


class _FiniteLoss(Callback):
    """Raise :class:`TrainingDivergedError` when a batch loss is NaN, infinite or blown up.

    Checked at the end of every training and validation batch (the loss
    skorch has just recorded), so a diverging run stops at once instead of
    training on with NaN weights. A finite training loss also counts as
    diverged when it exceeds ``BLOW_UP`` times the first training batch's
    loss of the phase (or ``BLOW_UP`` when that was below 1): no run that
    learns gets there, while a run whose units saturate (SSDH's sigmoid
    layer at a huge ``lr``) stays finite for ever. The net's ``_phase``
    (set by ``BaseDeepEncoder._fit_net``) names the training phase in the
    message.
    """

    BLOW_UP = 1e4

    def __init__(self, owner, lr):
        self.owner = owner
        self.lr = lr

    def initialize(self):
        self.first_losses_ = {}  # phase -> its first training batch loss
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        key = "train_loss" if training else "valid_loss"
        batches = net.history[-1, "batches"]
        loss = batches[-1].get(key)
        if loss is None:
            return
        kind = "training" if training else "validation"
        what = None
        if not math.isfinite(loss):
            what = f"the {kind} loss is {loss}"
        elif training:
            first = self.first_losses_.setdefault(getattr(net, "_phase", None), loss)
            if loss > self.BLOW_UP * max(first, 1.0):
                what = (f"the training loss rose to {loss:.4g} from {first:.4g} on the first "
                        f"batch (more than {self.BLOW_UP:g} times)")
        if what is not None:
            raise TrainingDivergedError(_divergence_message(
                self.owner, what, epoch=len(net.history),
                batch=sum(key in b for b in batches), phase=getattr(net, "_phase", None),
                lr=self.lr,
            ))


def check_layer_sizes(sizes, name, owner):
    """Validate a tuple of layer widths; return it as a tuple of ints.

    Each entry must be an integer >= 1 (``()`` is allowed: no hidden
    layer). A ``TypeError`` names a non-integer entry, a ``ValueError`` one
    below 1; both name the parameter.
    """
    sizes = tuple(sizes)
    for v in sizes:
        if not isinstance(v, numbers.Integral) or isinstance(v, (bool, np.bool_)):
            raise TypeError(
                f"{owner}: {name} must hold integer layer widths, got {v!r} in {sizes!r}."
            )
    if any(v < 1 for v in sizes):
        raise ValueError(
            f"{owner}: {name} must be positive integers (layer widths >= 1), got {sizes!r}."
        )
    return tuple(int(v) for v in sizes)


class _ResumingLRScheduler(LRScheduler):
    """skorch's ``LRScheduler``, resuming a per-batch schedule in ``partial_fit``.

    skorch resumes every schedule at the net's epoch count; a schedule
    stepped per batch (one-cycle) must resume at its batch count instead,
    so that it spans every training phase of a multi-phase fit.
    """

    def _get_scheduler(self, net, policy, **scheduler_kwargs):
        if self.step_every == "batch" and "last_epoch" not in scheduler_kwargs:
            scheduler_kwargs["last_epoch"] = getattr(self, "batch_idx_", 0) - 1
        return super()._get_scheduler(net, policy, **scheduler_kwargs)


class _Net(NeuralNet):
    """skorch net whose criterion sees the module's whole output.

    Modules return a tuple (e.g. logits and the code layer); the criterion
    receives that tuple and the target batch. The target may be absent
    (unsupervised methods), in which case the criterion gets ``None``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if self._unsupervised:
            y_true = None  # skorch's placeholder target for y=None
        elif isinstance(y_true, torch.Tensor):
            y_true = y_true.to(self.device)
        return self.criterion_(y_pred, y_true)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch's partial_fit swallows a KeyboardInterrupt raised in here
        # (Ctrl-C ends the training early); note it so that the estimator
        # can skip the rest of its schedule, and mark the history.
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self._interrupted = True
            if len(self.history):
                self.history.record("interrupted", True)
            raise

    _unsupervised = False
    _interrupted = False
    _phase = None


def _check_input_shape(input_shape):
    if input_shape is None:
        return None
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple (C, H, W), got {input_shape!r}.") from None
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) != 3 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in shape
    ):
        raise ValueError(
            f"input_shape must be (C, H, W) or (H, W) of positive integers, got {input_shape!r}."
        )
    return tuple(int(v) for v in shape)


def resolve_device(device):
    """Check a device string; a clear error if CUDA is asked for and absent."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', got {device!r}.")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"invalid device {device!r}: {exc}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine "
                "(no GPU or a CPU-only PyTorch build); use device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are available."
            )
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}.")
    return device
