"""`ganaudit audit detectability` end to end on folders, its errors, and `ganaudit score
--no-detectability`."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ganaudit.cli import main
from ganaudit.gan_models.data import write_png16

SIZE = 32


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from ganaudit.gan_models.phantom import make_population

    root = tmp_path_factory.mktemp("detectability")
    real, _ = make_population(60, SIZE, seed=201)
    other, _ = make_population(60, SIZE, seed=202)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    fake = np.clip(other + np.where((yy + xx) % 2 == 0, 0.05, -0.05), -1, 1).astype(np.float32)
    write_png16(real, root / "real")
    write_png16(fake, root / "generated", [f"gen-{i:03d}" for i in range(len(fake))])
    write_png16(np.zeros((12, 24, 24), np.float32), root / "small")
    return root


FAST = ["--epochs", "2"]


@pytest.mark.training
def test_detectability_end_to_end(folders, capsys):
    out = folders / "out"
    code = main(["audit", "detectability", "--real", str(folders / "real"), "--generated",
                 str(folders / "generated"), "--out", str(out), "--quiet", *FAST])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"summary.json", "scores.csv", "gallery.png",
                                               "saliency.png", "saliency.npy"}
    summary = json.loads((out / "summary.json").read_text())
    for key in ("auc", "auc_ci_low", "auc_ci_high", "p_value", "n_real", "n_generated", "settings"):
        assert key in summary
    assert summary["n_real"] == summary["n_generated"] == 60
    assert summary["settings"]["epochs"] == 2 and summary["settings"]["folds"] == 5
    table = pd.read_csv(out / "scores.csv")
    assert list(table.columns) == ["file", "set", "label", "score", "fold"]
    assert len(table) == 120
    assert set(table.loc[table["label"] == 1, "file"]) == {f"gen-{i:03d}" for i in range(60)}
    assert summary["auc"] == pytest.approx(roc_auc_score(table["label"], table["score"]))
    assert np.load(out / "saliency.npy").shape == (SIZE, SIZE)
    printed = capsys.readouterr().out
    assert re.search(r"detectability AUC [01]\.\d{3} \(95 % CI [01]\.\d{3}–[01]\.\d{3}\), p ", printed), printed
    assert f"wrote {out}" in printed


@pytest.mark.training
def test_max_images_and_seed_reach_the_settings(folders):
    out = folders / "out-max"
    assert main(["audit", "detectability", "--real", str(folders / "real"), "--generated",
                 str(folders / "generated"), "--out", str(out), "--quiet", "--max-images", "30",
                 "--seed", "4", "--folds", "3", *FAST]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_real"] == summary["n_generated"] == 30
    assert summary["settings"]["seed"] == 4 and summary["settings"]["folds"] == 3
    assert len(pd.read_csv(out / "scores.csv")) == 60


@pytest.mark.parametrize("argv,match", [
    (["--real", "{real}", "--generated", "{small}"], "image sizes differ"),
    (["--real", "{real}", "--generated", "{missing}"], r"--generated: "),
    (["--real", "{real}", "--generated", "{generated}", "--folds", "1"], "folds must be a whole number ≥ 2"),
    (["--real", "{real}", "--generated", "{generated}", "--alpha", "2"], r"alpha must be in \(0, 1\)"),
    (["--real", "{real}", "--generated", "{small}", "--size", "32", "--max-images", "4"],
     "max_per_set must be None or a whole number ≥ 10"),
])
def test_errors_exit_2_and_write_nothing(folders, capsys, argv, match):
    paths = {k: str(folders / k) for k in ("real", "generated", "small", "missing")}
    out = folders / "never"
    code = main(["audit", "detectability", *[a.format(**paths) for a in argv], "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("ganaudit audit: error:"), err
    assert re.search(match, err), err
    assert not out.exists()


def test_out_folder_with_other_files_is_refused(folders, capsys):
    victim = folders / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("precious")
    assert main(["audit", "detectability", "--real", str(folders / "real"), "--generated",
                 str(folders / "generated"), "--out", str(victim)]) == 2
    assert "already holds other files (notes.txt)" in capsys.readouterr().err
    assert (victim / "notes.txt").read_text() == "precious"


@pytest.mark.training
def test_score_run_with_and_without_detectability(tmp_path, monkeypatch):
    from tests.evaluation.test_scoring2d import make_tiny_run

    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    run = make_tiny_run(tmp_path, epochs=(3,))
    assert main(["score", str(run), "--features", "pixels", "--n", "30", "--quiet"]) == 0
    frame = pd.read_csv(run / "scores.csv")
    low, auc, high = frame[["detectability_auc_ci_low", "detectability_auc",
                            "detectability_auc_ci_high"]].iloc[0]
    assert 0 <= low <= auc <= high <= 1
    assert (run / "audit" / "epoch-0003" / "detectability" / "summary.json").is_file()
    assert json.loads((run / "audit" / "scoring.json").read_text())["detectability"] is True
    assert main(["score", str(run), "--features", "pixels", "--n", "30", "--quiet", "--no-detectability"]) == 0
    frame = pd.read_csv(run / "scores.csv")
    assert all(math.isnan(v) for v in frame[["detectability_auc", "detectability_auc_ci_low",
                                             "detectability_auc_ci_high"]].iloc[0])
    assert not (run / "audit" / "epoch-0003" / "detectability").exists()
    assert json.loads((run / "audit" / "scoring.json").read_text())["detectability"] is False
