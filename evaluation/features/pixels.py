"""``pixels`` extractor: images downsampled by area averaging, flattened.

Cheap and transparent; useful for small images, quick checks and tests. Distances on these
features compare raw intensities, so they are sensitive to small shifts of anatomy.
"""

from __future__ import annotations

import numpy as np

from ganaudit.evaluation.features import FeatureExtractor
from ganaudit.gan_models.errors import InputError

__all__ = ["PixelsExtractor", "area_resize"]


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: each output pixel is the overlap-weighted mean of input pixels."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.maximum(edges[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(1, n_in + 1)[None, :])
    weights = np.clip(hi - lo, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def area_resize(images: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, H, W) images to (N, size, size) by exact area averaging (float64).

    Each output pixel is the mean of the input area it covers (fractional overlaps weighted),
    which is plain block averaging when H and W are multiples of ``size``.
    """
    rows = _area_weights(images.shape[1], size)
    cols = _area_weights(images.shape[2], size)
    return rows @ images.astype(np.float64) @ cols.T


class PixelsExtractor(FeatureExtractor):
    """Area-averaged intensities at ``size`` × ``size``, flattened to size² features.

    Parameters
    ----------
    size : int, default 16
        Side of the downsampled image.
    """

    name = "pixels"

    def __init__(self, *, size: int = 16):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise InputError(f"pixels extractor: size must be a positive integer (e.g. 16); got {size!r}")
        self.size = int(size)
        self.settings = {"size": self.size, "resize": "area", "version": 1}

    def _features(self, images: np.ndarray) -> np.ndarray:
        return area_resize(images, self.size).reshape(images.shape[0], -1)
