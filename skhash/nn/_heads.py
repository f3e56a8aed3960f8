"""Heads shared by the hashers, and training-time augmentation."""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LatentHashNet", "RandomShift"]


class RandomShift(nn.Module):
    """Shift (and optionally mirror) each training image at random.

    Active only in training mode (the identity in eval mode, so codes and
    predictions stay deterministic). Shifts are drawn uniformly from
    ``[-max_shift, max_shift]`` per axis and per sample, from torch's RNG
    (which the estimators seed from ``random_state``); pixels shifted in
    are zero -- the same as a random crop of the image zero-padded by
    ``max_shift`` pixels on each side. With ``flip=True`` each image is also
    mirrored left-right with probability 1/2 (photographs; not digits).
    With ``cutout > 0``, a square of ``cutout`` x ``cutout`` pixels, centred
    on a random pixel and clipped at the image's border, is then set to zero
    in every channel (DeVries & Taylor, "Improved Regularization of
    Convolutional Neural Networks with Cutout", 2017).
    """

    def __init__(self, input_shape, max_shift=2, flip=False, cutout=0):
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        self.max_shift = int(max_shift)
        self.flip = bool(flip)
        self.cutout = int(cutout)

    def forward(self, x):
        if not self.training:
            return x
        x = self._shift_and_flip(x)
        return self._cut_out(x) if self.cutout > 0 else x

    def _cut_out(self, x):
        n = x.shape[0]
        c, h, w = self.input_shape
        cy = torch.randint(0, h, (n,), device=x.device)
        cx = torch.randint(0, w, (n,), device=x.device)
        y0, x0 = cy - self.cutout // 2, cx - self.cutout // 2
        rows = torch.arange(h, device=x.device)[None, :]
        cols = torch.arange(w, device=x.device)[None, :]
        inside_rows = (rows >= y0[:, None]) & (rows < y0[:, None] + self.cutout)  # (n, h)
        inside_cols = (cols >= x0[:, None]) & (cols < x0[:, None] + self.cutout)  # (n, w)
        hole = inside_rows[:, None, :, None] & inside_cols[:, None, None, :]
        return x.reshape(n, c, h, w).masked_fill(hole, 0).reshape(n, -1)

    def _shift_and_flip(self, x):
        if self.max_shift == 0 and not self.flip:
            return x
        if self.flip:
            n = x.shape[0]
            images = x.reshape(n, *self.input_shape)
            mirror = torch.rand(n, device=x.device) < 0.5
            x = torch.where(mirror[:, None, None, None], images.flip(3), images).reshape(n, -1)
        if self.max_shift == 0:
            return x
        n = x.shape[0]
        c, h, w = self.input_shape
        s = self.max_shift
        images = F.pad(x.reshape(n, c, h, w), (s, s, s, s))
        dx = torch.randint(0, 2 * s + 1, (n,), device=x.device)
        dy = torch.randint(0, 2 * s + 1, (n,), device=x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])  # (n, h)
        cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])  # (n, w)
        idx_n = torch.arange(n, device=x.device)[:, None, None, None]
        idx_c = torch.arange(c, device=x.device)[None, :, None, None]
        out = images[idx_n, idx_c, rows[:, None, :, None], cols[:, None, None, :]]
        return out.reshape(n, -1)


class LatentHashNet(nn.Module):
    """``backbone -> latent layer (n_bits) -> dropout -> classifier``.

    The latent layer is linear, optionally followed by an activation
    (``"sigmoid"`` for SSDH; None for CNNBH's "knob" layer). ``forward``
    returns ``(logits, latent)``; hashers threshold ``latent``.

    Parameters
    ----------
    backbone : nn.Module
        Feature extractor with an ``out_features`` attribute.
    n_bits : int
        Width of the latent (code) layer.
    n_outputs : int
        Classifier outputs (classes, or labels for multi-label data).
    activation : {None, "sigmoid"}
    dropout : float
        Dropout between the latent layer and the classifier.
    augment : nn.Module or None
        Training-time input augmentation applied before the backbone.
    """

    def __init__(self, backbone, n_bits, n_outputs, *, activation=None, dropout=0.0,
                 augment=None):
        super().__init__()
        self.augment = augment
        self.backbone = backbone
        self.latent = nn.Linear(backbone.out_features, n_bits)
        if activation not in (None, "sigmoid"):
            raise ValueError(f"activation must be None or 'sigmoid', got {activation!r}.")
        self.activation = activation
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(n_bits, n_outputs)

    def forward(self, x):
        if self.augment is not None:
            x = self.augment(x)
        latent = self.latent(self.backbone(x))
        if self.activation == "sigmoid":
            latent = torch.sigmoid(latent)
        return self.classifier(self.dropout(latent)), latent
