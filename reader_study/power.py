"""Power and sample size of a reading study analysed by Obuchowski–Rockette (random readers and cases).

Two questions a study can answer:

- *detection*: do readers tell one checkpoint's fakes from real images, i.e. is the mean
  figure of merit (AUC, or accuracy = (sensitivity + specificity)/2) above 0.5?
- *comparison*: do readers detect one checkpoint's fakes better than another's (a difference
  in mean AUC between checkpoints)?

For a GAN, lower detection is better; the power is the chance that the study finds the stated
effect when it is there.

Formulas (Hillis, Obuchowski & Berbaum 2011; Hillis 2007; Obuchowski 2000). With σ²_TR the
reader × condition variance, Var, Cov1, Cov2, Cov3 the OR error covariances *at the planned
numbers of cases* and r readers:

comparison of t conditions, two of which differ by d and the rest lying midway
(Σ τᵢ² = d²/2)::

    E[den]    = σ²_TR + Var − Cov1 + (r − 1)·max(Cov2 − Cov3, 0)
    E[MS(TR)] = σ²_TR + Var − Cov1 − max(Cov2 − Cov3, 0)
    λ         = r·(d²/2) / E[den]
    ddf       = E[den]² / {E[MS(TR)]² / [(t − 1)(r − 1)]}
    power     = P(F(t − 1, ddf; λ) > F₁₋α(t − 1, ddf))

detection (one condition, H0 figure of merit 0.5, true value A), with σ²_R' the reader
variance within one condition (σ²_R + σ²_TR)::

    E[den]    = σ²_R' + Var + (r − 1)·max(Cov2, 0)
    E[MS(R)]  = σ²_R' + Var − max(Cov2, 0)
    δ         = (A − 0.5)·sqrt(r / E[den]),  ddf = E[den]² / [E[MS(R)]² / (r − 1)]
    power     = P(|T(ddf; δ)| > t₁₋α/₂(ddf))

Case variances scale inversely with the number of cases. In a real-vs-fake study the real
cases and each checkpoint's fakes are separate samples, so the error covariances are kept as
a real-case part (scaled by the number of real cases) and a fake-case part (scaled by the
number of fakes per checkpoint), measured from a pilot study (``ganaudit study analyze``
writes them) or from the defaults below.

Defaults without a pilot (stated, override them with a pilot): Var from Hanley & McNeil (1982)
at the expected AUC (for accuracy the binomial variance (sens(1−sens)/n_fake +
spec(1−spec)/n_real)/4); the correlation of two readers' errors on the same cases
r2 = 0.43 and the reader variances σ²_R = 0.0015, σ²_TR = 0.0002, which are the OR estimates
of the Van Dyke et al. (1993) study (OR-DBM MRMC 2.51); in the split design a reader's single
reading of a real case enters every checkpoint's AUC, so the real-case part of Cov1 equals
its Var and that of Cov3 its Cov2 (real cases cancel in a comparison), and the fake-case parts
of Cov1 and Cov3 are 0 (different fakes).

References
----------
Hillis SL, Obuchowski NA, Berbaum KS (2011). Power estimation for multireader ROC methods: an
updated and unified approach. Acad Radiol 18:129-142.
Hillis SL (2007). A comparison of denominator degrees of freedom methods for multiple
observer ROC analysis. Stat Med 26:596-619.
Obuchowski NA (2000). Sample size tables for receiver operating characteristic studies.
AJR Am J Roentgenol 175:603-608.
Hanley JA, McNeil BJ (1982). The meaning and use of the area under a receiver operating
characteristic (ROC) curve. Radiology 143:29-36.
Van Dyke CW et al. (1993). Cine MRI in the diagnosis of thoracic aortic dissection. 79th RSNA
Meetings.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study.mrmc import _anova, _leave_one_out, _membership, _check_truth, case_covariance, or_components
from ganaudit.schema import layout

FOMS = ("auc", "accuracy")
DEFAULT_VAR_R = 0.0015
DEFAULT_VAR_TR = 0.0002
DEFAULT_R2 = 0.43
COMPONENT_KEYS = ("var_error", "cov1", "cov2", "cov3")
VARIANCE_FILE = layout.VARIANCE_JSON


@dataclass
class VarianceComponents:
    """OR variance components measured at ``n_real`` real cases and ``n_fake`` fakes per condition.

    ``real`` and ``fake`` hold each case kind's share of Var(error), Cov1, Cov2, Cov3; they
    scale as n_real/n and n_fake/n when the study has n cases of that kind. ``var_r`` is the
    reader variance within one condition (σ²_R + σ²_TR), ``var_tr`` the reader × condition
    variance (NaN when measured on one condition).
    """

    fom: str
    var_r: float
    var_tr: float
    real: dict
    fake: dict
    n_real: float
    n_fake: float
    n_readers: int
    n_conditions: int
    source: str

    def at(self, n_real: float, n_fake: float) -> dict:
        """Var(error), Cov1, Cov2, Cov3 for a study with n_real real cases and n_fake fakes per condition."""
        a, b = self.n_real / n_real, self.n_fake / n_fake
        return {k: a * self.real[k] + b * self.fake[k] for k in COMPONENT_KEYS}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, *, where: str = "variance components") -> "VarianceComponents":
        try:
            comp = cls(**{k: data[k] for k in cls.__dataclass_fields__})
            # Strict JSON stores a value that is not estimable (NaN) as null.
            comp.var_r, comp.var_tr = (math.nan if v is None else float(v) for v in (comp.var_r, comp.var_tr))
            for part in (comp.real, comp.fake):
                for k in COMPONENT_KEYS:
                    part[k] = math.nan if part[k] is None else float(part[k])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where} is missing or has a bad entry ({exc}); run 'ganaudit study analyze' "
                             "again to rewrite it") from exc
        return comp


def components_from_scores(scores, truth, *, fom: str = "auc", covariance: str = "jackknife",
                           source: str = "pilot") -> VarianceComponents:
    """Measure the OR variance components of a (pilot) study.

    ``scores`` is (conditions, readers, cases) with NaN for cases outside a condition (as for
    :func:`ganaudit.reader_study.mrmc.or_compare`); one condition is allowed. For ``fom="accuracy"``
    pass the 0/1 calls (1 = called fake): the empirical AUC of a binary call is the balanced
    accuracy (sensitivity + specificity)/2.
    """
    if fom not in FOMS:
        raise InputError(f"fom must be one of {', '.join(FOMS)}, got {fom!r}")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2:
        scores = scores[None]
    truth_b = _check_truth(truth)
    t, r, _ = scores.shape
    if r < 2:
        raise InputError("variance components need at least 2 readers (the reader variance is not estimable from one)")
    member = _membership(scores)
    aucs, loo = _leave_one_out(scores, truth_b, member)
    cov = case_covariance(loo, truth_b, member, method=covariance)
    parts = {}
    for name in ("real", "fake"):
        v, c1, c2, c3 = or_components(cov[name], t, r)
        parts[name] = {"var_error": v, "cov1": 0.0 if t == 1 else c1, "cov2": c2, "cov3": 0.0 if t == 1 else c3}
    var, c1, c2, c3 = or_components(cov["total"], t, r)
    if t > 1:
        _, _, ms_tr = _anova(aucs)
        var_tr = max(ms_tr - var + c1 + c2 - c3, 0.0)
    else:
        var_tr = math.nan
    # Reader variance within one condition: mean over conditions of MS(R)_i − Var + Cov2.
    ms_r_single = float(np.mean([row.var(ddof=1) for row in aucs]))
    var_r = max(ms_r_single - var + c2, 0.0)
    n_real = float((member & ~truth_b).sum(axis=1).mean())
    n_fake = float((member & truth_b).sum(axis=1).mean())
    return VarianceComponents(fom=fom, var_r=var_r, var_tr=var_tr, real=parts["real"], fake=parts["fake"],
                              n_real=n_real, n_fake=n_fake, n_readers=r, n_conditions=t, source=source)


def default_components(*, fom: str = "auc", value: float = 0.6, n_real: float = 50, n_fake: float = 25,
                       var_r: float = DEFAULT_VAR_R, var_tr: float = DEFAULT_VAR_TR,
                       r2: float = DEFAULT_R2) -> VarianceComponents:
    """Stated default components (see the module docstring) at the figure of merit ``value``."""
    if fom not in FOMS:
        raise InputError(f"fom must be one of {', '.join(FOMS)}, got {fom!r}")
    if not 0 < value < 1:
        raise InputError(f"the expected {fom} must be between 0 and 1, got {value}")
    a = value
    if fom == "auc":
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        # Hanley & McNeil (1982): the (n_fake − 1)(Q1 − A²) term varies with the real cases,
        # the rest with the fakes.
        real = (n_fake - 1) * (q1 - a * a) / (n_fake * n_real)
        fake = (a * (1 - a) + (n_real - 1) * (q2 - a * a)) / (n_fake * n_real)
    else:
        real = a * (1 - a) / (4 * n_real)
        fake = a * (1 - a) / (4 * n_fake)
    return VarianceComponents(
        fom=fom, var_r=var_r + var_tr, var_tr=var_tr,
        real={"var_error": real, "cov1": real, "cov2": r2 * real, "cov3": r2 * real},
        fake={"var_error": fake, "cov1": 0.0, "cov2": r2 * fake, "cov3": 0.0},
        n_real=float(n_real), n_fake=float(n_fake), n_readers=0, n_conditions=0,
        source=f"defaults: Hanley-McNeil variance at {fom} {a:g}, r2 {r2:g}, var_r {var_r:g}, var_tr {var_tr:g}")


def split_cases(cases: int, conditions: int) -> tuple[float, float]:
    """(real cases, fakes per condition) of ``study create --cases N``: half real, fakes split evenly."""
    return cases / 2.0, cases / (2.0 * conditions)


def power_comparison(components: VarianceComponents, *, readers: int, n_real: float, n_fake: float,
                     difference: float, conditions: int = 2, alpha: float = 0.05) -> float:
    """Power of the OR test of equal mean AUCs when two of ``conditions`` differ by ``difference``."""
    _check_design(readers, conditions)
    if not math.isfinite(components.var_tr):
        raise InputError("these variance components come from a study with one checkpoint, which cannot measure "
                         "the reader x checkpoint variance; plan a comparison from a pilot with >= 2 checkpoints "
                         "or from the defaults")
    v = components.at(n_real, n_fake)
    r, t = readers, conditions
    c23 = max(v["cov2"] - v["cov3"], 0.0)
    var_tr = max(components.var_tr, 0.0)
    den = var_tr + v["var_error"] - v["cov1"] + (r - 1) * c23
    ms_tr = var_tr + v["var_error"] - v["cov1"] - c23
    if den <= 0:
        return 1.0 if difference else alpha
    lam = r * difference**2 / 2.0 / den
    if lam == 0:
        return alpha  # scipy's noncentral F is wrong at noncentrality 0
    ddf = den**2 / (ms_tr**2 / ((t - 1) * (r - 1))) if ms_tr > 0 else math.inf
    if math.isinf(ddf):
        crit = stats.chi2.ppf(1 - alpha, t - 1)
        return float(stats.ncx2.sf(crit, t - 1, lam))
    crit = stats.f.ppf(1 - alpha, t - 1, ddf)
    return float(min(max(stats.ncf.sf(crit, t - 1, ddf, lam), 0.0), 1.0))


def power_detection(components: VarianceComponents, *, readers: int, n_real: float, n_fake: float,
                    value: float, alpha: float = 0.05) -> float:
    """Power of the two-sided OR test of mean figure of merit 0.5 when it is ``value`` (one condition)."""
    _check_design(readers, 1)
    v = components.at(n_real, n_fake)
    r = readers
    c2 = max(v["cov2"], 0.0)
    var_r = max(components.var_r, 0.0)
    den = var_r + v["var_error"] + (r - 1) * c2
    ms_r = var_r + v["var_error"] - c2
    if den <= 0:
        return 1.0 if value != 0.5 else alpha
    delta = (value - 0.5) * math.sqrt(r / den)
    ddf = den**2 / (ms_r**2 / (r - 1)) if ms_r > 0 else math.inf
    if math.isinf(ddf):
        crit = stats.norm.ppf(1 - alpha / 2)
        return float(stats.norm.sf(crit - delta) + stats.norm.cdf(-crit - delta))
    crit = stats.t.ppf(1 - alpha / 2, ddf)
    return float(stats.nct.sf(crit, ddf, delta) + stats.nct.cdf(-crit, ddf, delta))


def _check_design(readers: int, conditions: int) -> None:
    if isinstance(readers, bool) or not isinstance(readers, (int, np.integer)) or readers < 2:
        raise InputError(f"readers must be a whole number >= 2 (random readers), got {readers!r}")
    if isinstance(conditions, bool) or not isinstance(conditions, (int, np.integer)) or conditions < 1:
        raise InputError(f"checkpoints must be a whole number >= 1, got {conditions!r}")


@dataclass
class Plan:
    """One row of a plan: design, effect and power (or the cases needed)."""

    readers: int
    cases: int
    n_real: float
    n_fake: float
    checkpoints: int
    effect: str
    power: float
    reached: bool = True


def plan(components_for, *, readers: int, checkpoints: int, effect: str, size: float, cases: int | None = None,
         target_power: float | None = None, alpha: float = 0.05, fom: str = "auc", max_cases: int = 20000) -> Plan:
    """Power at ``cases`` counted cases per reader, or the fewest cases reaching ``target_power``.

    ``components_for(n_real, n_fake)`` returns the :class:`VarianceComponents` to use (a
    pilot's, or defaults computed at that design). ``effect`` is ``"difference"`` (AUC
    difference ``size`` between two of ``checkpoints``) or ``"detection"`` (mean figure of
    merit ``size``, AUC or accuracy as ``fom`` says, against 0.5 for one checkpoint's fakes). Cases follow ``study create``:
    half real, the fakes split evenly over the checkpoints; the search steps by 2·checkpoints
    so that the split is exact.
    """
    if (cases is None) == (target_power is None):
        raise InputError("give either the number of cases (--cases) or a target power (--power), not both")
    if effect not in ("difference", "detection"):
        raise InputError(f"effect must be 'difference' or 'detection', got {effect!r}")
    if effect == "difference" and checkpoints < 2:
        raise InputError("a difference between checkpoints needs --checkpoints >= 2")
    if not 0 < alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1, got {alpha}")
    label = (f"AUC difference {size:g} between checkpoints" if effect == "difference"
             else f"mean {'accuracy' if fom == 'accuracy' else 'AUC'} {size:g} vs 0.5 (one checkpoint's fakes)")

    def power_at(n: int) -> float:
        n_real, n_fake = split_cases(n, checkpoints)
        comp = components_for(n_real, n_fake)
        if effect == "difference":
            return power_comparison(comp, readers=readers, n_real=n_real, n_fake=n_fake, difference=size,
                                    conditions=checkpoints, alpha=alpha)
        return power_detection(comp, readers=readers, n_real=n_real, n_fake=n_fake, value=size, alpha=alpha)

    if cases is not None:
        if cases < 2 * checkpoints:
            raise InputError(f"--cases must be at least {2 * checkpoints} (2 per checkpoint's fakes and as many real), "
                             f"got {cases}")
        n_real, n_fake = split_cases(cases, checkpoints)
        return Plan(readers, cases, n_real, n_fake, checkpoints, label, power_at(cases))
    if not 0 < target_power < 1:
        raise InputError(f"--power must be between 0 and 1, got {target_power}")
    step = 2 * checkpoints
    # Power rises with the cases; find a bracket by doubling, then bisect on multiples of step.
    lo, hi = step, step
    while power_at(hi) < target_power:
        lo, hi = hi, hi * 2
        if hi > max_cases:
            n_real, n_fake = split_cases(max_cases, checkpoints)
            return Plan(readers, max_cases, n_real, n_fake, checkpoints, label, power_at(max_cases), reached=False)
    if power_at(lo) >= target_power:
        hi = lo
    while hi - lo > step:
        mid = lo + ((hi - lo) // (2 * step)) * step
        if power_at(mid) >= target_power:
            hi = mid
        else:
            lo = mid
    n_real, n_fake = split_cases(hi, checkpoints)
    return Plan(readers, hi, n_real, n_fake, checkpoints, label, power_at(hi))


def load_pilot(study_dir, *, fom: str = "auc") -> VarianceComponents:
    """The components ``ganaudit study analyze`` wrote to ``STUDY/analysis/variance_components.json``."""
    path = layout.analysis_dir(study_dir) / VARIANCE_FILE
    if not path.is_file():
        raise InputError(f"{path} is missing; run 'ganaudit study analyze {study_dir}' on the pilot study first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} ({exc}); run 'ganaudit study analyze {study_dir}' again") from exc
    if not isinstance(data, dict) or fom not in data:
        raise InputError(f"{path} has no '{fom}' components; run 'ganaudit study analyze {study_dir}' again")
    if "error" in data[fom]:
        raise InputError(f"the pilot study {study_dir} gives no {fom} variance components: {data[fom]['error']}; "
                         "plan from the defaults (no --pilot) or from a pilot with more readers and cases")
    return VarianceComponents.from_dict(data[fom], where=str(path))



# --- simulation (validation of the test and the planner) ---------------------------------------
def simulate_split_study(rng: np.random.Generator, *, readers: int = 5, n_real: int = 40, n_fake: int = 20,
                         shifts=(0.5, 0.5), sd_case: float = 0.7, sd_reader_case: float = 0.7,
                         sd_reader: float = 0.3, sd_reader_condition: float = 0.0, sd_bias: float = 0.3,
                         ratings: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A simulated real-vs-fake study in the split design (a Roe–Metz-type model).

    Latent score of reader j on case k: C_k + RC_jk, plus for a fake of condition i
    shifts[i] + R_j + TR_ij (reader skill and reader × condition terms), all normal. With
    ``ratings`` the latent score minus a reader bias is cut into the 6-point scale. Each
    reader reads every real case once; that one score enters every condition.
    Returns (scores (conditions, readers, cases) with NaN outside a condition, truth).
    """
    t = len(shifts)
    c = n_real + t * n_fake
    truth = np.r_[np.zeros(n_real, int), np.ones(t * n_fake, int)]
    latent = (rng.normal(0, sd_case, c)[None] + rng.normal(0, sd_reader_case, (readers, c))
              + rng.normal(0, sd_reader, readers)[:, None] * truth[None])
    tr = rng.normal(0, sd_reader_condition, (t, readers)) if sd_reader_condition else np.zeros((t, readers))
    scores = np.full((t, readers, c), np.nan)
    bias = rng.normal(0, sd_bias, readers)[:, None]
    for i, shift in enumerate(shifts):
        cols = np.r_[np.arange(n_real), n_real + i * n_fake + np.arange(n_fake)]
        x = latent[:, cols] + truth[cols][None] * (shift + tr[i][:, None])
        scores[i][:, cols] = np.digitize(x - bias, [-1.2, -0.5, 0.0, 0.5, 1.2]) + 1 if ratings else x
    return scores, truth
