"""``ganaudit audit memorization|findings`` end to end on folders, and its error exits."""

from __future__ import annotations

import json
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from ganaudit.cli import main
from ganaudit.gan_models.data import write_png16
from tests.evaluation.test_findings import _toy_detector, _toy_images
from tests.evaluation.test_nn_search import shifted


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from ganaudit.gan_models.phantom import make_population

    root = tmp_path_factory.mktemp("audit")
    images, _ = make_population(150, 32, seed=41)
    train, heldout = images[:90], images[90:150]
    generated = np.concatenate([train[:6], shifted(train[6:12, :, ::-1], 1, -2)])
    write_png16(train, root / "train")
    write_png16(heldout, root / "heldout")
    write_png16(generated, root / "generated", [f"gen-{i:02d}" for i in range(len(generated))])
    write_png16(np.zeros((3, 24, 24), np.float32), root / "small")
    (root / "empty").mkdir()
    return root


def test_memorization_end_to_end(folders, capsys):
    out = folders / "mem-out"
    code = main(["audit", "memorization", "--train", str(folders / "train"), "--heldout",
                 str(folders / "heldout"), "--generated", str(folders / "generated"), "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "memorization.csv")
    assert list(table.columns[:4]) == ["file", "nearest_train", "ncc", "flagged"]
    assert table["flagged"].all()  # every generated image is a (shifted/flipped) copy
    assert table["nearest_train"].tolist() == [f"img-{i:05d}" for i in range(12)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_flagged"] == 12
    assert (out / "gallery.png").exists()
    printed = capsys.readouterr().out
    assert "flagged 12/12" in printed
    # 12 generated images fill no C_T cell (each needs more than 20): said, not printed as "nan".
    assert summary["ct_score"] is None or np.isnan(summary["ct_score"])
    assert "C_T not computed (none of the" in printed and "more than 20 of the 12 generated" in printed
    assert "nan" not in printed


def test_memorization_prints_c_t_when_there_is_one():
    from ganaudit.commands.audit import _ct_text

    assert _ct_text({"ct_score": -3.14159, "ct_cells": 4, "n_generated": 200}) == "-3.14"


def test_memorization_user_threshold(folders):
    out = folders / "mem-thr"
    assert main(["audit", "memorization", "--train", str(folders / "train"), "--heldout",
                 str(folders / "heldout"), "--generated", str(folders / "heldout"), "--out", str(out),
                 "--threshold", "0.9999"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["threshold_source"] == "user" and summary["n_flagged"] == 0


def test_findings_end_to_end(tmp_path, monkeypatch, capsys):
    module = types.ModuleType("toy_cli_detectors")
    module.detect = _toy_detector
    monkeypatch.setitem(sys.modules, "toy_cli_detectors", module)
    write_png16(_toy_images(210, bright=0.3, seed=1), tmp_path / "real")
    generated = np.concatenate([_toy_images(10, bright=0.0, seed=2), _toy_images(5, bright=1.0, right=True, seed=3)])
    write_png16(generated, tmp_path / "gen")
    out = tmp_path / "find-out"
    code = main(["audit", "findings", "--real", str(tmp_path / "real"), "--generated", str(tmp_path / "gen"),
                 "--detector", "toy_cli_detectors:detect", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "findings.csv")
    assert int(table["impossible"].sum()) == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["impossible"] == 5
    assert "impossible generated images: 5" in capsys.readouterr().out


@pytest.mark.parametrize("argv,match", [
    (["memorization", "--train", "{empty}", "--heldout", "{heldout}", "--generated", "{generated}"],
     r"--train: .*(empty|no images)"),
    (["memorization", "--train", "{train}", "--heldout", "{heldout}", "--generated", "{small}"],
     "image sizes differ"),
    (["memorization", "--train", "{train}", "--heldout", "{missing}", "--generated", "{generated}"],
     r"--heldout: .*(does not exist|not found|no such)"),
    (["findings", "--real", "{train}", "--generated", "{small}"], "image sizes differ"),
    (["findings", "--real", "{train}", "--generated", "{generated}", "--detector", "bogus"],
     "not understood"),
    (["memorization", "--train", "{train}", "--heldout", "{heldout}", "--generated", "{generated}",
      "--threshold", "3"], "threshold must be an NCC"),
])
def test_errors_exit_2_and_write_nothing(folders, capsys, argv, match):
    paths = {k: str(folders / k) for k in ("empty", "train", "heldout", "generated", "small", "missing")}
    out = folders / "never"
    code = main(["audit", *[a.format(**paths) for a in argv], "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("ganaudit audit: error:")
    assert re.search(match, err), err
    assert not out.exists()
    assert not [p for p in folders.iterdir() if p.name.startswith(".never")]


def test_out_folder_with_other_files_is_never_replaced(folders, capsys):
    """A typo such as --out GENERATED must not delete the user's images."""
    victim = folders / "victim"
    write_png16(np.zeros((2, 32, 32), np.float32), victim)
    (victim / "notes.txt").write_text("precious")
    before = sorted(p.name for p in victim.iterdir())
    code = main(["audit", "memorization", "--train", str(folders / "train"), "--heldout",
                 str(folders / "heldout"), "--generated", str(folders / "generated"), "--out", str(victim)])
    assert code == 2
    err = capsys.readouterr().err
    assert "already holds other files (img-00000.png, img-00001.png, notes.txt)" in err
    assert sorted(p.name for p in victim.iterdir()) == before
    assert main(["audit", "findings", "--real", str(folders / "train"), "--generated",
                 str(folders / "generated"), "--out", str(victim / "notes.txt")]) == 2
    assert "is a file; give a folder" in capsys.readouterr().err


def test_an_earlier_audit_folder_is_replaced(folders):
    out = folders / "mem-again"
    argv = ["audit", "memorization", "--train", str(folders / "train"), "--heldout",
            str(folders / "heldout"), "--generated", str(folders / "generated"), "--out", str(out)]
    assert main(argv) == 0
    assert json.loads((out / "summary.json").read_text())["threshold_source"] == "heldout-p99"
    assert main(argv + ["--threshold", "0.9999"]) == 0
    assert json.loads((out / "summary.json").read_text())["threshold_source"] == "user"


def test_write_error_is_one_clear_message(folders, capsys, monkeypatch):
    import ganaudit.evaluation.memorization

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ganaudit.evaluation.memorization, "write_memorization", disk_full)
    out = folders / "full"
    code = main(["audit", "memorization", "--train", str(folders / "train"), "--heldout",
                 str(folders / "heldout"), "--generated", str(folders / "generated"), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"cannot write --out {out}: No space left on device" in err
    assert not out.exists()
    assert not [p for p in folders.iterdir() if p.name.startswith(".full")]
