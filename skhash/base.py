"""The shared estimator base: everything a learned encoder needs except its
parameters, network, loss and training schedule.

A concrete method subclasses :class:`BaseDeepEncoder` (through
:class:`BaseHasher` or a quantizer base) and provides

* ``_build_module(n_features, n_outputs)`` -> a fresh ``torch.nn.Module``;
* ``_build_criterion(n_outputs)`` -> a fresh loss module called as
  ``criterion(module_output, y_batch)``;
* optionally ``_prepare_target(y)``, ``_check_params_consistency()``,
  ``_check_params_vs_input(X_train, n_samples)`` and ``_after_fit(X, y)``.

Inference runs through ``_infer`` (the one path: eval mode, batches, the
caller's RNG untouched).

The base validates parameters and data, seeds everything from
``random_state`` without touching the caller's global RNG, takes a
validation split from the *training* data for early stopping / model
selection, builds and trains the skorch net (``net_``), and provides
``score`` (retrieval mAP). A multi-phase method runs each network phase
through ``_fit_net`` (which checks for divergence and reports Ctrl-C) and
may bring its fitted arrays in line with the network in
``_finish_training``; see :class:`BaseDeepEncoder` for the rules.
"""

import copy
import itertools
import numbers
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch.callbacks import Callback, EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from ._training import (
    OPTIMIZERS,
    TrainingDivergedError,
    _check_input_shape,
    _divergence_message,
    _FiniteLoss,
    _Net,
    _ResumingLRScheduler,
    check_layer_sizes,
    resolve_device,
)
from .codes import HammingSpace, ProductSpace
from .nn import BACKBONES
from .nn._backbones import is_colour_image

__all__ = [
    "BaseDeepEncoder",
    "BaseHasher",
    "BaseQuantizer",
    "OPTIMIZERS",
    "TrainingDivergedError",
    "check_layer_sizes",
]

class BaseDeepEncoder(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of skhash's deep encoders (not for direct use).

    Shared parameters (every subclass accepts them, keyword-only):

    input_shape : tuple (C, H, W) or (H, W), default=None
        View each row of ``X`` as an image of this shape (``C * H * W`` must
        equal the number of features). None treats rows as plain vectors.
    backbone : {"auto", "mlp", "small_cnn", "cnnbh_mnist", "cifar_cnn", \
            "cnnbh_cifar", "dsh", "alexnet", "vgg16", "resnet18", "resnet50"} \
            or nn.Module class
        Feature extractor; "auto" picks a CNN for images and an MLP for
        vectors (see :func:`skhash.nn.make_backbone`).
    hidden_units : tuple of int
        Hidden layer widths of the MLP backbone.
    max_epochs : int or "auto"
        Training epochs. "auto" is the estimator's ``_default_epochs`` (30,
        DeepSOM's pre-training 20) except for colour photos of side >= 32,
        where it is at least ``_colour_steps`` (4,000) optimizer steps, at
        most ``_colour_max_epochs`` (100) epochs: 100 epochs on CIFAR-10's
        5,000-image CNNH training set (a validation split of it: 30 epochs
        0.730 accuracy / 0.612 mAP, 100 epochs 0.772 / 0.782), 30 on its
        50,000 training images. ``max_epochs_`` holds the number used.
    batch_size : int
        Mini-batch size.
    lr : float or "auto"
        Learning rate (the peak of the "onecycle" schedule).
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class
        "sgd" uses momentum 0.9.
    weight_decay : float or "auto"
        L2 penalty passed to the optimizer.

    "auto" for ``lr``, ``weight_decay`` and ``lr_schedule`` (image
    estimators) picks a recipe by input: for colour photos of side >= 32
    (CIFAR-10 and up), lr 2e-3, weight decay 5e-4 and the one-cycle
    schedule (chosen on a validation split of CIFAR-10's CNNH training set;
    a method may change an entry, as DPQ drops the weight decay);
    for everything else lr 1e-3, no weight decay and a constant rate (the
    settings behind the MNIST figures).
    validation_fraction : float in [0, 1) or None
        Fraction of the training data held out (stratified when possible)
        to monitor ``valid_loss``. Never the query/test set.
    early_stopping : bool
        Stop when ``valid_loss`` has not improved for ``n_iter_no_change``
        epochs and restore the best epoch's weights (model selection on the
        validation split). Requires ``validation_fraction > 0``.
    n_iter_no_change : int
        Patience of early stopping.
    callbacks : list of skorch callbacks or None
        Extra callbacks; deep-copied at every fit so the originals are never
        mutated and parallel fits do not share state.
    verbose : int
        0 silent; >= 1 prints skorch's epoch table and a progress bar.
    device : str
        "cpu", "cuda" or "cuda:N".
    shift_augment : int >= 0 or "auto" (image estimators)
        Training images of side >= 16 are shifted by up to this many pixels
        (a random crop of the zero-padded image); "auto": 4 for colour
        photos of side >= 32, else the estimator's grey-image default.
    flip_augment : bool or "auto" (image estimators)
        Mirror training images left-right at random; "auto": on for colour
        photos of side >= 32, off otherwise (digits).
    lr_schedule : {"auto", "constant", "cosine", "onecycle"} (image estimators)
        "cosine" anneals the learning rate from ``lr`` towards 0 over
        ``max_epochs`` epochs; "onecycle" warms it up to ``lr`` over the
        first 30% of the batches, then anneals it (PyTorch's
        ``OneCycleLR``, stepped per batch); both through a skorch
        ``LRScheduler``. "auto": see the estimator.
    random_state : int, RandomState instance or None
        Seeds weight initialisation, shuffling and the validation split;
        with an int, CPU training is repeatable. The caller's global torch
        RNG is left untouched (by ``fit`` and by inference alike).

    Attributes every subclass sets in ``fit``:

    net_ : skorch net
        The trained network; ``history_`` is its history.
    interrupted_ : bool
        Whether Ctrl-C ended the training early (see below).
    n_iter_ : int
        Epochs trained, every phase counted (the rows of ``history_``).

    **Interrupting training (Ctrl-C).** skorch's rule, for every deep
    estimator and every phase of a multi-phase schedule (DeepQuan's
    pre-training, k-means and fine-tuning; DeepSOM's pre-training, SOM
    training and alternations): a ``KeyboardInterrupt`` ends the current
    phase early and skips the rest of the schedule; the steps that make the
    fitted state consistent still run (the SOM / k-means fit on the network
    as it was trained, the fitted arrays of ``_after_fit``), so ``fit``
    returns a usable model whose codebooks match its network. It then has
    ``interrupted_ = True`` and the last row of ``history_`` holds
    ``interrupted=True``. A second Ctrl-C, during those final steps, stops
    ``fit`` with the ``KeyboardInterrupt``.

    **Never half-fitted.** When ``fit`` raises (bad input, divergence, a
    second Ctrl-C), the estimator is left exactly as it was before the call:
    a refit replaces the whole fitted state or none of it.

    **Divergence.** Training stops with :class:`TrainingDivergedError` (a
    ``FloatingPointError`` and a ``ValueError``) as soon as a training or
    validation batch loss is NaN or infinite, or a training batch loss
    exceeds 10,000 times the phase's first one -- the message names the epoch,
    the phase and suggests a smaller ``lr`` -- and when the weights after a
    phase, or the features a k-means / SOM phase would be fitted on, are not
    finite. No estimator returns codes computed from non-finite weights.
    """

    # Constraint groups: a method merges the groups it takes (DeepQuan, a
    # vector autoencoder, takes the training group only).
    _training_constraints = {
        "hidden_units": [tuple, list],
        "max_epochs": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "weight_decay": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "device": [str],
        "random_state": ["random_state"],
    }
    _network_constraints = {
        "input_shape": [tuple, list, None],
        "backbone": [StrOptions(set(BACKBONES)), type],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    }
    # the image-training recipe (estimators that take images declare these)
    _image_constraints = {
        "shift_augment": [StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "flip_augment": [StrOptions({"auto"}), "boolean"],
        "lr_schedule": [StrOptions({"auto", "constant", "cosine", "onecycle"})],
    }
    _parameter_constraints = {**_training_constraints, **_network_constraints,
                              **_image_constraints}

    # What "auto" means for colour photos of side >= 32 (CIFAR-10 and up):
    # the backbone, and the shift of the augmentation (other images get
    # ``_grey_shift``); see _augmentation and _lr_schedule.
    _colour_backbone = "cifar_cnn"
    _colour_shift = 4
    _colour_cutout = 0
    _grey_shift = 2
    # What "auto" means for the optimisation parameters: colour photos of
    # side >= 32, and everything else (see _recipe).
    _colour_recipe = {"lr": 2e-3, "weight_decay": 5e-4, "lr_schedule": "onecycle"}
    _default_recipe = {"lr": 1e-3, "weight_decay": 0.0, "lr_schedule": "constant"}
    # What max_epochs="auto" means (see _resolve_max_epochs): the default
    # epochs, and for colour photos a budget of optimizer steps, capped.
    _default_epochs = 30
    _colour_steps = 4000
    _colour_max_epochs = 100

    # Subclasses that learn from labels set this; unsupervised ones do not.
    _requires_y = True
    # The skorch net class (a subclass may pass something else to its loss).
    _net_class = _Net

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, n_features, n_outputs):
        """Return a fresh torch module for this fit."""

    @abstractmethod
    def _build_criterion(self, n_outputs):
        """Return a fresh loss module ``criterion(output, y)``."""

    def _prepare_target(self, y):
        """Encode class labels to ``0..n_classes-1`` (int64); set ``classes_``."""
        y = column_or_1d(y, warn=True)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type {kind!r}: {type(self).__name__} needs class labels."
            )
        encoder = LabelEncoder()
        y_enc = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes to learn from; "
                f"y has 1 class ({self.classes_[0]!r})."
            )
        return y_enc.astype(np.int64), len(self.classes_)

    def _after_fit(self, X, y):
        """Compute fitted arrays that depend on the trained network."""

    # ------------------------------------------------------------- validation
    def _validate_X(self, X, *, reset, y=None):
        """Validate X (and y at fit) to float32 2-D; check the image shape.

        ``X`` may also be a 4-D array of images ``(n, C, H, W)``: it is
        flattened to rows and its image shape must agree with
        ``input_shape`` (which it supplies when ``input_shape`` is None).
        """
        if reset and self._requires_y and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        image_shape = None
        if getattr(X, "ndim", None) == 4:
            image_shape = tuple(int(v) for v in X.shape[1:])
            X = np.asarray(X).reshape(X.shape[0], -1)
        kwargs = dict(dtype=np.float32, ensure_min_samples=2 if reset else 1)
        if reset and y is not None:
            X, y = validate_data(
                self, X, y, reset=True, multi_output=True, y_numeric=False, **kwargs
            )
        else:
            X = validate_data(self, X, reset=reset, **kwargs)
        if reset:
            self._input_shape = _check_input_shape(self._param("input_shape", None))
            if image_shape is not None and self._input_shape is None:
                self._input_shape = image_shape
        shape = self._input_shape
        if image_shape is not None and image_shape != shape:
            raise ValueError(
                f"X holds images of shape {image_shape}, but the estimator expects "
                f"input_shape={shape}."
            )
        if shape is not None and int(np.prod(shape)) != X.shape[1]:
            raise ValueError(
                f"input_shape={shape} holds {int(np.prod(shape))} values, "
                f"but X has {X.shape[1]} features per row."
            )
        return (X, y) if reset else X

    def _param(self, name, default):
        """Parameter ``name``, or ``default`` for an estimator that does not take it.

        The base serves estimators that take only some of the shared
        parameters (DeepQuan, a vector autoencoder, has no ``input_shape``,
        backbone or early stopping): what an estimator takes is what its
        ``_parameter_constraints`` declare.
        """
        return getattr(self, name) if name in self._parameter_constraints else default

    def _check_params_consistency(self):
        """Checks between parameters, before any data is seen (the data-dependent
        ones are in :meth:`_check_params_vs_input`)."""
        if self._param("early_stopping", False) and not self.validation_fraction:
            raise ValueError("early_stopping=True needs validation_fraction > 0.")
        if "hidden_units" in self._parameter_constraints:
            check_layer_sizes(self.hidden_units, "hidden_units", type(self).__name__)

    def _check_params_vs_input(self, X_train, n_samples):
        """Checks of the parameters against the data, once per fit: ``X_train``
        is what the network trains on (after the validation split of
        ``n_samples`` rows). Nothing by default."""

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Train the network on ``X`` (and labels ``y`` for supervised methods).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (images flattened when ``input_shape`` is set).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (supervised methods); ignored by unsupervised ones.

        Returns
        -------
        self : object
            The fitted encoder.

        Raises
        ------
        TrainingDivergedError
            When a loss or the weights became NaN or infinite (the learning
            rate is probably too large). As with any error raised by
            ``fit``, the estimator keeps its previous fitted state.

        Notes
        -----
        Ctrl-C ends training early and still returns a usable model with
        ``interrupted_ = True`` (see :class:`BaseDeepEncoder`).
        """
        state = self.__dict__.copy()
        try:
            self._fit(X, y)
        except BaseException:
            # never half-fitted: restore the state before this fit
            self.__dict__.clear()
            self.__dict__.update(state)
            raise
        return self

    def _fit(self, X, y):
        self._validate_params()
        self._check_params_consistency()
        X, y = self._validate_X(X, reset=True, y=y if self._requires_y else None)
        device = resolve_device(self.device)
        if self._requires_y:
            y_t, n_outputs = self._prepare_target(y)
        else:
            y_t, n_outputs = None, None
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        X_train, y_train, valid = self._split(X, y_t, rng)
        self._check_params_vs_input(X_train, X.shape[0])
        n_train = X_train.shape[0]
        batch_size = min(self.batch_size, n_train)
        drop_last = n_train % batch_size == 1  # a last batch of one sample breaks BatchNorm
        self._batches_per_epoch = n_train // batch_size + (n_train % batch_size > 1)
        max_epochs = self._resolve_max_epochs(self._batches_per_epoch)

        cuda_devices = []
        if device.startswith("cuda"):
            cuda_devices = [torch.device(device).index or 0]
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            module = self._build_module(X.shape[1], n_outputs)
            generator = torch.Generator().manual_seed(seed)
            self.net_ = self._net_class(
                module=module,
                criterion=self._build_criterion(n_outputs),
                optimizer=self._optimizer_class(),
                lr=float(self._recipe("lr")),
                max_epochs=max_epochs,
                batch_size=batch_size,
                train_split=None if valid is None else predefined_split(valid),
                callbacks=self._callbacks(),
                verbose=int(self.verbose),
                device=device,
                iterator_train__shuffle=True,
                iterator_train__generator=generator,
                iterator_train__drop_last=drop_last,
                **self._optimizer_params(),
            )
            interrupted = False
            try:
                self._train(X_train, y_train)
            except KeyboardInterrupt:
                # Ctrl-C: the rest of the schedule is skipped (see the class
                # docstring); a second one in the steps below stops fit
                if not self.net_.initialized_:
                    raise  # before any training: nothing to keep
                interrupted = True
                if len(self.net_.history):
                    self.net_.history.record("interrupted", True)
            self._finish_training(X_train, y_train)
            self._check_finite_weights("after training")
            # in the seeded section: _after_fit may run the network (whose
            # DataLoader draws from the global RNG) or draw seeds itself
            self._after_fit(X, y_t)
        # a fitted network is left in inference mode (no dropout, no
        # augmentation, batch norm frozen), so that calling net_.module_
        # directly gives what transform encodes; training switches it back
        self.net_.module_.eval()
        self.interrupted_ = interrupted
        self.n_iter_ = len(self.net_.history)

    def _train(self, X, y):
        """Run the training schedule (one skorch ``fit`` by default).

        A schedule of several phases runs each network phase through
        :meth:`_fit_net`. It may stop anywhere with ``KeyboardInterrupt``
        (Ctrl-C): ``fit`` then calls :meth:`_finish_training` and
        ``_after_fit`` as usual.
        """
        self._fit_net(X, y)

    def _finish_training(self, X, y):
        """Bring fitted state in line with the trained network after ``_train``
        (e.g. a SOM fit on the final features when Ctrl-C cut the schedule
        short); ``X``, ``y`` are the training rows. Nothing by default."""

    def _fit_net(self, X, y, *, epochs=None, phase=None):
        """Run one training phase of ``net_``: ``fit`` (re-initialising the
        net) when ``epochs`` is None, else ``partial_fit`` for ``epochs``.

        A non-finite batch loss or non-finite weights afterwards raise
        :class:`TrainingDivergedError` naming ``phase``. When Ctrl-C ended
        the phase (skorch catches the ``KeyboardInterrupt`` and ends it
        cleanly), raises ``KeyboardInterrupt`` so that the caller skips the
        rest of its schedule.
        """
        net = self.net_
        net._phase = phase
        net._interrupted = False
        with warnings.catch_warnings():
            # skorch warns when the module is an instance we built ourselves.
            warnings.filterwarnings("ignore", message=".*initialized.*", category=UserWarning)
            if epochs is None:
                net.fit(X, y)
            else:
                net.partial_fit(X, y, epochs=epochs)
        self._check_finite_weights(phase)
        if net._interrupted:
            raise KeyboardInterrupt

    def _check_finite_weights(self, phase=None):
        """:class:`TrainingDivergedError` if a weight or buffer of the module
        or the criterion is NaN or infinite."""
        net = self.net_
        for part in ("module_", "criterion_"):
            module = getattr(net, part, None)
            if not isinstance(module, torch.nn.Module):
                continue
            for name, t in itertools.chain(module.named_parameters(), module.named_buffers()):
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    raise TrainingDivergedError(_divergence_message(
                        type(self).__name__,
                        f"the {part.rstrip('_')}'s weight {name!r} holds NaN or infinity",
                        epoch=len(net.history), phase=phase, lr=float(self._recipe("lr")),
                    ))

    def _check_finite_features(self, Z, phase):
        """:class:`TrainingDivergedError` if features the network computed
        (before a k-means / SOM phase) are NaN or infinite."""
        if not np.isfinite(Z).all():
            raise TrainingDivergedError(_divergence_message(
                type(self).__name__,
                f"the network's features hold NaN or infinity before {phase} (the input "
                "is finite: it was checked)", epoch=len(self.net_.history),
                lr=float(self._recipe("lr")),
            ))

    def _split(self, X, y, rng):
        frac = self.validation_fraction
        if not frac:
            return X, y, None
        n_valid = int(np.ceil(frac * X.shape[0]))
        if n_valid < 1 or X.shape[0] - n_valid < 2:
            raise ValueError(
                f"validation_fraction={frac} leaves too few samples for training "
                f"({X.shape[0]} samples in all)."
            )
        stratify = None
        if y is not None and y.ndim == 1:
            counts = np.bincount(y)
            if counts.min() >= 2 and n_valid >= len(counts) and X.shape[0] - n_valid >= len(counts):
                stratify = y
        idx_train, idx_valid = train_test_split(
            np.arange(X.shape[0]), test_size=n_valid, stratify=stratify,
            random_state=rng.randint(np.iinfo(np.int32).max),
        )
        y_train = None if y is None else y[idx_train]
        y_valid = None if y is None else y[idx_valid]
        return X[idx_train], y_train, Dataset(X[idx_valid], y_valid)

    def _method_callbacks(self):
        """Callbacks a method's training schedule needs, as (name, callback)."""
        return []

    def _augmentation(self):
        """Resolved ``(shift_augment, flip_augment, cutout_augment)`` for this fit's input.

        "auto": for colour photos of side >= 32, shifts of up to
        ``_colour_shift`` pixels (a random crop with zero padding),
        left-right flips and cut-out squares of side ``_colour_cutout``;
        for other images, ``_grey_shift`` pixels, no flip (digits must not be
        mirrored) and no cut-out. An estimator without a ``cutout_augment``
        parameter never cuts out.
        """
        colour = is_colour_image(self._input_shape)
        shift = self._param("shift_augment", 0)
        if shift == "auto":
            shift = self._colour_shift if colour else self._grey_shift
        flip = self._param("flip_augment", False)
        if flip == "auto":
            flip = colour
        cutout = self._param("cutout_augment", 0)
        if cutout == "auto":
            cutout = self._colour_cutout if colour else 0
        return int(shift), bool(flip), int(cutout)

    def _feature_extractor(self, n_features, weights_path=None):
        """Backbone + feature layer and the augmentation of this fit's input
        (see :func:`skhash.nn.make_feature_extractor`)."""
        from .nn import make_feature_extractor

        shift, flip, cutout = self._augmentation()
        return make_feature_extractor(
            self.backbone, n_features, self._input_shape, hidden_units=self.hidden_units,
            feature_units=self.feature_units, shift_augment=shift, flip_augment=flip,
            cutout_augment=cutout,
            weights_path=weights_path, colour_backbone=self._colour_backbone,
        )

    def _recipe(self, name):
        """The value of optimisation parameter ``name`` for this fit: the
        parameter itself, or for "auto" the colour-photo recipe
        (``_colour_recipe``) or the default one (``_default_recipe``)."""
        value = self._param(name, "auto")
        if isinstance(value, str) and value == "auto":
            recipe = (self._colour_recipe if is_colour_image(self._input_shape)
                      else self._default_recipe)
            value = recipe[name]
        return value

    def _lr_schedule(self):
        """Resolved ``lr_schedule`` (see :meth:`_recipe`)."""
        return self._recipe("lr_schedule")

    def _resolve_max_epochs(self, batches_per_epoch):
        """``max_epochs``, with "auto" resolved for this input (see the class docstring).

        Sets ``max_epochs_`` (the epochs of the network's first training
        phase) and returns it.
        """
        epochs = self.max_epochs
        if isinstance(epochs, str) and epochs == "auto":
            epochs = self._default_epochs
            if is_colour_image(self._input_shape):
                steps = -(-self._colour_steps // max(1, batches_per_epoch))
                epochs = max(epochs, min(self._colour_max_epochs, steps))
        self.max_epochs_ = int(epochs)
        return self.max_epochs_

    def _schedule_epochs(self):
        """Epochs the learning-rate schedule spans (all of the net's training)."""
        return self.max_epochs_

    def _schedule_callbacks(self):
        """The learning-rate schedule, as skorch callbacks (per epoch).

        skorch resumes the schedule at the net's current epoch in every
        later ``partial_fit``, so a multi-phase schedule spans all its
        phases when ``_schedule_epochs`` counts them.
        """
        schedule = self._lr_schedule()
        if schedule == "cosine":
            return [("lr_scheduler", LRScheduler(
                policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self._schedule_epochs()))]
        if schedule == "onecycle":
            return [("lr_scheduler", _ResumingLRScheduler(
                policy=torch.optim.lr_scheduler.OneCycleLR, max_lr=float(self._recipe("lr")),
                total_steps=self._schedule_epochs() * self._batches_per_epoch,
                step_every="batch"))]
        return []

    def _optimizer_class(self):
        optimizer = self.optimizer
        if isinstance(optimizer, str):
            return OPTIMIZERS[optimizer]
        if not issubclass(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer "
                f"subclass, got {optimizer!r}."
            )
        return optimizer

    def _optimizer_params(self):
        params = {"optimizer__weight_decay": float(self._recipe("weight_decay"))}
        if self.optimizer == "sgd":
            params["optimizer__momentum"] = 0.9
        return params

    def _callbacks(self):
        callbacks = [("finite_loss", _FiniteLoss(type(self).__name__, float(self._recipe("lr"))))]
        for i, cb in enumerate(self.callbacks or []):
            if isinstance(cb, tuple) and len(cb) == 2:
                name, cb = cb
            else:
                name = f"user_{i}_{type(cb).__name__}"
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be skorch callbacks, got {cb!r}.")
            callbacks.append((name, copy.deepcopy(cb)))
        callbacks.extend(self._method_callbacks())
        callbacks.extend(self._schedule_callbacks())
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        if self._param("early_stopping", False):
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss", patience=self.n_iter_no_change, load_best=True
                    ),
                )
            )
        return callbacks

    # -------------------------------------------------------------- inference
    def _infer(self, X, part=None, *, reduce=None, call=None):
        """The one inference path: the trained module on validated ``X`` in
        eval mode, batch by batch, on the module's device; CPU tensors.

        ``part`` picks one output of a module that returns a tuple (None:
        the whole output, which must then be a tensor); ``reduce`` maps each
        batch's tensor before it is kept (memory: one batch of a large
        output at a time); ``call`` replaces the module's ``forward`` (e.g.
        an encoder-only half). The caller's global torch RNG and the
        module's train / eval mode are left as they were.
        """
        check_is_fitted(self, "net_")
        module = self.net_.module_
        call = module if call is None else call
        device = next(itertools.chain(module.parameters(), module.buffers())).device
        step = max(1, int(self.net_.batch_size))
        was_training = module.training
        module.eval()
        chunks = []
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                for start in range(0, X.shape[0], step):
                    out = call(torch.from_numpy(np.ascontiguousarray(
                        X[start:start + step])).to(device))
                    if part is not None:
                        out = out[part]
                    if reduce is not None:
                        out = reduce(out)
                    chunks.append(out.cpu())
        finally:
            module.train(was_training)
        return torch.cat(chunks)

    def _validated(self, X):
        check_is_fitted(self, "net_")
        return self._validate_X(X, reset=False)

    @property
    def history_(self):
        """Training history (skorch ``History``: losses per epoch and batch)."""
        check_is_fitted(self, "net_")
        return self.net_.history

    # ---------------------------------------------------------------- scoring
    def score(self, X, y):
        """Retrieval mAP of ``X`` against itself, leave-one-out.

        Each row is a query against all the other rows of ``X``, ranked by
        the code space's distance (ties by index); relevance is "same
        label" (or "shares a label" for an indicator matrix). Returns mAP
        over the whole ranking (mAP@all). See
        :func:`skhash.metrics.mean_average_precision`.
        """
        from .metrics._scorer import leave_one_out_map

        return leave_one_out_map(self, X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._requires_y
        # Codes are integers: float dtypes are not preserved.
        tags.transformer_tags.preserves_dtype = []
        tags.non_deterministic = False
        return tags


class BaseHasher(BaseDeepEncoder):
    """Base of the binary hashers: ``transform`` gives {0, 1} bits.

    Subclasses implement ``_code_activations(X)`` returning the real-valued
    code layer ``(n, n_bits)`` and set ``_threshold`` (the value a unit must
    exceed to give bit 1).
    """

    _threshold = 0.0

    @abstractmethod
    def _code_activations(self, X):
        """Real-valued code layer for validated X, ``(n, n_bits)`` numpy."""

    def _after_fit(self, X, y):
        self.code_space_ = HammingSpace(self.n_bits)

    def transform(self, X):
        """Binary codes: ``(n_samples, n_bits)`` uint8 in {0, 1}."""
        X = self._validated(X)
        return (self._code_activations(X) > self._threshold).astype(np.uint8)

    def encode(self, X):
        """Packed binary codes: ``(n_samples, ceil(n_bits / 8))`` uint8."""
        return np.packbits(self.transform(X), axis=1)

    def _query_codes(self, X, asymmetric=False):
        if asymmetric:
            raise ValueError(
                f"{type(self).__name__} produces binary codes: asymmetric search is not "
                "available; use Hamming search."
            )
        return self.encode(X)




class BaseQuantizer(BaseDeepEncoder):
    """Base of the product quantizers: ``transform`` gives ``(n, M)`` codes.

    Subclasses set ``codebooks_`` (``(M, K, d)`` CPU numpy) in
    ``_after_fit`` (then call this class's ``_after_fit``) and implement
    ``_codes(X)`` (integer codes for validated X) and ``_embed(X)`` (the
    continuous ``(n, M * d)`` query vectors of asymmetric search).
    """

    def _after_fit(self, X, y):
        self.code_space_ = ProductSpace(self.codebooks_)

    @abstractmethod
    def _codes(self, X):
        """``(n, M)`` integer codes for validated X."""

    @abstractmethod
    def _embed(self, X):
        """``(n, M * d)`` continuous embeddings for validated X."""

    def transform(self, X):
        """Product codes: ``(n_samples, M)``, uint8 when ``K <= 256``."""
        X = self._validated(X)
        return self._codes(X).astype(self.code_space_.code_dtype)

    def encode(self, X):
        """The codes stored in an index (same as ``transform``)."""
        return self.transform(X)

    def inverse_transform(self, codes):
        """Reconstruct vectors from codes: the concatenated codewords ``(n, M * d)``."""
        check_is_fitted(self, "code_space_")
        return self.code_space_.decode(codes)

    def embed(self, X):
        """Continuous query vectors ``(n_samples, M * d)`` for asymmetric search."""
        X = self._validated(X)
        return np.asarray(self._embed(X), dtype=np.float32)

    def _query_codes(self, X, asymmetric=False):
        return self.embed(X) if asymmetric else self.encode(X)
