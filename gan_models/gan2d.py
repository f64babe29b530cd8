"""The 2D MR GAN: a DCGAN trained on phantom slices or the user's images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ganaudit.gan_models import runs
from ganaudit.gan_models.atomic import atomic_path, write_csv
from ganaudit.gan_models.data import split_train_heldout
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.grids import image_grid
from ganaudit.gan_models.models import SIZES_2D
from ganaudit.gan_models.sampling import predict
from ganaudit.schema import layout


def _write_grid(generator, latents, run_dir, epoch):
    images = predict(generator, latents)
    with atomic_path(layout.sample_grid(run_dir, epoch)) as tmp:
        Image.fromarray(image_grid(images[..., 0])).save(tmp, format="PNG")


def _load_data(source: str, size: int, *, n_phantom: int, seed: int, size_given: bool = True):
    """Images (N, S, S) in [-1, 1], names, labels (or None), provenance, split groups."""
    if source == "phantom":
        from ganaudit.gan_models.phantom import make_population

        images, labels = make_population(n_phantom, size, seed=seed, progress=False)
        names = list(labels["file"])
        return images, names, labels, {"source": "phantom", "n": n_phantom, "seed": seed}, names
    from ganaudit.gan_models.data import find_labels, load_images

    if size_given:
        image_set = load_images(source, size=size)
    else:
        # Without --size, images of mixed sizes are refused (resizing them all to one size
        # should be the user's choice); one common size is then resized to the default.
        from ganaudit.gan_models.data.policy import resize_square

        image_set = load_images(source, size=None)
        image_set.images = np.stack([resize_square(img, size) for img in image_set.images])
    meta = {"source": str(Path(source).resolve()), "n": len(image_set)}
    meta.update({k: v for k, v in image_set.meta.items() if k != "source"})
    # Labels travel with a folder written by `ganaudit data phantom` (for the findings audit).
    labels = find_labels(source, image_set.names)
    return image_set.images, list(image_set.names), labels, meta, image_set.groups


def train_2d(data: str, out, *, size: int | None = None, epochs: int | None = None, seed: int = 0,
             resume: bool = False, quiet: bool = False, n_phantom: int = 1000,
             precision: str = "auto", **overrides) -> dict:
    """Train a DCGAN on ``data`` ("phantom" or a folder/file of images) into ``out``.

    ``size`` is the training image size (64, 128 or 256). None: 64, and a folder whose images
    differ in size is refused rather than silently resized (give ``size`` to resize them all).
    """
    size_given = size is not None
    size = DEFAULT_SIZE if size is None else size
    if epochs is not None and int(epochs) <= 0:
        raise InputError(f"--epochs must be a positive number of epochs, got {epochs}")
    if precision not in PRECISIONS:
        raise InputError(f"--precision {precision!r} is not known; choose one of {', '.join(PRECISIONS)}")
    if int(size) not in SIZES_2D:
        raise InputError(f"--size {size} is not supported; choose one of {SIZES_2D}")
    unknown = set(overrides) - set(runs.DEFAULTS_2D)
    if unknown:
        raise InputError(f"unknown 2D training settings {sorted(unknown)}; known: {sorted(runs.DEFAULTS_2D)}")
    if not resume and data != "phantom" and not Path(data).exists():
        raise InputError(f"--data {data} does not exist; give 'phantom' or a folder of DICOM/NIfTI/PNG/NPY images")
    out_path = Path(out)
    settings = {**runs.DEFAULTS_2D, **overrides, "image_size": int(size)}
    if epochs is not None:
        settings["epochs"] = int(epochs)
    runs.check_batch_size(settings)
    if not resume:
        # Refuse a used folder, then load (and so validate) and split the data, all before
        # the output folder is touched.
        runs.check_new_run_dir(out_path)
        images, names, labels, meta, groups = _load_data(data, int(size), n_phantom=n_phantom, seed=seed,
                                                         size_given=size_given)
        # Slices of one series/volume stay on one side, or neighbours would look like copies.
        train_idx, held_idx = split_train_heldout(len(images), heldout_fraction=settings["heldout_fraction"],
                                                  seed=seed, groups=groups)
    out_path = runs.prepare_run_dir(out_path, resume=resume)
    if resume:
        run = runs.resumed_settings(out_path, {"epochs": epochs} if epochs else {}, kind="2d")
        train = runs.load_run_data(out_path)[0]
    else:
        train = images[train_idx]
        run = runs.base_run_json("2d", settings, seed, len(train))
        one_volume = len(set(groups)) == 1
        run["data"] = {**meta, "n_train": int(len(train_idx)), "n_heldout": int(len(held_idx)),
                       "split": ("one series/volume: a seeded contiguous block of slices held out, "
                                 "its neighbouring slices unused" if one_volume
                                 else "seeded permutation, grouped by series/volume")}
        run["mixed_precision"] = _precision_policy(precision)
        layout.data_dir(out_path).mkdir(exist_ok=True)
        for split, idx in zip(layout.SPLITS, (train_idx, held_idx)):
            with atomic_path(layout.split_images(out_path, split)) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, images[idx].astype(np.float32))
            if labels is not None:
                write_csv(layout.split_labels_csv(out_path, split), labels.iloc[idx].reset_index(drop=True))
            else:
                import pandas as pd
                write_csv(layout.split_names_csv(out_path, split), pd.DataFrame({"file": [names[i] for i in idx]}))
        runs.write_run_json(out_path, run)
    _apply_precision_policy(run.get("mixed_precision", "float32"))
    summary = runs.train(out_path, run, train[..., None].astype(np.float32), resume=resume,
                         write_samples=_write_grid, quiet=quiet)
    summary["run_dir"] = str(out_path)
    return summary


PRECISIONS = ("auto", "float32", "mixed_bfloat16")
DEFAULT_SIZE = 64


def _precision_policy(precision: str = "auto") -> str:
    """The Keras dtype policy: ``auto`` is mixed_bfloat16 on an accelerator (JAX GPU/TPU) and
    float32 on CPUs (bf16 helps only on CPUs with native bf16 units; ask for it explicitly)."""
    import keras

    if precision != "auto":
        return precision
    if keras.backend.backend() == "jax":
        import jax
        if jax.default_backend() in ("gpu", "tpu"):
            return "mixed_bfloat16"
    return "float32"


def _apply_precision_policy(policy: str) -> None:
    import keras

    keras.mixed_precision.set_dtype_policy(policy)
