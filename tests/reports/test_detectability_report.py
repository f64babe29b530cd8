"""The machine reader in the report: the optional stopping-rule gate (off by default) and the
plot beside the human readers' AUC."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganaudit.gan_models.errors import InputError
from ganaudit.reports import plots
from ganaudit.reports.build import build_report
from ganaudit.reports.load import load_run, load_study
from ganaudit.reports.stopping import RuleOptions, decide
from tests.reports.synthetic import make_run_2d, make_study

FD = [9, 6, 4, 3.2, 3.0, 3.1]
# Epochs 1–6: the classifier tells epochs 4 and 5 apart clearly (interval above 0.6), not 6.
AUC = [1.0, 0.95, 0.8, 0.75, 0.7, 0.55]
LOW = [1.0, 0.92, 0.76, 0.71, 0.65, 0.51]
HIGH = [1.0, 0.98, 0.84, 0.79, 0.75, 0.59]


def _run(tmp_path, *, with_auc=True, missing=()):
    run = make_run_2d(tmp_path, FD, half_width=0.3)
    if with_auc:
        scores = pd.read_csv(run / "scores.csv")
        for col, values in (("detectability_auc", AUC), ("detectability_auc_ci_low", LOW),
                            ("detectability_auc_ci_high", HIGH)):
            scores[col] = [np.nan if e in missing else v for e, v in zip(scores["epoch"], values)]
        scores.to_csv(run / "scores.csv", index=False)
    return run


def _decide(run, **options):
    data = load_run(run)
    return decide(data.scores, kind="2d", options=RuleOptions(**options), baselines=data.baselines,
                  anchor=data.anchor)


def test_the_gate_is_off_by_default(tmp_path):
    decision = _decide(_run(tmp_path))
    assert "gate_detectability" not in decision.table.columns
    assert "detectability" not in decision.rule["parameters"]["gates"]
    assert decision.rule["parameters"]["detectability_max"] is None
    assert decision.candidate_epoch == 4  # as without the column


def test_the_gate_when_on_excludes_clearly_detectable_checkpoints(tmp_path):
    decision = _decide(_run(tmp_path, missing=(3,)), detectability_max=0.6)
    gates = decision.table.set_index("epoch")["gate_detectability"].to_dict()
    assert gates == {1: "fail", 2: "fail", 3: "not audited", 4: "fail", 5: "fail", 6: "pass"}
    assert decision.candidate_epoch == 6  # the only passing one besides the unaudited epoch 3
    reasons = decision.table.set_index("epoch").loc[5, "reasons"]
    assert "a classifier told its images from real ones: detectability AUC 0.7, interval from 0.65" in reasons
    assert decision.rule["parameters"]["detectability_max"] == 0.6
    assert any("machine reader" in line for line in decision.rule["description"])


def test_no_checkpoint_passes_names_the_machine_reader(tmp_path):
    decision = _decide(_run(tmp_path), detectability_max=0.5)
    assert decision.verdict in ("train-longer", "no-checkpoint-passes")
    assert "detectability" in decision.blocked
    assert "a classifier told" in decision.blocked["detectability"]


@pytest.mark.parametrize("value", [0.3, 1.0, float("nan")])
def test_bad_limit(tmp_path, value):
    with pytest.raises(InputError, match="detectability-max must be an AUC between 0.5 and 1"):
        RuleOptions(detectability_max=value).check("2d")


def test_plot_beside_the_readers(tmp_path):
    run = _run(tmp_path)
    data = load_run(run)
    study, _, _ = load_study(make_study(tmp_path, {2: 0.01, 5: 0.4}))
    study["auc"] = [0.7, 0.55]
    assert plots.detectability_plot(data.scores, study, chosen=5).startswith("data:image/png;base64,")
    assert plots.detectability_plot(data.scores).startswith("data:image/png;base64,")
    no_values = data.scores.assign(detectability_auc=np.nan)
    assert plots.detectability_plot(no_values, study) is None
    assert plots.detectability_plot(data.scores.drop(columns=["detectability_auc"])) is None


def test_report_shows_it_and_writes_the_gate(tmp_path):
    run = _run(tmp_path)
    study = make_study(tmp_path, {2: 0.01, 5: 0.4})
    index = build_report(run, study_dir=study, options=RuleOptions(detectability_max=0.6))
    html = index.read_text(encoding="utf-8")
    assert "Not detectable (machine reader)" in html
    assert "Human readers&#x27; AUC" in html or "Human readers' AUC" in html
    report = json.loads((index.parent / "report.json").read_text(encoding="utf-8"))
    assert report["rule"]["parameters"]["detectability_max"] == 0.6
    assert report["stopping_epoch"] in (6, None)
