"""Shared fixtures: one tiny trained 1D run for the whole session (reused read-only).

Tests that change a run copy it first (``copy_run``); the fixture's folder is never modified.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Quiet TensorFlow's start-up chatter in test output (also inherited by CLI subprocesses).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Small settings that train a 1D GAN in a second or two; every training test uses these.
TINY_1D = {"n_train": 512, "batch_size": 64}


@pytest.fixture(scope="session")
def tiny_run_1d(tmp_path_factory) -> Path:
    """A sine run trained for 2 epochs with ``TINY_1D`` settings, seed 0 (do not modify)."""
    from ganaudit.gan_models.gan1d import train_1d

    out = tmp_path_factory.mktemp("tiny-run-1d") / "run"
    train_1d("sine", out, epochs=2, seed=0, quiet=True, **TINY_1D)
    return out


@pytest.fixture
def copy_run(tmp_path):
    """``copy_run(run) -> Path``: a private copy of a run folder that a test may change."""
    def _copy(run: Path, name: str = "run") -> Path:
        target = tmp_path / name
        shutil.copytree(run, target)
        return target
    return _copy
