"""Image import: folders of PNG/NPY (and, later, DICOM/NIfTI) → float32 arrays in [-1, 1].

Public:
- ``load_images(source, *, size=None) -> ImageSet``: images (N, S, S) float32 in [-1, 1] and
  their names.
- ``write_png16(images, folder, names=None)``: write images in [-1, 1] as 16-bit PNGs,
  atomically (the whole folder appears at once).
"""

from gan_models.data.folders import ImageSet, load_images, write_png16

__all__ = ["ImageSet", "load_images", "write_png16"]
