"""One code path (issue 13): the same images give the same memorization numbers through
``ganaudit audit memorization --features`` as through ``ganaudit score`` (both standardize the
features with the training set's statistics)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganaudit.cli import main
from ganaudit.evaluation.scoring2d import score_generated
from ganaudit.gan_models.runs import load_run_data
from ganaudit.schema import metrics as M
from tests.evaluation.test_scoring2d import blob_images, make_tiny_run


@pytest.fixture(autouse=True)
def _feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.mark.parametrize("features", ["radiomics", "pixels"])
def test_audit_memorization_and_score_agree(tmp_path, capsys, features):
    run = make_tiny_run(tmp_path, n_train=80, n_heldout=80)
    train, heldout = load_run_data(run)
    # Some copies of training images among new ones, so every number has something to say.
    generated = np.concatenate([train[:15], blob_images(45, seed=7)]).astype(np.float32)
    row = score_generated(run, 1, generated, extractor=features, write_audits=False,
                          detectability=False)

    # The same arrays as folders (float .npy stacks in [-1, 1] load back unchanged).
    for name, images in (("train", train), ("heldout", heldout), ("generated", generated)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "images.npy", images)
    out = tmp_path / "audit"
    assert main(["audit", "memorization", "--train", str(tmp_path / "train"), "--heldout",
                 str(tmp_path / "heldout"), "--generated", str(tmp_path / "generated"),
                 "--features", features, "--out", str(out)]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())

    assert row[M.MEMORIZATION_RATE] == pytest.approx(summary["rate"], abs=1e-12)
    assert row[M.MEMORIZATION_RATE] > 0
    for name in (M.CT_SCORE, M.AUTHENTICITY, M.MIFID):
        assert np.isfinite(row[name]), name
        assert summary[name] == pytest.approx(row[name], rel=1e-9, abs=1e-12), name
