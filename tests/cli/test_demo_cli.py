"""`ganaudit demo`, the README's first command, end to end with tiny settings (issue 13).

Run as a user runs it (a subprocess, no TF_CPP_MIN_LOG_LEVEL of the test suite's): it must
finish, write index.html linking every run's report and the reading study, and print a
"verdicts:" block with one line per run. About 75 s under the TensorFlow backend on a loaded
2-core machine (load average 8). It trains, but is not marked ``training``: under JAX the same
test took 187 s (load 9), which would more than triple its cost in CI; the training tests cover
the JAX backend step by step.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ganaudit.commands.demo import PATTERN_NAMES

REPO = Path(__file__).resolve().parents[2]
VERDICTS = ("stop", "train-longer", "restart", "no-checkpoint-passes")
RUNS = [f"1D {name}" for name in PATTERN_NAMES] + ["2D phantom MR, 64²"]
# TensorFlow's or absl's own console lines (ganaudit's warnings are allowed on stderr).
_NATIVE = re.compile(r"absl|InitializeLog|^[IWEF]\d{4} \d\d:\d\d|oneDNN|cuda|WARNING:tensorflow",
                     re.IGNORECASE | re.MULTILINE)


def test_demo_with_tiny_settings(tmp_path):
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "ganaudit", "demo", "--out", str(out), "--epochs-1d", "1",
         "--epochs-2d", "1", "--n-phantom", "200", "--n-generated", "40", "--every-2d", "1",
         "--no-detectability", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not _NATIVE.search(done.stderr), done.stderr[-3000:]
    assert "Traceback" not in done.stderr

    # The console: a verdicts block, one line per run, each with a known verdict.
    lines = done.stdout.splitlines()
    assert "verdicts:" in lines, done.stdout
    block = lines[lines.index("verdicts:") + 1:][:len(RUNS)]
    for run, line in zip(RUNS, block, strict=True):
        fields = line.split()
        assert line.startswith(f"  {run}"), (run, line)
        assert fields[len(run.split())] in VERDICTS, line
    after = lines[lines.index("verdicts:") + 1 + len(RUNS):]
    assert after and after[0].startswith("demo finished in "), done.stdout
    index = out / "index.html"
    assert f"reports: {index.resolve()}" in lines

    # index.html links every run's report and the study, and every link resolves.
    page = index.read_text()
    links = re.findall(r'href="([^"]+)"', page)
    expected = [f"1d/{name}/report/index.html" for name in PATTERN_NAMES]
    expected += ["2d/phantom-64/report/index.html", "2d/study"]
    assert sorted(links) == sorted(expected), links
    for link in links:
        assert (out / link).exists(), link
    assert (out / "2d" / "study" / "study.json").is_file()
    assert (out / "2d" / "study" / "credentials.txt").is_file()
    for name in PATTERN_NAMES:
        assert (out / "1d" / name / "report" / "report.json").is_file()


def test_the_demo_says_every_kth_checkpoint_in_english():
    from ganaudit.commands.demo import _ordinal

    assert [_ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "111th"]
