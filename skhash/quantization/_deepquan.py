"""DeepQuan: unsupervised deep product quantization (Chen, Cheung & Wang).

An autoencoder's hidden code is product-quantized by k-means codebooks and
shaped by a weighted triplet loss (pull to the assigned codewords, push from
random other codewords) plus the reconstruction error.
"""

import numbers
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._docstrings import fill_shared_parameters
from ..base import BaseDeepEncoder, BaseQuantizer, _Net
from ..utils._params import store_init_params
from ._pq import fit_codebooks, resolve_product_size

__all__ = ["DeepQuanHasher", "DeepQuanModule", "DeepQuanLoss", "weighted_triplet_loss"]

_EPS = 1e-8  # inside the square roots: the gradient of ||v|| at v = 0
_STABILITY_ROWS = 10_000  # rows the k-means stability is measured on (at most)


def _mlp(sizes, last_activation=False):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DeepQuanModule(nn.Module):
    """Autoencoder ``[D-h1-...-L]`` + mirrored decoder, ReLU on every layer but the last.

    ``forward`` returns ``(z, x_hat)``: the hidden code (n, L) and the
    reconstruction (n, D). The network sees the inputs standardized,
    ``(x - shift) / scale`` (the buffers; the identity unless set), and the
    reconstruction is mapped back to the input's scale. In training mode a
    fraction ``corruption`` of the standardized input values is set to zero
    (masking noise of a denoising autoencoder).
    """

    def __init__(self, n_features, hidden_units, code_dim, corruption=0.0, M=1,
                 normalize=False, shift=None, scale=1.0):
        super().__init__()
        sizes = [n_features, *hidden_units, code_dim]
        self.encoder = _mlp(sizes)
        self.decoder = _mlp(sizes[::-1])
        self.corruption = corruption
        self.M = M
        self.normalize = normalize
        shift = torch.zeros(n_features) if shift is None else torch.as_tensor(shift)
        self.register_buffer("shift", shift.to(torch.float32).reshape(n_features))
        self.register_buffer("scale", torch.tensor(float(scale)))

    def _standardize(self, x):
        return (x - self.shift) / self.scale

    def _code(self, x):
        z = self.encoder(x)
        if self.normalize:
            n = z.shape[0]
            z = F.normalize(z.reshape(n, self.M, -1), dim=-1).reshape(n, -1)
        return z

    def encode(self, x):
        """The hidden code ``z`` of inputs ``x``; unit sub-vectors when ``normalize``."""
        return self._code(self._standardize(x))

    def decode(self, z):
        """The reconstruction of hidden codes ``z``, in the input's scale."""
        return self.decoder(z) * self.scale + self.shift

    def forward(self, x):
        x = self._standardize(x)
        if self.training and self.corruption > 0:
            x = x * (torch.rand_like(x) >= self.corruption).to(x.dtype)
        z = self._code(x)
        return z, self.decode(z)


def _assigned_and_negative(z, codebooks):
    """Concatenated assigned codewords ``C+`` and random non-assigned ones ``C-``.

    ``z`` is (n, M * d), ``codebooks`` (M, K, d). In each subspace the
    assigned codeword is the nearest one (k-means' assignment rule); the
    negative is drawn uniformly among the other ``K - 1``.
    """
    M, K, d = codebooks.shape
    n = z.shape[0]
    sub = z.detach().reshape(n, M, d)
    dist = ((sub[:, :, None, :] - codebooks[None]) ** 2).sum(-1)  # (n, M, K)
    pos = dist.argmin(-1)
    neg = (pos + torch.randint(1, K, pos.shape, device=z.device)) % K
    parts = torch.arange(M, device=z.device)[None, :]
    return codebooks[parts, pos].reshape(n, M * d), codebooks[parts, neg].reshape(n, M * d)


def weighted_triplet_loss(z, positive, negative, margin, negative_weight):
    """Per-sample ``max(margin - (negative_weight * ||z - C-|| - ||z - C+||), 0)``.

    ``z``, ``positive`` (``C+``) and ``negative`` (``C-``) have shape (n, L);
    returns shape (n,). The norms are Euclidean (not squared); a tiny
    constant inside the square root keeps the gradient finite at ``z = C+``.
    """
    d_pos = torch.sqrt(((z - positive) ** 2).sum(1) + _EPS)
    d_neg = torch.sqrt(((z - negative) ** 2).sum(1) + _EPS)
    return torch.relu(margin - (negative_weight * d_neg - d_pos))


class DeepQuanLoss(nn.Module):
    """DeepQuan's objective ``mean_i [Q_i + eta * ||x_i - g(z_i)||^2 / (D * v)]``.

    ``v`` is ``input_variance``, the training inputs' mean variance per
    feature (:class:`DeepQuanHasher` measures it in ``fit``), so that the
    reconstruction term is the error relative to the data's own spread.

    ``Q_i`` is the weighted triplet loss (``quantization_loss="triplet"``)
    or the quadratic PQ loss ``||z_i - C+_i||^2`` (``"quadratic"``, for the
    ablation). Before :meth:`set_codebooks` is called (autoencoder
    pre-training) only the reconstruction term is used.
    """

    def __init__(self, *, margin=1.0, negative_weight=0.8, eta=0.54, quantization_loss="triplet",
                 input_variance=1.0):
        super().__init__()
        self.margin, self.negative_weight, self.eta = margin, negative_weight, eta
        self.quantization_loss = quantization_loss
        self.input_variance = input_variance
        self.register_buffer("codebooks", torch.zeros(0, 0, 0))

    def set_codebooks(self, codebooks):
        """Fix the codebooks ``(M, K, d)`` used until the next call (None: pre-training)."""
        if codebooks is None:
            self.codebooks = torch.zeros(0, 0, 0, device=self.codebooks.device)
        else:
            self.codebooks = torch.as_tensor(codebooks, dtype=torch.float32).to(
                self.codebooks.device
            )

    def terms(self, output, x):
        """The loss terms (batch means) as a dict of scalar tensors."""
        z, x_hat = output
        # squared error per input feature, relative to the inputs' mean variance
        # per feature: the weight eta depends neither on D nor on the data's scale
        terms = {"reconstruction": ((x - x_hat) ** 2).mean() / self.input_variance}
        if self.codebooks.numel():
            positive, negative = _assigned_and_negative(z, self.codebooks)
            if self.quantization_loss == "triplet":
                terms["triplet"] = weighted_triplet_loss(
                    z, positive, negative, self.margin, self.negative_weight
                ).mean()
            else:
                terms["quadratic"] = ((z - positive) ** 2).sum(1).mean()
        return terms

    def forward(self, output, x):
        terms = self.terms(output, x)
        loss = self.eta * terms.pop("reconstruction")
        for value in terms.values():
            loss = loss + value
        return loss


def _mean_variance(X, chunk=4096):
    """``(mean, variance)``: the column means and the mean over the columns of
    each column's variance, in float64, a chunk of rows at a time (no float64
    copy of a large ``X``)."""
    n = X.shape[0]
    mean = np.zeros(X.shape[1])
    for start in range(0, n, chunk):
        mean += X[start:start + chunk].sum(0, dtype=np.float64)
    mean /= n
    squares = 0.0
    for start in range(0, n, chunk):
        squares += float(((X[start:start + chunk] - mean) ** 2).sum())
    return mean, squares / (n * X.shape[1])


class _AutoencoderNet(_Net):
    """skorch net whose loss compares the output with the input batch."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, X.to(self.device))


@fill_shared_parameters
class DeepQuanHasher(BaseQuantizer):
    """DeepQuan: unsupervised deep product quantization of an autoencoder's code.

    An autoencoder (``D-500-500-2000-L`` with a mirrored decoder, ReLU on
    every layer but the last) is first pre-trained as a denoising
    autoencoder. Its hidden code ``z`` (``L = code_dim``) is split into
    ``M`` sub-vectors, each quantized to one of ``K`` codewords found by
    k-means, so a code takes ``M * log2(K)`` bits. Where that code has
    cluster structure (its k-means is stable across seeds, ``min_stability``),
    training then alternates
    one epoch of the network on the weighted triplet loss plus the
    reconstruction error with one k-means update of the codebooks
    (warm-started from the previous ones); the final codebooks come from
    k-means on the trained network's codes of all training rows. Ctrl-C in
    any phase ends it and skips the rest of the schedule, and the final
    k-means still runs (``interrupted_``; see
    :class:`skhash.base.BaseDeepEncoder`). No labels are used. Despite
    the "Hasher" in its name (the paper's), the codes are product codes:
    ``transform`` gives ``(n, M)`` codeword indices.

    Parameters
    ----------
    M : int, default=2
        Number of subspaces (sub-codes). 16 bits with ``K=256``.
    K : int, default=256
        Codewords per subspace (the paper's 256); at most the number of
        training samples.
    n_bits : int or None, default=None
        Code length; when given it sets ``M = n_bits / log2(K)`` (an error
        when that is not a whole number) and overrides ``M``.
    code_dim : int or None, default=None
        Width ``L`` of the hidden code; None means ``16 * M``. Must be a
        multiple of ``M``.
    margin : float, default=1.0
        Margin ``s >= 0`` of the weighted triplet loss.
    negative_weight : float, default=0.8
        Weight ``lambda`` in (0, 1) of the distance to the negative codewords.
    eta : float, default=0.54
        Weight ``eta >= 0`` of the reconstruction term
        ``||x - g(z)||^2 / (D * v)``: the squared error per input feature
        relative to ``v``, the training inputs' mean variance per feature
        (``input_variance_``), so the weight depends neither on the input
        width ``D`` nor on the scale of the data (pixels in [0, 1] or
        [0, 255], GIST descriptors). 0.54 is the weight 8 per feature that
        was selected on MNIST (mean pixel variance 0.067), about 0.01 on the
        summed error of its 784 pixels.
    quantization_loss : {"triplet", "quadratic"} or None, default="triplet"
        The quantization term of the objective: the weighted triplet loss;
        the quadratic PQ loss ``||z - C+||^2`` (the paper's ablation); or
        None for **DAE-PQ**, the baseline without fine-tuning (product
        quantization of the pre-trained autoencoder's code; ``max_epochs``
        and ``min_stability`` are then unused).
    min_stability : float in [0, 1], default=0.3
        Fine-tune only where the pre-trained code has cluster structure for
        the triplet loss to sharpen: after pre-training, ``fit`` measures the
        stability of the code's k-means (``code_stability_``: the adjusted
        Rand index between the assignments of two k-means runs from
        different seeds, the mean over the ``M`` subspaces, on up to 10,000
        training rows; no labels) and skips the fine-tuning, giving DAE-PQ,
        when it is below ``min_stability`` (``fine_tuned_``). 0 always
        fine-tunes (the paper's method). 0.3 was chosen on validation
        splits of the training data of five datasets (see the Notes). The
        measure costs two k-means of at most 10,000 rows and draws its own
        seeds: a fit that goes on to fine-tune is the same as with
        ``min_stability=0``.
    hidden_units : tuple of int, default=(500, 500, 2000)
        Encoder widths before the code layer (mirrored in the decoder).
    corruption : float in [0, 1), default=0.2
        Fraction of input values zeroed at random during training
        (denoising autoencoder); 0 trains a plain autoencoder.
    normalize : bool, default=True
        Scale each of the ``M`` sub-vectors of ``z`` to unit length (the
        code layer's output, before the decoder and the quantizer). Without
        it the triplet loss can be lowered by inflating the scale of ``z``
        (see the Notes).
    standardize : bool, default=True
        Centre the inputs on the training rows' mean (``input_mean_``) and
        divide them by their overall standard deviation
        ``sqrt(input_variance_)`` before the encoder; the decoder's output is
        mapped back to the input's scale. One scale for all features, so the
        inputs' Euclidean geometry is kept (per-feature scaling would
        reweight the features); the network then sees inputs of mean 0 and
        variance 1 per feature on average, whatever the data's offset and
        scale. False feeds the inputs as they are.
    pretrain_epochs : int or "auto", default="auto"
        Epochs of autoencoder pre-training (reconstruction only). ``"auto"``:
        at least the 720 optimizer updates of the MNIST benchmark runs (20
        epochs of 36 batches: 9,000 images, batches of 256; the defaults were
        selected with 20 epochs on 8,000 of them),
        and at least 20 epochs: ``max(20, ceil(720 / batches_per_epoch))``.
        On 1,497 digits that is 120 epochs; on MNIST-sized sets and larger, 20.
    max_epochs : int or "auto", default="auto"
        Alternations of one network epoch on the full objective and one
        k-means update. ``"auto"``: ``max(10, ceil(360 / batches_per_epoch))``
        (MNIST's 10 rounds of 36 updates; 60 rounds on 1,497 digits).
    kmeans_max_iter : int, default=20
        Iterations of each warm-started k-means update (the first k-means
        after pre-training runs to convergence, up to 100 iterations).
    batch_size, lr, optimizer, weight_decay, validation_fraction, callbacks, \
verbose, device, random_state :
        As in the other skhash estimators (see
        :class:`skhash.base.BaseDeepEncoder`). ``validation_fraction``
        holds out training rows to monitor ``valid_loss``; there is no early
        stopping (the objective changes with the codebooks at every epoch).

    Attributes
    ----------
    codebooks_ : ndarray of shape (M, K, L / M)
        The final codebooks (k-means on the codes of all training rows).
    code_space_ : ProductSpace
        How codes compare (symmetric and asymmetric lookup tables).
    n_bits_ : int
        ``M * log2(K)`` rounded down.
    input_variance_ : float
        The training inputs' mean variance per feature, the scale of the
        reconstruction term (1.0 where the inputs are constant).
    input_mean_ : ndarray of shape (n_features,)
        The training inputs' mean (subtracted before the encoder when
        ``standardize``).
    pretrain_epochs_ : int
        The pre-training epochs of the fit (``"auto"`` resolved;
        ``max_epochs_``, below, is its fine-tuning rounds).
    code_stability_ : float or None
        The k-means stability of the pre-trained code (see
        ``min_stability``); None with ``quantization_loss=None`` or when
        the fit was interrupted before it was measured.
    fine_tuned_ : bool
        Whether the fine-tuning ran (False for DAE-PQ, for a code less
        stable than ``min_stability`` and when Ctrl-C came first).
    net_ : skorch NeuralNet
        The trained autoencoder (``net_.module_``: a :class:`DeepQuanModule`).
    %(shared_attributes)s

    See Also
    --------
    ProductQuantizer : PQ on the inputs, no network.
    DPQQuantizer : supervised deep product quantization.

    Notes
    -----
    J. Chen, W. K. Cheung and A. Wang, "Learning Deep Unsupervised Binary
    Codes for Image Retrieval", IJCAI 2018. The per-sample objective is
    ``max(s - (negative_weight * ||z - C-|| - ||z - C+||), 0) + eta * ||x - g(z)||^2``
    (batch means), where ``C+`` concatenates the codewords assigned to
    ``z`` and ``C-`` one random non-assigned codeword per subspace.

    What we chose where the paper leaves room: the assignment ``C+`` of a
    sample is its nearest codeword under the current epoch's codebooks
    (k-means' assignment rule, re-evaluated as the network moves ``z``);
    pre-training is a denoising autoencoder trained end to end with Adam
    (not layer-wise); the k-means are scikit-learn's ``KMeans``; the
    reconstruction error is taken per input feature. We also normalise
    each sub-vector of ``z`` (``normalize=True``): on MNIST at 16 bits,
    without it the triplet term rewarded a growing scale of ``z`` and
    retrieval mAP fell as training went on (0.54 after 10 epochs, 0.48
    after 30, below the pre-trained autoencoder's 0.545); with it and the
    defaults, DAE-PQ reaches 0.603 and DeepQuan 0.698, PQ 0.489 (16 bits,
    symmetric; our measurements with two torch threads,
    see the benchmarks page; measured before ``standardize`` became the
    default: with it DeepQuan reaches 0.722 and DAE-PQ 0.602). Three
    defaults are derived from the data in ``fit`` so that they transfer
    beyond MNIST (chosen on validation splits of the training data of
    digits, MNIST and CIFAR-10-GIST, see the
    DeepQuan page): the inputs are standardized before the encoder
    (``standardize``; GIST values are a few hundredths, pixels up to 1),
    the reconstruction term is taken relative to the
    inputs' variance (on GIST, whose values vary 68 times less than MNIST's
    pixels, the absolute weight let the triplet term take over), and the
    ``"auto"`` epochs keep at least MNIST's number of optimizer updates on
    small training sets (with 1,497 digits, 20 epochs are 120 updates and
    the deep autoencoder hardly trains). Whether to fine-tune at all is
    decided on the data too (``min_stability``, ours): the triplet term
    pulls every code onto its k-means cell, which helps where the cells
    are real clusters (digits, MNIST, jittered MNIST) and costs mAP where
    k-means cuts a continuum into cells that depend on its seed
    (CIFAR-10-GIST and CIFAR-10 pixels, where DAE-PQ does better). On
    validation splits the code stability was 0.51 (digits), 0.40
    (MNIST), 0.34 (jittered MNIST), 0.26 (CIFAR-10 pixels) and 0.20
    (CIFAR-10-GIST); the fine-tuning gained on the first three and lost on
    the last two, and 0.3 lies between; see the benchmarks page.
    ``inverse_transform`` decodes the codewords through the decoder, giving
    rows in the input space.

    Examples
    --------
    >>> from skhash.quantization import DeepQuanHasher
    >>> from skhash.datasets import load_digits
    >>> X, _ = load_digits(return_X_y=True)  # no labels: DeepQuan learns from X alone
    >>> dq = DeepQuanHasher(2, 16, hidden_units=(32,), pretrain_epochs=2, max_epochs=2,
    ...                     random_state=0)
    >>> codes = dq.fit(X).transform(X[:3])
    >>> codes.shape, dq.n_bits_
    ((3, 2), 8)
    >>> dq.inverse_transform(codes).shape  # decoded back to the input space
    (3, 64)
    """

    # Inputs are vectors (images are flattened): the training group only, no
    # image shape, backbone or early stopping (the objective moves with the
    # codebooks, so a validation loss would not select a model).
    _parameter_constraints = {
        **BaseDeepEncoder._training_constraints,
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "M": [Interval(numbers.Integral, 1, None, closed="left")],
        "K": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_bits": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "code_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "margin": [Interval(numbers.Real, 0, None, closed="left")],
        "negative_weight": [Interval(numbers.Real, 0, 1, closed="neither")],
        "eta": [Interval(numbers.Real, 0, None, closed="left")],
        "quantization_loss": [StrOptions({"triplet", "quadratic"}), None],
        "min_stability": [Interval(numbers.Real, 0, 1, closed="both")],
        "corruption": [Interval(numbers.Real, 0, 1, closed="left")],
        "pretrain_epochs": [Interval(numbers.Integral, 0, None, closed="left"),
                            StrOptions({"auto"})],
        "kmeans_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "standardize": ["boolean"],
    }

    _requires_y = False
    _net_class = _AutoencoderNet

    def __init__(self, M=2, K=256, *, n_bits=None, code_dim=None, margin=1.0, negative_weight=0.8,
                 eta=0.54, quantization_loss="triplet", min_stability=0.3,
                 hidden_units=(500, 500, 2000),
                 corruption=0.2, normalize=True, standardize=True, pretrain_epochs="auto",
                 max_epochs="auto", kmeans_max_iter=20,
                 batch_size=256, lr=1e-3, optimizer="adam", weight_decay=0.0,
                 validation_fraction=None, callbacks=None, verbose=0, device="cpu",
                 random_state=None):
        store_init_params(self, locals())

    # ------------------------------------------------------------ parameters
    def _check_params_consistency(self):
        name = type(self).__name__
        self._M = resolve_product_size(self.M, self.K, self.n_bits, name)
        self._code_dim = 16 * self._M if self.code_dim is None else int(self.code_dim)
        if self._code_dim % self._M:
            raise ValueError(
                f"code_dim={self._code_dim} cannot be split into M={self._M} equal subspaces: "
                f"M * (L / M) != L. Choose code_dim a multiple of M."
            )
        super()._check_params_consistency()

    # "auto" epochs: at least the updates of the MNIST runs the defaults were
    # selected on (9,000 images in batches of 256: 36 an epoch), and at least
    # their 20 pre-training epochs and 10 fine-tuning rounds
    _auto_epochs = {"pretrain_epochs": (20, 720), "max_epochs": (10, 360)}

    def _resolve_max_epochs(self, batches_per_epoch):
        for name, (epochs, updates) in self._auto_epochs.items():
            value = getattr(self, name)
            if isinstance(value, str):  # "auto"
                value = max(epochs, -(-updates // max(1, batches_per_epoch)))
            setattr(self, name + "_", int(value))
        return max(1, self.max_epochs_)

    def _check_params_vs_input(self, X_train, n_samples):
        mean, variance = _mean_variance(X_train)
        # constant inputs: nothing to scale by (their reconstruction is learnt at once)
        self._input_variance = variance if variance > 0 else 1.0
        self._input_mean = mean
        if self.K > X_train.shape[0]:
            split = (f" after the validation split ({n_samples} samples in all)"
                     if X_train.shape[0] < n_samples else "")
            raise ValueError(
                f"K={self.K} codewords per subspace need at least {self.K} training samples"
                f"{split}, got {X_train.shape[0]}."
            )

    # --------------------------------------------------------------- network
    def _build_module(self, n_features, n_outputs):
        shift, scale = None, 1.0
        if self.standardize and hasattr(self, "_input_mean"):
            shift, scale = self._input_mean, float(np.sqrt(self._input_variance))
        return DeepQuanModule(n_features, tuple(int(v) for v in self.hidden_units),
                              self._code_dim, corruption=float(self.corruption), M=self._M,
                              normalize=bool(self.normalize), shift=shift, scale=scale)

    def _build_criterion(self, n_outputs):
        return DeepQuanLoss(margin=float(self.margin), negative_weight=float(self.negative_weight),
                            eta=float(self.eta), quantization_loss=self.quantization_loss,
                            input_variance=getattr(self, "_input_variance", 1.0))

    @staticmethod
    def _seed():
        """A seed drawn from the fit's seeded torch RNG."""
        return int(torch.randint(np.iinfo(np.int32).max, (1,)))

    def _kmeans(self, X, init, seed=None, Z=None):
        if Z is None:
            Z = self._codes_of(X)
        self._check_finite_features(Z, "k-means")
        if seed is None:
            seed = self._seed()
        codebooks, _, _ = fit_codebooks(
            Z, self._M, self.K, init=init, max_iter=100 if init is None else self.kmeans_max_iter,
            random_state=seed,
        )
        return codebooks

    def _codes_of(self, X):
        return self._infer(X, 0).numpy()

    def _code_stability(self, Z):
        """The adjusted Rand index between two k-means of the codes ``Z``
        (different seeds; up to ``_STABILITY_ROWS`` rows drawn at random),
        the mean over the subspaces: 1 where the codes fall into the same
        cells whatever the seed, near 0 where the cells are arbitrary."""
        rows = np.random.RandomState(self._seed()).permutation(len(Z))[:_STABILITY_ROWS]
        runs = [fit_codebooks(Z[rows], self._M, self.K, random_state=self._seed())[1]
                for _ in range(2)]
        return float(np.mean([adjusted_rand_score(runs[0][:, m], runs[1][:, m])
                              for m in range(self._M)]))

    def _train(self, X, y):
        """pretrain -> k-means -> max_epochs x (one epoch -> k-means update).

        Ctrl-C anywhere skips the rest; ``_after_fit``'s final k-means
        then fits the codebooks to the network as it was trained (warm-
        started from the last completed k-means, if any).
        """
        net = self.net_
        self._train_codebooks = None  # the last completed k-means of this fit
        self._stability, self._fine_tuned = None, False
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*initialized.*", category=UserWarning)
            net.initialize()
        criterion = net.criterion_
        criterion.set_codebooks(None)
        if self.pretrain_epochs_:
            self._fit_net(X, None, epochs=self.pretrain_epochs_, phase="pre-training")
        Z = self._codes_of(X)
        codebooks = self._train_codebooks = self._kmeans(X, None, Z=Z)
        if self.quantization_loss is not None:
            # its own seeds, the fit's RNG left as it was: the fine-tuning
            # draws the same negatives and masks whether or not this ran
            rng_state = torch.get_rng_state()
            self._stability = self._code_stability(Z)
            torch.set_rng_state(rng_state)
            self._fine_tuned = self._stability >= self.min_stability
            if self.verbose:
                print(f"k-means stability of the pre-trained code: {self._stability:.3f} "
                      f"({'' if self._fine_tuned else 'below min_stability: no '}fine-tuning)")
        del Z
        if self._fine_tuned:
            for epoch in range(self.max_epochs_):
                criterion.set_codebooks(codebooks)
                self._fit_net(X, None, epochs=1,
                              phase=f"fine-tuning, round {epoch + 1} of {self.max_epochs_}")
                codebooks = self._train_codebooks = self._kmeans(X, codebooks)
        criterion.set_codebooks(codebooks)

    def _after_fit(self, X, y):
        # final codebooks from all training rows (validation rows included),
        # on the network as trained (also when Ctrl-C cut the schedule short)
        self.codebooks_ = self._kmeans(X, self._train_codebooks, seed=self._seed())
        del self._train_codebooks
        self.input_variance_ = self._input_variance
        self.input_mean_ = self._input_mean.astype(np.float32)
        del self._input_mean
        self.code_stability_ = getattr(self, "_stability", None)
        self.fine_tuned_ = getattr(self, "_fine_tuned", False)
        self.n_bits_ = int(self._M * np.floor(np.log2(self.K)))
        super()._after_fit(X, y)

    # ------------------------------------------------------------- inference
    def _embed(self, X):
        # encoder only: the decoder's half of the network is not needed here
        return self._infer(X, call=self.net_.module_.encode).numpy()

    def _codes(self, X):
        return self.code_space_.encode(self._embed(X))

    def inverse_transform(self, codes):
        """Decode codes to the input space: the decoder applied to the codewords.

        Returns ``(n, n_features)`` float32 rows (``code_space_.decode``
        gives the codewords themselves, in the code space).
        """
        check_is_fitted(self, "code_space_")
        z = np.asarray(self.code_space_.decode(codes), dtype=np.float32)
        return self._infer(z, call=self.net_.module_.decode).numpy()
