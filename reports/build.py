"""Build a run's report: ``report/index.html``, ``report.json``, ``scores.csv`` and one quality
page per checkpoint (``report/checkpoints/epoch-NNNN.html``).

The whole report folder is written under a temporary name and renamed at the end, so a crash
never leaves half a report. Lower is better for FD∞, FD, KID, true error and memorization
rate; higher is better for precision, recall, coverage and authenticity (each table says so).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ganaudit.gan_models.atomic import atomic_path
from ganaudit.gan_models.errors import InputError
from ganaudit.reports import html as H
from ganaudit.reports import plots
from ganaudit.reports.load import RunData, load_run
from ganaudit.reports.stopping import Decision, RuleOptions, baseline_level, decide, fmt, headline, pct
from ganaudit.schema import layout
from ganaudit.schema import metrics as M
from ganaudit.schema.values import folder_problem
from ganaudit.schema.values import json_text

#: column → (label, direction of "better", what it measures / units), from the registry
METRIC_INFO: dict[str, tuple[str, str, str]] = {
    name: (m.label, m.direction, m.meaning) for name, m in M.METRICS.items()}
INTERVALS = {name: m.interval for name, m in M.METRICS.items() if m.interval is not None}
SHOWN = {"2d": [M.FD_INF, M.FD, M.KID_MEAN, M.PRECISION, M.RECALL, M.DENSITY, M.COVERAGE,
                M.MEMORIZATION_RATE, M.CT_SCORE, M.AUTHENTICITY, M.MIFID, M.FINDINGS_IMPOSSIBLE,
                M.FINDINGS_MIN_P, M.DETECTABILITY_AUC],
         "1d": [M.TRUE_ERROR, M.PRECISION_ERROR, M.COVERAGE_ERROR, M.TRUE_ERROR_REL, M.FD]}
LOG_OK = {name for name, m in M.METRICS.items() if m.log_scale}
PERCENT = {name for name, m in M.METRICS.items() if m.percent}
TABLE_EXTRA = {"2d": [M.FD_INF, M.FD_INF_REL, M.FD, M.KID_MEAN, M.MEMORIZATION_RATE, M.PRECISION,
                      M.RECALL],
               "1d": [M.TRUE_ERROR, M.TRUE_ERROR_REL, M.PRECISION_ERROR, M.COVERAGE_ERROR, M.FD]}
GATE_LABELS = {"health": "Training healthy", "memorization": "No memorization",
               "findings": "Findings plausible", "scored": "Scored",
               "quality": "Absolute quality", "detectability": "Not detectable (machine reader)"}
#: verdict → CSS class of the summary box (green, amber, red)
VERDICT_CLASS = {"stop": "summary", "train-longer": "summary longer",
                 "restart": "summary none", "no-checkpoint-passes": "summary none"}


def build_report(run_dir: str | Path, *, study_dir: str | Path | None = None,
                 metric: str | None = None, tolerance: float | None = None,
                 memorization_max: float = 0.05, alpha: float = 0.05,
                 out_dir: str | Path | None = None, options: RuleOptions | None = None) -> Path:
    """Write the report of a run and return the path of its ``index.html``.

    Parameters
    ----------
    run_dir : path
        Training run folder, scored by ``ganaudit score``.
    study_dir : path, optional
        Reading-study folder analysed by ``ganaudit study analyze``.
    metric, tolerance, memorization_max, alpha
        Stopping-rule options; see :class:`ganaudit.reports.stopping.RuleOptions`.
    options : RuleOptions, optional
        All rule options at once (overrides the four keywords above).
    out_dir : path, optional
        Report folder (default ``RUN/report``); replaced as a whole.

    Raises
    ------
    InputError
        When a piece of the run is missing (the message names the command that makes it) or an
        option is out of range.
    """
    if options is None:
        options = RuleOptions(metric=metric, tolerance=tolerance,
                              memorization_max=memorization_max, alpha=alpha)
    data = load_run(run_dir, study_dir=study_dir)
    if data.kind == "2d":
        data.scores["findings_detail"] = [_failed_findings(data, int(e)) for e in data.scores["epoch"]]
    decision = decide(data.scores, kind=data.kind, options=options, study=data.study,
                      baselines=data.baselines, anchor=data.anchor,
                      comparison=data.study_comparison)
    table = decision.table.copy()
    if M.KID_MEAN in table.columns and M.KID_STD in table.columns:
        table[M.KID_LOW] = table[M.KID_MEAN] - table[M.KID_STD]
        table[M.KID_HIGH] = table[M.KID_MEAN] + table[M.KID_STD]
    out = Path(out_dir) if out_dir is not None else layout.report_dir(data.path)
    _check_out(out)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        layout.checkpoints_dir(tmp).mkdir()
        (tmp / layout.REPORT_INDEX).write_text(_index_page(data, decision, table), encoding="utf-8")
        for _, row in table.iterrows():
            epoch = int(row["epoch"])
            layout.report_page(tmp, epoch).write_text(
                _checkpoint_page(data, decision, table, row), encoding="utf-8")
        report = _report_json(data, decision)
        (tmp / layout.REPORT_JSON).write_text(json_text(report), encoding="utf-8")
        decision.table.to_csv(layout.scores_csv(tmp), index=False)
    return out / layout.REPORT_INDEX


def _check_out(out: Path) -> None:
    """The report folder is replaced as a whole: refuse to replace anything but a report."""
    problem = folder_problem(out, marker=layout.REPORT_JSON)
    if problem == "is a file":
        raise InputError(f"--out {out} is a file; give a folder for the report")
    if problem:
        raise InputError(f"--out {out} is a folder that holds other files (no report.json); "
                         "the report folder is replaced as a whole, so give a new or empty folder")


def _clean(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _report_json(data: RunData, decision: Decision) -> dict:
    rows = []
    gate_cols = [c for c in decision.table.columns if c.startswith("gate_")]
    for record in decision.table.to_dict(orient="records"):
        row = {k: _clean(v) for k, v in record.items()}
        row["gates"] = {c[5:]: row[c] for c in gate_cols}
        rows.append(row)
    return {
        "verdict": decision.verdict,
        "headline": headline(decision),
        "stopping_epoch": decision.stopping_epoch,
        "candidate_epoch": decision.candidate_epoch,
        "closest_epoch": decision.closest_epoch,
        "blocked": decision.blocked,
        "best_epoch": decision.best_epoch,
        "convergence": decision.convergence,
        "baselines": decision.baselines,
        "baselines_info": {k: v for k, v in data.baselines_info.items() if k != "metrics"},
        "notes": decision.notes + [str(n) for n in data.baselines_info.get("notes", [])],
        "rule": decision.rule,
        "rationale": decision.rationale,
        "recommendations": decision.recommendations,
        "run": {"path": str(data.path.resolve()), "kind": data.run.get("kind", data.kind),
                "pattern": data.run.get("pattern"), "data": data.run.get("data"),
                "epochs": data.run.get("epochs"), "loss": data.run.get("loss"),
                "seed": data.run.get("seed"), "source": data.run.get("source")},
        "study": str(data.study_path.resolve()) if data.study_path else None,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "checkpoints": rows,
    }


# ---------------------------------------------------------------------------- pieces of pages

def _run_title(data: RunData) -> str:
    if data.kind == "1d":
        pattern = (data.run.get("pattern") or {}).get("name", "?")
        # A run folder named after its pattern (the demo's 1d/sine) is not named twice.
        return f"1D GAN ‘{pattern}’" + ("" if data.path.name == pattern else f" — {data.path.name}")
    size = data.run.get("image_size", "?")
    if data.run.get("kind") == "imported":
        return f"Imported GAN {size}×{size} ({_import_source(data)}) — {data.path.name}"
    source = (data.run.get("data") or {}).get("source", "?")
    return f"2D GAN {size}×{size} ({Path(str(source)).name}) — {data.path.name}"


def _import_source(data: RunData) -> str:
    """Where an imported run's checkpoints came from, in words."""
    source = data.run.get("source") or {}
    what = "ONNX generators" if source.get("type") == "onnx" else "sample folders"
    return f"{what} in {source.get('path', '?')}"


def _subtitle(data: RunData) -> str:
    bits = [f"Run folder <code>{H.esc(data.path.resolve())}</code>",
            f"{len(data.history)} epochs trained, {len(data.scores)} checkpoints scored"]
    if data.run.get("kind") == "imported":
        bits[1] = (f"trained elsewhere: imported by ganaudit import from "
                   f"{H.esc(_import_source(data))}, {len(data.scores)} checkpoints scored")
    for key in ("loss", "seed", "backend"):
        if data.run.get(key) is not None:
            bits.append(f"{key} {H.esc(data.run[key])}")
    bits.append("report made " + _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    return " · ".join(bits)


def _value_ci_html(row, col: str) -> str:
    """Value with its interval on a second, smaller line (escaped HTML)."""
    text = _value_ci(row, col)
    if " (" in text:
        value, interval = text.split(" (", 1)
        return f"{H.esc(value)}<br><small>{H.esc(interval[:-1])}</small>"
    return H.esc(text)


def _value_ci(row, col: str) -> str:
    value = row.get(col, np.nan)
    if col in PERCENT:
        text = pct(value)
    else:
        text = fmt(value)
    if col in INTERVALS:
        lo, hi = (row.get(c, np.nan) for c in INTERVALS[col])
        if pd.notna(lo) and pd.notna(hi):
            if col in PERCENT:
                return f"{text} ({pct(lo)}–{pct(hi)})"
            return f"{text} ({fmt(lo)}–{fmt(hi)})"
    return text


def _summary_box(data: RunData, decision: Decision, table: pd.DataFrame) -> str:
    verdict = headline(decision)
    cls = VERDICT_CLASS[decision.verdict]
    shown = (decision.stopping_epoch if decision.verdict == "stop"
             else decision.candidate_epoch if decision.candidate_epoch is not None
             else decision.closest_epoch)
    items = []
    if shown is not None:
        row = table[table["epoch"] == shown].iloc[0]
        tag = "" if decision.verdict == "stop" else (
            f" — epoch {shown} (" + ("best candidate so far" if decision.candidate_epoch == shown
                                     else "closest to passing") + ")")
        items.append((f"{decision.metric_label} (lower is better){tag}",
                      _value_ci(row, decision.metric)))
        level = baseline_level(decision.baselines, decision.metric)
        if data.kind == "2d" and level is not None and pd.notna(row.get("metric_value")):
            items.append(("× real-vs-real level", f"{float(row['metric_value']) / level:.0f}× "
                          f"(limit {decision.rule['parameters']['baseline_factor']:.0f}×)"))
        if decision.best_epoch is not None and decision.best_epoch != shown:
            best = table[table["epoch"] == decision.best_epoch].iloc[0]
            items.append((f"best {decision.metric_label}: epoch {decision.best_epoch}",
                          _value_ci(best, decision.metric)))
        if data.kind == "2d":
            items.append(("memorization rate", _value_ci(row, M.MEMORIZATION_RATE)))
        elif pd.notna(row.get(M.TRUE_ERROR_REL, np.nan)):
            items.append(("true error / y-range", pct(row.get(M.TRUE_ERROR_REL))))
        if "fool_rate" in row.index and pd.notna(row.get("fool_rate")):
            items.append(("readers fooled", f"{pct(row['fool_rate'])} (p = {fmt(row['detect_p'])})"))
    figs = H.keyfigs(items) if items else ""
    recs = ""
    if decision.recommendations:
        recs = ("<div class=\"recommend\"><strong>Recommendation</strong>"
                + H.bullets(decision.recommendations) + "</div>")
    extra = [str(n) for n in data.baselines_info.get("notes", [])] if data.kind == "2d" else []
    notes = H.bullets(decision.notes + extra) if decision.notes or extra else ""
    return (f"<div class=\"{cls}\"><p class=\"verdict\">{H.esc(verdict)}</p>{figs}"
            f"<strong>Why</strong>{H.bullets(decision.rationale)}{notes}</div>{recs}")


def _rule_section(decision: Decision) -> str:
    params = decision.rule["parameters"]
    rows = [["rule", decision.rule["name"]],
            ["ranking metric", f"{params['metric_label']} ({params['metric']}), lower is better"],
            ["“within” means", decision.interval + (f" (bound {fmt(decision.bound)})"
                                                    if decision.bound is not None else "")]]
    if params.get("memorization_max") is not None:
        rows.append(["memorization limit", pct(params["memorization_max"]) + " of generated images"])
    rows.append(["readers' significance level α", fmt(params["alpha"])])
    if params.get("max_true_error") is not None:
        rows.append(["absolute quality (1D)", f"true error ≤ {pct(params['max_true_error'])} of "
                     "the y-range"])
    if params.get("baseline_factor") is not None:
        level = params.get("baseline_level")
        rows.append(["absolute quality (2D)", f"{params['metric_label']} ≤ "
                     f"{params['baseline_factor']:.0f}× the real-vs-real level"
                     + (f" ({fmt(level)})" if level is not None else " (no usable baseline)")
                     + f"; limit from {params['baseline_factor_source']}"])
    rows.append(["convergence", f"last {params['trend_window']} checkpoints: Kendall trend test "
                 f"α = {fmt(params['trend_alpha'])}, measurable fall ≥ "
                 f"{pct(params['min_improvement'])}"])
    rows.append(["gates", ", ".join(GATE_LABELS.get(g, g) for g in params["gates"])])
    body = H.bullets(decision.rule["description"]) + H.table(["parameter", "value"], rows,
                                                            left=(0, 1), narrow=True)
    body += H.para("Change the parameters with ganaudit report RUN --metric … --tolerance … "
                   "--memorization-max … --alpha … --trend-window … --trend-alpha … "
                   "--min-improvement … --max-true-error … --baseline-factor …; "
                   "docs/stopping-rule.md explains the rule.", cls="note")
    return H.section("The stopping rule", body, anchor="rule")


def _checkpoint_table(data: RunData, decision: Decision, table: pd.DataFrame, *,
                      link_prefix: str = "checkpoints/") -> str:
    metric = decision.metric
    extra = [c for c in TABLE_EXTRA[data.kind] if c != metric and c in table.columns
             and table[c].notna().any()][:5]
    gate_cols = [c for c in table.columns if c.startswith("gate_") and c != "gate_scored"]
    header = ["epoch", f"{METRIC_INFO[metric][0]} ↓ (interval)"]
    header += [f"{METRIC_INFO[c][0]} {_arrow(c)}" for c in extra]
    header += [GATE_LABELS[c[5:]] for c in gate_cols]
    have_readers = "detect_p" in table.columns
    if have_readers:
        header += ["readers fooled ↑", "detect p"]
    header += ["result"]
    rows, classes = [], []
    for _, row in table.iterrows():
        epoch = int(row["epoch"])
        cells = [f"<a href=\"{link_prefix}{layout.report_page_name(epoch)}\">{epoch}</a>",
                 _value_ci_html(row, metric)]
        cells += [_value_ci_html(row, c) for c in extra]
        cells += [H.badge(row[c]) for c in gate_cols]
        if have_readers:
            cells += [H.esc(pct(row.get("fool_rate"))), H.esc(fmt(row.get("detect_p")))]
        if row["chosen"]:
            result = "<strong>stopping epoch</strong>"
        elif row.get("candidate") and decision.verdict != "stop":
            result = f"best candidate ({H.esc(decision.verdict)})"
        elif decision.closest_epoch is not None and epoch == decision.closest_epoch:
            result = "out — closest to passing"
        elif not row["passes_gates"]:
            result = "out"
        elif row["within_interval"] and row.get("readers_detect") == True:  # noqa: E712 (None)
            result = "within interval; readers spot its fakes"
        elif row["within_interval"]:
            result = "within interval"
        else:
            result = "passes, worse"
        cells.append(result)
        rows.append(cells)
        classes.append("chosen" if row["chosen"] else "")
    legend = H.para("↓ lower is better, ↑ higher is better, ≈ best near the stated value. "
                    "Intervals are 95 % confidence intervals (KID: ± one standard deviation over "
                    "subsets). Click an epoch for its quality report.", cls="note")
    return H.table(header, rows, raw=True, row_classes=classes, left=(0,)) + legend


def _arrow(col: str) -> str:
    direction = METRIC_INFO[col][1]
    return {"lower": "↓", "higher": "↑"}.get(direction, direction)


#: what it means when a metric sits at one value at every checkpoint
FLOOR_WORDS = {
    M.PRECISION: "no generated image lies inside the real images' k-nearest-neighbour "
                 "neighbourhoods in this feature space: the generated images are still outside "
                 "the real distribution (not a bug — compare the real-vs-real level)",
    M.RECALL: "no real image lies inside the generated images' neighbourhoods in this feature "
              "space: the generator covers none of the real variety yet",
    M.DENSITY: "generated images lie outside every real image's neighbourhood in this feature "
               "space",
    M.COVERAGE: "no real image has a generated image among its nearest neighbours in this "
                "feature space",
    M.AUTHENTICITY: "every generated image is farther from its nearest training image than that "
                    "training image is from its own nearest neighbour: none is a copy",
}


def _metric_figures(data: RunData, decision: Decision, table: pd.DataFrame) -> str:
    excluded = [int(e) for e in table.loc[~table["passes_gates"], "epoch"]]
    figs = []
    for col in SHOWN[data.kind]:
        if col not in table.columns or col in (M.FINDINGS_MIN_P,):
            continue
        label, direction, meaning = METRIC_INFO[col]
        low, high = INTERVALS.get(col, (None, None))
        is_metric = col == decision.metric
        limit = None
        if col == M.MEMORIZATION_RATE and decision.rule["parameters"].get("memorization_max") is not None:
            limit = decision.rule["parameters"]["memorization_max"]
        if col == M.DETECTABILITY_AUC:
            limit = decision.rule["parameters"].get("detectability_max")
        entry = decision.baselines.get(col) if decision.baselines else None
        baseline = ((entry.get("value"), entry.get("ci_low"), entry.get("ci_high"))
                    if isinstance(entry, dict) else None)
        if col == M.DETECTABILITY_AUC:
            baseline = (0.5, None, None)  # two sets of real images: chance
        uri = plots.metric_plot(
            table, col, title=f"{label} ({direction} is better)" if direction in ("lower", "higher")
            else f"{label} (best {direction})", ylabel=label, low=low, high=high,
            chosen=decision.stopping_epoch, bound=decision.bound if is_metric else None,
            limit=limit, limit_label=("detectability limit" if col == M.DETECTABILITY_AUC
                                      else "memorization limit"),
            excluded=excluded if is_metric else None,
            log_when_wide=direction == "lower" and col in LOG_OK, baseline=baseline)
        if uri:
            figs.append(H.figure(uri, f"{label}: {meaning}." + _baseline_caption(
                table, col, label, entry, decision)))
    if not figs:
        return H.para("No metric has a value yet; run ganaudit score RUN.", cls="note")
    return "<div class=\"grid\">" + "".join(figs) + "</div>"


def _baseline_caption(table, col, label, entry, decision) -> str:
    """Words beside a metric plot: where the real-vs-real level lies, and a flat metric explained."""
    values = pd.to_numeric(table[col], errors="coerce")
    finite = values[np.isfinite(values)]
    text = ""
    if isinstance(entry, dict) and entry.get("value") is not None:
        level = float(entry["value"])
        text += f" Purple: the real-vs-real level ({fmt(level)}), what a perfect generator scores."
        focus = (decision.stopping_epoch or decision.candidate_epoch or decision.closest_epoch)
        if focus is not None and level > 0 and col in (M.FD, M.FD_INF, M.KID_MEAN):
            value = values[table["epoch"] == focus]
            if len(value) and np.isfinite(value.iloc[0]):
                text += (f" {label} at epoch {focus} is {float(value.iloc[0]) / level:.1f}× the "
                         "real-vs-real level.")
    if len(finite) == len(table) and len(finite) > 1 and finite.nunique() == 1:
        why = FLOOR_WORDS.get(col, "the metric does not change between checkpoints")
        text += f" {label} is {fmt(finite.iloc[0])} at every checkpoint: {why}."
    return text


def _pattern_truth(data: RunData):
    spec = (data.run.get("pattern") or {})
    name = spec.get("name")
    try:
        from ganaudit.gan_models import PATTERNS, resolve_pattern
    except ImportError:
        return None, None, None
    pattern = PATTERNS.get(name)
    if pattern is None and name:
        try:
            pattern = resolve_pattern(name)
        except (ValueError, ImportError, AttributeError):
            pattern = None
    x_range = spec.get("x_range") or (pattern.x_range if pattern is not None else None)
    y_range = spec.get("y_range") or (pattern.y_range if pattern is not None else None)
    if pattern is None:
        return None, x_range, y_range
    return pattern.dense(2000), x_range, y_range


def _pattern_section(data: RunData, decision: Decision, table: pd.DataFrame) -> str:
    epochs = [int(e) for e in table["epoch"]]
    candidates = [epochs[0], epochs[len(epochs) // 4], epochs[len(epochs) // 2], epochs[-1]]
    for extra in (decision.stopping_epoch, decision.best_epoch):
        if extra is not None:
            candidates.append(extra)
    picked = {}
    for epoch in sorted(set(candidates)):
        pts = data.sample_points(epoch)
        if pts is not None:
            picked[epoch] = pts
    if not picked:
        return H.section("What the generator draws", H.para(
            "No sample points found (samples/epoch-NNNN.npy); they are written by ganaudit "
            "train1d.", cls="note"), anchor="pattern")
    truth, x_range, y_range = _pattern_truth(data)
    uri = plots.pattern_plot(picked, truth, chosen=decision.stopping_epoch, x_range=x_range,
                             y_range=y_range)
    caption = ("True pattern in red, generator points in blue, at several epochs; the stopping "
               "epoch is framed in green.")
    if truth is None:
        caption += " (The true pattern could not be loaded: only the generator points are shown.)"
    return H.section("What the generator draws", H.figure(uri, caption), anchor="pattern")


def _image(path: Path | None, caption: str, *, missing: str = "Not available.") -> str:
    """A PNG from the run inline; small images are scaled up (pixelated) so they can be seen."""
    if path is None:
        return H.figure(None, caption, missing=missing)
    from PIL import Image

    try:
        with Image.open(path) as image:
            small = image.width < 300
    except OSError:
        return H.figure(None, caption, missing=f"{path} is not a readable PNG.")
    return H.figure(plots.file_uri(path), caption, picture=small)


def _neighbours(epochs: list[int], centre: int) -> list[int]:
    i = epochs.index(centre)
    return epochs[max(0, i - 1): i + 2]


def _samples_section(data: RunData, decision: Decision, table: pd.DataFrame) -> str:
    epochs = [int(e) for e in table["epoch"]]
    centre = (decision.stopping_epoch or decision.candidate_epoch or decision.closest_epoch
              or epochs[-1])
    figs = []
    for epoch in _neighbours(epochs, centre):
        png = data.sample_png(epoch)
        tag = " — stopping epoch" if epoch == decision.stopping_epoch else ""
        figs.append(_image(png, f"Epoch {epoch}{tag}: samples from fixed latent vectors.",
                           missing=f"No sample grid for epoch {epoch}."))
    return H.section("Generated images around the stopping epoch",
                     "<div class=\"grid\">" + "".join(figs) + "</div>", anchor="samples")


def _memorization_block(data: RunData, epoch: int, *, title: str) -> str:
    audit = data.audits.get(epoch)
    if audit is None or (audit.memorization_summary is None and audit.memorization_gallery is None):
        return (f"<h3>{H.esc(title)}</h3>" + H.para(
            f"No memorization audit for epoch {epoch}; ganaudit score RUN makes it.", cls="note"))
    body = f"<h3>{H.esc(title)}</h3>"
    summary = audit.memorization_summary or {}
    items = []
    if "rate" in summary:
        ci = ""
        if summary.get("rate_ci_low") is not None and summary.get("rate_ci_high") is not None:
            ci = f" ({pct(summary['rate_ci_low'])}–{pct(summary['rate_ci_high'])})"
        items.append(("flagged as copies ↓", pct(summary["rate"]) + ci))
    if "threshold" in summary:
        items.append(("NCC threshold", fmt(summary["threshold"])))
    for key, label in ((M.CT_SCORE, "C_T (≈ 0)"), (M.AUTHENTICITY, "authenticity ↑"),
                       (M.MIFID, "MiFID ↓")):
        if summary.get(key) is not None:
            items.append((label, fmt(summary[key])))
    if items:
        body += H.keyfigs(items)
    if summary.get("threshold_source"):
        body += H.para(f"Threshold: {summary['threshold_source']}.", cls="note")
    if audit.memorization_gallery is not None:
        body += _image(audit.memorization_gallery,
                       "Closest generated / training pairs (flagged pairs are marked).")
    frame = audit.memorization_table
    if frame is not None and not frame.empty and "ncc" in frame.columns:
        top = frame.sort_values("ncc", ascending=False).head(10)
        cols = [c for c in ("file", "nearest_train", "ncc", "flagged", "feature_distance")
                if c in top.columns]
        rows = [[fmt(v) if isinstance(v, (float, np.floating)) else str(v) for v in r]
                for r in top[cols].itertuples(index=False)]
        body += H.table(cols, rows, left=(0, 1))
        body += H.para("The 10 generated images most similar to a training image "
                       "(normalized cross-correlation, 1 = identical).", cls="note")
    return body


def _failed_findings(data: RunData, epoch: int) -> str:
    """The failed findings of a checkpoint, named with rates, intervals and counts ('' if none)."""
    from ganaudit.evaluation.findings import (E_DIFFERENCE, E_PASSED, KEY_FINDINGS,
                                     KEY_IMPOSSIBLE_COMBINATIONS, describe_entry)

    audit = data.audits.get(epoch)
    summary = audit.findings_summary if audit else None
    if not summary:
        return ""
    entries = list((summary.get(KEY_FINDINGS) or {}).values())
    entries += list(summary.get(KEY_IMPOSSIBLE_COMBINATIONS) or [])
    failed = []
    for e in entries:
        if not isinstance(e, dict) or e.get(E_PASSED) is not False:
            continue
        # "Lesion side: patient's right (image left) [lesion_side=right]: real … vs generated …"
        head = describe_entry(e).split("; ")[0]
        way = "shown less often than in real images" if e.get(E_DIFFERENCE, 0) < 0 else \
            "shown more often than in real images"
        failed.append(f"{head} — {way}")
    return " and ".join(dict.fromkeys(failed))


def _findings_block(data: RunData, epoch: int) -> str:
    from ganaudit.evaluation.findings import (E_GENERATED_CI_HIGH, E_GENERATED_CI_LOW, E_GENERATED_COUNT,
                                     E_GENERATED_N, E_GENERATED_PREVALENCE, E_NAME, E_P_ADJUSTED,
                                     E_PASSED, E_REAL_CI_HIGH, E_REAL_CI_LOW, E_REAL_COUNT,
                                     E_REAL_N, E_REAL_PREVALENCE, KEY_FINDINGS,
                                     KEY_IMPOSSIBLE_COMBINATIONS, describe_findings)

    audit = data.audits.get(epoch)
    summary = audit.findings_summary if audit else None
    if not summary:
        return H.para(f"No findings audit for epoch {epoch} (made by ganaudit score RUN for "
                      "phantom data, or ganaudit audit findings for other data).", cls="note")
    try:
        sentences = describe_findings(summary)
        entries = list(summary[KEY_FINDINGS].values()) + list(summary[KEY_IMPOSSIBLE_COMBINATIONS])
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"the findings summary of epoch {epoch} lacks {exc}; it was written by "
                         "another version: run ganaudit score RUN again") from exc
    body = H.bullets(sentences[:3])
    rows = []
    plot_rows = []
    for e in entries:
        real = (f"{pct(e[E_REAL_PREVALENCE])} ({e[E_REAL_COUNT]}/{e[E_REAL_N]}; "
                f"{pct(e[E_REAL_CI_LOW])}–{pct(e[E_REAL_CI_HIGH])})")
        gen = (f"{pct(e[E_GENERATED_PREVALENCE])} ({e[E_GENERATED_COUNT]}/{e[E_GENERATED_N]}; "
               f"{pct(e[E_GENERATED_CI_LOW])}–{pct(e[E_GENERATED_CI_HIGH])})")
        rows.append([str(e[E_NAME]), real, gen, fmt(e[E_P_ADJUSTED]),
                     "passed" if e[E_PASSED] else "FAILED"])
        plot_rows.append({"finding": str(e[E_NAME]), "real": e[E_REAL_PREVALENCE],
                          "generated": e[E_GENERATED_PREVALENCE],
                          "real_ci_low": e[E_REAL_CI_LOW], "real_ci_high": e[E_REAL_CI_HIGH],
                          "generated_ci_low": e[E_GENERATED_CI_LOW],
                          "generated_ci_high": e[E_GENERATED_CI_HIGH], "p": e[E_P_ADJUSTED]})
    shown = [r for r in plot_rows if ", " not in r["finding"]]
    if shown:
        body += H.figure(plots.prevalence_plot(pd.DataFrame(shown)),
                         f"Epoch {epoch}: share of images with each finding, real vs generated, "
                         "both read by the same detector.")
    body += H.table(["finding", "real (count; 95 % CI)", "generated (count; 95 % CI)",
                     "corrected p", "result"], rows, left=(0,))
    if len(sentences) > 3:
        body += "<h3>Each test in words</h3>" + H.bullets(sentences[3:])
    if audit.findings_gallery is not None:
        body += _image(audit.findings_gallery,
                       "Examples of generated images the findings audit flagged.")
    return body


def _reader_section(data: RunData, decision: Decision, table: pd.DataFrame) -> str:
    study = data.study
    matched = table.dropna(subset=["detect_p"]) if "detect_p" in table.columns else table.iloc[:0]
    body = H.para(f"Study folder: {data.study_path}.", cls="note")
    if matched.empty:
        body += H.para("The reading study has no results labelled epoch-NNNN for this run's "
                       "checkpoints, so reader data did not change the pick.")
    uri = plots.reader_plot(table, chosen=decision.stopping_epoch)
    if uri:
        body += H.figure(uri, "Share of each checkpoint's fakes that readers called real, with "
                         "95 % interval; 50 % means readers could not tell.")
    uri = plots.detectability_plot(table, study, chosen=decision.stopping_epoch)
    if uri:
        body += H.figure(uri, "Human readers' AUC (mean over readers) beside the machine "
                         "reader's (classifier two-sample test, 95 % interval) per checkpoint; "
                         "0.5 means the fakes cannot be told apart.")
    rows = []
    for r in study.itertuples():
        rows.append([str(r.label), str(r.n_read), str(r.called_real), pct(r.fool_rate),
                     f"{pct(r.fool_rate_ci_low)}–{pct(r.fool_rate_ci_high)}", fmt(r.detect_p),
                     "yes" if pd.notna(r.detect_p) and r.detect_p < decision.rule["parameters"]["alpha"]
                     else "no"])
    body += H.table(["checkpoint", "fakes read", "called real", "fool rate ↑", "95 % interval",
                     "detect p", "readers tell fakes apart"], rows)
    body += _pooled_readers(data)
    for warning in ((data.study_summary or {}).get("blinding") or {}).get("warnings", []):
        body += H.para(f"Blinding check at study creation: {warning}. The readers' results may "
                       "rest on this cue rather than on anatomy.", cls="note")
    return H.section("Readers: can radiologists tell the fakes?", body, anchor="readers")


def _pooled_readers(data: RunData) -> str:
    """Study-wide results: pooled accuracy/AUC, agreement, per-reader table and plot."""
    summary = data.study_summary or {}
    pooled = summary.get("pooled") or {}
    body = ""
    items = []
    for key, label in (("n_readers", "readers"), ("n_cases", "cases read")):
        if summary.get(key) is not None:
            items.append((label, fmt(summary[key])))

    def with_ci(d, key):
        if d.get(key) is None:
            return None
        lo, hi = d.get(f"{key}_ci_low"), d.get(f"{key}_ci_high")
        return fmt(d[key]) + (f" ({fmt(lo)}–{fmt(hi)})" if lo is not None and hi is not None else "")

    for key, label in (("accuracy", "pooled accuracy (0.5 = chance)"),
                       ("auc", "MRMC AUC (0.5 = chance)")):
        text = with_ci(pooled, key)
        if text:
            items.append((label, text))
    for key, label in (("fleiss_kappa", "Fleiss' κ"), ("mean_cohen_kappa", "mean Cohen's κ")):
        if summary.get(key) is not None:
            items.append((label, fmt(summary[key])))
    if items:
        body += "<h3>The study as a whole</h3>" + H.keyfigs(items)
        body += H.para("For readers, lower accuracy and AUC mean the generated images were "
                       "harder to tell from real ones (fake = positive).", cls="note")
    readers = data.study_readers
    if readers is not None and not readers.empty and "accuracy" in readers.columns:
        rows = []
        for r in readers.to_dict(orient="records"):
            rows.append([str(r.get("reader")), fmt(r.get("n_read")),
                         f"{fmt(r.get('accuracy'))} ({fmt(r.get('accuracy_ci_low'))}–"
                         f"{fmt(r.get('accuracy_ci_high'))})", fmt(r.get("binom_p")),
                         fmt(r.get("sensitivity")), fmt(r.get("specificity")), fmt(r.get("auc"))])
        body += H.table(["reader", "cases", "accuracy (95 % CI)", "p vs 50 %", "sensitivity",
                         "specificity", "AUC"], rows)
    if data.study_plot is not None:
        body += _image(data.study_plot, "Accuracy per reader with 95 % intervals (from ganaudit "
                       "study analyze).")
    return body


def _footer(data: RunData) -> str:
    return (f"Made by ganaudit report from {H.esc(data.path.resolve())}: run.json, history.csv, "
            "scores.csv" + (", audit/" if data.kind == "2d" else "")
            + (f", {H.esc(data.study_path)}/analysis" if data.study_path else "")
            + ". The table is also in scores.csv and report.json next to this page.")


def _index_page(data: RunData, decision: Decision, table: pd.DataFrame) -> str:
    parts = [_summary_box(data, decision, table), _rule_section(decision)]
    notes = "".join(" " + n for n in decision.notes
                    if n.startswith("The discriminator's accuracy"))
    if data.history.empty:
        # An imported run without --history: nothing to draw.
        parts.append(H.section("Training", H.para(
            "No training history: the run was imported without --history, so there are no "
            "losses or discriminator accuracies to show and the health gate judged no "
            "checkpoint." + notes, cls="note"), anchor="training"))
    else:
        parts.append(H.section("Training", H.figure(
            plots.training_curves(data.history, chosen=decision.stopping_epoch),
            "Losses and discriminator accuracy per epoch. The bold black line is what the "
            "health gate uses: the accuracy averaged over real and fake images; red bands mark "
            "the epochs where it left 10–90 % (unhealthy). Thin lines: accuracy on each class "
            "alone. The dashed green line is the stopping epoch." + notes), anchor="training"))
    if data.kind == "1d":
        parts.append(_pattern_section(data, decision, table))
    parts.append(H.section("Scores per checkpoint", _metric_figures(data, decision, table)
                           + _checkpoint_table(data, decision, table), anchor="scores"))
    if data.kind == "2d":
        parts.append(_samples_section(data, decision, table))
        focus = (decision.stopping_epoch or decision.candidate_epoch or decision.closest_epoch
                 or int(table["epoch"].iloc[-1]))
        mem = _memorization_block(data, focus, title=f"Epoch {focus}")
        rejected = table[(table.get("gate_memorization") == "fail")
                         & (table["metric_value"] < table.loc[table["epoch"] == focus,
                                                              "metric_value"].iloc[0])]
        if not rejected.empty:
            worst = int(rejected.sort_values("metric_value").iloc[0]["epoch"])
            mem += _memorization_block(
                data, worst, title=f"Epoch {worst} (better score, rejected: it memorizes)")
        parts.append(H.section("Memorization audit", mem, anchor="memorization"))
        parts.append(H.section(f"Findings audit (epoch {focus})", _findings_block(data, focus),
                               anchor="findings"))
    if data.study is not None:
        parts.append(_reader_section(data, decision, table))
    return H.page(f"Stopping-epoch report: {_run_title(data)}", "".join(parts),
                  subtitle=_subtitle(data), footer=_footer(data))


def _checkpoint_page(data: RunData, decision: Decision, table: pd.DataFrame,
                     row: pd.Series) -> str:
    epoch = int(row["epoch"])
    if row["chosen"]:
        verdict, cls = f"Epoch {epoch} is the stopping epoch", "summary"
    elif not row["passes_gates"]:
        verdict, cls = f"Epoch {epoch} is out", "summary none"
    else:
        verdict, cls = f"Epoch {epoch} passes every gate", "summary"
    why = [r[:1].upper() + r[1:] + "." for r in str(row["reasons"]).split("; ") if r]
    if not why and row["passes_gates"]:
        why = [f"It passed every gate; {'it is within' if row['within_interval'] else 'it is outside'}"
               f" the best checkpoint's interval ({decision.metric_label} ≤ {fmt(decision.bound)})."]
    body = (f"<div class=\"{cls}\"><p class=\"verdict\">{H.esc(verdict)}</p>"
            + H.bullets(why) + "</div>")
    gate_cols = [c for c in table.columns if c.startswith("gate_")]
    body += H.table(["gate", "result"], [[GATE_LABELS[c[5:]], H.badge(row[c])] for c in gate_cols],
                    raw=True, narrow=True)
    rows = []
    for col in SHOWN[data.kind]:
        if col in row.index and pd.notna(row.get(col)):
            label, direction, meaning = METRIC_INFO[col]
            rows.append([label, _value_ci(row, col), direction, meaning])
    train = [("discriminator loss", M.D_LOSS), ("generator loss", M.G_LOSS),
             ("D accuracy on real", M.D_ACC_REAL), ("D accuracy on fake", M.D_ACC_FAKE)]
    for label, col in train:
        if pd.notna(row.get(col, np.nan)):
            rows.append([label, fmt(row[col]), "10–90 %" if "acc" in col else "–", "training"])
    body += H.section("Scores", H.table(["measure", "value (95 % interval)", "better",
                                         "meaning"], rows, left=(0, 3)))
    if data.kind == "2d":
        png = data.sample_png(epoch)
        body += H.section("Generated images", _image(
            png, f"Epoch {epoch}: samples from fixed latent vectors.",
            missing="No sample grid for this epoch (samples/epoch-NNNN.png)."))
        body += H.section("Memorization audit", _memorization_block(data, epoch, title=f"Epoch {epoch}"))
        body += H.section("Findings audit", _findings_block(data, epoch))
    else:
        pts = data.sample_points(epoch)
        if pts is not None:
            truth, x_range, y_range = _pattern_truth(data)
            body += H.section("What the generator draws", H.figure(
                plots.pattern_plot({epoch: pts}, truth, chosen=decision.stopping_epoch,
                                   x_range=x_range, y_range=y_range),
                "True pattern in red, generator points in blue."))
    if "detect_p" in row.index:
        if pd.notna(row.get("detect_p")):
            text = (f"Readers read {fmt(row['n_read'])} fakes of this checkpoint and called "
                    f"{pct(row['fool_rate'])} of them real (95 % interval "
                    f"{pct(row['fool_rate_ci_low'])}–{pct(row['fool_rate_ci_high'])}); one-sided "
                    f"p that they detect fakes better than chance = {fmt(row['detect_p'])}.")
        else:
            text = "This checkpoint was not part of the reading study."
        body += H.section("Readers", H.para(text))
    epochs = [int(e) for e in table["epoch"]]
    i = epochs.index(epoch)
    links = [f"<a href=\"{layout.report_page_name(epochs[i - 1])}\">← epoch {epochs[i - 1]}</a>"] if i else []
    links.append(f"<a href=\"../index.html\">run report ({H.esc(headline(decision))})</a>")
    if i + 1 < len(epochs):
        links.append(f"<a href=\"{layout.report_page_name(epochs[i + 1])}\">epoch {epochs[i + 1]} →</a>")
    nav = "<p class=\"noprint\">" + " · ".join(links) + "</p>"
    body = nav + body + nav
    return H.page(f"Checkpoint quality report: epoch {epoch}", body,
                  subtitle=H.esc(_run_title(data)), footer=_footer(data))
