"""The report folder: files, self-contained HTML, JSON/CSV contents, missing pieces, atomicity."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

import ganaudit.reports.build as build_module
from ganaudit.gan_models.errors import InputError
from ganaudit.reports import build_report
from tests.reports.synthetic import make_run_1d, make_run_2d, make_study

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?!data:|#|\.\./index\.html|(?:checkpoints/)?epoch-\d{4}\.html)""",
                      re.I)


def _assert_self_contained(text: str) -> None:
    assert not EXTERNAL.search(text), EXTERNAL.search(text).group(0)
    assert "<link" not in text and "<script" not in text
    assert "@media print" in text


@pytest.fixture(scope="module")
def report_2d(tmp_path_factory):
    root = tmp_path_factory.mktemp("r2d")
    run = make_run_2d(root, [9, 6, 4, 3.1, 2.0, 1.5], memorization=[0, 0, 0.01, 0.02, 0.41, 0.8],
                      impossible=[0, 2, 0, 0, 0, 0],
                      healthy=[True, False, True, True, True, True])
    study = make_study(root, {3: 0.2, 4: 0.3})
    index = build_report(run, study_dir=study)
    return run, index


@pytest.fixture(scope="module")
def report_1d(tmp_path_factory):
    root = tmp_path_factory.mktemp("r1d")
    run = make_run_1d(root, [0.6, 0.3, 0.08, 0.03, 0.031, 0.029],
                      healthy=[True, False, True, True, True, True])
    return run, build_report(run)


def test_2d_report_files_and_json(report_2d):
    run, index = report_2d
    assert index == run / "report" / "index.html"
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["verdict"] == "stop" and report["headline"] == "Stop at epoch 4"
    assert report["stopping_epoch"] == 4 and report["closest_epoch"] is None
    assert report["baselines"]["fd_inf"]["value"] == pytest.approx(1.5)
    # still falling, but checkpoints after the best copy training images: stop anyway
    assert report["convergence"]["window"] == 4 and report["convergence"]["still_falling"] is True
    assert any("that fall comes from checkpoints that copy training images" in r
               for r in report["rationale"])
    assert report["rule"]["parameters"]["baseline_factor"] == pytest.approx(3.0)
    assert report["rule"]["name"] == "earliest-within-best-interval"
    assert report["rule"]["parameters"]["memorization_max"] == 0.05
    assert report["rule"]["parameters"]["metric"] == "fd_inf"
    assert any("Epoch 6 scored the lowest FD∞" in s and "memorizes" in s
               for s in report["rationale"])
    rows = {r["epoch"]: r for r in report["checkpoints"]}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6]
    assert rows[4]["chosen"] is True and rows[4]["fd_inf_ci_high"] == pytest.approx(3.4)
    assert rows[2]["gates"] == {"health": "fail", "memorization": "pass", "findings": "fail",
                                "quality": "fail", "scored": "pass"}  # FD∞ 6 > 3 × 1.5
    assert rows[6]["gates"]["memorization"] == "fail"
    assert rows[4]["detect_p"] == pytest.approx(0.3) and rows[1]["detect_p"] is None
    csv = pd.read_csv(run / "report" / "scores.csv")
    assert list(csv["epoch"]) == [1, 2, 3, 4, 5, 6]
    for col in ("fd_inf", "fd_inf_ci_low", "gate_health", "gate_memorization", "gate_findings",
                "passes_gates", "chosen", "fool_rate"):
        assert col in csv.columns
    pages = sorted(p.name for p in (run / "report" / "checkpoints").iterdir())
    assert pages == [f"epoch-{e:04d}.html" for e in range(1, 7)]
    assert not list(run.glob(".report*")), "temporary folder left behind"


def test_2d_index_html_is_self_contained_and_complete(report_2d):
    run, index = report_2d
    text = index.read_text()
    _assert_self_contained(text)
    assert "Stop at epoch 4" in text
    assert text.count("data:image/png;base64,") >= 10
    for heading in ("The stopping rule", "Training", "Scores per checkpoint",
                    "Generated images around the stopping epoch", "Memorization audit",
                    "Findings audit", "Readers: can radiologists tell the fakes?"):
        assert f">{heading}" in text, heading
    assert "Fleiss" in text and "reader-b" in text
    assert "FAILED" not in text.split(">Findings audit")[1]  # chosen epoch 4 passes the audit
    assert "Findings read by one detector (builtin:phantom)" in text
    assert "Purple: the real-vs-real level" in text  # baseline band explained beside plots
    assert "epoch-0004.html" in text
    assert "lower is better" in text


def test_checkpoint_pages(report_2d):
    run, _ = report_2d
    chosen = (run / "report" / "checkpoints" / "epoch-0004.html").read_text()
    _assert_self_contained(chosen)
    assert "Epoch 4 is the stopping epoch" in chosen
    out = (run / "report" / "checkpoints" / "epoch-0002.html").read_text()
    assert "Epoch 2 is out" in out
    assert "Training was unhealthy at that epoch" in out
    assert "lesion_side=right" in out and "FAILED" in out  # the failed test, by name
    assert "lesion_side=left" in out  # location values join the prevalence table
    assert "../index.html" in out
    assert 'href="epoch-0001.html"' in out and 'href="epoch-0003.html"' in out
    assert "data:image/png;base64," in out


def test_1d_report(report_1d):
    run, index = report_1d
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["stopping_epoch"] == 4
    assert report["rule"]["parameters"]["metric"] == "true_error"
    assert report["rule"]["parameters"]["memorization_max"] is None
    text = index.read_text()
    _assert_self_contained(text)
    assert "Stop at epoch 4" in text
    assert "What the generator draws" in text
    assert "True pattern in red, generator points in blue" in text
    assert "could not be loaded" not in text  # the sine pattern comes from ganaudit.gan_models.PATTERNS
    assert "Memorization audit" not in text
    assert (run / "report" / "checkpoints" / "epoch-0006.html").is_file()


def test_1d_unknown_pattern_still_reports(tmp_path):
    run = make_run_1d(tmp_path, [0.3, 0.2, 0.1, 0.1, 0.101, 0.099], pattern="not-a-pattern")
    text = build_report(run).read_text()
    assert "could not be loaded" in text and "Stop at epoch 3" in text


def test_out_option_and_options_recorded(tmp_path):
    run = make_run_2d(tmp_path, [9, 6, 4, 3.1, 3.0, 3.05, 3.1])
    out = tmp_path / "elsewhere"
    index = build_report(run, out_dir=out, tolerance=0.5, memorization_max=0.2, alpha=0.01)
    assert index == out / "index.html" and not (run / "report").exists()
    report = json.loads((out / "report.json").read_text())
    params = report["rule"]["parameters"]
    assert params["tolerance"] == 0.5 and params["memorization_max"] == 0.2
    assert params["alpha"] == 0.01 and params["interval"] == "tolerance"
    assert report["stopping_epoch"] == 3  # 4 ≤ 3.0 × 1.5


def test_no_passing_checkpoint_report(tmp_path):
    run = make_run_2d(tmp_path, [5, 4, 3], healthy=[False, False, False])
    text = build_report(run).read_text()
    assert "Restart training" in text and "summary none" in text  # red headline
    assert "Recommendation" in text and "restart training" in text
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["stopping_epoch"] is None and report["recommendations"]


@pytest.mark.parametrize("remove, match", [
    ("scores.csv", r"has no scores.csv; run `ganaudit score .*run2d` first"),
    ("history.csv", r"has no history.csv; train the run with ganaudit train1d"),
    ("run.json", r"is not a training run \(no run.json\); make one with ganaudit train1d"),
])
def test_missing_pieces_name_the_command(tmp_path, remove, match):
    run = make_run_2d(tmp_path, [3, 2])
    (run / remove).unlink()
    with pytest.raises(InputError, match=match):
        build_report(run)
    assert not (run / "report").exists()


def test_missing_run_folder(tmp_path):
    with pytest.raises(InputError, match="run folder .* does not exist; give the folder written"):
        build_report(tmp_path / "nope")


def test_study_without_analysis(tmp_path):
    run = make_run_2d(tmp_path, [3, 2])
    (tmp_path / "study").mkdir()
    with pytest.raises(InputError, match=r"checkpoints.csv is missing; run `ganaudit study analyze"):
        build_report(run, study_dir=tmp_path / "study")


def test_missing_audit_files_are_said_in_the_page(tmp_path):
    run = make_run_2d(tmp_path, [3, 2], audits=False)
    text = build_report(run).read_text()
    assert "No memorization audit for epoch 2" in text
    assert "No findings audit for epoch 2" in text


def test_failed_build_leaves_previous_report(tmp_path, monkeypatch):
    run = make_run_2d(tmp_path, [3, 2])
    (run / "report").mkdir()  # a previous report (written by hand: only its survival matters)
    (run / "report" / "report.json").write_text('{"stopping_epoch": 2}')
    (run / "report" / "index.html").write_text("<html>previous report</html>")
    before = (run / "report" / "index.html").read_text()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "_checkpoint_page", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_report(run, tolerance=0.9)
    assert (run / "report" / "index.html").read_text() == before
    assert json.loads((run / "report" / "report.json").read_text()) == {"stopping_epoch": 2}
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_out_refuses_to_replace_other_folders(tmp_path):
    run = make_run_2d(tmp_path, [3, 2])
    with pytest.raises(InputError, match="holds other files .* give a new or empty folder"):
        build_report(run, out_dir=run)
    assert (run / "run.json").is_file() and (run / "scores.csv").is_file()


def test_duplicate_epochs_in_scores(tmp_path):
    run = make_run_2d(tmp_path, [3, 2])
    scores = pd.read_csv(run / "scores.csv")
    pd.concat([scores, scores.iloc[[1]]]).to_csv(run / "scores.csv", index=False)
    with pytest.raises(InputError, match="lists epoch 2 more than once; make it again with ganaudit score"):
        build_report(run)
