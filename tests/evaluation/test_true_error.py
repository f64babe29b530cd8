"""True error of 1D points: precision, coverage, their mean, relative values and the bootstrap
interval, checked on cases whose answer is known and against brute-force distances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.spatial.distance import cdist

from ganaudit.evaluation import true_error_1d
from ganaudit.evaluation.true_error import true_error_ci
from ganaudit.gan_models import PATTERNS, Pattern
from ganaudit.gan_models.errors import InputError

KEYS = {"precision_error", "coverage_error", "true_error", "precision_error_rel",
        "coverage_error_rel", "true_error_rel"}


def _flat_curve(t):
    t = np.asarray(t, dtype=np.float64)
    return np.stack([t, np.zeros_like(t)], axis=1)


FLAT = Pattern("flat", _flat_curve, (0.0, 1.0), (-0.5, 0.5), "y = 0 on [0, 1]")


def _sine_points(n, seed=0):
    return PATTERNS["sine"].sample(n, np.random.default_rng(seed)).astype(np.float64)


def test_perfect_points_score_about_zero():
    scores = true_error_1d(_sine_points(4000), "sine")
    assert set(scores) == KEYS
    assert scores["precision_error"] < 1e-3
    assert scores["coverage_error"] < 5e-3
    assert scores["true_error"] < 5e-3


def test_points_shifted_by_a_tenth_have_precision_error_a_tenth():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 1.0, 2000)
    points = np.stack([x, np.full_like(x, 0.1)], axis=1)
    scores = true_error_1d(points, FLAT)
    assert scores["precision_error"] == pytest.approx(0.1, abs=1e-9)
    assert scores["coverage_error"] == pytest.approx(0.1, abs=2e-3)
    assert scores["precision_error_rel"] == pytest.approx(0.1 / 1.0, abs=1e-9)


def test_precision_error_on_a_sine_matches_exact_distances():
    """Points 0.1 above the sine: the distance to the curve is the perpendicular one (< 0.1
    where the curve slopes); an exact minimisation per point is the oracle."""
    points = _sine_points(300, seed=2) + np.array([0.0, 0.1])

    def distance(px, py):
        lo, hi = max(px - 0.5, -np.pi), min(px + 0.5, np.pi)
        found = minimize_scalar(lambda x: (x - px) ** 2 + (np.sin(x) - py) ** 2,
                                bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
        return np.sqrt(found.fun)

    expected = np.mean([distance(px, py) for px, py in points])
    scores = true_error_1d(points, "sine")
    assert scores["precision_error"] == pytest.approx(expected, abs=2e-4)
    assert 0.07 < scores["precision_error"] < 0.1


def test_collapsed_points_have_a_large_coverage_error():
    points = np.zeros((500, 2))  # every point at (0, 0): on the sine, but one spot
    scores = true_error_1d(points, "sine")
    assert scores["precision_error"] == pytest.approx(0.0, abs=1e-3)
    dense = PATTERNS["sine"].dense(2000)
    expected = np.mean(np.hypot(dense[:, 0], dense[:, 1]))  # every curve point to (0, 0)
    assert scores["coverage_error"] == pytest.approx(expected, rel=1e-3)
    perfect = true_error_1d(_sine_points(500), "sine")
    assert scores["coverage_error"] > 100 * perfect["coverage_error"]
    assert scores["true_error"] == pytest.approx(scores["coverage_error"] / 2, abs=1e-3)


def test_half_the_x_range_is_caught_by_coverage():
    points = _sine_points(4000)
    half = points[points[:, 0] < 0]
    scores = true_error_1d(half, "sine")
    full = true_error_1d(points, "sine")
    assert scores["precision_error"] < 1e-3  # what is there is on the curve
    assert scores["coverage_error"] > 50 * full["coverage_error"]
    # Brute force: every curve point to its nearest generated point.
    dense = PATTERNS["sine"].dense(2000)
    assert scores["coverage_error"] == pytest.approx(cdist(dense, half).min(axis=1).mean(), rel=1e-9)


def test_against_brute_force_distances():
    rng = np.random.default_rng(3)
    points = rng.uniform([-3.5, -1.5], [3.5, 1.5], (400, 2))
    pattern = PATTERNS["sine"]
    scores = true_error_1d(points, pattern, n_dense=5000, n_coverage=1000)
    precision = cdist(points, pattern.dense(5000)).min(axis=1).mean()
    coverage = cdist(pattern.dense(1000), points).min(axis=1).mean()
    assert scores["precision_error"] == pytest.approx(precision, rel=1e-9)
    assert scores["coverage_error"] == pytest.approx(coverage, rel=1e-9)
    assert scores["true_error"] == pytest.approx((precision + coverage) / 2, rel=1e-9)


def test_points_beyond_the_x_range_are_penalised():
    inside = np.array([[0.5, 0.0]])
    outside = np.array([[1.4, 0.0]])  # 0.4 beyond the end of the flat curve
    assert true_error_1d(inside, FLAT)["precision_error"] == pytest.approx(0.0, abs=1e-4)
    assert true_error_1d(outside, FLAT)["precision_error"] == pytest.approx(0.4, abs=1e-4)


@pytest.mark.parametrize("name", ["parabola", "sawtooth", "square"])
def test_relative_values_are_absolute_over_the_y_range(name):
    pattern = PATTERNS[name]
    points = pattern.sample(500, np.random.default_rng(4)) + np.random.default_rng(5).normal(0, 0.05, (500, 2))
    scores = true_error_1d(points, name)
    span = pattern.y_range[1] - pattern.y_range[0]
    for key in ("precision_error", "coverage_error", "true_error"):
        assert scores[f"{key}_rel"] == pytest.approx(scores[key] / span, rel=1e-12)


@pytest.mark.parametrize("noise", [0.0, 0.02, 0.1])
def test_bootstrap_interval_contains_the_estimate(noise):
    rng = np.random.default_rng(6)
    points = _sine_points(1000, seed=6) + rng.normal(0.0, noise, (1000, 2))
    estimate = true_error_1d(points, "sine")["true_error"]
    low, high = true_error_ci(points, "sine", n_boot=100, seed=0)
    assert low < high
    assert low <= estimate <= high
    assert high - low < 0.5 * estimate + 1e-3  # an interval, not the whole line
    assert true_error_ci(points, "sine", n_boot=100, seed=0) == (low, high)  # seeded


def test_interval_shrinks_with_more_points():
    rng = np.random.default_rng(7)

    def width(n):
        points = _sine_points(n, seed=8) + rng.normal(0.0, 0.05, (n, 2))
        low, high = true_error_ci(points, "sine", n_boot=100, seed=0)
        return high - low

    assert width(4000) < width(250)


def test_score_order_does_not_matter():
    points = _sine_points(300) + np.random.default_rng(9).normal(0, 0.05, (300, 2))
    shuffled = points[np.random.default_rng(10).permutation(len(points))]
    a, b = true_error_1d(points, "sine"), true_error_1d(shuffled, "sine")
    for key in KEYS:
        assert a[key] == pytest.approx(b[key], rel=1e-12)


@pytest.mark.parametrize("points, message", [
    (np.zeros((5, 3)), r"points must be an \(n, 2\) array.*got shape \(5, 3\)"),
    (np.zeros((0, 2)), r"points must be an \(n, 2\) array of \(x, y\) with n ≥ 1"),
    (np.array([[0.0, np.nan]]), r"points contain NaN or infinite values"),
])
def test_bad_points_are_refused(points, message):
    with pytest.raises(InputError, match=message):
        true_error_1d(points, "sine")
    with pytest.raises(InputError, match=message):
        true_error_ci(points, "sine")


def test_unknown_pattern_is_refused():
    with pytest.raises(InputError, match="unknown pattern 'zigzag'; known patterns: sine"):
        true_error_1d(np.zeros((3, 2)), "zigzag")
