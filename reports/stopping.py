"""The verdict: stop (and where), train longer, restart, or no checkpoint passes — and why.

Every metric the rule ranks by is *lower is better* (FD∞, FD, KID, 1D true error).

The verdict (``report.json`` → ``verdict``; see docs/stopping-rule.md):

- ``stop`` at ``stopping_epoch``: a checkpoint passed every gate, including absolute quality
  (1D: true error ≤ ``max_true_error`` of the y-range; 2D: the ranking metric ≤
  ``baseline_factor`` × its real-vs-real baseline), and there is convergence evidence: the
  ranking metric is no longer falling measurably over the last ``trend_window`` checkpoints
  (one-sided Kendall trend test at ``trend_alpha`` *and* a fitted Theil–Sen drop of at least
  ``min_improvement`` of its level), or the best checkpoint is not among them;
- ``train-longer``: the metric is still falling measurably and the best checkpoint (or, when
  none passes, the run's end) is among the last checkpoints, or the run has too few
  checkpoints to show convergence;
- ``restart``: training was unhealthy at the last checkpoint (or at every one);
- ``no-checkpoint-passes``: none passes the gates and more epochs are not expected to help;
  ``closest_epoch`` is the checkpoint that failed the fewest gates, with what blocked it.

Which checkpoint (rule name ``earliest-within-best-interval``):

1. Gates. A checkpoint is out when
   - training was unhealthy at that epoch (``healthy`` false: the discriminator's accuracy
     stayed above 90 % or below 10 %, the seed article's restart rule);
   - (2D) its memorization rate (share of generated images whose shift/flip-invariant NCC to
     the nearest training image exceeds the threshold calibrated on held-out real images)
     exceeds ``memorization_max`` (default 0.05). The point estimate is compared, not a
     confidence bound: a radiologist reads "5 % of images are copies" directly, and the
     interval is shown next to it;
   - (2D) its findings audit found an impossible combination (present among generated
     images, never among real ones) or a significant prevalence change
     (``findings_significant``, Bonferroni-corrected Fisher tests);
   - it has no score for the ranking metric.
   A gate whose audit is missing is reported as "not audited" and does not exclude.
2. Among the checkpoints that pass, the best is the one with the lowest metric. The chosen
   checkpoint is the earliest whose metric is within the best one's 95 % confidence interval
   (metric ≤ upper bound; KID uses mean + one standard deviation over subsets). Without an
   interval, or when a relative ``tolerance`` is given, "within" means metric ≤ best ×
   (1 + tolerance) (default tolerance 0.05 when no interval exists).
3. With reader data, a checkpoint whose fakes readers recognise better than chance
   (one-sided exact binomial ``detect_p`` < ``alpha``) loses to one within the interval that
   they cannot recognise (checkpoints not in the study count as "not recognised"). A
   checkpoint whose fakes readers detect significantly better than another's (the
   Obuchowski–Rockette comparison of ``study analyze``, ``comparison.csv``, p < ``alpha``;
   with three or more checkpoints after a significant omnibus test) loses to that one when
   both are within the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ganaudit.gan_models.errors import InputError
from ganaudit.schema import metrics as M
from ganaudit.schema.values import parse_bool

RULE_NAME = "earliest-within-best-interval"
DEFAULT_RELATIVE_TOLERANCE = 0.05
DEFAULT_MEMORIZATION_MAX = 0.05
DEFAULT_ALPHA = 0.05
DEFAULT_TREND_WINDOW = 4
DEFAULT_TREND_ALPHA = 0.05
DEFAULT_MIN_IMPROVEMENT = 0.10
DEFAULT_MAX_TRUE_ERROR = 0.05
VERDICTS = ("stop", "train-longer", "restart", "no-checkpoint-passes")
#: the 2D quality limit is never below this many times the real-vs-real level (nor below the
#: upper end of that level's own 95 % interval): two honest sets of images differ by chance
MIN_BASELINE_FACTOR = 2.0

#: the metrics checkpoints may be ranked by (label, kinds of run, interval: ganaudit.schema.metrics)
METRICS: dict[str, M.Metric] = {name: M.METRICS[name] for name in M.RANKING_METRICS}
DEFAULT_METRIC = M.DEFAULT_RANKING

RULE_TEXT = [
    "A checkpoint is out when training was unhealthy at that epoch: the discriminator's "
    "accuracy, averaged over real and fake images, stayed above 90 % or below 10 %.",
    "1D runs: a checkpoint is out when its true error exceeds {max_true_error} of the "
    "pattern's y-range (absolute quality).",
    "2D runs: a checkpoint is out when its {metric} exceeds {baseline_factor}× the real-vs-real "
    "baseline (the same metric between two disjoint sets of real images: absolute quality), "
    "when more than {memorization_max} of its generated images match a training image "
    "(memorization audit), or when the findings audit shows a finding or combination of "
    "findings whose rate differs significantly and relevantly from the real images'.",
    "Among the remaining checkpoints, the one with the lowest {metric} is the best; the candidate "
    "is the earliest checkpoint whose {metric} lies within the best one's {interval}.",
    "With reader data, a checkpoint whose fakes readers recognise better than chance "
    "(p < {alpha}) loses to one they cannot recognise.",
    "Stop only with convergence evidence: over the last {window} checkpoints the {metric} must "
    "not be falling measurably (one-sided Kendall trend test at α = {trend_alpha} together "
    "with a fitted drop of at least {min_improvement}), unless the best checkpoint is earlier. "
    "Otherwise: train longer; restart when training is unhealthy at the end.",
]


@dataclass(frozen=True)
class RuleOptions:
    """Options of the stopping rule (all keyword-only, all written into the report).

    Parameters
    ----------
    metric : {"fd_inf", "fd", "kid_mean", "true_error"} or None
        Ranking metric (lower is better). None: ``fd_inf`` for 2D runs, ``true_error`` for 1D.
    tolerance : float or None
        Relative tolerance around the best value. None: use the best checkpoint's confidence
        interval, or 0.05 when the scores have none.
    memorization_max : float
        Largest acceptable memorization rate (share of generated images flagged as copies).
    alpha : float
        Significance level for "readers recognise the fakes better than chance".
    trend_window : int
        Number of last scored checkpoints the convergence test looks at (at least 3).
    trend_alpha : float
        One-sided significance level of the Kendall trend test ("still falling").
    min_improvement : float
        Smallest fitted drop of the ranking metric over the trend window, as a share of its
        level at the window's start, that counts as "still falling measurably".
    max_true_error : float
        1D absolute quality: largest acceptable true error as a share of the y-range.
    baseline_factor : float or None
        2D absolute quality: largest acceptable ratio of the ranking metric to its
        real-vs-real baseline (the metric between two disjoint sets of real images). None:
        the ratio at which held-out real images blurred by half a pixel sit (the anchor in
        ``RUN/baselines.json``), i.e. "no further from real than a clinically negligible blur".
    detectability_max : float or None
        2D machine-reader gate, off by default (None): a checkpoint is out when the lower end
        of its ``detectability_auc`` interval (classifier two-sample test, ``ganaudit score``)
        exceeds this AUC, i.e. a small CNN tells its images from real ones clearly better than
        this. Off by default because our own DCGANs are detected at AUC 1.000 at every epoch
        (docs/stopping-rule.md): on, it would reject every checkpoint a reader study might
        still accept.
    """

    metric: str | None = None
    tolerance: float | None = None
    memorization_max: float = DEFAULT_MEMORIZATION_MAX
    alpha: float = DEFAULT_ALPHA
    trend_window: int = DEFAULT_TREND_WINDOW
    trend_alpha: float = DEFAULT_TREND_ALPHA
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT
    max_true_error: float = DEFAULT_MAX_TRUE_ERROR
    baseline_factor: float | None = None
    detectability_max: float | None = None

    def check(self, kind: str) -> "RuleOptions":
        metric = self.metric or DEFAULT_METRIC[kind]
        if metric not in METRICS:
            raise InputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if kind not in METRICS[metric].kinds:
            usable = [m for m, spec in METRICS.items() if kind in spec.kinds]
            raise InputError(f"metric {metric!r} is not scored for {kind.upper()} runs; use "
                             f"one of {', '.join(usable)}")
        finite = math.isfinite
        # (option, its value, the test it must pass, what it must be), checked in this order
        limits = [
            ("tolerance", self.tolerance,
             lambda: self.tolerance is None or (finite(self.tolerance) and self.tolerance >= 0),
             "a number >= 0 (a share of the best value, e.g. 0.05)"),
            ("memorization-max", self.memorization_max,
             lambda: finite(self.memorization_max) and 0 <= self.memorization_max <= 1,
             "a share between 0 and 1 (e.g. 0.05 for 5 %)"),
            ("alpha", self.alpha, lambda: finite(self.alpha) and 0 < self.alpha < 1,
             "between 0 and 1 (e.g. 0.05)"),
            ("trend-alpha", self.trend_alpha, lambda: finite(self.trend_alpha) and 0 < self.trend_alpha < 1,
             "between 0 and 1 (e.g. 0.05)"),
            ("trend-window", self.trend_window,
             lambda: int(self.trend_window) == self.trend_window and self.trend_window >= 3,
             "a whole number of checkpoints >= 3 (e.g. 4)"),
            ("min-improvement", self.min_improvement,
             lambda: finite(self.min_improvement) and 0 <= self.min_improvement < 1,
             "a share between 0 and 1 (e.g. 0.1 for 10 %)"),
            ("max-true-error", self.max_true_error,
             lambda: finite(self.max_true_error) and 0 < self.max_true_error <= 1,
             "a share of the y-range between 0 and 1 (e.g. 0.05 for 5 %)"),
            ("baseline-factor", self.baseline_factor,
             lambda: self.baseline_factor is None or (finite(self.baseline_factor)
                                                      and self.baseline_factor >= 1),
             "a number >= 1 (e.g. 3: at most three times the real-vs-real level)"),
            ("detectability-max", self.detectability_max,
             lambda: self.detectability_max is None or (finite(self.detectability_max)
                                                        and 0.5 <= self.detectability_max < 1),
             "an AUC between 0.5 and 1 (e.g. 0.6: out when a classifier tells the fakes apart "
             "clearly better than 0.6)"),
        ]
        for option, value, passes, expected in limits:
            if not passes():
                raise InputError(f"{option} must be {expected}, got {value}")
        return RuleOptions(metric=metric, tolerance=self.tolerance,
                           memorization_max=self.memorization_max, alpha=self.alpha,
                           trend_window=int(self.trend_window), trend_alpha=self.trend_alpha,
                           min_improvement=self.min_improvement,
                           max_true_error=self.max_true_error,
                           baseline_factor=self.baseline_factor,
                           detectability_max=self.detectability_max)


@dataclass
class Decision:
    """What the rule decided, with the per-checkpoint table behind it."""

    stopping_epoch: int | None
    best_epoch: int | None
    metric: str
    metric_label: str
    bound: float | None
    interval: str
    table: pd.DataFrame
    rationale: list[str]
    recommendations: list[str] = field(default_factory=list)
    rule: dict = field(default_factory=dict)
    verdict: str = "stop"
    #: the earliest-within-best pick among passing checkpoints, whatever the verdict
    candidate_epoch: int | None = None
    #: when no checkpoint passes: the one that failed the fewest gates, and what blocked it
    closest_epoch: int | None = None
    blocked: dict = field(default_factory=dict)
    convergence: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fmt(value, digits: int = 3) -> str:
    """A number for people: 3 significant digits, '–' for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or pd.isna(value):
        return "–"
    value = float(value)
    if value == 0:
        return "0"
    # Decide on the rounded value: 999.6 is "1.00e+03", not "1e+03".
    if abs(float(f"{value:.{digits}g}")) >= 10 ** digits or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def pct(share) -> str:
    """A share as a percentage for people ('41 %', '2.5 %')."""
    if share is None or pd.isna(share):
        return "–"
    exact = 100 * float(share)
    if abs(exact - round(exact)) < 1e-9:
        return f"{exact:.0f} %"
    # Never round onto a whole number the value is not: 5.04 % next to a 5 % limit must not
    # read "5 %", nor 99.96 % "100 %".
    value = round(exact, 1)
    return f"{exact:.2f} %" if value == round(value) else f"{value:.1f} %"


def _num(row: pd.Series, col: str) -> float:
    value = row.get(col, np.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _interval(row: pd.Series, metric: str) -> tuple[float, float]:
    if metric == M.KID_MEAN:
        mean, std = _num(row, M.KID_MEAN), _num(row, M.KID_STD)
        return mean - std, mean + std
    cols = METRICS[metric].interval
    if cols is None:
        return float("nan"), float("nan")
    return _num(row, cols[0]), _num(row, cols[1])


def _gates(row: pd.Series, kind: str, options: RuleOptions) -> tuple[dict, list[str]]:
    """Gate states ('pass' / 'fail' / 'not audited') and plain-words reasons for failures."""
    gates: dict[str, str] = {}
    reasons: list[str] = []
    healthy = parse_bool(row.get(M.HEALTHY))
    if healthy is False:
        gates["health"] = "fail"
        real, fake = _num(row, M.D_ACC_REAL), _num(row, M.D_ACC_FAKE)
        detail = (f" (discriminator accuracy {pct((real + fake) / 2)} averaged over real and fake "
                  f"images — {pct(real)} on real, {pct(fake)} on fake; healthy training keeps the "
                  "average between 10 % and 90 %)"
                  if math.isfinite(real) and math.isfinite(fake) else "")
        reasons.append(f"training was unhealthy at that epoch{detail}")
    elif healthy:
        gates["health"] = "pass"
    else:
        # An imported run without --history has no losses or accuracies at all.
        history = [_num(row, c) for c in (M.D_LOSS, M.G_LOSS, M.D_ACC_REAL, M.D_ACC_FAKE)]
        gates["health"] = ("no training history" if not any(map(math.isfinite, history))
                           else "not audited")
    if kind == "2d":
        rate = _num(row, M.MEMORIZATION_RATE)
        if not math.isfinite(rate):
            gates["memorization"] = "not audited"
        elif rate > options.memorization_max:
            gates["memorization"] = "fail"
            reasons.append(f"{pct(rate)} of its images matched a training image (limit "
                           f"{pct(options.memorization_max)}): it memorizes")
        else:
            gates["memorization"] = "pass"
        impossible = _num(row, M.FINDINGS_IMPOSSIBLE)
        significant = parse_bool(row.get(M.FINDINGS_SIGNIFICANT))
        if not math.isfinite(impossible) and significant is None:
            gates["findings"] = "not audited"
        else:
            failed = False
            detail = row.get("findings_detail")
            detail = detail if isinstance(detail, str) and detail else None
            if math.isfinite(impossible) and impossible > 0:
                n = int(impossible)
                reasons.append(f"the findings audit found {n} generated image{'s' if n != 1 else ''}"
                               " with a finding combination that real images show at most at "
                               "the negligible rate: it invents findings")
                failed = True
            if significant:
                min_p = _num(row, M.FINDINGS_MIN_P)
                reasons.append("a finding's prevalence differed from the real images' beyond the "
                               f"clinically negligible margin (smallest corrected p = "
                               f"{fmt(min_p)}): it distorts findings")
                failed = True
            if failed and detail:
                reasons.append(f"findings that failed: {detail}")
            gates["findings"] = "fail" if failed else "pass"
        if options.detectability_max is not None:
            gates["detectability"], why = _detectability_gate(row, options.detectability_max)
            if why:
                reasons.append(why)
    return gates, reasons


def _detectability_gate(row: pd.Series, limit: float) -> tuple[str, str | None]:
    """Machine reader: out when the detectability AUC's interval lies wholly above ``limit``."""
    auc, low = _num(row, M.DETECTABILITY_AUC), _num(row, M.DETECTABILITY_AUC_CI_LOW)
    if not (math.isfinite(auc) and math.isfinite(low)):
        return "not audited", None
    if low > limit:
        return "fail", (f"a classifier told its images from real ones: detectability AUC "
                        f"{fmt(auc)}, interval from {fmt(low)}, above the limit {fmt(limit)}")
    return "pass", None


def _quality_gate(row: pd.Series, kind: str, options: RuleOptions, baselines: dict,
                  factor: float | None = None) -> tuple[str, str | None]:
    """Absolute quality: ('pass' / 'fail' / 'not audited', reason when it fails)."""
    if kind == "1d":
        rel = _num(row, M.TRUE_ERROR_REL)
        if not math.isfinite(rel):
            return "not audited", None
        if rel > options.max_true_error:
            return "fail", (f"its true error is {pct(rel)} of the pattern's y-range (limit "
                            f"{pct(options.max_true_error)}): the generator does not draw the "
                            "pattern well enough yet")
        return "pass", None
    metric = options.metric
    label = METRICS[metric].label
    level = baseline_level(baselines, metric)
    value = _num(row, metric)
    if level is None or not math.isfinite(value):
        return "not audited", None
    ratio = value / level
    if ratio > factor:
        return "fail", (f"its {label} is {ratio:.0f}× the real-vs-real level ({fmt(value)} against "
                        f"{fmt(level)}; limit {factor:.0f}×): its images are further from real "
                        "ones in feature space than the quality limit allows")
    return "pass", None


def resolve_factor(options: RuleOptions, baselines: dict, anchor: dict | None
                   ) -> tuple[float, str]:
    """The 2D quality limit as a ratio to the real-vs-real level, and where it comes from."""
    if options.baseline_factor is not None:
        return float(options.baseline_factor), "--baseline-factor"
    level = baseline_level(baselines, options.metric)
    value = (anchor or {}).get(options.metric)
    if level is None or value is None or not math.isfinite(float(value)):
        raise InputError(
            "RUN/baselines.json has no blurred-image anchor for "
            f"{METRICS[options.metric].label}, which sets the default quality limit; run "
            "`ganaudit score RUN` again, or give the limit yourself with --baseline-factor F")
    entry = baselines.get(options.metric) or {}
    high = entry.get("ci_high")
    floor = max(MIN_BASELINE_FACTOR, float(high) / level if high is not None
                and math.isfinite(float(high)) else 0.0)
    ratio = float(value) / level
    if ratio >= floor:
        return ratio, "real images blurred by σ = 0.5 px"
    # Where blurring does not move real images away (smooth images, pixel features), the
    # limit still has to allow for two real sets' own spread.
    return floor, "the real-vs-real level's own spread (a blur of σ = 0.5 px scores lower)"


def baseline_level(baselines: dict, metric: str) -> float | None:
    """The real-vs-real value of ``metric`` a ratio is taken against (None: no usable baseline)."""
    entry = (baselines or {}).get(metric)
    if not isinstance(entry, dict):
        return None
    value = entry.get("value")
    if value is None or not math.isfinite(float(value)) or float(value) <= 0:
        return None
    return float(value)


def convergence(epochs, values, *, window: int, alpha: float, min_improvement: float) -> dict:
    """Is the ranking metric still falling measurably over the last ``window`` checkpoints?

    Two conditions, both needed for "still falling": a one-sided Kendall rank-correlation test
    of metric against epoch (exact for small windows without ties) rejects "no downward trend"
    at ``alpha``, *and* the Theil–Sen line through the window drops by at least
    ``min_improvement`` of its level at the window's start (a trend too small to matter is not
    worth more training). Returns the test's figures; ``still_falling`` is None when fewer than
    ``window`` checkpoints have a score (no evidence either way). ``levelled`` (the fitted drop
    is below ``min_improvement``, significant or not) is what it takes to give up on a run
    whose checkpoints all fail: a large but noisy drop means it is too early to tell.

    References
    ----------
    Kendall, M. G. (1938). A new measure of rank correlation. Biometrika 30, 81–93.
    Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's tau.
    JASA 63, 1379–1389.
    """
    from scipy import stats

    epochs = np.asarray(epochs, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    e, v = epochs[ok][-window:], values[ok][-window:]
    out = {"window": int(window), "alpha": float(alpha), "min_improvement": float(min_improvement),
           "epochs": [int(x) for x in e], "n": int(len(v)), "tau": None, "p_value": None,
           "slope_per_epoch": None, "relative_drop": None, "still_falling": None,
           "levelled": False}
    if len(v) < window:
        return out
    tau, p = stats.kendalltau(e, v, alternative="less")
    slope, intercept, _, _ = stats.theilslopes(v, e)
    start = intercept + slope * e[0]
    drop = -slope * (e[-1] - e[0])
    relative = drop / abs(start) if start != 0 else (math.inf if drop > 0 else 0.0)
    out.update(tau=float(tau), p_value=float(p), slope_per_epoch=float(slope),
               relative_drop=float(relative),
               still_falling=bool(p < alpha and relative >= min_improvement),
               levelled=bool(relative < min_improvement))
    return out


def _epochs(epochs) -> str:
    epochs = [int(e) for e in epochs]
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    shown = ", ".join(str(e) for e in epochs[:-1][:8])
    more = f" and {len(epochs) - 8} more" if len(epochs) > 9 else f" and {epochs[-1]}"
    return f"epochs {shown}{more}"


def decide(scores: pd.DataFrame, *, kind: str, options: RuleOptions | None = None,
           study: pd.DataFrame | None = None, baselines: dict | None = None,
           anchor: dict | None = None,
           comparison: tuple[pd.DataFrame, dict] | None = None) -> Decision:
    """Apply the stopping rule to a run's scores and give the verdict.

    Parameters
    ----------
    scores : DataFrame
        ``scores.csv`` of the run (one row per checkpoint, ``epoch`` first), with the training
        health columns.
    kind : {"1d", "2d"}
        Run kind (from ``run.json``).
    options : RuleOptions, optional
        Rule settings; defaults as documented in :class:`RuleOptions`.
    study : DataFrame, optional
        Reader results per checkpoint (``STUDY/analysis/checkpoints.csv`` with an integer
        ``epoch`` column, as :func:`ganaudit.reports.load.load_study` returns it).
    baselines : dict, optional
        2D: real-vs-real baselines (metric → ``{"value", "ci_low", "ci_high"}``), from
        ``RUN/baselines.json``. Required for 2D runs (the absolute-quality gate); an error
        names the fix when it is missing or not positive.
    anchor : dict, optional
        2D: the same metrics for held-out real images blurred by half a pixel (metric →
        value), from ``RUN/baselines.json`` → ``anchors``; sets the default quality limit.
    comparison : (DataFrame, dict), optional
        The reading study's comparison of checkpoints (``comparison.csv`` with integer
        ``epoch_a``/``epoch_b`` columns, and ``comparison.json``), as
        :func:`ganaudit.reports.load.load_run` reads it.

    Returns
    -------
    Decision
        Verdict, stopping epoch (None unless the verdict is ``stop``), rationale sentences,
        recommendations and the per-checkpoint table with every gate's state.
    """
    options = (options or RuleOptions()).check(kind)
    baselines = baselines or {}
    metric = options.metric
    label = METRICS[metric].label
    if metric not in scores.columns:
        raise InputError(f"scores.csv has no {metric!r} column; re-run `ganaudit score RUN` or "
                         f"choose another --metric")
    if kind == "2d" and baseline_level(baselines, metric) is None:
        entry = baselines.get(metric)
        raise InputError(
            f"no usable real-vs-real baseline for {label}"
            + (f" (it is {fmt(entry.get('value'))}: two sets of real images are not measurably "
               "apart at these sizes, so a ratio to it is undefined); rank by another metric "
               "(--metric fd) or score with more images (ganaudit score RUN --n …)"
               if isinstance(entry, dict) else
               "; run `ganaudit score RUN` again, which writes RUN/baselines.json"))
    factor, factor_source = (resolve_factor(options, baselines, anchor) if kind == "2d"
                             else (None, None))

    table = scores.copy().sort_values("epoch").reset_index(drop=True)
    table["epoch"] = table["epoch"].astype(int)
    if study is not None:
        reader = study.dropna(subset=["epoch"]).copy()
        reader["epoch"] = reader["epoch"].astype(int)
        reader = reader.drop_duplicates("epoch")
        cols = ["n_read", "called_real", "fool_rate", "fool_rate_ci_low", "fool_rate_ci_high",
                "detect_p"]
        table = table.drop(columns=[c for c in cols if c in table.columns])
        table = table.merge(reader[["epoch"] + cols], on="epoch", how="left")

    values, lows, highs, gate_rows, reasons_all = [], [], [], [], []
    for _, row in table.iterrows():
        value = _num(row, metric)
        low, high = _interval(row, metric)
        gates, reasons = _gates(row, kind, options)
        gates["quality"], why = _quality_gate(row, kind, options, baselines, factor)
        if why:
            reasons.append(why)
        if not math.isfinite(value):
            gates["scored"] = "fail"
            reasons.append(f"it has no {label} score (re-run ganaudit score RUN)")
        else:
            gates["scored"] = "pass"
        values.append(value)
        lows.append(low)
        highs.append(high)
        gate_rows.append(gates)
        reasons_all.append(reasons)
    table["metric"] = metric
    table["metric_value"] = values
    table["metric_ci_low"] = lows
    table["metric_ci_high"] = highs
    gate_names = list(gate_rows[0]) if gate_rows else []
    for name in gate_names:
        table[f"gate_{name}"] = [g[name] for g in gate_rows]
    table["passes_gates"] = [all(v != "fail" for v in g.values()) for g in gate_rows]
    table["gates_failed"] = [sum(v == "fail" for v in g.values()) for g in gate_rows]
    table["reasons"] = ["; ".join(r) for r in reasons_all]
    reasons_by_epoch = dict(zip(table["epoch"].astype(int), reasons_all))
    if study is not None:
        table["readers_detect"] = [
            (bool(p < options.alpha) if math.isfinite(p) else None)
            for p in (_num(r, "detect_p") for _, r in table.iterrows())]

    level = baseline_level(baselines, metric)
    if kind == "2d":
        for col in (M.FD, M.FD_INF):
            ref = baseline_level(baselines, col)
            if col in table.columns and f"{col}_rel" not in table.columns:
                table[f"{col}_rel"] = (pd.to_numeric(table[col], errors="coerce") / ref
                                       if ref is not None else np.nan)
    trend = convergence(table["epoch"], table["metric_value"], window=options.trend_window,
                        alpha=options.trend_alpha, min_improvement=options.min_improvement)

    eligible = table[table["passes_gates"]]
    interval_text = "95 % confidence interval"
    rationale: list[str] = []
    recommendations: list[str] = []
    notes: list[str] = []
    chosen = best = None
    bound = None
    closest, blocked = None, {}
    last_epoch = int(table["epoch"].max()) if len(table) else None
    recent = set(trend["epochs"])
    unhealthy_end = _unhealthy_end(table)
    if eligible.empty:
        table["within_interval"] = False
        interval_kind = "none"
        closest, blocked = _closest(table, gate_names, reasons_by_epoch)
        if unhealthy_end:
            verdict = "restart"
        elif _fixable_by_training(blocked) and not trend["levelled"]:
            verdict = "train-longer"
        else:
            verdict = "no-checkpoint-passes"
    else:
        best_row = eligible.loc[eligible["metric_value"].idxmin()]
        best = int(best_row["epoch"])
        best_value = float(best_row["metric_value"])
        best_high = float(best_row["metric_ci_high"])
        if options.tolerance is None and math.isfinite(best_high):
            bound, interval_kind = max(best_high, best_value), "ci"
            interval_text = ("mean + 1 standard deviation over subsets" if metric == M.KID_MEAN
                             else "95 % confidence interval")
        else:
            tol = DEFAULT_RELATIVE_TOLERANCE if options.tolerance is None else options.tolerance
            bound, interval_kind = best_value + tol * abs(best_value), "tolerance"
            interval_text = (f"relative tolerance of {pct(tol)}"
                             + (" (the best checkpoint's score has no confidence interval)"
                                if options.tolerance is None else ""))
        table["within_interval"] = table["passes_gates"] & (table["metric_value"] <= bound)
        within = table[table["within_interval"]]
        passed_over: list[pd.Series] = []
        beaten: dict[int, dict] = {}
        if study is not None:
            detected = within["readers_detect"].map(lambda v: parse_bool(v) is True)
            beaten = _beaten(comparison, within, options.alpha)
            detected = detected | within["epoch"].isin(list(beaten))
            undetected = within[~detected]
            pick = undetected if not undetected.empty else within
            first = int(pick.iloc[0]["epoch"])
            passed_over = [r for _, r in within[detected].iterrows() if int(r["epoch"]) < first]
        else:
            pick = within
        chosen_row = pick.iloc[0]
        chosen = int(chosen_row["epoch"])
        # More epochs only help while later checkpoints do not copy: once a checkpoint after
        # the best memorizes, the falling metric is the copying, not progress.
        if unhealthy_end:
            verdict = "restart"
        elif _falls_by_copying(table, best):
            verdict = "stop"
        elif trend["still_falling"] is None or (trend["still_falling"] and best in recent):
            verdict = "train-longer"
        else:
            verdict = "stop"
        if verdict == "stop":
            rationale.extend(_explain_choice(table, chosen_row, best_row, label, interval_text,
                                             bound, readers_moved=bool(passed_over)))
            rationale.extend(_explain_readers(chosen_row, passed_over, within, options,
                                              study is not None, beaten))
            if study is not None and table["detect_p"].isna().all():
                rationale.append("The reading study has no results for any of this run's "
                                 "checkpoints (its fakes are not labelled epoch-NNNN of this "
                                 "run), so reader data did not change the pick.")
            rationale.extend(_explain_rejected(table, chosen_row, label))
            rationale.extend(_explain_onset(table, chosen))
    if verdict != "stop":
        rationale.extend(_explain_not_stop(verdict, table, trend, label, chosen, best, closest,
                                           blocked, options, gate_names))
    rationale.extend(_explain_trend(trend, label, verdict,
                                    copying=verdict == "stop" and _falls_by_copying(table, best)))
    rationale.extend(_explain_quality(table, kind, chosen if verdict == "stop" else None,
                                      label, level, options, factor, factor_source))
    rationale.extend(_notes(table, gate_names, kind, chosen=chosen if verdict == "stop" else None))
    notes.extend(_health_notes(table))
    recommendations = _recommend(verdict, table, label, gate_names, trend, chosen, kind)
    stopping = chosen if verdict == "stop" else None
    table["chosen"] = table["epoch"] == stopping if stopping is not None else False
    table["candidate"] = table["epoch"] == chosen if chosen is not None else False

    parameters = {
        "metric": metric,
        "metric_label": label,
        "direction": "lower is better",
        "interval": interval_kind,
        "tolerance": options.tolerance if options.tolerance is not None else (
            DEFAULT_RELATIVE_TOLERANCE if interval_kind == "tolerance" else None),
        "bound": bound,
        "memorization_max": options.memorization_max if kind == "2d" else None,
        "alpha": options.alpha,
        "trend_window": options.trend_window,
        "trend_alpha": options.trend_alpha,
        "min_improvement": options.min_improvement,
        "max_true_error": options.max_true_error if kind == "1d" else None,
        "baseline_factor": factor,
        "baseline_factor_source": factor_source,
        "baseline_level": level if kind == "2d" else None,
        "detectability_max": options.detectability_max if kind == "2d" else None,
        "gates": gate_names,
    }
    text = [t.format(memorization_max=pct(options.memorization_max), metric=label,
                     interval=interval_text, alpha=options.alpha,
                     max_true_error=pct(options.max_true_error),
                     baseline_factor=f"{factor:.0f}" if factor else "–",
                     window=options.trend_window, trend_alpha=options.trend_alpha,
                     min_improvement=pct(options.min_improvement)) for t in RULE_TEXT]
    if kind == "1d":
        text = [t for t in text if not t.startswith("2D")]
    else:
        text = [t for t in text if not t.startswith("1D")]
        if options.detectability_max is not None:
            text.insert(text.index(next(t for t in text if t.startswith("2D"))) + 1,
                        f"2D runs, machine reader (--detectability-max): a checkpoint is also out "
                        f"when a small CNN tells its images from held-out real ones with an AUC "
                        f"whose interval lies wholly above {fmt(options.detectability_max)}.")
    rule = {"name": RULE_NAME, "parameters": parameters, "description": text}
    notes.extend(_baseline_notes(kind, baselines, anchor, metric, label))
    return Decision(stopping_epoch=stopping, best_epoch=best, metric=metric, metric_label=label,
                    bound=bound, interval=interval_text, table=table, rationale=rationale,
                    recommendations=recommendations, rule=rule, verdict=verdict,
                    candidate_epoch=chosen, closest_epoch=closest, blocked=blocked,
                    convergence=trend, baselines=baselines, notes=notes)


HEADLINES = {"stop": "Stop at epoch {epoch}", "train-longer": "Train longer",
             "restart": "Restart training",
             "no-checkpoint-passes": "No checkpoint passes"}


def headline(decision: Decision) -> str:
    """The report's one-line verdict."""
    text = HEADLINES[decision.verdict].format(epoch=decision.stopping_epoch)
    if decision.verdict == "no-checkpoint-passes" and decision.closest_epoch is not None:
        text += f" (closest: epoch {decision.closest_epoch})"
    return text


def _unhealthy_end(table: pd.DataFrame) -> bool:
    health = table.get("gate_health")
    if health is None or not len(health):
        return False
    return bool(health.iloc[-1] == "fail" or (health == "fail").all())


def _closest(table: pd.DataFrame, gate_names: list[str],
             reasons_by_epoch: dict[int, list[str]]) -> tuple[int | None, dict]:
    """The checkpoint that failed the fewest gates (ties: the lower metric, then the earlier),
    and per failed gate what blocked it."""
    if table.empty:
        return None, {}
    order = table.assign(_v=table["metric_value"].fillna(np.inf)).sort_values(
        ["gates_failed", "_v", "epoch"])
    row = order.iloc[0]
    reasons = reasons_by_epoch.get(int(row["epoch"]), [])
    blocked: dict[str, str] = {}
    failing = [g for g in gate_names if row[f"gate_{g}"] == "fail"]
    for gate in failing:
        match = [r for r in reasons if _reason_gate(r) == gate]
        if gate == "findings":
            match += [r for r in reasons if _reason_gate(r) == "findings detail"]
        blocked[gate] = "; ".join(match) if match else "failed"
    return int(row["epoch"]), blocked


def _reason_gate(reason: str) -> str:
    if reason.startswith("training was unhealthy"):
        return "health"
    if "matched a training image" in reason:
        return "memorization"
    if reason.startswith("findings that failed"):
        return "findings detail"
    if "findings" in reason or "finding" in reason:
        return "findings"
    if reason.startswith("it has no"):
        return "scored"
    if reason.startswith("a classifier told"):
        return "detectability"
    return "quality"


def _fixable_by_training(blocked: dict) -> bool:
    """More epochs can cure poor quality, not-yet-learned findings or detectable fakes, not
    copying."""
    return bool(blocked) and set(blocked) <= {"quality", "findings", "detectability"}


def _value_with_ci(row: pd.Series, label: str) -> str:
    value, low, high = row["metric_value"], row["metric_ci_low"], row["metric_ci_high"]
    if math.isfinite(low) and math.isfinite(high):
        return f"{label} {fmt(value)}, interval {fmt(low)}–{fmt(high)}"
    return f"{label} {fmt(value)}"


def _explain_choice(table, chosen_row, best_row, label, interval_text, bound, *,
                    readers_moved: bool):
    chosen, best = int(chosen_row["epoch"]), int(best_row["epoch"])
    out = [f"Stop at epoch {chosen} ({_value_with_ci(chosen_row, label)}; lower is better)."]
    if chosen == best:
        out.append(f"Epoch {chosen} has the lowest {label} of all checkpoints that passed "
                   "every gate.")
    else:
        later_better = table[(table["passes_gates"]) & (table["epoch"] > chosen)
                             & (table["metric_value"] < chosen_row["metric_value"])]
        if chosen > best:
            ending = (f"it is preferred to the better-scoring epoch {best}, whose fakes readers "
                      "recognise.")
        elif not later_better.empty:
            ending = "the later, lower-scoring checkpoints are not measurably better."
        else:
            ending = "the earlier checkpoint is preferred."
        out.append(
            f"The best {label} among checkpoints that passed every gate is epoch {best} "
            f"({_value_with_ci(best_row, label)}); epoch {chosen} is the earliest checkpoint "
            f"within its {interval_text} ({label} ≤ {fmt(bound)})"
            + (" whose fakes readers could not recognise" if readers_moved or chosen > best else "")
            + ", so " + ending)
    return out


def _beaten(comparison, within, alpha) -> dict[int, dict]:
    """Within-interval epochs whose fakes readers detected significantly better than another
    within-interval epoch's (loser epoch → the first such loss, with ``winner_epoch``)."""
    if comparison is None:
        return {}
    from ganaudit.reader_study.analysis import losing_pairs

    table, test = comparison
    epoch_of = {}
    for side in ("a", "b"):
        epoch_of.update({label: epoch for label, epoch in zip(table[f"condition_{side}"], table[f"epoch_{side}"])
                         if pd.notna(epoch)})
    inside = {int(e) for e in within["epoch"]}
    out: dict[int, dict] = {}
    for loss in losing_pairs(table, test, alpha=alpha):
        loser, winner = epoch_of.get(loss["loser"]), epoch_of.get(loss["winner"])
        if loser is not None and winner is not None and int(loser) in inside and int(winner) in inside:
            out.setdefault(int(loser), {**loss, "winner_epoch": int(winner)})
    return out


def _explain_readers(chosen_row, passed_over, within, options, have_study, beaten=None):
    if not have_study:
        return []
    out = []
    chosen = int(chosen_row["epoch"])
    p_chosen = chosen_row.get("detect_p")
    if parse_bool(chosen_row.get("readers_detect")) is True:
        out.append(f"Readers recognised the fakes of every checkpoint within the interval better "
                   f"than chance, epoch {chosen} included (p = {fmt(p_chosen)} < {options.alpha}):"
                   " its images are not yet indistinguishable from real ones.")
        return out
    how = (f"whose fakes readers could not tell from real images (p = {fmt(p_chosen)})"
           if pd.notna(p_chosen) else "which was not part of the reading study")
    for row in passed_over:
        loss = (beaten or {}).get(int(row["epoch"]))
        if loss is not None:
            out.append(f"Readers told epoch {int(row['epoch'])}'s fakes from real images significantly "
                       f"better than epoch {loss['winner_epoch']}'s (mean AUC higher by "
                       f"{fmt(loss['difference'])}, 95 % CI {fmt(loss['ci_low'])} to "
                       f"{fmt(loss['ci_high'])}, p = {fmt(loss['p_value'])} < {options.alpha}, "
                       f"Obuchowski–Rockette comparison), so it loses to epoch {loss['winner_epoch']}.")
            continue
        out.append(f"Readers recognised the fakes of epoch {int(row['epoch'])} better than chance "
                   f"(p = {fmt(row['detect_p'])} < {options.alpha}), so it loses to epoch "
                   f"{chosen}, {how}.")
    if not passed_over and pd.notna(p_chosen):
        out.append(f"Readers could not tell epoch {chosen}'s fakes from real images better than "
                   f"chance (p = {fmt(p_chosen)}, fool rate {pct(chosen_row.get('fool_rate'))}).")
    return out


PLURAL = [("of its images", "of their images"), (": it memorizes", ": they memorize"),
          (": it invents findings", ": they invent findings"),
          (": it distorts findings", ": they distort findings")]


def _explain_rejected(table, chosen_row, label):
    rejected = table[(~table["passes_gates"]) & (table["metric_value"] < chosen_row["metric_value"])]
    rejected = rejected.sort_values(["metric_value", "epoch"])
    overall_min = table["metric_value"].min()
    groups: list[tuple[list[int], str, str, bool]] = []  # epochs, value text, reasons, lowest
    for _, row in rejected.iterrows():
        value, reasons = fmt(row["metric_value"]), row["reasons"]
        if groups and groups[-1][1] == value and groups[-1][2] == reasons:
            groups[-1][0].append(int(row["epoch"]))
        else:
            groups.append(([int(row["epoch"])], value, reasons,
                           bool(row["metric_value"] == overall_min)))
    out = []
    for i, (epochs, value, reasons, lowest) in enumerate(groups):
        if i == 6:
            out.append(f"{len(groups) - 6} more groups of better-scoring checkpoints were "
                       "rejected by the gates (see the table).")
            break
        which = "the lowest" if lowest else "a lower"
        if len(epochs) > 1:
            for one, many in PLURAL:
                reasons = reasons.replace(one, many)
        out.append(f"{_epochs(sorted(epochs)).capitalize()} scored {which} {label} ({value}) but "
                   f"{reasons}.")
    return out


def _explain_onset(table, chosen):
    """Say when memorization starts, when that is after the pick: the first memorizing
    checkpoint, and the epoch from which every checkpoint memorizes."""
    if "gate_memorization" not in table.columns:
        return []
    failing = (table["gate_memorization"] == "fail").to_numpy()
    epochs = table["epoch"].to_numpy()
    if not failing.any() or int(epochs[failing][0]) <= chosen:
        return []
    first = int(epochs[failing][0])
    tail = None
    if failing[-1]:
        start = len(failing) - 1
        while start > 0 and failing[start - 1]:
            start -= 1
        # Worth saying when it is where copying starts, or spans more than the last checkpoint.
        if int(epochs[start]) == first or start < len(failing) - 1:
            tail = int(epochs[start])
    if tail == first:
        return [f"From epoch {first} on, every checkpoint memorizes training images; the stopping "
                f"epoch {chosen} comes before memorization starts."]
    then = f"; every checkpoint from epoch {tail} on does" if tail is not None else ""
    return [f"Memorization starts at epoch {first} ({_epochs(epochs[failing])} memorize training "
            f"images{then}); the stopping epoch {chosen} comes before it."]


def _gate_counts(table, gate_names):
    out = []
    n = len(table)
    words = {"health": "were unhealthy", "memorization": "memorized training images",
             "findings": "failed the findings audit", "scored": "had no score",
             "quality": "failed the absolute-quality limit",
             "detectability": "were told apart from real images by the machine reader"}
    for name in gate_names:
        failed = table[table[f"gate_{name}"] == "fail"]["epoch"]
        if len(failed):
            out.append(f"{len(failed)} of {n} checkpoints {words[name]} ({_epochs(failed)}).")
    return out


def _notes(table, gate_names, kind, *, chosen=None):
    out = []
    hints = {"memorization": ("checked for copies of training images",
                              "ganaudit score RUN makes it"),
             "findings": ("checked for invented findings",
                          "ganaudit score RUN runs it on phantom data; for other data there is no "
                          "built-in finding detector: use ganaudit audit findings --detector SPEC")}
    if "gate_health" in table.columns and (table["gate_health"] == "no training history").all():
        out.append("There is no training history (the run was imported without --history), so "
                   "the health gate judged no checkpoint: training health (discriminator winning "
                   "or collapsing) is unknown. Give the training log with ganaudit import "
                   "--history CSV to check it.")
    for name, (what, how) in hints.items():
        col = f"gate_{name}"
        if col in table.columns:
            missing = table[table[col] == "not audited"]["epoch"]
            if len(missing) == len(table):
                out.append(f"No checkpoint has a {name} audit, so none was {what} ({how}).")
            elif len(missing):
                itself = (f" — the stopping epoch {chosen} among them, so it was picked without "
                          "that check" if chosen is not None and chosen in set(missing) else "")
                out.append(f"The {name} audit is missing for {_epochs(missing)}: those "
                           f"checkpoints were not {what} ({how}){itself}.")
    return out


def _explain_not_stop(verdict, table, trend, label, chosen, best, closest, blocked, options,
                      gate_names):
    out = []
    if verdict == "restart":
        out.append("Training was unhealthy at the end of the run, so no checkpoint is "
                   "recommended: the generator is no longer learning from the discriminator.")
    elif chosen is None:
        out.append("No checkpoint passed every gate, so this report recommends no stopping "
                   "epoch.")
    if chosen is not None and verdict == "train-longer":
        row = table[table["epoch"] == chosen].iloc[0]
        if trend["still_falling"] is None:
            out.append(f"Epoch {chosen} passes every gate ({_value_with_ci(row, label)}), but the "
                       f"run has only {trend['n']} scored checkpoint"
                       f"{'s' if trend['n'] != 1 else ''}: at least {trend['window']} are needed to "
                       f"show that the {label} has stopped falling.")
        else:
            out.append(f"Epoch {chosen} passes every gate ({_value_with_ci(row, label)}), but the "
                       f"best checkpoint (epoch {best}) is among the last {trend['window']} and "
                       f"the {label} is still falling there: a later checkpoint is likely better.")
    if chosen is None and closest is not None:
        row = table[table["epoch"] == closest].iloc[0]
        what = "; ".join(blocked.values()) if blocked else "it failed a gate"
        out.append(f"The closest checkpoint is epoch {closest} ({_value_with_ci(row, label)}), "
                   f"which failed {len(blocked)} gate{'s' if len(blocked) != 1 else ''}: {what}.")
    if chosen is None:
        out.extend(_gate_counts(table, gate_names))
    return out


def _falls_by_copying(table, best) -> bool:
    later = table[table["epoch"] > best] if best is not None else table.iloc[:0]
    return bool("gate_memorization" in later.columns
                and (later["gate_memorization"] == "fail").any())


def _explain_trend(trend, label, verdict, *, copying=False):
    if trend["still_falling"] is None:
        if verdict == "stop":
            return []
        return [f"Convergence could not be judged: {trend['n']} scored checkpoint"
                f"{'s' if trend['n'] != 1 else ''}, fewer than the trend window of "
                f"{trend['window']}."]
    span = f"epochs {trend['epochs'][0]}–{trend['epochs'][-1]}"
    drop = trend["relative_drop"]
    change = (f"fell by {pct(drop)} along its fitted trend" if drop >= 0
              else f"rose by {pct(-drop)} along its fitted trend")
    test = (f"Kendall τ = {trend['tau']:.2f}, one-sided p = {fmt(trend['p_value'])}, "
            f"α = {trend['alpha']:g}")
    if trend["still_falling"] and copying:
        return [f"Over the last {trend['window']} checkpoints ({span}) the {label} {change} "
                f"({test}), but that fall comes from checkpoints that copy training images, "
                "not from a better generator: training longer would only copy more."]
    if trend["still_falling"]:
        return [f"Over the last {trend['window']} checkpoints ({span}) the {label} {change} "
                f"({test}): it is still falling measurably."]
    why = ("the downward trend is not significant" if trend["p_value"] >= trend["alpha"]
           else f"the fall is smaller than the {pct(trend['min_improvement'])} that counts as "
                "measurable")
    return [f"Over the last {trend['window']} checkpoints ({span}) the {label} {change} "
            f"({test}); {why}, so training has converged for this metric."]


def _explain_quality(table, kind, chosen, label, level, options, factor=None, source=None):
    if chosen is None:
        return []
    row = table[table["epoch"] == chosen].iloc[0]
    if kind == "1d":
        rel = _num(row, M.TRUE_ERROR_REL)
        if math.isfinite(rel):
            return [f"Absolute quality: epoch {chosen}'s true error is {pct(rel)} of the pattern's "
                    f"y-range (limit {pct(options.max_true_error)})."]
        return []
    if level is None:
        return []
    ratio = float(row["metric_value"]) / level
    anchor = (f", the level of {source}" if source and source != "--baseline-factor" else "")
    return [f"Absolute quality: {label} at epoch {chosen} is {ratio:.0f}× the real-vs-real level "
            f"({fmt(row['metric_value'])} against {fmt(level)} between two sets of real images; "
            f"limit {factor:.0f}×{anchor})."]


def _baseline_notes(kind, baselines, anchor, metric, label) -> list[str]:
    if kind != "2d" or not anchor:
        return []
    if metric == M.FD_INF and (baselines.get(M.FD_INF) or {}).get("value") is not None \
            and float(baselines[M.FD_INF]["value"]) <= 0:
        return []
    level = baseline_level(baselines, metric)
    value = anchor.get(metric)
    if level is None or value is None:
        return []
    return [f"What the numbers mean: two sets of real images score {label} {fmt(level)}; the same "
            f"real images blurred by half a pixel score {fmt(value)} ({float(value) / level:.0f}× "
            "as much). This feature space is very sensitive to sharpness and intensity, so "
            "ratios of tens or hundreds are normal for generated images; the quality limit is "
            "that blur."]


def _health_notes(table) -> list[str]:
    """Say when one class's accuracy stays outside 10–90 % while the gate's average is fine."""
    out = []
    for col, what in ((M.D_ACC_REAL, "real"), (M.D_ACC_FAKE, "fake")):
        if col not in table.columns:
            continue
        acc = pd.to_numeric(table[col], errors="coerce")
        outside = table.loc[(acc > 0.9) | (acc < 0.1), "epoch"]
        if len(outside) and len(outside) >= max(2, len(table) // 2):
            side = "above 90 %" if (acc.loc[outside.index] > 0.9).mean() >= 0.5 else "below 10 %"
            out.append(f"The discriminator's accuracy on {what} images stayed {side} at "
                       f"{_epochs(outside)} ({len(outside)} of {len(table)} checkpoints). The "
                       "health gate uses the average over real and fake images, which is what "
                       "the training plot shows in bold; one-sided accuracy like this is common "
                       "early in DCGAN training but, if it persists, the discriminator is "
                       "winning on that class.")
    return out


def _recommend(verdict, table, label, gate_names, trend, chosen, kind):
    recs = []
    if verdict == "restart":
        recs.append("Training became unhealthy (the discriminator wins or loses outright): "
                    "restart training with another seed or a lower learning rate, as the "
                    "seed article advises; more epochs will not recover it.")
        return recs
    if verdict == "train-longer":
        if trend["still_falling"]:
            why = f"the {label} is still falling"
        elif trend["still_falling"] is None:
            why = "the run is too short to show convergence"
        else:
            why = (f"the {label} fell by {pct(trend['relative_drop'])} over the last "
                   f"{trend['window']} checkpoints, too noisily to call a trend but too much to "
                   "call it levelled off: it is too early to judge")
        recs.append(f"Train longer (ganaudit train{kind} … --resume with more epochs), then score "
                    f"and report again: {why}.")
    if verdict == "stop":
        return recs
    if "gate_quality" in table.columns and (table["gate_quality"] == "fail").all() \
            and verdict == "no-checkpoint-passes":
        recs.append(f"No checkpoint reaches the absolute-quality limit and the {label} has "
                    "stopped improving: change the training settings (learning rate, model size, "
                    "more or better data) and train again.")
    if "gate_memorization" in table.columns and (table["gate_memorization"] == "fail").any():
        recs.append("The generator copies training images: train on more images or with "
                    "augmentation, or lower the generator's capacity, and score again.")
    if "gate_findings" in table.columns and (table["gate_findings"] == "fail").any():
        recs.append("The generator invents or distorts findings: train longer or on more images "
                    "that show the finding, then audit again.")
    if "gate_detectability" in table.columns and (table["gate_detectability"] == "fail").any():
        recs.append("A classifier tells the generated images from real ones: "
                    "RUN/audit/epoch-NNNN/detectability/saliency.png shows where it looks and "
                    "gallery.png the fakes that give themselves away; fix that and train again.")
    if (table["gate_scored"] == "fail").all():
        recs.append(f"No checkpoint has a {label} score: run ganaudit score RUN.")
    if not recs:
        recs.append("Change the training settings (seed, learning rate, data) and train again.")
    return recs
