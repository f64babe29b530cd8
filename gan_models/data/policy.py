"""Intensity policy: how raw pixel values become float32 in [-1, 1], then square and resized.

One policy applies to every image of a data set and is recorded in ``run.json`` (it is a
JSON-serializable dataclass). Modes:

- ``"auto"`` (default): images that carry their own range keep it exactly — 16-bit PNGs
  written by :func:`ganaudit.gan_models.data.write_png16` (PNG text chunk ``ganaudit-range=-1,1``),
  phantom DICOM files (the same marker in ImageComments) and float ``.npy`` stacks whose
  values lie in [-1, 1] with some below 0 (so [0, 1] data is still windowed); every other
  image uses the
  ``"percentile"`` window. Generated and real images are compared through such files, so they
  must load back unchanged.
- ``"percentile"``: a window per image from its ``low_percentile`` to ``high_percentile``
  values (default 0.5 to 99.5), clipped.
- ``"fixed"``: one window for all images, ``window_center`` ± ``window_width`` / 2 in the
  image's physical units (DICOM: after Rescale Slope/Intercept). With
  ``from_dicom_tags=True`` each DICOM image's own WindowCenter/WindowWidth (first value) is
  used; images without tags fall back to the given center/width, or fail if none is given.

The window [lo, hi] maps linearly to [-1, 1]; values outside are clipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ganaudit.gan_models.errors import InputError

MODES = ("auto", "percentile", "fixed")


@dataclass(frozen=True)
class IntensityPolicy:
    """How raw values become [-1, 1]; see the module docstring. JSON round trip:
    ``IntensityPolicy.from_dict(policy.to_dict())``."""

    mode: str = "auto"
    low_percentile: float = 0.5
    high_percentile: float = 99.5
    window_center: float | None = None
    window_width: float | None = None
    from_dicom_tags: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"intensity policy mode must be one of {', '.join(MODES)}, got "
                             f"{self.mode!r}")
        if not 0.0 <= self.low_percentile < self.high_percentile <= 100.0:
            raise InputError(
                f"percentile window must satisfy 0 <= low < high <= 100, got "
                f"low_percentile={self.low_percentile}, high_percentile={self.high_percentile}; "
                "the default is 0.5 to 99.5")
        if self.mode == "fixed":
            has_window = self.window_center is not None and self.window_width is not None
            if not has_window and not self.from_dicom_tags:
                raise InputError("a fixed intensity window needs window_center and window_width "
                                 "(or from_dicom_tags=True for DICOM images)")
            if self.window_width is not None and not self.window_width > 0:
                raise InputError(f"window_width must be positive, got {self.window_width}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "IntensityPolicy":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown intensity policy option(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def window(self, array: np.ndarray, *, stored_range: tuple[float, float] | None = None,
               dicom_window: tuple[float, float] | None = None, name: str = "image"
               ) -> tuple[float, float]:
        """The (lo, hi) window for one image.

        ``stored_range`` is the range an image declares for itself (used by ``auto``);
        ``dicom_window`` is (center, width) from DICOM tags.
        """
        if self.mode == "auto" and stored_range is not None:
            return float(stored_range[0]), float(stored_range[1])
        if self.mode == "fixed":
            if self.from_dicom_tags and dicom_window is not None:
                center, width = dicom_window
            elif self.window_center is not None and self.window_width is not None:
                center, width = self.window_center, self.window_width
            else:
                raise InputError(f"{name} has no WindowCenter/WindowWidth tags; give "
                                 "window_center and window_width as a fallback, or use the "
                                 "percentile policy")
            return float(center) - float(width) / 2.0, float(center) + float(width) / 2.0
        finite = array[np.isfinite(array)]
        if finite.size == 0:
            return 0.0, 1.0
        lo, hi = np.percentile(finite, [self.low_percentile, self.high_percentile])
        return float(lo), float(hi)

    def apply(self, array: np.ndarray, *, stored_range: tuple[float, float] | None = None,
              dicom_window: tuple[float, float] | None = None, name: str = "image") -> np.ndarray:
        """Map one 2-D image to float32 in [-1, 1] (NaN becomes -1)."""
        array = np.asarray(array, dtype=np.float64)
        lo, hi = self.window(array, stored_range=stored_range, dicom_window=dicom_window, name=name)
        if not hi > lo:
            # Constant image: everything maps to the bottom of the range.
            return np.full(array.shape, -1.0, dtype=np.float32)
        scaled = (array - lo) / (hi - lo) * 2.0 - 1.0
        return np.clip(np.nan_to_num(scaled, nan=-1.0), -1.0, 1.0).astype(np.float32)


def pad_to_square(image: np.ndarray, *, fill: float = -1.0) -> np.ndarray:
    """Centre-pad a (H, W) image to (S, S), S = max(H, W), with ``fill`` (air after scaling)."""
    h, w = image.shape
    if h == w:
        return image
    s = max(h, w)
    top, left = (s - h) // 2, (s - w) // 2
    out = np.full((s, s), fill, dtype=image.dtype)
    out[top:top + h, left:left + w] = image
    return out


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square image in [-1, 1] to (size, size) with anti-aliasing (skimage)."""
    if image.shape == (size, size):
        return image
    from skimage.transform import resize

    out = resize(image, (size, size), order=1, anti_aliasing=image.shape[0] > size,
                 preserve_range=True, mode="edge")
    return np.clip(out, -1.0, 1.0).astype(np.float32)
