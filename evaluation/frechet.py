"""Fréchet distance between feature distributions, its bias-corrected FD∞ and a bootstrap CI.

Lower is better for every number here: 0 means the two feature distributions have the same
mean and covariance. FD is biased upwards at small sample sizes, so compare checkpoints only
at equal N, or use FD∞ (the value extrapolated to infinitely many samples).

The matrix square root is never formed explicitly. With Σ1 = F Fᵀ (a Cholesky factor, or
the symmetric square root when Σ1 is singular), tr (Σ1^½ Σ2 Σ1^½)^½ = Σ √λi where λi are the
eigenvalues of the symmetric positive semi-definite matrix Fᵀ Σ2 F. A values-only symmetric
eigensolver is enough, no complex numbers appear, and tiny negative eigenvalues from rounding
are clipped to 0. Everything is float64.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.stats

from gan_models.errors import InputError

__all__ = [
    "check_features",
    "features_to_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "fd_infinity",
    "fd_bootstrap_ci",
]


def check_features(features, *, name: str, min_samples: int = 2) -> np.ndarray:
    """Return ``features`` as a float64 (N, D) array or raise :class:`InputError`.

    Parameters
    ----------
    features : array_like of shape (N, D)
        One row per sample.
    name : str
        How the set is called in error messages (for example ``"real features"``).
    min_samples : int, default 2
        Smallest allowed N.
    """
    try:
        array = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be a numeric array of shape (N, D); got {type(features).__name__}") from e
    if array.ndim != 2:
        raise InputError(
            f"{name} must have shape (N samples, D features); got shape {array.shape}. "
            "Reshape to one row per sample, e.g. features.reshape(len(features), -1)"
        )
    if array.shape[0] < min_samples:
        raise InputError(f"{name} has {array.shape[0]} samples; at least {min_samples} are needed: add more images")
    if array.shape[1] < 1:
        raise InputError(f"{name} has no feature columns (shape {array.shape}); check the feature extractor")
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(
            f"{name} contain NaN or infinite values in {rows.size} of {array.shape[0]} rows "
            f"(first rows: {rows[:5].tolist()}); remove those images or fix the feature extractor "
            "(constant or corrupt images are the usual cause)"
        )
    return array


def _check_pair(a, b, *, names=("first features", "second features")) -> tuple[np.ndarray, np.ndarray]:
    a = check_features(a, name=names[0])
    b = check_features(b, name=names[1])
    if a.shape[1] != b.shape[1]:
        raise InputError(
            f"{names[0]} have {a.shape[1]} columns but {names[1]} have {b.shape[1]}; "
            "compute both with the same feature extractor and settings"
        )
    return a, b


def _centered_rows(x: np.ndarray, counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean m and rows A with Aᵀ A = the unbiased covariance (rows weighted by ``counts``)."""
    n = x.shape[0] if counts is None else int(counts.sum())
    mean = x.mean(axis=0) if counts is None else counts @ x / n
    rows = x - mean
    if counts is not None:
        rows *= np.sqrt(counts)[:, None]
    return mean, rows / np.sqrt(n - 1)


def _frechet_from_rows(mu1, rows1, mu2, rows2) -> float:
    """FD from means and covariance square roots (Σ = Aᵀ A), in the cheaper space.

    With fewer samples than features, the eigenvalues of Σ1^½ Σ2 Σ1^½ that are not 0 are the
    squared singular values of the small (n1, n2) matrix A1 A2ᵀ, so the trace term is its
    nuclear norm; otherwise the covariances are formed and :func:`trace_sqrt_product` is used.
    """
    diff = mu1 - mu2
    traces = float(np.einsum("ij,ij->", rows1, rows1) + np.einsum("ij,ij->", rows2, rows2))
    if min(rows1.shape[0], rows2.shape[0]) < rows1.shape[1]:
        tr_sqrt = float(scipy.linalg.svdvals(rows1 @ rows2.T, check_finite=False).sum())
    else:
        tr_sqrt = trace_sqrt_product(rows1.T @ rows1, rows2.T @ rows2)
    return max(float(diff @ diff) + traces - 2.0 * tr_sqrt, 0.0)


def _mean_cov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, rows = _centered_rows(x)
    # Aᵀ A with the same buffer twice lets NumPy use a symmetric rank-k update (half the work).
    return mean, rows.T @ rows


def features_to_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (divided by N − 1, as TF-GAN) of (N, D) features."""
    return _mean_cov(check_features(features, name="features"))


def _check_statistics(mu, sigma, *, which: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise InputError(f"mu{which} must be a vector of shape (D,); got shape {mu.shape}")
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise InputError(f"sigma{which} must have shape ({d}, {d}) to match mu{which}; got shape {sigma.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise InputError(f"mu{which}/sigma{which} contain NaN or infinite values; recompute them from finite features")
    scale = max(float(np.abs(sigma).max()), 1e-300)
    if float(np.abs(sigma - sigma.T).max()) > 1e-6 * scale:
        raise InputError(f"sigma{which} is not symmetric; pass a covariance matrix (e.g. np.cov(features, rowvar=False))")
    return mu, (sigma + sigma.T) / 2


def _psd_factor(sigma: np.ndarray) -> tuple[np.ndarray, bool]:
    """A matrix F with F Fᵀ = sigma, and whether it is lower triangular.

    Cholesky when possible; the symmetric square root from ``eigh`` otherwise.
    """
    try:
        return scipy.linalg.cholesky(sigma, lower=True, check_finite=False), True
    except np.linalg.LinAlgError:
        # Rank-deficient (e.g. N < D): Cholesky breaks down, the eigh square root does not.
        w, v = scipy.linalg.eigh(sigma, check_finite=False)
        return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T, False


def _congruence(factor: np.ndarray, triangular: bool, sigma: np.ndarray) -> np.ndarray:
    """Fᵀ Σ F; triangular matrix products (BLAS trmm) when F is a Cholesky factor."""
    if triangular:
        from scipy.linalg.blas import dtrmm

        sf = dtrmm(1.0, factor, np.asfortranarray(sigma), side=1, lower=1)
        return dtrmm(1.0, factor, sf, side=0, lower=1, trans_a=1)
    return factor.T @ (sigma @ factor)


def _sum_sqrt_eigvals(m: np.ndarray) -> float:
    """Σ √λ for the symmetric PSD matrix ``m`` (negative rounding clipped to 0)."""
    m = (m + m.T) / 2
    w = scipy.linalg.eigh(m, eigvals_only=True, check_finite=False, driver="evd")
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr (Σ1^½ Σ2 Σ1^½)^½ through a factor of Σ1 and a values-only eigensolver."""
    factor, triangular = _psd_factor(sigma1)
    return _sum_sqrt_eigvals(_congruence(factor, triangular, sigma2))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between two Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    FD = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1^½ Σ2 Σ1^½)^½. Lower is better.

    Parameters
    ----------
    mu1, mu2 : array_like of shape (D,)
        Means.
    sigma1, sigma2 : array_like of shape (D, D)
        Covariance matrices (symmetric positive semi-definite; singular is fine).

    Returns
    -------
    float
        The distance in float64, never negative (rounding below 0 is clipped) and never NaN.

    References
    ----------
    Dowson, D. C. & Landau, B. V. (1982). The Fréchet distance between multivariate normal
    distributions. Journal of Multivariate Analysis 12(3), 450–455.
    Heusel, M., Ramsauer, H., Unterthiner, T., Nessler, B. & Hochreiter, S. (2017). GANs
    trained by a two time-scale update rule converge to a local Nash equilibrium. NeurIPS.
    """
    mu1, sigma1 = _check_statistics(mu1, sigma1, which="1")
    mu2, sigma2 = _check_statistics(mu2, sigma2, which="2")
    if mu1.shape != mu2.shape:
        raise InputError(f"mu1 has {mu1.shape[0]} dimensions but mu2 has {mu2.shape[0]}; use the same features for both")
    diff = mu1 - mu2
    fd = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return float(max(fd, 0.0))


def frechet_distance_from_features(a, b) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (rows are samples).

    Uses the sample mean and the unbiased covariance (N − 1), like TF-GAN's
    ``frechet_classifier_distance_from_activations``. Lower is better. FD grows as N shrinks,
    so compare values only at equal sample sizes (or use :func:`fd_infinity`).

    Parameters
    ----------
    a, b : array_like of shape (N1, D) and (N2, D)
        Features, for example of real and generated images.

    Returns
    -------
    float

    References
    ----------
    Heusel, M. et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS.
    """
    a, b = _check_pair(a, b)
    return _frechet_from_rows(*_centered_rows(a), *_centered_rows(b))


def _canonical_order(x: np.ndarray) -> np.ndarray:
    """Rows in a canonical order (sorted by their bytes), so that random subsets depend on the
    set of samples, not on the order in which they were given."""
    x = np.ascontiguousarray(x)
    rows = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    return x[np.argsort(rows, kind="stable")]


class _FrechetToReference:
    """FD from many subsets of one set to a fixed reference, reusing the reference's factor.

    With Σ_ref = F Fᵀ, the eigenvalues needed for a subset S are those of Fᵀ Σ_S F, which is
    just the covariance of the transformed rows X_S F. The transform is done once for the
    whole set; each subset then costs one covariance and one values-only eigensolve.
    """

    def __init__(self, reference: np.ndarray, others: np.ndarray):
        self.mu_ref, sigma_ref = _mean_cov(reference)
        self.trace_ref = float(np.trace(sigma_ref))
        self.others = others
        self.transformed = others @ _psd_factor(sigma_ref)[0]

    def fd(self, rows: np.ndarray) -> float:
        x = self.others[rows]
        n = len(rows)
        diff = x.mean(axis=0) - self.mu_ref
        xc = x - x.mean(axis=0)
        trace_other = float(np.einsum("ij,ij->", xc, xc)) / (n - 1)
        tr_sqrt = _sum_sqrt_eigvals(_mean_cov(self.transformed[rows])[1])
        return max(float(diff @ diff) + self.trace_ref + trace_other - 2.0 * tr_sqrt, 0.0)


def fd_infinity(real_feats, fake_feats, *, n_points: int = 15, seed: int = 0, confidence: float = 0.95) -> dict:
    """Bias-free FD∞: FD on random subsets of the generated set, extrapolated to N → ∞.

    FD is computed between the full real set and ``n_points`` random subsets of the generated
    set whose sizes N are spread evenly between N_max / 10 and N_max (N_max = number of
    generated samples). A least-squares line FD_N = FD∞ + k / N is fitted; the intercept is
    FD∞. Its confidence interval uses the intercept's standard error from the regression and
    a Student t quantile with ``n_points − 2`` degrees of freedom. Lower is better.

    Parameters
    ----------
    real_feats : array_like of shape (N_real, D)
    fake_feats : array_like of shape (N_fake, D)
        At least 20 samples, so that the smallest subset has 2.
    n_points : int, default 15
        Number of subset sizes (≥ 3).
    seed : int, default 0
        Seed for the subsets; the result depends only on the two sets and the seed, not on
        the order of their rows.
    confidence : float, default 0.95
        Level of the interval.

    Returns
    -------
    dict
        ``fd_inf``, ``ci_low``, ``ci_high`` and ``slope`` (k in FD_N = FD∞ + k / N).

    References
    ----------
    Chong, M. J. & Forsyth, D. (2020). Effectively unbiased FID and Inception score and where
    to find them. CVPR.
    """
    real, fake = _check_pair(real_feats, fake_feats, names=("real features", "generated features"))
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 3:
        raise InputError(f"n_points must be an integer >= 3 to fit a line with an error estimate; got {n_points!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence!r}")
    n_max = fake.shape[0]
    n_min = n_max // 10
    if n_min < 2:
        raise InputError(
            f"FD∞ needs at least 20 generated samples (the smallest subset is N/10 >= 2); got {n_max}: "
            "generate more images"
        )
    sizes = np.unique(np.linspace(n_min, n_max, n_points).round().astype(int))
    if sizes.size < 3:
        raise InputError(f"only {sizes.size} distinct subset sizes between {n_min} and {n_max}; generate more images")
    real = _canonical_order(real)
    fake = _canonical_order(fake)
    engine = _FrechetToReference(real, fake)
    rng = np.random.default_rng(seed)
    fds = np.array([engine.fd(np.sort(rng.choice(n_max, size=int(n), replace=False))) for n in sizes])
    fit = scipy.stats.linregress(1.0 / sizes, fds)
    t = scipy.stats.t.ppf(0.5 + confidence / 2, df=sizes.size - 2)
    half = t * fit.intercept_stderr
    return {
        "fd_inf": float(fit.intercept),
        "ci_low": float(fit.intercept - half),
        "ci_high": float(fit.intercept + half),
        "slope": float(fit.slope),
    }


def fd_bootstrap_ci(real_feats, fake_feats, *, n_boot: int = 200, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval for the Fréchet distance.

    Both sets are resampled with replacement (each keeps its size) ``n_boot`` times and FD is
    recomputed. A resample repeats rows, which raises FD like a smaller N would (strongly so
    when N is not much larger than D), so the bootstrap distribution is shifted to have the
    point estimate as its median (bias-corrected percentile interval); the interval is its
    (α/2, 1 − α/2) quantiles, clipped at 0. It describes sampling noise at this N only; it
    does not remove FD's small-sample bias (see :func:`fd_infinity`). Lower FD is better.

    Parameters
    ----------
    real_feats, fake_feats : array_like of shape (N1, D) and (N2, D)
    n_boot : int, default 200
    alpha : float, default 0.05
        1 − confidence level.
    seed : int, default 0
        The result depends only on the two sets and the seed, not on the order of rows.

    Returns
    -------
    (float, float)
        Lower and upper bound.

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
    Heusel, M. et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS.
    """
    real, fake = _check_pair(real_feats, fake_feats, names=("real features", "generated features"))
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise InputError(f"n_boot must be an integer >= 2 (200 is usual); got {n_boot!r}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1 (0.05 gives a 95% interval); got {alpha!r}")
    real = _canonical_order(real)
    fake = _canonical_order(fake)
    rng = np.random.default_rng(seed)

    def resampled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A resample is the original rows with multinomial counts; only rows drawn at least
        # once (about 63 %) enter the covariance.
        counts = np.bincount(rng.integers(0, x.shape[0], x.shape[0]), minlength=x.shape[0])
        drawn = counts > 0
        return _centered_rows(x[drawn], counts[drawn].astype(np.float64))

    values = np.empty(n_boot)
    for i in range(n_boot):
        values[i] = _frechet_from_rows(*resampled(real), *resampled(fake))
    estimate = _frechet_from_rows(*_centered_rows(real), *_centered_rows(fake))
    # Repeated rows act like a smaller N, and FD grows as N shrinks: re-centre the bootstrap
    # distribution on the estimate so that the interval shows the spread, not that bias.
    shift = float(np.median(values)) - estimate
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2]) - shift
    return float(max(low, 0.0)), float(max(high, 0.0))
