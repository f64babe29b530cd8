"""Hallucinated / suppressed findings audit: does the GAN change what a radiologist would see?

One instrument everywhere: the same detector (``ganaudit.evaluation.detectors``) reads the real and the
generated images, and generated images are compared with the *detector's* reading of the real
ones, never with the real images' labels. A detector's false positives then occur on both
sides and do not count against the generator. Where labels exist they are used only to say
how far the detector can be trusted (its sensitivity and specificity on the real images).

Two kinds of test, one family:

- **Findings** — every 0/1 finding (e.g. ``lesion``) and every location value (e.g.
  ``lesion_side=right``): prevalence among generated vs real images, Fisher's exact test,
  two-sided (the generator may invent or suppress a finding).
- **Impossible combinations** — a value or a combination of values of up to ``max_order``
  columns (e.g. ``lesion=1, lesion_side=right``) that the real images show no more often than
  the margin (it is negligible in the population) but some generated image shows: Fisher's
  exact test, one-sided (generated more often than real). Judged against the real images'
  rate, not against zero, and only with at least ``min_real`` real images.

All p-values are corrected together (Holm's step-down method by default, or Bonferroni).
A test **fails** only when both hold:

1. its corrected p-value is at most ``alpha`` (the difference is real), and
2. the simultaneous confidence interval of the prevalence difference (generated − real;
   Newcombe's hybrid score interval at level 1 − ``alpha`` / number of tests) lies wholly
   beyond the clinically negligible ``margin`` (for impossible combinations: its lower end
   above ``margin``).

So a large study cannot fail a generator for a negligible difference, and a small one cannot
pass it for lack of a test: the family-wise chance of a failure is at most ``alpha`` both when
nothing differs (Holm) and when every difference is within the margin (Bonferroni intervals).

Direction: fewer failed tests and impossible images are better (0 is the goal); larger
p-values mean no detectable shift.

Summary keys are the ``KEY_*`` constants and per-test keys the ``E_*`` constants below; the
report reads them from ``summary.json`` by these names. ``describe_findings`` turns a summary
into sentences for a radiologist.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ganaudit.evaluation.detectors import Detector
from ganaudit.evaluation.memorization import wilson_interval
from ganaudit.evaluation.nn_search import check_images
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.grids import figure_png
from ganaudit.schema import layout

DEFAULT_MIN_REAL = 200
DEFAULT_ALPHA = 0.05
DEFAULT_MARGIN = 0.02
DEFAULT_CORRECTION = "holm"
CORRECTIONS = ("holm", "bonferroni")
DEFAULT_MAX_ORDER = 2

# summary.json: top-level keys.
KEY_DETECTOR = "detector"  # detector spec, e.g. "builtin:phantom"
KEY_N_REAL = "n_real"
KEY_N_GENERATED = "n_generated"
KEY_REAL_SOURCE = "real_source"  # always "detector": the real side is read by the detector
KEY_ALPHA = "alpha"  # family-wise error rate
KEY_MARGIN = "margin"  # clinically negligible prevalence difference (a share, 0.02 = 2 points)
KEY_CORRECTION = "correction"  # "holm" or "bonferroni"
KEY_CI_LEVEL = "ci_level"  # level of each prevalence interval (1 − alpha)
KEY_DIFFERENCE_CI_LEVEL = "difference_ci_level"  # level of the difference intervals (1 − alpha/m)
KEY_N_TESTS = "n_tests"  # m: findings plus impossible-combination tests
KEY_FINDINGS = "findings"  # finding or location name -> test entry (E_* keys)
KEY_IMPOSSIBLE_COMBINATIONS = "impossible_combinations"  # list of test entries (E_* keys)
KEY_IMPOSSIBLE_CHECKED = "impossible_checked"  # False with fewer than min_real real images
KEY_MIN_REAL = "min_real"
KEY_IMPOSSIBLE = "impossible"  # generated images showing a failed combination (None: not judged)
KEY_IMPOSSIBLE_RATE = "impossible_rate"
KEY_MIN_P = "min_p"  # smallest corrected p-value over all tests (None without tests)
KEY_SIGNIFICANT = "significant"  # some corrected p-value ≤ alpha (margin not considered)
KEY_FAILED = "failed"  # names of the failed tests (significant AND beyond the margin)
KEY_PASSED = "passed"  # no test failed
KEY_DETECTOR_ACCURACY = "detector_accuracy"  # column -> accuracy entry (A_* keys); None without labels
KEY_LABELS = "labels"  # where the real images' labels came from; None without labels
KEY_COOCCURRENCE = "cooccurrence"  # {"real"|"generated": {"a&b": count}}

# One test entry (a finding, a location value or an impossible combination).
E_NAME = "name"  # "lesion", "lesion_side=right", "lesion=1, enlarged_ventricles=1"
E_KIND = "kind"  # "finding", "location" or "combination"
E_ATOMS = "atoms"  # the column=value parts
E_ALTERNATIVE = "alternative"  # "two-sided" (findings) or "greater" (generated > real)
E_REAL_COUNT = "real_count"
E_REAL_N = "real_n"
E_REAL_PREVALENCE = "real_prevalence"
E_REAL_CI_LOW = "real_ci_low"
E_REAL_CI_HIGH = "real_ci_high"
E_GENERATED_COUNT = "generated_count"
E_GENERATED_N = "generated_n"
E_GENERATED_PREVALENCE = "generated_prevalence"
E_GENERATED_CI_LOW = "generated_ci_low"
E_GENERATED_CI_HIGH = "generated_ci_high"
E_DIFFERENCE = "difference"  # generated − real prevalence
E_DIFFERENCE_CI_LOW = "difference_ci_low"
E_DIFFERENCE_CI_HIGH = "difference_ci_high"
E_ODDS_RATIO = "odds_ratio"
E_P_VALUE = "p_value"  # Fisher's exact test, uncorrected
E_P_ADJUSTED = "p_adjusted"  # after the correction
E_SIGNIFICANT = "significant"
E_BEYOND_MARGIN = "beyond_margin"
E_PASSED = "passed"
E_REASON = "reason"  # one sentence: why it passed or failed

# Detector accuracy against labels (per column of the detector that the labels also have).
A_SENSITIVITY = "sensitivity"
A_SENSITIVITY_COUNT = "true_positives"
A_N_POSITIVE = "n_positive"
A_SENSITIVITY_CI = ("sensitivity_ci_low", "sensitivity_ci_high")
A_SPECIFICITY = "specificity"
A_SPECIFICITY_COUNT = "true_negatives"
A_N_NEGATIVE = "n_negative"
A_SPECIFICITY_CI = ("specificity_ci_low", "specificity_ci_high")
A_ACCURACY = "accuracy"  # location columns: share right among images where both give a value
A_ACCURACY_COUNT = "correct"
A_N = "n"

# Radiological convention: the patient's left is on the image's right.
ORIENTATION = {"left": "patient's left (image right)", "right": "patient's right (image left)"}


@dataclass(frozen=True)
class FindingsSettings:
    """How the findings audit decides; checked once.

    Attributes
    ----------
    alpha : family-wise error rate of all tests together, and 1 − level of each prevalence
        interval.
    margin : clinically negligible difference in prevalence (a share: 0.02 = 2 percentage
        points). A difference whose simultaneous interval reaches inside ±margin is not a
        failure, however small its p-value.
    correction : "holm" (default) or "bonferroni" for the p-values.
    min_real : impossible combinations are judged only with at least this many real images.
    max_order : largest number of columns combined in the impossible check (1: single values,
        2: pairs such as ``lesion=1, lesion_side=right``).
    """

    alpha: float = DEFAULT_ALPHA
    margin: float = DEFAULT_MARGIN
    correction: str = DEFAULT_CORRECTION
    min_real: int = DEFAULT_MIN_REAL
    max_order: int = DEFAULT_MAX_ORDER

    def __post_init__(self):
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise InputError(f"alpha must be a probability between 0 and 1 (exclusive), got {self.alpha!r}; "
                             "e.g. 0.05 (command line: --alpha 0.05)")
        if (isinstance(self.margin, bool) or not isinstance(self.margin, (int, float))
                or not 0 <= self.margin < 1):
            raise InputError(f"margin must be a prevalence difference between 0 and 1, got {self.margin!r}; "
                             "e.g. 0.02 for 2 percentage points (command line: --margin 0.02)")
        if self.correction not in CORRECTIONS:
            raise InputError(f"correction must be one of {', '.join(CORRECTIONS)}, got {self.correction!r}")
        if isinstance(self.min_real, bool) or not isinstance(self.min_real, (int, np.integer)) or self.min_real < 1:
            raise InputError(f"min_real must be a positive number of images, got {self.min_real!r}")
        if (isinstance(self.max_order, bool) or not isinstance(self.max_order, (int, np.integer))
                or self.max_order < 1):
            raise InputError(f"max_order must be a positive number of columns, got {self.max_order!r}")


@dataclass
class FindingsResult:
    """Outcome of ``findings_audit``.

    Attributes
    ----------
    table : one row per generated image: ``file``, the detector's columns, ``impossible``
        (bool: it shows a failed impossible combination) and ``impossible_reason``.
    summary : see the module docstring and the ``KEY_*`` constants.
    real_table : the detector's columns for the real images.
    """

    table: pd.DataFrame
    summary: dict
    real_table: pd.DataFrame


# ----------------------------------------------------------------------------- statistics

def adjust_p_values(p_values, method: str = DEFAULT_CORRECTION) -> np.ndarray:
    """Family-wise corrected p-values: Holm's step-down method or Bonferroni.

    A test is significant at family-wise level α when its corrected p-value is ≤ α.

    References
    ----------
    S. Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statist.
    6 (1979) 65–70.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method != "holm":
        raise InputError(f"correction must be one of {', '.join(CORRECTIONS)}, got {method!r}")
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, stepped)
    return adjusted


def difference_interval(k1: int, n1: int, k2: int, n2: int, *, alpha: float) -> tuple[float, float]:
    """Confidence interval of p1 − p2 for two independent proportions (Newcombe's hybrid score
    interval, his method 10, built from the two Wilson intervals).

    References
    ----------
    R. G. Newcombe, "Interval estimation for the difference between independent proportions:
    comparison of eleven methods", Statistics in Medicine 17 (1998) 873–890.
    """
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, alpha=alpha)
    l2, u2 = wilson_interval(k2, n2, alpha=alpha)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def _entry(name: str, kind: str, atoms: list[str], alternative: str, real_hits: np.ndarray,
           gen_hits: np.ndarray, alpha: float) -> dict:
    """Counts, prevalences with Wilson intervals and Fisher's exact test of one test."""
    from scipy.stats import fisher_exact

    n_real, n_gen = len(real_hits), len(gen_hits)
    r1, g1 = int(real_hits.sum()), int(gen_hits.sum())
    odds, p = fisher_exact([[g1, n_gen - g1], [r1, n_real - r1]], alternative=alternative)
    r_low, r_high = wilson_interval(r1, n_real, alpha=alpha)
    g_low, g_high = wilson_interval(g1, n_gen, alpha=alpha)
    return {E_NAME: name, E_KIND: kind, E_ATOMS: atoms, E_ALTERNATIVE: alternative,
            E_REAL_COUNT: r1, E_REAL_N: n_real, E_REAL_PREVALENCE: r1 / n_real,
            E_REAL_CI_LOW: r_low, E_REAL_CI_HIGH: r_high,
            E_GENERATED_COUNT: g1, E_GENERATED_N: n_gen, E_GENERATED_PREVALENCE: g1 / n_gen,
            E_GENERATED_CI_LOW: g_low, E_GENERATED_CI_HIGH: g_high,
            E_DIFFERENCE: g1 / n_gen - r1 / n_real, E_ODDS_RATIO: float(odds), E_P_VALUE: float(p)}


def _decide(entry: dict, p_adjusted: float, settings: FindingsSettings, level_alpha: float) -> None:
    """Fill in the difference interval, significance, margin and the verdict of one test."""
    low, high = difference_interval(entry[E_GENERATED_COUNT], entry[E_GENERATED_N],
                                    entry[E_REAL_COUNT], entry[E_REAL_N], alpha=level_alpha)
    margin, alpha = settings.margin, settings.alpha
    significant = bool(p_adjusted <= alpha)
    if entry[E_ALTERNATIVE] == "greater":
        beyond = bool(low > margin)
    else:
        beyond = bool(low > margin or high < -margin)
    entry.update({E_DIFFERENCE_CI_LOW: low, E_DIFFERENCE_CI_HIGH: high, E_P_ADJUSTED: float(p_adjusted),
                  E_SIGNIFICANT: significant, E_BEYOND_MARGIN: beyond,
                  E_PASSED: not (significant and beyond)})
    name = settings.correction.capitalize()
    level = f"{_pct(1 - level_alpha)} interval {_points(low, sign=True, unit=False)} to {_points(high, sign=True)}"
    if not significant:
        entry[E_REASON] = (f"passed: no significant difference ({name}-corrected p = {_p(p_adjusted)} "
                           f"> α = {alpha:g})")
    elif not beyond:
        entry[E_REASON] = (f"passed: significant ({name}-corrected p = {_p(p_adjusted)}) but possibly "
                           f"clinically negligible: the difference's {level} reaches inside the "
                           f"±{_points(margin)} margin")
    else:
        more = entry[E_DIFFERENCE] > 0
        what = ("generated images show it more often than real ones (invented)" if more else
                "generated images show it less often than real ones (suppressed)")
        entry[E_REASON] = (f"failed: {what}; difference {_points(entry[E_DIFFERENCE], sign=True)} "
                           f"({level}, beyond the ±{_points(margin)} margin), {name}-corrected "
                           f"p = {_p(p_adjusted)} ≤ α = {alpha:g}")


# ----------------------------------------------------------------------------- detector accuracy

def detector_accuracy(detected: pd.DataFrame, labels: pd.DataFrame, findings: list[str],
                      categories: list[str], *, alpha: float = DEFAULT_ALPHA) -> dict:
    """Sensitivity and specificity (with Wilson intervals and counts) of each finding column,
    and the accuracy of each location column on images where labels and detector both give
    a value, for the detector's columns the labels also have. Higher is better.
    """
    out: dict[str, dict] = {}
    for c in findings:
        if c not in labels.columns:
            continue
        truth = labels[c].to_numpy().astype(int)
        pred = detected[c].to_numpy().astype(int)
        pos, neg = int((truth == 1).sum()), int((truth == 0).sum())
        tp, tn = int(((pred == 1) & (truth == 1)).sum()), int(((pred == 0) & (truth == 0)).sum())
        out[c] = {A_SENSITIVITY: tp / pos if pos else None, A_SENSITIVITY_COUNT: tp, A_N_POSITIVE: pos,
                  A_SENSITIVITY_CI[0]: wilson_interval(tp, pos, alpha=alpha)[0] if pos else None,
                  A_SENSITIVITY_CI[1]: wilson_interval(tp, pos, alpha=alpha)[1] if pos else None,
                  A_SPECIFICITY: tn / neg if neg else None, A_SPECIFICITY_COUNT: tn, A_N_NEGATIVE: neg,
                  A_SPECIFICITY_CI[0]: wilson_interval(tn, neg, alpha=alpha)[0] if neg else None,
                  A_SPECIFICITY_CI[1]: wilson_interval(tn, neg, alpha=alpha)[1] if neg else None}
    for c in categories:
        if c not in labels.columns:
            continue
        truth = labels[c].fillna("").astype(str).to_numpy()
        pred = detected[c].fillna("").astype(str).to_numpy()
        both = (truth != "") & (pred != "")
        right = int((truth[both] == pred[both]).sum())
        out[c] = {A_ACCURACY: right / int(both.sum()) if both.any() else None,
                  A_ACCURACY_COUNT: right, A_N: int(both.sum())}
    return out


def _check_labels(labels, n: int, findings: list[str], categories: list[str]) -> pd.DataFrame:
    table = pd.DataFrame(labels).reset_index(drop=True)
    if len(table) != n:
        raise InputError(f"real_labels has {len(table)} rows for {n} real images; give one row per "
                         "real image, in the same order")
    if not [c for c in findings + categories if c in table.columns]:
        raise InputError(f"real_labels has none of the detector's columns {findings + categories} "
                         f"(it has {list(table.columns)}); its accuracy cannot be measured")
    table = table.copy()
    for f in findings:
        if f not in table.columns:
            continue
        values = pd.to_numeric(table[f], errors="coerce")
        if values.isna().any() or not set(values.unique()) <= {0, 1}:
            raise InputError(f"real_labels column {f!r} must hold only 0/1")
        table[f] = values.astype(int)
    for c in categories:
        if c in table.columns:
            table[c] = table[c].fillna("").astype(str)
    return table


def _check_detected(detected, n: int, detector: Detector, what: str) -> pd.DataFrame:
    table = pd.DataFrame(detected).reset_index(drop=True)
    if len(table) != n:
        raise InputError(f"{what} has {len(table)} rows for {n} images; pass the detector's output "
                         "for exactly these images")
    missing = [c for c in detector.findings + detector.categories if c not in table.columns]
    if missing:
        raise InputError(f"{what} lacks the detector's columns {missing}; pass the output of "
                         f"detector {detector.name} itself")
    table = table.copy()
    for f in detector.findings:
        table[f] = table[f].astype(int)
    for c in detector.categories:
        table[c] = table[c].fillna("").astype(str)
    return table


# ----------------------------------------------------------------------------- the audit

def _atoms(frame: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """Per row, the ``column=value`` strings of the checked columns."""
    values = {c: frame[c].fillna("").astype(str).replace("", "none").to_numpy() for c in columns}
    return [[f"{c}={values[c][i]}" for c in columns] for i in range(len(frame))]


def _combos(atoms: list[str], max_order: int) -> list[tuple[str, ...]]:
    out = []
    for order in range(1, max_order + 1):
        out.extend(itertools.combinations(atoms, order))
    return out


def findings_audit(real, generated, detector, *, settings: FindingsSettings | None = None,
                   real_labels: pd.DataFrame | None = None, labels_source: str | None = None,
                   real_detected: pd.DataFrame | None = None, generated_names=None) -> FindingsResult:
    """Compare findings in real and generated images, both read by one detector.

    Parameters
    ----------
    real, generated : (N, S, S) images in [-1, 1].
    detector : a ``Detector`` or any callable images → DataFrame of 0/1 finding columns
        (text columns are location categories).
    settings : ``FindingsSettings`` (alpha, margin, correction, min_real, max_order).
    real_labels : optional true labels of the real images, one row per image in order. Used
        only to measure the detector's sensitivity and specificity (``detector_accuracy``),
        never in the comparison.
    labels_source : where the labels came from, for the summary (e.g. a file path).
    real_detected : the detector's output for ``real``, when already computed (a run scores
        many checkpoints against one real set).
    generated_names : names for the table (default ``generated-00000`` …).

    Returns
    -------
    FindingsResult

    References
    ----------
    R. A. Fisher, "On the interpretation of χ² from contingency tables, and the calculation of
    P", J. R. Stat. Soc. 85 (1922) 87–94 (exact test via ``scipy.stats.fisher_exact``);
    Holm (1979) and Newcombe (1998), see ``adjust_p_values`` and ``difference_interval``.
    """
    settings = settings if settings is not None else FindingsSettings()
    if not isinstance(settings, FindingsSettings):
        raise InputError(f"settings must be a FindingsSettings, got {type(settings).__name__}")
    real = check_images(real, "real images")
    generated = check_images(generated, "generated images")
    if real.shape[1:] != generated.shape[1:]:
        raise InputError(f"image sizes differ: real {real.shape[1]}² vs generated {generated.shape[1]}²; "
                         "resize both to one size (e.g. --size S)")
    if not callable(detector):
        raise InputError(f"detector must be callable (images -> DataFrame), got {type(detector).__name__}")
    if not isinstance(detector, Detector):
        detector = Detector(getattr(detector, "__name__", "detector"), detector)
    gen_table = detector(generated)
    findings, categories = list(detector.findings), list(detector.categories)
    if real_detected is None:
        real_table = detector(real)
    else:
        real_table = _check_detected(real_detected, len(real), detector, "real_detected")
    accuracy = None
    if real_labels is not None:
        labels = _check_labels(real_labels, len(real), findings, categories)
        accuracy = detector_accuracy(real_table, labels, findings, categories, alpha=settings.alpha)
    if generated_names is None:
        generated_names = [f"generated-{i:05d}" for i in range(len(generated))]
    elif len(generated_names) != len(generated):
        raise InputError(f"generated_names: {len(generated_names)} names for {len(generated)} images")

    n_real, n_gen = len(real), len(generated)
    alpha = settings.alpha
    entries: list[dict] = []
    for f in findings:
        entries.append(_entry(f, "finding", [f"{f}=1"], "two-sided", real_table[f].to_numpy() == 1,
                              gen_table[f].to_numpy() == 1, alpha))
    for c in categories:
        real_values, gen_values = real_table[c].astype(str), gen_table[c].astype(str)
        for v in sorted((set(real_values) | set(gen_values)) - {""}):
            entries.append(_entry(f"{c}={v}", "location", [f"{c}={v}"], "two-sided",
                                  (real_values == v).to_numpy(), (gen_values == v).to_numpy(), alpha))

    # Impossible combinations: negligible among real images (prevalence ≤ margin), shown by
    # some generated image; only the smallest such combinations (a pair holding a negligible
    # value adds nothing to that value).
    checked = findings + categories
    judged = n_real >= settings.min_real
    real_atoms, gen_atoms = _atoms(real_table, checked), _atoms(gen_table, checked)
    real_combo_sets = [set(_combos(a, settings.max_order)) for a in real_atoms]
    gen_combo_sets = [set(_combos(a, settings.max_order)) for a in gen_atoms]
    combo_entries: list[dict] = []
    if judged:
        real_counts: dict[tuple[str, ...], int] = {}
        for combos in real_combo_sets:
            for combo in combos:
                real_counts[combo] = real_counts.get(combo, 0) + 1
        shown = sorted(set().union(*gen_combo_sets), key=lambda c: (len(c), c)) if gen_combo_sets else []
        rare = [c for c in shown if real_counts.get(c, 0) / n_real <= settings.margin]
        rare_set = set(rare)
        minimal = [c for c in rare if not any(set(s) < set(c) for s in rare_set if len(s) < len(c))]
        for combo in minimal:
            combo_entries.append(_entry(", ".join(combo), "combination", list(combo), "greater",
                                        np.array([combo in s for s in real_combo_sets]),
                                        np.array([combo in s for s in gen_combo_sets]), alpha))

    tests = entries + combo_entries
    m = len(tests)
    adjusted = adjust_p_values([e[E_P_VALUE] for e in tests], settings.correction)
    level_alpha = alpha / m if m else alpha
    for entry, p_adj in zip(tests, adjusted):
        _decide(entry, float(p_adj), settings, level_alpha)

    failed_combos = [tuple(e[E_ATOMS]) for e in combo_entries if not e[E_PASSED]]
    reasons = ["; ".join(", ".join(c) for c in failed_combos if c in combos) for combos in gen_combo_sets]
    impossible = np.array([bool(r) for r in reasons]) if judged else np.zeros(n_gen, bool)

    table = pd.concat([pd.DataFrame({"file": list(map(str, generated_names))}), gen_table], axis=1)
    table["impossible"] = impossible
    table["impossible_reason"] = reasons if judged else [""] * n_gen

    cooccurrence = {"real": {}, "generated": {}}
    for a, b in itertools.combinations(findings, 2):
        key = f"{a}&{b}"
        cooccurrence["real"][key] = int(((real_table[a] == 1) & (real_table[b] == 1)).sum())
        cooccurrence["generated"][key] = int(((gen_table[a] == 1) & (gen_table[b] == 1)).sum())

    # A negligible single value is tested twice (as a finding, two-sided, and as an impossible
    # combination, one-sided); its name is listed once.
    failed = list(dict.fromkeys(e[E_NAME] for e in tests if not e[E_PASSED]))
    summary = {
        KEY_DETECTOR: getattr(detector, "name", "detector"),
        KEY_N_REAL: n_real,
        KEY_N_GENERATED: n_gen,
        KEY_REAL_SOURCE: "detector",
        KEY_ALPHA: alpha,
        KEY_MARGIN: settings.margin,
        KEY_CORRECTION: settings.correction,
        KEY_CI_LEVEL: 1 - alpha,
        KEY_DIFFERENCE_CI_LEVEL: 1 - level_alpha,
        KEY_N_TESTS: m,
        KEY_FINDINGS: {e[E_NAME]: e for e in entries},
        KEY_IMPOSSIBLE_COMBINATIONS: combo_entries,
        KEY_IMPOSSIBLE_CHECKED: judged,
        KEY_MIN_REAL: settings.min_real,
        KEY_IMPOSSIBLE: int(impossible.sum()) if judged else None,
        KEY_IMPOSSIBLE_RATE: float(impossible.mean()) if judged else None,
        KEY_MIN_P: float(adjusted.min()) if m else None,
        KEY_SIGNIFICANT: bool(m and adjusted.min() <= alpha),
        KEY_FAILED: failed,
        KEY_PASSED: not failed,
        KEY_DETECTOR_ACCURACY: accuracy,
        KEY_LABELS: (labels_source or "given") if real_labels is not None else None,
        KEY_COOCCURRENCE: cooccurrence,
    }
    return FindingsResult(table, summary, real_table)


# ----------------------------------------------------------------------------- words

def _pct(x: float) -> str:
    """A share as a percentage; never rounded onto 0 or 100 unless it is."""
    if abs(x) < 1e-12:  # a Wilson bound at 0 comes back as round-off
        return "0.0 %"
    value = 100 * x
    text = f"{value:.1f}"
    if text in ("0.0", "-0.0") and x != 0:
        text = "<0.1" if x > 0 else ">-0.1"
    elif text == "100.0" and x != 1:
        text = ">99.9"
    return f"{text} %"


def _points(x: float, *, sign: bool = False, unit: bool = True) -> str:
    """A prevalence difference in percentage points."""
    if abs(x) < 1e-12:
        x = 0.0
    text = f"{100 * x:+.1f}" if sign else f"{100 * x:.1f}"
    return f"{text} points" if unit else text


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _atom_words(atom: str) -> str:
    """``lesion_side=right`` → ``lesion side: patient's right (image left)``."""
    column, _, value = atom.partition("=")
    if "side" in column.lower() and value.lower() in ORIENTATION:
        return f"{column.replace('_', ' ')}: {ORIENTATION[value.lower()]}"
    return f"{column.replace('_', ' ')} = {value}"


def _entry_words(entry: dict) -> str:
    if entry[E_KIND] == "finding":
        return entry[E_NAME].replace("_", " ").capitalize()
    return " with ".join(_atom_words(a) for a in entry[E_ATOMS]).capitalize()


def _rate_words(entry: dict, side: str) -> str:
    prefix = "real" if side == "real" else "generated"
    return (f"{side} {_pct(entry[f'{prefix}_prevalence'])} ({entry[f'{prefix}_count']}/"
            f"{entry[f'{prefix}_n']}, CI {_pct(entry[f'{prefix}_ci_low'])}–{_pct(entry[f'{prefix}_ci_high'])})")


def describe_entry(entry: dict) -> str:
    """One sentence about one test: the finding, real vs generated prevalence with intervals
    and counts, the difference, and whether and why it failed."""
    return (f"{_entry_words(entry)} [{entry[E_NAME]}]: {_rate_words(entry, 'real')} vs "
            f"{_rate_words(entry, 'generated')}; {entry[E_REASON]}.")


def describe_findings(summary: dict) -> list[str]:
    """Sentences a radiologist reads about a findings audit (from ``summary.json``).

    The first sentence says how the audit decided (detector, tests, α, correction, margin),
    the next how accurate the detector is where labels exist, then the verdict, then one
    sentence per test (failed ones first), naming the finding with orientation words, real
    and generated prevalence with intervals and counts.
    """
    out = [f"Findings read by one detector ({summary[KEY_DETECTOR]}) on {summary[KEY_N_REAL]} real and "
           f"{summary[KEY_N_GENERATED]} generated images; Fisher's exact tests, "
           f"{summary[KEY_CORRECTION].capitalize()}-corrected over {summary[KEY_N_TESTS]} tests at "
           f"α = {summary[KEY_ALPHA]:g}; a prevalence difference within ±{_points(summary[KEY_MARGIN])} "
           f"counts as clinically negligible. Prevalence intervals: {_pct(summary[KEY_CI_LEVEL])} "
           f"Wilson; difference intervals: {_pct(summary[KEY_DIFFERENCE_CI_LEVEL])} simultaneous "
           "(Newcombe). Orientation is radiological: the patient's left is on the image's right."]
    accuracy = summary.get(KEY_DETECTOR_ACCURACY)
    if accuracy:
        parts = []
        for column, acc in accuracy.items():
            name = column.replace("_", " ")
            if A_SENSITIVITY in acc:
                bits = []
                if acc[A_SENSITIVITY] is not None:
                    bits.append(f"sensitivity {_pct(acc[A_SENSITIVITY])} "
                                f"({acc[A_SENSITIVITY_COUNT]}/{acc[A_N_POSITIVE]})")
                if acc[A_SPECIFICITY] is not None:
                    bits.append(f"specificity {_pct(acc[A_SPECIFICITY])} "
                                f"({acc[A_SPECIFICITY_COUNT]}/{acc[A_N_NEGATIVE]})")
                if bits:
                    parts.append(f"{name}: {', '.join(bits)}")
            elif acc.get(A_ACCURACY) is not None:
                parts.append(f"{name} right in {_pct(acc[A_ACCURACY])} ({acc[A_ACCURACY_COUNT]}/{acc[A_N]}) "
                             "of images where both labels and detector give one")
        if parts:
            out.append(f"Detector against the real images' labels ({summary.get(KEY_LABELS) or 'given'}): "
                       + "; ".join(parts) + ".")
    else:
        out.append("No labels for the real images: the detector's accuracy is not known here "
                   "(only its agreement between real and generated images is used).")
    failed = summary[KEY_FAILED]
    if failed:
        out.append(f"FAILED: {', '.join(failed)} differs between generated and real images beyond "
                   "the margin." if len(failed) == 1 else
                   f"FAILED: {', '.join(failed)} differ between generated and real images beyond the margin.")
    else:
        out.append(f"Passed: none of {summary[KEY_N_TESTS]} tests found a difference beyond the margin.")
    if not summary[KEY_IMPOSSIBLE_CHECKED]:
        out.append(f"Impossible combinations were not judged: fewer than {summary[KEY_MIN_REAL]} real "
                   "images cannot show which combinations the population lacks.")
    elif summary[KEY_IMPOSSIBLE]:
        out.append(f"{summary[KEY_IMPOSSIBLE]} generated images "
                   f"({_pct(summary[KEY_IMPOSSIBLE_RATE])}) show a combination that is negligible "
                   "among real images.")
    tests = list(summary[KEY_FINDINGS].values()) + list(summary[KEY_IMPOSSIBLE_COMBINATIONS])
    for entry in sorted(tests, key=lambda e: e[E_PASSED]):
        prefix = "Impossible combination — " if entry[E_KIND] == "combination" else ""
        out.append(prefix + describe_entry(entry))
    return out


# ----------------------------------------------------------------------------- output

def _gallery_png(result: FindingsResult, generated: np.ndarray, *, n_images: int = 16) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table
    flagged = np.nonzero(table["impossible"].to_numpy())[0]
    findings = [name for name, e in result.summary[KEY_FINDINGS].items() if e[E_KIND] == "finding"]
    if len(flagged) == 0:
        has_any = table[findings].to_numpy().sum(axis=1) > 0 if findings else np.zeros(len(table), bool)
        flagged = np.nonzero(has_any)[0]
        title = "No impossible images; examples with findings"
    else:
        title = f"Impossible generated images ({len(flagged)}; first {min(n_images, len(flagged))})"
    shown = flagged[:n_images]
    cols = 4
    rows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.1), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, i in enumerate(shown):
        ax = axes[k // cols, k % cols]
        ax.imshow(generated[i], cmap="gray", vmin=-1, vmax=1)
        row = table.iloc[i]
        label = row["impossible_reason"] or ", ".join(f for f in findings if row[f] == 1)
        ax.set_title(f"{row['file']}\n{label}"[:60], fontsize=6,
                     color="red" if row["impossible"] else "black")
        if "lesion_x" in table.columns and np.isfinite(row.get("lesion_x", np.nan)):
            ax.plot(row["lesion_x"], row["lesion_y"], marker="o", mfc="none", mec="red", ms=9)
    if len(shown) == 0:
        axes[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    fig.suptitle(title + "  (R = patient's right on the image's left)", fontsize=8)
    return figure_png(fig)


def write_findings(result: FindingsResult, out_dir, generated) -> Path:
    """Write ``findings.csv``, ``summary.json`` and ``gallery.png`` into ``out_dir`` (each
    atomically)."""
    from ganaudit.gan_models.atomic import write_bytes, write_csv, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generated = check_images(generated, "generated images")
    write_csv(out / layout.FINDINGS_CSV, result.table)
    write_json(out / layout.AUDIT_SUMMARY_JSON, result.summary)
    write_bytes(out / layout.AUDIT_GALLERY_PNG, _gallery_png(result, generated))
    return out
