"""NIfTI volumes (.nii, .nii.gz) → 2-D slices along one axis, near-empty slices skipped.

The volume is first reoriented to RAS (``nibabel.as_closest_canonical``) and slices are shown
in radiological convention, like the phantom and DICOM axial images: axial (``axis=2``) rows
run anterior → posterior and columns patient right → left (the patient's left is on the
image's right); coronal (``axis=1``) rows run superior → inferior, columns right → left;
sagittal (``axis=0``) rows run superior → inferior, columns anterior → posterior.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganaudit.gan_models.data.raw import RawImage
from ganaudit.gan_models.errors import InputError

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def nifti_stem(path: Path) -> str:
    name = path.name
    return name[:-7] if name.lower().endswith(".nii.gz") else name[:-4]


def _orient(slice_2d: np.ndarray) -> np.ndarray:
    """A RAS slice (first, second remaining axis) → display: both axes reversed, transposed.

    Axial (x, y): rows anterior → posterior, columns right → left. Coronal (x, z) and
    sagittal (y, z): rows superior → inferior, columns right → left / anterior → posterior.
    """
    return slice_2d.T[::-1, ::-1]


def read_nifti(path: Path, name: str, group: str, *, axis: int = 2,
               min_foreground: float = 0.05) -> list[RawImage]:
    """Slices of a 3-D NIfTI volume along ``axis`` (0, 1 or 2 of the RAS-reoriented volume).

    A slice is near-empty, and skipped, when fewer than ``min_foreground`` of its voxels
    exceed 10 % of the volume's 99th-percentile value. Slice names are ``<stem>-<index>``
    with the index in the reoriented volume, so they stay stable whatever is skipped.
    """
    import nibabel as nib

    if axis not in (0, 1, 2):
        raise InputError(f"axis must be 0, 1 or 2 (sagittal, coronal, axial), got {axis!r}")
    try:
        img = nib.as_closest_canonical(nib.load(path))
        volume = np.asarray(img.dataobj, dtype=np.float64)
    except Exception as exc:  # nibabel raises many types for truncated or invalid files
        raise InputError(f"{path.name}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc
    while volume.ndim > 3 and volume.shape[-1] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise InputError(f"{path.name}: expected a 3-D volume, got shape {volume.shape}; "
                         "split 4-D series into 3-D volumes first")
    finite = volume[np.isfinite(volume)]
    if finite.size == 0:
        raise InputError(f"{path.name}: the volume has no finite values")
    level = 0.1 * np.percentile(finite, 99)
    out = []
    for k in range(volume.shape[axis]):
        sl = np.take(volume, k, axis=axis)
        fraction = float(np.mean(np.nan_to_num(sl, nan=-np.inf) > level)) if level > 0 else 0.0
        if fraction < min_foreground:
            continue
        out.append(RawImage(f"{name}-{k:05d}", np.ascontiguousarray(_orient(sl)), group,
                            "nifti", sort_key=(k,)))
    if not out:
        raise InputError(f"{path.name}: every slice along axis {axis} is near-empty "
                         f"(< {min_foreground:.0%} foreground); check the axis or the volume")
    return out
