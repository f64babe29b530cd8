"""Kernel Inception Distance (KID): unbiased MMD² with a cubic polynomial kernel.

Lower is better; 0 means the two feature distributions cannot be told apart by the kernel.
The estimator is unbiased, so small negative values are normal when the distributions match.
Unlike FD it has no small-sample bias, so KIDs at different sample sizes can be compared.
"""

from __future__ import annotations

import numpy as np

from ganaudit.evaluation.frechet import _canonical_order, _check_pair, _order_keys
from ganaudit.gan_models.errors import InputError

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


def _subset_sums_direct(a, b, subsets_a, subsets_b) -> np.ndarray:
    return np.array([mmd2_unbiased(a[ia], b[ib]) for ia, ib in zip(subsets_a, subsets_b)])


_BLOCK_ROWS = 512


def _subset_sums_gram(a, b, subsets_a, subsets_b) -> np.ndarray:
    """The same MMD² values, from each kernel row computed once for all subsets.

    With W the (N, S) 0/1 membership matrix of the S subsets, the within-subset kernel sums
    are the diagonal of Wᵀ K W; K is built in row blocks, so memory stays bounded.
    """
    n_subsets, m = subsets_a.shape
    w_a = np.zeros((a.shape[0], n_subsets))
    w_b = np.zeros((b.shape[0], n_subsets))
    columns = np.arange(n_subsets)[:, None]
    w_a[subsets_a, columns] = 1.0
    w_b[subsets_b, columns] = 1.0
    sum_aa = np.zeros(n_subsets)
    sum_bb = np.zeros(n_subsets)
    sum_ab = np.zeros(n_subsets)
    for x, w_x, total in ((a, w_a, sum_aa), (b, w_b, sum_bb)):
        for start in range(0, x.shape[0], _BLOCK_ROWS):
            rows = slice(start, min(start + _BLOCK_ROWS, x.shape[0]))
            k = _kernel(x[rows], x)
            k[np.arange(k.shape[0]), np.arange(rows.start, rows.stop)] = 0.0  # i ≠ j
            total += (w_x[rows] * (k @ w_x)).sum(axis=0)
    for start in range(0, a.shape[0], _BLOCK_ROWS):
        rows = slice(start, min(start + _BLOCK_ROWS, a.shape[0]))
        sum_ab += (w_a[rows] * (_kernel(a[rows], b) @ w_b)).sum(axis=0)
    return (sum_aa + sum_bb) / (m * (m - 1)) - 2.0 * sum_ab / (m * m)


def _gram_is_cheaper(n_a: int, n_b: int, m: int, n_subsets: int, d: int) -> bool:
    direct = n_subsets * 3 * m * m * d
    gram = (n_a * n_a + n_b * n_b + n_a * n_b) * (d + n_subsets)
    return gram < direct


def _subset_roles(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets in canonical row order, and in an order of their own that does not depend on
    which was passed first (so ``kid(a, b) == kid(b, a)``): the smaller set first; at equal
    sizes, the set whose sorted order keys sum lower.

    Both rules are stable under round-off: the sizes are exact, and the key sums are
    continuous in the values, so they swap only for two different sets of equal size whose
    sums agree to the last digits (identical sets give the same subsets either way).
    """
    real, fake = _canonical_order(real), _canonical_order(fake)
    rank_real = (real.shape[0], float(_order_keys(real).sum()))
    rank_fake = (fake.shape[0], float(_order_keys(fake).sum()))
    return (real, fake) if rank_real <= rank_fake else (fake, real)


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
        The subsets depend only on the seed, the set sizes and the canonical row order (rows
        sorted by their projection on a fixed direction): the result does not change when the
        rows are reordered, ``kid(a, b) == kid(b, a)``, and features that move by round-off
        (1e-10) move KID by round-off too, not by a redraw of the subsets.

    Returns
    -------
    (float, float)
        Mean over subsets and the standard deviation over subsets (population standard
        deviation, ddof = 0), which describes the spread of one subset's estimate; it is not
        the standard error of the mean.

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
    # The subsets are drawn from the seed and the set sizes alone, by position in a canonical
    # row order that neither the input order nor round-off in the features changes.
    first, second = _subset_roles(real, fake)
    if subset_size == first.shape[0] == second.shape[0]:
        # Every subset is the whole of both sets, and MMD² does not depend on the order: one
        # value with no spread (repeating it only added round-off, a kid_std of about 1e-14).
        return mmd2_unbiased(first, second), 0.0
    rng = np.random.default_rng(seed)
    subsets_a = np.empty((n_subsets, subset_size), dtype=np.int64)
    subsets_b = np.empty((n_subsets, subset_size), dtype=np.int64)
    for i in range(n_subsets):
        subsets_a[i] = rng.choice(first.shape[0], subset_size, replace=False)
        subsets_b[i] = rng.choice(second.shape[0], subset_size, replace=False)
    # Many large subsets of a few thousand rows overlap heavily: computing every kernel value
    # once is then cheaper than recomputing it inside each subset.
    if _gram_is_cheaper(first.shape[0], second.shape[0], subset_size, n_subsets, first.shape[1]):
        values = _subset_sums_gram(first, second, subsets_a, subsets_b)
    else:
        values = _subset_sums_direct(first, second, subsets_a, subsets_b)
    return float(values.mean()), float(values.std())
