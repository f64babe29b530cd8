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

import warnings

import numpy as np
import scipy.linalg
import scipy.stats

from ganaudit.gan_models.errors import InputError
from ganaudit.schema import metrics as M

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


# Seed of the fixed direction that orders rows (see _canonical_order); one direction per dimension.
_ORDER_SEED = 20_261_201


def _order_keys(x: np.ndarray) -> np.ndarray:
    """Projection of every row on a fixed pseudo-random direction (seeded by the dimension).

    An elementwise product summed along each row: every row is reduced by the same steps,
    whatever its position, so a row's key does not depend on the order of the rows.
    """
    direction = np.random.default_rng([_ORDER_SEED, x.shape[1]]).standard_normal(x.shape[1])
    return (x * direction).sum(axis=1)


def _canonical_order(x: np.ndarray) -> np.ndarray:
    """Rows in a canonical order, so that random subsets depend on the set of samples, not on
    the order in which they were given, and not on round-off in the values either.

    Rows are sorted by their projection on a fixed direction (:func:`_order_keys`). Changing
    the values by ε moves each key by about ε·‖row‖, so the order, and with it every subset,
    stays the same unless two *different* rows have keys closer than that: for continuous
    features a chance of about N² ε / (spread of the keys), 1e-7 for 5,000 rows moved by 1e-13
    (another machine's FFT, a faster feature code). Sorting by the rows' bytes, as before,
    reordered everything on any change of a last bit. No order can be both independent of the
    input order and unchanged by *every* small change (two rows moved past each other must swap
    somewhere), so near-ties are the price of order invariance; identical rows are
    interchangeable, and exact ties of different rows are broken by their values, column by
    column.
    """
    x = np.ascontiguousarray(x)
    keys = _order_keys(x)
    order = np.argsort(keys, kind="stable")
    tied = np.flatnonzero(np.diff(keys[order]) == 0)
    if tied.size and np.any(x[order[tied]] != x[order[tied + 1]]):
        order = np.lexsort(np.vstack([x[:, ::-1].T, keys]))
    return x[order]


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
    if n_min < fake.shape[1]:
        # Below the dimension a subset's covariance is rank-deficient and FD_N stops following
        # FD∞ + k/N, so the intercept can even come out negative.
        warnings.warn(
            f"FD∞: the smallest subsets ({n_min} images) are smaller than the feature dimension "
            f"({fake.shape[1]}), where the 1/N fit breaks down and FD∞ can be biased or negative; "
            f"generate at least {10 * fake.shape[1]} images to avoid it", UserWarning, stacklevel=2)
    real = _canonical_order(real)
    fake = _canonical_order(fake)
    engine = _FrechetToReference(real, fake)
    rng = np.random.default_rng(seed)
    fds = np.array([engine.fd(np.sort(rng.choice(n_max, size=int(n), replace=False))) for n in sizes])
    fit = scipy.stats.linregress(1.0 / sizes, fds)
    t = scipy.stats.t.ppf(0.5 + confidence / 2, df=sizes.size - 2)
    half = t * fit.intercept_stderr
    return {
        M.FD_INF: float(fit.intercept),
        "ci_low": float(fit.intercept - half),
        "ci_high": float(fit.intercept + half),
        "slope": float(fit.slope),
    }


# Resamples of each interval method (``n_boot=None``); the Gaussian method's half-width has a
# relative Monte Carlo error of about 1 / sqrt(2 (n_boot - 1)) = 10 % at 50.
FD_CI_RESAMPLES = {"gaussian": 50, "resample": 200}
FD_CI_METHODS = tuple(FD_CI_RESAMPLES)


def fd_bootstrap_ci(real_feats, fake_feats, *, n_boot: int | None = None, alpha: float = 0.05, seed: int = 0,
                    method: str = "gaussian") -> tuple[float, float]:
    """Confidence interval for the Fréchet distance at the sample sizes given.

    The interval is for the value FD takes on average at these two sample sizes (what a rerun
    with fresh images of the same number would scatter around), centred on the estimate. FD
    is biased upwards at finite N, so this is not an interval for the population FD; use
    :func:`fd_infinity` for that. Lower FD is better.

    ``method="gaussian"`` (default): a parametric bootstrap. Sample means and covariances are
    drawn as Gaussian samples of the same sizes would give them (normal means, Wishart
    covariances by the Bartlett decomposition), so no covariance is refitted from rows. The
    spread of FD depends on how far apart the two distributions are, and the estimate
    overstates that distance by its own bias, so the draws come from a *bias-corrected world*:
    a first round of ``n_boot // 2`` draws measures the bias b, and the second round of
    ``n_boot`` draws uses the generated-side Gaussian moved along the Wasserstein geodesic
    towards the real one until its FD is max(FD − b, 0). The interval is FD ± t · sd of the
    second round (Student t with ``n_boot − 1`` degrees of freedom), clipped at 0. Coverage
    of 93–97 % on Gaussian features is shown by ``bench/fd_interval.py``.

    ``method="resample"``: the nonparametric percentile bootstrap (rows of both sets drawn
    with replacement, FD refitted, the distribution re-centred on the estimate); the interval
    given before version 0.x of this function. Slower (one covariance per resample) and, where
    the FD bias is large, wider than needed (it over-covers).

    Parameters
    ----------
    real_feats, fake_feats : array_like of shape (N1, D) and (N2, D)
    n_boot : int, optional
        Draws (resamples); default 50 for ``"gaussian"``, 200 for ``"resample"``.
    alpha : float, default 0.05
        1 − confidence level.
    seed : int, default 0
        The result depends only on the two sets and the seed, not on the order of rows.
    method : {"gaussian", "resample"}

    Returns
    -------
    (float, float)
        Lower and upper bound.

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
    Bartlett, M. S. (1933). On the theory of statistical regression. Proc. R. Soc. Edinburgh 53,
    260–283 (the Wishart decomposition).
    Takatsu, A. (2011). Wasserstein geometry of Gaussian measures. Osaka J. Math. 48(4),
    1005–1026 (the geodesic between Gaussians).
    Heusel, M. et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS.
    """
    real, fake = _check_pair(real_feats, fake_feats, names=("real features", "generated features"))
    if method not in FD_CI_METHODS:
        raise InputError(f"unknown FD interval method {method!r}; use one of: {', '.join(FD_CI_METHODS)}")
    if n_boot is None:
        n_boot = FD_CI_RESAMPLES[method]
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise InputError(f"n_boot must be an integer >= 2 ({FD_CI_RESAMPLES[method]} is usual); got {n_boot!r}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1 (0.05 gives a 95% interval); got {alpha!r}")
    real = _canonical_order(real)
    fake = _canonical_order(fake)
    rng = np.random.default_rng(seed)
    if method == "resample":
        return _resample_ci(real, fake, int(n_boot), alpha, rng)
    return _gaussian_ci(real, fake, int(n_boot), alpha, rng)


def _resample_ci(real, fake, n_boot, alpha, rng) -> tuple[float, float]:
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


_RANGE_TOLERANCE = 1e-10


def _range_factor(sigma: np.ndarray, n: int) -> tuple[np.ndarray, bool]:
    """F (D, r) with F Fᵀ = sigma, r ≤ n − 1 (a covariance of n rows has no larger rank):
    the Cholesky factor (lower triangular) when sigma is positive definite, else the
    eigenvectors of its non-negligible eigenvalues scaled by their square roots."""
    if sigma.shape[0] <= n - 1:
        try:
            return scipy.linalg.cholesky(sigma, lower=True, check_finite=False), True
        except np.linalg.LinAlgError:
            pass
    w, v = scipy.linalg.eigh(sigma, check_finite=False)
    keep = np.flatnonzero(w > _RANGE_TOLERANCE * max(w[-1], 1e-300))[-(n - 1):]
    return v[:, keep] * np.sqrt(w[keep]), False


def _wishart_factor(rng, factor: np.ndarray, triangular: bool, n: int) -> np.ndarray:
    """G with G Gᵀ distributed as the covariance (÷ n − 1) of n Gaussian rows with covariance
    F Fᵀ: G = F B / √(n − 1), B the Bartlett factor (lower triangular, χ diagonal)."""
    from scipy.linalg.blas import dtrmm

    r = factor.shape[1]
    if r > n - 1:
        # More directions than degrees of freedom (the generated-side world moved onto the
        # real side's factor, with fewer generated images than that rank, e.g. copies of a
        # training subset): Bartlett's χ² would have df ≤ 0, so draw the n centred rows.
        z = rng.standard_normal((r, n))
        return factor @ (z - z.mean(axis=1, keepdims=True)) / np.sqrt(n - 1)
    b = np.tril(rng.standard_normal((r, r)), -1)
    b[np.diag_indices(r)] = np.sqrt(rng.chisquare(n - 1 - np.arange(r)))
    if triangular:
        g = dtrmm(1.0, factor, np.asfortranarray(b), lower=1)
    else:
        g = factor @ b
    return g / np.sqrt(n - 1)


def _draw_fd(rng, worlds, sizes) -> float:
    """FD between the sample statistics of one Gaussian draw of each world."""
    means, factors = [], []
    for (mean, factor, triangular), n in zip(worlds, sizes):
        means.append(mean + factor @ rng.standard_normal(factor.shape[1]) / np.sqrt(n))
        factors.append(_wishart_factor(rng, factor, triangular, n))
    g1, g2 = factors
    diff = means[0] - means[1]
    cross = g1.T @ g2
    # tr (Σ1^½ Σ2 Σ1^½)^½ is the nuclear norm of G1ᵀ G2 when Σ = G Gᵀ.
    tr_sqrt = _sum_sqrt_eigvals(cross @ cross.T if cross.shape[0] <= cross.shape[1] else cross.T @ cross)
    return max(float(diff @ diff) + float(np.einsum("ij,ij->", g1, g1) + np.einsum("ij,ij->", g2, g2))
               - 2.0 * tr_sqrt, 0.0)


def _gaussian_ci(real, fake, n_boot, alpha, rng) -> tuple[float, float]:
    n1, n2 = real.shape[0], fake.shape[0]
    mu1, rows1 = _centered_rows(real)
    mu2, rows2 = _centered_rows(fake)
    estimate = _frechet_from_rows(mu1, rows1, mu2, rows2)
    sigma1, sigma2 = rows1.T @ rows1, rows2.T @ rows2
    # Work in the span of the two covariances (features that are exact combinations of
    # others, as iqr = p75 − p25, add nothing but round-off). Mean differences outside it
    # are the same in every draw and drop out of the spread.
    w, v = scipy.linalg.eigh(sigma1 + sigma2, check_finite=False)
    basis = v[:, w > _RANGE_TOLERANCE * max(w[-1], 1e-300)]
    outside = float((mu1 - mu2) @ (mu1 - mu2))
    mu1, mu2 = basis.T @ mu1, basis.T @ mu2
    outside -= float((mu1 - mu2) @ (mu1 - mu2))
    sigma1, sigma2 = basis.T @ sigma1 @ basis, basis.T @ sigma2 @ basis
    real_world = (mu1, *_range_factor(sigma1, n1))
    fake_world = (mu2, *_range_factor(sigma2, n2))
    first = np.array([_draw_fd(rng, (real_world, fake_world), (n1, n2)) for _ in range(max(n_boot // 2, 2))])
    bias = float(first.mean()) - (estimate - outside)
    # The world whose FD is the bias-corrected estimate: the generated-side Gaussian moved
    # along the geodesic N(μ1 + t δ, T Σ1 T), T = (1 − t) I + t A, A the optimal transport
    # map from Σ1 to Σ2; its FD to the real side is t² FD.
    t = float(np.sqrt(max(estimate - bias, 0.0) / estimate)) if estimate > 0 else 0.0
    factor1, triangular1 = real_world[1], real_world[2]
    if t < 1.0 and triangular1:
        # A = L⁻ᵀ (Lᵀ Σ2 L)^½ L⁻¹ for Σ1 = L Lᵀ.
        m = _congruence(factor1, True, sigma2)
        ev, vec = scipy.linalg.eigh((m + m.T) / 2, check_finite=False)
        root = (vec * np.sqrt(np.sqrt(np.clip(ev, 0.0, None)))).T
        half = scipy.linalg.solve_triangular(factor1, root.T, lower=True, trans="T").T  # root L⁻¹
        transport = half.T @ half
        step = (1.0 - t) * np.eye(len(mu1)) + t * transport
        fake_world = (mu1 + t * (mu2 - mu1), step @ factor1, False)
    # Otherwise (Σ1 singular: fewer real images than features, or a real feature that never
    # varies) the draws stay in the estimated world, which can only widen the interval.
    second = np.array([_draw_fd(rng, (real_world, fake_world), (n1, n2)) for _ in range(n_boot)])
    half_width = scipy.stats.t.ppf(1 - alpha / 2, df=n_boot - 1) * float(second.std(ddof=1))
    return float(max(estimate - half_width, 0.0)), float(estimate + half_width)
