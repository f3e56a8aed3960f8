"""Image folders written by the tests (no download, no real data)."""

import numpy as np


def fake_cifar(root, n_train=6, n_test=3):
    """Ten classes of noisy 32x32 colour images as ``train/`` and ``test/`` folders
    under ``root`` (class ``k``'s pixels are brighter by ``19 k``); returns ``root``."""
    from PIL import Image

    rng = np.random.RandomState(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for label in range(10):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.randint(0, 60, (32, 32, 3)) + 19 * label
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:04d}.png")
    return root
