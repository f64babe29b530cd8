"""Bad inputs to load_images: one clear InputError each (or a warning when the rest can go on)."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudit.gan_models.data import load_images, write_png16
from ganaudit.gan_models.errors import InputError


@pytest.fixture
def good_folder(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16)).astype(np.float32)
    write_png16(images, tmp_path / "imgs", ["a", "b", "c"])
    return tmp_path / "imgs"


def test_missing_source(tmp_path):
    with pytest.raises(InputError, match=r"nowhere does not exist; give an image file or a folder"):
        load_images(tmp_path / "nowhere")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"folder .*empty is empty; put DICOM, NIfTI"):
        load_images(tmp_path / "empty")


def test_folder_without_images_lists_what_it_found(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "labels.csv").write_text("file\n")
    with pytest.raises(InputError, match=r"no image files in .*: found 2 file\(s\) \(labels.csv, "
                                         r"notes.txt\) but none is DICOM"):
        load_images(tmp_path)


def test_unsupported_single_file(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="x.txt is not a supported image file"):
        load_images(tmp_path / "x.txt")


def test_corrupt_png_is_skipped_with_a_warning(good_folder):
    (good_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.warns(UserWarning, match=r"1 of 4 files could not be read: broken.png: not a "
                                         r"readable image .*; the rest was loaded"):
        images = load_images(good_folder)
    assert images.names == ["a", "b", "c"]
    assert images.meta["skipped"] and "broken.png" in images.meta["skipped"][0]


def test_corrupt_png_fails_in_strict_mode(good_folder):
    (good_folder / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match=r"1 of 4 files could not be read: broken.png.*"
                                         r"load with strict=False \(command line: without --strict\)"):
        load_images(good_folder, strict=True)


def test_only_corrupt_files_lists_what_was_tried(tmp_path):
    (tmp_path / "a.png").write_bytes(b"nope")
    (tmp_path / "b.npy").write_bytes(b"nope")
    with pytest.raises(InputError, match=r"no readable image in .*: tried 2 file\(s\): a.png: .*"
                                         r"b.npy: not a readable .npy array"):
        load_images(tmp_path)


def test_single_corrupt_file_names_it(tmp_path):
    (tmp_path / "c.dcm").write_bytes(b"\x00" * 200)
    with pytest.raises(InputError, match=r"c.dcm: not a readable DICOM file"):
        load_images(tmp_path / "c.dcm")


@pytest.mark.parametrize("array,message", [
    (np.zeros((2, 3, 4, 5)), r"expected a numeric array of shape \(H, W\) or \(N, H, W\), got "
                             r"float64 \(2, 3, 4, 5\)"),
    (np.array(["a", "b"]), r"expected a numeric array"),
])
def test_bad_npy_shapes(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(InputError, match=message):
        load_images(tmp_path / "x.npy")


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_size(good_folder, size):
    with pytest.raises(InputError, match="size must be a positive number of pixels"):
        load_images(good_folder, size=size)


def test_dicomdir_and_hidden_files_are_not_images(good_folder):
    (good_folder / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)
    (good_folder / ".DS_Store").write_bytes(b"junk")
    images = load_images(good_folder, strict=True)
    assert images.names == ["a", "b", "c"]
