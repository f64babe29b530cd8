"""Raster images (PNG/JPEG/TIFF, 8- and 16-bit), ``.npy`` stacks, and the ``ImageSet`` type.

``write_png16`` writes images in [-1, 1] as 16-bit PNGs marked with the text chunk
``ganaudit-range=-1,1`` so that :func:`ganaudit.gan_models.data.load_images` reads them back exactly
(|Δ| ≤ 1/65535) under the default ``auto`` intensity policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganaudit.gan_models.atomic import atomic_path
from ganaudit.gan_models.data.raw import RawImage
from ganaudit.gan_models.errors import InputError

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
RANGE_KEY = "ganaudit-range"


@dataclass
class ImageSet:
    """Images as float32 (N, S, S) in [-1, 1], one name per image, and provenance.

    ``groups`` gives, per image, the file / series / volume it came from (for grouped
    train/held-out splits); it defaults to the names.
    """

    images: np.ndarray
    names: list[str]
    meta: dict = field(default_factory=dict)
    groups: list[str] | None = None

    def __post_init__(self) -> None:
        if self.groups is None:
            self.groups = list(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _parse_range(text: str) -> tuple[float, float] | None:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        return None
    return (lo, hi) if hi > lo else None


def read_raster(path: Path, name: str, group: str) -> list[RawImage]:
    """Read one PNG/JPEG/TIFF as a 2-D image (colour becomes luminance).

    A 16-bit image with the ``ganaudit-range`` text chunk declares that stored 0..65535 spans
    that range, so the ``auto`` policy keeps its values.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            frames = []
            marker = im.info.get(RANGE_KEY)
            n_frames = getattr(im, "n_frames", 1)
            for k in range(n_frames):
                im.seek(k)
                if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L", "1"):
                    arr = np.asarray(im)
                else:
                    arr = np.asarray(im.convert("L"))
                frames.append(arr)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path.name}: not a readable image ({exc})") from exc
    stored = None
    # Some Pillow versions give 16-bit PNGs as int32 ("I"): accept any integer 0..65535.
    if (marker is not None and frames and np.issubdtype(frames[0].dtype, np.integer)
            and frames[0].min() >= 0 and frames[0].max() <= 65535):
        declared = _parse_range(str(marker))
        if declared is not None:
            # Stored 0..65535 spans the declared range: rescale to it.
            lo, hi = declared
            frames = [f.astype(np.float64) / 65535.0 * (hi - lo) + lo for f in frames]
            stored = declared
    out = []
    for k, arr in enumerate(frames):
        frame_name = name if len(frames) == 1 else f"{name}-{k:05d}"
        out.append(RawImage(frame_name, np.asarray(arr, dtype=np.float64), group, "raster",
                            stored_range=stored, sort_key=(k,)))
    return out


def read_npy(path: Path, name: str, group: str) -> list[RawImage]:
    """Read a ``.npy`` image (H, W) or stack (N, H, W) (a trailing channel of 1 is dropped).

    Float data within [-1, 1] with some negative values is taken as already scaled
    (``auto`` keeps it); float data in [0, 1] is windowed like any other image.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path.name}: not a readable .npy array ({exc})") from exc
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3 or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"{path.name}: expected a numeric array of shape (H, W) or (N, H, W), "
                         f"got {array.dtype} {array.shape}; save images as np.save(path, stack)")
    stored = None
    if np.issubdtype(array.dtype, np.floating) and array.size:
        finite = array[np.isfinite(array)]
        # Negative values within [-1, 1] mean "already scaled"; [0, 1] data is windowed as usual.
        if finite.size and -1.0 <= finite.min() < 0.0 and finite.max() <= 1.0:
            stored = (-1.0, 1.0)
    return [RawImage(name if single else f"{name}-{k:05d}", np.asarray(img, dtype=np.float64),
                     group, "npy", stored_range=stored, sort_key=(k,))
            for k, img in enumerate(array)]


def write_png16(images: np.ndarray, folder, names: list[str] | None = None) -> list[Path]:
    """Write images in [-1, 1] as 16-bit grayscale PNGs into ``folder`` (created atomically).

    Each PNG carries the text chunk ``ganaudit-range=-1,1`` so that ``load_images`` maps it
    back to [-1, 1] exactly instead of re-windowing it.
    """
    from PIL import Image, PngImagePlugin

    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3:
        raise InputError(f"write_png16 expects images of shape (N, H, W), got {images.shape}")
    if names is None:
        names = [f"img-{i:05d}" for i in range(len(images))]
    if len(names) != len(images) or len(set(names)) != len(names):
        raise InputError(f"write_png16 needs one unique name per image: {len(images)} images, "
                         f"{len(set(names))} distinct names")
    info = PngImagePlugin.PngInfo()
    info.add_text(RANGE_KEY, "-1,1")
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for img, name in zip(images, names):
            u16 = np.round((np.clip(np.nan_to_num(img, nan=-1.0), -1, 1) + 1) / 2 * 65535)
            Image.fromarray(u16.astype(np.uint16)).save(tmp / f"{name}.png", pnginfo=info)
    return [folder / f"{n}.png" for n in names]
