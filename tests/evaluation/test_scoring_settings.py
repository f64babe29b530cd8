"""Scoring settings (issue 13): one object checked once, handed whole to every checkpoint."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ganaudit.evaluation import scoring2d
from ganaudit.evaluation.scoring2d import ScoringSettings
from ganaudit.gan_models.errors import InputError


def test_checked_resolves_the_kid_subset_once():
    assert ScoringSettings().checked(5000, 2000).kid_subset_size == 1000
    assert ScoringSettings().checked(300, 120).kid_subset_size == 120
    assert ScoringSettings(kid_subset_size=50).checked(300, 120).kid_subset_size == 50
    with pytest.raises(InputError, match="KID subset size 200 needs at least 200 images in each set"):
        ScoringSettings(kid_subset_size=200).checked(300, 120)
    with pytest.raises(InputError, match="the generated set has 10 images but at least 20 are needed"):
        ScoringSettings().checked(300, 10)


def test_for_workers_makes_paths_absolute_and_pickles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = ScoringSettings(features="keras:model.keras", weights="w.h5", n_boot=20)
    shipped = pickle.loads(pickle.dumps(settings.for_workers()))
    assert shipped.features == f"keras:{Path(tmp_path, 'model.keras').resolve()}"
    assert shipped.weights == str(Path(tmp_path, "w.h5").resolve())
    assert shipped.n_boot == 20 and ScoringSettings(features="pixels").for_workers().features == "pixels"


def test_score_run_hands_every_checkpoint_the_settings_checked_once(tmp_path, monkeypatch):
    from tests.evaluation.test_scoring2d import make_tiny_run

    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    run = make_tiny_run(tmp_path)
    seen = []
    real = scoring2d._score_generated
    monkeypatch.setattr(scoring2d, "_score_generated",
                        lambda run_dir, epoch, generated, settings, **kw:
                        seen.append(settings) or real(run_dir, epoch, generated, settings, **kw))
    scoring2d.score_run_2d(run, n=40, features="pixels", n_boot=10, progress=False, detectability=False)
    # Both checkpoints get one settings object, its KID subset already resolved for the run.
    assert len(seen) == 2 and seen[0] == seen[1]
    assert seen[0] == ScoringSettings(features="pixels", n_boot=10, kid_subset_size=40, detectability=False)
