"""DeepSOM: deep supervised quantization by a self-organizing map (Wang et al., ACM MM 2017)."""

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from .._docstrings import fill_shared_parameters
from ..base import BaseQuantizer
from ..utils._params import store_init_params
from ._som import SelfOrganizingMap, check_map_shape

__all__ = [
    "DeepSOMQuantizer",
    "DeepSOMModule",
    "DeepSOMLoss",
    "pairwise_quantization_loss",
    "sample_pairs",
]


def sample_pairs(y, n_pairs, generator=None):
    """Draw a balanced set of pairs from a batch of class labels.

    Among the ``n (n - 1) / 2`` unordered pairs ``(a, b)``, ``a < b``, of
    the batch, draws without replacement ``h`` similar pairs (same label)
    and ``h`` dissimilar ones, ``h = min(n_pairs // 2, #similar,
    #dissimilar)`` -- always as many of each (none when the batch lacks
    either kind).

    Parameters
    ----------
    y : tensor of shape (n,)
        Class labels (integers).
    n_pairs : int
        Pairs wanted in all (half similar, half dissimilar).
    generator : torch.Generator or None
        Random source (torch's global RNG when None).

    Returns
    -------
    a, b : int64 tensors of shape (2 h,)
        The two members of each pair (similar pairs first).
    similar : bool tensor of shape (2 h,)
    """
    n = y.shape[0]
    a, b = torch.triu_indices(n, n, offset=1, device=y.device)
    same = y[a] == y[b]
    sim_idx = torch.nonzero(same).flatten()
    dis_idx = torch.nonzero(~same).flatten()
    h = min(int(n_pairs) // 2, sim_idx.numel(), dis_idx.numel())
    pick_s = sim_idx[torch.randperm(sim_idx.numel(), generator=generator)[:h].to(y.device)]
    pick_d = dis_idx[torch.randperm(dis_idx.numel(), generator=generator)[:h].to(y.device)]
    pick = torch.cat([pick_s, pick_d])
    return a[pick], b[pick], torch.cat([same[pick_s], same[pick_d]])


def pairwise_quantization_loss(U, a, b, similar, margin=None):
    """DeepSOM's supervised quantization loss on the SOM responses ``U``.

    With ``d_ab = ||U_a - U_b||^2 / m`` for ``U`` of shape ``(n, m)``
    (``m`` nodes):

    * ``margin=None`` (the paper's loss): ``mean_similar d_ab -
      mean_dissimilar d_ab``;
    * ``margin`` a float: ``mean_similar d_ab + mean_dissimilar max(0,
      margin - d_ab)``, i.e. dissimilar pairs are pushed apart only until
      they are ``margin`` apart (``margin=0``: similar pairs only).

    Zero when there are no pairs. The differences are one-hot products
    (``(onehot(a) - onehot(b)) @ U``), whose backward is deterministic,
    unlike indexing.
    """
    if a.numel() == 0:
        return U.sum() * 0.0
    n, m = U.shape
    diff = (F.one_hot(a, n) - F.one_hot(b, n)).to(U.dtype) @ U  # (k, m)
    d = diff.pow(2).sum(1) / m
    sim = similar.to(U.dtype)
    dis = 1 - sim
    pull = (sim * d).sum() / sim.sum().clamp(min=1)
    if margin is None:
        return pull - (dis * d).sum() / dis.sum().clamp(min=1)
    return pull + (dis * (margin - d).clamp(min=0)).sum() / dis.sum().clamp(min=1)


def _best_and_gap(U):
    """``(n, 2)`` float64: the best node of each row of responses ``U`` and the
    gap between its two largest responses (inf for a map of one node)."""
    best = U.argmax(dim=1).to(torch.float64)
    if U.shape[1] < 2:
        return torch.stack([best, torch.full_like(best, float("inf"))], dim=1)
    top = torch.topk(U, 2, dim=1).values.to(torch.float64)
    return torch.stack([best, top[:, 0] - top[:, 1]], dim=1)


class DeepSOMModule(nn.Module):
    """Backbone -> fc8 -> {classifier, L2-normalisation -> inner-product SOM layer}.

    ``forward`` returns ``(logits, z, U)``: class scores of the classifier on
    fc8 (``(n, C)``), the L2-normalised fc8 features ``z`` (``(n, d)``) and
    the SOM layer's response map ``U = z C^T`` (``(n, m)``), the inner
    product with each of the ``m`` unit codewords. The codewords are a
    buffer, not a parameter: the SOM algorithm sets them, not SGD.
    """

    def __init__(self, backbone, *, embedding_dim, n_nodes, n_classes, augment=None):
        super().__init__()
        self.augment = augment
        self.backbone = backbone
        self.fc8 = nn.Linear(backbone.out_features, embedding_dim)
        self.classifier = nn.Linear(embedding_dim, n_classes)
        self.register_buffer(
            "codewords", F.normalize(torch.randn(n_nodes, embedding_dim), dim=1)
        )

    def set_codewords(self, codebook):
        """Copy a ``(m, d)`` codebook (e.g. a fitted SOM's) into the SOM layer."""
        with torch.no_grad():
            self.codewords.copy_(torch.as_tensor(np.asarray(codebook, dtype=np.float32)))

    def forward(self, x):
        if self.augment is not None:
            x = self.augment(x)
        f = self.fc8(self.backbone(x))
        z = F.normalize(f, dim=1)
        return self.classifier(f), z, z @ self.codewords.T


class DeepSOMLoss(nn.Module):
    """``cross_entropy(logits, y) + quantization_weight * L_q(U, pairs, margin)``.

    ``L_q`` is :func:`pairwise_quantization_loss`.

    ``n_pairs`` balanced pairs are drawn from each batch
    (:func:`sample_pairs`). The quantization term is switched on by
    setting ``quantization = True`` (done once the SOM exists: during
    pre-training it is off).
    """

    def __init__(self, quantization_weight=1.0, n_pairs=256, margin=0.1, label_smoothing=0.0):
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        self.quantization_weight = float(quantization_weight)
        self.n_pairs = int(n_pairs)
        self.margin = None if margin is None else float(margin)
        self.quantization = False

    def terms(self, output, y):
        """``{"classification": ..., "quantization": ...}`` scalar tensors."""
        logits, _, U = output
        if self.quantization and self.quantization_weight > 0:
            quant = pairwise_quantization_loss(U, *sample_pairs(y, self.n_pairs),
                                               margin=self.margin)
        else:
            quant = logits.new_zeros(())
        classification = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        return {"classification": classification, "quantization": quant}

    def forward(self, output, y):
        terms = self.terms(output, y)
        return terms["classification"] + self.quantization_weight * terms["quantization"]


@fill_shared_parameters
class DeepSOMQuantizer(BaseQuantizer):
    """Deep supervised quantization by a self-organizing map (DeepSOM).

    A network (a CNN for images, an MLP for vectors) ends in a linear
    layer ``fc8`` of ``embedding_dim`` units (by default twice the number
    of classes), followed by two branches:

    1. classification: a linear layer and softmax cross-entropy;
    2. quantization: L2-normalisation of fc8, then an inner-product SOM
       layer whose weights are ``m = rows * cols`` unit codewords laid out
       on a 2-D grid; its output map is ``U = z C^T``, the similarity of the
       normalised feature ``z`` to every codeword.

    Loss: ``cross_entropy + quantization_weight * L_q``, where ``L_q`` is the supervised
    quantization loss over balanced pairs drawn from each batch
    (:func:`pairwise_quantization_loss`): ``||U_a - U_b||^2 / m`` averaged
    over similar pairs minus the same over dissimilar pairs.

    Training schedule (see :meth:`fit`): pretrain the network with the
    classifier alone (``max_epochs`` epochs); train the SOM on the
    normalised fc8 features of the training set with the classic
    neighbourhood update and a shrinking radius
    (:class:`SelfOrganizingMap`, ``som_n_iter`` updates); then
    ``n_alternations`` times: train the whole network with the full loss
    (``alternation_epochs`` epochs), and retrain the SOM on the new
    features, starting from its current codewords. ``n_alternations=0``
    is the paper's DeepSOM-0. Ctrl-C in any phase ends it and skips the
    rest of the schedule; the SOM is then (re)fitted on the features of the
    network as trained, so the model stays consistent (``interrupted_``;
    see :class:`skhash.base.BaseDeepEncoder`).

    A code is the index of the node with the largest response
    (``argmax U``), ``(n, 1)`` -- a product code with ``M = 1`` and
    ``K = m`` (uint8 up to 256 nodes, uint16 above). A code is a function
    of the item alone, never of the other rows transformed with it: float32
    inference in batches moves the responses by ~1e-7 with the batch's
    make-up, so a row whose two best responses are within ``1e-4`` of each
    other is encoded on its own, with the responses in float64 (exact ties:
    the lowest node index). Two codes are compared
    by the squared distance between their codewords
    (:class:`skhash.codes.ProductSpace`), read from a stored ``m x m``
    table when it fits in ``ProductSpace.max_table_bytes`` (64 MiB: maps of
    up to 4,096 nodes) and computed from the codewords per query otherwise
    (a 75 x 75 map). Asymmetric search compares ``z`` itself with the
    codewords. :meth:`predict` is the classification branch.

    Parameters
    ----------
    map_shape : tuple (rows, cols), default=(20, 20)
        The SOM grid; each side >= 1.
    n_alternations : int >= 0, default=10
        Rounds of {train the network, retrain the SOM} after the SOM's first
        training; 0 gives DeepSOM-0.
    quantization_weight : float >= 0, default=1.0
        Weight of the quantization loss.
    margin : float >= 0 or None, default=0.1
        Dissimilar pairs of the quantization loss are pushed apart only until
        their distance reaches ``margin`` (``0``: similar pairs only); None
        is the paper's unbounded loss (see ``pairwise_quantization_loss``).
    initial_radius : float > 0 or "auto", default="auto"
        Neighbourhood radius of the SOM at its first update, in grid units;
        "auto" is half the longer side of the map.
    final_radius : float > 0, default=0.5
        Radius at the SOM's last update.
    som_n_iter : int, default=5000
        Updates (one training sample each) per SOM training.
    som_learning_rate : float in (0, 1], default=0.5
        SOM learning rate at the first update (decays to 0.01).
    n_pairs : int, default=256
        Pairs drawn from each batch for the quantization loss (half similar,
        half dissimilar).
    alternation_epochs : int, default=2
        Epochs of network training in each alternation round.
    embedding_dim : int or "auto", default="auto"
        Width of fc8; "auto" is twice the number of classes.
    feature_units : int or None, default=512
        Feature layer after skhash's own CNNs (see
        :func:`skhash.nn.make_feature_extractor`).
    shift_augment : int or "auto", default="auto"
        Random shifts of up to this many pixels for training images of side
        >= 16 (a random crop of the zero-padded image); "auto": 4 for colour
        photos of side >= 32, 2 for other images. Not used at inference.
    flip_augment : bool or "auto", default="auto"
        Random left-right mirroring of training images; "auto": on for
        colour photos of side >= 32 only.
    cutout_augment : int >= 0 or "auto", default="auto"
        Side of a square set to zero at a random place in each training
        image of side >= 16 (cut-out; 0: none); "auto": 16 for colour
        photos of side >= 32 (chosen with ``label_smoothing`` and
        ``max_epochs`` on a validation split: see the docs page), 0
        otherwise. Not used at inference.
    label_smoothing : float in [0, 1) or "auto", default="auto"
        Label smoothing of the classification loss; "auto": 0.1 for colour
        photos of side >= 32 (with cut-out 16 and 150 epochs, the best
        setting on a validation split of CIFAR-10's training set: see the
        docs page), 0 otherwise.
    lr_schedule : {"auto", "constant", "cosine", "onecycle"}, default="auto"
        Learning-rate schedule over the whole training; "auto": one-cycle
        for colour photos of side >= 32, constant otherwise.
    lr, weight_decay : float or "auto", default="auto"
        "auto": lr 2e-3 and weight decay 5e-4 for colour photos of side
        >= 32, lr 1e-3 and no weight decay otherwise (see
        :class:`skhash.base.BaseDeepEncoder`).
    max_epochs : int or "auto", default="auto"
        Length of the pre-training; "auto": 20 epochs, and for colour photos
        of side >= 32 at least 6,000 optimizer steps, at most 150 epochs
        (150 on CIFAR-10's 5,000 CNNH training images; see
        :class:`skhash.base.BaseDeepEncoder`). ``max_epochs_`` holds
        the number used.
    %(shared_parameters)s

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network (``net_.history`` spans pre-training and every
        alternation round).
    classes_ : ndarray of shape (n_classes,)
    som_ : SelfOrganizingMap
        The map trained last, on the final features (metric "cosine").
    codebooks_ : ndarray of shape (1, rows * cols, embedding_dim)
        The unit codewords, as one product-code codebook.
    grid_ : ndarray of shape (rows * cols, 2)
        Grid coordinates (row, col) of each node.
    map_shape_ : tuple (rows, cols)
    code_space_ : skhash.codes.ProductSpace
    %(shared_attributes)s

    See Also
    --------
    SelfOrganizingMap : the SOM on its own.
    DPQQuantizer : supervised product quantization, end to end.
    skhash.plotting.plot_response_map, skhash.plotting.plot_som : figures.

    Notes
    -----
    M. Wang, W. Zhou, Q. Tian, J. Pu and H. Li, "Deep Supervised
    Quantization by Self-Organizing Map", ACM Multimedia 2017. What we
    changed: image inputs use skhash's CNN with a feature layer and random
    shifts (colour photos: :class:`skhash.nn.CifarCNN` with batch norm,
    crops, flips, a one-cycle schedule and label smoothing 0.1) instead of an
    ImageNet-pretrained CNN-F; Adam instead of SGD; pairs are drawn within
    each batch and the loss terms are means (over pairs, and over the
    nodes of ``U``), so ``quantization_weight`` does not depend on the map size; the
    SOM's codewords are set by the SOM algorithm only (not by SGD); the
    defaults (a 20 x 20 map, radius 10) suit 28 x 28 images on a CPU, where
    the paper uses a 75 x 75 map with radius 65. See the docs page for the
    mapping to the paper's equations.

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> from skhash.quantization import DeepSOMQuantizer
    >>> X, y = load_digits(return_X_y=True)
    >>> q = DeepSOMQuantizer(map_shape=(8, 8), n_alternations=1, max_epochs=3,
    ...                      som_n_iter=1000, input_shape=(1, 8, 8), random_state=0)
    >>> codes = q.fit(X, y).transform(X[:3])
    >>> codes.shape, codes.dtype
    ((3, 1), dtype('uint8'))
    >>> q.inverse_transform(codes).shape
    (3, 20)
    >>> q.predict(X[:3]).shape
    (3,)
    """

    _default_epochs = 20  # the pre-training
    # The colour recipe (photos of side >= 32): label smoothing 0.1, cut-out
    # 16 and a pre-training of up to 150 epochs, chosen together on a
    # validation split of CIFAR-10's CNNH training set (docs: DeepSOM page)
    _colour_cutout = 16
    _colour_steps = 6000
    _colour_max_epochs = 150
    _colour_recipe = {**BaseQuantizer._colour_recipe, "label_smoothing": 0.1}
    _default_recipe = {**BaseQuantizer._default_recipe, "label_smoothing": 0.0}

    _parameter_constraints = {
        **BaseQuantizer._parameter_constraints,
        "map_shape": [tuple, list],
        "n_alternations": [Interval(numbers.Integral, 0, None, closed="left")],
        "quantization_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "margin": [Interval(numbers.Real, 0, None, closed="left"), None],
        "initial_radius": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "final_radius": [Interval(numbers.Real, 0, None, closed="neither")],
        "som_n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "som_learning_rate": [Interval(numbers.Real, 0, 1, closed="right")],
        "n_pairs": [Interval(numbers.Integral, 2, None, closed="left")],
        "alternation_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "embedding_dim": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "feature_units": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "cutout_augment": [StrOptions({"auto"}),
                           Interval(numbers.Integral, 0, None, closed="left")],
        "label_smoothing": [StrOptions({"auto"}), Interval(numbers.Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        map_shape=(20, 20),
        *,
        n_alternations=10,
        quantization_weight=1.0,
        margin=0.1,
        initial_radius="auto",
        final_radius=0.5,
        som_n_iter=5000,
        som_learning_rate=0.5,
        n_pairs=256,
        alternation_epochs=2,
        embedding_dim="auto",
        feature_units=512,
        shift_augment="auto",
        flip_augment="auto",
        cutout_augment="auto",
        label_smoothing="auto",
        lr_schedule="auto",
        input_shape=None,
        backbone="auto",
        hidden_units=(512,),
        max_epochs="auto",
        batch_size=128,
        lr="auto",
        optimizer="adam",
        weight_decay="auto",
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        verbose=0,
        device="cpu",
        random_state=None,
    ):
        store_init_params(self, locals())

    # ------------------------------------------------------------------ model
    def _check_params_consistency(self):
        super()._check_params_consistency()
        self._map_shape = check_map_shape(self.map_shape, type(self).__name__)

    def _build_module(self, n_features, n_outputs):
        dim = self.embedding_dim
        self._embedding_dim = 2 * n_outputs if dim == "auto" else int(dim)
        backbone, augment = self._feature_extractor(n_features)
        rows, cols = self._map_shape
        return DeepSOMModule(backbone, embedding_dim=self._embedding_dim, n_nodes=rows * cols,
                             n_classes=n_outputs, augment=augment)

    def _schedule_epochs(self):
        # the cosine schedule spans pre-training and every alternation round
        return self.max_epochs_ + self.n_alternations * self.alternation_epochs

    def _build_criterion(self, n_outputs):
        return DeepSOMLoss(quantization_weight=self.quantization_weight, n_pairs=self.n_pairs,
                           margin=self.margin,
                           label_smoothing=self._recipe("label_smoothing"))

    # --------------------------------------------------------------- schedule
    def _train(self, X, y):
        """pretrain -> train_som -> n_alternations x (train_all -> retrain_som).

        Ctrl-C anywhere skips the rest; :meth:`_finish_training` then fits
        the SOM on the features of the network as it was trained, unless the
        last SOM already was.
        """
        net = self.net_
        self._som = None  # the SOM of this fit, trained last
        self._som_stale = True  # whether the network moved since (or no SOM yet)
        # pretrain: classification only (max_epochs epochs)
        self._fit_net(X, y, phase="pre-training")
        self._train_som(X, init="random")  # train_som
        net.criterion_.quantization = True
        for round_ in range(self.n_alternations):
            self._som_stale = True
            self._fit_net(X, y, epochs=self.alternation_epochs,  # train_all
                          phase=f"alternation {round_ + 1} of {self.n_alternations}")
            self._train_som(X, init=self._som.codebooks_[0])  # retrain_som

    def _finish_training(self, X, y):
        if self._som_stale:  # Ctrl-C cut the schedule short
            self._train_som(X, init="random" if self._som is None else self._som.codebooks_[0])

    def _train_som(self, X, init):
        """Fit the SOM on the normalised fc8 features of ``X``; load it into the net."""
        # seeded from torch's RNG, which fit seeds from random_state
        seed = int(torch.randint(np.iinfo(np.int32).max, (1,)).item())
        Z = self._infer(X, 1).numpy()
        self._check_finite_features(Z, "the SOM training")
        som = SelfOrganizingMap(
            self._map_shape, n_iter=self.som_n_iter,
            initial_radius=self.initial_radius, final_radius=self.final_radius,
            learning_rate=self.som_learning_rate, metric="cosine", init=init,
            random_state=seed,
        ).fit(Z)
        self.net_.module_.set_codewords(som.codebooks_[0])
        self._som, self._som_stale = som, False

    def _after_fit(self, X, y):
        self.som_ = self._som
        del self._som, self._som_stale
        self.map_shape_ = self._map_shape
        self.grid_ = self.som_.grid_
        self.codebooks_ = self.som_.codebooks_.astype(np.float32)
        super()._after_fit(X, y)

    # -------------------------------------------------------------- inference
    def _codes(self, X):
        """Best node per row, independent of the batch the row is in.

        In batches (fast), with the gap between the two best responses; a
        row with a gap below ``_tie_gap`` -- where the ~1e-7 batch-dependent
        rounding of float32 inference could flip the winner -- is recomputed
        alone, its responses in float64 and summed per row in a fixed order
        (:meth:`_code_alone`). Either way the code is the one the row gets
        when encoded on its own.
        """
        best = self._infer(X, 2, reduce=_best_and_gap).numpy()
        codes = best[:, 0].astype(np.int64)
        for i in np.flatnonzero(best[:, 1] < self._tie_gap):
            codes[i] = self._code_alone(X[i:i + 1])
        return codes[:, None]

    # responses are cosines in [-1, 1]; batch rounding moves them ~1e-7
    _tie_gap = 1e-4

    def _code_alone(self, x):
        """Code of one row ``(1, n_features)`` from float64 responses."""
        z = self._infer(x, 1).numpy()[0].astype(np.float64)
        C = self.codebooks_[0].astype(np.float64)
        return int(np.argmax((C * z[None, :]).sum(axis=1)))

    def _embed(self, X):
        return self._infer(X, 1).numpy()

    def response_map(self, X):
        """The SOM layer's responses ``U = z C^T`` on the grid: ``(n, rows, cols)``."""
        X = self._validated(X)
        return self._infer(X, 2).numpy().reshape(X.shape[0], *self.map_shape_)

    def node_positions(self, codes):
        """Grid coordinates (row, col) of codes ``(n, 1)``: ``(n, 2)`` integers."""
        codes = self.code_space_.check_codes(codes)
        return self.grid_[codes[:, 0].astype(np.intp)].astype(np.intp)

    def decision_function(self, X):
        """Class scores of the classification branch ``(n_samples, n_classes)``."""
        X = self._validated(X)
        return self._infer(X, 0).numpy()

    def predict_proba(self, X):
        """Class probabilities (softmax of the classification branch)."""
        return torch.softmax(torch.from_numpy(self.decision_function(X)), dim=1).numpy()

    def predict(self, X):
        """Class labels from the classification branch."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]
