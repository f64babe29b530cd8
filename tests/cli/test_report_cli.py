"""`ganaudit report` from the command line: output, options, exit codes, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ganaudit.cli import main
from tests.reports.synthetic import make_run_1d, make_run_2d, make_study


def test_report_cli_2d_with_study(tmp_path, capsys):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.2, 3.0, 3.1], half_width=0.3)
    study = make_study(tmp_path, {4: 0.001, 5: 0.5})
    code = main(["report", str(run), "--study", str(study)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Verdict: stop — Stop at epoch 5" in out
    assert str(run / "report" / "index.html") in out
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["stopping_epoch"] == 5 and report["study"].endswith("study")


def test_report_cli_options(tmp_path, capsys):
    run = make_run_1d(tmp_path, [0.5, 0.1, 0.052, 0.05, 0.051, 0.05, 0.0505])
    out_dir = tmp_path / "rep"
    code = main(["report", str(run), "--tolerance", "1.5", "--alpha", "0.01", "--out", str(out_dir),
                 "--trend-window", "5", "--min-improvement", "0.2", "--max-true-error", "0.1"])
    assert code == 0
    report = json.loads((out_dir / "report.json").read_text())
    assert report["verdict"] == "stop" and report["stopping_epoch"] == 2
    params = report["rule"]["parameters"]
    assert params["tolerance"] == 1.5 and params["trend_window"] == 5
    assert params["min_improvement"] == 0.2 and params["max_true_error"] == 0.1
    assert report["convergence"]["window"] == 5
    assert "Verdict: stop — Stop at epoch 2" in capsys.readouterr().out


@pytest.mark.parametrize("args, match", [
    (["--metric", "fd_inf"], "metric 'fd_inf' is not scored for 1D runs"),
    (["--memorization-max", "7"], "memorization-max must be a share between 0 and 1"),
])
def test_report_cli_bad_options_exit_2(tmp_path, capsys, args, match):
    run = make_run_1d(tmp_path, [0.3, 0.2])
    assert main(["report", str(run), *args]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (run / "report").exists()


def test_report_cli_missing_scores(tmp_path, capsys):
    run = make_run_2d(tmp_path, [3, 2])
    (run / "scores.csv").unlink()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganaudit report: error:")
    assert f"run `ganaudit score {run}` first" in err


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.assign(true_error_ci_high=t["true_error_ci_high"].astype(object).where(t["epoch"] != 2, "0.2 (rough)")),
     "column true_error_ci_high holds '0.2 (rough)' at epoch 2, not a number"),
    (lambda t: t.assign(epoch=t["epoch"].where(t["epoch"] != 2, 7)),
     "scores epoch 7, which history.csv does not have"),
])
def test_report_cli_hand_edited_scores(tmp_path, capsys, edit, match):
    import pandas as pd

    run = make_run_1d(tmp_path, [0.3, 0.2])
    edit(pd.read_csv(run / "scores.csv")).to_csv(run / "scores.csv", index=False)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (run / "report").exists()


def test_report_cli_no_passing_checkpoint(tmp_path, capsys):
    run = make_run_1d(tmp_path, [0.3, 0.2], healthy=[False, False])
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Verdict: restart — Restart training" in out and "→ " in out


def test_report_help_in_a_fresh_process():
    result = subprocess.run([sys.executable, "-m", "ganaudit", "report", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for option in ("--study", "--metric", "--tolerance", "--memorization-max", "--alpha", "--out"):
        assert option in result.stdout
