"""Fréchet distance, FD∞ and the bootstrap interval, checked against TF-GAN and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from ganaudit.evaluation.frechet import (
    fd_bootstrap_ci,
    fd_infinity,
    features_to_statistics,
    frechet_distance,
    frechet_distance_from_features,
)
from ganaudit.gan_models.errors import InputError
from tests.tfgan_oracle import load_tfgan


def _correlated(rng, n, d, shift=0.0, scale=1.0):
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mixing * scale + shift


@pytest.fixture(scope="module")
def tfgan_fd():
    _, tfgan_eval = load_tfgan()
    import tensorflow as tf

    def oracle(a, b):
        return float(tfgan_eval.frechet_classifier_distance_from_activations(tf.constant(a), tf.constant(b)).numpy())

    return oracle


@pytest.mark.parametrize(
    "n1, n2, d, shift",
    [(400, 300, 16, 0.3), (1000, 800, 64, 0.0), (50, 70, 8, 2.0), (200, 200, 32, -0.5)],
)
def test_matches_tfgan(tfgan_fd, n1, n2, d, shift):
    rng = np.random.default_rng(n1 + d)
    a = _correlated(rng, n1, d)
    b = _correlated(rng, n2, d, shift=shift, scale=1.3)
    ours = frechet_distance_from_features(a, b)
    assert ours == pytest.approx(tfgan_fd(a, b), rel=1e-6)


def test_identical_sets_give_zero():
    rng = np.random.default_rng(1)
    a = _correlated(rng, 500, 32)
    fd = frechet_distance_from_features(a, a.copy())
    trace = np.trace(np.cov(a, rowvar=False))
    assert 0.0 <= fd < 1e-9 * trace


def test_symmetric():
    rng = np.random.default_rng(2)
    a, b = _correlated(rng, 300, 24), _correlated(rng, 350, 24, shift=0.2, scale=2.0)
    assert frechet_distance_from_features(a, b) == pytest.approx(frechet_distance_from_features(b, a), rel=1e-10)


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(3)
    d = 10
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.1, 3, size=d), rng.uniform(0.1, 3, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_commuting_full_covariances_closed_form():
    # Σ1 = Q diag(a) Qᵀ, Σ2 = Q diag(b) Qᵀ share eigenvectors: tr term is Σ √(a b).
    rng = np.random.default_rng(4)
    d = 12
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a, b = rng.uniform(0.2, 4, size=d), rng.uniform(0.2, 4, size=d)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    mu = rng.normal(size=d)
    expected = np.sum(a) + np.sum(b) - 2 * np.sum(np.sqrt(a * b))
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(expected, rel=1e-10)


def test_rank_deficient_is_finite_and_matches_tfgan(tfgan_fd):
    rng = np.random.default_rng(5)
    a = _correlated(rng, 20, 64)  # N < D: singular covariance, Cholesky fails
    b = _correlated(rng, 30, 64, shift=0.1)
    fd = frechet_distance_from_features(a, b)
    assert np.isfinite(fd) and fd > 0
    assert fd == pytest.approx(tfgan_fd(a, b), rel=1e-6)
    assert frechet_distance_from_features(b, a) == pytest.approx(fd, rel=1e-8)


def test_singular_sigma1_uses_eigh_route():
    rng = np.random.default_rng(6)
    d = 6
    mu = np.zeros(d)
    s1 = np.diag([1.0, 2.0, 0.0, 0.0, 3.0, 0.5])
    s2 = np.diag(rng.uniform(0.5, 2, size=d))
    expected = np.sum((np.sqrt(np.diag(s1)) - np.sqrt(np.diag(s2))) ** 2)
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(expected, rel=1e-10)


def test_statistics_are_unbiased():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 3))
    mu, sigma = features_to_statistics(x)
    np.testing.assert_allclose(sigma, (x - x.mean(0)).T @ (x - x.mean(0)) / 39, rtol=1e-12)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.ones((5, 3)), np.ones((5, 4)), "same feature extractor"),
        (np.ones(5), np.ones((5, 4)), r"shape \(N samples, D features\)"),
        (np.ones((1, 3)), np.ones((5, 3)), "at least 2 are needed"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.ones((3, 2)), "NaN or infinite.*fix the feature extractor"),
        (np.ones((3, 2)), np.array([[1.0, np.inf], [2.0, 3.0]]), "second features contain NaN"),
    ],
)
def test_bad_features(a, b, match):
    with pytest.raises(InputError, match=match):
        frechet_distance_from_features(a, b)


@pytest.mark.parametrize(
    "mu1, s1, mu2, s2, match",
    [
        (np.zeros(3), np.eye(2), np.zeros(3), np.eye(3), r"sigma1 must have shape \(3, 3\)"),
        (np.zeros(3), np.eye(3), np.zeros(2), np.eye(2), "mu1 has 3 dimensions but mu2 has 2"),
        (np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2), "sigma1 is not symmetric"),
        (np.zeros(2), np.eye(2), np.array([0.0, np.nan]), np.eye(2), "mu2/sigma2 contain NaN"),
    ],
)
def test_bad_statistics(mu1, s1, mu2, s2, match):
    with pytest.raises(InputError, match=match):
        frechet_distance(mu1, s1, mu2, s2)


def test_fd_infinity_removes_small_sample_bias():
    rng = np.random.default_rng(8)
    d = 32
    real = rng.normal(size=(4000, d))
    fake = rng.normal(size=(800, d))  # same distribution: the true FD is ~0
    fd_n = frechet_distance_from_features(real, fake)
    result = fd_infinity(real, fake, seed=1)
    assert set(result) == {"fd_inf", "ci_low", "ci_high", "slope"}
    assert abs(result["fd_inf"]) < 0.25 * fd_n
    assert result["ci_low"] <= result["fd_inf"] <= result["ci_high"]
    assert result["slope"] > 0  # FD grows as N shrinks


def test_fd_infinity_matches_a_direct_regression():
    # Recompute the same subsets with the plain FD function and fit with scipy.
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(600, 10)), rng.normal(size=(300, 10)) + 0.3
    from ganaudit.evaluation.frechet import _canonical_order

    sizes = np.unique(np.linspace(30, 300, 15).round().astype(int))
    r, f = _canonical_order(real), _canonical_order(fake)
    pick = np.random.default_rng(3)
    fds = [frechet_distance_from_features(r, f[np.sort(pick.choice(300, n, replace=False))]) for n in sizes]
    fit = scipy.stats.linregress(1 / sizes, fds)
    half = scipy.stats.t.ppf(0.975, len(sizes) - 2) * fit.intercept_stderr
    result = fd_infinity(real, fake, seed=3)
    assert result["fd_inf"] == pytest.approx(fit.intercept, rel=1e-9)
    assert result["slope"] == pytest.approx(fit.slope, rel=1e-9)
    assert result["ci_high"] - result["ci_low"] == pytest.approx(2 * half, rel=1e-9)


def test_fd_infinity_bad_input():
    rng = np.random.default_rng(10)
    with pytest.raises(InputError, match="at least 20 generated samples"):
        fd_infinity(rng.normal(size=(50, 3)), rng.normal(size=(15, 3)))
    with pytest.raises(InputError, match="n_points must be an integer >= 3"):
        fd_infinity(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)), n_points=2)


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(11)
    d = 8
    small = fd_bootstrap_ci(rng.normal(size=(200, d)), rng.normal(size=(200, d)) + 0.5, n_boot=100)
    big_real, big_fake = rng.normal(size=(3200, d)), rng.normal(size=(3200, d)) + 0.5
    big = fd_bootstrap_ci(big_real, big_fake, n_boot=100)
    fd = frechet_distance_from_features(big_real, big_fake)
    assert big[0] < fd < big[1]
    # True FD is 8 × 0.25 = 2; sampling noise shrinks as 1/√N.
    assert big[0] < 2.0 * 1.1 and big[1] > 2.0 * 0.9
    assert (big[1] - big[0]) < 0.5 * (small[1] - small[0])


def test_bootstrap_bad_alpha():
    with pytest.raises(InputError, match="alpha must be between 0 and 1"):
        fd_bootstrap_ci(np.eye(4), np.eye(4), alpha=1.5)


@pytest.mark.parametrize("n1, n2, d", [(20, 30, 64), (50, 200, 64), (200, 40, 64)])
def test_sample_space_route_equals_covariance_route(n1, n2, d):
    # With fewer samples than features FD uses the singular values of A1 A2ᵀ; it must equal
    # the eigen route on the covariances (frechet_distance always takes that one). The eigen
    # route square-roots eigenvalues of a singular matrix that are 0 up to rounding, so the two
    # agree to about 1e-8, the same order as the TF-GAN comparison's tolerance allows.
    rng = np.random.default_rng(n1 + n2)
    a, b = _correlated(rng, n1, d), _correlated(rng, n2, d, shift=0.2, scale=0.7)
    expected = frechet_distance(*features_to_statistics(a), *features_to_statistics(b))
    assert frechet_distance_from_features(a, b) == pytest.approx(expected, rel=1e-6)


def test_bootstrap_interval_contains_the_estimate_when_n_is_below_d():
    # Resampling repeats rows, which inflates FD when N < D; the interval is re-centred.
    rng = np.random.default_rng(12)
    real, fake = _correlated(rng, 60, 100), _correlated(rng, 60, 100, shift=0.1)
    low, high = fd_bootstrap_ci(real, fake, n_boot=40)
    assert low < frechet_distance_from_features(real, fake) < high


# ----------------------------------------------------------------------------- interval methods (issue 15)

def _gaussian_pair(d, shift, seed):
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    sigma1 = (q * (1.0 / (1.0 + np.arange(d)))) @ q.T
    sigma2 = 1.2 * sigma1 + 0.05 * np.eye(d)
    return np.zeros(d), sigma1, shift * rng.normal(size=d), sigma2


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_gaussian_interval_matches_the_spread_of_fd_over_fresh_samples(shift):
    # Oracle: the standard deviation of FD over 400 independent draws of both sets. The
    # interval's half-width / t must estimate it (within the Monte Carlo error of 50 draws,
    # about 10 %, plus that of the oracle), at FD far below and near the bias.
    d, n1, n2 = 10, 300, 120
    mu1, s1, mu2, s2 = _gaussian_pair(d, shift, seed=3)
    l1, l2 = np.linalg.cholesky(s1), np.linalg.cholesky(s2)
    rng = np.random.default_rng(4)

    def draw():
        return mu1 + rng.standard_normal((n1, d)) @ l1.T, mu2 + rng.standard_normal((n2, d)) @ l2.T

    spread = np.std([frechet_distance_from_features(*draw()) for _ in range(400)], ddof=1)
    t = scipy.stats.t.ppf(0.975, 49)
    halves = []
    for seed in range(8):
        real, fake = draw()
        low, high = fd_bootstrap_ci(real, fake, seed=seed)
        estimate = frechet_distance_from_features(real, fake)
        assert low <= estimate <= high
        halves.append((high - estimate) / t)
    assert np.mean(halves) == pytest.approx(spread, rel=0.25)


def test_resample_method_overstates_the_spread_where_the_bias_is_large():
    # The old nonparametric bootstrap, kept as method="resample": its world is the two
    # samples, whose FD includes the bias, so its interval is wider than the spread.
    d, n1, n2 = 10, 300, 120
    mu1, s1, mu2, s2 = _gaussian_pair(d, 0.0, seed=3)
    rng = np.random.default_rng(5)
    real = mu1 + rng.standard_normal((n1, d)) @ np.linalg.cholesky(s1).T
    fake = mu2 + rng.standard_normal((n2, d)) @ np.linalg.cholesky(s2).T
    gaussian = fd_bootstrap_ci(real, fake)
    resample = fd_bootstrap_ci(real, fake, method="resample", n_boot=200)
    assert resample[1] - resample[0] > 1.2 * (gaussian[1] - gaussian[0])


def test_gaussian_interval_ignores_exactly_dependent_features_and_row_order():
    # Radiomic features include exact combinations (iqr = p75 − p25) and constants: the
    # covariances are singular; the draws work in their span.
    rng = np.random.default_rng(6)
    real, fake = _correlated(rng, 400, 12), _correlated(rng, 200, 12, shift=0.2)
    plain = fd_bootstrap_ci(real, fake)
    real_x = np.c_[real, real[:, 0] - real[:, 1], np.ones(400)]
    fake_x = np.c_[fake, fake[:, 0] - fake[:, 1], np.full(200, 1.5)]
    low, high = fd_bootstrap_ci(real_x, fake_x)
    assert low < frechet_distance_from_features(real_x, fake_x) < high
    assert high - low == pytest.approx(plain[1] - plain[0], rel=0.5)
    shuffled = fd_bootstrap_ci(real[rng.permutation(400)], fake[rng.permutation(200)])
    assert shuffled == pytest.approx(plain, rel=1e-9)


def test_interval_method_is_checked():
    with pytest.raises(InputError, match="unknown FD interval method 'wild'; use one of: gaussian, resample"):
        fd_bootstrap_ci(np.eye(4), np.eye(4), method="wild")


def test_fd_interval_when_the_generated_set_copies_part_of_the_real_one():
    """A memorizing checkpoint with fewer images than features: the generated rows are a subset
    of the real rows, so the generated-side world takes the real side's rank (39 here) with only
    24 images; the interval must still come out (it raised 'df <= 0')."""
    from ganaudit.evaluation.frechet import fd_bootstrap_ci, frechet_distance_from_features

    rng = np.random.default_rng(0)
    real = rng.standard_normal((40, 100))
    fake = real[rng.choice(40, 24, replace=False)]
    low, high = fd_bootstrap_ci(real, fake, n_boot=20, seed=0)
    estimate = frechet_distance_from_features(real, fake)
    assert 0 <= low <= estimate <= high and np.isfinite(high)


def test_round_off_in_the_features_moves_fd_infinity_and_intervals_by_round_off():
    # Issue 15: the random subsets follow a canonical row order that round-off does not change
    # (sorting rows by their bytes redrew every subset on a change of a last bit).
    rng = np.random.default_rng(12)
    real, fake = rng.normal(size=(700, 12)), rng.normal(size=(400, 12)) * 1.1 + 0.2
    moved_real = real + 1e-10 * rng.standard_normal(real.shape)
    moved_fake = fake + 1e-10 * rng.standard_normal(fake.shape)
    before, after = fd_infinity(real, fake, seed=4), fd_infinity(moved_real, moved_fake, seed=4)
    for key in before:
        assert after[key] == pytest.approx(before[key], abs=1e-7)
    assert fd_infinity(real, fake, seed=5)["fd_inf"] != pytest.approx(before["fd_inf"], abs=1e-4)
    for method in ("resample", "gaussian"):
        ci = fd_bootstrap_ci(real, fake, n_boot=20, seed=4, method=method)
        moved = fd_bootstrap_ci(moved_real, moved_fake, n_boot=20, seed=4, method=method)
        np.testing.assert_allclose(moved, ci, rtol=0, atol=1e-7)


def test_canonical_order_ignores_input_order_and_breaks_exact_ties_by_value():
    from ganaudit.evaluation.frechet import _canonical_order, _order_keys

    rng = np.random.default_rng(13)
    x = rng.normal(size=(50, 4))
    np.testing.assert_array_equal(_canonical_order(x[rng.permutation(50)]), _canonical_order(x))
    assert np.all(np.diff(_order_keys(_canonical_order(x))) >= 0)
    # Rows whose keys tie exactly (a zero column with two rows differing only there) still get
    # one order whatever the input order.
    tied = np.zeros((3, 2))
    tied[:, 1] = [1.0, -1.0, 0.5]
    direction = _order_keys(np.eye(2))
    twins = np.array([[direction[1], 0.0], [0.0, direction[0]]])  # same key, different rows
    rows = np.vstack([tied, twins])
    assert _order_keys(twins)[0] == _order_keys(twins)[1]
    first = _canonical_order(rows)
    np.testing.assert_array_equal(_canonical_order(rows[::-1]), first)
