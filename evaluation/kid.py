"""Kernel Inception Distance (KID): unbiased MMD² with a cubic polynomial kernel.

Lower is better; 0 means the two feature distributions cannot be told apart by the kernel.
The estimator is unbiased, so small negative values are normal when the distributions match.
Unlike FD it has no small-sample bias, so KIDs at different sample sizes can be compared.
"""

from __future__ import annotations

import hashlib

import numpy as np

from evaluation.frechet import _canonical_order, _check_pair
from gan_models.errors import InputError

__all__ = ["kid", "mmd2_unbiased"]


def _kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² between samples ``x`` (m, D) and ``y`` (n, D), kernel (xᵀy / D + 1)³.

    MMD² = Σ_{i≠j} k(xi, xj) / (m(m−1)) + Σ_{i≠j} k(yi, yj) / (n(n−1)) − 2 Σ_{i,j} k(xi, yj) / (m n).

    References
    ----------
    Bińkowski, M., Sutherland, D. J., Arbel, M. & Gretton, A. (2018). Demystifying MMD GANs.
    ICLR.
    """
    m, n = x.shape[0], y.shape[0]
    k_xx = _kernel(x, x)
    k_yy = _kernel(y, y)
    k_xy = _kernel(x, y)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2.0 * k_xy.mean()
    )


def _digest(x: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).digest()


def kid(real, fake, *, subset_size: int = 1000, n_subsets: int = 100, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation of the unbiased MMD² over random subsets.

    Each of the ``n_subsets`` rounds draws ``subset_size`` rows without replacement from each
    set and computes :func:`mmd2_unbiased`. Lower is better.

    Parameters
    ----------
    real, fake : array_like of shape (N1, D) and (N2, D)
        Features of real and generated images.
    subset_size : int, default 1000
        Rows per subset; must not exceed min(N1, N2).
    n_subsets : int, default 100
    seed : int, default 0
        The subsets depend only on the two sets and the seed: the result does not change when
        the rows are reordered, and ``kid(a, b) == kid(b, a)``.

    Returns
    -------
    (float, float)
        Mean over subsets and the standard deviation over subsets (ddof = 0, as in the
        authors' code), which describes the spread of one subset's estimate.

    References
    ----------
    Bińkowski, M., Sutherland, D. J., Arbel, M. & Gretton, A. (2018). Demystifying MMD GANs.
    ICLR.
    """
    real, fake = _check_pair(real, fake, names=("real features", "generated features"))
    if isinstance(subset_size, bool) or not isinstance(subset_size, (int, np.integer)) or subset_size < 2:
        raise InputError(f"subset_size must be an integer >= 2; got {subset_size!r}")
    if isinstance(n_subsets, bool) or not isinstance(n_subsets, (int, np.integer)) or n_subsets < 1:
        raise InputError(f"n_subsets must be a positive integer (100 is usual); got {n_subsets!r}")
    smallest = min(real.shape[0], fake.shape[0])
    if subset_size > smallest:
        raise InputError(
            f"KID subset_size={subset_size} is larger than the smaller set "
            f"({real.shape[0]} real, {fake.shape[0]} generated samples); "
            f"pass a subset size <= {smallest} or use more images"
        )
    real = _canonical_order(real)
    fake = _canonical_order(fake)
    # Draw subsets in a content-defined order so that swapping the arguments gives the same
    # subsets (MMD² itself is symmetric).
    first, second = (real, fake) if _digest(real) <= _digest(fake) else (fake, real)
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for i in range(n_subsets):
        a = first[rng.choice(first.shape[0], subset_size, replace=False)]
        b = second[rng.choice(second.shape[0], subset_size, replace=False)]
        values[i] = mmd2_unbiased(a, b)
    return float(values.mean()), float(values.std())
