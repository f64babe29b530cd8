"""The radiomics extractor as it was before the speed-up of issue 15 (as of commit 4f2ce3f), kept
only as the oracle of ``test_radiomics_matches_the_implementation_before_the_speed_up``.

Do not import it from product code; do not "fix" it: it is the reference that the vectorized
extractor must reproduce to 1e-9.
"""
# ruff: noqa
from __future__ import annotations

from typing import Sequence

import numpy as np

from ganaudit.evaluation.features import FeatureExtractor
from ganaudit.gan_models.errors import InputError

__all__ = [
    "RadiomicsExtractor",
    "log_filter",
    "quantize",
    "first_order",
    "glcm_matrices",
    "glcm_features",
    "glrlm_matrices",
    "glrlm_features",
    "ngtdm_features",
]

FIRST_ORDER = ["mean", "std", "skewness", "kurtosis", "minimum", "p10", "p25", "median", "p75", "p90",
               "maximum", "iqr", "range", "mad", "rmad", "rms", "energy", "entropy", "uniformity"]
GLCM = ["mean", "variance", "contrast", "dissimilarity", "homogeneity", "asm", "correlation", "entropy",
        "cluster_shade", "cluster_prominence", "max_probability", "difference_entropy"]
GLRLM = ["sre", "lre", "glnn", "rlnn", "run_percentage", "lglre", "hglre", "gray_level_variance",
         "run_variance", "run_entropy"]
NGTDM = ["coarseness", "contrast", "busyness", "complexity", "strength"]

_TINY = 1e-12


def _safe_div(num: np.ndarray, den: np.ndarray, fill: float = 0.0) -> np.ndarray:
    ok = np.abs(den) > 1e-300
    return np.where(ok, num / np.where(ok, den, 1.0), fill)


def _xlogx(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


# ----------------------------------------------------------------------------- filters

def _mirror_pad(x: np.ndarray, pad: int) -> np.ndarray:
    """Half-sample symmetric padding of the last two axes (numpy 'symmetric', ndimage 'reflect')."""
    if pad >= min(x.shape[1:]):
        return np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    y = np.concatenate([x[:, pad - 1 :: -1], x, x[:, : -pad - 1 : -1]], axis=1)
    return np.concatenate([y[:, :, pad - 1 :: -1], y, y[:, :, : -pad - 1 : -1]], axis=2)


def log_filter(images: np.ndarray, sigmas: Sequence[float]) -> list[np.ndarray]:
    """Scale-normalized Laplacian of Gaussian (σ² ∇²G ∗ x) of (N, H, W) images for each σ.

    Computed in the Fourier domain (float32 FFT, float64 result) on the image mirror-padded
    by at least 4σ_max — the same boundary as ``scipy.ndimage.gaussian_laplace(mode='reflect')``
    — with the continuous transfer function −σ² |ω|² exp(−σ² |ω|² / 2).
    """
    import scipy.fft

    n, h, w = images.shape
    pad = int(np.ceil(4 * max(sigmas)))
    ph = scipy.fft.next_fast_len(h + 2 * pad, real=True)
    pw = scipy.fft.next_fast_len(w + 2 * pad, real=True)
    padded = _mirror_pad(images.astype(np.float32), pad)
    # Fill up to the fast FFT size by mirroring too, not with zeros: a zero band would put an
    # edge 4σ from the image, whose response reaches it for the largest σ.
    padded = np.pad(padded, ((0, 0), (0, ph - padded.shape[1]), (0, pw - padded.shape[2])), mode="symmetric")
    spectrum = scipy.fft.rfft2(padded)
    wy = (np.fft.fftfreq(ph) * 2 * np.pi).astype(np.float32)
    wx = (np.fft.rfftfreq(pw) * 2 * np.pi).astype(np.float32)
    w2 = wy[:, None] ** 2 + wx[None, :] ** 2
    flat = images.reshape(n, -1)
    image_span = flat.max(axis=1) - flat.min(axis=1)
    out = []
    for sigma in sigmas:
        transfer = (-(sigma**2) * w2 * np.exp(-0.5 * sigma**2 * w2)).astype(np.float32)
        filtered = scipy.fft.irfft2(spectrum * transfer, s=(ph, pw))
        filtered = filtered[:, pad : pad + h, pad : pad + w].astype(np.float64)
        # The LoG of a (nearly) constant image is FFT round-off; quantized per image it would
        # become texture. Below a millionth of the image's own range it is zero.
        span = filtered.reshape(n, -1).max(axis=1) - filtered.reshape(n, -1).min(axis=1)
        filtered[span <= 1e-6 * (1.0 + image_span)] = 0.0
        out.append(filtered)
    return out


def quantize(images: np.ndarray, levels: int) -> np.ndarray:
    """Gray levels 0..levels−1 per image between its own minimum and maximum (int64).

    An image whose range is negligible (constant up to rounding) gets level 0 everywhere.
    """
    flat = images.reshape(images.shape[0], -1)
    lo = flat.min(axis=1)
    hi = flat.max(axis=1)
    span = hi - lo
    constant = span <= _TINY * (1.0 + np.maximum(np.abs(lo), np.abs(hi)))
    scale = np.where(constant, 0.0, levels / np.where(constant, 1.0, span))
    q = np.floor((flat - lo[:, None]) * scale[:, None]).astype(np.int64)
    return np.clip(q, 0, levels - 1).reshape(images.shape)


# ----------------------------------------------------------------------------- first order

def _percentiles(values: np.ndarray, percents: Sequence[float]) -> list[np.ndarray]:
    """Row percentiles with linear interpolation (numpy's default) from one partition."""
    last = values.shape[1] - 1
    positions = [q / 100 * last for q in percents]
    kth = sorted({int(np.floor(x)) for x in positions} | {min(int(np.floor(x)) + 1, last) for x in positions})
    part = np.partition(values, kth, axis=1)
    out = []
    for x in positions:
        lo = int(np.floor(x))
        hi = min(lo + 1, last)
        out.append(part[:, lo] + (x - lo) * (part[:, hi] - part[:, lo]))
    return out


def first_order(values: np.ndarray, q: np.ndarray, levels: int) -> np.ndarray:
    """The 19 first-order features of each row of ``values`` (N, P); ``q`` its gray levels."""
    n, p = values.shape
    mean = values.mean(axis=1)
    c = values - mean[:, None]
    c2 = c * c
    m2 = c2.mean(axis=1)
    m3 = (c2 * c).mean(axis=1)
    m4 = (c2 * c2).mean(axis=1)
    varies = m2 > _TINY**2 * (1.0 + mean**2)
    m2_safe = np.where(varies, m2, 1.0)
    skew = np.where(varies, m3 / (m2_safe * np.sqrt(m2_safe)), 0.0)
    kurt = np.where(varies, m4 / (m2_safe * m2_safe), 0.0)
    p10, p25, p50, p75, p90 = _percentiles(values, [10, 25, 50, 75, 90])
    vmin, vmax = values.min(axis=1), values.max(axis=1)
    inner = (values >= p10[:, None]) & (values <= p90[:, None])
    n_inner = inner.sum(axis=1)
    inner_mean = np.where(inner, values, 0.0).sum(axis=1) / n_inner
    rmad = np.where(inner, np.abs(values - inner_mean[:, None]), 0.0).sum(axis=1) / n_inner
    sq = np.einsum("ij,ij->i", values, values)
    counts = np.bincount((np.arange(n)[:, None] * levels + q.reshape(n, -1)).ravel(), minlength=n * levels)
    hist = counts.reshape(n, levels) / p
    entropy = -_xlogx(hist).sum(axis=1)
    uniformity = (hist * hist).sum(axis=1)
    return np.stack([mean, np.sqrt(m2), skew, kurt, vmin, p10, p25, p50, p75, p90, vmax, p75 - p25, vmax - vmin,
                     np.abs(c).mean(axis=1), rmad, np.sqrt(sq / p), sq, entropy, uniformity], axis=1)


# ----------------------------------------------------------------------------- GLCM

def _glcm_offsets(distance: int) -> list[tuple[int, int]]:
    """(row, col) offsets for 0°, 45°, 90°, 135°, as in skimage (rows grow downwards)."""
    d = distance
    return [(0, d), (d, d), (d, 0), (d, -d)]


def glcm_matrices(q: np.ndarray, levels: int, distance: int) -> np.ndarray:
    """Symmetric, normalized co-occurrence matrices (N, 4 angles, levels, levels)."""
    n, h, w = q.shape
    base = (np.arange(n) * levels)[:, None, None]
    out = np.empty((n, 4, levels, levels))
    for k, (dr, dc) in enumerate(_glcm_offsets(distance)):
        r0, r1 = max(0, -dr), h - max(0, dr)
        c0, c1 = max(0, -dc), w - max(0, dc)
        if r1 <= r0 or c1 <= c0:
            raise InputError(f"images of {h}×{w} pixels are too small for GLCM distance {distance}; use a smaller distance")
        a = q[:, r0:r1, c0:c1]
        b = q[:, r0 + dr : r1 + dr, c0 + dc : c1 + dc]
        counts = np.bincount(((base + a) * levels + b).ravel(), minlength=n * levels * levels)
        counts = counts.reshape(n, levels, levels).astype(np.float64)
        counts += counts.transpose(0, 2, 1)
        out[:, k] = counts / counts.sum(axis=(1, 2), keepdims=True)
    return out


_GLCM_WEIGHTS: dict[int, np.ndarray] = {}


def _glcm_weights(levels: int) -> np.ndarray:
    """Columns whose dot product with a flattened GLCM gives its linear statistics."""
    if levels not in _GLCM_WEIGHTS:
        i, j = np.meshgrid(np.arange(levels, dtype=np.float64), np.arange(levels, dtype=np.float64), indexing="ij")
        d = np.abs(i - j)
        s = i + j
        columns = [i, i * i, i * j, d * d, d, 1.0 / (1.0 + d * d), s * s, s * s * s, s * s * s * s]
        columns += [(d == k).astype(np.float64) for k in range(levels)]
        _GLCM_WEIGHTS[levels] = np.stack([c.ravel() for c in columns], axis=1)
    return _GLCM_WEIGHTS[levels]


def glcm_features(p: np.ndarray) -> np.ndarray:
    """The 12 GLCM features of symmetric (..., L, L) matrices (levels 0..L−1, as skimage)."""
    levels = p.shape[-1]
    flat = p.reshape(-1, levels * levels)
    e_i, e_ii, e_ij, contrast, dissimilarity, homogeneity, e_s2, e_s3, e_s4, *p_diff = (flat @ _glcm_weights(levels)).T
    variance = np.maximum(e_ii - e_i * e_i, 0.0)
    cov = e_ij - e_i * e_i
    correlation = np.where(variance > 1e-15, cov / np.where(variance > 1e-15, variance, 1.0), 1.0)
    m = 2.0 * e_i  # mean of i + j
    shade = e_s3 - 3 * m * e_s2 + 2 * m**3
    prominence = e_s4 - 4 * m * e_s3 + 6 * m * m * e_s2 - 3 * m**4
    features = np.stack([
        e_i, variance, contrast, dissimilarity, homogeneity, np.einsum("ij,ij->i", flat, flat), correlation,
        -_xlogx(flat).sum(axis=1), shade, prominence, flat.max(axis=1), -_xlogx(np.stack(p_diff, axis=1)).sum(axis=1),
    ], axis=1)
    return features.reshape(*p.shape[:-2], len(GLCM))


# ----------------------------------------------------------------------------- GLRLM

def glrlm_matrices(q: np.ndarray, levels: int) -> list[np.ndarray]:
    """Run-length matrices (N, levels, max run) for runs along rows and along columns.

    Entry [n, g, r − 1] counts the runs of gray level g and length r in image n.
    """
    out = []
    for image in (q, q.transpose(0, 2, 1)):
        n, h, w = image.shape
        flat = np.ascontiguousarray(image).reshape(-1)
        starts = np.ones(flat.size, dtype=bool)
        starts[1:] = flat[1:] != flat[:-1]
        starts[::w] = True  # every row starts a run
        pos = np.flatnonzero(starts)
        lengths = np.diff(pos, append=flat.size)
        index = ((pos // (h * w)) * levels + flat[pos]) * w + (lengths - 1)
        out.append(np.bincount(index, minlength=n * levels * w).reshape(n, levels, w).astype(np.float64))
    return out


def glrlm_features(r: np.ndarray, n_pixels: int) -> np.ndarray:
    """The 10 GLRLM features of (N, levels, max run) matrices (gray levels and lengths from 1)."""
    g = np.arange(1, r.shape[1] + 1, dtype=np.float64)[:, None]
    length = np.arange(1, r.shape[2] + 1, dtype=np.float64)[None, :]
    n_runs = r.sum(axis=(1, 2))
    p = r / n_runs[:, None, None]
    per_gray = r.sum(axis=2)
    per_length = r.sum(axis=1)
    g_mean = (p * g).sum(axis=(1, 2))
    l_mean = (p * length).sum(axis=(1, 2))
    return np.stack([
        (p / length**2).sum(axis=(1, 2)),
        (p * length**2).sum(axis=(1, 2)),
        (per_gray**2).sum(axis=1) / n_runs**2,
        (per_length**2).sum(axis=1) / n_runs**2,
        n_runs / n_pixels,
        (p / g**2).sum(axis=(1, 2)),
        (p * g**2).sum(axis=(1, 2)),
        (p * (g - g_mean[:, None, None]) ** 2).sum(axis=(1, 2)),
        (p * (length - l_mean[:, None, None]) ** 2).sum(axis=(1, 2)),
        -_xlogx(p).sum(axis=(1, 2)),
    ], axis=1)


# ----------------------------------------------------------------------------- NGTDM

def _box3(x: np.ndarray) -> np.ndarray:
    """Sum over each 3 × 3 neighbourhood (zero outside the image) of (N, H, W)."""
    h, w = x.shape[1:]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    total = np.zeros_like(x)
    for dr in range(3):
        for dc in range(3):
            total += padded[:, dr : dr + h, dc : dc + w]
    return total


def ngtdm_features(q: np.ndarray, levels: int) -> np.ndarray:
    """The 5 NGTDM features of quantized (N, H, W) images (gray levels 1..levels).

    s_i = Σ |i − Ā| over pixels of level i, Ā the mean of the pixel's 8 neighbours inside the
    image (Amadasun & King 1989, as in pyradiomics).
    """
    n, h, w = q.shape
    gray = q.astype(np.float64) + 1.0
    neighbours = _box3(np.ones((1, h, w)))[0] - 1.0
    average = (_box3(gray) - gray) / neighbours
    index = (np.arange(n)[:, None, None] * levels + q).ravel()
    s = np.bincount(index, weights=np.abs(gray - average).ravel(), minlength=n * levels).reshape(n, levels)
    p = np.bincount(index, minlength=n * levels).reshape(n, levels) / (h * w)
    i = np.arange(1, levels + 1, dtype=np.float64)
    present = p > 0
    pair = present[:, :, None] & present[:, None, :]
    n_present = present.sum(axis=1).astype(np.float64)
    ps = p * s
    sum_ps = ps.sum(axis=1)
    sum_s = s.sum(axis=1)
    d2 = (i[:, None] - i[None, :]) ** 2
    coarseness = np.where(sum_ps > 0, 1.0 / np.where(sum_ps > 0, sum_ps, 1.0), 1e6)
    contrast = _safe_div((p[:, :, None] * p[:, None, :] * d2).sum(axis=(1, 2)),
                         n_present * (n_present - 1)) * sum_s / (h * w)
    ip = i * p
    busy_den = np.where(pair, np.abs(ip[:, :, None] - ip[:, None, :]), 0.0).sum(axis=(1, 2))
    busyness = _safe_div(sum_ps, busy_den)
    psum = p[:, :, None] + p[:, None, :]
    complexity = np.where(pair, np.sqrt(d2) * _safe_div(ps[:, :, None] + ps[:, None, :], psum), 0.0).sum(axis=(1, 2)) / (h * w)
    strength = _safe_div(np.where(pair, psum * d2, 0.0).sum(axis=(1, 2)), sum_s)
    return np.stack([coarseness, contrast, busyness, complexity, strength], axis=1)


# ----------------------------------------------------------------------------- extractor

def _positive_int(value, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"radiomics extractor: {what} must be an integer >= {minimum}; got {value!r}")
    return int(value)


class RadiomicsExtractor(FeatureExtractor):
    """FRD-style radiomic features (see the module docstring for the list).

    Parameters
    ----------
    levels : int, default 32
        Gray levels for the texture matrices (fixed bin number per image).
    log_sigmas : sequence of float, default (2, 3, 4, 5)
        σ in pixels of the Laplacian-of-Gaussian images; empty for none.
    wavelet : str or None, default "coif1"
        PyWavelets wavelet for the one-level decomposition; None for none.
    glcm_distances : sequence of int, default (1,)
        Pixel distances of the co-occurrence matrices.

    References
    ----------
    Konz, N., Osuala, R. et al. (2024). Fréchet Radiomic Distance (FRD): a versatile metric
    for comparing medical imaging datasets. arXiv:2412.01496.
    Zwanenburg, A. et al. (2020). The Image Biomarker Standardization Initiative.
    Radiology 295(2), 328–338.
    Haralick, R. M., Shanmugam, K. & Dinstein, I. (1973). Textural features for image
    classification. IEEE Trans. SMC 3(6), 610–621.
    Galloway, M. M. (1975). Texture analysis using gray level run lengths. CGIP 4(2), 172–179.
    Amadasun, M. & King, R. (1989). Textural features corresponding to textural properties.
    IEEE Trans. SMC 19(5), 1264–1274.
    """

    name = "radiomics"

    def __init__(self, *, levels: int = 32, log_sigmas: Sequence[float] = (2.0, 3.0, 4.0, 5.0),
                 wavelet: str | None = "coif1", glcm_distances: Sequence[int] = (1,)):
        self.levels = _positive_int(levels, "levels", 2)
        try:
            self.log_sigmas = tuple(float(s) for s in log_sigmas)
        except (TypeError, ValueError) as e:
            raise InputError(f"radiomics extractor: log_sigmas must be a list of numbers, e.g. 2,3,4,5; got {log_sigmas!r}") from e
        if any(not np.isfinite(s) or s <= 0 for s in self.log_sigmas):
            raise InputError(f"radiomics extractor: every LoG sigma must be > 0; got {log_sigmas!r}")
        if isinstance(glcm_distances, (int, np.integer)):
            glcm_distances = (glcm_distances,)
        self.glcm_distances = tuple(_positive_int(d, "each GLCM distance") for d in glcm_distances)
        if not self.glcm_distances:
            raise InputError("radiomics extractor: give at least one GLCM distance (e.g. 1)")
        if wavelet is not None:
            import pywt

            if wavelet not in pywt.wavelist(kind="discrete"):
                raise InputError(f"radiomics extractor: unknown wavelet {wavelet!r}; use a PyWavelets discrete "
                                 "wavelet such as coif1, haar or db2, or None")
        self.wavelet = wavelet
        self.settings = {"levels": self.levels, "log_sigmas": list(self.log_sigmas), "wavelet": wavelet,
                         "glcm_distances": list(self.glcm_distances), "version": 2}
        per_image = ([f"firstorder:{f}" for f in FIRST_ORDER]
                     + [f"glcm-d{d}:{f}" for d in self.glcm_distances for f in GLCM]
                     + [f"glrlm:{f}" for f in GLRLM] + [f"ngtdm:{f}" for f in NGTDM])
        self.feature_names = [f"{image}:{f}" for image in self.image_names for f in per_image]

    @property
    def image_names(self) -> list[str]:
        names = ["original"] + [f"log-sigma-{s:g}" for s in self.log_sigmas]
        if self.wavelet is not None:
            names += [f"wavelet-{band}" for band in ("LL", "LH", "HL", "HH")]
        return names

    def filtered_images(self, images: np.ndarray) -> list[np.ndarray]:
        """The original and filtered versions of (N, H, W) images, in ``image_names`` order."""
        x = images.astype(np.float64)
        out = [x]
        if self.log_sigmas:
            out += log_filter(x, self.log_sigmas)
        if self.wavelet is not None:
            import pywt

            ll, (lh, hl, hh) = pywt.dwt2(x, self.wavelet, mode="periodization", axes=(-2, -1))
            out += [np.ascontiguousarray(band) for band in (ll, lh, hl, hh)]
        return out

    def image_features(self, image: np.ndarray) -> np.ndarray:
        """All features of one family of (N, h, w) images, in ``feature_names`` order."""
        n = image.shape[0]
        if min(image.shape[1:]) < 2:
            raise InputError(f"radiomics extractor: filtered images of {image.shape[1:]} pixels are too small; "
                             "use images of at least 8×8 pixels")
        q = quantize(image, self.levels)
        parts = [first_order(image.reshape(n, -1), q, self.levels)]
        for d in self.glcm_distances:
            parts.append(glcm_features(glcm_matrices(q, self.levels, d)).mean(axis=1))
        runs = glrlm_matrices(q, self.levels)
        parts.append(np.mean([glrlm_features(r, image.shape[1] * image.shape[2]) for r in runs], axis=0))
        parts.append(ngtdm_features(q, self.levels))
        return np.concatenate(parts, axis=1)

    def _features(self, images: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        # The matrix products here are tiny: extra BLAS threads only add contention.
        with threadpool_limits(limits=1, user_api="blas"):
            return np.concatenate([self.image_features(x) for x in self.filtered_images(images)], axis=1)
