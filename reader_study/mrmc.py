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
Hillis SL, Obuchowski NA, Schartz KM, Berbaum KS (2005). A comparison of the
Dorfman-Berbaum-Metz and Obuchowski-Rockette methods for receiver operating characteristic
(ROC) data. Stat Med 24:1579-1607.
Hillis SL, Berbaum KS, Metz CE (2008). Recent developments in the Dorfman-Berbaum-Metz
procedure for multireader ROC study analysis. Acad Radiol 15:647-661.

Comparing conditions (:func:`or_compare`)
-----------------------------------------
Each condition (a checkpoint) i and reader j give an AUC θ_ij. Error covariances of the θ_ij
over cases: Var(error) (same reader, same condition), Cov1 (same reader, other condition),
Cov2 (other reader, same condition), Cov3 (other reader, other condition). With t conditions
and r readers (Hillis 2007, Hillis et al. 2008)::

    F   = MS(T) / [MS(T×R) + r·max(Cov2 − Cov3, 0)]           on (t − 1, ddf) df
    ddf = [MS(T×R) + r·max(Cov2 − Cov3, 0)]² / {MS(T×R)² / [(t − 1)(r − 1)]}
    SE(θ̄_a − θ̄_b) = sqrt{(2/r)·[MS(T×R) + r·max(Cov2 − Cov3, 0)]}, t interval on ddf df

*Split design.* In a real-vs-fake study the real cases are read under every condition and
each condition has its own fakes, so a condition's AUC is computed from all real cases and
its own fakes only. The case jackknife still runs over *every* case of the study: leaving out
a case that a condition does not contain leaves that condition's AUC unchanged (its pseudo
deviation is zero, not missing). Then a condition's own fakes enter only its own variance
and Cov2, the shared real cases enter every covariance, so Cov1 and Cov3 carry the real
cases' part only, and Var(error) − Cov1 and Cov2 − Cov3 keep the fakes' sampling noise that
makes two identical checkpoints' AUCs differ. Because an AUC is a U-statistic, the mean of its
leave-one-out values over all cases equals the AUC itself, so centring over all cases is
exact. Dropping the cases missing from some condition (a "complete-case" analysis) would
drop every fake: here NaN marks membership, not a missing read, and within a condition every
reader must have scored every case.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from ganaudit.gan_models.errors import InputError


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


def _clip_auc(low: float, high: float) -> tuple[float, float]:
    """An AUC interval kept inside [0, 1] (a symmetric t or normal interval can overshoot near 0 or 1)."""
    return float(min(max(low, 0.0), 1.0)), float(min(max(high, 0.0), 1.0))


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
        (two-sided); intervals are clipped to [0, 1]. With one reader the random-reader fields equal the fixed-reader ones and
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
    ci_fixed = _clip_auc(mean - z * se_fixed, mean + z * se_fixed)

    if r > 1:
        ms_r = float(thetas.var(ddof=1))
        denom = ms_r + r * cov2_pos
        se = math.sqrt(denom / r)
        df = denom**2 / (ms_r**2 / (r - 1)) if ms_r > 0 else math.inf
        t_crit = stats.t.ppf(1 - alpha / 2, df)
        t_stat = (mean - null_auc) / se if se > 0 else (0.0 if mean == null_auc else math.copysign(math.inf, mean - null_auc))
        p = float(2 * stats.t.sf(abs(t_stat), df))
        ci = _clip_auc(mean - t_crit * se, mean + t_crit * se)
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


# --- comparing conditions (checkpoints) ----------------------------------------------------------
COVARIANCE_METHODS = ("jackknife", "delong")


def _membership(scores: np.ndarray) -> np.ndarray:
    """(conditions, cases) membership from the NaN pattern; every reader must agree on it."""
    finite = np.isfinite(scores)
    member = finite.all(axis=1)
    partial = finite.any(axis=1) & ~member
    if partial.any():
        i, k = map(int, np.argwhere(partial)[0])
        readers = [int(j) for j in np.flatnonzero(~finite[i, :, k])]
        raise InputError(f"case {k} of condition {i} has no score from reader(s) {readers} while other readers "
                         "scored it: every reader must score every case of a condition (NaN marks a case that "
                         "is not part of that condition, for all readers); drop the case or the reader")
    orphan = ~member.any(axis=0)
    if orphan.any():
        raise InputError(f"case {int(np.flatnonzero(orphan)[0])} belongs to no condition (NaN for every condition); "
                         "remove it from scores and truth")
    return member


def _leave_one_out(scores: np.ndarray, truth: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (t, r) and leave-one-case-out AUCs (t, r, c).

    A case outside condition i leaves θ_ij unchanged, so its leave-one-out value is θ_ij.
    """
    t, r, c = scores.shape
    aucs = np.empty((t, r))
    loo = np.empty((t, r, c))
    for i in range(t):
        pos, neg = member[i] & truth, member[i] & ~truth
        m, n = int(pos.sum()), int(neg.sum())
        if m < 2 or n < 2:
            raise InputError(f"condition {i} has {n} real and {m} fake cases; the case jackknife needs at least "
                             "2 of each per condition")
        for j in range(r):
            a, v10, v01 = placements(scores[i, j, member[i]], truth[member[i]])
            aucs[i, j] = a
            loo[i, j] = a
            loo[i, j, pos] = (m * a - v10) / (m - 1)
            loo[i, j, neg] = (n * a - v01) / (n - 1)
    return aucs, loo


def case_covariance(loo: np.ndarray, truth: np.ndarray, member: np.ndarray, *,
                    method: str = "jackknife") -> dict[str, np.ndarray]:
    """Covariance matrix of the (t·r) AUCs over cases, split into the real and the fake cases' parts.

    ``jackknife``: (c − 1)/c · Σ_k (θ(−k) − θ̄(·))(θ(−k) − θ̄(·))ᵀ over all c cases (the
    convention of OR-DBM MRMC and RJafroc). ``delong``: the two-sample (stratified) jackknife,
    strata = cases with the same truth and the same conditions; for each stratum
    (n_s − 1)/n_s · Σ_k (θ(−k) − θ̄_s)(…)ᵀ. For the empirical AUC this equals DeLong et al.'s
    (1988) structural-component covariance, also between AUCs on different case sets.
    Returns {"real": …, "fake": …, "total": …}, each (t·r, t·r).
    """
    if method not in COVARIANCE_METHODS:
        raise InputError(f"covariance must be one of {', '.join(COVARIANCE_METHODS)}, got {method!r}")
    t, r, c = loo.shape
    flat = loo.reshape(t * r, c)
    parts = {}
    if method == "jackknife":
        centred = flat - flat.mean(axis=1, keepdims=True)
        for name, cls in (("real", ~truth), ("fake", truth)):
            d = centred[:, cls]
            parts[name] = (c - 1) / c * d @ d.T
    else:
        keys = np.concatenate([truth[None], member], axis=0).T
        strata, index = np.unique(keys, axis=0, return_inverse=True)
        index = np.asarray(index).reshape(-1)
        parts = {"real": np.zeros((t * r, t * r)), "fake": np.zeros((t * r, t * r))}
        for s, key in enumerate(strata):
            d = flat[:, index == s]
            n_s = d.shape[1]
            if n_s < 2:
                continue
            d = d - d.mean(axis=1, keepdims=True)
            parts["fake" if key[0] else "real"] += (n_s - 1) / n_s * d @ d.T
    parts["total"] = parts["real"] + parts["fake"]
    return parts


def or_components(cov: np.ndarray, t: int, r: int) -> tuple[float, float, float, float]:
    """Var(error), Cov1, Cov2, Cov3: averages of a (t·r, t·r) covariance over the four kinds of pairs.

    Index (i, j) = condition i, reader j at row i·r + j. Cov1: same reader, other condition;
    Cov2: other reader, same condition; Cov3: other reader, other condition. NaN when no
    such pair exists (one condition or one reader).
    """
    cond = np.repeat(np.arange(t), r)
    reader = np.tile(np.arange(r), t)
    same_c = cond[:, None] == cond[None, :]
    same_r = reader[:, None] == reader[None, :]

    def mean(mask):
        return float(cov[mask].mean()) if mask.any() else math.nan

    return mean(same_c & same_r), mean(~same_c & same_r), mean(same_c & ~same_r), mean(~same_c & ~same_r)


@dataclass
class ORComparison:
    """Obuchowski–Rockette comparison of conditions, random readers and random cases.

    ``auc`` is (conditions, readers); ``auc_mean``, ``auc_ci_low``, ``auc_ci_high`` are per
    condition (single-condition intervals with Hillis's df, clipped to [0, 1]). With two
    conditions ``difference`` (condition 0 − condition 1), ``se``, ``ci_low``, ``ci_high``,
    ``t`` and ``p_pair`` are floats; with more they are arrays over ``pairs`` (a, b) in the
    order (0, 1), (0, 2), …, (1, 2), …. ``f``, ``df1``, ``ddf`` and ``p_value`` are the
    omnibus test of equal mean AUCs (for two conditions p_value equals the pair's p).
    Difference intervals are clipped to [−1, 1]. ``var_r`` and ``var_tr`` are the OR reader
    and reader × condition variances (ANOVA estimates, floored at 0); ``parts`` holds the real
    and the fake cases' shares of Var(error), Cov1, Cov2 and Cov3 (they add up to the totals).
    """

    conditions: list
    n_readers: int
    n_cases: int
    cases_per_condition: list
    auc: np.ndarray
    auc_mean: np.ndarray
    auc_ci_low: np.ndarray
    auc_ci_high: np.ndarray
    pairs: list
    difference: float | np.ndarray
    se: float | np.ndarray
    ci_low: float | np.ndarray
    ci_high: float | np.ndarray
    t_stat: float | np.ndarray
    p_pair: float | np.ndarray
    f: float
    df1: int
    ddf: float
    p_value: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    ms_t: float
    ms_r: float
    ms_tr: float
    var_r: float
    var_tr: float
    alpha: float
    covariance: str
    method: str
    parts: dict = field(default_factory=dict)

    def table(self):
        """One row per pair of conditions: AUCs, difference, SE, df, t, p and the interval."""
        import pandas as pd

        diff, se, lo, hi, tt, p = (np.atleast_1d(np.asarray(v, dtype=float)) for v in
                                   (self.difference, self.se, self.ci_low, self.ci_high, self.t_stat, self.p_pair))
        rows = [{"condition_a": self.conditions[a], "condition_b": self.conditions[b],
                 "auc_a": float(self.auc_mean[a]), "auc_b": float(self.auc_mean[b]), "difference": diff[k],
                 "se": se[k], "df": self.ddf, "t": tt[k], "p_value": p[k], "ci_low": lo[k], "ci_high": hi[k]}
                for k, (a, b) in enumerate(self.pairs)]
        return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)

    def to_dict(self) -> dict:
        """Plain JSON-ready values (arrays → lists)."""
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, np.generic):
                value = value.item()
            out[name] = value
        out["parts"] = {k: {kk: float(vv) for kk, vv in v.items()} for k, v in self.parts.items()}
        return out


COMPARISON_COLUMNS = ["condition_a", "condition_b", "auc_a", "auc_b", "difference", "se", "df", "t", "p_value",
                      "ci_low", "ci_high"]


def _anova(aucs: np.ndarray) -> tuple[float, float, float]:
    """MS(T), MS(R), MS(T×R) of a (t, r) table of AUCs (two-way ANOVA without replication)."""
    t, r = aucs.shape
    grand = aucs.mean()
    row, col = aucs.mean(axis=1), aucs.mean(axis=0)
    ms_t = r * float(((row - grand) ** 2).sum()) / (t - 1)
    ms_r = t * float(((col - grand) ** 2).sum()) / (r - 1) if r > 1 else math.nan
    resid = aucs - row[:, None] - col[None, :] + grand
    ms_tr = float((resid**2).sum()) / ((t - 1) * (r - 1)) if r > 1 else math.nan
    return ms_t, ms_r, ms_tr


def _t_test(estimate: float, se: float, df: float) -> tuple[float, float]:
    """(t, two-sided p) of estimate/se on df degrees of freedom; se = 0 gives ±inf (or 0 when estimate is 0)."""
    if se > 0:
        stat = estimate / se
    else:
        stat = 0.0 if estimate == 0 else math.copysign(math.inf, estimate)
    dist = stats.norm if math.isinf(df) else stats.t(df)
    return float(stat), float(2 * dist.sf(abs(stat)))


def _quantile(alpha: float, df: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) if math.isinf(df) else stats.t.ppf(1 - alpha / 2, df))


def or_compare(scores, truth, *, alpha: float = 0.05, covariance: str = "jackknife",
               conditions=None) -> ORComparison:
    """Compare conditions (checkpoints) by the readers' mean AUC: Obuchowski–Rockette, Hillis ddf.

    Parameters
    ----------
    scores
        (conditions, readers, cases) ratings, higher = more likely fake (positive). NaN where
        a case is not part of a condition (the split design: real cases in every condition,
        each condition's own fakes in that condition only). Within a condition every reader
        must score every case.
    truth
        (cases,) 1 = fake (positive), 0 = real.
    alpha
        1 − confidence level of the intervals.
    covariance
        ``"jackknife"`` (default; OR-DBM MRMC's convention) or ``"delong"`` (structural
        components); see :func:`case_covariance`.
    conditions
        Names of the conditions (default ``"0"``, ``"1"``, …).

    Returns
    -------
    ORComparison
        Random readers and random cases. With one reader the fixed-reader (normal) test is
        returned and ``method`` says so. For readers, higher AUC = fakes easier to detect;
        for a GAN checkpoint lower (towards 0.5) is better.

    References
    ----------
    Obuchowski & Rockette (1995); Hillis (2007); Hillis et al. (2008); DeLong et al. (1988).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3:
        raise InputError(f"scores must have shape (conditions, readers, cases), got shape {scores.shape}")
    truth_b = _check_truth(truth)
    t, r, c = scores.shape
    if c != truth_b.size:
        raise InputError(f"scores have {c} cases but truth has {truth_b.size}")
    if t < 2:
        raise InputError(f"comparing conditions needs at least 2, got {t}; for one condition use or_analysis")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    names = [str(i) for i in range(t)] if conditions is None else [str(x) for x in conditions]
    if len(names) != t:
        raise InputError(f"{len(names)} condition names for {t} conditions")
    member = _membership(scores)
    aucs, loo = _leave_one_out(scores, truth_b, member)
    parts_cov = case_covariance(loo, truth_b, member, method=covariance)
    var_error, cov1, cov2, cov3 = or_components(parts_cov["total"], t, r)
    parts = {}
    for name in ("real", "fake"):
        v, c1, c2, c3 = or_components(parts_cov[name], t, r)
        parts[name] = {"var_error": v, "cov1": c1, "cov2": c2, "cov3": c3}
    ms_t, ms_r, ms_tr = _anova(aucs)
    means = aucs.mean(axis=1)
    pairs = list(itertools.combinations(range(t), 2))
    diffs = np.array([means[a] - means[b] for a, b in pairs])

    if r > 1:
        cov23 = max(cov2 - cov3, 0.0)
        denom = ms_tr + r * cov23
        ddf = denom**2 / (ms_tr**2 / ((t - 1) * (r - 1))) if ms_tr > 0 else math.inf
        se_pair = math.sqrt(2.0 / r * denom)
        method = "Obuchowski-Rockette, random readers and random cases, Hillis (2007) ddf"
        var_tr = max(ms_tr - var_error + cov1 + cov2 - cov3, 0.0)
        var_r = max((ms_r - var_tr - var_error - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t, 0.0)
    else:
        denom = var_error - cov1
        ddf = math.inf
        se_pair = math.sqrt(max(2.0 * denom, 0.0))
        method = "one reader: fixed reader, random cases (normal test on the case covariances)"
        var_tr = var_r = math.nan
    if denom > 0:
        f = ms_t / denom
    else:
        f = 0.0 if ms_t == 0 else math.inf
    p_value = float(stats.chi2.sf(f * (t - 1), t - 1) if math.isinf(ddf) else stats.f.sf(f, t - 1, ddf))
    q = _quantile(alpha, ddf)
    tests = [_t_test(d, se_pair, ddf) for d in diffs]
    t_stats = np.array([x[0] for x in tests])
    p_pairs = np.array([x[1] for x in tests])
    lo = np.clip(diffs - q * se_pair, -1.0, 1.0)
    hi = np.clip(diffs + q * se_pair, -1.0, 1.0)

    auc_lo, auc_hi = np.empty(t), np.empty(t)
    for i in range(t):
        block = parts_cov["total"][i * r:(i + 1) * r, i * r:(i + 1) * r]
        auc_lo[i], auc_hi[i] = _single_interval(aucs[i], block, alpha=alpha)

    def scalar(x):
        return float(x[0]) if t == 2 else x

    return ORComparison(
        conditions=names, n_readers=r, n_cases=c, cases_per_condition=[int(x) for x in member.sum(axis=1)],
        auc=aucs, auc_mean=means, auc_ci_low=auc_lo, auc_ci_high=auc_hi, pairs=pairs,
        difference=scalar(diffs), se=float(se_pair) if t == 2 else np.full(len(pairs), se_pair),
        ci_low=scalar(lo), ci_high=scalar(hi), t_stat=scalar(t_stats), p_pair=scalar(p_pairs),
        f=float(f), df1=t - 1, ddf=float(ddf), p_value=p_value, var_error=var_error, cov1=cov1, cov2=cov2,
        cov3=cov3, ms_t=ms_t, ms_r=ms_r, ms_tr=ms_tr, var_r=var_r, var_tr=var_tr, alpha=alpha,
        covariance=covariance, method=method, parts=parts)


def _single_interval(thetas: np.ndarray, cov: np.ndarray, *, alpha: float) -> tuple[float, float]:
    """Mean-AUC interval of one condition (Hillis's ddf_H_single), clipped to [0, 1]."""
    r = thetas.size
    mean = float(thetas.mean())
    if r > 1:
        cov2 = float((cov.sum() - np.trace(cov)) / (r * (r - 1)))
        ms_r = float(thetas.var(ddof=1))
        denom = ms_r + r * max(cov2, 0.0)
        df = denom**2 / (ms_r**2 / (r - 1)) if ms_r > 0 else math.inf
        half = _quantile(alpha, df) * math.sqrt(denom / r)
    else:
        half = _quantile(alpha, math.inf) * math.sqrt(max(float(cov[0, 0]), 0.0))
    return _clip_auc(mean - half, mean + half)
