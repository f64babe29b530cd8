"""Report figures: matplotlib (Agg) → inline ``data:image/png;base64`` URIs.

Every figure is returned as a data URI so the HTML page needs no other file.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ganaudit.schema import metrics as M  # noqa: E402

CHOSEN = "#0b7a3e"
REJECTED = "#c0392b"
LINE = "#1f4e79"
SECOND = "#d9822b"
SHADE = "#f4c7c3"
BASELINE = "#6a1b9a"

# The report's look, applied only while a report figure is drawn (never to the rest of the
# process: audits and study plots drawn in the same process keep matplotlib's defaults).
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "figure.constrained_layout.use": True,
}


def styled(draw):
    """Run a figure-making function under the report style."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def figure_uri(fig) -> str:
    """Render a figure to a PNG data URI and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_uri(path: str | Path) -> str:
    """A PNG file on disk as a data URI."""
    data = Path(path).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _shade_unhealthy(ax, epochs, healthy) -> bool:
    shaded = False
    for epoch, ok in zip(epochs, healthy):
        if ok is False or (not pd.isna(ok) and not bool(ok)):
            ax.axvspan(epoch - 0.5, epoch + 0.5, color=SHADE, alpha=0.6, lw=0,
                       label=None if shaded else "unhealthy epoch")
            shaded = True
    return shaded


def _epoch_axis(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _mark_chosen(ax, chosen: int | None) -> None:
    if chosen is not None:
        ax.axvline(chosen, color=CHOSEN, lw=1.5, ls="--", label=f"stopping epoch {chosen}")


@styled
def training_curves(history: pd.DataFrame, *, chosen: int | None = None) -> str:
    """Losses and discriminator accuracies against epoch, unhealthy epochs shaded."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    epochs = history["epoch"].to_numpy()
    healthy = list(history[M.HEALTHY])
    for ax in (ax1, ax2):
        _shade_unhealthy(ax, epochs, healthy)
        _mark_chosen(ax, chosen)
    ax1.plot(epochs, history[M.D_LOSS], color=LINE, marker=".", label="discriminator loss")
    ax1.plot(epochs, history[M.G_LOSS], color=SECOND, marker=".", label="generator loss")
    ax1.set(title="Training losses", xlabel="epoch", ylabel="loss")
    # The health gate's quantity, drawn bold: the mean of the two accuracies.
    real = pd.to_numeric(history[M.D_ACC_REAL], errors="coerce")
    fake = pd.to_numeric(history[M.D_ACC_FAKE], errors="coerce")
    ax2.plot(epochs, real, color=LINE, marker=".", lw=0.8, alpha=0.6, label="on real")
    ax2.plot(epochs, fake, color=SECOND, marker=".", lw=0.8, alpha=0.6, label="on fake")
    ax2.plot(epochs, (real + fake) / 2, color="black", marker="o", ms=3.5, lw=2,
             label="mean (health gate)")
    ax2.axhspan(0.1, 0.9, color="#2e7d32", alpha=0.06, lw=0)
    for level in (0.1, 0.9):
        ax2.axhline(level, color="grey", lw=0.8, ls=":")
    ax2.set(title="Discriminator accuracy (gate: mean within 10–90 %)", xlabel="epoch",
            ylabel="accuracy", ylim=(-0.02, 1.02))
    for ax in (ax1, ax2):
        ax.legend(loc="best")
        _epoch_axis(ax)
    return figure_uri(fig)


@styled
def metric_plot(table: pd.DataFrame, column: str, *, title: str, ylabel: str,
                low: str | None = None, high: str | None = None,
                chosen: int | None = None, bound: float | None = None,
                limit: float | None = None, limit_label: str = "limit",
                excluded: list[int] | None = None, log_when_wide: bool = False,
                baseline: tuple[float, float | None, float | None] | None = None) -> str | None:
    """One metric against epoch with its interval, the chosen epoch and the gated-out epochs.

    Returns None when the column is absent or has no finite value. With ``log_when_wide`` a
    positive metric spanning more than a factor 30 gets a log axis, so the differences near
    the stopping epoch stay visible next to the large early values. ``baseline`` (value,
    low, high) draws the real-vs-real level as a band: what a perfect generator would score.
    A metric flat at one value gets an axis around that value and the baseline, never a
    ±0.04 band around zero.
    """
    if column not in table.columns:
        return None
    epochs = table["epoch"].to_numpy(dtype=float)
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).any():
        return None
    fig, ax = plt.subplots(figsize=(5, 3))
    if low and high and low in table.columns and high in table.columns:
        lo = pd.to_numeric(table[low], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(table[high], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.fill_between(epochs[ok], lo[ok], hi[ok], color=LINE, alpha=0.15, lw=0,
                            label="95 % interval" if column != M.KID_MEAN else "± 1 std")
    ax.plot(epochs, values, color=LINE, marker="o", ms=3.5, label=ylabel)
    if excluded:
        mask = np.isin(epochs, excluded) & np.isfinite(values)
        if mask.any():
            ax.plot(epochs[mask], values[mask], ls="none", marker="x", color=REJECTED, ms=7,
                    mew=1.8, label="out (failed a gate)")
    if bound is not None and math.isfinite(bound):
        ax.axhline(bound, color=CHOSEN, lw=0.8, ls=":", label="best + interval")
    if limit is not None:
        ax.axhline(limit, color=REJECTED, lw=1, ls="--", label=limit_label)
    if baseline is not None and baseline[0] is not None and math.isfinite(baseline[0]):
        b_val, b_lo, b_hi = baseline
        ax.axhline(b_val, color=BASELINE, lw=1.2, ls="-.", label="real vs real")
        if b_lo is not None and b_hi is not None and math.isfinite(b_lo) and math.isfinite(b_hi):
            ax.axhspan(b_lo, b_hi, color=BASELINE, alpha=0.15, lw=0)
    finite_all = values[np.isfinite(values)]
    if finite_all.size and np.ptp(finite_all) == 0:
        # A flat line: show it against the baseline (or 0–1 for shares), not on a ±0.04 axis.
        ref = [finite_all[0]] + ([baseline[0]] if baseline is not None and baseline[0] is not None
                                 and math.isfinite(baseline[0]) else [])
        lo, hi = min(ref + [0.0]), max(ref + [1.0 if max(ref) <= 1 else max(ref)])
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
    _mark_chosen(ax, chosen)
    if chosen is not None and chosen in epochs:
        i = int(np.where(epochs == chosen)[0][0])
        if math.isfinite(values[i]):
            ax.plot([chosen], [values[i]], marker="o", ms=9, mfc="none", mec=CHOSEN, mew=2)
    finite = values[np.isfinite(values)]
    if (log_when_wide and finite.min() > 0 and finite.max() / finite.min() > 30
            and np.ptp(finite) > 0):
        ax.set_yscale("log")
        ylabel += " (log scale)"
    ax.set(title=title, xlabel="epoch", ylabel=ylabel)
    _epoch_axis(ax)
    ax.legend(loc="best")
    return figure_uri(fig)


@styled
def pattern_plot(points: dict[int, np.ndarray], truth: np.ndarray | None, *,
                 chosen: int | None, x_range=None, y_range=None) -> str:
    """The seed notebook's picture: true pattern in red, generator points in blue, per epoch."""
    epochs = sorted(points)
    cols = min(3, len(epochs))
    rows = math.ceil(len(epochs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.ravel()[len(epochs):]:
        ax.axis("off")
    for ax, epoch in zip(axes.ravel(), epochs):
        if truth is not None:
            ax.plot(truth[:, 0], truth[:, 1], color="red", lw=2, label="true pattern")
        pts = points[epoch]
        ax.plot(pts[:, 0], pts[:, 1], ls="none", marker=".", ms=2.5, color="blue", alpha=0.5,
                label="generator")
        title = f"epoch {epoch}" + (" (stopping epoch)" if epoch == chosen else "")
        ax.set_title(title, color=CHOSEN if epoch == chosen else "black")
        if epoch == chosen:
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color(CHOSEN)
                spine.set_linewidth(2)
        if x_range is not None and y_range is not None:
            dx = 0.15 * (x_range[1] - x_range[0])
            dy = 0.15 * (y_range[1] - y_range[0])
            ax.set_xlim(x_range[0] - dx, x_range[1] + dx)
            ax.set_ylim(y_range[0] - dy, y_range[1] + dy)
    axes.ravel()[0].legend(loc="best", markerscale=4)
    return figure_uri(fig)


@styled
def reader_plot(table: pd.DataFrame, *, chosen: int | None = None) -> str | None:
    """Fool rate (share of fakes called real) per checkpoint with its interval."""
    rows = table.dropna(subset=["fool_rate"]) if "fool_rate" in table.columns else table.iloc[:0]
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(5, 3))
    x = rows["epoch"].to_numpy(dtype=float)
    y = rows["fool_rate"].to_numpy(dtype=float)
    lo = rows["fool_rate_ci_low"].to_numpy(dtype=float)
    hi = rows["fool_rate_ci_high"].to_numpy(dtype=float)
    ax.errorbar(x, y, yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)], fmt="o",
                color=LINE, capsize=3, label="fool rate (fakes called real)")
    ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance (50 %)")
    _mark_chosen(ax, chosen)
    ax.set(title="Readers: fakes called real", xlabel="epoch", ylabel="share",
           ylim=(-0.02, 1.02))
    _epoch_axis(ax)
    ax.legend(loc="best")
    return figure_uri(fig)


@styled
def detectability_plot(table: pd.DataFrame, study: pd.DataFrame | None = None, *,
                       chosen: int | None = None) -> str | None:
    """Machine reader beside the human ones: per checkpoint, the detectability AUC (classifier
    two-sample test, with its interval) and the readers' mean AUC from a reading study.

    Returns None when no checkpoint has a detectability AUC.
    """
    cols = [M.DETECTABILITY_AUC, M.DETECTABILITY_AUC_CI_LOW, M.DETECTABILITY_AUC_CI_HIGH]
    if not set(cols) <= set(table.columns):
        return None
    rows = table.assign(**{c: pd.to_numeric(table[c], errors="coerce") for c in cols}).dropna(subset=cols)
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(5, 3))
    x = rows["epoch"].to_numpy(dtype=float)
    y, lo, hi = (rows[c].to_numpy(dtype=float) for c in cols)
    ax.errorbar(x, y, yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)], fmt="o-",
                color=LINE, capsize=3, ms=3.5, label="machine reader (CNN)")
    if study is not None and {"epoch", "auc"} <= set(study.columns):
        readers = study.dropna(subset=["epoch"])
        readers = readers[pd.to_numeric(readers["auc"], errors="coerce").notna()]
        if not readers.empty:
            ax.plot(readers["epoch"].to_numpy(dtype=float), readers["auc"].to_numpy(dtype=float),
                    ls="none", marker="D", ms=6, color=SECOND, label="human readers (mean AUC)")
            lo = np.concatenate([lo, readers["auc"].to_numpy(dtype=float)])
    ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance (0.5)")
    _mark_chosen(ax, chosen)
    ax.set(title="Can the fakes be told apart? (AUC, 0.5 = no)", xlabel="epoch", ylabel="AUC",
           ylim=(min(0.4, float(np.nanmin(lo)) - 0.02), 1.02))
    _epoch_axis(ax)
    ax.legend(loc="best", fontsize=7)
    return figure_uri(fig)


@styled
def prevalence_plot(prevalence: pd.DataFrame) -> str | None:
    """Grouped bars: each finding's prevalence in real vs generated images (with intervals)."""
    if prevalence is None or prevalence.empty:
        return None
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(prevalence) + 2), 3))
    x = np.arange(len(prevalence))
    for offset, side, color in ((-0.18, "real", LINE), (0.18, "generated", SECOND)):
        y = prevalence[side].to_numpy(dtype=float)
        lo = prevalence.get(f"{side}_ci_low")
        hi = prevalence.get(f"{side}_ci_high")
        yerr = None
        if lo is not None and hi is not None:
            lo, hi = lo.to_numpy(dtype=float), hi.to_numpy(dtype=float)
            if np.isfinite(lo).all() and np.isfinite(hi).all():
                yerr = [np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)]
        ax.bar(x + offset, y, width=0.36, color=color, yerr=yerr, capsize=3, label=side)
    ax.set_xticks(x, prevalence["finding"], rotation=20 if len(prevalence) > 3 else 0,
                  ha="right" if len(prevalence) > 3 else "center")
    ax.set(title="Finding prevalence", ylabel="share of images")
    ax.legend(loc="best")
    return figure_uri(fig)
