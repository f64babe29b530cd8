"""Benchmarks cannot rot (issue 13): every bench script has a ``--quick`` mode that a test runs.
This file runs the ones no other test covers and checks that each script is run somewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: int = 900) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_bench_script_has_a_quick_run_in_the_suite():
    tests = [p.read_text() for p in (ROOT / "tests").rglob("test_*.py")]
    missing = []
    for script in sorted((ROOT / "bench").glob("*.py")):
        assert "--quick" in script.read_text(), f"{script.name} has no --quick mode"
        # A test that names the script and passes --quick (literally, or through a helper).
        if not any(re.search(rf"[\"']{re.escape(script.name)}[\"']", text) and "--quick" in text
                   for text in tests):
            missing.append(script.name)
    assert missing == [], f"bench scripts without a --quick test: {missing}"


def test_phantom_speed_quick():
    out = run_bench("phantom_speed.py")
    assert re.search(r"\| 20 slices at 64² \(best of 1\) \| [\d.]+ s \([\d,]+ slices/s", out), out


def test_reader_core_quick():
    out = run_bench("reader_core.py")
    assert "answers stored: 24 (expected 24)" in out, out
    assert re.search(r"submit \+ next case \+ progress \(SQLite\): median [\d.]+ ms", out), out


@pytest.mark.training
def test_train_throughput_quick():
    out = run_bench("train_throughput.py")
    assert re.search(r"ratio \(b\)/\(a\): [\d.]+×", out), out


@pytest.mark.training
def test_memorizing_run_quick(tmp_path):
    out = run_bench("memorizing_run.py", "--out", str(tmp_path / "memorizing"))
    assert re.search(r"^\s+1\s+[\d.]+ %", out, re.M) and re.search(r"^\s+2\s+[\d.]+ %", out, re.M), out
    assert (tmp_path / "memorizing" / "run" / "report" / "index.html").is_file()
