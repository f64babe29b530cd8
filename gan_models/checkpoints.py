"""Checkpoint files of a run: one loadable generator per epoch, plus the resume state.

Layout (under RUN/checkpoints/):
- ``generator-epoch-NNNN.keras``: the whole generator (built-in layers only, so
  ``keras.saving.load_model`` opens it without ganaudit);
- ``state-epoch-NNNN.npz``: every weight of both networks and both optimizers, the NumPy
  random state and the epoch — written last, so its presence marks a complete epoch. The two
  newest are kept.
Every file is written under a temporary name and renamed: a SIGKILL never leaves a torn file.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ganaudit.gan_models.atomic import atomic_path
from ganaudit.gan_models.errors import InputError
from ganaudit.schema import layout

GENERATOR_RE = layout.GENERATOR_RE
STATE_RE = layout.STATE_RE
generator_path = layout.generator_file
state_path = layout.state_file


def _scan(run_dir, pattern) -> list[tuple[int, Path]]:
    folder = layout.checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def list_checkpoints(run_dir) -> list[tuple[int, Path]]:
    """(epoch, generator file) for every saved generator, sorted by epoch."""
    return _scan(run_dir, GENERATOR_RE)


def every_kth(checkpoints: list[tuple[int, Path]], every: int) -> list[tuple[int, Path]]:
    """The checkpoints whose epoch is a multiple of ``every``, and always the last one (a long
    run has hundreds; scoring each with thousands of images takes a while)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InputError(f"--every must be a whole number of epochs ≥ 1, got {every!r}")
    return [(e, p) for i, (e, p) in enumerate(checkpoints)
            if e % every == 0 or i == len(checkpoints) - 1]


def save_generator(generator, run_dir, epoch: int) -> Path:
    target = generator_path(run_dir, epoch)
    # Keras insists on the .keras suffix, so the temporary name keeps it.
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    try:
        generator.save(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def load_generator(path):
    """Load a generator file; a clear error when it is not a readable Keras model."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        if not zipfile.is_zipfile(path):
            raise ValueError("not a .keras (zip) archive")
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a torn or foreign file
        # Resume cannot rebuild it: only the newest training states are kept.
        raise InputError(f"checkpoint {path} is corrupt or not a Keras generator ({exc}); pick "
                         "another epoch (the run's other checkpoints are not affected)") from exc


def save_state(gan, run_dir, epoch: int, rng: np.random.Generator, *, keep: int = 2) -> Path:
    arrays = gan.state_arrays()
    meta = {"epoch": epoch, "rng": rng.bit_generator.state}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    target = state_path(run_dir, epoch)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    for old_epoch, old in _scan(run_dir, STATE_RE)[:-keep]:
        old.unlink(missing_ok=True)
    return target


def latest_state(run_dir) -> tuple[int, Path] | None:
    states = _scan(run_dir, STATE_RE)
    return states[-1] if states else None


def load_state(path) -> tuple[dict, dict]:
    """(arrays, meta) of a state file; InputError naming the file when it is unreadable."""
    path = Path(path)
    try:
        if not zipfile.is_zipfile(path):
            # Checked first: np.load would fall back to pickle and advise unsafe loading.
            raise ValueError("not a .npz (zip) archive")
        with np.load(path) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except Exception as exc:
        raise InputError(f"training state {path} is corrupt ({exc}); delete it to resume from the "
                         "epoch before, or start a new run in an empty folder") from exc
    for key, value in arrays.items():
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise InputError(f"training state {path} holds NaN/inf weights ({key}); training had "
                             "diverged: delete it to resume from the epoch before, or restart with "
                             "another seed or a lower learning rate")
    return arrays, meta
