"""Detectability: a classifier two-sample test, the machine reader beside the human ones.

Can anything tell the generated images from real ones? A small CNN (Keras 3, any backend) is
trained to separate real images (held-out: the GAN never saw them) from generated ones, with
k-fold cross-fitting: every image is scored by the model of the one fold that did not train on
it, so the out-of-fold scores are honest. Their ROC AUC is the answer:

- ``auc`` ≈ 0.5: the classifier cannot tell the sets apart (better);
- ``auc`` → 1: the fakes give themselves away (worse). Lower is better, down to 0.5.

It comes with a DeLong confidence interval, a one-sided p-value for AUC > 0.5 (Mann–Whitney U
on the same out-of-fold scores), the score of every image, galleries of the most and least
detectable fakes and an occlusion map of where the classifier looks.

The same machinery runs on a feature table (:func:`feature_detectability`, a cross-fitted
logistic regression), e.g. to check low-level cues (brightness, noise, file size) of a
reading study's cases.

Both sets get exactly the same preprocessing: none beyond what loading did (float32 in
[-1, 1]); the classifier sees the pixels as they are.

References
----------
Lopez-Paz, D. & Oquab, M. (2017). Revisiting classifier two-sample tests. ICLR.
DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the areas under two or
more correlated receiver operating characteristic curves: a nonparametric approach.
Biometrics 44, 837-845.
Sun, X. & Xu, W. (2014). Fast implementation of DeLong's algorithm for comparing the areas
under correlated receiver operating characteristic curves. IEEE Signal Process. Lett. 21.
Zeiler, M. D. & Fergus, R. (2014). Visualizing and understanding convolutional networks
(occlusion sensitivity). ECCV.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ganaudit.evaluation.memorization import _check_names
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.grids import figure_png
from ganaudit.schema import layout
from ganaudit.schema import metrics as M

# Result keys, shared by the writer (summary.json), scoring (scores.csv) and readers.
KEY_AUC = "auc"
KEY_AUC_CI_LOW = "auc_ci_low"
KEY_AUC_CI_HIGH = "auc_ci_high"
KEY_P_VALUE = "p_value"
SCORE_COLUMNS = ["file", "set", "label", "score", "fold"]
SUMMARY_FILE = layout.AUDIT_SUMMARY_JSON
SCORES_FILE = "scores.csv"
GALLERY_FILE = layout.AUDIT_GALLERY_PNG
SALIENCY_FILE = "saliency.png"
SALIENCY_ARRAY_FILE = "saliency.npy"
FILES = (SUMMARY_FILE, SCORES_FILE, GALLERY_FILE, SALIENCY_FILE, SALIENCY_ARRAY_FILE)
# Pooled out-of-fold scores are not independent: every fold's model learnt from the other folds'
# images, so a chance difference between two folds enters the AUC twice (once through each
# fold's model). For a learner whose scores follow the training sets' chance mean difference
# (a linear model) this doubles the AUC's variance under the null, for any number of folds.
# The null studies agree: the AUC's variance over real-vs-real replicates was 2.2× DeLong's for
# the feature test and 1.7× for the CNN (plain intervals covered 0.5 in 82 % and 85 % of
# replicates). Both variances are therefore doubled (docs/audits.md).
CROSS_FIT_VARIANCE_FACTOR = 2.0
FEATURE_VARIANCE_FACTOR = CROSS_FIT_VARIANCE_FACTOR
# scores.csv columns that ``ganaudit score RUN`` fills per checkpoint, and their summary keys.
SCORING_COLUMNS = {M.DETECTABILITY_AUC: KEY_AUC, M.DETECTABILITY_AUC_CI_LOW: KEY_AUC_CI_LOW,
                   M.DETECTABILITY_AUC_CI_HIGH: KEY_AUC_CI_HIGH}
# Per checkpoint at most this many images of each set: the time per checkpoint stays bounded
# and every checkpoint is judged on the same number of images.
SCORING_MAX_PER_SET = 500
# A fake counts as detected when its score beats this share of the real images of its fold.
DETECTED_QUANTILE = 0.95
# Real images whose patches replace each window of a detected fake in the occlusion map.
SALIENCY_DONORS = 2


@dataclass(frozen=True)
class DetectabilitySettings:
    """Settings of the test, checked once (see :func:`detectability`).

    Parameters
    ----------
    folds : int, default 5
        Cross-fitting folds (stratified: every fold holds the same share of each set).
    epochs : int, default 10
        Passes over each fold's training images …
    min_steps : int, default 100
        … but at least this many optimizer steps, so that small sets are learnt too (100
        images per set would otherwise get 10 steps).
    batch_size : int, default 64
    learning_rate : float, default 5e-3
        Adam step size.
    width : int, default 8
        Filters of the first convolution (then 2×, 4×).
    seed : int, default 0
        Seed of the folds, the initial weights and the batch order: same seed, same scores.
    alpha : float, default 0.05
        The CI is a two-sided 1 − alpha interval.
    max_per_set : int, optional
        Use at most this many images of each set (a seeded random subset); None: all.
    saliency_images : int, default 16
        Most detectable fakes averaged into the occlusion map (0: no map).
    variance_factor : float, default 2
        Multiplies the AUC's DeLong and null variances: pooled out-of-fold scores are not
        independent (see ``CROSS_FIT_VARIANCE_FACTOR``; ``bench/detectability.py --null``).
        1 gives plain DeLong and Mann–Whitney, too narrow for cross-fitted scores.
    """

    folds: int = 5
    epochs: int = 10
    min_steps: int = 100
    batch_size: int = 64
    learning_rate: float = 5e-3
    width: int = 8
    seed: int = 0
    alpha: float = 0.05
    max_per_set: int | None = None
    saliency_images: int = 16
    variance_factor: float = CROSS_FIT_VARIANCE_FACTOR

    def __post_init__(self) -> None:
        whole = {"folds": 2, "epochs": 1, "min_steps": 0, "batch_size": 1, "width": 1, "saliency_images": 0}
        for name, low in whole.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"detectability {name} must be a whole number ≥ {low}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InputError(f"detectability seed must be a whole number ≥ 0, got {self.seed!r}")
        if self.max_per_set is not None and (isinstance(self.max_per_set, bool)
                                             or not isinstance(self.max_per_set, (int, np.integer))
                                             or self.max_per_set < 2 * self.folds):
            raise InputError(f"detectability max_per_set must be None or a whole number ≥ "
                             f"{2 * self.folds} (two images per fold), got {self.max_per_set!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise InputError(f"detectability learning_rate must be in (0, 1), got {self.learning_rate!r}")
        if not (isinstance(self.variance_factor, (int, float)) and self.variance_factor >= 1):
            raise InputError(f"detectability variance_factor must be ≥ 1, got {self.variance_factor!r}")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha < 1):
            raise InputError(f"detectability alpha must be in (0, 1), got {self.alpha!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DetectabilityResult:
    """Outcome of the test.

    ``summary`` holds ``auc``, ``auc_ci_low``, ``auc_ci_high``, ``p_value``, ``n_real``,
    ``n_generated``, ``n_detected`` and ``settings``; ``table`` one row per image (columns
    ``SCORE_COLUMNS``: ``score`` is the out-of-fold logit, higher = looks more generated);
    ``saliency`` the (S, S) occlusion map averaged over the most detectable fakes (None for
    feature tables or when no fake was detected).
    """

    summary: dict[str, Any]
    table: pd.DataFrame
    saliency: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    real_index: np.ndarray | None = None
    generated_index: np.ndarray | None = None

    def score_row(self) -> dict[str, float]:
        """The ``scores.csv`` columns of this result (``SCORING_COLUMNS``)."""
        return {column: float(self.summary[key]) for column, key in SCORING_COLUMNS.items()}


# ----------------------------------------------------------------------------- statistics

def _midranks(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def auc_delong(scores, labels, *, alpha: float = 0.05, variance_factor: float = 1.0) -> dict[str, float]:
    """ROC AUC of ``scores`` for ``labels`` (1 = positive) with DeLong's variance.

    Parameters
    ----------
    scores : array (N,)
        Higher means more likely positive.
    labels : array (N,) of 0/1
        At least two of each.
    alpha : float
        The interval is AUC ± z_(1−alpha/2)·SE, clipped to [0, 1].
    variance_factor : float, default 1
        DeLong's variance is multiplied by this (pooled out-of-fold scores need more than 1:
        see ``CROSS_FIT_VARIANCE_FACTOR``).

    Returns
    -------
    dict
        ``auc``, ``se``, ``ci_low``, ``ci_high``. Ties count one half (the Mann–Whitney AUC).

    References
    ----------
    DeLong et al. (1988); midrank form of Sun & Xu (2014).
    """
    scores, labels = _check_scores(scores, labels)
    pos, neg = scores[labels == 1], scores[labels == 0]
    m, n = pos.size, neg.size
    combined = _midranks(np.concatenate([pos, neg]))
    tz_pos, tz_neg = combined[:m], combined[m:]
    auc = (tz_pos.sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz_pos - _midranks(pos)) / n  # per positive: share of negatives below it
    v01 = 1.0 - (tz_neg - _midranks(neg)) / m  # per negative: share of positives above it
    se = math.sqrt(max(variance_factor * (v10.var(ddof=1) / m + v01.var(ddof=1) / n), 0.0))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"auc": float(auc), "se": se, "ci_low": float(max(0.0, auc - z * se)),
            "ci_high": float(min(1.0, auc + z * se))}


def _check_scores(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise InputError(f"scores and labels differ in length ({scores.size} vs {labels.size})")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores contain NaN or infinite values")
    if not np.isin(labels, (0, 1)).all():
        raise InputError("labels must be 0 (negative, real) or 1 (positive, generated)")
    m, n = int((labels == 1).sum()), int((labels == 0).sum())
    if m < 2 or n < 2:
        raise InputError(f"the AUC's interval needs at least 2 positives and 2 negatives, got {m} and {n}")
    return scores, labels


def auc_test(scores, labels, *, alpha: float = 0.05, variance_factor: float = 1.0) -> dict[str, float]:
    """AUC, DeLong interval and the one-sided p-value of AUC > 0.5.

    The p-value is the Mann–Whitney U test's normal approximation (with the tie correction):
    under the null (both sets from one distribution) the AUC's variance is known exactly,
    (N + 1 − Σ(t³ − t)/(N(N − 1))) / (12 m n), unlike DeLong's estimate. Both variances are
    multiplied by ``variance_factor``.
    """
    result = auc_delong(scores, labels, alpha=alpha, variance_factor=variance_factor)
    scores, labels = _check_scores(scores, labels)
    m, n = int((labels == 1).sum()), int((labels == 0).sum())
    total = m + n
    _, counts = np.unique(scores, return_counts=True)
    ties = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    var0 = variance_factor * ((total + 1) - ties / (total * (total - 1))) / (12.0 * m * n)
    if var0 <= 0:  # every score equal: no evidence either way
        result["p_value"] = 0.5 if result["auc"] == 0.5 else float("nan")
    else:
        result["p_value"] = float(stats.norm.sf((result["auc"] - 0.5) / math.sqrt(var0)))
    return result


# ----------------------------------------------------------------------------- folds

def stratified_folds(labels, folds: int, seed: int) -> np.ndarray:
    """Fold number (0 … folds − 1) of every item: each class is shuffled (seeded) and dealt
    round-robin, so fold sizes per class differ by at most one."""
    labels = np.asarray(labels)
    out = np.empty(labels.size, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1,)))
    for value in np.unique(labels):
        where = np.flatnonzero(labels == value)
        if where.size < folds:
            raise InputError(f"{where.size} images in one set cannot fill {folds} folds; "
                             f"give at least {folds} images per set or use fewer folds")
        out[rng.permutation(where)] = np.arange(where.size) % folds
    return out


def _subset(n: int, limit: int | None, seed: int, key: int) -> np.ndarray:
    if limit is None or n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(2, key)))
    return np.sort(rng.choice(n, size=limit, replace=False))


def _summary(scores: np.ndarray, labels: np.ndarray, settings: dict, alpha: float,
             variance_factor: float) -> dict[str, Any]:
    test = auc_test(scores, labels, alpha=alpha, variance_factor=variance_factor)
    return {KEY_AUC: test["auc"], KEY_AUC_CI_LOW: test["ci_low"], KEY_AUC_CI_HIGH: test["ci_high"],
            KEY_P_VALUE: test["p_value"], "auc_se": test["se"],
            "variance_factor": variance_factor,
            "n_real": int((labels == 0).sum()), "n_generated": int((labels == 1).sum()),
            "settings": settings}


def _table(names_real, names_generated, labels, scores, fold) -> pd.DataFrame:
    return pd.DataFrame({
        "file": list(names_real) + list(names_generated),
        "set": np.where(labels == 1, "generated", "real"),
        "label": labels.astype(int), "score": scores, "fold": fold,
    }, columns=SCORE_COLUMNS)


# ----------------------------------------------------------------------------- feature tables

def _check_table(x, what: str) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{what}: expected a feature table (rows = images, columns = features), "
                         f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what}: features contain NaN or infinite values; drop or fill them")
    return array


def feature_detectability(real, generated, *, folds: int = 5, seed: int = 0, alpha: float = 0.05,
                          real_names=None, generated_names=None, c: float = 1.0) -> DetectabilityResult:
    """Classifier two-sample test on a feature table: can the features tell the sets apart?

    A logistic regression (L2, strength ``1/c``; features standardized with each training
    fold's statistics) is cross-fitted over stratified folds; the out-of-fold decision values
    give the AUC, its DeLong interval and the p-value of AUC > 0.5, as for images.

    Parameters
    ----------
    real, generated : array (N, D) and (M, D)
        One row per image (or case), the same columns in both.
    folds, seed, alpha
        As in :class:`DetectabilitySettings`.
    real_names, generated_names : list of str, optional
        Row names for the table.
    c : float
        Inverse regularization strength.

    Returns
    -------
    DetectabilityResult
        ``saliency`` is None; ``summary["settings"]`` names the classifier.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    real = _check_table(real, "real features")
    generated = _check_table(generated, "generated features")
    if real.shape[1] != generated.shape[1]:
        raise InputError(f"real and generated feature tables have {real.shape[1]} and "
                         f"{generated.shape[1]} columns; give both the same features")
    settings = DetectabilitySettings(folds=folds, seed=seed, alpha=alpha)
    x = np.concatenate([real, generated])
    labels = np.r_[np.zeros(len(real), np.int64), np.ones(len(generated), np.int64)]
    fold = stratified_folds(labels, folds, seed)
    scores = np.empty(len(x), dtype=np.float64)
    for k in range(folds):
        train, test = fold != k, fold == k
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced",
                                                                   max_iter=1000))
        model.fit(x[train], labels[train])
        scores[test] = model.decision_function(x[test])
    summary = _summary(scores, labels, {"classifier": "logistic-regression", "c": c, "folds": folds,
                                        "seed": seed, "alpha": alpha}, alpha, FEATURE_VARIANCE_FACTOR)
    table = _table(_check_names(real_names, len(real), "real_names", "real"),
                   _check_names(generated_names, len(generated), "generated_names", "generated"),
                   labels, scores, fold)
    return DetectabilityResult(summary=summary, table=table)


# ----------------------------------------------------------------------------- the CNN

def build_classifier(size: int, *, width: int = 8, seed: int = 0):
    """The small CNN: three strided convolutions (width, 2·width, 4·width filters, each with
    batch normalization and ReLU), then global average pooling, global max pooling and a
    position-aware map (a 1×1 convolution to 4 channels, flattened), and one logit (higher =
    generated). Plain Keras layers only, so any backend runs it.

    Why this shape: the first convolution (4×4, stride 2) keeps pixel-level patterns such as
    checkerboards (every stride-2 window sees them in the same phase); average pooling
    collects texture spread over the image (noise, blur), max pooling a single local cue, and
    the flattened map a cue tied to one place (an artefact that always sits in the same spot).
    Batch normalization makes the few hundred training steps enough: without it a 1 % checkerboard
    went undetected at the same budget.
    """
    import keras
    from keras import layers

    def init(k: int):
        return keras.initializers.HeNormal(seed=int(seed) * 16 + k)

    inputs = keras.Input((size, size, 1))
    x = inputs
    for k, (filters, kernel) in enumerate(((width, 4), (2 * width, 3), (4 * width, 3))):
        x = layers.Conv2D(filters, kernel, strides=2, padding="same", use_bias=False,
                          kernel_initializer=init(k))(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    where = layers.Flatten()(layers.Conv2D(4, 1, kernel_initializer=init(3))(x))
    pooled = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x), where])
    logit = layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=int(seed) * 16 + 8))(pooled)
    return keras.Model(inputs, logit, name="detectability_cnn")


class _Trainer:
    """One compiled CNN reused by every fold (and every call with the same shape and settings):
    each fold starts from the same initial weights and a fresh optimizer state, so reusing it
    only saves the tracing time."""

    def __init__(self, size: int, settings: DetectabilitySettings):
        import keras

        self.model = build_classifier(size, width=settings.width, seed=settings.seed)
        self.model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                           loss=keras.losses.BinaryCrossentropy(from_logits=True))
        self.model.optimizer.build(self.model.trainable_variables)
        self.initial = self.model.get_weights()
        self.initial_optimizer = [np.array(v.numpy()) for v in self.model.optimizer.variables]

    def reset(self) -> None:
        self.model.set_weights(self.initial)
        for variable, value in zip(self.model.optimizer.variables, self.initial_optimizer):
            variable.assign(value)

    def fit(self, x: np.ndarray, y: np.ndarray, settings: DetectabilitySettings, fold: int) -> None:
        """``epochs`` passes (at least ``min_steps`` steps) in a seeded order; class weights
        balance the two sets."""
        self.reset()
        n = len(x)
        weights = np.where(y == 1, n / (2.0 * max(1, y.sum())), n / (2.0 * max(1, n - y.sum())))
        weights = weights.astype(np.float32)
        batch = min(settings.batch_size, n)
        per_epoch = max(1, n // batch)  # whole batches only: one traced shape
        rng = np.random.default_rng(np.random.SeedSequence(int(settings.seed), spawn_key=(3, fold)))
        targets = y.astype(np.float32)[:, None]
        steps = max(settings.epochs * per_epoch, settings.min_steps)
        order = np.zeros(0, dtype=np.int64)
        for step in range(steps):
            if step % per_epoch == 0:
                order = rng.permutation(n)
            idx = order[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]
            self.model.train_on_batch(x[idx], targets[idx], sample_weight=weights[idx])

    def predict(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        out = [np.asarray(self.model.predict_on_batch(x[i:i + batch]), dtype=np.float64).reshape(-1)
               for i in range(0, len(x), batch)]
        return np.concatenate(out) if out else np.zeros(0)


_TRAINERS: dict[tuple, _Trainer] = {}


def _trainer(size: int, settings: DetectabilitySettings) -> _Trainer:
    import keras

    key = (keras.backend.backend(), size, settings.width, settings.seed, settings.learning_rate)
    if key not in _TRAINERS:
        _TRAINERS.clear()  # one model at a time: memory stays flat over many runs
        _TRAINERS[key] = _Trainer(size, settings)
    return _TRAINERS[key]


def occlusion_map(predict, images: np.ndarray, donors: np.ndarray, *, patch: int | None = None,
                  stride: int | None = None, batch: int = 512) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus 2014), averaged over ``images``.

    Every ``patch``×``patch`` window (moved by ``stride``) of each image is replaced by the same
    window of each donor (real images the model did not train on), and the mean drop of the
    logit is spread over the window's pixels. Positive values: with real content there, the
    image looks less generated, so that region gave it away. Real donors, rather than a grey or
    mean patch, keep the replacement in the real images' own texture and noise (a smooth patch
    would itself look generated to a classifier that spots blur).

    Parameters
    ----------
    predict : callable
        (K, S, S, 1) float32 → (K,) logits.
    images : array (N, S, S)
    donors : array (D, S, S)
    patch, stride : int, optional
        Default S/8 (at least 2) and half of it.

    Returns
    -------
    array (S, S), float32
    """
    size = images.shape[1]
    patch = patch or max(2, size // 8)
    stride = stride or max(1, patch // 2)
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    windows = [(r, c) for r in starts for c in starts]
    cover = np.zeros((size, size), dtype=np.float64)
    for r, c in windows:
        cover[r:r + patch, c:c + patch] += 1
    total = np.zeros((size, size), dtype=np.float64)
    base_logits = predict(images[..., None])
    for i in range(len(images)):
        drops = np.zeros(len(windows), dtype=np.float64)
        for donor in donors:
            occluded = np.repeat(images[i][None], len(windows), axis=0)
            for w, (r, c) in enumerate(windows):
                occluded[w, r:r + patch, c:c + patch] = donor[r:r + patch, c:c + patch]
            logits = np.concatenate([predict(occluded[j:j + batch, ..., None])
                                     for j in range(0, len(windows), batch)])
            drops += base_logits[i] - logits
        for w, (r, c) in enumerate(windows):
            total[r:r + patch, c:c + patch] += drops[w] / len(donors)
    return (total / cover / max(len(images), 1)).astype(np.float32)


def detectability(real, generated, *, settings: DetectabilitySettings | None = None,
                  real_names=None, generated_names=None, progress: bool = False) -> DetectabilityResult:
    """Classifier two-sample test on images: can a small CNN tell generated from real?

    Parameters
    ----------
    real : array (N, S, S)
        Real images the generator never saw (held-out), float in [-1, 1].
    generated : array (M, S, S)
        Generated images, same size and intensity scale (the same loader made both).
    settings : DetectabilitySettings, optional
        Folds, training length, seed, …; defaults as documented there.
    real_names, generated_names : list of str, optional
        File names for the table.
    progress : bool
        A progress bar over folds.

    Returns
    -------
    DetectabilityResult
        ``summary`` (AUC, DeLong CI, p-value of AUC > 0.5, counts, settings), ``table`` (one row
        per image, out-of-fold logit), ``saliency`` (occlusion map over the most detectable fakes
        that beat 95 % of their fold's real images; None when none did).

    Notes
    -----
    Lower AUC is better (0.5: indistinguishable). Each image is scored by the one fold model that
    did not see it (Lopez-Paz & Oquab 2017), so the AUC is an honest out-of-sample figure; the
    DeLong interval treats the pooled out-of-fold scores as one set of scores.
    """
    from ganaudit.evaluation.nn_search import check_images

    settings = settings or DetectabilitySettings()
    real = check_images(real, "real images")
    generated = check_images(generated, "generated images")
    if real.shape[1:] != generated.shape[1:]:
        raise InputError(f"image sizes differ: real {real.shape[1]}² vs generated {generated.shape[1]}²; "
                         "resize both sets to one size (command line: --size S)")
    real_names = _check_names(real_names, len(real), "real_names", "real")
    generated_names = _check_names(generated_names, len(generated), "generated_names", "generated")
    keep_real = _subset(len(real), settings.max_per_set, settings.seed, 0)
    keep_gen = _subset(len(generated), settings.max_per_set, settings.seed, 1)
    real, generated = real[keep_real], generated[keep_gen]
    real_names = [real_names[i] for i in keep_real]
    generated_names = [generated_names[i] for i in keep_gen]
    for what, images in (("real", real), ("generated", generated)):
        if len(images) < 2 * settings.folds:
            raise InputError(f"{len(images)} {what} images are too few for {settings.folds}-fold "
                             f"cross-fitting; give at least {2 * settings.folds} (two per fold)")

    x = np.concatenate([real, generated])[..., None]
    labels = np.r_[np.zeros(len(real), np.int64), np.ones(len(generated), np.int64)]
    fold = stratified_folds(labels, settings.folds, settings.seed)
    scores = np.empty(len(x), dtype=np.float64)
    trainer = _trainer(x.shape[1], settings)
    saliency_sum = np.zeros(real.shape[1:], dtype=np.float64)
    detected: list[tuple[int, float]] = []
    n_saliency = 0
    rng = np.random.default_rng(np.random.SeedSequence(int(settings.seed), spawn_key=(4,)))
    folds = range(settings.folds)
    if progress:
        from tqdm import tqdm

        folds = tqdm(folds, desc="detectability folds", unit="fold")
    for k in folds:
        train, test = fold != k, fold == k
        trainer.fit(x[train], labels[train], settings, k)
        scores[test] = trainer.predict(x[test])
        # Fakes of this fold that beat 95 % of its real images, by this fold's (honest) model.
        cut = np.quantile(scores[test & (labels == 0)], DETECTED_QUANTILE)
        hits = np.flatnonzero(test & (labels == 1) & (scores > cut))
        detected.extend((int(i), float(scores[i])) for i in hits)
        if settings.saliency_images and len(hits):
            # Per fold, its share of the most detectable fakes (the fold's own model explains them).
            top = hits[np.argsort(-scores[hits])][:max(1, settings.saliency_images // settings.folds)]
            donor_pool = np.flatnonzero(test & (labels == 0))
            donors = x[rng.choice(donor_pool, size=min(SALIENCY_DONORS, len(donor_pool)), replace=False), ..., 0]
            saliency_sum += occlusion_map(trainer.predict, x[top, ..., 0], donors) * len(top)
            n_saliency += len(top)

    summary = _summary(scores, labels, {"classifier": "cnn", **settings.to_dict()}, settings.alpha,
                       settings.variance_factor)
    summary["n_detected"] = len(detected)
    summary["n_saliency"] = n_saliency
    summary["detected_rule"] = (f"a generated image beats {100 * DETECTED_QUANTILE:.0f} % of the real "
                                "images of its fold")
    notes = []
    saliency = None
    if n_saliency:
        saliency = (saliency_sum / n_saliency).astype(np.float32)
    elif settings.saliency_images:
        notes.append("no generated image beat 95 % of the real images of its fold: nothing was "
                      "detected, so there is no saliency map")
        warnings.warn(notes[-1], stacklevel=2)
    summary["notes"] = notes
    table = _table(real_names, generated_names, labels, scores, fold)
    return DetectabilityResult(summary=summary, table=table, saliency=saliency, notes=notes,
                               real_index=keep_real, generated_index=keep_gen)


def checkpoint_detectability(heldout, generated, *, seed: int = 0,
                             epoch: int | None = None) -> DetectabilityResult | None:
    """The test as ``ganaudit score RUN`` runs it for one checkpoint: held-out real images vs
    the checkpoint's images, default settings, at most ``SCORING_MAX_PER_SET`` of each.

    Returns None, with a warning that says why, when either set is too small for the folds.
    """
    settings = DetectabilitySettings(seed=int(seed), max_per_set=SCORING_MAX_PER_SET)
    needed = 2 * settings.folds
    for what, images in (("held-out real", heldout), ("generated", generated)):
        if len(images) < needed:
            where = "" if epoch is None else f" of epoch {epoch}"
            warnings.warn(f"detectability{where} not computed: {len(images)} {what} images, "
                          f"{needed} needed for {settings.folds}-fold cross-fitting; the "
                          "detectability columns are NaN", stacklevel=2)
            return None
    return detectability(heldout, generated, settings=settings,
                         generated_names=None if epoch is None else
                         layout.sample_names(epoch, len(generated)))


# ----------------------------------------------------------------------------- output

def _gallery_png(result: DetectabilityResult, generated: np.ndarray, *, per_row: int = 8) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fakes = result.table[result.table["label"] == 1].reset_index(drop=True)
    order = np.argsort(-fakes["score"].to_numpy(), kind="stable")
    k = min(per_row, len(order))
    rows = [("most detectable", order[:k]), ("least detectable", order[::-1][:k])]
    fig, axes = plt.subplots(2, per_row, figsize=(per_row * 1.3, 2 * 1.8), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (label, picks) in enumerate(rows):
        for c, i in enumerate(picks):
            ax = axes[r, c]
            ax.imshow(generated[i], cmap="gray", vmin=-1, vmax=1)
            name = str(fakes["file"][i])
            ax.set_title(f"{fakes['score'][i]:+.2f}\n{name if len(name) <= 16 else '…' + name[-15:]}", fontsize=6)
        axes[r, 0].text(-0.15, 0.5, label, transform=axes[r, 0].transAxes, rotation=90,
                        va="center", ha="right", fontsize=7)
    s = result.summary
    fig.suptitle(f"Generated images by out-of-fold score (logit; higher = looks generated); AUC "
                 f"{s[KEY_AUC]:.3f} [{s[KEY_AUC_CI_LOW]:.3f}, {s[KEY_AUC_CI_HIGH]:.3f}]", fontsize=8)
    return figure_png(fig)


def _saliency_png(result: DetectabilityResult, real: np.ndarray, generated: np.ndarray) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(real.mean(axis=0), cmap="gray", vmin=-1, vmax=1)
    axes[0].set_title("mean real image", fontsize=8)
    if result.saliency is None:
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "no generated image\nwas detected:\nno map", ha="center", va="center",
                    fontsize=8, transform=ax.transAxes)
    else:
        sal = result.saliency
        limit = float(np.abs(sal).max()) or 1.0
        shown = axes[1].imshow(sal, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[1].set_title("occlusion map (logit drop)", fontsize=8)
        fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
        fakes = result.table[result.table["label"] == 1]["score"].to_numpy()
        top = np.argsort(-fakes)[:max(1, result.summary.get("n_saliency", 1))]
        axes[2].imshow(generated[top].mean(axis=0), cmap="gray", vmin=-1, vmax=1)
        axes[2].imshow(np.clip(sal, 0, None), cmap="hot", alpha=0.5, vmin=0, vmax=limit)
        axes[2].set_title("over the detected fakes' mean", fontsize=8)
    fig.suptitle(f"Where the classifier looks ({result.summary.get('n_saliency', 0)} detected fakes)",
                 fontsize=8)
    return figure_png(fig)



def write_detectability(result: DetectabilityResult, out_dir, real, generated) -> Path:
    """Write ``summary.json``, ``scores.csv``, ``gallery.png``, ``saliency.png`` and
    ``saliency.npy`` (when there is a map) into ``out_dir``, each atomically.

    ``real`` and ``generated`` are the images given to :func:`detectability` (the result
    remembers which of them it used when ``max_per_set`` dropped some).
    """
    from ganaudit.evaluation.nn_search import check_images
    from ganaudit.gan_models.atomic import atomic_path, write_bytes, write_csv, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    real = check_images(real, "real images")
    generated = check_images(generated, "generated images")
    if result.real_index is not None:
        real = real[result.real_index]
    if result.generated_index is not None:
        generated = generated[result.generated_index]
    write_json(out / SUMMARY_FILE, result.summary)
    write_csv(out / SCORES_FILE, result.table)
    write_bytes(out / GALLERY_FILE, _gallery_png(result, generated))
    write_bytes(out / SALIENCY_FILE, _saliency_png(result, real, generated))
    if result.saliency is not None:
        with atomic_path(out / SALIENCY_ARRAY_FILE) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, result.saliency)
    return out
