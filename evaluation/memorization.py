"""Memorization audit: does the GAN hand back (shifted, flipped, noised) training images?

For every generated image the audit finds its nearest training image by normalized
cross-correlation (NCC), maximised over shifts of ±3 px and a horizontal flip
(``ganaudit.evaluation.nn_search``), and — when features are given — its nearest training image in
feature space. A generated image is *flagged* when its NCC exceeds a threshold calibrated on
held-out real images (by default the 99th percentile of their NCC to the training set), so an
honest generator is flagged at about the held-out rate (1 %).

Numbers and their direction:

- ``rate`` (share of generated images flagged as copies, with a Wilson 95 % interval): lower
  is better; about 1 − percentile/100 for a generator that does not copy.
- ``ct_score`` (data-copying test C_T of Meehan et al. 2020): ≈ 0 is good, ≪ 0 (e.g. < −3)
  means copying, ≫ 0 means underfitting.
- ``authenticity`` (share of authentic samples, Alaa et al. 2022): higher is better.
- ``mifid`` (memorization-informed FID, Bai et al. 2021): lower is better; it equals FID
  divided by the memorization distance when that distance falls below ε (copying).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ganaudit.evaluation.nn_search import NNResult, check_images, invariant_nn, invariant_nn_brute
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.grids import figure_png
from ganaudit.schema import layout
from ganaudit.schema import metrics as M


@dataclass
class MemorizationResult:
    """Outcome of ``memorization_audit``.

    Attributes
    ----------
    table : one row per generated image: ``file, nearest_train, ncc, flagged,
        nearest_train_feature, feature_distance``, then ``shift_y, shift_x, flipped,
        authentic``.
    summary : ``rate, rate_ci_low, rate_ci_high, threshold, threshold_source, n_flagged,
        ct_score, authenticity, mifid`` and the settings and sizes behind them.
    nearest_index : (N,) index of each generated image's nearest training image (NCC).
    heldout_ncc : invariant NCC of each held-out image to the training set.
    """

    table: pd.DataFrame
    summary: dict
    nearest_index: np.ndarray
    heldout_ncc: np.ndarray = field(repr=False)


def wilson_interval(successes: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
    JASA 22 (1927) 209–212.
    """
    from scipy.stats import norm

    if n <= 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(1 - alpha / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _check_features(features, n: int, what: str) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"{what}: expected a 2-D array (images, features), got shape {array.shape}")
    if array.shape[0] != n:
        raise InputError(f"{what}: {array.shape[0]} rows for {n} images; "
                         "extract features from exactly the same images, in the same order")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what}: features contain NaN or infinite values; "
                         "check the feature extractor on these images")
    return array


def _check_names(names, n: int, what: str, prefix: str) -> list[str]:
    if names is None:
        return [f"{prefix}-{i:05d}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise InputError(f"{what}: {len(names)} names for {n} images; give one name per image")
    return names


def _euclidean_nn(queries: np.ndarray, references: np.ndarray, *, exclude=None,
                  block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Nearest reference by Euclidean distance (float64), blocked. Returns (index, distance)."""
    ref_sq = np.einsum("ij,ij->i", references, references)
    index = np.empty(len(queries), np.int64)
    dist = np.empty(len(queries), np.float64)
    for start in range(0, len(queries), block):
        q = queries[start:start + block]
        d2 = np.einsum("ij,ij->i", q, q)[:, None] + ref_sq[None, :] - 2.0 * q @ references.T
        if exclude is not None:
            ex = np.asarray(exclude[start:start + block])
            keep = ex >= 0
            d2[np.nonzero(keep)[0], ex[keep]] = np.inf
        idx = np.argmin(d2, axis=1)
        index[start:start + len(q)] = idx
        dist[start:start + len(q)] = np.sqrt(np.maximum(d2[np.arange(len(q)), idx], 0.0))
    return index, dist


def mann_whitney_z(x: np.ndarray, y: np.ndarray) -> float:
    """Z-scored Mann–Whitney U of sample ``x`` against ``y`` (no tie correction).

    U counts the pairs with x above y (ties count one half); Z = (U − nm/2) / √(nm(n+m+1)/12).
    Negative Z: ``x`` tends to be smaller than ``y``.

    References
    ----------
    H. B. Mann and D. R. Whitney, "On a test of whether one of two random variables is
    stochastically larger than the other", Ann. Math. Statist. 18 (1947) 50–60.
    """
    from scipy.stats import rankdata

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n = len(x), len(y)
    ranks = rankdata(np.concatenate([x, y]))
    u = ranks[:m].sum() - m * (m + 1) / 2.0
    return float((u - m * n / 2.0) / math.sqrt(m * n * (m + n + 1) / 12.0))


def _shift_descriptor(images: np.ndarray) -> np.ndarray:
    """Centred, flip-symmetrized, 16 × 16 block-averaged images: a cell key robust to the
    shifts and flips the NCC search forgives (so a flipped copy lands in its source's cell)."""
    from ganaudit.evaluation.nn_search import _centre

    c = _centre(images)
    c = 0.5 * (c + c[:, :, ::-1])
    s = images.shape[1]
    g = min(16, s)
    b = s // g
    core = c[:, :b * g, :b * g].reshape(len(images), g, b, g, b).mean(axis=(2, 4))
    return core.reshape(len(images), -1).astype(np.float64)


def data_copying_ct(train_keys: np.ndarray, heldout_keys: np.ndarray, generated_keys: np.ndarray,
                    distance, *, n_cells: int, tau: float | None = None, seed: int = 0) -> dict:
    """Data-copying test statistic C_T.

    Cells are k-means clusters of the training set; in each cell the distances of held-out
    (``P_n``) and generated (``Q_m``) samples to their nearest *training sample of that cell*
    are compared by a Z-scored Mann–Whitney U; C_T is the average of the cell Z values
    weighted by the held-out share ``P_n(π)``, over cells whose generated share exceeds τ.

    Parameters
    ----------
    train_keys, heldout_keys, generated_keys : vectors used to build and assign the cells.
    distance : callable ``(query_indices_kind, query_idx, train_idx) -> distances``; see
        ``memorization_audit`` (pixel space: 1 − invariant NCC; feature space: Euclidean).
    n_cells : number of k-means cells.
    tau : minimal generated share of a cell (default 20 / m, as in the paper).

    Returns
    -------
    dict with ``ct_score`` (NaN when no cell qualifies), ``cells_used``, ``n_cells``.

    References
    ----------
    C. Meehan, K. Chaudhuri, S. Dasgupta, "A non-parametric test to detect data-copying in
    generative models", AISTATS 2020 (arXiv 2004.05675).
    """
    from sklearn.cluster import KMeans

    n_cells = int(max(1, min(n_cells, len(train_keys))))
    km = KMeans(n_clusters=n_cells, n_init=3, random_state=seed).fit(train_keys)
    cell_train = km.labels_
    cell_held = km.predict(heldout_keys)
    cell_gen = km.predict(generated_keys)
    n, m = len(heldout_keys), len(generated_keys)
    tau = 20.0 / m if tau is None else tau
    num = den = 0.0
    used = 0
    for cell in range(n_cells):
        t_idx = np.nonzero(cell_train == cell)[0]
        h_idx = np.nonzero(cell_held == cell)[0]
        g_idx = np.nonzero(cell_gen == cell)[0]
        if len(t_idx) == 0 or len(h_idx) == 0 or len(g_idx) / m <= tau:
            continue
        z = mann_whitney_z(distance("generated", g_idx, t_idx), distance("heldout", h_idx, t_idx))
        weight = len(h_idx) / n
        num += weight * z
        den += weight
        used += 1
    return {M.CT_SCORE: float(num / den) if den > 0 else math.nan, "cells_used": used,
            "n_cells": n_cells}


def authenticity_share(gen_to_train: np.ndarray, nearest: np.ndarray,
                       train_to_train: np.ndarray, *, tie_tolerance: float = 0.0) -> np.ndarray:
    """Authentic flag per generated sample (Alaa et al. 2022).

    A generated sample g with nearest real sample x* is *inauthentic* when it is no farther
    from x* than x* is from its own nearest real neighbour: d(g, x*) ≤ d(x*, NN_real(x*)).
    A tie counts as inauthentic: an exact copy of a training image that is itself duplicated
    in the training set has d(g, x*) = d(x*, NN_real(x*)) = 0, and must not pass as new.

    Parameters
    ----------
    gen_to_train : (M,) distance of each generated sample to its nearest training sample.
    nearest : (M,) index of that training sample.
    train_to_train : (N_train,) distance of each training sample to its nearest *other*
        training sample (only entries at ``nearest`` are read).
    tie_tolerance : distances closer than this are a tie (round-off of the two separately
        computed distances must not turn a copy authentic); 0 means exact equality.

    References
    ----------
    A. M. Alaa, B. van Breugel, E. Saveliev, M. van der Schaar, "How faithful is your
    synthetic data? Sample-level metrics for evaluating and auditing generative models",
    ICML 2022.
    """
    gen = np.asarray(gen_to_train, dtype=np.float64)
    own = np.asarray(train_to_train, dtype=np.float64)[np.asarray(nearest)]
    # NaN distances compare False: such a sample is not called authentic.
    return gen > own + float(tie_tolerance)


def mifid_from_distance(fid: float | None, distance: float, *, epsilon: float = 0.1) -> float:
    """MiFID = FID / (d_thr + 1e-14), d_thr = d if d < ε else 1.

    ``distance`` is the mean over generated samples of the minimum over training samples of
    1 − |cos(g, t)|.

    References
    ----------
    C. Bai, H. Lin, C. Raffel, W. Kan, "On training sample memorization: lessons from
    benchmarking generative modeling with a large-scale competition", KDD 2021.
    """
    if fid is None or not np.isfinite(fid):
        return math.nan
    d_thr = distance if distance < epsilon else 1.0
    return float(fid / (d_thr + 1e-14))


def memorization_distance(generated: np.ndarray, train: np.ndarray, *, block: int = 2048) -> float:
    """Mean over generated rows of min over training rows of 1 − |cos| (MiFID's d)."""
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    # float64: for near-copies d is ~1e-7 and MiFID divides by it.
    g, t = unit(np.asarray(generated, np.float64)), unit(np.asarray(train, np.float64))
    best = np.empty(len(g))
    for start in range(0, len(g), block):
        best[start:start + block] = np.abs(g[start:start + block] @ t.T).max(axis=1)
    return float(np.mean(np.clip(1.0 - best, 0.0, 1.0)))


def prepare_searches(train, heldout, *, max_shift: int = 3, flip: bool = True) -> None:
    """Do now what every :func:`memorization_audit` of these training and held-out images
    shares: prepare the training set for the NCC search and find the held-out images'
    nearest training images (both are remembered by :mod:`ganaudit.evaluation.nn_search`, and
    can be handed to other processes with its ``cache_state``)."""
    invariant_nn(check_images(heldout, "held-out images"), check_images(train, "training images"),
                 max_shift=max_shift, flip=flip)


def standardized_features(train_raw, heldout_raw, generated_raw) -> dict[str, np.ndarray]:
    """The feature arguments of :func:`memorization_audit` from raw features of the three
    sets, exactly as ``ganaudit score`` makes them: every set z-scored with the training set's
    per-feature mean and standard deviation
    (:func:`ganaudit.evaluation.features.zscore_with_reference`; radiomic features live on very
    different scales, and raw ones would let a few large ones decide every distance). The
    command line's ``audit memorization --features`` calls this, so both give the same C_T,
    authenticity and MiFID for the same images; MiFID's ``real_fd`` is then the Fréchet
    distance of the standardized training and generated sets, as ``score``'s ``fd`` column."""
    from ganaudit.evaluation.features import zscore_with_reference

    train, heldout, generated = zscore_with_reference(train_raw, heldout_raw, generated_raw)
    return {"train_features": train, "heldout_features": heldout, "generated_features": generated}


def memorization_audit(train, heldout, generated, *, train_names=None, generated_names=None,
                       threshold: float | None = None, percentile: float = 99.0,
                       train_features=None, generated_features=None, heldout_features=None,
                       real_fd: float | None = None, max_shift: int = 3, flip: bool = True,
                       method: str = "fast", n_cells: int | None = None,
                       mifid_epsilon: float = 0.1, alpha: float = 0.05,
                       seed: int = 0) -> MemorizationResult:
    """Audit generated images for copies of training images.

    Parameters
    ----------
    train, heldout, generated : (N, S, S) images in [-1, 1] of one size, after the training
        preprocessing. ``heldout`` are real images the GAN never saw (they calibrate the
        threshold and the C_T test).
    train_names, generated_names : names for the table (default ``train-00000`` …).
    threshold : NCC above which a generated image is flagged; default: the ``percentile``-th
        percentile of the held-out images' NCC to the training set.
    train_features, generated_features, heldout_features : optional (N, D) features of the
        same images; with them the table also gives the nearest training image in feature
        space, and C_T (needs all three), authenticity and MiFID's distance use the features.
        Without them those three use the pixel NCC (distance 1 − NCC; MiFID on raw pixels).
    real_fd : Fréchet distance of generated vs real features, for MiFID (NaN when None).
    max_shift, flip : invariances of the NCC search (shifts of ±max_shift px, horizontal flip).
    method : ``"fast"`` (shortlist + exact NCC) or ``"brute"`` (all pairs, exact).
    n_cells : k-means cells for C_T (default: held-out count / 25, between 1 and 20).
    mifid_epsilon : MiFID's ε.
    alpha : 1 − confidence of the rate interval.
    seed : seed for k-means and the search's PCA subsample.

    Returns
    -------
    MemorizationResult

    References
    ----------
    Meehan et al., AISTATS 2020 (C_T); Alaa et al., ICML 2022 (authenticity); Bai et al.,
    KDD 2021 (MiFID). See the helper functions for the formulas.
    """
    train = check_images(train, "training images")
    heldout = check_images(heldout, "held-out images")
    generated = check_images(generated, "generated images")
    sizes = {"training": train.shape[1], "held-out": heldout.shape[1], "generated": generated.shape[1]}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{k} {v}²" for k, v in sizes.items())
        raise InputError(f"image sizes differ ({listed}); resize all sets to one size (e.g. --size S)")
    if method not in ("fast", "brute"):
        raise InputError(f"method must be 'fast' or 'brute', got {method!r}")
    if not 0 < percentile < 100:
        raise InputError(f"percentile must be between 0 and 100, got {percentile!r}")
    if threshold is not None and not (np.isfinite(threshold) and -1.0 <= threshold <= 1.0):
        raise InputError(f"threshold must be an NCC between -1 and 1, got {threshold!r}")
    train_names = _check_names(train_names, len(train), "train_names", "train")
    generated_names = _check_names(generated_names, len(generated), "generated_names", "generated")
    has_features = train_features is not None or generated_features is not None
    if has_features and (train_features is None or generated_features is None):
        raise InputError("give both train_features and generated_features (or neither)")
    if has_features:
        train_features = _check_features(train_features, len(train), "train_features")
        generated_features = _check_features(generated_features, len(generated), "generated_features")
        if train_features.shape[1] != generated_features.shape[1]:
            raise InputError(f"feature sizes differ: train {train_features.shape[1]} vs generated "
                             f"{generated_features.shape[1]}; use one extractor for both")
    if heldout_features is not None:
        heldout_features = _check_features(heldout_features, len(heldout), "heldout_features")

    search = invariant_nn if method == "fast" else invariant_nn_brute
    kwargs = {"max_shift": max_shift, "flip": flip}
    gen_nn: NNResult = search(generated, train, **kwargs)
    held_nn: NNResult = search(heldout, train, **kwargs)

    if threshold is None:
        threshold = float(np.percentile(held_nn.ncc.astype(np.float64), percentile))
        source = f"heldout-p{percentile:g}"
    else:
        threshold, source = float(threshold), "user"
    flagged = gen_nn.ncc.astype(np.float64) > threshold
    n_flagged = int(flagged.sum())
    low, high = wilson_interval(n_flagged, len(generated), alpha=alpha)

    table = pd.DataFrame({
        "file": generated_names,
        "nearest_train": [train_names[i] for i in gen_nn.index],
        "ncc": gen_nn.ncc.astype(np.float64),
        "flagged": flagged,
    })
    if has_features:
        f_idx, f_dist = _euclidean_nn(generated_features, train_features)
        table["nearest_train_feature"] = [train_names[i] for i in f_idx]
        table["feature_distance"] = f_dist
    else:
        table["nearest_train_feature"] = ""
        table["feature_distance"] = np.nan
    table["shift_y"] = gen_nn.shift[:, 0]
    table["shift_x"] = gen_nn.shift[:, 1]
    table["flipped"] = gen_nn.flipped

    # Authenticity: distance of x* to its own nearest other training sample.
    if has_features:
        g_dist, g_near = f_dist, f_idx
        uniq = np.unique(g_near)
        _, t_dist = _euclidean_nn(train_features[uniq], train_features, exclude=uniq)
        auth_space = "features"
        # |a|² + |b|² − 2a·b loses about 1e-16·|a|² before the square root: ~1e-8·|a| in distance.
        tie = 1e-6 * float(np.sqrt(np.mean(np.einsum("ij,ij->i", train_features, train_features))))
    else:
        g_dist, g_near = 1.0 - gen_nn.ncc.astype(np.float64), gen_nn.index
        uniq = np.unique(g_near)
        t_nn = search(train[uniq], train, exclude=uniq, **kwargs) if len(train) > 1 else None
        t_dist = 1.0 - t_nn.ncc.astype(np.float64) if t_nn is not None else np.full(len(uniq), np.inf)
        auth_space = "pixels (1 - invariant NCC)"
        tie = 1e-6  # NCC is computed in float32 (round-off ~1e-7)
    train_to_train = np.full(len(train), np.inf)
    train_to_train[uniq] = t_dist
    authentic = authenticity_share(g_dist, g_near, train_to_train, tie_tolerance=tie)
    table["authentic"] = authentic

    # C_T: features when all three sets have them, else invariant NCC distance in pixel space.
    if n_cells is None:
        n_cells = int(min(20, max(1, len(heldout) // 25)))
    if has_features and heldout_features is not None:
        sets = {"generated": generated_features, "heldout": heldout_features}

        def distance(kind, q_idx, t_idx):
            return _euclidean_nn(sets[kind][q_idx], train_features[t_idx])[1]

        ct = data_copying_ct(train_features, heldout_features, generated_features, distance,
                             n_cells=n_cells, seed=seed)
        ct_space = "features"
    else:
        images = {"generated": generated, "heldout": heldout}
        global_nn = {"generated": gen_nn, "heldout": held_nn}

        def distance(kind, q_idx, t_idx):
            # A query whose nearest training image overall lies in the cell has the same
            # nearest image within the cell: search again only for the others.
            nn = global_nn[kind]
            out = 1.0 - nn.ncc[q_idx].astype(np.float64)
            outside = ~np.isin(nn.index[q_idx], t_idx)
            if outside.any():
                found = search(images[kind][q_idx[outside]], train[t_idx], **kwargs)
                out[outside] = 1.0 - found.ncc.astype(np.float64)
            return out

        ct = data_copying_ct(_shift_descriptor(train), _shift_descriptor(heldout),
                             _shift_descriptor(generated), distance, n_cells=n_cells, seed=seed)
        ct_space = "pixels (1 - invariant NCC)"

    if has_features:
        d_mem = memorization_distance(generated_features, train_features)
        mifid_space = "features"
    else:
        d_mem = memorization_distance(generated.reshape(len(generated), -1),
                                      train.reshape(len(train), -1))
        mifid_space = "pixels"

    summary = {
        "rate": n_flagged / len(generated),
        "rate_ci_low": low,
        "rate_ci_high": high,
        "threshold": threshold,
        "threshold_source": source,
        "n_flagged": n_flagged,
        "n_generated": len(generated),
        "n_train": len(train),
        "n_heldout": len(heldout),
        "heldout_rate": float(np.mean(held_nn.ncc.astype(np.float64) > threshold)),
        M.CT_SCORE: ct[M.CT_SCORE],
        "ct_cells_used": ct["cells_used"],
        "ct_cells": ct["n_cells"],
        "ct_space": ct_space,
        M.AUTHENTICITY: float(np.mean(authentic)),
        "authenticity_space": auth_space,
        M.MIFID: mifid_from_distance(real_fd, d_mem, epsilon=mifid_epsilon),
        "mifid_distance": d_mem,
        "mifid_epsilon": mifid_epsilon,
        "mifid_space": mifid_space,
        "real_fd": math.nan if real_fd is None else float(real_fd),
        "max_shift": int(max_shift),
        "flip": bool(flip),
        "method": method,
        "confidence": 1 - alpha,
    }
    return MemorizationResult(table, summary, gen_nn.index, held_nn.ncc)


def _gallery_png(result: MemorizationResult, train: np.ndarray, generated: np.ndarray,
                 *, n_pairs: int = 12) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-result.table["ncc"].to_numpy())[:n_pairs]
    cols = 4
    rows = max(1, math.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, 2 * cols, figsize=(2 * cols * 1.3, rows * 1.55), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, g in enumerate(order):
        r, c = divmod(k, cols)
        row = result.table.iloc[g]
        colour = "red" if row["flagged"] else "black"
        a, b = axes[r, 2 * c], axes[r, 2 * c + 1]
        a.imshow(generated[g], cmap="gray", vmin=-1, vmax=1)
        b.imshow(train[result.nearest_index[g]], cmap="gray", vmin=-1, vmax=1)
        a.set_title(f"{'COPY ' if row['flagged'] else ''}{row['ncc']:.3f}", fontsize=7, color=colour)
        b.set_title(str(row["nearest_train"])[:14], fontsize=6)
        for ax in (a, b):
            for side in ax.spines.values():
                side.set_color(colour)
    fig.suptitle(f"Closest pairs (generated | nearest training); threshold "
                 f"{result.summary['threshold']:.3f}, red = flagged", fontsize=8)
    return figure_png(fig)


def write_memorization(result: MemorizationResult, out_dir, train, generated) -> Path:
    """Write ``memorization.csv``, ``summary.json`` and ``gallery.png`` into ``out_dir``.

    Each file is written atomically (temporary name, then rename).
    """
    from ganaudit.gan_models.atomic import write_bytes, write_csv, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = check_images(train, "training images")
    generated = check_images(generated, "generated images")
    write_csv(out / layout.MEMORIZATION_CSV, result.table)
    write_json(out / layout.AUDIT_SUMMARY_JSON, result.summary)
    write_bytes(out / layout.AUDIT_GALLERY_PNG, _gallery_png(result, train, generated))
    return out
