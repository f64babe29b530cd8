"""The stopping rule on hand-made scores: earliest within the best CI, gates, readers."""

from __future__ import annotations

import pandas as pd
import pytest

from ganaudit.gan_models.errors import InputError
from ganaudit.reports.load import load_run, load_study
from ganaudit.reports.stopping import RuleOptions, decide
from tests.reports.synthetic import make_run_1d, make_run_2d, make_study


def _decide(run, **options):
    data = load_run(run)
    return decide(data.scores, kind=data.kind, options=RuleOptions(**options),
                  baselines=data.baselines, anchor=data.anchor)


def _text(decision) -> str:
    return " ".join(decision.rationale + decision.recommendations)


def _decide_with_study(tmp_path, values, detect, *, half_width=0.3):
    """The decision for a 2D run scoring ``values`` and a study with ``{epoch: detect_p}``."""
    data = load_run(make_run_2d(tmp_path, values, half_width=half_width))
    study, _, _ = load_study(make_study(tmp_path, detect))
    return decide(data.scores, kind="2d", study=study, baselines=data.baselines, anchor=data.anchor)


def test_2d_picks_earliest_within_best_ci(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.2, 3.0, 3.1], half_width=0.3)
    decision = _decide(run)
    assert decision.best_epoch == 5
    assert decision.candidate_epoch == 4  # 3.2 ≤ 3.0 + 0.3; epoch 3 (4.0) is outside
    assert decision.bound == pytest.approx(3.3)
    assert "Stop at epoch 4" in decision.rationale[0]
    assert "epoch 5" in decision.rationale[1] and "FD∞" in decision.rationale[1]
    row = decision.table.set_index("epoch").loc[4]
    assert bool(row["chosen"]) and bool(row["within_interval"])


def test_narrower_interval_moves_the_pick_later(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.2, 3.0, 3.1], half_width=0.05)
    assert _decide(run).candidate_epoch == 5


@pytest.mark.parametrize("values, with_ci, tolerance, expected, interval", [
    ([0.5, 0.2, 0.05, 0.03, 0.031, 0.029], True, None, 4, "ci"),
    ([0.5, 0.1, 0.052, 0.05], False, None, 3, "tolerance"),   # default 5 % when no CI
    ([0.5, 0.1, 0.052, 0.05], False, 1.5, 2, "tolerance"),
    ([0.5, 0.2, 0.05, 0.03, 0.031, 0.029], True, 0.0, 6, "tolerance"),  # explicit: exact best
])
def test_1d_true_error_rule(tmp_path, values, with_ci, tolerance, expected, interval):
    run = make_run_1d(tmp_path, values, with_ci=with_ci)
    decision = _decide(run, tolerance=tolerance)
    assert decision.metric == "true_error"
    assert decision.candidate_epoch == expected
    assert decision.rule["parameters"]["interval"] == interval


def test_memorizing_checkpoints_are_out_and_the_rationale_says_so(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.1, 2.0, 1.5],
                      memorization=[0, 0, 0.01, 0.02, 0.41, 0.8])
    decision = _decide(run)
    assert decision.candidate_epoch == 4
    text = _text(decision)
    assert "Epoch 6 scored the lowest FD∞ (1.5) but 80 % of its images matched a training image" \
        in text
    assert "Epoch 5 scored a lower FD∞ (2) but 41 % of its images" in text
    assert "it memorizes" in text
    assert "From epoch 5 on, every checkpoint memorizes training images; the stopping epoch 4 " \
        "comes before memorization starts." in text
    table = decision.table.set_index("epoch")
    assert table.loc[5, "gate_memorization"] == "fail" and not table.loc[5, "passes_gates"]


def test_memorization_limit_is_configurable(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.1, 2.0, 1.5],
                      memorization=[0, 0, 0.01, 0.02, 0.41, 0.08])
    assert _decide(run).candidate_epoch == 4  # epochs 5 (41 %) and 6 (8 %) are out at 5 %
    assert _decide(run, memorization_max=0.10).candidate_epoch == 6


@pytest.mark.parametrize("gate, kwargs, phrase", [
    ("health", {"healthy": [True, True, True, False, True]}, "training was unhealthy"),
    ("findings", {"impossible": [0, 0, 0, 3, 0]}, "3 generated images with a finding combination"),
    ("findings", {"significant": [False, False, False, True, False]},
     "beyond the clinically negligible margin"),
])
def test_gates_exclude_a_better_checkpoint(tmp_path, gate, kwargs, phrase):
    # Epoch 4 scores best; its gate fails, so epoch 5 (within 0.3 of nothing better) wins.
    run = make_run_2d(tmp_path, [9, 6, 4, 2.0, 3.0], **kwargs)
    decision = _decide(run)
    assert decision.candidate_epoch == 5
    table = decision.table.set_index("epoch")
    assert table.loc[4, f"gate_{gate}"] == "fail"
    assert "Epoch 4 scored the lowest FD∞ (2)" in _text(decision)
    assert phrase in _text(decision)


def test_missing_audits_are_reported_not_excluded(tmp_path):
    run = make_run_2d(tmp_path, [5, 3, 2, 2.1, 2.05])  # levelled off after epoch 3
    scores = pd.read_csv(run / "scores.csv")
    scores.loc[2, "memorization_rate"] = float("nan")
    scores.to_csv(run / "scores.csv", index=False)
    decision = _decide(run)
    assert decision.candidate_epoch == 3
    assert decision.table.set_index("epoch").loc[3, "gate_memorization"] == "not audited"
    assert "memorization audit is missing for epoch 3: those checkpoints were not checked" in _text(decision)
    assert "the stopping epoch 3 among them, so it was picked without that check." in _text(decision)
    scores.loc[2, "memorization_rate"] = 0.0
    scores.loc[0, "memorization_rate"] = float("nan")
    scores.to_csv(run / "scores.csv", index=False)
    decision = _decide(run)
    assert "memorization audit is missing for epoch 1" in _text(decision)
    assert "picked without that check" not in _text(decision)


def test_reader_data_changes_the_pick(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.2, 3.0, 3.1], half_width=0.3)
    data = load_run(run)
    assert decide(data.scores, kind="2d", baselines=data.baselines, anchor=data.anchor).candidate_epoch == 4
    study, _, _ = load_study(make_study(tmp_path, {4: 0.001, 5: 0.4, 6: 0.3}))
    decision = decide(data.scores, kind="2d", study=study, baselines=data.baselines, anchor=data.anchor)
    assert decision.candidate_epoch == 5
    text = _text(decision)
    assert "Readers recognised the fakes of epoch 4 better than chance (p = 0.001 < 0.05)" in text
    assert "loses to epoch 5" in text
    assert "earliest checkpoint" not in text  # epoch 5 is also the best: no interval sentence
    # A stricter alpha makes epoch 4's detection non-significant: the pick goes back.
    assert decide(data.scores, kind="2d", study=study, baselines=data.baselines, anchor=data.anchor,
                  options=RuleOptions(alpha=0.0005)).candidate_epoch == 4


def test_readers_detect_every_candidate(tmp_path):
    decision = _decide_with_study(tmp_path, [9, 3.0, 3.1, 3.05, 3.1],
                                  {2: 0.01, 3: 0.02, 4: 0.03, 5: 0.01})
    assert decision.verdict == "stop" and decision.stopping_epoch == 2
    assert "Readers recognised the fakes of every checkpoint within the interval" in _text(decision)


@pytest.mark.parametrize("kwargs, values, verdict, phrase", [
    ({"healthy": [False] * 4}, [5, 4, 3, 2], "restart", "restart training"),
    ({"memorization": [0.3] * 4}, [5, 4, 3, 2], "no-checkpoint-passes", "copies training images"),
    ({}, [9, 8, 7, 6], "train-longer", "Train longer"),  # all above 3× the baseline, falling
    ({"impossible": [1] * 4}, [5, 4, 3, 2], "train-longer", "invents or distorts findings"),
])
def test_no_checkpoint_passes(tmp_path, kwargs, values, verdict, phrase):
    run = make_run_2d(tmp_path, values, **kwargs)
    decision = _decide(run)
    assert decision.verdict == verdict
    assert decision.stopping_epoch is None and decision.best_epoch is None
    assert "4 of 4 checkpoints" in _text(decision)
    assert any(phrase in r for r in decision.recommendations), decision.recommendations
    assert not decision.table["chosen"].any()
    assert decision.closest_epoch is not None and decision.blocked


def test_no_checkpoint_passes_1d_unhealthy(tmp_path):
    run = make_run_1d(tmp_path, [0.3, 0.2, 0.1], healthy=[False, False, False])
    decision = _decide(run)
    assert decision.stopping_epoch is None
    assert "restart training" in " ".join(decision.recommendations)


def test_last_epoch_best_and_falling_recommends_longer_training(tmp_path):
    run = make_run_1d(tmp_path, [0.5, 0.3, 0.2, 0.1], half_width=0.001)
    decision = _decide(run)
    assert decision.verdict == "train-longer" and decision.stopping_epoch is None
    assert decision.candidate_epoch == 4
    assert decision.convergence["still_falling"] is True
    assert "Train longer" in " ".join(decision.recommendations)


@pytest.mark.parametrize("kind_run, options, match", [
    ("1d", {"metric": "fd_inf"}, "metric 'fd_inf' is not scored for 1D runs; use one of"),
    ("2d", {"metric": "true_error"}, "not scored for 2D runs"),
    ("2d", {"metric": "psnr"}, "unknown metric 'psnr'; choose one of"),
    ("2d", {"memorization_max": 5.0}, "memorization-max must be a share between 0 and 1"),
    ("2d", {"alpha": 0.0}, "alpha must be between 0 and 1"),
    ("2d", {"tolerance": -0.1}, "tolerance must be a number >= 0"),
])
def test_bad_options(tmp_path, kind_run, options, match):
    run = (make_run_1d(tmp_path, [0.3, 0.2]) if kind_run == "1d"
           else make_run_2d(tmp_path, [3, 2]))
    with pytest.raises(InputError, match=match):
        _decide(run, **options)


def test_metric_column_missing(tmp_path):
    run = make_run_2d(tmp_path, [3, 2])
    scores = pd.read_csv(run / "scores.csv").drop(columns=["fd_inf"])
    scores.to_csv(run / "scores.csv", index=False)
    with pytest.raises(InputError, match="scores.csv has no 'fd_inf' column; re-run `ganaudit score"):
        _decide(run)


def test_kid_interval_uses_std(tmp_path):
    run = make_run_2d(tmp_path, [4.0, 3.1, 3.0])  # kid_mean = fd/100, kid_std = 0.002
    decision = _decide(run, metric="kid_mean")
    assert decision.best_epoch == 3
    assert decision.bound == pytest.approx(0.032)
    assert decision.candidate_epoch == 2


def test_readers_move_the_pick_inside_the_interval(tmp_path):
    run = make_run_2d(tmp_path, [9, 3.2, 3.1, 3.0, 3.05, 3.1], half_width=0.3)
    data = load_run(run)
    study, _, _ = load_study(make_study(tmp_path, {2: 0.004}))
    decision = decide(data.scores, kind="2d", study=study, baselines=data.baselines, anchor=data.anchor)
    assert decision.candidate_epoch == 3 and decision.best_epoch == 4
    text = _text(decision)
    assert ("epoch 3 is the earliest checkpoint within its 95 % confidence interval (FD∞ ≤ 3.3) "
            "whose fakes readers could not recognise") in text
    assert "loses to epoch 3, which was not part of the reading study" in text


def test_rejected_ties_share_one_sentence(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 1.5, 1.5], memorization=[0, 0, 0, 0.8, 0.8])
    text = _text(_decide(run))
    assert ("Epochs 4 and 5 scored the lowest FD∞ (1.5) but 80 % of their images matched a "
            "training image (limit 5 %): they memorize.") in text


def test_readers_push_the_pick_past_the_best_epoch(tmp_path):
    decision = _decide_with_study(tmp_path, [5, 3.0, 3.1, 3.2, 3.15], {2: 0.001, 3: 0.6})
    assert (decision.candidate_epoch, decision.best_epoch) == (3, 2)
    text = _text(decision)
    assert "so it is preferred to the better-scoring epoch 2, whose fakes readers recognise" in text
    assert "the earlier checkpoint is preferred" not in text


def test_study_without_this_runs_checkpoints_is_said_in_the_rationale(tmp_path):
    decision = _decide_with_study(tmp_path, [5, 3.0, 3.1, 3.2, 3.15], {7: 0.001, 8: 0.6})
    assert decision.candidate_epoch == 2
    assert "The reading study has no results for any of this run's checkpoints" in _text(decision)


def test_unhealthy_end_does_not_also_advise_training_longer(tmp_path):
    run = make_run_2d(tmp_path, list(range(12, 0, -1)), healthy=[False] * 12)
    decision = _decide(run)
    recs = " ".join(decision.recommendations)
    assert "restart training" in recs and "train longer" not in recs
    assert "12 of 12 checkpoints were unhealthy (epochs 1, 2, 3, 4, 5, 6, 7, 8 and 4 more)" in _text(decision)


@pytest.mark.parametrize("share, text", [
    (0.41, "41 %"), (0.025, "2.5 %"), (0.0504, "5.04 %"), (0.05, "5 %"), (0.9951, "99.5 %"),
    (0.99961, "99.96 %"), (1.0, "100 %"), (0.1004, "10.04 %"), (2 / 3, "66.7 %"),
])
def test_percentages_never_round_onto_a_limit(share, text):
    from ganaudit.reports.stopping import pct

    assert pct(share) == text


@pytest.mark.parametrize("value, text", [(999.6, "1.00e+03"), (999.4, "999"), (12.345, "12.3"),
                                         (0.0009, "9.00e-04"), (0, "0")])
def test_numbers_for_people(value, text):
    from ganaudit.reports.stopping import fmt

    assert fmt(value) == text


def test_memorization_onset_names_the_first_copying_checkpoint(tmp_path):
    run = make_run_2d(tmp_path, [9, 4, 3.9, 3, 4.5, 3.5, 3.2], half_width=0.05,
                      memorization=[0, 0, 0, 0.3, 0.01, 0.2, 0.3])
    decision = _decide(run)
    assert decision.candidate_epoch == 3
    assert ("Memorization starts at epoch 4 (epochs 4, 6 and 7 memorize training images; every "
            "checkpoint from epoch 6 on does); the stopping epoch 3 comes before it.") in _text(decision)
