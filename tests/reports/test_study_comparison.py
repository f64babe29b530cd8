"""The stopping rule with the reading study's comparison of checkpoints (comparison.csv)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ganaudit.reader_study.analysis import COMPARISON_FILE, COMPARISON_TEST_FILE
from ganaudit.reader_study.mrmc import COMPARISON_COLUMNS
from ganaudit.reports.load import load_run
from ganaudit.reports.stopping import RuleOptions, decide
from tests.reports.synthetic import make_run_2d, make_study


def _write_comparison(study, pairs, *, omnibus_p):
    """``pairs``: (epoch a, epoch b, difference a − b, p)."""
    rows = [{"condition_a": f"epoch-{a:04d}", "condition_b": f"epoch-{b:04d}", "auc_a": 0.6 + d, "auc_b": 0.6,
             "difference": d, "se": 0.03, "df": 12.0, "t": d / 0.03, "p_value": p, "ci_low": d - 0.06,
             "ci_high": d + 0.06} for a, b, d, p in pairs]
    pd.DataFrame(rows, columns=COMPARISON_COLUMNS).to_csv(study / "analysis" / COMPARISON_FILE, index=False)
    labels = sorted({r["condition_a"] for r in rows} | {r["condition_b"] for r in rows})
    (study / "analysis" / COMPARISON_TEST_FILE).write_text(json.dumps(
        {"f": 6.0, "df1": len(labels) - 1, "ddf": 12.0, "p_value": omnibus_p, "method": "test"}))


def _decide(tmp_path, values, detect, pairs, *, omnibus_p=0.01, tolerance=None):
    run = make_run_2d(tmp_path, values, half_width=0.5)
    study = make_study(tmp_path, detect)
    if pairs is not None:
        _write_comparison(study, pairs, omnibus_p=omnibus_p)
    data = load_run(run, study_dir=study)
    return decide(data.scores, kind="2d", options=RuleOptions(tolerance=tolerance), study=data.study,
                  baselines=data.baselines, anchor=data.anchor, comparison=data.study_comparison)


VALUES = [9, 6, 3.3, 3.1, 3.0, 3.2]  # epochs 3-6 lie within the best one's interval


def test_a_checkpoint_detected_better_than_another_loses_to_it(tmp_path):
    # Alone, no checkpoint is recognised better than chance, so the earliest within (3) wins;
    # readers detect epoch 3's fakes better than epoch 5's, so 3 loses to 5 and 4 is next.
    detect = {3: 0.3, 4: 0.4, 5: 0.5}
    assert _decide(tmp_path / "plain", VALUES, detect, None).stopping_epoch == 3
    decision = _decide(tmp_path / "cmp", VALUES, detect, [(3, 5, 0.12, 0.01), (4, 5, 0.02, 0.6), (3, 4, 0.1, 0.03)])
    assert decision.stopping_epoch == 4
    text = " ".join(decision.rationale)
    assert "Readers told epoch 3's fakes from real images significantly better than epoch 5's" in text
    assert "p = 0.01" in text and "Obuchowski–Rockette" in text and "so it loses to epoch 5" in text


def test_a_winner_outside_the_interval_does_not_demote(tmp_path):
    # Epoch 2 (score 6) is outside the interval: losing to it does not move the pick.
    decision = _decide(tmp_path, VALUES, {2: 0.5, 3: 0.3}, [(3, 2, 0.12, 0.01)])
    assert decision.stopping_epoch == 3


def test_the_winner_can_be_the_loser_of_the_reverse_sign(tmp_path):
    # difference a − b < 0: b's fakes are detected better, so b (epoch 3) loses to a (epoch 4).
    decision = _decide(tmp_path, VALUES, {3: 0.3, 4: 0.4}, [(4, 3, -0.12, 0.01)])
    assert decision.stopping_epoch == 4


@pytest.mark.parametrize("omnibus_p, expected", [(0.2, 3), (0.01, 4)])
def test_more_than_two_checkpoints_need_a_significant_omnibus_test(tmp_path, omnibus_p, expected):
    pairs = [(3, 4, 0.1, 0.02), (3, 5, 0.05, 0.3), (4, 5, -0.05, 0.3)]
    decision = _decide(tmp_path, VALUES, {3: 0.3, 4: 0.4, 5: 0.5}, pairs, omnibus_p=omnibus_p)
    assert decision.stopping_epoch == expected


def test_a_study_without_a_comparison_still_reports(tmp_path):
    # An analysis from before the comparison (no comparison.json) and one with one label.
    assert _decide(tmp_path / "old", VALUES, {3: 0.3}, None).stopping_epoch == 3
    run = make_run_2d(tmp_path / "one", VALUES, half_width=0.5)
    study = make_study(tmp_path / "one", {3: 0.3})
    (study / "analysis" / COMPARISON_TEST_FILE).write_text(json.dumps({"method": "one checkpoint label"}))
    assert load_run(run, study_dir=study).study_comparison is None


def test_report_json_carries_the_comparison_rule(tmp_path):
    from ganaudit.reports.build import build_report

    run = make_run_2d(tmp_path, VALUES, half_width=0.5)
    study = make_study(tmp_path, {3: 0.3, 4: 0.4, 5: 0.5})
    _write_comparison(study, [(3, 5, 0.12, 0.01)], omnibus_p=0.01)
    build_report(run, study_dir=study)
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["stopping_epoch"] == 4
    assert "significantly better than epoch 5's" in " ".join(report["rationale"])
