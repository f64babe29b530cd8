"""Every metric through the same invariances: sample order, batch size, symmetry where it holds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage

from ganaudit.evaluation.features import extract, get_extractor, known_extractors
from ganaudit.evaluation.frechet import fd_bootstrap_ci, fd_infinity, frechet_distance_from_features
from ganaudit.evaluation.kid import kid
from ganaudit.evaluation.prdc import density_coverage, precision_recall

METRICS = {
    "fd": frechet_distance_from_features,
    "fd_infinity": lambda a, b: fd_infinity(a, b, seed=3),
    "fd_bootstrap_ci": lambda a, b: fd_bootstrap_ci(a, b, n_boot=20, seed=3),
    "kid": lambda a, b: kid(a, b, subset_size=50, n_subsets=10, seed=3),
    "precision_recall": precision_recall,
    "density_coverage": density_coverage,
}
SYMMETRIC = ["fd", "kid"]


def _values(result) -> np.ndarray:
    if isinstance(result, dict):
        return np.array([result[k] for k in sorted(result)], dtype=float)
    return np.atleast_1d(np.asarray(result, dtype=float))


@pytest.fixture(scope="module")
def feature_sets():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(12, 12)) / 3
    real = rng.normal(size=(240, 12)) @ mixing
    fake = rng.normal(size=(180, 12)) @ mixing * 1.2 + 0.3
    return real, fake


@pytest.mark.parametrize("name", sorted(METRICS))
def test_sample_order_does_not_matter(feature_sets, name):
    real, fake = feature_sets
    rng = np.random.default_rng(1)
    before = _values(METRICS[name](real, fake))
    after = _values(METRICS[name](real[rng.permutation(len(real))], fake[rng.permutation(len(fake))]))
    assert np.all(np.isfinite(before)) and np.any(before != 0)
    np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", SYMMETRIC)
def test_symmetric_metrics(feature_sets, name):
    real, fake = feature_sets
    np.testing.assert_allclose(_values(METRICS[name](fake, real)), _values(METRICS[name](real, fake)), rtol=1e-9)


def test_order_check_would_catch_an_order_dependent_metric(feature_sets):
    # The sample-order test is meaningful: a metric on the first half of the rows fails it.
    real, fake = feature_sets
    first_half = lambda a, b: frechet_distance_from_features(a[: len(a) // 2], b[: len(b) // 2])  # noqa: E731
    rng = np.random.default_rng(1)
    assert first_half(real, fake) != pytest.approx(
        first_half(real[rng.permutation(len(real))], fake[rng.permutation(len(fake))]), rel=1e-9
    )


def _images(n=20, size=32):
    rng = np.random.default_rng(2)
    field = scipy.ndimage.gaussian_filter(rng.normal(size=(n, size, size)), (0, 1.5, 1.5))
    return np.tanh(3 * field).astype(np.float32)


def _mean_std(images):
    return np.stack([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=1)


# Inception needs a weights file and ~20 s: its batch behaviour is covered by
# test_features.test_inception_with_random_weights' comparison with one Keras call.
EXTRACTORS = [name for name in known_extractors() if name != "inception"] + [f"{__name__}:_mean_std"]


@pytest.mark.parametrize("name", EXTRACTORS)
def test_batch_size_does_not_matter(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path))
    extractor = get_extractor(name)
    images = _images()
    small = extract(images, extractor, batch_size=7, cache=False)
    large = extract(images, extractor, batch_size=64, cache=False)
    assert small.shape[0] == len(images)
    np.testing.assert_allclose(small, large, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", EXTRACTORS)
def test_image_order_permutes_features(name, tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path))
    images = _images()
    order = np.random.default_rng(3).permutation(len(images))
    features = extract(images, name, cache=False)
    np.testing.assert_allclose(extract(images[order], name, cache=False), features[order], rtol=1e-10, atol=1e-12)
