"""Image import: DICOM / NIfTI / PNG / JPEG / TIFF / .npy → float32 arrays in [-1, 1].

Public:
- ``load_images(source, *, size=None, policy=IntensityPolicy(), axis=2, strict=False, ...)
  -> ImageSet``: images (N, S, S) float32 in [-1, 1], their names, groups and provenance.
- ``IntensityPolicy``: how raw values are windowed to [-1, 1] (recorded in run.json).
- ``split_train_heldout(n, *, heldout_fraction=0.2, seed=0, groups=None)``.
- ``write_png16(images, folder, names=None)``: write images in [-1, 1] as 16-bit PNGs,
  atomically; they load back unchanged.
- ``find_labels(source, names)``: a folder's labels.csv rows aligned with the loaded images.
- ``ganaudit.gan_models.data.dicom.available_handlers()``: installed DICOM pixel decoders.
"""

from ganaudit.gan_models.data.folders import ImageSet, write_png16
from ganaudit.gan_models.data.labels import find_labels
from ganaudit.gan_models.data.loader import load_images
from ganaudit.gan_models.data.policy import IntensityPolicy
from ganaudit.gan_models.data.split import split_train_heldout

__all__ = ["ImageSet", "IntensityPolicy", "find_labels", "load_images", "split_train_heldout",
           "write_png16"]
