"""Generate from a saved checkpoint (the same latents for every epoch of a run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganaudit.gan_models import checkpoints as ckpt
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.runs import load_run


def predict(model, inputs: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Run ``model`` on ``inputs`` in batches as float32 NumPy (no Keras predict loop: it
    re-traces for every new model, which costs more than the work for small checkpoints)."""
    import keras

    parts = [keras.ops.convert_to_numpy(model(inputs[i:i + batch_size], training=False))
             for i in range(0, len(inputs), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def run_checkpoints(run_dir) -> list[tuple[int, Path]]:
    """(epoch, file) of every checkpoint of a run of any kind, sorted by epoch."""
    if load_run(run_dir)["kind"] == "imported":
        from ganaudit.gan_models import imported

        return imported.list_checkpoints(run_dir)
    return ckpt.list_checkpoints(run_dir)


def latents(seed: int, n: int, latent_dim: int) -> np.ndarray:
    """The latents of ``generate``: from ``seed`` alone, the same for every checkpoint."""
    return np.random.default_rng([int(seed), 104729]).standard_normal((n, latent_dim), dtype=np.float32)


def generate(run_dir, epoch: int, n: int, *, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``n`` samples of checkpoint ``epoch``: 2D float32 (n, S, S) in [-1, 1]; 1D (n, 2) points.

    Latents come from ``seed`` alone, so every checkpoint is scored on the same latents. An
    imported run's ONNX generator gets the same latents; a run imported from sample folders
    gives the checkpoint's first ``n`` stored images.
    """
    run = load_run(run_dir)
    if run["kind"] == "imported":
        from ganaudit.gan_models import imported

        if run["source"]["type"] == "samples":
            return imported.stored_images(run, epoch, n)
        model = imported.load_generator(run, epoch)
        return model(latents(seed, n, model.latent_dim), size=int(run["image_size"]))
    path = ckpt.generator_path(run_dir, epoch)
    if not path.is_file():
        known = [e for e, _ in ckpt.list_checkpoints(run_dir)]
        raise InputError(f"{run_dir} has no checkpoint for epoch {epoch}; it has epochs {known or 'none'}")
    generator = ckpt.load_generator(path)
    latent_dim = int(run["latent_dim"])
    if tuple(generator.input_shape[1:]) != (latent_dim,):
        raise InputError(f"checkpoint {path} takes latents of shape {generator.input_shape[1:]}, but "
                         f"run.json says latent_dim={latent_dim}: the file belongs to another run")
    out = predict(generator, latents(seed, n, latent_dim), batch_size=batch_size)
    if not np.all(np.isfinite(out)):
        raise InputError(f"checkpoint {Path(path).name} produces NaN/inf outputs (its weights hold NaN); "
                         "training had diverged at that epoch: sample an earlier one, or move the file out of "
                         "checkpoints/ to score the others")
    if out.ndim == 4:
        out = out[..., 0]
    return out
