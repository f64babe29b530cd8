"""Report figures: inline PNG data URIs, unhealthy shading, intervals, log axis, missing data."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganaudit.reports import plots


def _image(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_training_curves_shade_unhealthy_epochs(monkeypatch):
    history = pd.DataFrame({"epoch": [1, 2, 3, 4], "d_loss": [1.3, 1.2, 0.2, 0.1],
                            "g_loss": [0.7, 0.8, 3.0, 4.0], "d_acc_real": [0.6, 0.6, 0.99, 1.0],
                            "d_acc_fake": [0.5, 0.6, 0.98, 1.0],
                            "healthy": pd.array([True, True, False, pd.NA], dtype="boolean")})
    spans = []
    original = plt.Axes.axvspan

    def spy(self, lo, hi, **kwargs):
        spans.append((lo, hi))
        return original(self, lo, hi, **kwargs)

    monkeypatch.setattr(plt.Axes, "axvspan", spy)
    image = _image(plots.training_curves(history, chosen=2))
    assert image.width > 500 and image.height > 200
    assert spans == [(2.5, 3.5), (2.5, 3.5)]  # epoch 3 in both panels; unknown (NA) not shaded


def test_metric_plot_missing_or_empty_column():
    table = pd.DataFrame({"epoch": [1, 2], "fd": [np.nan, np.nan]})
    assert plots.metric_plot(table, "fd", title="FD", ylabel="FD") is None
    assert plots.metric_plot(table, "kid_mean", title="KID", ylabel="KID") is None


@pytest.mark.parametrize("values, log", [([400.0, 40.0, 2.0, 1.5], True),
                                         ([4.0, 3.0, 2.0, 1.5], False)])
def test_metric_plot_log_axis_only_when_wide(monkeypatch, values, log):
    scales = []
    original = plt.Axes.set_yscale

    def spy(self, value, **kwargs):
        scales.append(value)
        return original(self, value, **kwargs)

    monkeypatch.setattr(plt.Axes, "set_yscale", spy)
    table = pd.DataFrame({"epoch": [1, 2, 3, 4], "fd_inf": values,
                          "lo": np.array(values) * 0.9, "hi": np.array(values) * 1.1})
    uri = plots.metric_plot(table, "fd_inf", title="FD∞", ylabel="FD∞", low="lo", high="hi",
                            chosen=3, bound=2.2, excluded=[4], log_when_wide=True)
    _image(uri)
    assert (scales == ["log"]) is log


def test_pattern_plot_and_reader_plot():
    rng = np.random.default_rng(0)
    points = {e: rng.normal(size=(100, 2)) for e in (1, 5, 9, 12)}
    truth = np.stack([np.linspace(-1, 1, 50), np.sin(np.linspace(-1, 1, 50))], axis=1)
    image = _image(plots.pattern_plot(points, truth, chosen=9, x_range=(-1, 1), y_range=(-1, 1)))
    assert image.width > image.height  # 2 rows × 3 columns
    readers = pd.DataFrame({"epoch": [2, 4], "fool_rate": [0.3, 0.5], "fool_rate_ci_low": [0.2, 0.4],
                            "fool_rate_ci_high": [0.4, 0.6]})
    _image(plots.reader_plot(readers, chosen=4))
    assert plots.reader_plot(readers.assign(fool_rate=np.nan)) is None


def test_report_style_stays_inside_report_figures():
    """The report's look must not leak: audits drawn later in the same process (the demo)
    keep matplotlib's defaults and their tight layout warns about nothing."""
    import warnings

    defaults = {key: plt.rcParamsDefault[key] for key in plots.STYLE}
    history = pd.DataFrame({"epoch": [1, 2], "d_loss": [1.3, 1.2], "g_loss": [0.7, 0.8],
                            "d_acc_real": [0.6, 0.6], "d_acc_fake": [0.5, 0.6], "healthy": [True, True]})
    engines = []
    original = plt.Figure.savefig

    def spy(fig, *args, **kwargs):
        engines.append(type(fig.get_layout_engine()).__name__)
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = spy
    try:
        plots.training_curves(history)
    finally:
        plt.Figure.savefig = original
    assert engines == ["ConstrainedLayoutEngine"]
    assert {key: plt.rcParams[key] for key in plots.STYLE} == defaults
    fig, ax = plt.subplots()
    ax.set_title("after a report figure")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.tight_layout()
    plt.close(fig)
