"""The stopping-epoch rule: which checkpoint to use, and why, in plain words.

Every metric the rule ranks by is *lower is better* (FD∞, FD, KID, 1D true error).

The rule (rule name ``earliest-within-best-interval``; see docs/stopping-rule.md):

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
   they cannot recognise (checkpoints not in the study count as "not recognised").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gan_models.errors import InputError

RULE_NAME = "earliest-within-best-interval"
DEFAULT_RELATIVE_TOLERANCE = 0.05
DEFAULT_MEMORIZATION_MAX = 0.05
DEFAULT_ALPHA = 0.05

#: metric name → (label for people, kinds it applies to, interval columns or None)
METRICS: dict[str, tuple[str, tuple[str, ...], tuple[str, str] | None]] = {
    "fd_inf": ("FD∞", ("2d",), ("fd_inf_ci_low", "fd_inf_ci_high")),
    "fd": ("FD", ("1d", "2d"), ("fd_ci_low", "fd_ci_high")),
    "kid_mean": ("KID", ("2d",), None),
    "true_error": ("true error", ("1d",), ("true_error_ci_low", "true_error_ci_high")),
}
DEFAULT_METRIC = {"1d": "true_error", "2d": "fd_inf"}

RULE_TEXT = [
    "A checkpoint is out when training was unhealthy at that epoch (the discriminator's "
    "accuracy stayed above 90 % or below 10 %).",
    "2D runs: a checkpoint is out when more than {memorization_max} of its generated images "
    "match a training image (memorization audit), or when the findings audit shows a finding "
    "combination never seen in real images or a significant change in a finding's prevalence.",
    "Among the remaining checkpoints, the one with the lowest {metric} is the best; the stopping "
    "epoch is the earliest checkpoint whose {metric} lies within the best one's {interval}.",
    "With reader data, a checkpoint whose fakes readers recognise better than chance "
    "(p < {alpha}) loses to one they cannot recognise.",
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
    """

    metric: str | None = None
    tolerance: float | None = None
    memorization_max: float = DEFAULT_MEMORIZATION_MAX
    alpha: float = DEFAULT_ALPHA

    def check(self, kind: str) -> "RuleOptions":
        metric = self.metric or DEFAULT_METRIC[kind]
        if metric not in METRICS:
            raise InputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if kind not in METRICS[metric][1]:
            usable = [m for m, spec in METRICS.items() if kind in spec[1]]
            raise InputError(f"metric {metric!r} is not scored for {kind.upper()} runs; use "
                             f"one of {', '.join(usable)}")
        if self.tolerance is not None and not (math.isfinite(self.tolerance)
                                               and self.tolerance >= 0):
            raise InputError(f"tolerance must be a number >= 0 (a share of the best value, "
                             f"e.g. 0.05), got {self.tolerance}")
        if not (math.isfinite(self.memorization_max) and 0 <= self.memorization_max <= 1):
            raise InputError(f"memorization-max must be a share between 0 and 1 (e.g. 0.05 for "
                             f"5 %), got {self.memorization_max}")
        if not (math.isfinite(self.alpha) and 0 < self.alpha < 1):
            raise InputError(f"alpha must be between 0 and 1 (e.g. 0.05), got {self.alpha}")
        return RuleOptions(metric=metric, tolerance=self.tolerance,
                           memorization_max=self.memorization_max, alpha=self.alpha)


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


def _flag(value) -> bool | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "1.0", "yes"):
            return True
        if text in ("false", "0", "0.0", "no"):
            return False
        return None
    return bool(value)


def _interval(row: pd.Series, metric: str) -> tuple[float, float]:
    if metric == "kid_mean":
        mean, std = _num(row, "kid_mean"), _num(row, "kid_std")
        return mean - std, mean + std
    cols = METRICS[metric][2]
    if cols is None:
        return float("nan"), float("nan")
    return _num(row, cols[0]), _num(row, cols[1])


def _gates(row: pd.Series, kind: str, options: RuleOptions) -> tuple[dict, list[str]]:
    """Gate states ('pass' / 'fail' / 'not audited') and plain-words reasons for failures."""
    gates: dict[str, str] = {}
    reasons: list[str] = []
    healthy = _flag(row.get("healthy"))
    if healthy is False:
        gates["health"] = "fail"
        real, fake = _num(row, "d_acc_real"), _num(row, "d_acc_fake")
        detail = (f" (discriminator accuracy {pct(real)} on real and {pct(fake)} on fake "
                  "images; healthy training stays between 10 % and 90 %)"
                  if math.isfinite(real) and math.isfinite(fake) else "")
        reasons.append(f"training was unhealthy at that epoch{detail}")
    else:
        gates["health"] = "pass" if healthy else "not audited"
    if kind == "2d":
        rate = _num(row, "memorization_rate")
        if not math.isfinite(rate):
            gates["memorization"] = "not audited"
        elif rate > options.memorization_max:
            gates["memorization"] = "fail"
            reasons.append(f"{pct(rate)} of its images matched a training image (limit "
                           f"{pct(options.memorization_max)}): it memorizes")
        else:
            gates["memorization"] = "pass"
        impossible = _num(row, "findings_impossible")
        significant = _flag(row.get("findings_significant"))
        if not math.isfinite(impossible) and significant is None:
            gates["findings"] = "not audited"
        else:
            failed = False
            if math.isfinite(impossible) and impossible > 0:
                n = int(impossible)
                reasons.append(f"the findings audit found {n} generated image{'s' if n != 1 else ''}"
                               " with a finding combination never seen in the real images: it "
                               "invents findings")
                failed = True
            if significant:
                min_p = _num(row, "findings_min_p")
                reasons.append("a finding's prevalence differed significantly from the real "
                               f"images (smallest p = {fmt(min_p)}): it distorts findings")
                failed = True
            gates["findings"] = "fail" if failed else "pass"
    return gates, reasons


def _still_falling(values: pd.Series) -> bool:
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    if len(finite) < 3:
        return False
    last = finite.iloc[-1]
    return bool(last <= finite.min() and last < finite.iloc[-3:-1].mean())


def _epochs(epochs) -> str:
    epochs = [int(e) for e in epochs]
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    shown = ", ".join(str(e) for e in epochs[:-1][:8])
    more = f" and {len(epochs) - 8} more" if len(epochs) > 9 else f" and {epochs[-1]}"
    return f"epochs {shown}{more}"


def decide(scores: pd.DataFrame, *, kind: str, options: RuleOptions | None = None,
           study: pd.DataFrame | None = None) -> Decision:
    """Apply the stopping rule to a run's scores.

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
        ``epoch`` column, as :func:`reports.load.load_study` returns it).

    Returns
    -------
    Decision
        Stopping epoch (None when no checkpoint passes the gates), rationale sentences,
        recommendations and the per-checkpoint table with every gate's state.
    """
    options = (options or RuleOptions()).check(kind)
    metric = options.metric
    label = METRICS[metric][0]
    if metric not in scores.columns:
        raise InputError(f"scores.csv has no {metric!r} column; re-run `ganaudit score RUN` or "
                         f"choose another --metric")

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
    table["reasons"] = ["; ".join(r) for r in reasons_all]
    if study is not None:
        table["readers_detect"] = [
            (bool(p < options.alpha) if math.isfinite(p) else None)
            for p in (_num(r, "detect_p") for _, r in table.iterrows())]

    eligible = table[table["passes_gates"]]
    interval_text = "95 % confidence interval"
    rationale: list[str] = []
    recommendations: list[str] = []
    chosen = best = None
    bound = None
    if eligible.empty:
        table["within_interval"] = False
        rationale.append("No checkpoint passed the gates, so this report recommends no "
                         "stopping epoch.")
        rationale.extend(_gate_counts(table, gate_names))
        recommendations = _recommend_none(table, label, gate_names)
        interval_kind = "none"
    else:
        best_row = eligible.loc[eligible["metric_value"].idxmin()]
        best = int(best_row["epoch"])
        best_value = float(best_row["metric_value"])
        best_high = float(best_row["metric_ci_high"])
        if options.tolerance is None and math.isfinite(best_high):
            bound, interval_kind = max(best_high, best_value), "ci"
            interval_text = ("mean + 1 standard deviation over subsets" if metric == "kid_mean"
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
        if study is not None:
            detected = within["readers_detect"].map(lambda v: _flag(v) is True)
            undetected = within[~detected]
            pick = undetected if not undetected.empty else within
            first = int(pick.iloc[0]["epoch"])
            passed_over = [r for _, r in within[detected].iterrows() if int(r["epoch"]) < first]
        else:
            pick = within
        chosen_row = pick.iloc[0]
        chosen = int(chosen_row["epoch"])
        rationale.extend(_explain_choice(table, chosen_row, best_row, label, interval_text,
                                         bound, readers_moved=bool(passed_over)))
        rationale.extend(_explain_readers(chosen_row, passed_over, within, options,
                                          study is not None))
        if study is not None and table["detect_p"].isna().all():
            rationale.append("The reading study has no results for any of this run's checkpoints "
                             "(its fakes are not labelled epoch-NNNN of this run), so reader data "
                             "did not change the pick.")
        rationale.extend(_explain_rejected(table, chosen_row, label))
        rationale.extend(_explain_onset(table, chosen))
        rationale.extend(_notes(table, gate_names, kind, chosen=chosen))
        if chosen == int(table["epoch"].max()) and _still_falling(table["metric_value"]):
            recommendations.append(f"The chosen checkpoint is the last one and the {label} was "
                                   "still falling: training longer (ganaudit train… --resume "
                                   "with more epochs) may give a better generator.")
    table["chosen"] = table["epoch"] == chosen if chosen is not None else False

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
        "gates": gate_names,
    }
    text = [t.format(memorization_max=pct(options.memorization_max), metric=label,
                     interval=interval_text, alpha=options.alpha) for t in RULE_TEXT]
    if kind == "1d":
        text = [text[0], text[2], text[3]]
    rule = {"name": RULE_NAME, "parameters": parameters, "description": text}
    return Decision(stopping_epoch=chosen, best_epoch=best, metric=metric, metric_label=label,
                    bound=bound, interval=interval_text, table=table, rationale=rationale,
                    recommendations=recommendations, rule=rule)


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


def _explain_readers(chosen_row, passed_over, within, options, have_study):
    if not have_study:
        return []
    out = []
    chosen = int(chosen_row["epoch"])
    p_chosen = chosen_row.get("detect_p")
    if _flag(chosen_row.get("readers_detect")) is True:
        out.append(f"Readers recognised the fakes of every checkpoint within the interval better "
                   f"than chance, epoch {chosen} included (p = {fmt(p_chosen)} < {options.alpha}):"
                   " its images are not yet indistinguishable from real ones.")
        return out
    how = (f"whose fakes readers could not tell from real images (p = {fmt(p_chosen)})"
           if pd.notna(p_chosen) else "which was not part of the reading study")
    for row in passed_over:
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
             "findings": "failed the findings audit", "scored": "had no score"}
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


def _recommend_none(table, label, gate_names):
    recs = []
    restart = False
    health = table.get("gate_health")
    if health is not None and (health == "fail").any():
        last_unhealthy = health.iloc[-1] == "fail"
        if last_unhealthy or (health == "fail").all():
            restart = True
            recs.append("Training became unhealthy (the discriminator wins or loses outright): "
                        "restart training with another seed or a lower learning rate, as the "
                        "seed article advises; more epochs will not recover it.")
    if "gate_memorization" in table.columns and (table["gate_memorization"] == "fail").any():
        recs.append("The generator copies training images: train on more images or with "
                    "augmentation, or lower the generator's capacity, and score again.")
    if "gate_findings" in table.columns and (table["gate_findings"] == "fail").any():
        recs.append("The generator invents or distorts findings: train longer or on more images "
                    "that show the finding, then audit again.")
    if (table["gate_scored"] == "fail").all():
        recs.append(f"No checkpoint has a {label} score: run ganaudit score RUN.")
    elif _still_falling(table["metric_value"]) and not restart:
        recs.append(f"The {label} was still falling at the last epoch: train longer (--resume "
                    "with more epochs) and score again.")
    if not recs:
        recs.append("Change the training settings (seed, learning rate, data) and train again.")
    return recs
