"""Resume after SIGKILL: the run finishes with exactly N epochs, no temporary files, loadable
checkpoints, and the same history as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from ganaudit.gan_models.gan1d import train_1d

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 10
# Enough steps per epoch that the run is still going when its first checkpoint appears.
SETTINGS = {"n_train": 2048, "batch_size": 64}
METRIC_COLUMNS = ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]
POLL_SECONDS = 0.02


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _temporaries(run_dir: Path) -> list[str]:
    """Leftovers of interrupted writes (``atomic_path`` and the generator's temporary name)."""
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.name.endswith(".tmp") or p.name.startswith(".tmp-") or p.name.endswith(".old"))


def _start_training(out: Path) -> subprocess.Popen:
    code = (f"from ganaudit.gan_models.gan1d import train_1d; "
            f"train_1d('sine', {str(out)!r}, epochs={EPOCHS}, seed=0, quiet=True, **{SETTINGS!r})")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_after_first_checkpoint(process: subprocess.Popen, out: Path, *, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    checkpoints = out / "checkpoints"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"training ended (exit {process.returncode}) before it could be killed: "
                        f"{process.stderr.read().decode()[-2000:]}")
        if checkpoints.is_dir() and any(checkpoints.glob("state-epoch-*.npz")):
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            process.stderr.close()
            return
        time.sleep(POLL_SECONDS)
    process.kill()
    process.wait()
    pytest.fail("no checkpoint appeared within the time limit")


def _state_epochs(run_dir: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[-1]) for p in (run_dir / "checkpoints").glob("state-epoch-*.npz"))


@pytest.mark.training
def test_sigkill_then_resume_finishes_the_run_like_an_uninterrupted_one(tmp_path):
    out = tmp_path / "killed"
    _kill_after_first_checkpoint(_start_training(out), out)
    resume_from = max(_state_epochs(out))
    done_before = len(pd.read_csv(out / "history.csv"))
    assert done_before < EPOCHS, "the run finished before the kill; raise EPOCHS or n_train"
    print(f"killed after {done_before} epochs; resuming from epoch {resume_from}")

    resumed = subprocess.run([sys.executable, "-m", "ganaudit", "train1d", "--pattern", "sine",
                              "--out", str(out), "--resume", "--quiet"],
                             cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"trained {EPOCHS} epochs" in resumed.stdout

    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert np.isfinite(history[METRIC_COLUMNS].to_numpy()).all()
    generators = sorted(p.name for p in (out / "checkpoints").glob("generator-epoch-*.keras"))
    assert generators == [f"generator-epoch-{e:04d}.keras" for e in range(1, EPOCHS + 1)]
    samples = sorted(p.name for p in (out / "samples").glob("epoch-*.npy"))
    assert samples == [f"epoch-{e:04d}.npy" for e in range(1, EPOCHS + 1)]
    assert _temporaries(out) == []
    assert _state_epochs(out) == [EPOCHS - 1, EPOCHS]  # the two newest are kept
    for name in generators:
        generator = keras.saving.load_model(out / "checkpoints" / name, compile=False)
        assert generator.output_shape == (None, 2)

    # The same seed without interruption: identical history, before and after the resume point.
    reference = pd.DataFrame(train_1d("sine", tmp_path / "straight", epochs=EPOCHS, seed=0,
                                      quiet=True, **SETTINGS)["history"])
    after = history["epoch"] > resume_from
    np.testing.assert_array_equal(history.loc[after, METRIC_COLUMNS].to_numpy(),
                                  reference.loc[after.to_numpy(), METRIC_COLUMNS].to_numpy())
    np.testing.assert_array_equal(history.loc[~after, METRIC_COLUMNS].to_numpy(),
                                  reference.loc[~after.to_numpy(), METRIC_COLUMNS].to_numpy())
    np.testing.assert_array_equal(np.load(out / "samples" / f"epoch-{EPOCHS:04d}.npy"),
                                  np.load(tmp_path / "straight" / "samples" / f"epoch-{EPOCHS:04d}.npy"))


@pytest.mark.training
def test_resume_redoes_an_unfinished_epoch_and_removes_torn_files(tiny_run_1d, copy_run):
    """What a kill during epoch 3's writes leaves behind: its generator and sample written, no
    state file, and temporaries of the files being written. Resume redoes epoch 3."""
    out = copy_run(tiny_run_1d)
    ckpts = out / "checkpoints"
    (ckpts / "generator-epoch-0003.keras").write_bytes(
        (ckpts / "generator-epoch-0002.keras").read_bytes())
    (out / "samples" / "epoch-0003.npy").write_bytes((out / "samples" / "epoch-0002.npy").read_bytes())
    (ckpts / ".state-epoch-0003.npz.abc123.tmp").write_bytes(b"half a file")
    (ckpts / ".tmp-4242-generator-epoch-0004.keras").write_bytes(b"half a file")
    (out / ".history.csv.xyz.tmp").write_text("epoch,d_loss\n1,")

    summary = train_1d("sine", out, epochs=3, resume=True, quiet=True)
    assert summary["epochs"] == 3
    assert json.loads((out / "run.json").read_text())["epochs"] == 3  # epochs may grow on resume
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    reference = pd.read_csv(tiny_run_1d / "history.csv")
    np.testing.assert_array_equal(history[METRIC_COLUMNS].to_numpy()[:2],
                                  reference[METRIC_COLUMNS].to_numpy())
    assert _temporaries(out) == []
    assert _state_epochs(out) == [2, 3]
    # Epoch 3 was trained again: its generator is not the copy of epoch 2 planted above.
    assert not np.array_equal(np.load(out / "samples" / "epoch-0003.npy"),
                              np.load(out / "samples" / "epoch-0002.npy"))


@pytest.mark.training
def test_resume_of_a_finished_run_changes_nothing(tiny_run_1d, copy_run):
    out = copy_run(tiny_run_1d)
    before = (out / "history.csv").read_text()
    summary = train_1d("sine", out, resume=True, quiet=True)
    assert summary["epochs"] == 2
    assert (out / "history.csv").read_text() == before
    assert sorted(p.name for p in (out / "checkpoints").glob("generator-*")) == [
        "generator-epoch-0001.keras", "generator-epoch-0002.keras"]


@pytest.mark.training
def test_killed_before_the_first_state_restarts_from_epoch_one(tiny_run_1d, copy_run):
    """No state file yet (killed during epoch 1's writes): resume starts over and gives the
    same history as the uninterrupted run."""
    out = copy_run(tiny_run_1d)
    for state in (out / "checkpoints").glob("state-epoch-*.npz"):
        state.unlink()
    summary = train_1d("sine", out, resume=True, quiet=True)
    assert summary["epochs"] == 2
    history = pd.read_csv(out / "history.csv")
    reference = pd.read_csv(tiny_run_1d / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    np.testing.assert_array_equal(history[METRIC_COLUMNS].to_numpy(), reference[METRIC_COLUMNS].to_numpy())
    assert _state_epochs(out) == [1, 2]
