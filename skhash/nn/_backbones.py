"""Feature extractors shared by the estimators.

Every backbone takes a batch of flat rows ``(n, n_features)`` (the shape the
estimators see), views them as images when it is convolutional, and returns
``(n, out_features)`` features. ``out_features`` is an attribute so heads can
be sized without a dummy forward pass by the caller.
"""

import math

import torch
from torch import nn

__all__ = [
    "MLPBackbone",
    "SmallCNN",
    "CifarCNN",
    "CNNBHCifarNet",
    "DSHNet",
    "FeatureLayer",
    "TorchvisionBackbone",
    "make_backbone",
    "make_feature_extractor",
    "resolve_backbone_name",
    "BACKBONES",
    "TORCHVISION_BACKBONES",
]


class MLPBackbone(nn.Module):
    """Fully connected layers with ReLU, for plain feature vectors.

    Parameters
    ----------
    n_features : int
        Input width.
    hidden_units : tuple of int
        Width of each hidden layer; ``()`` makes the backbone the identity.
    dropout : float
        Dropout after each hidden layer (0 disables it).
    """

    def __init__(self, n_features, hidden_units=(512,), dropout=0.0):
        super().__init__()
        layers = []
        width = n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = units
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x):
        return self.layers(x.flatten(1))


def _as_images(x, input_shape):
    """View flat rows as images in channels-last memory order.

    oneDNN's CPU convolutions run about 1.7x faster on channels-last
    tensors (measured on the CNNBH CIFAR-10 network, batch 128); the
    networks' weights are converted once, by :func:`_channels_last`.
    """
    images = x.reshape(x.shape[0], *input_shape)
    return images.contiguous(memory_format=torch.channels_last)


def _channels_last(module):
    """Store a module's 4-D weights channels-last (see :func:`_as_images`)."""
    return module.to(memory_format=torch.channels_last)


class _ConvStack(nn.Module):
    """Convolution stages, each ``[conv -> ReLU] * per_stage -> max-pool``."""

    def __init__(self, input_shape, stages, kernel_size, per_stage, pool, batch_norm=False):
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        channels, height, width = self.input_shape
        layers = []
        for out_channels in stages:
            for _ in range(per_stage):
                layers.append(nn.Conv2d(channels, out_channels, kernel_size,
                                        padding=kernel_size // 2, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(nn.ReLU(inplace=True))
                channels = out_channels
            # Pool only while the feature map is large enough (8x8 digits
            # would otherwise vanish); ceil mode keeps odd sizes.
            if min(height, width) >= 2:
                layers.append(nn.MaxPool2d(pool, ceil_mode=True))
                height, width = math.ceil(height / pool), math.ceil(width / pool)
        self.features = _channels_last(nn.Sequential(*layers))
        self.out_features = channels * height * width

    def forward(self, x):
        return self.features(_as_images(x, self.input_shape)).flatten(1)


class SmallCNN(_ConvStack):
    """Two 5x5 convolutions, each followed by ReLU and 2x2 max-pooling.

    ``32C5-MP2-64C5-MP2`` by default (``backbone="small_cnn"``, the grey-image
    network of SSDH, DPQ and DeepSOM); with ``channels=(32, 32)`` it is the
    MNIST network of CNNH / CNNBH, ``32C5-MP2-32C5-MP2``
    (``backbone="cnnbh_mnist"``). Convolutions are padded ("same"), so any
    image of side >= 1 works; on 28x28 input the output is ``64 x 7 x 7 =
    3136`` features (``32 x 7 x 7 = 1568`` for CNNBH's).
    """

    def __init__(self, input_shape, channels=(32, 64), kernel_size=5):
        super().__init__(input_shape, channels, kernel_size, per_stage=1, pool=2)


class CifarCNN(_ConvStack):
    """Six 3x3 convolutions with batch normalisation in three pooled stages.

    ``[conv3 -> BN -> ReLU] x 2 -> max-pool 2`` with 32, 64 and 128
    filters (a small VGG); on 32x32x3 input the output is
    ``128 x 4 x 4 = 2048`` features. skhash's from-scratch network for
    colour photos: on CIFAR-10 with 5,000 training images it reaches a
    higher accuracy in 30 epochs on a CPU than the papers' own small
    networks (see the CIFAR-10 section of the benchmarks page).

    Parameters
    ----------
    input_shape : tuple (C, H, W)
    channels : tuple of int, default=(32, 64, 128)
        Filters of the three stages.
    batch_norm : bool, default=True
        Batch normalisation after each convolution.
    """

    def __init__(self, input_shape, channels=(32, 64, 128), batch_norm=True):
        super().__init__(input_shape, channels, kernel_size=3, per_stage=2, pool=2,
                         batch_norm=batch_norm)


class CNNBHCifarNet(nn.Module):
    """The CIFAR-10 network of CNNBH (Guo & Li, section 4.2), up to the knob layer.

    ``3x32x32-32C3P1-32C1P0-MP3S2-D0.5-32C3P1-32C3P1-MP3S2-D0.5-64C3P1-64C3P1-MP3S2-D0.5``
    (ReLU after every convolution), in cuda-convnet2's ceil-mode pooling:
    on 32x32 input the feature maps are 16, 8 and 4 pixels wide and the
    output is ``64 x 4 x 4 = 1024`` features. The knob ``H{n_bits}``, the
    last dropout and ``H10`` are added by the hasher
    (:class:`~skhash.nn.LatentHashNet`): at 48 bits the whole network has
    125,562 parameters, the paper's "125K".

    Parameters
    ----------
    input_shape : tuple (C, H, W)
        Image shape (any size; 32x32x3 in the paper).
    dropout : float, default=0.5
        Dropout after each pooling layer (the paper's ``D0.5``).
    """

    def __init__(self, input_shape, dropout=0.5):
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        c, h, w = self.input_shape

        def conv(cin, cout, k, pad):
            return [nn.Conv2d(cin, cout, k, padding=pad), nn.ReLU(inplace=True)]

        def pool():
            return [nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.Dropout(dropout)]

        layers = (conv(c, 32, 3, 1) + conv(32, 32, 1, 0) + pool()
                  + conv(32, 32, 3, 1) + conv(32, 32, 3, 1) + pool()
                  + conv(32, 64, 3, 1) + conv(64, 64, 3, 1) + pool())
        self.features = _channels_last(nn.Sequential(*layers))
        for _ in range(3):
            h, w = _pooled(h, 3, 2), _pooled(w, 3, 2)
        self.out_features = 64 * h * w

    def forward(self, x):
        return self.features(_as_images(x, self.input_shape)).flatten(1)


class DSHNet(nn.Module):
    """The CIFAR-10 network of DSH (Liu et al., CVPR 2016), used by DPQ's Table 1.

    Three 5x5 convolutions of 32, 32 and 64 filters (padding 2, ReLU), each
    followed by 3x3 / stride-2 pooling -- max, then average, average --
    in Caffe's ceil mode (32 -> 16 -> 8 -> 4 pixels on CIFAR-10): ``64 x 4 x 4
    = 1024`` features. DSH's "FC 500" is the embedding layer that
    :class:`~skhash.quantization.DPQQuantizer` puts on top
    (``embedding_dim=500``).

    Parameters
    ----------
    input_shape : tuple (C, H, W)
        Image shape.
    """

    def __init__(self, input_shape):
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        c, h, w = self.input_shape
        relu = nn.ReLU(inplace=True)  # stateless: one instance serves the three places
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 5, padding=2), nn.MaxPool2d(3, 2, ceil_mode=True), relu,
            nn.Conv2d(32, 32, 5, padding=2), relu, nn.AvgPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(32, 64, 5, padding=2), relu, nn.AvgPool2d(3, 2, ceil_mode=True),
        )
        self.features = _channels_last(self.features)
        for _ in range(3):
            h, w = _pooled(h, 3, 2), _pooled(w, 3, 2)
        self.out_features = 64 * h * w

    def forward(self, x):
        return self.features(_as_images(x, self.input_shape)).flatten(1)


def _pooled(size, kernel, stride):
    """Output size of ceil-mode pooling without padding (PyTorch's rule)."""
    out = max(1, math.ceil((size - kernel) / stride) + 1)
    if (out - 1) * stride >= size:  # the last window must start inside the input
        out -= 1
    return max(out, 1)


class FeatureLayer(nn.Module):
    """A backbone followed by a fully connected feature layer (ReLU, dropout).

    SSDH's latent layer sits between such a feature layer and the
    classifier (AlexNet's fc7 in the paper).
    """

    def __init__(self, backbone, units=512, dropout=0.5):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Sequential(nn.Linear(backbone.out_features, units), nn.ReLU())
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.out_features = units

    def forward(self, x):
        return self.dropout(self.fc(self.backbone(x)))


TORCHVISION_BACKBONES = ("alexnet", "vgg16", "resnet18", "resnet50")


class TorchvisionBackbone(nn.Module):
    """A torchvision ImageNet network without its last classification layer.

    AlexNet and VGG16 end at fc7 (4,096 features), ResNets at the pooled
    features. Pretrained weights are read from a local file (a state dict
    saved with ``torch.save(model.state_dict(), path)``), never downloaded;
    without one the network starts from random weights. All layers are
    fine-tuned. Grey images are repeated to 3 channels. Inputs are used as
    given: normalise them as the weights expect (e.g. with a scaler step).

    Requires the optional dependency torchvision.
    """

    def __init__(self, name, input_shape, weights_path=None):
        super().__init__()
        try:
            import torchvision
        except ImportError:
            raise ImportError(
                f"backbone={name!r} needs torchvision (pip install torchvision), which is "
                "an optional dependency of skhash."
            ) from None
        if input_shape is None:
            raise ValueError(f"backbone={name!r} needs input_shape=(C, H, W) images.")
        if input_shape[0] not in (1, 3):
            raise ValueError(f"backbone={name!r} needs 1- or 3-channel images, got {input_shape}.")
        model = getattr(torchvision.models, name)(weights=None)
        if weights_path is not None:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        if name.startswith("resnet"):
            self.out_features = model.fc.in_features
            model.fc = nn.Identity()
        else:
            self.out_features = model.classifier[-1].in_features
            model.classifier = nn.Sequential(*list(model.classifier)[:-1])
        self.model = model
        self.input_shape = tuple(input_shape)

    def forward(self, x):
        x = x.reshape(x.shape[0], *self.input_shape)
        if self.input_shape[0] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.model(x)


BACKBONES = ("auto", "mlp", "small_cnn", "cnnbh_mnist", "cifar_cnn", "cnnbh_cifar",
             "dsh") + TORCHVISION_BACKBONES
# the paper networks: the hasher / quantizer adds its own head, no feature layer
PAPER_BACKBONES = ("cnnbh_cifar", "dsh")


def is_colour_image(input_shape):
    """Whether ``input_shape`` is a colour photo of side >= 32 (CIFAR-10 and up)."""
    return input_shape is not None and input_shape[0] == 3 and min(input_shape[1:]) >= 32


def resolve_backbone_name(name, input_shape, colour="cifar_cnn", grey="small_cnn"):
    """The concrete backbone "auto" stands for, given the input shape.

    ``colour`` is the network "auto" means for colour images of side >= 32,
    ``grey`` the one for other images (each estimator passes the ones its
    paper, or our measurements, name).
    """
    if name != "auto":
        return name
    if input_shape is None:
        return "mlp"
    if is_colour_image(input_shape):
        return colour
    return grey


def make_feature_extractor(name, n_features, input_shape, *, hidden_units=(512,),
                           feature_units=512, shift_augment=0, flip_augment=False,
                           cutout_augment=0, weights_path=None, colour_backbone="cifar_cnn"):
    """Backbone with a feature layer, and training-time augmentation.

    For skhash's own CNNs, a fully connected feature layer of
    ``feature_units`` (ReLU, dropout 0.5) follows the convolutions, and the
    grey-image CNN uses 32 and 64 filters; torchvision networks already end
    in one (fc7), and the MLP's ``hidden_units`` are its feature layers.
    Images of side >= 16 are shifted by up to ``shift_augment`` pixels
    (mirrored left-right with ``flip_augment``, and holes of
    ``cutout_augment`` pixels cut out) during training.
    Returns ``(backbone, augment or None)``.
    """
    concrete = name if isinstance(name, type) else resolve_backbone_name(name, input_shape,
                                                                          colour_backbone)
    own_cnn = concrete in ("small_cnn", "cnnbh_mnist", "cifar_cnn")
    backbone = make_backbone(concrete, n_features, input_shape, hidden_units,
                             weights_path=weights_path)
    if own_cnn and feature_units:
        backbone = FeatureLayer(backbone, feature_units, dropout=0.5)
    return backbone, make_augment(input_shape, shift_augment, flip_augment, cutout_augment)


def make_augment(input_shape, shift_augment=0, flip_augment=False, cutout_augment=0):
    """The training-time augmentation of images of side >= 16, or None.

    Random shifts of up to ``shift_augment`` pixels (a random crop with
    zero padding), with ``flip_augment`` random left-right mirroring, and
    with ``cutout_augment > 0`` a random square of that side set to zero;
    see :class:`~skhash.nn.RandomShift`.
    """
    if (input_shape is None or min(input_shape[1:]) < 16
            or not (shift_augment or flip_augment or cutout_augment)):
        return None
    from ._heads import RandomShift

    return RandomShift(input_shape, shift_augment, flip=flip_augment, cutout=cutout_augment)


def make_backbone(name, n_features, input_shape, hidden_units=(512,), channels=None,
                  weights_path=None, colour_backbone="cifar_cnn", grey_backbone="small_cnn"):
    """Build a backbone by name.

    ``"auto"`` picks ``colour_backbone`` (default :class:`CifarCNN`) for
    3-channel images of side >= 32, ``grey_backbone`` (default
    ``"small_cnn"``) for other images, and :class:`MLPBackbone` when
    ``input_shape`` is None. A ``torch.nn.Module`` subclass is called as
    ``cls(n_features=..., input_shape=...)`` and must set ``out_features``.
    ``channels`` overrides the convolution widths of the CNN backbones.
    ``"alexnet"``, ``"vgg16"``, ``"resnet18"``, ``"resnet50"`` build a
    :class:`TorchvisionBackbone` (optional torchvision) with pretrained
    weights from the local file ``weights_path``. ``"cnnbh_cifar"`` and
    ``"dsh"`` are the papers' CIFAR-10 networks (:class:`CNNBHCifarNet`,
    :class:`DSHNet`).
    """
    if weights_path is not None and name not in TORCHVISION_BACKBONES:
        raise ValueError(
            f"pretrained weights are supported for the torchvision backbones "
            f"{TORCHVISION_BACKBONES}, not backbone={name!r}."
        )
    if name in TORCHVISION_BACKBONES:
        return TorchvisionBackbone(name, input_shape, weights_path)
    if isinstance(name, type) and issubclass(name, nn.Module):
        module = name(n_features=n_features, input_shape=input_shape)
        if not isinstance(getattr(module, "out_features", None), int):
            raise TypeError(
                f"backbone {name.__name__} must set an integer attribute 'out_features'."
            )
        return module
    name = resolve_backbone_name(name, input_shape, colour_backbone, grey_backbone)
    if name == "mlp":
        return MLPBackbone(n_features, hidden_units)
    if input_shape is None:
        raise ValueError(f"backbone={name!r} is convolutional and needs input_shape=(C, H, W).")
    if name == "cnnbh_cifar":
        return CNNBHCifarNet(input_shape)
    if name == "dsh":
        return DSHNet(input_shape)
    conv_kwargs = {} if channels is None else {"channels": tuple(channels)}
    if name == "small_cnn":
        return SmallCNN(input_shape, **conv_kwargs)
    if name == "cnnbh_mnist":
        return SmallCNN(input_shape, **{"channels": (32, 32), **conv_kwargs})
    if name == "cifar_cnn":
        return CifarCNN(input_shape, **conv_kwargs)
    raise ValueError(
        f"unknown backbone {name!r}; expected one of {BACKBONES} or an nn.Module class."
    )



