"""The GIST descriptor against hand-built images."""

import numpy as np
import pytest

from skhash.features import GIST, gabor_bank


def _grating(direction, period=8, size=32):
    wave = np.sin(2 * np.pi * np.arange(size) / period)
    # "vertical" stripes: intensity changes across x (the columns)
    image = np.tile(wave, (size, 1)) if direction == "vertical" else np.tile(wave[:, None],
                                                                             (1, size))
    return image.reshape(1, -1)


def _orientation_energy(descriptor, n_scales=4, n_orientations=8):
    return descriptor.reshape(n_scales, n_orientations, -1).sum(axis=(0, 2))


def test_shape_is_512_for_cifar_sized_images_grey_or_colour():
    rng = np.random.RandomState(0)
    assert GIST().fit_transform(rng.rand(3, 32 * 32)).shape == (3, 512)
    colour = rng.rand(2, 3 * 32 * 32)
    g = GIST().fit(colour)
    assert g.image_shape_ == (3, 32, 32)
    assert g.transform(colour).shape == (2, 512)
    assert g.transform(colour).dtype == np.float32


def test_gratings_light_their_orientation_channels():
    vertical = _orientation_energy(GIST().fit_transform(_grating("vertical"))[0])
    horizontal = _orientation_energy(GIST().fit_transform(_grating("horizontal"))[0])
    assert np.argmax(vertical) == 0  # the filters centred on the horizontal frequency axis
    assert np.argmax(horizontal) == 4  # a quarter turn away
    assert vertical[0] > 5 * np.median(vertical)
    assert horizontal[4] > 5 * np.median(horizontal)


def test_a_finer_grating_lights_a_finer_scale():
    by_scale = [GIST().fit_transform(_grating("vertical", period))[0].reshape(4, 8, 16)
                [:, 0].sum(axis=1) for period in (3, 12)]
    assert np.argmax(by_scale[0]) < np.argmax(by_scale[1])  # scale 0 = highest frequency


def test_flat_images_give_a_constant_descriptor():
    flat = np.stack([np.full(32 * 32, v) for v in (0.0, 0.3, 1.0)])
    g = GIST().fit_transform(flat)
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(g, np.zeros_like(g))


def test_grey_level_scale_and_offset_do_not_matter_and_colour_is_the_channel_mean():
    rng = np.random.RandomState(1)
    image = rng.rand(1, 32 * 32)
    g = GIST().fit(image)
    np.testing.assert_allclose(g.transform(3 * image + 7), g.transform(image), rtol=1e-4,
                               atol=1e-5)
    rgb = rng.rand(1, 3, 32, 32)
    grey = rgb.mean(axis=1).reshape(1, -1)
    np.testing.assert_allclose(GIST().fit_transform(rgb.reshape(1, -1)),
                               GIST().fit_transform(grey), rtol=1e-5, atol=1e-6)


def test_blocks_are_ordered_column_by_column():
    image = _grating("vertical").reshape(32, 32).copy()
    image[:, 16:] = 0.0  # stripes only in the left half: block columns 0 and 1
    g = GIST().fit_transform(image.reshape(1, -1))[0].reshape(32, 16)
    per_block = g[0]  # scale 0, orientation 0
    left, right = per_block[:8], per_block[8:]  # blocks xx + 4 * yy
    assert left.min() > right.max()


def test_gabor_bank_peaks_at_each_scales_frequency():
    bank = gabor_bank((8, 8, 8, 8), (96, 96))
    assert bank.shape == (32, 96, 96)
    for i in range(4):
        f = np.fft.fftshift(bank[8 * i])  # orientation 0: peak on the +fx axis
        row, col = np.unravel_index(np.argmax(f), f.shape)
        assert row == 48
        assert abs((col - 48) - 96 * 0.3 / 1.85 ** i) <= 1


@pytest.mark.parametrize("params, X, match", [
    (dict(image_shape=(32, 32)), np.zeros((2, 100)), "holds 1024 values"),
    (dict(image_shape=(3, 2)), np.zeros((2, 7)), "holds 6 values"),
    (dict(orientations_per_scale=(8, 0)), np.zeros((2, 16)), "positive integers"),
])
def test_bad_parameters_are_named(params, X, match):
    with pytest.raises(ValueError, match=match):
        GIST(**params).fit(X)
