"""Precision, recall, density and coverage of generated samples against real samples.

Higher is better for all four. Precision and density measure fidelity (generated samples
lie where real ones are); recall and coverage measure diversity (real samples are reached by
generated ones). Density can exceed 1 when generated samples crowd dense real regions.
All are computed on k-nearest-neighbour balls in feature space, in float64, with distance
matrices built in blocks so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from ganaudit.evaluation.frechet import _check_pair
from ganaudit.gan_models.errors import InputError
from ganaudit.schema import metrics as M

__all__ = ["precision_recall", "density_coverage"]

_BLOCK_ELEMENTS = 4_000_000  # 32 MB of float64 per distance block


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _sq_distances(x: np.ndarray, y: np.ndarray, x_norms: np.ndarray, y_norms: np.ndarray) -> np.ndarray:
    d = x_norms[:, None] + y_norms[None, :] - 2.0 * (x @ y.T)
    return np.maximum(d, 0.0)


def _check_k(k, n_real: int, n_fake: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a positive integer (3 for precision/recall, 5 for density/coverage); got {k!r}")
    if k >= min(n_real, n_fake):
        raise InputError(
            f"k={k} needs more than k samples in each set; got {n_real} real and {n_fake} generated: "
            "use more images or a smaller k"
        )
    return int(k)


_CACHED_K = 10
_NEIGHBOUR_CACHE: OrderedDict[bytes, np.ndarray] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _neighbour_distances_sq(x: np.ndarray, k_max: int) -> np.ndarray:
    """(N, k_max + 1): squared distances to the 0th (itself) … k_max-th nearest rows, sorted."""
    norms = _sq_norms(x)
    out = np.empty((x.shape[0], k_max + 1))
    kth = list(range(k_max + 1))
    for rows in _blocks(x.shape[0], x.shape[0]):
        d = _sq_distances(x[rows], x, norms[rows], norms)
        d[np.arange(d.shape[0]), np.arange(rows.start, rows.stop)] = 0.0
        out[rows] = np.partition(d, kth, axis=1)[:, : k_max + 1]
    return out


def knn_radii_sq(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest other row.

    The sorted distances to the first 10 neighbours of the last few sets are kept in memory:
    every checkpoint is compared with the same real set, whose radii are then computed once.
    """
    k_max = min(max(k, _CACHED_K), x.shape[0] - 1)
    key = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).digest() + repr(x.shape).encode()
    with _CACHE_LOCK:
        found = _NEIGHBOUR_CACHE.get(key)
    if found is None or found.shape[1] <= k:
        found = _neighbour_distances_sq(x, k_max)
    with _CACHE_LOCK:  # scoring may run checkpoints in threads
        _NEIGHBOUR_CACHE[key] = found
        _NEIGHBOUR_CACHE.move_to_end(key)
        while len(_NEIGHBOUR_CACHE) > 4:
            _NEIGHBOUR_CACHE.popitem(last=False)
    return found[:, k].copy()


def _ball_hits(centres: np.ndarray, radii_sq: np.ndarray, points: np.ndarray):
    """For each point: how many balls B(centre, radius) contain it; for each centre: min distance²."""
    c_norms, p_norms = _sq_norms(centres), _sq_norms(points)
    counts = np.zeros(points.shape[0], dtype=np.int64)
    nearest = np.empty(centres.shape[0])
    for rows in _blocks(centres.shape[0], points.shape[0]):
        d = _sq_distances(centres[rows], points, c_norms[rows], p_norms)
        counts += (d <= radii_sq[rows, None]).sum(axis=0)
        nearest[rows] = d.min(axis=1)
    return counts, nearest


def precision_recall(real, fake, *, k: int = 3) -> dict:
    """Improved precision and recall (k-NN balls).

    Precision is the share of generated samples inside at least one real ball
    B(xi, ‖xi − NN_k(xi)‖); recall is the share of real samples inside at least one generated
    ball. Higher is better for both.

    Parameters
    ----------
    real, fake : array_like of shape (N1, D) and (N2, D)
    k : int, default 3
        Neighbour defining each ball's radius.

    Returns
    -------
    dict
        ``precision`` and ``recall`` in [0, 1].

    References
    ----------
    Kynkäänniemi, T., Karras, T., Laine, S., Lehtinen, J. & Aila, T. (2019). Improved precision
    and recall metric for assessing generative models. NeurIPS.
    """
    real, fake = _check_pair(real, fake, names=("real features", "generated features"))
    k = _check_k(k, real.shape[0], fake.shape[0])
    fake_in_real, _ = _ball_hits(real, knn_radii_sq(real, k), fake)
    real_in_fake, _ = _ball_hits(fake, knn_radii_sq(fake, k), real)
    return {M.PRECISION: float((fake_in_real > 0).mean()), M.RECALL: float((real_in_fake > 0).mean())}


def density_coverage(real, fake, *, k: int = 5) -> dict:
    """Density and coverage (k-NN balls around real samples only).

    Density = (1 / (k M)) Σ_j Σ_i 1[yj ∈ B(xi, NN_k(xi))] over M generated samples yj;
    coverage = share of real samples whose ball contains at least one generated sample.
    Higher is better; density is about 1 for matching distributions and can exceed 1.

    Parameters
    ----------
    real, fake : array_like of shape (N1, D) and (N2, D)
    k : int, default 5

    Returns
    -------
    dict
        ``density`` (≥ 0) and ``coverage`` in [0, 1].

    References
    ----------
    Naeem, M. F., Oh, S. J., Uh, Y., Choi, Y. & Yoo, J. (2020). Reliable fidelity and diversity
    metrics for generative models. ICML.
    """
    real, fake = _check_pair(real, fake, names=("real features", "generated features"))
    k = _check_k(k, real.shape[0], fake.shape[0])
    radii = knn_radii_sq(real, k)
    counts, nearest = _ball_hits(real, radii, fake)
    return {M.DENSITY: float(counts.sum() / (k * fake.shape[0])), M.COVERAGE: float((nearest <= radii).mean())}
