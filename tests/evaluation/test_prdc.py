"""Precision/recall and density/coverage checked against the authors' `prdc` package."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudit.evaluation import prdc as ours
from ganaudit.gan_models.errors import InputError

prdc = pytest.importorskip("prdc")


def _sets(seed, n_real, n_fake, d, shift):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_real, d)), rng.normal(size=(n_fake, d)) * 1.1 + shift


@pytest.mark.parametrize(
    "seed, n_real, n_fake, d, shift",
    [(0, 300, 250, 10, 0.0), (1, 200, 400, 32, 0.5), (2, 150, 150, 4, -1.0), (3, 500, 120, 64, 0.2)],
)
@pytest.mark.parametrize("k", [3, 5])
def test_matches_prdc_package(capsys, seed, n_real, n_fake, d, shift, k):
    real, fake = _sets(seed, n_real, n_fake, d, shift)
    expected = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    pr = ours.precision_recall(real, fake, k=k)
    dc = ours.density_coverage(real, fake, k=k)
    for name, value in {**pr, **dc}.items():
        assert value == pytest.approx(float(expected[name]), abs=1e-9), name


def test_blocking_does_not_change_results(monkeypatch):
    real, fake = _sets(4, 300, 200, 8, 0.3)
    full = {**ours.precision_recall(real, fake), **ours.density_coverage(real, fake)}
    monkeypatch.setattr(ours, "_BLOCK_ELEMENTS", 1000)  # 3-5 rows per block
    monkeypatch.setattr(ours, "_NEIGHBOUR_CACHE", type(ours._NEIGHBOUR_CACHE)())
    blocked = {**ours.precision_recall(real, fake), **ours.density_coverage(real, fake)}
    assert blocked == full


def test_identical_sets_are_perfect():
    real, _ = _sets(5, 200, 10, 6, 0.0)
    pr = ours.precision_recall(real, real.copy())
    dc = ours.density_coverage(real, real.copy())
    assert pr == {"precision": 1.0, "recall": 1.0}
    assert dc["coverage"] == 1.0 and dc["density"] > 0.9


def test_far_away_fakes_score_zero():
    real, fake = _sets(6, 100, 100, 4, 50.0)
    assert ours.precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert ours.density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}


@pytest.mark.parametrize(
    "k, match",
    [(0, "k must be a positive integer"), (2.5, "k must be a positive integer"), (10, "needs more than k samples")],
)
def test_bad_k(k, match):
    real, fake = _sets(7, 10, 10, 3, 0.0)
    with pytest.raises(InputError, match=match):
        ours.precision_recall(real, fake, k=k)


def test_radius_cache_follows_the_content():
    real, fake = _sets(8, 120, 100, 5, 0.1)
    before = ours.density_coverage(real, fake)
    real[:60] += 3.0  # same array object, new content: must not reuse cached radii
    expected = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    after = ours.density_coverage(real, fake)
    assert after != before
    assert after["density"] == pytest.approx(float(expected["density"]), abs=1e-9)
    assert after["coverage"] == pytest.approx(float(expected["coverage"]), abs=1e-9)
    assert ours.knn_radii_sq(real, 12).shape == (120,)  # beyond the cached 10 neighbours
