"""Training runs on disk: create or resume RUN/, train, write history, checkpoints, samples.

RUN/run.json holds everything needed to rebuild the models and the data pipeline; history.csv
gets one row per finished epoch; checkpoints/ and samples/ one file per epoch. The order of
writes at the end of an epoch (generator, samples, history, then the resume state) means that
after a SIGKILL the newest state file always names an epoch whose other files are complete.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

from ganaudit.gan_models import checkpoints as ckpt
from ganaudit.gan_models.atomic import write_json, write_text
from ganaudit.gan_models.errors import InputError
from ganaudit.schema import layout
from ganaudit.schema import metrics as M
from ganaudit.schema.values import folder_problem
from ganaudit.schema.values import parse_bool

HISTORY_COLUMNS = M.HISTORY_COLUMNS

DEFAULTS_1D = {
    "latent_dim": 8, "width": 128, "depth": 3, "loss": "modified", "label_smoothing": 0.0,
    "gradient_penalty": 10.0, "d_learning_rate": 1e-3, "g_learning_rate": 1e-3, "beta_1": 0.5,
    "beta_2": 0.999, "batch_size": 256, "n_train": 16_384, "steps_per_call": 32, "epochs": 30,
    "n_samples": 1000, "lr_decay": "cosine", "lr_final_fraction": 0.05,
}
DEFAULTS_2D = {
    "latent_dim": 100, "base": 32, "batch_norm": True, "minibatch_std": True, "loss": "modified",
    "label_smoothing": 0.25, "gradient_penalty": 10.0,
    # Two time-scale rates (Heusel et al. 2017): a slower discriminator kept it from winning.
    "d_learning_rate": 1e-4, "g_learning_rate": 3e-4, "beta_1": 0.5,
    "beta_2": 0.999, "batch_size": 32, "steps_per_call": 10, "epochs": 20, "n_grid": 64,
    "lr_decay": "none", "lr_final_fraction": 1.0,
    "heldout_fraction": 0.2,
}


def load_run(run_dir) -> dict:
    """run.json of a run, plus its ``path``; InputError when RUN is not a ganaudit run."""
    path = layout.run_json(run_dir)
    if not path.is_file():
        raise InputError(f"{run_dir} is not a training run (no run.json); make one with "
                         "`ganaudit train1d` or `ganaudit train2d`")
    try:
        run = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(run, dict) or run.get("kind") not in ("1d", "2d", "imported"):
        raise InputError(f"{path} does not describe a ganaudit run (no kind '1d', '2d' or "
                         "'imported'); give a folder written by `ganaudit train1d`, `ganaudit "
                         "train2d` or `ganaudit import`")
    run["path"] = str(Path(run_dir))
    return run


def read_history(run_dir):
    import pandas as pd

    path = layout.history_csv(run_dir)
    if not path.is_file():
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    frame = pd.read_csv(path)
    # An imported run's log may lack the accuracies: its health is then unknown (NA), not false.
    frame[M.HEALTHY] = frame[M.HEALTHY].map(parse_bool).astype("boolean")
    return frame


def load_run_data(run_dir) -> tuple[np.ndarray, np.ndarray]:
    """The preprocessed (train, held-out) images of a 2D run, float32 (N, S, S) in [-1, 1]."""
    try:
        return np.load(layout.train_images(run_dir)), np.load(layout.heldout_images(run_dir))
    except FileNotFoundError as exc:
        raise InputError(f"{run_dir} has no stored training data ({exc.filename}); only 2D runs "
                         "made by `ganaudit train2d` have it") from exc
    except (ValueError, OSError) as exc:
        raise InputError(f"the stored training data in {folder} is damaged ({exc}); start the run "
                         "again from the original images") from exc


def _versions() -> dict:
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "numpy": np.__version__}
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax
        versions["jax"] = jax.__version__
    return versions


def _history_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in HISTORY_COLUMNS})
    return buf.getvalue()


def _read_history_rows(run_dir) -> list[dict]:
    path = layout.history_csv(run_dir)
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def check_new_run_dir(out) -> Path:
    """A new run may go into ``out`` only when it does not exist or is an empty folder."""
    out = Path(out)
    problem = folder_problem(out)
    if problem:
        raise InputError(f"output folder {out} {problem}; choose a new folder, or add --resume "
                         "to continue the run that is there")
    return out


def prepare_run_dir(out, *, resume: bool) -> Path:
    """Refuse a non-empty folder unless resuming; refuse resuming what is not a run."""
    out = Path(out)
    if resume:
        if not layout.run_json(out).is_file():
            raise InputError(f"cannot resume: {out} has no run.json; start a new run without --resume")
        return out
    check_new_run_dir(out).mkdir(parents=True, exist_ok=True)
    return out


def check_batch_size(settings: dict) -> None:
    """``--batch-size`` must make sense before anything is written (``--epochs`` is checked by
    ``train_1d``/``train_2d`` themselves)."""
    value = settings.get("batch_size")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"--batch-size must be a whole number ≥ 1, got {value!r}")


def _seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # only available on some builds; determinism is best effort then
            pass


def build_gan(run: dict):
    """Rebuild generator, discriminator and compiled GAN from run.json settings."""
    import keras

    from ganaudit.gan_models import models
    from ganaudit.gan_models.losses import get_loss
    from ganaudit.gan_models.trainer import GAN

    _seed_everything(int(run["seed"]))
    if run["kind"] == "1d":
        generator = models.generator_1d(run["latent_dim"], width=run["width"], depth=run["depth"])
        discriminator = models.discriminator_1d(width=run["width"], depth=run["depth"])
    else:
        generator = models.generator_2d(run["image_size"], run["latent_dim"], base=run["base"],
                                        batch_norm=run.get("batch_norm", False))
        discriminator = models.discriminator_2d(run["image_size"], base=run["base"],
                                                minibatch_std=run.get("minibatch_std", False))
    gan = GAN(generator, discriminator, run["latent_dim"])

    def rate(initial):
        if run.get("lr_decay", "none") == "cosine":
            # Cosine decay over the planned number of steps steadies the last epochs.
            return keras.optimizers.schedules.CosineDecay(
                initial, decay_steps=int(run["decay_steps"]), alpha=float(run["lr_final_fraction"]))
        return initial

    gan.compile(
        d_optimizer=keras.optimizers.Adam(rate(run["d_learning_rate"]), beta_1=run["beta_1"], beta_2=run["beta_2"]),
        g_optimizer=keras.optimizers.Adam(rate(run["g_learning_rate"]), beta_1=run["beta_1"], beta_2=run["beta_2"]),
        loss=get_loss(run["loss"], label_smoothing=run["label_smoothing"],
                      gradient_penalty=run["gradient_penalty"]),
    )
    return gan


def fixed_latents(run: dict, n: int) -> np.ndarray:
    """The latent vectors used for every epoch's samples (same for all epochs)."""
    rng = np.random.default_rng([int(run["seed"]), 7919])
    return rng.standard_normal((n, int(run["latent_dim"])), dtype=np.float32)


def _remove_temporaries(run_dir: Path) -> None:
    """Delete what writes cut short by a kill left behind (``atomic_path``'s ``.NAME.*.tmp`` and
    ``.NAME.old``, the generator's ``.tmp-PID-NAME``); the finished files are never touched."""
    import shutil

    for folder in (run_dir, layout.checkpoints_dir(run_dir), layout.samples_dir(run_dir), layout.data_dir(run_dir)):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            name = path.name
            if name.startswith(".") and (name.endswith((".tmp", ".old")) or name.startswith(".tmp-")):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def train(run_dir, run: dict, data: np.ndarray, *, resume: bool, write_samples, quiet: bool = False) -> dict:
    """Train (or resume) the run in ``run_dir``; return a summary dict."""
    from tqdm.auto import tqdm

    from ganaudit.gan_models.trainer import LoopSettings, fit_gan

    run_dir = Path(run_dir)
    gan = build_gan(run)
    rng = np.random.default_rng(int(run["seed"]))
    start = 1
    rows: list[dict] = []
    if resume:
        latest = ckpt.latest_state(run_dir)
        if latest is not None:
            arrays, meta = ckpt.load_state(latest[1])
            try:
                gan.load_state_arrays(arrays)
            except ValueError as exc:
                raise InputError(f"{latest[1]} does not belong to this run's models ({exc}); "
                                 "resume needs the checkpoint written by the same run") from exc
            rng.bit_generator.state = meta["rng"]
            start = int(meta["epoch"]) + 1
            rows = [r for r in _read_history_rows(run_dir) if int(r["epoch"]) < start]
        if int(run["epochs"]) != int(load_run(run_dir)["epochs"]):
            write_run_json(run_dir, run)
        # Files from an epoch that did not finish are redone.
        for epoch, path in ckpt.list_checkpoints(run_dir):
            if epoch >= start:
                path.unlink()
        _remove_temporaries(run_dir)
        write_text(layout.history_csv(run_dir), _history_text(rows))
    else:
        write_text(layout.history_csv(run_dir), _history_text([]))
    settings = LoopSettings(epochs=int(run["epochs"]), batch_size=int(run["batch_size"]),
                            steps_per_call=int(run["steps_per_call"]))
    layout.samples_dir(run_dir).mkdir(exist_ok=True)
    layout.checkpoints_dir(run_dir).mkdir(exist_ok=True)
    latents = fixed_latents(run, int(run.get("n_samples", run.get("n_grid", 64))))
    unhealthy = []
    done_before = len(rows)

    def on_epoch_end(epoch: int, row: dict) -> None:
        ckpt.save_generator(gan.generator, run_dir, epoch)
        write_samples(gan.generator, latents, run_dir, epoch)
        rows.append(row)
        write_text(layout.history_csv(run_dir), _history_text(rows))
        ckpt.save_state(gan, run_dir, epoch, rng)
        if not row[M.HEALTHY]:
            unhealthy.append(epoch)

    n = len(data)
    steps = max(n // min(int(run["batch_size"]), n), 1)
    total = steps * (settings.epochs - start + 1)
    with tqdm(total=total, desc=f"train {run_dir.name}", unit="step", disable=quiet or total <= 0,
              leave=False, file=sys.stderr) as bar:
        try:
            fit_gan(gan, data, settings, rng, start_epoch=start, on_epoch_end=on_epoch_end, progress=bar)
        except FloatingPointError as exc:
            raise InputError(f"{exc}; the checkpoints up to the last finished epoch are kept. Restart "
                             "in a new folder with another --seed or a lower learning rate") from exc
    if unhealthy:
        warnings.warn(
            f"training was unhealthy at epochs {unhealthy}: the discriminator's accuracy stayed above "
            "90 % or below 10 %. Restart with another --seed or a lower discriminator learning rate, "
            "or keep only the healthy epochs (the report leaves the others out).", stacklevel=2)
    # epochs: all the run's epochs; trained_now: those trained by this call (0 when a resumed
    # run had nothing left to train), starting at first_epoch.
    return {"epochs": len(rows), "trained_now": len(rows) - done_before, "first_epoch": start,
            "unhealthy": unhealthy, "history": rows}


def base_run_json(kind: str, settings: dict, seed: int, n_examples: int) -> dict:
    import keras

    run = {"kind": kind, **settings, "seed": int(seed), "backend": keras.backend.backend(),
           "versions": _versions(), "optimizer": "adam", "command": " ".join(sys.argv)}
    steps_per_epoch = max(n_examples // min(int(settings["batch_size"]), n_examples), 1)
    run["decay_steps"] = steps_per_epoch * int(settings["epochs"])
    return run


def write_run_json(run_dir, run: dict) -> None:
    write_json(layout.run_json(run_dir), {k: v for k, v in run.items() if k != "path"})


def resumed_settings(run_dir, new: dict, *, kind: str) -> dict:
    """On --resume, keep the stored settings; only ``epochs`` may grow (``train`` writes the
    grown value to run.json once the training state has loaded, so a refused resume changes
    nothing). ``kind`` is the kind of run the command trains ("1d" or "2d")."""
    stored = load_run(run_dir)
    stored.pop("path", None)
    if stored["kind"] == "imported":
        raise InputError(f"{run_dir} was imported with `ganaudit import` (trained elsewhere); it "
                         "cannot be resumed here: import the new checkpoints into a new folder")
    if stored["kind"] != kind:
        raise InputError(f"{run_dir} is a {stored['kind'].upper()} run; resume it with "
                         f"`ganaudit train{stored['kind']} --out {run_dir} --resume`")
    needed = {"1d": ("epochs", "seed", "n_train", "pattern"), "2d": ("epochs", "seed", "image_size")}[kind]
    missing = [key for key in needed if key not in stored]
    if missing:
        raise InputError(f"{run_dir}/run.json lacks {', '.join(missing)}; it was not written by "
                         "ganaudit (or was edited), so the run cannot be resumed")
    if int(new.get("epochs", stored["epochs"])) > int(stored["epochs"]):
        stored["epochs"] = int(new["epochs"])
    return stored
