"""PNG/JPEG/TIFF (8- and 16-bit) and .npy import, the write_png16 round trip, naming, padding
and anti-aliased resizing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganaudit.gan_models.data import ImageSet, IntensityPolicy, load_images, write_png16
from ganaudit.gan_models.errors import InputError


def _percentile_window(array: np.ndarray, lo_q=0.5, hi_q=99.5) -> np.ndarray:
    lo, hi = np.percentile(array.astype(np.float64), [lo_q, hi_q])
    return np.clip((array - lo) / (hi - lo) * 2 - 1, -1, 1)


@pytest.fixture
def smooth_images():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:48, :48] / 47.0
    base = np.sin(3 * xx) * np.cos(2 * yy)
    return np.stack([np.clip(base * rng.uniform(0.5, 1) + rng.normal(0, 0.05, base.shape), -1, 1)
                     for _ in range(4)]).astype(np.float32)


def test_write_png16_round_trip_is_essentially_lossless(tmp_path, smooth_images):
    write_png16(smooth_images, tmp_path / "gen", [f"g{i}" for i in range(4)])
    back = load_images(tmp_path / "gen")
    assert isinstance(back, ImageSet) and back.names == ["g0", "g1", "g2", "g3"]
    assert back.images.dtype == np.float32 and back.images.shape == (4, 48, 48)
    assert np.abs(back.images - smooth_images).max() < 1e-3
    assert np.abs(back.images - smooth_images).max() <= 1 / 65535 + 1e-6  # half a 16-bit step


def test_write_png16_files_are_16_bit_and_marked(tmp_path, smooth_images):
    paths = write_png16(smooth_images[:1], tmp_path / "gen")
    with Image.open(paths[0]) as im:
        assert im.mode == "I;16" and im.info["ganaudit-range"] == "-1,1"


def test_percentile_policy_ignores_the_marker(tmp_path, smooth_images):
    write_png16(smooth_images, tmp_path / "gen")
    back = load_images(tmp_path / "gen", policy=IntensityPolicy(mode="percentile"))
    with Image.open(tmp_path / "gen" / "img-00002.png") as im:
        stored = np.asarray(im).astype(np.float64)
    np.testing.assert_allclose(back.images[2], _percentile_window(stored), atol=1e-5)


@pytest.mark.parametrize("dtype,suffix", [(np.uint8, ".png"), (np.uint16, ".png"),
                                          (np.uint16, ".tif"), (np.uint8, ".tiff")])
def test_unmarked_rasters_use_the_percentile_window(tmp_path, dtype, suffix):
    rng = np.random.default_rng(2)
    top = np.iinfo(dtype).max
    array = rng.integers(0, top, size=(40, 40), endpoint=True).astype(dtype)
    Image.fromarray(array).save(tmp_path / f"x{suffix}")
    got = load_images(tmp_path / f"x{suffix}").images[0]
    np.testing.assert_allclose(got, _percentile_window(array), atol=1e-5)


def test_rgb_png_becomes_luminance_and_jpeg_loads(tmp_path):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, 16:, 1] = 200  # right half green
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(rgb).save(tmp_path / "c2.jpg", quality=95)
    images = load_images(tmp_path)
    assert images.names == ["c", "c2"]
    for img in images.images:
        assert img[:, :12].mean() < -0.9 and img[:, 20:].mean() > 0.9


def test_npy_stacks_names_and_already_scaled_floats(tmp_path, smooth_images):
    np.save(tmp_path / "stack.npy", smooth_images)  # float in [-1, 1]: kept as is
    np.save(tmp_path / "one.npy", (smooth_images[0] * 1000).astype(np.int16))
    np.save(tmp_path / "chan.npy", smooth_images[:2, ..., None])
    images = load_images(tmp_path)
    assert images.names == ["chan-00000", "chan-00001", "one",
                            "stack-00000", "stack-00001", "stack-00002", "stack-00003"]
    np.testing.assert_array_equal(images.images[3:], smooth_images)
    np.testing.assert_allclose(images.images[2], _percentile_window(smooth_images[0] * 1000),
                               atol=2e-3)
    assert images.groups[3] == images.groups[6] != images.groups[2]


def test_same_stem_in_two_formats_gets_distinct_names(tmp_path, smooth_images):
    np.save(tmp_path / "a.npy", smooth_images[0])
    write_png16(smooth_images[:1], tmp_path / "png", ["a"])
    (tmp_path / "png" / "a.png").rename(tmp_path / "a.png")
    images = load_images(tmp_path)
    assert images.names == ["a_npy", "a_png"]


def test_nested_folders_are_searched_and_named_by_path(tmp_path, smooth_images):
    write_png16(smooth_images[:2], tmp_path / "s1", ["x", "y"])
    write_png16(smooth_images[2:], tmp_path / "s2" / "deep", ["x", "y"])
    (tmp_path / ".hidden").mkdir()
    np.save(tmp_path / ".hidden" / "z.npy", smooth_images)
    images = load_images(tmp_path)
    assert images.names == ["s1__x", "s1__y", "s2__deep__x", "s2__deep__y"]


def test_non_square_images_are_centre_padded(tmp_path):
    array = np.full((20, 48), 0.5, np.float32)
    np.save(tmp_path / "wide.npy", array)
    identity = IntensityPolicy(mode="fixed", window_center=0.0, window_width=2.0)
    got = load_images(tmp_path / "wide.npy", policy=identity).images[0]
    assert got.shape == (48, 48)
    assert np.all(got[:14] == -1) and np.all(got[34:] == -1) and np.all(got[14:34] == 0.5)


def test_resize_is_anti_aliased(tmp_path):
    checker = np.where((np.indices((64, 64)).sum(0) % 2) == 0, 1.0, -1.0).astype(np.float32)
    np.save(tmp_path / "checker.npy", checker)
    got = load_images(tmp_path / "checker.npy", size=32).images[0]
    assert got.shape == (32, 32)
    assert np.abs(got[4:-4, 4:-4]).max() < 0.2  # naive subsampling would give all +1 or -1


def test_mixed_sizes_need_size(tmp_path, smooth_images):
    np.save(tmp_path / "a.npy", smooth_images)
    np.save(tmp_path / "b.npy", smooth_images[:, :32, :32])
    with pytest.raises(InputError, match=r"mixed sizes 32x32 \(4\), 48x48 \(4\); pass size=S "
                                         r"\(command line: --size S\)"):
        load_images(tmp_path)
    images = load_images(tmp_path, size=40)
    assert images.images.shape == (8, 40, 40) and images.meta["size"] == 40


def test_multi_page_tiff_gives_one_image_per_page(tmp_path):
    pages = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (10, 20, 30)]
    for k, page in enumerate(pages):
        page.putpixel((0, 0), 200)  # not constant, so the window is defined
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    images = load_images(tmp_path / "pages.tif", policy=IntensityPolicy(
        mode="fixed", window_center=100, window_width=200))
    assert images.names == ["pages-00000", "pages-00001", "pages-00002"]
    np.testing.assert_allclose(images.images[:, 5, 5], [-0.9, -0.8, -0.7], atol=1e-6)


def test_float_npy_in_unit_interval_is_windowed_not_kept(tmp_path, smooth_images):
    unit = (smooth_images[0] + 1) / 2  # values in [0, 1]: not "already scaled"
    np.save(tmp_path / "unit.npy", unit)
    got = load_images(tmp_path / "unit.npy").images[0]
    np.testing.assert_allclose(got, _percentile_window(unit.astype(np.float64)), atol=1e-5)
