"""The phantom detector's features, computed for a stack of slices at once (issue 15), equal
the one-slice-at-a-time implementation they replaced, kept as the oracle in
``tests/evaluation/detectors_before_speedup.py``."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudit.evaluation import detectors
from tests.evaluation import detectors_before_speedup as before


def _odd_slices(size: int) -> np.ndarray:
    """Slices that take the rare branches: blank, noise, a head cut by the image edge, a tiny
    head (fewer than 4 pixels of brain), a dark-skull-free bright disc."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:size, 0:size]
    blank = np.full((size, size), -1.0)
    noise = rng.uniform(-1, 1, (size, size))
    cut = np.where(np.hypot(yy - size * 0.1, xx - size * 0.5) < size * 0.45, 0.3, -1.0)
    tiny = np.where(np.hypot(yy - size / 2, xx - size / 2) < 1.5, 0.9, -1.0)
    disc = np.where(np.hypot(yy - size / 2, xx - size / 2) < size * 0.4, 0.5, -1.0)
    return np.stack([blank, noise, cut, tiny, disc]).astype(np.float32)


@pytest.fixture(scope="module")
def slices():
    from ganaudit.gan_models.phantom import make_population

    images, _ = make_population(48, 64, seed=41)
    heavy, _ = make_population(16, 64, seed=42, lesion_prevalence=1.0, lesion_side="right")
    lo, hi = np.percentile(images, [0.5, 99.5], axis=(1, 2), keepdims=True)
    rescaled = (np.clip((images - lo) / np.maximum(hi - lo, 1e-6), 0, 1) * 2 - 1).astype(np.float32)
    return np.concatenate([images, heavy, rescaled, _odd_slices(64)]).astype(np.float32)


def test_detector_features_match_the_per_image_implementation(slices, monkeypatch):
    # Stacks smaller than the input, so that the chunking is exercised too.
    monkeypatch.setattr(detectors, "_DETECT_CHUNK", 37)
    lesion, vent, spots = detectors._features(slices)
    old_lesion, old_vent, old_spots = before._features(slices)
    np.testing.assert_allclose(lesion, old_lesion, rtol=0, atol=1e-9)
    np.testing.assert_allclose(vent, old_vent, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(spots, old_spots)
    # The check can fail: the default features (no brain found) differ from a real slice's.
    assert np.abs(lesion - lesion[::-1]).max() > 0.1


@pytest.mark.parametrize("size", [32, 48])
def test_brain_masks_match_the_per_image_implementation(size):
    from ganaudit.gan_models.phantom import make_population

    images = np.concatenate([make_population(12, size, seed=43)[0], _odd_slices(size)]).astype(np.float32)
    stacked = detectors.brain_masks(images)
    for image, mask in zip(images, stacked):
        np.testing.assert_array_equal(mask, before.brain_mask(image))
        np.testing.assert_array_equal(detectors.brain_mask(image.astype(np.float64)),
                                      before.brain_mask(image.astype(np.float64)))
    assert stacked[:12].any(axis=(1, 2)).all() and not stacked[12].any()


def test_no_images_give_empty_features():
    lesion, vent, spots = detectors._features(np.zeros((0, 32, 32), np.float32))
    assert lesion.shape == (0, 4) and vent.shape == (0, 4) and spots.shape == (0, 2)
