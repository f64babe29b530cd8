"""`ganaudit train1d`, `score` and `sample` on 1D runs from the command line: the happy path,
and one clear error (exit 2, one `ganaudit …` line on stderr, nothing half-written) for each
bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganaudit.cli import main
from ganaudit.gan_models.sampling import generate

REPO = Path(__file__).resolve().parents[2]

# The 1D columns of RUN/scores.csv, as agreed in the shared contract.
SCORE_COLUMNS_1D = ["epoch", "precision_error", "coverage_error", "true_error", "true_error_ci_low",
                    "true_error_ci_high", "precision_error_rel", "coverage_error_rel",
                    "true_error_rel", "fd", "d_loss", "g_loss", "d_acc_real", "d_acc_fake",
                    "healthy"]

# Not ganaudit's messages: TensorFlow's native start-up lines (absl logging before it is
# initialised reaches stderr whatever TF_CPP_MIN_LOG_LEVEL says) and progress-bar redraws.
_NOT_OURS = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} )"
                       r"|\d+%\|.*\|")


def ganaudit(*args: str, pythonpath: Path | None = None, timeout: int = 300):
    paths = [str(REPO)] + ([str(pythonpath)] if pythonpath else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-m", "ganaudit", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_clear_error(done, command: str, *needles: str) -> str:
    """Exit 2 and exactly one ganaudit line on stderr that contains every needle."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in re.split(r"[\r\n]+", done.stderr)
             if line.strip() and not _NOT_OURS.search(line)]
    assert len(lines) == 1, done.stderr[-2000:]
    line = lines[0]
    assert line.startswith(f"ganaudit {command}: error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    assert "Traceback" not in done.stderr
    return line


# ---- train1d: refused inputs (these fail before TensorFlow is imported) ---------------------

def test_unknown_pattern_lists_the_known_ones(tmp_path):
    done = ganaudit("train1d", "--pattern", "zigzag", "--epochs", "2", "--out", str(tmp_path / "run"))
    assert_one_clear_error(done, "train1d", "unknown pattern 'zigzag'",
                           "sine, square, parabola, sawtooth, circle", "module:function")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_epochs_must_be_positive(tmp_path, epochs):
    done = ganaudit("train1d", "--pattern", "sine", "--epochs", epochs, "--out", str(tmp_path / "run"))
    assert_one_clear_error(done, "train1d", f"--epochs must be a positive number of epochs, got {epochs}")
    assert not (tmp_path / "run").exists()


def test_non_empty_out_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "important.txt").write_text("keep me")
    done = ganaudit("train1d", "--pattern", "sine", "--epochs", "1", "--out", str(out))
    assert_one_clear_error(done, "train1d", f"output folder {out} is not empty", "--resume")
    assert [p.name for p in out.iterdir()] == ["important.txt"]
    assert (out / "important.txt").read_text() == "keep me"


def test_user_pattern_returning_nan(tmp_path):
    (tmp_path / "my_nan_pattern.py").write_text(
        "import numpy as np\n"
        "def broken(n, rng):\n"
        "    x = rng.uniform(-1, 1, n)\n"
        "    return np.stack([x, np.where(x < 0, np.nan, x)], axis=1)\n")
    out = tmp_path / "run"
    done = ganaudit("train1d", "--pattern", "my_nan_pattern:broken", "--epochs", "1", "--out", str(out),
                    pythonpath=tmp_path)
    assert_one_clear_error(done, "train1d", "'my_nan_pattern:broken'", "non-finite (NaN/inf)",
                           "fix the function")
    assert not out.exists()


@pytest.mark.parametrize("batch", ["0", "-4"])
def test_batch_size_must_be_positive(tmp_path, batch):
    done = ganaudit("train1d", "--pattern", "sine", "--epochs", "1", "--batch-size", batch,
                    "--out", str(tmp_path / "run"))
    assert_one_clear_error(done, "train1d", f"--batch-size must be a whole number ≥ 1, got {batch}")
    assert not (tmp_path / "run").exists()


def test_resume_without_a_run(tmp_path):
    done = ganaudit("train1d", "--pattern", "sine", "--out", str(tmp_path / "nothing"), "--resume")
    assert_one_clear_error(done, "train1d", "cannot resume", "no run.json")


# ---- corrupted checkpoint files ----------------------------------------------------------

def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.training
def test_corrupted_state_file_on_resume(tiny_run_1d, copy_run):
    run = copy_run(tiny_run_1d)
    state = run / "checkpoints" / "state-epoch-0002.npz"
    state.write_bytes(b"\x00garbage, not an npz archive" * 10)
    before = _snapshot(run)
    done = ganaudit("train1d", "--pattern", "sine", "--out", str(run), "--resume", "--epochs", "3")
    line = assert_one_clear_error(done, "train1d", f"training state {state} is corrupt",
                                  "delete it to resume from the epoch before")
    assert "allow_pickle" not in line  # no advice to load untrusted pickles
    assert _snapshot(run) == before  # nothing rewritten, nothing removed


@pytest.mark.training
def test_corrupted_generator_file_score_and_sample(tiny_run_1d, copy_run, tmp_path):
    run = copy_run(tiny_run_1d)
    generator = run / "checkpoints" / "generator-epoch-0002.keras"
    generator.write_bytes(b"not a keras file")
    before = _snapshot(run)

    done = ganaudit("score", str(run), "--quiet")
    assert_one_clear_error(done, "score", f"checkpoint {generator} is corrupt")
    assert not (run / "scores.csv").exists()

    out = tmp_path / "samples"
    done = ganaudit("sample", str(run), "--epoch", "2", "--n", "10", "--out", str(out))
    assert_one_clear_error(done, "sample", f"checkpoint {generator} is corrupt")
    assert not out.exists()
    assert _snapshot(run) == before


# ---- happy paths (in-process: TensorFlow is already loaded) ------------------------------

@pytest.mark.training
def test_score_a_1d_run_writes_the_contract_columns(tiny_run_1d, copy_run, capsys):
    run = copy_run(tiny_run_1d)
    assert main(["score", str(run), "--quiet"]) == 0
    frame = pd.read_csv(run / "scores.csv")
    assert list(frame.columns) == SCORE_COLUMNS_1D
    assert frame["epoch"].tolist() == [1, 2]
    numbers = frame[SCORE_COLUMNS_1D[1:-1]].to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    np.testing.assert_allclose(frame["true_error"], (frame["precision_error"] + frame["coverage_error"]) / 2)
    np.testing.assert_allclose(frame["true_error_rel"], frame["true_error"] / 2.0)  # sine: y-range 2
    assert (frame["true_error_ci_low"] <= frame["true_error"]).all()
    assert (frame["true_error"] <= frame["true_error_ci_high"]).all()
    assert (frame["fd"] >= 0).all()
    history = pd.read_csv(run / "history.csv")
    for column in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
        np.testing.assert_allclose(frame[column], history[column])
    assert frame["healthy"].astype(str).tolist() == history["healthy"].astype(str).tolist()
    # The scores are the true error of the checkpoint's own points.
    from ganaudit.evaluation.true_error import true_error_1d

    expected = true_error_1d(generate(run, 2, 2000, seed=0), "sine")
    assert frame.loc[1, "true_error"] == pytest.approx(expected["true_error"], rel=1e-9)


@pytest.mark.training
def test_sample_writes_points_of_the_chosen_checkpoint(tiny_run_1d, tmp_path, capsys):
    out = tmp_path / "points"
    assert main(["sample", str(tiny_run_1d), "--epoch", "1", "--n", "40", "--seed", "5",
                 "--out", str(out)]) == 0
    points = np.load(out / "points.npy")
    assert points.shape == (40, 2)
    np.testing.assert_array_equal(points, generate(tiny_run_1d, 1, 40, seed=5))
    assert "wrote 40 samples of epoch 1" in capsys.readouterr().out
    # Default epoch: the last one.
    assert main(["sample", str(tiny_run_1d), "--n", "5", "--out", str(tmp_path / "last")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "last" / "points.npy"), generate(tiny_run_1d, 2, 5))


def test_sample_refuses_a_non_empty_out_and_a_missing_epoch(tiny_run_1d, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "x").write_text("x")
    assert main(["sample", str(tiny_run_1d), "--out", str(out)]) == 2
    assert "is not empty" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("x")
    assert main(["sample", str(tiny_run_1d), "--out", str(tmp_path / "a-file")]) == 2
    assert "a-file is a file; choose a new folder" in capsys.readouterr().err
    assert main(["sample", str(tiny_run_1d), "--epoch", "9", "--out", str(tmp_path / "new")]) == 2
    assert "has no checkpoint for epoch 9; it has epochs [1, 2]" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.training
def test_resume_of_a_finished_run_trains_nothing_and_says_so(tiny_run_1d, copy_run, capsys):
    run = copy_run(tiny_run_1d)
    before = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    assert main(["train1d", "--pattern", "sine", "--out", str(run), "--resume", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"nothing left to train: {run} already has all 2 epochs"), out
    assert "--epochs N (more than 2)" in out and "trained" not in out.replace("to train", "")
    assert {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()} == before
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [1, 2]


def test_unhealthy_epochs_are_reported_once(capsys):
    # runs.train warns (one 'ganaudit train2d: warning: …' line); the summary adds no second one.
    from ganaudit.commands.train import _report

    _report({"epochs": 3, "trained_now": 3, "first_epoch": 1, "unhealthy": [2], "run_dir": "R"})
    assert capsys.readouterr() == ("trained 3 epochs into R\n", "")
    _report({"epochs": 5, "trained_now": 2, "first_epoch": 4, "unhealthy": [], "run_dir": "R"})
    assert capsys.readouterr().out == "trained 5 epochs into R (resumed: epochs 4-5 trained now)\n"


@pytest.mark.training
def test_train1d_command_with_options(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train1d", "--pattern", "circle", "--epochs", "1", "--loss", "least_squares",
                 "--batch-size", "1024", "--seed", "3", "--out", str(out), "--quiet"]) == 0
    assert f"trained 1 epoch into {out}" in capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert (run["loss"], run["batch_size"], run["seed"], run["epochs"]) == ("least_squares", 1024, 3, 1)
    assert run["pattern"]["name"] == "circle"
    assert (out / "checkpoints" / "generator-epoch-0001.keras").is_file()
