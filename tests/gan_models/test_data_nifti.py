"""NIfTI volumes: slicing axis, radiological orientation whatever the stored orientation,
near-empty slices skipped, .nii and .nii.gz."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from ganaudit.gan_models.data import load_images
from ganaudit.gan_models.errors import InputError


def _volume() -> np.ndarray:
    """RAS volume (x: left→right, y: posterior→anterior, z: inferior→superior), 40x50x30.

    A box of tissue in slices z = 5..24 and a bright marker in the patient's LEFT ANTERIOR
    quadrant (small x, large y).
    """
    vol = np.zeros((40, 50, 30), np.float32)
    vol[5:35, 5:45, 5:25] = 100.0
    vol[8:14, 36:42, 5:25] = 400.0
    return vol


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_axial_slices_are_radiological_and_empty_slices_skipped(tmp_path, suffix):
    nib.save(nib.Nifti1Image(_volume(), np.diag([2.0, 2.0, 3.0, 1.0])), tmp_path / f"head{suffix}")
    images = load_images(tmp_path / f"head{suffix}", size=None)
    assert images.names == [f"head-{k:05d}" for k in range(5, 25)]
    img = images.images[0]
    assert img.shape == (50, 50)  # 50 rows (y) x 40 columns (x), centre-padded to square
    bright = np.argwhere(img == img.max())
    # Anterior at the top (small row), patient left on the image right (large column).
    assert bright[:, 0].max() < 25 and bright[:, 1].min() > 25
    assert len(set(images.groups)) == 1


def test_stored_orientation_does_not_change_the_slices(tmp_path):
    vol = _volume()
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "ras.nii")
    las = np.diag([-1.0, 1.0, 1.0, 1.0])
    las[0, 3] = 39.0  # x flipped on disk
    nib.save(nib.Nifti1Image(vol[::-1].copy(), las), tmp_path / "las.nii")
    a = load_images(tmp_path / "ras.nii")
    b = load_images(tmp_path / "las.nii")
    np.testing.assert_array_equal(a.images, b.images)


@pytest.mark.parametrize("axis,count,shape", [(0, 30, (50, 50)), (1, 40, (40, 40))])
def test_other_axes(tmp_path, axis, count, shape):
    nib.save(nib.Nifti1Image(_volume(), np.eye(4)), tmp_path / "v.nii.gz")
    images = load_images(tmp_path / "v.nii.gz", axis=axis)
    assert len(images) == count and images.images.shape[1:] == shape


def test_nifti_errors(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8, 3), np.float32), np.eye(4)), tmp_path / "4d.nii")
    with pytest.raises(InputError, match=r"4d.nii: expected a 3-D volume, got shape \(8, 8, 8, 3\)"):
        load_images(tmp_path / "4d.nii")
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8), np.float32), np.eye(4)), tmp_path / "zero.nii")
    with pytest.raises(InputError, match="zero.nii: every slice along axis 2 is near-empty"):
        load_images(tmp_path / "zero.nii")
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="broken.nii.gz: not a readable NIfTI file"):
        load_images(tmp_path / "broken.nii.gz")
    with pytest.raises(InputError, match="axis must be 0, 1 or 2"):
        load_images(tmp_path / "zero.nii", axis=3)
