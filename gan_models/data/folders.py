"""Read and write folders of images (minimal version: PNG and NPY)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gan_models.atomic import atomic_path
from gan_models.errors import InputError

PNG_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


@dataclass
class ImageSet:
    """Images as float32 (N, S, S) in [-1, 1], one name per image, and provenance."""

    images: np.ndarray
    names: list[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)


def _to_unit_range(array: np.ndarray) -> np.ndarray:
    array = array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float64)
    lo, hi = np.percentile(array, [0.5, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    return (np.clip((array - lo) / (hi - lo), 0, 1) * 2 - 1).astype(np.float32)


def load_images(source, *, size: int | None = None) -> ImageSet:
    folder = Path(source)
    if not folder.exists():
        raise InputError(f"image folder {folder} does not exist; give a folder of PNG or NPY files")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PNG_SUFFIXES | {".npy"})
    if not files:
        raise InputError(f"no images in {folder}: expected PNG/JPEG/TIFF or .npy files")
    images, names = [], []
    for path in files:
        if path.suffix.lower() == ".npy":
            stack = np.load(path)
            stack = stack[None] if stack.ndim == 2 else stack
            for i, img in enumerate(stack):
                images.append(_to_unit_range(img))
                names.append(f"{path.stem}-{i:05d}")
        else:
            with Image.open(path) as im:
                images.append(_to_unit_range(np.asarray(im.convert("I;16") if im.mode == "I;16" else im.convert("F"))))
            names.append(path.stem)
    shapes = {img.shape for img in images}
    if len(shapes) > 1 and size is None:
        raise InputError(f"images in {folder} have mixed sizes {sorted(shapes)}; pass --size S to resize them all")
    if size is not None:
        from skimage.transform import resize

        images = [img if img.shape == (size, size) else
                  resize(img, (size, size), anti_aliasing=True, preserve_range=True).astype(np.float32)
                  for img in images]
    return ImageSet(np.stack(images), names, {"source": str(folder)})


def write_png16(images: np.ndarray, folder, names: list[str] | None = None) -> list[Path]:
    """Write images in [-1, 1] as 16-bit grayscale PNGs into ``folder`` (created atomically)."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if names is None:
        names = [f"img-{i:05d}" for i in range(len(images))]
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for img, name in zip(images, names):
            u16 = np.round((np.clip(img, -1, 1) + 1) / 2 * 65535).astype(np.uint16)
            Image.fromarray(u16).save(tmp / f"{name}.png")
    return [folder / f"{n}.png" for n in names]
