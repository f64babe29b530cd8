"""The verdict: every outcome on constructed score tables, on real short runs, and its parts
(convergence test, absolute quality, closest checkpoint, health notes)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganaudit.reports.load import load_run
from ganaudit.reports.stopping import VERDICTS, RuleOptions, convergence, decide, headline
from tests.reports.synthetic import make_run_1d, make_run_2d


def _decide(run, **options):
    data = load_run(run)
    return decide(data.scores, kind=data.kind, options=RuleOptions(**options),
                  baselines=data.baselines, anchor=data.anchor)


# --------------------------------------------------------------------------- constructed tables

@pytest.mark.parametrize("values, kwargs, verdict", [
    # converged (last 4 flat), good quality -> stop
    ([9, 6, 4, 3.2, 3.0, 3.1, 3.05], {}, "stop"),
    # still falling steadily to the end, best is the last -> train longer
    ([9, 8, 6, 5, 4, 3.5, 3.0], {}, "train-longer"),
    # the discriminator won at the end -> restart, whatever the scores
    ([9, 6, 4, 3.2, 3.0, 3.1, 3.05], {"healthy": [True] * 5 + [False] * 2}, "restart"),
    # every checkpoint copies training images -> more epochs will not help
    ([9, 6, 4, 3.2, 3.0, 3.1, 3.05], {"memorization": [0.3] * 7}, "no-checkpoint-passes"),
    # above the quality limit everywhere and levelled off -> no checkpoint passes
    ([9.3, 9.1, 9.0, 9.2, 9.1, 9.0, 9.1], {}, "no-checkpoint-passes"),
])
def test_every_verdict_on_constructed_scores(tmp_path, values, kwargs, verdict):
    decision = _decide(make_run_2d(tmp_path, values, **kwargs))
    assert decision.verdict == verdict, (decision.rationale, decision.convergence)
    assert (decision.stopping_epoch is not None) == (verdict == "stop")
    assert headline(decision).split()[0] in {"Stop", "Train", "Restart", "No"}
    assert decision.recommendations or verdict == "stop"


def test_verdicts_are_the_documented_four():
    assert VERDICTS == ("stop", "train-longer", "restart", "no-checkpoint-passes")


def test_no_checkpoint_passes_names_the_closest_and_what_blocked_it(tmp_path):
    # Epochs 1-4 fail the quality limit (FD∞ > 3 × 1.5), epochs 5-6 copy training images.
    run = make_run_2d(tmp_path, [9.3, 9.1, 9.0, 8.9, 4.4, 4.3],
                      memorization=[0.0, 0.0, 0.0, 0.0, 0.3, 0.3],
                      healthy=[True] * 5 + [False])
    decision = _decide(run)
    assert decision.verdict == "restart"  # unhealthy at the end wins over everything
    run = make_run_2d(tmp_path / "b", [9.3, 9.1, 9.0, 8.9, 4.4, 4.3],
                      memorization=[0.0, 0.0, 0.0, 0.0, 0.3, 0.3])
    decision = _decide(run)
    assert decision.verdict == "no-checkpoint-passes"
    # epochs 1-4 fail quality only, 5-6 fail memorization only: fewest gates = 1, lowest FD∞
    assert decision.closest_epoch == 6
    assert list(decision.blocked) == ["memorization"]
    assert "30 % of its images matched a training image" in decision.blocked["memorization"]
    report_text = " ".join(decision.rationale)
    assert "The closest checkpoint is epoch 6" in report_text


def test_too_few_checkpoints_never_stop(tmp_path):
    decision = _decide(make_run_2d(tmp_path, [4.0, 3.0, 3.1]))
    assert decision.verdict == "train-longer" and decision.candidate_epoch == 2
    assert decision.convergence["still_falling"] is None
    assert "at least 4 are needed" in " ".join(decision.rationale)


def test_a_noisy_large_fall_is_too_early_to_give_up(tmp_path):
    # 1D, every checkpoint above the 5 % floor (true_error_rel = value / 2), falling ~20 %
    # but not monotonically: not significant, not levelled -> train longer, not "give up".
    decision = _decide(make_run_1d(tmp_path, [0.36, 0.31, 0.33, 0.30]))
    assert decision.verdict == "train-longer"
    assert decision.convergence["still_falling"] is False
    assert decision.convergence["levelled"] is False
    assert "too early to judge" in " ".join(decision.recommendations)


def test_1d_absolute_quality_limit_is_an_option(tmp_path):
    values = [0.5, 0.3, 0.2, 0.15, 0.151, 0.149, 0.15]  # true error 7.5 % of the y-range
    run = make_run_1d(tmp_path, values, half_width=0.002)
    assert _decide(run).verdict == "no-checkpoint-passes"
    decision = _decide(run, max_true_error=0.10)
    assert decision.verdict == "stop" and decision.stopping_epoch == 4
    assert decision.rule["parameters"]["max_true_error"] == 0.10
    assert any("7.5 % of the pattern's y-range (limit 10 %)" in s for s in decision.rationale)


def test_2d_quality_limit_defaults_to_the_blur_anchor(tmp_path):
    # synthetic baselines: real-vs-real FD∞ 1.5, blurred real images 4.5 -> limit 3x
    run = make_run_2d(tmp_path, [9, 6, 4.6, 4.4, 4.45, 4.5, 4.42], half_width=0.2)
    decision = _decide(run)
    assert decision.rule["parameters"]["baseline_factor"] == pytest.approx(3.0)
    assert decision.verdict == "stop" and decision.stopping_epoch == 4
    assert decision.table.set_index("epoch").loc[3, "gate_quality"] == "fail"  # 4.6 > 4.5
    stricter = _decide(run, baseline_factor=2.0)  # 3.0 limit: nothing passes
    assert stricter.verdict == "no-checkpoint-passes"
    assert stricter.rule["parameters"]["baseline_factor_source"] == "--baseline-factor"
    assert "real images blurred" in decision.rule["parameters"]["baseline_factor_source"]


def test_2d_without_baselines_is_one_clear_error(tmp_path):
    from ganaudit.gan_models.errors import InputError

    run = make_run_2d(tmp_path, [5, 4, 3, 3.1, 3.05], baseline=None)
    with pytest.raises(InputError, match="has no baselines.json .*run `ganaudit score"):
        load_run(run)
    data = load_run(make_run_2d(tmp_path / "b", [5, 4, 3], baseline=-0.5))
    with pytest.raises(InputError, match="no usable real-vs-real baseline for FD∞.*--metric fd"):
        decide(data.scores, kind="2d", baselines=data.baselines, anchor=data.anchor)


def test_relative_columns_use_the_baseline(tmp_path):
    decision = _decide(make_run_2d(tmp_path, [9, 6, 4, 3.2, 3.0, 3.1, 3.05]))
    table = decision.table.set_index("epoch")
    assert table.loc[1, "fd_inf_rel"] == pytest.approx(9 / 1.5)
    assert table.loc[1, "fd_rel"] == pytest.approx((9 + 2) / (1.5 + 2))


# --------------------------------------------------------------------------- convergence test

def test_convergence_uses_kendall_and_theil_sen():
    epochs = np.arange(1, 9)
    values = np.array([10, 8, 7.5, 7.0, 6.0, 5.9, 5.0, 4.1])
    out = convergence(epochs, values, window=5, alpha=0.05, min_improvement=0.10)
    tau, p = stats.kendalltau(epochs[-5:], values[-5:], alternative="less")
    slope = stats.theilslopes(values[-5:], epochs[-5:])[0]
    assert out["tau"] == pytest.approx(tau) and out["p_value"] == pytest.approx(p)
    assert out["slope_per_epoch"] == pytest.approx(slope)
    assert out["p_value"] == pytest.approx(1 / 120)  # exact: one ordering out of 5!
    assert out["still_falling"] is True
    # A significant but small drift (1 % over the window) is not "measurably falling".
    flat = np.array([1.0, 0.999, 0.998, 0.997, 0.996, 0.995, 0.994, 0.993])
    assert convergence(epochs, flat, window=4, alpha=0.05, min_improvement=0.1)["still_falling"] is False


def test_convergence_ignores_unscored_checkpoints():
    values = np.array([5.0, np.nan, 4.0, 3.0, np.nan, 2.0, 1.0])
    out = convergence(np.arange(1, 8), values, window=4, alpha=0.05, min_improvement=0.1)
    assert out["epochs"] == [3, 4, 6, 7] and out["still_falling"] is True


@pytest.mark.parametrize("options, match", [
    ({"trend_window": 2}, "trend-window must be a whole number of checkpoints >= 3"),
    ({"trend_alpha": 1.5}, "trend-alpha must be between 0 and 1"),
    ({"min_improvement": -0.1}, "min-improvement must be a share between 0 and 1"),
    ({"max_true_error": 0.0}, "max-true-error must be a share of the y-range"),
    ({"baseline_factor": 0.5}, "baseline-factor must be a number >= 1"),
])
def test_bad_verdict_options(tmp_path, options, match):
    from ganaudit.gan_models.errors import InputError

    with pytest.raises(InputError, match=match):
        _decide(make_run_2d(tmp_path, [5, 4, 3]), **options)


# --------------------------------------------------------------------------- health

def test_health_note_when_one_class_stays_outside(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.2, 3.0, 3.1, 3.05])
    scores = pd.read_csv(run / "scores.csv")
    scores["d_acc_real"], scores["d_acc_fake"] = 0.15, 0.95  # mean 0.55: healthy by the gate
    scores.to_csv(run / "scores.csv", index=False)
    decision = _decide(run)
    assert (decision.table["gate_health"] == "pass").all()
    text = " ".join(decision.notes)
    assert "accuracy on fake images stayed above 90 %" in text
    assert "accuracy on real images stayed below 10 %" not in text
    assert "average over real and fake" in text


# --------------------------------------------------------------------------- real short runs

@pytest.mark.training
def test_untrained_1d_sine_is_not_stop(tmp_path):
    from ganaudit.evaluation.scoring1d import score_run_1d
    from ganaudit.gan_models.gan1d import train_1d
    from ganaudit.reports.build import build_report

    run = tmp_path / "sine4"
    train_1d("sine", run, epochs=4, seed=0, quiet=True)
    score_run_1d(run, progress=False)
    report = json.loads((build_report(run).parent / "report.json").read_text())
    assert report["verdict"] in ("train-longer", "no-checkpoint-passes"), report["rationale"]
    assert report["stopping_epoch"] is None
    text = " ".join(report["rationale"] + report["recommendations"])
    assert "of the pattern's y-range (limit 5 %)" in text
    assert report["recommendations"]


@pytest.mark.training
def test_two_epoch_2d_phantom_run_is_not_stop(tmp_path):
    from ganaudit.evaluation.scoring2d import score_run_2d
    from ganaudit.gan_models.gan2d import train_2d
    from ganaudit.reports.build import build_report

    run = tmp_path / "mr2"
    train_2d("phantom", run, size=64, epochs=2, n_phantom=120, batch_size=16, quiet=True)
    score_run_2d(run, n=40, n_boot=10, progress=False, detectability=False)
    baselines = json.loads((run / "baselines.json").read_text())
    assert set(baselines["metrics"]) >= {"fd", "fd_inf", "kid_mean", "precision", "recall"}
    assert "blur-0.5px" in baselines["anchors"]
    scores = pd.read_csv(run / "scores.csv")
    level = baselines["metrics"]["fd"]["value"]
    assert np.allclose(scores["fd_rel"], scores["fd"] / level)
    report = json.loads((build_report(run).parent / "report.json").read_text())
    assert report["verdict"] != "stop" and report["stopping_epoch"] is None
    assert report["baselines"]["fd"]["value"] == pytest.approx(level)


def test_fd_infinity_warns_when_subsets_are_smaller_than_the_dimension():
    from ganaudit.evaluation.frechet import fd_infinity

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(400, 30)), rng.normal(size=(200, 30))
    with pytest.warns(UserWarning, match=r"smallest subsets \(20 images\) are smaller than the "
                                         r"feature dimension \(30\)"):
        fd_infinity(real, fake, seed=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd_infinity(real, rng.normal(size=(400, 30)), seed=0)  # subsets of 40 >= 30: silent
