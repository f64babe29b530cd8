"""The metric registry and the column lists of ``history.csv`` and ``scores.csv``.

Every column name below is written here once, as a constant that the writers (scoring,
training) and the readers (the stopping rule, the report, the command line) import, as
torch-fidelity shares ``KEY_METRIC_FID`` between writer and reader. ``METRICS`` says for each
metric how people read it: its label, which direction is better, what it measures, its
interval columns, the kinds of run whose ``scores.csv`` has it, and whether the stopping rule
may rank checkpoints by it. ``tests/test_schema.py`` fails when a package spells one of these
names as a string literal instead.
"""

from __future__ import annotations

from dataclasses import dataclass

# ----------------------------------------------------------------------------- columns

EPOCH = "epoch"

# history.csv, one row per epoch
D_LOSS = "d_loss"
G_LOSS = "g_loss"
D_ACC_REAL = "d_acc_real"
D_ACC_FAKE = "d_acc_fake"
SECONDS = "seconds"
HEALTHY = "healthy"

# scores.csv (2D and folders)
N_GENERATED = "n_generated"
N_REAL = "n_real"
FEATURES = "features"
FD = "fd"
FD_CI_LOW, FD_CI_HIGH = "fd_ci_low", "fd_ci_high"
FD_INF = "fd_inf"
FD_INF_CI_LOW, FD_INF_CI_HIGH = "fd_inf_ci_low", "fd_inf_ci_high"
FD_REL = "fd_rel"
FD_INF_REL = "fd_inf_rel"
KID_MEAN = "kid_mean"
KID_STD = "kid_std"
#: the report's KID interval: mean ± one standard deviation over subsets (not in scores.csv)
KID_LOW, KID_HIGH = "kid_low", "kid_high"
PRECISION = "precision"
RECALL = "recall"
DENSITY = "density"
COVERAGE = "coverage"
MEMORIZATION_RATE = "memorization_rate"
MEMORIZATION_RATE_CI_LOW = "memorization_rate_ci_low"
MEMORIZATION_RATE_CI_HIGH = "memorization_rate_ci_high"
MEMORIZATION_THRESHOLD = "memorization_threshold"
CT_SCORE = "ct_score"
AUTHENTICITY = "authenticity"
MIFID = "mifid"
FINDINGS_IMPOSSIBLE = "findings_impossible"
FINDINGS_MIN_P = "findings_min_p"
FINDINGS_SIGNIFICANT = "findings_significant"
DETECTABILITY_AUC = "detectability_auc"
DETECTABILITY_AUC_CI_LOW = "detectability_auc_ci_low"
DETECTABILITY_AUC_CI_HIGH = "detectability_auc_ci_high"

# scores.csv (1D)
PRECISION_ERROR = "precision_error"
COVERAGE_ERROR = "coverage_error"
TRUE_ERROR = "true_error"
TRUE_ERROR_CI_LOW, TRUE_ERROR_CI_HIGH = "true_error_ci_low", "true_error_ci_high"
PRECISION_ERROR_REL = "precision_error_rel"
COVERAGE_ERROR_REL = "coverage_error_rel"
TRUE_ERROR_REL = "true_error_rel"

#: history.csv, in order
HISTORY_COLUMNS = [EPOCH, D_LOSS, G_LOSS, D_ACC_REAL, D_ACC_FAKE, SECONDS, HEALTHY]
#: the history columns a scores.csv row repeats for its epoch
HISTORY_IN_SCORES = [D_LOSS, G_LOSS, D_ACC_REAL, D_ACC_FAKE, HEALTHY]

#: 2D run: RUN/scores.csv, in order
SCORE_COLUMNS_2D = [
    EPOCH, N_GENERATED,
    FD, FD_CI_LOW, FD_CI_HIGH, FD_INF, FD_INF_CI_LOW, FD_INF_CI_HIGH,
    FD_REL, FD_INF_REL,
    KID_MEAN, KID_STD, PRECISION, RECALL, DENSITY, COVERAGE,
    MEMORIZATION_RATE, MEMORIZATION_RATE_CI_LOW, MEMORIZATION_RATE_CI_HIGH,
    MEMORIZATION_THRESHOLD, CT_SCORE, AUTHENTICITY, MIFID,
    FINDINGS_IMPOSSIBLE, FINDINGS_MIN_P, FINDINGS_SIGNIFICANT,
    DETECTABILITY_AUC, DETECTABILITY_AUC_CI_LOW, DETECTABILITY_AUC_CI_HIGH,
    *HISTORY_IN_SCORES,
]
#: ``ganaudit score --real DIR --fake DIR``: the one-row CSV
FOLDER_COLUMNS = [
    N_REAL, N_GENERATED, FEATURES,
    FD, FD_CI_LOW, FD_CI_HIGH, FD_INF, FD_INF_CI_LOW, FD_INF_CI_HIGH,
    KID_MEAN, KID_STD, PRECISION, RECALL, DENSITY, COVERAGE,
]
#: 1D run: RUN/scores.csv, in order (the history columns follow)
SCORE_COLUMNS_1D = [EPOCH, PRECISION_ERROR, COVERAGE_ERROR, TRUE_ERROR, TRUE_ERROR_CI_LOW,
                    TRUE_ERROR_CI_HIGH, PRECISION_ERROR_REL, COVERAGE_ERROR_REL, TRUE_ERROR_REL, FD]


# ----------------------------------------------------------------------------- registry

KIND_1D, KIND_2D = "1d", "2d"


@dataclass(frozen=True)
class Metric:
    """How a metric column is read.

    ``direction``: "lower" or "higher" is better, or "≈ 0"/"≈ 1" (best at that value);
    ``interval``: its (low, high) interval columns, if any (a 1D run's ``fd`` has none);
    ``kinds``: the kinds of run whose
    scores.csv holds it; ``ranks``: the stopping rule may rank checkpoints by it (lower is
    better for every one of those); ``percent``: shown as a percentage; ``log_scale``: positive
    and spread over decades, so plots may use a log axis.
    """

    name: str
    label: str
    direction: str
    meaning: str
    kinds: tuple[str, ...]
    interval: tuple[str, str] | None = None
    ranks: bool = False
    percent: bool = False
    log_scale: bool = False


_2D, _1D, _BOTH = (KIND_2D,), (KIND_1D,), (KIND_1D, KIND_2D)

METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric(FD_INF, "FD∞", "lower", "Fréchet distance extrapolated to infinitely many images "
           "(Chong & Forsyth 2020); squared feature units", _2D, (FD_INF_CI_LOW, FD_INF_CI_HIGH),
           ranks=True, log_scale=True),
    Metric(FD, "FD", "lower", "Fréchet distance between real and generated features "
           "(Heusel et al. 2017); squared feature units, depends on the number of images", _BOTH,
           (FD_CI_LOW, FD_CI_HIGH), ranks=True, log_scale=True),
    Metric(FD_REL, "FD / real-vs-real", "lower", "FD divided by its real-vs-real baseline "
           "(1 = as close as two sets of real images)", _2D),
    Metric(FD_INF_REL, "FD∞ / real-vs-real", "lower", "FD∞ divided by its real-vs-real baseline "
           "(1 = as close as two sets of real images)", _2D),
    Metric(KID_MEAN, "KID", "lower", "kernel inception distance, unbiased MMD² (Bińkowski et al. "
           "2018); ± one standard deviation over subsets", _2D, (KID_LOW, KID_HIGH), ranks=True,
           log_scale=True),
    Metric(PRECISION, "precision", "higher", "share of generated images that look like real ones "
           "(Kynkäänniemi et al. 2019)", _2D),
    Metric(RECALL, "recall", "higher", "share of real images the generator can produce "
           "(Kynkäänniemi et al. 2019)", _2D),
    Metric(DENSITY, "density", "≈ 1", "how densely generated images sit among real ones "
           "(Naeem et al. 2020)", _2D),
    Metric(COVERAGE, "coverage", "higher", "share of real images with a generated image nearby "
           "(Naeem et al. 2020)", _2D),
    Metric(MEMORIZATION_RATE, "memorization rate", "lower", "share of generated images matching a "
           "training image (shift/flip-invariant NCC above the held-out threshold)", _2D,
           (MEMORIZATION_RATE_CI_LOW, MEMORIZATION_RATE_CI_HIGH), percent=True),
    Metric(CT_SCORE, "C_T", "≈ 0", "data-copying test (Meehan et al. 2020); ≪ 0 copying, ≫ 0 "
           "underfitting", _2D),
    Metric(AUTHENTICITY, "authenticity", "higher", "share of generated images that are not copies "
           "(Alaa et al. 2022)", _2D),
    Metric(MIFID, "MiFID", "lower", "memorization-informed FID (Bai et al. 2021)", _2D,
           log_scale=True),
    Metric(FINDINGS_IMPOSSIBLE, "impossible findings", "lower", "generated images with a finding "
           "combination never seen in real images (count)", _2D),
    Metric(FINDINGS_MIN_P, "findings min p", "higher", "smallest Fisher p over findings' "
           "prevalence real vs generated", _2D),
    Metric(DETECTABILITY_AUC, "detectability AUC", "lower", "machine reader: out-of-fold ROC AUC "
           "of a small CNN telling held-out real images from generated ones (classifier "
           "two-sample test, Lopez-Paz & Oquab 2017); 0.5 = indistinguishable", _2D,
           (DETECTABILITY_AUC_CI_LOW, DETECTABILITY_AUC_CI_HIGH)),
    Metric(TRUE_ERROR, "true error", "lower", "mean of precision and coverage error, in the "
           "pattern's units", _1D, (TRUE_ERROR_CI_LOW, TRUE_ERROR_CI_HIGH), ranks=True,
           log_scale=True),
    Metric(PRECISION_ERROR, "precision error", "lower", "mean distance of generated points to the "
           "true curve (pattern units)", _1D, log_scale=True),
    Metric(COVERAGE_ERROR, "coverage error", "lower", "mean distance from the true curve to the "
           "nearest generated point (pattern units)", _1D, log_scale=True),
    Metric(TRUE_ERROR_REL, "true error / y-range", "lower", "true error as a share of the "
           "pattern's y-range", _1D, percent=True, log_scale=True),
    Metric(PRECISION_ERROR_REL, "precision error / y-range", "lower", "precision error as a share "
           "of the pattern's y-range", _1D, percent=True),
    Metric(COVERAGE_ERROR_REL, "coverage error / y-range", "lower", "coverage error as a share of "
           "the pattern's y-range", _1D, percent=True),
]}

#: the metrics the stopping rule may rank checkpoints by (``--metric``)
RANKING_METRICS = [name for name, m in METRICS.items() if m.ranks]
#: the stopping rule's metric when none is given, per kind of run
DEFAULT_RANKING = {KIND_1D: TRUE_ERROR, KIND_2D: FD_INF}
#: metrics divided by the real-vs-real baseline of a 2D run: metric → its ``_rel`` column
RELATIVE_TO_BASELINE = {FD: FD_REL, FD_INF: FD_INF_REL}


def metric(name: str) -> Metric:
    """The registered metric ``name``; an error listing the known ones otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        from ganaudit.gan_models.errors import InputError

        raise InputError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None
