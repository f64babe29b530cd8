"""The --quick mode of each scoring-speed benchmark runs and prints its figures (issue 15).

The full runs are for docs/benchmarks.md; these keep the scripts working. Each writes its
phantom images and feature cache under a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, tmp_path: Path, timeout: int = 900) -> str:
    env = dict(os.environ, GANAUDIT_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(ROOT),
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_fd_interval_quick(tmp_path):
    out = run_bench("fd_interval.py", tmp_path=tmp_path)
    # Two scenarios and the cost at the scoring size, for each method.
    assert out.count("| gaussian |") == 3 and out.count("| resample |") == 3
    assert "covers E[FD̂]" in out and "BLAS (1 thread)" in out


def test_nn_search_quick(tmp_path):
    out = run_bench("nn_search.py", "--cache", str(tmp_path / "images"), tmp_path=tmp_path)
    for line in ("BLAS library (threadpoolctl)", "stage: prepare training windows", "stage: shortlist",
                 "stage: exact 98-variant NCC", "ratio (target ≤ 2)", "agreement with brute force"):
        assert line in out


def test_frechet_quick(tmp_path):
    out = run_bench("frechet.py", tmp_path=tmp_path)
    assert "radiomics speed-up (CPU time, same run)" in out and "FD interval (resampled rows" in out


@pytest.mark.parametrize("script", ["score_checkpoint.py", "scaling.py", "parallel_scoring.py"])
def test_scoring_benches_quick(tmp_path, script):
    out = run_bench(script, "--workdir", str(tmp_path / "work"), tmp_path=tmp_path)
    expected = {"score_checkpoint.py": "total, each further checkpoint",
                "scaling.py": "exponent",
                "parallel_scoring.py": "scores identical to serial"}[script]
    assert expected in out
