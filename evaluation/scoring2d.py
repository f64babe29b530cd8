"""Score 2D GAN checkpoints and folders of generated images.

For every checkpoint of a 2D run: generate ``n`` images from the same fixed latents, extract
features (default ``radiomics``), z-score them with the training set's statistics, and compute

- ``fd`` (Fréchet distance, with a bootstrap CI) and ``fd_inf`` (FD∞, with a CI): lower is
  better; 0 means the feature distributions match (also for an exact copy of the training set);
  ``fd_rel`` / ``fd_inf_rel``: the same divided by the real-vs-real baseline (``RUN/baselines.json``,
  the metric between the training set and held-out real images; filled by :func:`score_run_2d`);
- ``kid_mean`` ± ``kid_std`` (kernel inception distance on the same features): lower is better;
- ``precision`` / ``recall`` (k = 3) and ``density`` / ``coverage`` (k = 5): higher is better
  (density can exceed 1);
- the memorization audit (``memorization_rate`` and its CI, lower is better; ``ct_score``: ≪ 0
  means copying, ≈ 0 is right; ``authenticity``, higher is better; ``mifid``, lower is better);
- the findings audit for phantom data, the detector reading both training and generated images
  (``findings_impossible``: generated images showing a combination negligible among real ones,
  lower is better; ``findings_min_p``: smallest Holm-corrected p, higher is better;
  ``findings_significant``: some finding's prevalence differs significantly AND by more than
  the clinically negligible margin — the audit failed);
- the training history of that epoch (losses, discriminator accuracies, ``healthy``).

Features of the real sets are computed once per run and shared by every checkpoint (and every
worker when ``workers > 1``). Results do not depend on the number of workers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganaudit.evaluation.frechet import FD_CI_RESAMPLES
from ganaudit.gan_models.atomic import atomic_path, write_csv, write_json
from ganaudit.gan_models.checkpoints import every_kth
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.imported import stored_count as imported_stored_count
from ganaudit.gan_models.phantom import FINDINGS as PHANTOM_FINDINGS
from ganaudit.gan_models.runs import load_run, load_run_data, read_history
from ganaudit.gan_models.sampling import generate, run_checkpoints
from ganaudit.schema import layout
from ganaudit.schema import metrics as M

SCORE_COLUMNS_2D = M.SCORE_COLUMNS_2D
FOLDER_COLUMNS = M.FOLDER_COLUMNS
HISTORY_COLUMNS = M.HISTORY_IN_SCORES
KID_SUBSET_SIZE = 1000
# FD∞ fits 15 subset sizes from N/10 to N and the k-NN metrics need k + 1 samples: below this
# the numbers are not worth reporting.
MIN_IMAGES = 20
PRECISION_K = 3
DENSITY_K = 5


# ----------------------------------------------------------------------------- validation

def _check_count(n: int, what: str, needed: int, fix: str) -> None:
    if n < needed:
        raise InputError(f"{what} has {n} images but at least {needed} are needed; {fix}")


def _kid_subset(subset_size: int | None, n_real: int, n_fake: int) -> int:
    """Subset size for KID: at most 1000 and never more than either set holds."""
    if subset_size is None:
        return min(KID_SUBSET_SIZE, n_real, n_fake)
    if isinstance(subset_size, bool) or not isinstance(subset_size, int) or subset_size < 2:
        raise InputError(f"KID subset size must be a whole number ≥ 2, got {subset_size!r}")
    smaller = min(n_real, n_fake)
    if subset_size > smaller:
        which = "generated" if n_fake <= n_real else "real"
        raise InputError(
            f"KID subset size {subset_size} needs at least {subset_size} images in each set, but "
            f"the {which} set has {smaller}; add {subset_size - smaller} images or use a subset "
            f"size of at most {smaller}"
        )
    return subset_size


@dataclass(frozen=True)
class ScoringSettings:
    """How checkpoints are scored (the options of :func:`score_checkpoint`), checked once where
    a public function is called and then handed on whole, to workers too."""

    features: str = "radiomics"
    weights: str | None = None
    seed: int = 0
    kid_subset_size: int | None = None
    n_boot: int | None = None
    memorization_threshold: float | None = None
    threads: int | None = 1
    detectability: bool = True

    def checked(self, n_real: int, n_generated: int) -> "ScoringSettings":
        """These settings for ``n_generated`` images against ``n_real``: too few generated
        images are refused, and the KID subset size is resolved (the default, or the given
        one when both sets hold it) — once per run, not per checkpoint."""
        _check_count(n_generated, "the generated set", MIN_IMAGES, f"use --n {MIN_IMAGES} or more")
        return replace(self, kid_subset_size=_kid_subset(self.kid_subset_size, n_real, n_generated))

    def for_workers(self) -> "ScoringSettings":
        """Absolute paths: workers of an existing cluster need not share our working folder."""
        features = (f"keras:{Path(self.features.removeprefix('keras:')).resolve()}"
                    if self.features.startswith("keras:") else self.features)
        weights = str(Path(self.weights).resolve()) if self.weights else None
        return replace(self, features=features, weights=weights)


# ----------------------------------------------------------------------------- features

def _blas_threads(threads: int | None):
    """Limit BLAS/OpenMP threads (None: leave the library default).

    Sums split across a different number of threads differ in their last digits, and on a
    busy machine several BLAS threads per process mostly wait for each other (eigh of a
    256 × 256 matrix took 30× longer with 2 threads than with 1 on the shared 2-core box).
    """
    from threadpoolctl import threadpool_limits

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a whole number ≥ 1 or None, got {threads!r}")
    return threadpool_limits(limits=threads)


_EXTRACTORS: dict[tuple[str, str | None], Any] = {}


def _extractor(name: str, weights: str | None):
    """The feature extractor for ``name`` (built once per process: workers reuse it)."""
    from ganaudit.evaluation.features import get_extractor

    key = (name, None if weights is None else str(weights))
    if key not in _EXTRACTORS:
        options = {} if weights is None else {"weights": str(weights)}
        _EXTRACTORS[key] = get_extractor(name, **options)
    return _EXTRACTORS[key]


def _features(images: np.ndarray, extractor, *, cache: bool, what: str, progress: bool = False) -> np.ndarray:
    """Features of one image set; errors (NaN features, bad images) say which set."""
    from ganaudit.evaluation.features import extract

    try:
        return np.asarray(extract(images, extractor, cache=cache, progress=progress), dtype=np.float64)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from exc


_SAID: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


def _zscore(reference: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    from ganaudit.evaluation.features import zscore_with_reference

    return zscore_with_reference(reference, *others)


# ----------------------------------------------------------------------------- metrics

def distribution_metrics(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    seed: int = 0,
    kid_subset_size: int | None = None,
    n_boot: int | None = None,
) -> dict[str, float]:
    """FD (bootstrap CI), FD∞ (CI), KID, precision/recall and density/coverage of two sets.

    Parameters
    ----------
    real, fake : ndarray, shape (N, D) and (M, D)
        Features (rows are samples), already standardized with the real set's statistics.
    seed : int
        Seed of every random subset (bootstrap, FD∞ subsets, KID subsets).
    kid_subset_size : int, optional
        Default ``min(1000, N, M)``.
    n_boot : int, optional
        Draws of the FD confidence interval (default 50; see
        :func:`ganaudit.evaluation.frechet.fd_bootstrap_ci`).

    Returns
    -------
    dict
        ``fd, fd_ci_low, fd_ci_high, fd_inf, fd_inf_ci_low, fd_inf_ci_high, kid_mean, kid_std,
        precision, recall, density, coverage``. Lower is better for the distances, higher for
        the other four.
    """
    from ganaudit.evaluation.frechet import fd_bootstrap_ci, fd_infinity, frechet_distance_from_features
    from ganaudit.evaluation.kid import kid
    from ganaudit.evaluation.prdc import density_coverage, precision_recall

    subset = _kid_subset(kid_subset_size, len(real), len(fake))
    fd = float(frechet_distance_from_features(real, fake))
    fd_low, fd_high = fd_bootstrap_ci(real, fake, n_boot=n_boot, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inf = fd_infinity(real, fake, seed=seed)
    for warning in caught:  # once per run, not once per checkpoint
        _warn_once(str(warning.message))
    kid_mean, kid_std = kid(real, fake, subset_size=subset, seed=seed)
    pr = precision_recall(real, fake, k=PRECISION_K)
    dc = density_coverage(real, fake, k=DENSITY_K)
    return {
        M.FD: fd, M.FD_CI_LOW: float(fd_low), M.FD_CI_HIGH: float(fd_high),
        M.FD_INF: float(inf[M.FD_INF]), M.FD_INF_CI_LOW: float(inf["ci_low"]),
        M.FD_INF_CI_HIGH: float(inf["ci_high"]),
        M.KID_MEAN: float(kid_mean), M.KID_STD: float(kid_std),
        M.PRECISION: float(pr[M.PRECISION]), M.RECALL: float(pr[M.RECALL]),
        M.DENSITY: float(dc[M.DENSITY]), M.COVERAGE: float(dc[M.COVERAGE]),
    }


# ----------------------------------------------------------------------------- runs

def _run_data(run_dir) -> tuple[np.ndarray, np.ndarray]:
    train, heldout = load_run_data(run_dir)
    return np.asarray(train, dtype=np.float32), np.asarray(heldout, dtype=np.float32)


def _names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(n)]


@dataclass
class Reference:
    """What every checkpoint of a run shares: raw and z-scored real features, labels.

    Built once per run by :func:`prepare_reference`; pass it to :func:`score_checkpoint` so
    the real features are not recomputed for each checkpoint.
    """

    features: str
    settings: dict
    train_raw: np.ndarray
    train_features: np.ndarray
    heldout_features: np.ndarray
    train_names: list[str]
    train_labels: pd.DataFrame | None = None
    detector: str | None = None
    train_detected: pd.DataFrame | None = None  # the detector's reading of the training images
    notes: list[str] = field(default_factory=list)
    #: raw features of the held-out images blurred by ANCHOR_SIGMA (the quality limit's anchor)
    anchor_raw: np.ndarray | None = None


def prepare_reference(run_dir, *, features: str = "radiomics", weights: str | None = None,
                      progress: bool = False) -> Reference:
    """Extract and standardize the features of a 2D run's training and held-out images.

    Parameters
    ----------
    run_dir : path
        A 2D run folder (``run.json``, ``data/train.npy``, ``data/heldout.npy``).
    features : str
        Feature extractor name or spec (see ``ganaudit.evaluation.features.get_extractor``).
    weights : path, optional
        Weights file for extractors that need one (``inception``).
    progress : bool, default False
        Progress bar while extracting (cached features load at once).
    """
    run = load_run(run_dir)
    train, heldout = _run_data(run_dir)
    extractor = _extractor(features, weights)
    train_raw = _features(train, extractor, cache=True, what=f"training images of {run_dir}", progress=progress)
    heldout_raw = _features(heldout, extractor, cache=True, what=f"held-out images of {run_dir}",
                            progress=progress)
    train_z, heldout_z = _zscore(train_raw, heldout_raw)
    from scipy.ndimage import gaussian_filter

    blurred = np.stack([gaussian_filter(image, ANCHOR_SIGMA, mode="reflect") for image in heldout])
    anchor_raw = _features(blurred.astype(np.float32), extractor, cache=True,
                           what=f"blurred held-out images of {run_dir}", progress=progress)

    notes: list[str] = []
    labels, detector, names = None, None, _names("train", len(train))
    source = (run.get("data") or {}).get("source")
    labels_path = layout.train_labels_csv(run_dir)
    names_path = layout.train_names_csv(run_dir)
    for path in (labels_path, names_path):
        if path.is_file():
            listed = pd.read_csv(path)
            if "file" in listed.columns and len(listed) == len(train):
                names = [str(name) for name in listed["file"]]
    # The phantom population: made by the run itself (--data phantom) or read from a folder
    # written by `ganaudit data phantom`, whose labels.csv travels into data/train_labels.csv.
    stored_labels = pd.read_csv(labels_path) if labels_path.is_file() else None
    if stored_labels is not None and (source == "phantom"
                                      or set(PHANTOM_FINDINGS) <= set(stored_labels.columns)):
        from ganaudit.evaluation.findings import DEFAULT_MIN_REAL

        labels = stored_labels
        detector = "builtin:phantom"
        if len(labels) < DEFAULT_MIN_REAL:
            notes.append(
                f"impossible finding combinations not judged: the run has {len(labels)} training "
                f"images and at least {DEFAULT_MIN_REAL} are needed to call a combination negligible "
                "among them; findings_impossible is NaN (prevalences are still compared)"
            )
    else:
        notes.append(
            "findings audit skipped: the run's data is not the phantom population (no "
            "data/train_labels.csv with its finding columns), so there is no finding detector; "
            "findings columns are NaN"
        )
    return Reference(
        features=features,
        settings=dict(getattr(extractor, "settings", {}) or {}),
        train_raw=train_raw,
        train_features=train_z,
        heldout_features=heldout_z,
        train_names=names,
        train_labels=labels,
        detector=detector,
        # One instrument: the detector reads the training images once per run, and every
        # checkpoint's images are compared with that reading (the labels only measure the
        # detector's accuracy).
        train_detected=_detector(detector)(train) if detector is not None else None,
        notes=notes,
        anchor_raw=anchor_raw,
    )


#: A change to real images that readers do not consider clinically relevant, scored like a
#: generator: what the absolute-quality gate compares with by default (docs/stopping-rule.md).
ANCHOR_NAME = "blur-0.5px"
ANCHOR_SIGMA = 0.5
ANCHOR_DESCRIPTION = ("held-out real images blurred by a Gaussian of σ = 0.5 pixel: the largest "
                      "change that stays clinically negligible")

#: metrics with a real-vs-real baseline (baselines.json), and their interval columns
BASELINE_METRICS = {M.FD: (M.FD_CI_LOW, M.FD_CI_HIGH), M.FD_INF: (M.FD_INF_CI_LOW, M.FD_INF_CI_HIGH),
                    M.KID_MEAN: None, M.PRECISION: None, M.RECALL: None, M.DENSITY: None,
                    M.COVERAGE: None, M.AUTHENTICITY: None}


def real_baselines(reference: Reference, *, n: int, seed: int = 0,
                   kid_subset_size: int | None = None, n_boot: int | None = None) -> dict[str, Any]:
    """What a perfect generator would score: every distribution metric between two disjoint
    sets of real images, at the sizes used for real-vs-generated.

    The real side is the training set (as for every checkpoint); the "generated" side is
    ``n`` held-out real images (all of them when there are fewer), drawn with ``seed``. Same
    features, same z-scoring, same seeds and settings as :func:`distribution_metrics`.
    Authenticity is computed the way the memorization audit does on features.

    Returns
    -------
    dict
        ``{"metrics": {name: {"value", "ci_low", "ci_high"}}, "n_real", "n_other", "source",
        "notes"}``; written to ``RUN/baselines.json`` by :func:`score_run_2d`.
    """
    from ganaudit.evaluation.memorization import _euclidean_nn, authenticity_share

    train = reference.train_features
    heldout = reference.heldout_features
    rng = np.random.default_rng(seed)
    m = min(int(n), len(heldout))
    chosen = np.sort(rng.choice(len(heldout), size=m, replace=False))
    other = heldout[chosen]
    notes = []
    if m < n:
        notes.append(f"only {m} held-out real images for a baseline of {n} generated images: "
                     "the baseline uses all of them (FD and KID of smaller sets are larger)")
    metrics = distribution_metrics(train, other, seed=seed,
                                   kid_subset_size=_kid_subset(kid_subset_size, len(train), m),
                                   n_boot=n_boot)
    near, dist = _euclidean_nn(other, train)
    uniq = np.unique(near)
    _, t_dist = _euclidean_nn(train[uniq], train, exclude=uniq)
    train_to_train = np.full(len(train), np.inf)
    train_to_train[uniq] = t_dist
    metrics[M.AUTHENTICITY] = float(np.mean(authenticity_share(dist, near, train_to_train)))
    table = {}
    for name, cols in BASELINE_METRICS.items():
        entry = {"value": _plain(metrics[name]), "ci_low": None, "ci_high": None}
        if cols is not None:
            entry["ci_low"], entry["ci_high"] = _plain(metrics[cols[0]]), _plain(metrics[cols[1]])
        if name == M.KID_MEAN:
            entry["ci_low"] = _plain(metrics[M.KID_MEAN] - metrics[M.KID_STD])
            entry["ci_high"] = _plain(metrics[M.KID_MEAN] + metrics[M.KID_STD])
        table[name] = entry
    anchors = {}
    if reference.anchor_raw is not None:
        blurred = _zscore(reference.train_raw, reference.anchor_raw)[1][chosen]
        anchor = distribution_metrics(train, blurred, seed=seed,
                                      kid_subset_size=_kid_subset(kid_subset_size, len(train),
                                                                  len(blurred)),
                                      n_boot=n_boot)
        anchors[ANCHOR_NAME] = {
            "description": ANCHOR_DESCRIPTION, "n": int(len(blurred)),
            "metrics": {name: _plain(anchor[name]) for name in BASELINE_METRICS
                        if name in anchor}}
    if m // 10 < train.shape[1]:
        notes.append(f"FD∞ fits subsets of {m // 10}–{m} images, and the smallest are smaller than "
                     f"the feature dimension ({train.shape[1]}): there the 1/N fit breaks down, so "
                     "FD∞ may be biased (even negative); score with --n "
                     f"{10 * train.shape[1]} or more to avoid it")
    if table[M.FD_INF]["value"] is not None and table[M.FD_INF]["value"] <= 0:
        notes.append("the real-vs-real FD∞ is not positive (FD∞'s 1/N fit breaks down when the "
                     "subsets are smaller than the feature dimension): ratios to it are "
                     "undefined, so rank by FD (--metric fd) or generate more images")
    return {"metrics": table, "anchors": anchors, "n_real": int(len(train)), "n_other": int(m),
            "source": "training images vs held-out real images", "features": reference.features,
            "seed": int(seed), "notes": notes}


def _history_row(run_dir, epoch: int) -> dict[str, Any]:
    """The history.csv columns of ``epoch`` (NaN when the epoch has no row)."""
    row: dict[str, Any] = {name: math.nan for name in HISTORY_COLUMNS}
    history = read_history(run_dir)
    match = history[history["epoch"] == epoch]
    if len(match):
        for name in HISTORY_COLUMNS:
            if name in match.columns:
                row[name] = _plain(match.iloc[-1][name])
    return row


_DETECTORS: dict[str, Any] = {}


def _detector(spec: str):
    from ganaudit.evaluation.detectors import get_detector

    if spec not in _DETECTORS:
        _DETECTORS[spec] = get_detector(spec)
    return _DETECTORS[spec]


def score_checkpoint(
    run_dir,
    epoch: int,
    *,
    n: int = 2000,
    extractor: str = "radiomics",
    weights: str | None = None,
    seed: int = 0,
    reference: Reference | None = None,
    kid_subset_size: int | None = None,
    n_boot: int | None = None,
    memorization_threshold: float | None = None,
    write_audits: bool = True,
    threads: int | None = 1,
    detectability: bool = True,
) -> dict[str, Any]:
    """Score one checkpoint of a 2D run: metrics, both audits, the history of that epoch.

    Parameters
    ----------
    run_dir : path
        The run folder.
    epoch : int
        Checkpoint epoch (``checkpoints/generator-epoch-NNNN.keras``).
    n : int, default 2000
        Images to generate. Every checkpoint uses the same latents (drawn with ``seed``).
    extractor : str, default "radiomics"
        Feature extractor name or spec.
    weights : path, optional
        Weights file of the extractor (``inception``).
    seed : int, default 0
        Seed of the latents and of every random subset of the metrics.
    reference : Reference, optional
        From :func:`prepare_reference`; built here when not given.
    kid_subset_size : int, optional
        Default ``min(1000, n, number of training images)``.
    n_boot : int, optional
        Draws of the FD confidence interval (default 50; see
        :func:`ganaudit.evaluation.frechet.fd_bootstrap_ci`).
    memorization_threshold : float, optional
        NCC above which a generated image counts as a copy; default: calibrated on the
        held-out images by the memorization audit.
    write_audits : bool, default True
        Write ``RUN/audit/epoch-NNNN/{memorization,findings}/`` (atomically, as one folder).
    threads : int or None, default 1
        BLAS threads for the metrics. Different thread counts change the last digits of
        sums, so this is fixed (not "all cores") to make results independent of where they
        run; use ``workers`` in :func:`score_run_2d` to use more cores. None: BLAS default.
    detectability : bool, default True
        Run the classifier two-sample test (:mod:`ganaudit.evaluation.detectability`) of the held-out
        real images against the generated ones: ``detectability_auc`` and its CI (0.5 is
        best), ``RUN/audit/epoch-NNNN/detectability/``. False leaves the columns NaN.

    Returns
    -------
    dict
        One ``scores.csv`` row (keys ``SCORE_COLUMNS_2D``).
    """
    _check_count(n, "the generated set", MIN_IMAGES, f"use --n {MIN_IMAGES} or more")
    generated = generate(run_dir, epoch, n, seed=seed)
    return score_generated(
        run_dir, epoch, generated, extractor=extractor, weights=weights, seed=seed,
        reference=reference, kid_subset_size=kid_subset_size, n_boot=n_boot,
        memorization_threshold=memorization_threshold, write_audits=write_audits, threads=threads,
        detectability=detectability,
    )


def score_generated(
    run_dir,
    epoch: int,
    generated: np.ndarray,
    *,
    extractor: str = "radiomics",
    weights: str | None = None,
    seed: int = 0,
    reference: Reference | None = None,
    kid_subset_size: int | None = None,
    n_boot: int | None = None,
    memorization_threshold: float | None = None,
    write_audits: bool = True,
    threads: int | None = 1,
    detectability: bool = True,
) -> dict[str, Any]:
    """Score images already generated by the checkpoint at ``epoch`` (see :func:`score_checkpoint`).

    Keras is needed here only for the detectability test (``detectability=False``: Dask
    workers that only run this start fast).
    """
    settings = ScoringSettings(features=extractor, weights=weights, seed=seed,
                               kid_subset_size=kid_subset_size, n_boot=n_boot,
                               memorization_threshold=memorization_threshold, threads=threads,
                               detectability=detectability)
    return _score_with(Path(run_dir), int(epoch), np.asarray(generated, dtype=np.float32), settings,
                       reference=reference, write_audits=write_audits)


def _score_with(run_dir: Path, epoch: int, generated: np.ndarray, settings: ScoringSettings, *,
                reference: Reference | None, write_audits: bool) -> dict[str, Any]:
    with _blas_threads(settings.threads):
        return _score_generated(run_dir, epoch, generated, settings, reference=reference,
                                write_audits=write_audits)


def _score_generated(run_dir: Path, epoch: int, generated: np.ndarray, settings: ScoringSettings, *,
                     reference: Reference | None, write_audits: bool) -> dict[str, Any]:
    from ganaudit.evaluation.memorization import memorization_audit, write_memorization
    from ganaudit.evaluation.parallel import stage

    if reference is None:
        reference = prepare_reference(run_dir, features=settings.features, weights=settings.weights)
    train, heldout = _run_data(run_dir)
    n = len(generated)
    settings = settings.checked(len(train), n)
    seed = settings.seed

    row: dict[str, Any] = {name: math.nan for name in SCORE_COLUMNS_2D}
    row.update(epoch=epoch, n_generated=n)
    row.update(_history_row(run_dir, epoch))
    if generated.shape[1:] != train.shape[1:]:
        raise InputError(
            f"checkpoint of epoch {epoch} makes {generated.shape[1]}×{generated.shape[2]} images "
            f"but the run's data is {train.shape[1]}×{train.shape[2]}; the checkpoint belongs to "
            "another run"
        )
    # The machine reader (a small CNN trained per checkpoint, in Keras) needs nothing the other
    # stages compute: it runs in a thread meanwhile, so that on two cores it takes the second
    # one (Keras and NumPy release the interpreter lock while they compute).
    machine_reader = None
    if settings.detectability:
        from ganaudit.evaluation.detectability import checkpoint_detectability

        machine_reader = _in_thread(lambda: checkpoint_detectability(heldout, generated, seed=seed, epoch=epoch))
    # Generated images are new every time: caching their features would only fill the disk.
    stage(f"epoch {epoch}: generated features")
    raw = _features(generated, _extractor(settings.features, settings.weights), cache=False,
                    what=f"images generated by the checkpoint of epoch {epoch}")
    fake = _zscore(reference.train_raw, raw)[1]
    stage(f"epoch {epoch}: FD, FD∞, KID, precision/recall")
    row.update(distribution_metrics(reference.train_features, fake, seed=seed,
                                    kid_subset_size=settings.kid_subset_size, n_boot=settings.n_boot))

    stage(f"epoch {epoch}: memorization audit")
    memo = memorization_audit(
        train, heldout, generated,
        train_names=reference.train_names, generated_names=layout.sample_names(epoch, n),
        threshold=settings.memorization_threshold,
        train_features=reference.train_features, generated_features=fake,
        heldout_features=reference.heldout_features, real_fd=row[M.FD],
    )
    summary = memo.summary
    row.update({
        M.MEMORIZATION_RATE: summary["rate"], M.MEMORIZATION_RATE_CI_LOW: summary["rate_ci_low"],
        M.MEMORIZATION_RATE_CI_HIGH: summary["rate_ci_high"], M.MEMORIZATION_THRESHOLD: summary["threshold"],
        M.CT_SCORE: summary[M.CT_SCORE], M.AUTHENTICITY: summary[M.AUTHENTICITY], M.MIFID: summary[M.MIFID],
    })

    found = None
    if reference.detector is not None:
        from ganaudit.evaluation.findings import findings_audit

        from ganaudit.evaluation.findings import KEY_FAILED, KEY_IMPOSSIBLE, KEY_MIN_P

        stage(f"epoch {epoch}: findings audit")
        found = findings_audit(train, generated, _detector(reference.detector),
                               real_detected=reference.train_detected,
                               real_labels=reference.train_labels,
                               labels_source="data/train_labels.csv")
        row.update({
            M.FINDINGS_IMPOSSIBLE: found.summary[KEY_IMPOSSIBLE],
            M.FINDINGS_MIN_P: found.summary[KEY_MIN_P],
            # True when a test failed: significant after correction AND beyond the margin.
            M.FINDINGS_SIGNIFICANT: bool(found.summary[KEY_FAILED]),
        })

    machine = None
    if machine_reader is not None:
        stage(f"epoch {epoch}: machine reader")
        machine = machine_reader.result()
        if machine is not None:
            row.update(machine.score_row())

    if write_audits:
        stage(f"epoch {epoch}: writing the audits")
        with atomic_path(layout.checkpoint_audit_dir(run_dir, epoch)) as tmp:
            tmp.mkdir()
            write_memorization(memo, tmp / "memorization", train, generated)
            if machine is not None:
                from ganaudit.evaluation.detectability import write_detectability

                write_detectability(machine, tmp / "detectability", heldout, generated)
            if found is not None:
                from ganaudit.evaluation.findings import write_findings

                write_findings(found, tmp / "findings", generated)
    return {name: _plain(row[name]) for name in SCORE_COLUMNS_2D}


def _plain(value):
    """NumPy scalars → Python scalars and None → NaN, so rows compare and serialize alike."""
    if value is None or value is pd.NA:
        return math.nan
    return value.item() if isinstance(value, np.generic) else value


def _score_task(task: tuple[int, np.ndarray], *, run_dir: str, settings: ScoringSettings,
                reference: Reference, warm: dict[str, Any] | None) -> dict[str, Any]:
    epoch, generated = task
    if warm is not None:
        _install_warm_state(warm)
    return _score_with(Path(run_dir), int(epoch), np.asarray(generated, dtype=np.float32), settings,
                       reference=reference, write_audits=True)


def _warm_state(run_dir, reference: Reference) -> dict[str, Any]:
    """What each worker would otherwise redo before its first checkpoint, done once here: the
    training set prepared for the NCC search and the held-out search (the memorization
    audit's), and the findings detector's calibration. Sent to every worker once."""
    from ganaudit.evaluation import detectors, nn_search
    from ganaudit.evaluation.memorization import prepare_searches

    train, heldout = _run_data(run_dir)
    prepare_searches(train, heldout)
    return {"nn_search": nn_search.cache_state(),
            "detectors": detectors.calibration_state() if reference.detector is not None else {}}


def _worker_modules(detectability: bool) -> tuple[str, ...]:
    """What a scoring worker imports before its first checkpoint (see ``parallel.Workers``)."""
    modules = ("ganaudit.evaluation.scoring2d", "ganaudit.evaluation.memorization",
               "ganaudit.evaluation.findings", "ganaudit.evaluation.features", "ganaudit.evaluation.kid",
               "ganaudit.evaluation.prdc", "sklearn.linear_model", "sklearn.pipeline")
    return modules + (("ganaudit.evaluation.detectability", "keras") if detectability else ())


def _in_thread(func):
    """Run ``func`` in a thread now; ``.result()`` waits for it (and raises what it raised)."""
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(func)
    pool.shutdown(wait=False)
    return future


def _install_warm_state(warm: dict[str, Any]) -> None:
    from ganaudit.evaluation import detectors, nn_search

    nn_search.restore_cache(warm["nn_search"])
    detectors.restore_calibration(warm["detectors"])


def score_run_2d(
    run_dir,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    n: int = 2000,
    features: str = "radiomics",
    weights: str | None = None,
    seed: int = 0,
    kid_subset_size: int | None = None,
    n_boot: int | None = None,
    memorization_threshold: float | None = None,
    threads: int | None = 1,
    every: int = 1,
    progress: bool = True,
    detectability: bool = True,
) -> pd.DataFrame:
    """Score every checkpoint of a 2D run and write ``RUN/scores.csv`` (atomically).

    ``every`` > 1 scores only the epochs that are multiples of it, and the last one.

    The real features are computed once. Images are generated here, one checkpoint at a
    time (Keras stays in this process, and every checkpoint sees the same latents), and
    scored serially (``workers=1``), on a local Dask cluster (``workers=N``) or on an
    existing one (``scheduler=ADDRESS``); the table is the same in every case. Also writes
    ``RUN/audit/epoch-NNNN/`` per checkpoint and ``RUN/audit/scoring.json`` (settings, notes).

    Parameters are those of :func:`score_checkpoint` (``detectability=False`` skips the
    classifier two-sample test), plus ``workers``, ``scheduler`` (see
    :func:`ganaudit.evaluation.parallel.map_ordered`) and ``progress`` (a progress bar).

    Returns
    -------
    pandas.DataFrame
        One row per checkpoint, columns ``SCORE_COLUMNS_2D``, sorted by epoch.
    """
    from ganaudit.evaluation.parallel import Workers, check_workers, map_ordered

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    if run.get("kind") not in ("2d", "imported"):
        raise InputError(
            f"{run_dir} is a {run.get('kind')!r} run; score_run_2d needs a 2D or imported run "
            "(1D runs are scored by ganaudit.evaluation.scoring1d.score_run_1d)"
        )
    check_workers(workers)
    checkpoints = run_checkpoints(run_dir)
    stored = imported_stored_count(run) if run["kind"] == "imported" else None
    import_note = []
    if stored is not None and stored < n:
        # Sample folders hold what they hold; every checkpoint is scored on as many images
        # (FD depends on N, so checkpoints are only compared at equal N).
        import_note = [f"imported sample folders: every checkpoint scored on {stored} images "
                       f"(the fewest any checkpoint holds) instead of {n}"]
        n = stored
    if not checkpoints:
        raise InputError(
            f"{run_dir} has no checkpoints (checkpoints/generator-epoch-NNNN.keras); run "
            f"`ganaudit train2d --out {run_dir} …` first"
        )
    train, _ = _run_data(run_dir)
    settings = ScoringSettings(features=features, weights=weights, seed=seed,
                               kid_subset_size=kid_subset_size, n_boot=n_boot,
                               memorization_threshold=memorization_threshold, threads=threads,
                               detectability=detectability).checked(len(train), n)

    parallel = workers > 1 or scheduler is not None
    # Workers start (and import the scoring code) while the real features are computed here.
    pool = Workers(workers=workers, scheduler=scheduler, preload=_worker_modules(detectability)) if parallel else None
    try:
        with _blas_threads(threads):
            reference = prepare_reference(run_dir, features=features, weights=weights, progress=progress)
            warm = _warm_state(run_dir, reference) if parallel else None
        epochs = [epoch for epoch, _ in every_kth(checkpoints, every)]
        # A generator: each checkpoint's images are made only when a worker is ready for them,
        # so memory holds a few checkpoints' images, not all of them.
        tasks = ((epoch, generate(run_dir, epoch, n, seed=seed)) for epoch in epochs)

        def baseline():
            with _blas_threads(threads):
                return real_baselines(reference, n=n, seed=seed, kid_subset_size=kid_subset_size,
                                      n_boot=n_boot)

        # With workers, this process only waits for them: it computes the real-vs-real baselines
        # meanwhile (a thread; NumPy releases the interpreter lock in its loops).
        background = _in_thread(baseline) if parallel else None
        rows = map_ordered(
            _score_task, tasks, total=len(epochs), progress=progress, desc="scoring checkpoints",
            unit="checkpoint", pool=pool,
            # Absolute paths: workers of an existing cluster need not share our working folder.
            shared=dict(run_dir=str(run_dir.resolve()), settings=settings.for_workers(),
                        reference=reference, warm=warm),
        )
        baselines = background.result() if background is not None else baseline()
    finally:
        if pool is not None:
            pool.close()
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS_2D).sort_values("epoch").reset_index(drop=True)
    for col in (M.FD, M.FD_INF):
        level = baselines["metrics"][col]["value"]
        frame[f"{col}_rel"] = frame[col] / level if level is not None and level > 0 else math.nan
    write_json(layout.baselines_json(run_dir), baselines)
    write_json(layout.scoring_json(run_dir), {
        "features": features, "feature_settings": reference.settings, "n_generated": n,
        "seed": seed, "kid_subset_size": settings.kid_subset_size,
        "n_boot": n_boot if n_boot is not None else FD_CI_RESAMPLES["gaussian"],
        "fd_ci_method": "gaussian", "real_set": "data/train.npy", "n_real": len(train),
        "epochs": epochs, "notes": reference.notes + import_note,
        "detectability": detectability,
    })
    write_csv(layout.scores_csv(run_dir), frame)
    return frame


# ----------------------------------------------------------------------------- folders

def score_folders(
    real_dir,
    fake_dir,
    *,
    features: str = "radiomics",
    weights: str | None = None,
    seed: int = 0,
    kid_subset_size: int | None = None,
    n_boot: int | None = None,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Score a folder of generated images against a folder of real images.

    Features are z-scored with the real folder's statistics; metrics as in
    :func:`distribution_metrics`. Memorization needs a training and a held-out set: use
    ``ganaudit audit memorization`` for folders. ``threads``: BLAS threads (see
    :func:`score_checkpoint`).

    Returns
    -------
    dict
        One row (keys ``FOLDER_COLUMNS``).
    """
    with _blas_threads(threads):
        return _score_folders(real_dir, fake_dir, features=features, weights=weights, seed=seed,
                              kid_subset_size=kid_subset_size, n_boot=n_boot)


def _score_folders(real_dir, fake_dir, *, features, weights, seed, kid_subset_size, n_boot) -> dict[str, Any]:
    from ganaudit.gan_models.data import load_images

    real = load_images(real_dir)
    fake = load_images(fake_dir)
    if real.images.shape[1:] != fake.images.shape[1:]:
        raise InputError(
            f"real images are {real.images.shape[1]}×{real.images.shape[2]} but generated images "
            f"are {fake.images.shape[1]}×{fake.images.shape[2]}; resize one folder to the other's "
            "size (the same preprocessing as for training) before scoring"
        )
    _check_count(len(real), f"the real folder {real_dir}", MIN_IMAGES, "add images")
    _check_count(len(fake), f"the generated folder {fake_dir}", MIN_IMAGES, "add images")
    subset = _kid_subset(kid_subset_size, len(real), len(fake))
    extractor = _extractor(features, weights)
    real_raw = _features(real.images, extractor, cache=True, what=f"real images in {real_dir}")
    fake_raw = _features(fake.images, extractor, cache=True, what=f"generated images in {fake_dir}")
    real_z, fake_z = _zscore(real_raw, fake_raw)
    row: dict[str, Any] = {"n_real": len(real), "n_generated": len(fake), "features": features}
    row.update(distribution_metrics(real_z, fake_z, seed=seed, kid_subset_size=subset, n_boot=n_boot))
    return {name: _plain(row[name]) for name in FOLDER_COLUMNS}
