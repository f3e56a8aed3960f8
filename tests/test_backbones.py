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
    assert SmallCNN((1, 28, 28)).out_features == 32 * 7 * 7
    assert SmallCNN((1, 8, 8)).out_features == 32 * 2 * 2
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
