"""Backbones: shapes, and the optional torchvision path (with a stand-in module).

torchvision is optional and not installed in the test environment; these tests
check skhash's wiring (construction, local pretrained weights, head removal,
grey-to-RGB) against a small stand-in exposing the same API as
``torchvision.models`` (``alexnet(weights=None)`` with a ``classifier``,
``resnet18(weights=None)`` with an ``fc``).
"""

import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from skhash.datasets import load_digits
from skhash.hashing import SSDHHasher
from skhash.nn import CifarCNN, FeatureLayer, SmallCNN, TorchvisionBackbone, make_backbone


class _TinyAlexNet(nn.Module):
    def __init__(self, weights=None):
        super().__init__()
        assert weights is None  # skhash never asks torchvision to download
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 1000))

    def forward(self, x):
        return self.classifier(self.features(x))


class _TinyResNet(nn.Module):
    def __init__(self, weights=None):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 5, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(5, 1000)

    def forward(self, x):
        return self.fc(self.body(x))


@pytest.fixture
def fake_torchvision(monkeypatch):
    module = types.ModuleType("torchvision")
    module.models = types.SimpleNamespace(alexnet=_TinyAlexNet, vgg16=_TinyAlexNet,
                                          resnet18=_TinyResNet, resnet50=_TinyResNet)
    monkeypatch.setitem(sys.modules, "torchvision", module)
    return module


def test_cnn_backbone_shapes():
    assert SmallCNN((1, 28, 28)).out_features == 64 * 7 * 7
    assert SmallCNN((1, 8, 8)).out_features == 64 * 2 * 2
    # one name, one network: "small_cnn" is 32-64 filters, "cnnbh_mnist" CNNBH's 32-32
    assert make_backbone("small_cnn", 784, (1, 28, 28)).out_features == 64 * 7 * 7
    assert make_backbone("cnnbh_mnist", 784, (1, 28, 28)).out_features == 32 * 7 * 7
    assert make_backbone("auto", 784, (1, 28, 28)).out_features == 64 * 7 * 7
    assert make_backbone("auto", 784, (1, 28, 28), grey_backbone="cnnbh_mnist").out_features \
        == 32 * 7 * 7
    assert CifarCNN((3, 32, 32)).out_features == 128 * 4 * 4
    x = torch.zeros(2, 3 * 32 * 32)
    assert CifarCNN((3, 32, 32))(x).shape == (2, 2048)
    f = FeatureLayer(SmallCNN((1, 8, 8)), units=7)
    assert f(torch.zeros(3, 64)).shape == (3, 7) and f.out_features == 7
    assert isinstance(make_backbone("auto", 3072, (3, 32, 32)), CifarCNN)
    with pytest.raises(ValueError, match="input_shape"):
        make_backbone("small_cnn", 64, None)
    with pytest.raises(ValueError, match="pretrained weights"):
        make_backbone("small_cnn", 64, (1, 8, 8), weights_path="w.pt")


def test_torchvision_backbone_drops_last_layer_and_loads_local_weights(fake_torchvision, tmp_path):
    reference = _TinyAlexNet()
    path = tmp_path / "alexnet.pt"
    torch.save(reference.state_dict(), path)
    bb = make_backbone("alexnet", 64, (1, 8, 8), weights_path=str(path))
    assert isinstance(bb, TorchvisionBackbone) and bb.out_features == 12
    torch.testing.assert_close(bb.model.features[0].weight, reference.features[0].weight)
    out = bb(torch.rand(2, 64))  # grey rows -> 3-channel images -> fc7-like features
    assert out.shape == (2, 12)
    res = make_backbone("resnet18", 3 * 8 * 8, (3, 8, 8))
    assert res.out_features == 5 and isinstance(res.model.fc, nn.Identity)


def test_ssdh_fine_tunes_torchvision_backbone(fake_torchvision, tmp_path):
    X, y = load_digits(return_X_y=True)
    path = tmp_path / "alexnet.pt"
    torch.save(_TinyAlexNet().state_dict(), path)
    h = SSDHHasher(n_bits=8, backbone="alexnet", pretrained_weights=str(path),
                   input_shape=(1, 8, 8), max_epochs=2, random_state=0).fit(X[:200], y[:200])
    assert isinstance(h.net_.module_.backbone, TorchvisionBackbone)
    assert h.transform(X[:5]).shape == (5, 8)
    loaded = torch.load(path, weights_only=True)["features.0.weight"]
    assert not torch.equal(h.net_.module_.backbone.model.features[0].weight, loaded)  # tuned


def test_missing_torchvision_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    X, y = load_digits(return_X_y=True)
    with pytest.raises(ImportError, match="needs torchvision"):
        SSDHHasher(backbone="vgg16", input_shape=(1, 8, 8), max_epochs=1).fit(X[:50], y[:50])


def test_random_shift_only_in_training():
    from skhash.nn import RandomShift

    shift = RandomShift((1, 6, 6), max_shift=1)
    x = torch.arange(72, dtype=torch.float32).reshape(2, 36)
    shift.eval()
    assert torch.equal(shift(x), x)
    shift.train()
    torch.manual_seed(0)
    out = shift(x).reshape(2, 6, 6)
    # every output is the input shifted by at most one pixel, zeros shifted in
    for i in range(2):
        img = x[i].reshape(6, 6)
        padded = torch.nn.functional.pad(img, (1, 1, 1, 1))
        assert any(torch.equal(out[i], padded[r:r + 6, c:c + 6])
                   for r in range(3) for c in range(3))
    assert np.isfinite(out.numpy()).all()


# ---------------------------------------------------------------- paper networks
def _n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_cnnbh_cifar_net_is_the_papers_125k_network():
    from skhash.nn import CNNBHCifarNet, LatentHashNet

    backbone = CNNBHCifarNet((3, 32, 32))
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.padding[0]) for c in convs] == [
        (32, 3, 1), (32, 1, 0), (32, 3, 1), (32, 3, 1), (64, 3, 1), (64, 3, 1)]
    pools = [m for m in backbone.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 3 and p.stride == 2 and p.ceil_mode
                                   for p in pools)
    drops = [m for m in backbone.modules() if isinstance(m, nn.Dropout)]
    assert [d.p for d in drops] == [0.5] * 3
    # ceil-mode pooling: 32 -> 16 -> 8 -> 4
    assert backbone.out_features == 64 * 4 * 4
    assert backbone(torch.zeros(2, 3072)).shape == (2, 1024)
    # H48-D-H10 on top: the paper's "125K" parameters (floor-mode pooling: 104,058)
    assert _n_params(LatentHashNet(backbone, 48, 10, dropout=0.5)) == 125_562


def test_dsh_network_layers():
    from skhash.nn import DSHNet

    net = DSHNet((3, 32, 32))
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.padding[0]) for c in convs] == [
        (32, 5, 2), (32, 5, 2), (64, 5, 2)]
    pools = [type(m).__name__ for m in net.modules() if isinstance(m, (nn.MaxPool2d,
                                                                        nn.AvgPool2d))]
    assert pools == ["MaxPool2d", "AvgPool2d", "AvgPool2d"]
    assert net.out_features == 64 * 4 * 4
    assert net(torch.zeros(3, 3072)).shape == (3, 1024)


def test_dpq_on_cifar_images_with_the_dsh_network_uses_the_papers_head():
    from skhash.nn import DSHNet
    from skhash.quantization import DPQQuantizer

    X = np.random.RandomState(0).rand(40, 3072).astype(np.float32)
    y = np.repeat([0, 1], 20)
    q = DPQQuantizer(M=4, K=8, input_shape=(3, 32, 32), backbone="dsh", max_epochs=1,
                     random_state=0).fit(X, y)
    module = q.net_.module_
    assert isinstance(module.backbone, DSHNet)
    assert module.embedding[0].out_features == 500  # DSH's FC 500 = DPQ's U
    part = module.parts[0]
    assert [m.out_features for m in part if hasattr(m, "out_features")] == [128, 8]
    assert module.part_width == 125 and q.codebooks_.shape == (4, 8, 125)
    # no weight decay on the DSH network (with 5e-4 it does not start learning)
    assert q.net_.optimizer_.param_groups[0]["weight_decay"] == 0.0


def test_dpq_on_cifar_images_defaults_to_cifar_cnn_with_weight_decay():
    from skhash.quantization import DPQQuantizer

    X = np.random.RandomState(0).rand(40, 3072).astype(np.float32)
    y = np.repeat([0, 1], 20)
    q = DPQQuantizer(M=4, K=8, input_shape=(3, 32, 32), max_epochs=1, random_state=0).fit(X, y)
    module = q.net_.module_
    assert isinstance(module.backbone, FeatureLayer)
    assert any(isinstance(m, CifarCNN) for m in module.backbone.modules())
    assert module.embedding[0].out_features == 512
    part = module.parts[0]
    assert [m.out_features for m in part if hasattr(m, "out_features")] == [256, 8]
    assert q.net_.optimizer_.param_groups[0]["weight_decay"] == 5e-4
    # an explicit weight decay is kept on either network
    q = DPQQuantizer(M=4, K=8, input_shape=(3, 32, 32), backbone="dsh", weight_decay=1e-4,
                     max_epochs=1, random_state=0).fit(X, y)
    assert q.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-4


def test_cnnbh_dropout_follows_table_2_on_the_paper_network():
    from skhash.hashing._cnnbh import cifar_dropout

    assert [cifar_dropout(b) for b in (4, 8, 12, 16, 20, 24, 32, 48, 64)] == [
        0.0, 0.0, 0.2, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5]


def test_random_shift_flip_training_only():
    from skhash.nn import RandomShift

    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, -1).repeat(50, 1)
    aug = RandomShift((3, 4, 4), max_shift=0, flip=True)
    aug.eval()
    assert torch.equal(aug(x), x)
    aug.train()
    torch.manual_seed(0)
    out = aug(x).reshape(-1, 3, 4, 4)
    images = x.reshape(-1, 3, 4, 4)
    mirrored = (out == images.flip(3)).flatten(1).all(1)
    same = (out == images).flatten(1).all(1)
    assert bool((mirrored | same).all()) and 20 < int(mirrored.sum()) < 80


def test_make_augment_skips_small_images_and_vectors():
    from skhash.nn._backbones import make_augment

    assert make_augment(None, 4, True) is None
    assert make_augment((1, 8, 8), 4, True) is None
    assert make_augment((3, 32, 32), 0, False) is None
    aug = make_augment((3, 32, 32), 4, True)
    assert aug.max_shift == 4 and aug.flip and aug.cutout == 0
    aug = make_augment((3, 32, 32), 0, False, 8)
    assert aug.max_shift == 0 and not aug.flip and aug.cutout == 8
    assert make_augment((1, 8, 8), 0, False, 8) is None


def test_cutout_zeroes_one_clipped_square_per_image_in_training_only():
    from skhash.nn import RandomShift

    n, side = 400, 6
    x = torch.rand(n, 3 * 16 * 16) + 1  # no zero pixel anywhere
    aug = RandomShift((3, 16, 16), max_shift=0, cutout=side)
    aug.eval()
    assert torch.equal(aug(x), x)
    aug.train()
    torch.manual_seed(0)
    out = aug(x).reshape(n, 3, 16, 16)
    holes = out == 0
    assert torch.equal(holes[:, 0], holes[:, 1]) and torch.equal(holes[:, 0], holes[:, 2])
    kept = ~holes
    assert torch.equal(out[kept], x.reshape(n, 3, 16, 16)[kept])  # the rest untouched
    rows, cols = holes[:, 0].any(2), holes[:, 0].any(1)
    # each hole is the rectangle of its rows and columns, at most side x side,
    # a full square away from the border and clipped at it
    assert torch.equal(holes[:, 0], rows[:, :, None] & cols[:, None, :])
    heights, widths = rows.sum(1), cols.sum(1)
    assert int(heights.max()) == side and int(widths.max()) == side
    assert int(heights.min()) >= side // 2 and int(widths.min()) >= side // 2
    assert 0 < int((heights < side).sum()) < n  # some clipped, some whole
    # holes are everywhere: every pixel is cut out in some image
    assert bool(holes[:, 0].any(0).all())
