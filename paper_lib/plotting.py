"""Pictures: fingerprints as RGB images (PNG), in the style of the paper's figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def fingerprint_rgb(fp: np.ndarray, scale: int = 4, gamma: float = 1.0) -> np.ndarray:
    """(64 s, 64 s, 3) uint8 image of a (64, 64, 3) fingerprint in [0, 1], each pixel s x s.

    Red, green and blue are the rotations about x, y and z. Row 0 is the top of the image, which
    is detector y = -31.5 px (the array's own [y, x] order, as the paper shows it).
    ``gamma`` < 1 brightens weak peaks for the eye; the data are not changed.
    """
    fp = np.asarray(fp, dtype=np.float64)
    if fp.ndim != 3 or fp.shape[2] != 3:
        raise ValueError(f"a fingerprint has shape (H, W, 3), got {fp.shape}")
    image = np.clip(fp, 0.0, 1.0) ** gamma
    image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    return np.round(image * 255).astype(np.uint8)


def save_fingerprint_png(fp: np.ndarray, path: str | Path, scale: int = 4, gamma: float = 1.0) -> Path:
    """Write a fingerprint as an RGB PNG (see :func:`fingerprint_rgb`); returns the path."""
    import matplotlib.image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, fingerprint_rgb(fp, scale, gamma))
    return path
