"""Multi-reader multi-case (MRMC) ROC analysis: Obuchowski–Rockette with jackknife covariances.

Higher AUC is better *for the readers*; for a GAN, an AUC near 0.5 (readers cannot tell real
from fake) is the goal. Fake = positive; scores are the 6-point real/fake × confidence scale.

For one "modality" (reading the images) every reader reads every case. Per reader j the
empirical AUC θ_j (Mann–Whitney, ties count ½) is computed; the error covariance matrix of
the θ_j comes from the case jackknife; its mean diagonal is Var(error) and its mean
off-diagonal is Cov2. Inference on the mean AUC θ̄ (Hillis 2007 "single treatment"):

- random readers, random cases (RRRC): SE² = [MS(R) + r·max(Cov2, 0)] / r,
  df_H = [MS(R) + r·max(Cov2, 0)]² / [MS(R)² / (r − 1)], t-based CI and test of H0 AUC = 0.5;
- fixed readers, random cases (FRRC): SE² = [Var(error) + (r − 1)·max(Cov2, 0)] / r, normal.

With one reader only FRRC is defined; it equals that reader's jackknife variance.

References
----------
Obuchowski NA, Rockette HE (1995). Hypothesis testing of diagnostic accuracy for multiple
readers and multiple tests: an ANOVA approach with dependent observations. Commun Stat
Simul Comput 24:285-308.
Hillis SL (2007). A comparison of denominator degrees of freedom methods for multiple
observer ROC analysis. Stat Med 26:596-619.
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under two or more
correlated receiver operating characteristic curves: a nonparametric approach.
Biometrics 44:837-845.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from gan_models.errors import InputError


def _check_truth(truth) -> np.ndarray:
    truth = np.asarray(truth)
    if truth.ndim != 1 or not np.isin(truth, (0, 1)).all():
        raise InputError("truth must be a 1-D array of 0 (real) and 1 (fake)")
    if truth.sum() < 1 or (1 - truth).sum() < 1:
        raise InputError(f"AUC needs at least one real and one fake case, got {int(truth.sum())} fake "
                         f"and {int((1 - truth).sum())} real")
    return truth.astype(bool)


def placements(scores, truth) -> tuple[float, np.ndarray, np.ndarray]:
    """Empirical AUC and DeLong's structural components (placement values).

    Returns (auc, v10, v01): v10[i] = share of negatives that positive i beats (ties ½),
    v01[j] = share of positives that beat negative j; auc = mean(v10) = mean(v01).
    """
    truth = _check_truth(truth)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = scores[truth], scores[~truth]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(v10.mean()), v10, v01


def auc(scores, truth) -> float:
    """Empirical ROC AUC (Mann–Whitney; ties count ½). Higher = fakes get higher scores."""
    return placements(scores, truth)[0]


def delong_variance(scores, truth) -> float:
    """DeLong et al. (1988) variance of the empirical AUC: var(v10)/m + var(v01)/n."""
    _, v10, v01 = placements(scores, truth)
    if len(v10) < 2 or len(v01) < 2:
        return math.nan
    return float(v10.var(ddof=1) / len(v10) + v01.var(ddof=1) / len(v01))


def jackknife_aucs(scores, truth) -> np.ndarray:
    """Leave-one-case-out AUCs, shape (readers, cases).

    Uses the U-statistic identity: without positive i, AUC = (m·AUC − v10_i)/(m − 1);
    without negative j, AUC = (n·AUC − v01_j)/(n − 1).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    truth = _check_truth(truth)
    m, n = int(truth.sum()), int((~truth).sum())
    if m < 2 or n < 2:
        raise InputError(f"the case jackknife needs at least 2 real and 2 fake cases, got {n} real and {m} fake")
    out = np.empty_like(scores)
    for j, row in enumerate(scores):
        a, v10, v01 = placements(row, truth)
        out[j, truth] = (m * a - v10) / (m - 1)
        out[j, ~truth] = (n * a - v01) / (n - 1)
    return out


def jackknife_covariance(scores, truth) -> np.ndarray:
    """Jackknife covariance matrix of the reader AUCs, (c − 1)/c · Σ_k (θ(−k) − θ̄(·))(…)ᵀ."""
    pseudo = jackknife_aucs(scores, truth)
    c = pseudo.shape[1]
    centred = pseudo - pseudo.mean(axis=1, keepdims=True)
    return (c - 1) / c * centred @ centred.T


@dataclass
class ORResult:
    """Obuchowski–Rockette single-modality result (see the module docstring)."""

    n_readers: int
    n_cases: int
    reader_aucs: list
    auc: float
    var_error: float
    cov2: float
    ms_r: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    t: float
    p_value: float
    method: str
    se_fixed: float
    ci_low_fixed: float
    ci_high_fixed: float
    p_value_fixed: float

    def to_dict(self) -> dict:
        return asdict(self)


def or_analysis(scores, truth, *, alpha: float = 0.05, null_auc: float = 0.5) -> ORResult:
    """Obuchowski–Rockette MRMC analysis of the mean reader AUC for one modality.

    Parameters
    ----------
    scores
        (readers, cases) ratings, higher = more likely fake (positive). Every reader must
        rate every case (fully crossed design).
    truth
        (cases,) 1 = fake (positive), 0 = real.
    alpha
        1 − confidence level of the intervals.
    null_auc
        AUC under H0 (0.5: readers cannot tell real from fake).

    Returns
    -------
    ORResult
        Mean AUC with the random-reader (Hillis df) and fixed-reader intervals and p-values
        (two-sided). With one reader the random-reader fields equal the fixed-reader ones and
        ``method`` says so.

    References
    ----------
    Obuchowski & Rockette (1995); Hillis (2007); see the module docstring.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    truth_b = _check_truth(truth)
    if scores.shape[1] != truth_b.size:
        raise InputError(f"scores have {scores.shape[1]} cases but truth has {truth_b.size}")
    if not np.isfinite(scores).all():
        raise InputError("scores contain missing values: the OR analysis needs every reader to rate every case")
    r, c = scores.shape
    thetas = np.array([auc(row, truth_b) for row in scores])
    cov = jackknife_covariance(scores, truth_b)
    var_error = float(np.mean(np.diag(cov)))
    cov2 = float((cov.sum() - np.trace(cov)) / (r * (r - 1))) if r > 1 else math.nan
    mean = float(thetas.mean())
    z = stats.norm.ppf(1 - alpha / 2)

    cov2_pos = max(cov2, 0.0) if r > 1 else 0.0
    se_fixed = math.sqrt(max((var_error + (r - 1) * cov2_pos) / r, 0.0))
    z_fixed = (mean - null_auc) / se_fixed if se_fixed > 0 else math.copysign(math.inf, mean - null_auc) if mean != null_auc else 0.0
    p_fixed = float(2 * stats.norm.sf(abs(z_fixed)))
    ci_fixed = (float(mean - z * se_fixed), float(mean + z * se_fixed))

    if r > 1:
        ms_r = float(thetas.var(ddof=1))
        denom = ms_r + r * cov2_pos
        se = math.sqrt(denom / r)
        df = denom**2 / (ms_r**2 / (r - 1)) if ms_r > 0 else math.inf
        t_crit = stats.t.ppf(1 - alpha / 2, df)
        t_stat = (mean - null_auc) / se if se > 0 else (0.0 if mean == null_auc else math.copysign(math.inf, mean - null_auc))
        p = float(2 * stats.t.sf(abs(t_stat), df))
        ci = (float(mean - t_crit * se), float(mean + t_crit * se))
        method = "Obuchowski-Rockette, random readers and cases, Hillis (2007) df"
    else:
        ms_r, se, df, t_stat, p, ci = math.nan, se_fixed, math.inf, z_fixed, p_fixed, ci_fixed
        method = "one reader: jackknife variance over cases (fixed reader), normal interval"
    return ORResult(n_readers=r, n_cases=c, reader_aucs=[float(t) for t in thetas], auc=mean,
                    var_error=var_error, cov2=cov2, ms_r=ms_r, se=se, df=df, ci_low=ci[0], ci_high=ci[1],
                    t=float(t_stat), p_value=p, method=method, se_fixed=se_fixed, ci_low_fixed=ci_fixed[0],
                    ci_high_fixed=ci_fixed[1], p_value_fixed=p_fixed)


def imrmc_rows(scores, truth, *, reader_ids=None, case_ids=None, modality: str = "1") -> list[tuple]:
    """Rows of iMRMC's input format: truth rows ``-1, case, 0, 0|1`` then ``reader, case, modality, score``."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    truth = np.asarray(truth).astype(int)
    reader_ids = list(reader_ids) if reader_ids is not None else list(range(1, scores.shape[0] + 1))
    case_ids = list(case_ids) if case_ids is not None else list(range(1, scores.shape[1] + 1))
    rows = [(-1, cid, 0, int(t)) for cid, t in zip(case_ids, truth)]
    for rid, row in zip(reader_ids, scores):
        rows += [(rid, cid, modality, s) for cid, s in zip(case_ids, row) if np.isfinite(s)]
    return rows
