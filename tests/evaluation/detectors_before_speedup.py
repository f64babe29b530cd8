"""The phantom detector's features as they were before the speed-up of issue 15 (as of commit
dce60be): one image at a time. Kept only as the oracle of
test_detector_features_match_the_per_image_implementation.

Do not import it from product code; do not "fix" it: it is the reference that the vectorized
features must reproduce to 1e-9.
"""
# ruff: noqa
from __future__ import annotations

import numpy as np

from ganaudit.gan_models.phantom import FOV_MM

# The tuning constants are the product's own (the oracle checks the vectorized code, not
# the constants' values): one definition, so the two can never drift apart.
from ganaudit.evaluation.detectors import (BRAIN_MARGIN_MM, BRAIN_RAYS, FALLBACK_RIM_MM,
                                           MAX_SCALP_MM, MIN_DARK_MM, MIN_RIM_MM)


def brain_mask(image: np.ndarray, *, fov_mm: float = FOV_MM) -> np.ndarray:
    """Per-image brain mask (the algorithm of ``detectors.brain_mask``, one slice at a time)."""
    from scipy import ndimage as ndi

    size = image.shape[0]
    px = fov_mm / size
    lo, hi = np.percentile(image, [1, 99])
    span = max(float(hi - lo), 1e-6)
    air, dark = lo + 0.15 * span, lo + 0.30 * span  # air < skull/CSF < brain tissue
    head = ndi.binary_fill_holes(ndi.binary_closing(image > air, iterations=2))
    labels, n = ndi.label(head)
    if n == 0:
        return np.zeros(image.shape, bool)
    head = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    rows, cols = np.nonzero(head)
    cy, cx = rows.mean(), cols.mean()

    step = 0.5  # px along each ray
    t = np.arange(0.0, 0.75 * size, step)
    angles = np.linspace(-np.pi, np.pi, BRAIN_RAYS, endpoint=False)
    ys, xs = cy + np.outer(np.sin(angles), t), cx + np.outer(np.cos(angles), t)
    profiles = ndi.map_coordinates(ndi.gaussian_filter(image, 0.5), [ys, xs], order=1, cval=float(lo))
    in_head = ndi.map_coordinates(head.astype(np.float32), [ys, xs], order=0, cval=0.0) > 0.5
    # Per ray, from the outside in (indices along a ray grow outwards):
    bright = profiles >= dark
    index = np.arange(len(t))
    # the scalp's outer surface: the outermost tissue sample (closing and hole filling may have
    # added dark specks outside it to the head mask);
    tissue = in_head & bright
    outer = np.where(tissue.any(axis=1), len(t) - 1 - np.argmax(tissue[:, ::-1], axis=1), 0)
    # the skull band's outer end: the first dark sample inside it, at most MAX_SCALP_MM in;
    below_outer = index[None, :] <= outer[:, None]
    band_start = np.where(~bright & below_outer, index[None, :], -1).max(axis=1)
    # its inner end: the first tissue sample inside the band (the brain's edge).
    band_end = np.where(bright & (index[None, :] <= band_start[:, None]), index[None, :], 0).max(axis=1)
    band = ((band_start >= 1) & (band_start >= outer - int(MAX_SCALP_MM / px / step))
            & ((band_start - band_end) * step * px >= MIN_DARK_MM))
    edge = np.where(band, np.minimum(t[band_end], t[outer] - MIN_RIM_MM / px),
                    t[outer] - FALLBACK_RIM_MM / px)
    padded = np.concatenate([edge[-3:], edge, edge[:3]])
    edge = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7), axis=1)
    yy, xx = np.mgrid[0:size, 0:size]
    limit = np.interp(np.arctan2(yy - cy, xx - cx), angles, edge, period=2 * np.pi)
    return head & (np.hypot(yy - cy, xx - cx) <= limit - BRAIN_MARGIN_MM / px)


def _phantom_features(image: np.ndarray) -> tuple[list[float], list[float], tuple[int, int]]:
    """Hand-made features of one slice: (lesion features, ventricle features, brightest spot).

    Lesions in the phantom are small blobs brighter than white matter inside the brain;
    enlarged ventricles are a large dark (CSF) area near the centre of the head. Both are
    looked for inside ``brain_mask`` only: a bright spot on the scalp or skull is no lesion.
    """
    from scipy import ndimage as ndi

    s = image.shape[0]
    px = FOV_MM / s
    head = ndi.binary_fill_holes(ndi.binary_closing(image > -0.7, iterations=2))
    inner = brain_mask(image)
    if head.sum() < 4 or inner.sum() < 4:
        return [-1.0, 0.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0], (s // 2, s // 2)
    # Outside the brain the image is replaced by the brain's median before filtering, so the
    # bright scalp cannot bleed into the brain's edge and pose as a lesion there.
    brain_only = np.where(inner, image, np.float32(np.median(image[inner])))
    smooth = ndi.gaussian_filter(brain_only, 0.75)
    score = np.where(inner, smooth, -np.inf)
    r, c = divmod(int(np.argmax(score)), s)
    white = float(np.percentile(image[inner], 90))
    log = -ndi.gaussian_laplace(brain_only, sigma=max(0.75, 5.6 / px))
    lesion = [float(score[r, c]), float(score[r, c]) - white, float(log[r, c]), float(image[r, c])]

    rows, cols = np.nonzero(head)
    cy, cx = rows.mean(), cols.mean()
    radius = np.hypot(rows - cy, cols - cx).max()
    yy, xx = np.mgrid[0:s, 0:s]
    central = inner & (np.hypot(yy - cy, xx - cx) < 0.45 * radius)
    dark = (image < -0.45) & central
    labels, n = ndi.label(dark)
    biggest = np.bincount(labels.ravel())[1:].max() if n else 0
    area = max(1, int(central.sum()))
    vent = [dark.sum() / area, biggest / area, inner.sum() / head.sum(), head.sum() / (s * s)]
    return lesion, vent, (r, c)


def _features(images: np.ndarray):
    lesion, vent, spots = zip(*(_phantom_features(img) for img in images))
    return np.array(lesion), np.array(vent), np.array(spots)
