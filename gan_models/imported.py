"""Runs trained elsewhere: import per-checkpoint sample folders or ONNX generators as a run.

``ganaudit import`` turns what another framework left behind (StyleGAN2-ADA, MONAI, …) into a
normal run folder that ``score``, ``report`` and ``study create`` accept::

    RUN/run.json                          kind "imported", source, image size, intensity policy
    RUN/data/train.npy, heldout.npy       the --train and --heldout images, float32 in [-1, 1]
    RUN/data/train_names.csv | train_labels.csv
    RUN/checkpoints/samples-epoch-NNNN.npy   (--samples) the checkpoint's images, float32
    RUN/checkpoints/generator-epoch-NNNN.onnx  (--generators) the checkpoint's generator
    RUN/samples/epoch-NNNN.png            a grid of the checkpoint's first images
    RUN/history.csv                       only with --history

A checkpoint's number is the last number in its folder or file name (``epoch-0010``,
``ckpt_20``, ``step-050000``); the report calls it the epoch.

Every image — training, held-out, sample folders, ONNX outputs — goes through one intensity
policy, a per-image percentile window (0.5 to 99.5 %): files from other tools carry no
reliable range, and an affine window per image makes real and generated images comparable
whatever scale the generator writes (tanh output, [0, 1], 8-bit). An ONNX generator's outputs
are therefore exactly what loading them from ``.npy`` sample folders would give.
"""

from __future__ import annotations

import csv
import io
import math
import platform
import re
import shutil
import sys
from pathlib import Path

import numpy as np

from ganaudit.gan_models.atomic import atomic_path, write_csv
from ganaudit.gan_models.data.policy import IntensityPolicy, resize_square
from ganaudit.gan_models.errors import InputError
from ganaudit.schema import layout
from ganaudit.schema import metrics as M
from ganaudit.schema.values import json_text

KIND = "imported"
#: The intensity policy of every imported run (see the module docstring).
POLICY = IntensityPolicy(mode="percentile")
#: Fewest images a set may hold: ganaudit.evaluation.scoring2d.MIN_IMAGES (FD∞ fits 15 subset sizes
#: from N/10 to N; the k-NN metrics need k + 1). gan_models cannot import ganaudit.evaluation, so the
#: number is repeated here and a test keeps the two equal.
MIN_IMAGES = 20
#: Fewest pixels per side of an image a generator may make.
MIN_SIDE = 8
SAMPLES_RE = layout.IMPORTED_SAMPLES_RE
ONNX_RE = layout.IMPORTED_ONNX_RE
GRID_IMAGES = 64
HISTORY_VALUES = (M.D_LOSS, M.G_LOSS, M.D_ACC_REAL, M.D_ACC_FAKE)
_NUMBER = re.compile(r"(\d+)")
_ONNX_FLOATS = {"tensor(float)": np.float32, "tensor(double)": np.float64,
                "tensor(float16)": np.float16}


# ----------------------------------------------------------------------------- checkpoints

def checkpoint_number(name: str) -> int:
    """The checkpoint number in a folder or file name: its last run of digits.

    ``epoch-0010`` → 10, ``ckpt_20`` → 20, ``step-050000`` → 50000, ``G_ema-12.onnx`` → 12.
    """
    stem = name[:-len(".onnx")] if name.lower().endswith(".onnx") else name
    found = _NUMBER.findall(stem)
    if not found:
        raise InputError(f"checkpoint {name!r} has no number in its name; name each checkpoint "
                         "after its epoch or step (epoch-0010, ckpt_20, step-050000): the number "
                         "sets the order")
    return int(found[-1])


def find_checkpoints(folder, *, generators: bool) -> list[tuple[int, Path]]:
    """(number, path) of every checkpoint in ``folder``, sorted by number.

    ``generators=False``: one sub-folder per checkpoint (``--samples``); True: one ``.onnx``
    file per checkpoint (``--generators``). Hidden entries are ignored.
    """
    folder = Path(folder)
    flag = "--generators" if generators else "--samples"
    if not folder.is_dir():
        raise InputError(f"{flag} {folder} is not a folder; give the folder that holds one "
                         + ("ONNX file" if generators else "sub-folder of images") + " per checkpoint")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if generators:
        chosen = [p for p in entries if p.is_file() and p.suffix.lower() == ".onnx"]
        what = "no .onnx files"
    else:
        chosen = [p for p in entries if p.is_dir()]
        what = "no sub-folders"
        if not chosen and any(p.is_file() for p in entries):
            raise InputError(f"{flag} {folder} holds files but no sub-folders; put each "
                             "checkpoint's images in a sub-folder named after it (epoch-0010/, "
                             "epoch-0020/, …)")
    if not chosen:
        raise InputError(f"{flag} {folder} has {what}; it must hold one per checkpoint, named "
                         "after the epoch or step (epoch-0010, ckpt_20, step-050000)")
    numbered: dict[int, Path] = {}
    for path in chosen:
        number = checkpoint_number(path.name)
        if number in numbered:
            raise InputError(f"checkpoints {numbered[number].name!r} and {path.name!r} in {folder} "
                             f"both have the number {number}; give each checkpoint its own number")
        numbered[number] = path
    return sorted(numbered.items())


def list_checkpoints(run_dir) -> list[tuple[int, Path]]:
    """(epoch, file) of every checkpoint of an imported run, sorted by epoch."""
    folder = layout.checkpoints_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = SAMPLES_RE.match(path.name) or ONNX_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


samples_path = layout.imported_samples_file
onnx_path = layout.imported_onnx_file


# ----------------------------------------------------------------------------- ONNX

def _one_line(exc: Exception) -> str:
    """onnxruntime's messages span lines; the command line prints one."""
    return " ".join(str(exc).split())


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise InputError("ONNX generators need onnxruntime; install the extra with "
                         "`pip install 'ganaudit[onnx]'`, or import sample folders with --samples"
                         ) from exc
    return onnxruntime


class OnnxGenerator:
    """An ONNX generator from latent vectors to a batch of images.

    The model takes one input, latents of shape (batch, d) or (batch, d, 1, 1) (PyTorch
    DCGAN style); ``d`` is read from the model. Its first output must be a batch of square
    images: (batch, S, S), (batch, C, S, S) or (batch, S, S, C) with C = 1 or 3 (colour
    becomes luminance, as for RGB files). Opening the file runs it on two latents to check
    that. Call it with latents (n, d) to get images (n, S, S) in [-1, 1] after :data:`POLICY`.
    """

    def __init__(self, path) -> None:
        ort = _onnxruntime()
        self.path = Path(path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for foreign files
            raise InputError(f"{self.path} is not a readable ONNX model ({_one_line(exc)}); export the "
                             "generator with torch.onnx.export (see docs/importing.md)") from exc
        self.latent_dim = self._read_latent_dim()
        z = np.random.default_rng(0).standard_normal((2, self.latent_dim)).astype(np.float32)
        self.image_size = int(self._raw(z).shape[1])

    def _read_latent_dim(self) -> int:
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(f"{i.name} {i.shape}" for i in inputs)
            raise InputError(f"{self.path.name} takes {len(inputs)} inputs ({names}); export a "
                             "generator that takes only the latent vectors (wrap conditioning "
                             "or truncation inside the exported module, see docs/importing.md)")
        spec = inputs[0]
        shape = list(spec.shape)
        if spec.type not in _ONNX_FLOATS:
            raise InputError(f"{self.path.name} takes {spec.type} latents; a generator takes "
                             "float latent vectors")
        if len(shape) == 4 and shape[2:] == [1, 1]:
            shape = shape[:2]
        if len(shape) != 2 or not isinstance(shape[1], int) or shape[1] < 1:
            raise InputError(f"{self.path.name} takes input {spec.name} of shape {spec.shape}; "
                             "a generator takes latents of shape (batch, d) or (batch, d, 1, 1) "
                             "with a fixed latent size d")
        return int(shape[1])

    def _batch(self) -> int:
        first = self._session.get_inputs()[0].shape[0]
        # Exported without a dynamic batch axis, the model runs that many latents at a time.
        return first if isinstance(first, int) and first > 0 else 64

    def _raw(self, z: np.ndarray) -> np.ndarray:
        """Model outputs for latents ``z`` as (n, S, S) float64, before the intensity policy."""
        spec = self._session.get_inputs()[0]
        dtype = _ONNX_FLOATS[spec.type]
        four = len(spec.shape) == 4
        batch = self._batch()
        parts = []
        for start in range(0, len(z), batch):
            chunk = z[start:start + batch]
            n = len(chunk)
            if n < batch and isinstance(spec.shape[0], int):
                chunk = np.concatenate([chunk, np.zeros((batch - n, chunk.shape[1]), chunk.dtype)])
            feed = chunk.astype(dtype)[:, :, None, None] if four else chunk.astype(dtype)
            try:
                out = self._session.run(None, {spec.name: feed})[0]
            except Exception as exc:
                raise InputError(f"{self.path.name} failed on a batch of latents "
                                 f"({_one_line(exc)}); export a generator that maps (batch, d) "
                                 "latents to images") from exc
            parts.append(self._images(np.asarray(out), len(chunk))[:n])
        return np.concatenate(parts)

    def _images(self, out: np.ndarray, n: int) -> np.ndarray:
        """Check that ``out`` is a batch of ``n`` square images; return (n, S, S) float64."""
        bad = (f"{self.path.name} outputs an array of shape {out.shape} ({out.dtype}), not a "
               f"batch of {n} images; a generator's first output must be (batch, S, S), "
               "(batch, C, S, S) or (batch, S, S, C) with C = 1 or 3")
        if not np.issubdtype(out.dtype, np.number) or out.ndim not in (3, 4) or out.shape[0] != n:
            raise InputError(bad)
        if out.ndim == 4:
            if out.shape[1] in (1, 3):
                out = np.moveaxis(out, 1, -1)
            elif out.shape[3] not in (1, 3):
                raise InputError(bad)
            out = out.astype(np.float64)
            # Colour to luminance with ITU-R 601 weights (Pillow's "L" conversion).
            out = out[..., 0] if out.shape[3] == 1 else out @ np.array([0.299, 0.587, 0.114])
        if out.shape[1] != out.shape[2] or out.shape[1] < MIN_SIDE:
            raise InputError(bad.replace(
                "images;", f"square images of at least {MIN_SIDE}×{MIN_SIDE} pixels;"))
        return out.astype(np.float64)

    def __call__(self, z: np.ndarray, *, size: int | None = None) -> np.ndarray:
        raw = self._raw(np.asarray(z, dtype=np.float32))
        if not np.all(np.isfinite(raw)):
            raise InputError(f"{self.path.name} produces NaN/inf outputs; training had diverged "
                             "at that checkpoint: move the file out of the run's checkpoints/ "
                             "to score the others")
        images = np.stack([POLICY.apply(image) for image in raw])
        if size is not None and size != images.shape[1]:
            images = np.stack([resize_square(image, size) for image in images])
        return images.astype(np.float32)


# ----------------------------------------------------------------------------- history

def _read_option_csv(path: Path, flag: str):
    """The CSV file given with ``flag``; one clear error when it cannot be read as one."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{flag} {path} is not a readable CSV file ({exc})") from exc


def read_training_log(path, epochs: list[int]) -> list[dict]:
    """history.csv rows from a training log CSV (``epoch`` and any of ``d_loss``, ``g_loss``,
    ``d_acc_real``, ``d_acc_fake``; other columns are ignored).

    ``healthy`` follows ganaudit's own rule (:func:`ganaudit.gan_models.trainer.epoch_health`) where
    both accuracies are given, and is left empty (unknown) otherwise. Every checkpoint number
    in ``epochs`` must have a row.
    """
    import pandas as pd

    path = Path(path)
    log = _read_option_csv(path, "--history")
    if "epoch" not in log.columns:
        raise InputError(f"--history {path} has no 'epoch' column (columns: "
                         f"{', '.join(map(str, log.columns))}); rename the column that holds "
                         "the checkpoint numbers to 'epoch'")
    given = [c for c in HISTORY_VALUES if c in log.columns]
    if not given:
        raise InputError(f"--history {path} has none of the columns {', '.join(HISTORY_VALUES)}; "
                         "rename the log's loss and discriminator-accuracy columns to these names")
    for column in ["epoch", *given]:
        values = pd.to_numeric(log[column], errors="coerce")
        bad = values.isna() & log[column].notna()
        if bad.any():
            raise InputError(f"--history {path} column {column} holds "
                             f"{log[column][bad].iloc[0]!r}, not a number")
        log[column] = values
    if log["epoch"].isna().any() or (log["epoch"] != log["epoch"].round()).any():
        raise InputError(f"--history {path} has an epoch that is not a whole number")
    log["epoch"] = log["epoch"].astype(int)
    repeated = sorted(set(log["epoch"][log["epoch"].duplicated()]))
    if repeated:
        raise InputError(f"--history {path} lists epoch {repeated[0]} more than once; keep one "
                         "row per epoch (e.g. the epoch's mean)")
    missing = sorted(set(epochs) - set(log["epoch"]))
    if missing:
        raise InputError(f"--history {path} has no row for checkpoint {missing[0]}; its epoch "
                         "column must use the numbers of the checkpoint names")
    has_accuracy = {M.D_ACC_REAL, M.D_ACC_FAKE} <= set(given)
    if has_accuracy:
        from ganaudit.gan_models.trainer import epoch_health
    rows = []
    for _, entry in log.sort_values("epoch").iterrows():
        row = {"epoch": int(entry["epoch"]), "seconds": math.nan, M.HEALTHY: ""}
        for column in HISTORY_VALUES:
            row[column] = float(entry[column]) if column in given else math.nan
        if has_accuracy and math.isfinite(row[M.D_ACC_REAL]) and math.isfinite(row[M.D_ACC_FAKE]):
            row[M.HEALTHY] = epoch_health(row[M.D_ACC_REAL], row[M.D_ACC_FAKE])
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- labels

def read_labels(path, names: list[str]):
    """Rows of a labels CSV (``file`` plus finding columns) in the order of ``names``.

    A row belongs to an image when the stem of its ``file`` equals the image name's last
    ``__`` part (as :func:`ganaudit.gan_models.data.find_labels` matches). Unlike a labels.csv found
    beside the images, a file given with ``--labels`` must cover every training image.
    """
    path = Path(path)
    labels = _read_option_csv(path, "--labels")
    if "file" not in labels.columns:
        raise InputError(f"--labels {path} has no 'file' column; give one row per training "
                         "image with its file name in 'file' and one column per finding")
    stems = labels["file"].map(lambda f: Path(str(f)).stem)
    if stems.duplicated().any():
        raise InputError(f"--labels {path} lists {labels['file'][stems.duplicated()].iloc[0]!r} "
                         "twice; keep one row per image")
    row_of = dict(zip(stems, range(len(labels))))
    keys = [name.rsplit("__", 1)[-1] for name in names]
    missing = [n for n, k in zip(names, keys) if k not in row_of]
    if missing:
        raise InputError(f"--labels {path} has no row for {len(missing)} of {len(names)} training "
                         f"images (e.g. {missing[0]}); give one row per training image")
    return labels.iloc[[row_of[k] for k in keys]].reset_index(drop=True)


# ----------------------------------------------------------------------------- import

def _load(folder, what: str, *, size: int | None, min_images: int):
    from ganaudit.gan_models.data import load_images

    try:
        images = load_images(folder, size=size, policy=POLICY)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from exc
    if len(images) < min_images:
        raise InputError(f"{what} {folder} has {len(images)} images but the metrics need at least "
                         f"{min_images}; add images")
    return images


def _check_size(found: dict[str, int]) -> int:
    sizes = set(found.values())
    if len(sizes) > 1:
        groups = []
        for side in sorted(sizes):
            names = [name for name, s in found.items() if s == side]
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            groups.append(f"{side}×{side}: {', '.join(names[:3])}{more}")
        listed = "; ".join(groups)
        raise InputError(f"checkpoints and image folders have different image sizes ({listed}); "
                         "pass --size S to resize them all to one size")
    return sizes.pop()


def _grid_png(images: np.ndarray, target: Path) -> None:
    from PIL import Image

    from ganaudit.gan_models.grids import image_grid

    with atomic_path(target) as tmp:
        Image.fromarray(image_grid(images[:GRID_IMAGES])).save(tmp, format="PNG")


def _versions() -> dict:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import onnxruntime
        versions["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return versions


def import_run(out, *, train, heldout, samples=None, generators=None, history=None,
               labels=None, size: int | None = None, seed: int = 0,
               min_images: int = MIN_IMAGES, progress: bool = False) -> dict:
    """Import a run trained elsewhere into the new run folder ``out`` (written atomically).

    Parameters
    ----------
    out : path
        The run folder to create (must not exist or be empty).
    train, heldout : path
        Folders of the images the GAN was trained on and of real images it never saw (any
        format :func:`ganaudit.gan_models.data.load_images` reads).
    samples : path, optional
        One sub-folder of generated images per checkpoint.
    generators : path, optional
        One ONNX generator file per checkpoint (instead of ``samples``).
    history : path, optional
        Training log CSV (see :func:`read_training_log`).
    labels : path, optional
        Finding labels of the training images (``file`` plus one column per finding); by
        default a ``labels.csv`` beside the training images is used when it fits.
    size : int, optional
        Resize every image to (size, size); without it all images must have one size.
    seed : int
        Seed of the latents of the sample grids (ONNX).
    min_images : int
        Fewest images each set must hold.

    Returns
    -------
    dict
        The run.json written (without ``path``).
    """
    from ganaudit.gan_models.data import find_labels
    from ganaudit.gan_models.runs import _history_text as history_text
    from ganaudit.gan_models.runs import check_new_run_dir, fixed_latents

    if (samples is None) == (generators is None):
        raise InputError("give either --samples DIR (one image folder per checkpoint) or "
                         "--generators DIR (one ONNX file per checkpoint)")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < MIN_SIDE):
        raise InputError(f"--size must be a whole number of pixels ≥ {MIN_SIDE}, got {size!r}")
    out = check_new_run_dir(out)
    for flag, folder in (("--train", train), ("--heldout", heldout)):
        if not Path(folder).exists():
            raise InputError(f"{flag} {folder} does not exist; give a folder of real images")
    checkpoints = find_checkpoints(samples if samples is not None else generators,
                                   generators=generators is not None)
    epochs = [number for number, _ in checkpoints]
    history_rows = read_training_log(history, epochs) if history is not None else None

    train_set = _load(train, "--train", size=size, min_images=min_images)
    heldout_set = _load(heldout, "--heldout", size=size, min_images=min_images)
    sizes = {"--train": train_set.images.shape[1], "--heldout": heldout_set.images.shape[1]}
    label_table = (read_labels(labels, train_set.names) if labels is not None
                   else find_labels(train, train_set.names))

    stored: dict[int, np.ndarray] = {}
    models: dict[int, OnnxGenerator] = {}
    counts: dict[int, int] = {}
    iterator = checkpoints
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(checkpoints, desc="reading checkpoints", unit="checkpoint", file=sys.stderr)
    for number, path in iterator:
        if samples is not None:
            images = _load(path, f"checkpoint {path.name}", size=size, min_images=min_images).images
            stored[number] = images
            counts[number] = len(images)
            sizes[path.name] = images.shape[1]
        else:
            model = OnnxGenerator(path)
            models[number] = model
            sizes[path.name] = size or model.image_size
    image_size = _check_size(sizes)
    if models:
        dims = {model.latent_dim for model in models.values()}
        if len(dims) > 1:
            listed = ", ".join(f"{m.path.name}: {m.latent_dim}" for m in models.values())
            raise InputError(f"the ONNX generators take latents of different sizes ({listed}); "
                             "give the checkpoints of one training run")

    run = {
        "kind": KIND,
        "source": {
            "type": "samples" if samples is not None else "onnx",
            "path": str(Path(samples if samples is not None else generators).resolve()),
            "checkpoints": {str(n): p.name for n, p in checkpoints},
        },
        "image_size": int(image_size),
        "resized": size is not None,
        "intensity_policy": POLICY.to_dict(),
        "seed": int(seed),
        "n_grid": GRID_IMAGES,
        "data": {"train": str(Path(train).resolve()), "heldout": str(Path(heldout).resolve()),
                 "n_train": len(train_set), "n_heldout": len(heldout_set),
                 "labels": (str(Path(labels).resolve()) if labels is not None
                            else ("labels.csv beside --train" if label_table is not None else None))},
        "history": str(Path(history).resolve()) if history is not None else None,
        "versions": _versions(),
        "command": " ".join(sys.argv),
    }
    if models:
        run["latent_dim"] = next(iter(models.values())).latent_dim
    else:
        run["n_images"] = {str(n): c for n, c in counts.items()}

    with atomic_path(out) as tmp:
        for folder in (layout.data_dir(tmp), layout.checkpoints_dir(tmp), layout.samples_dir(tmp)):
            folder.mkdir(parents=True)
        for split, image_set in zip(layout.SPLITS, (train_set, heldout_set)):
            np.save(layout.split_images(tmp, split), image_set.images.astype(np.float32))
        if label_table is not None:
            write_csv(layout.train_labels_csv(tmp), label_table)
        else:
            import pandas as pd
            write_csv(layout.train_names_csv(tmp), pd.DataFrame({"file": train_set.names}))
        for number, images in stored.items():
            np.save(samples_path(tmp, number), images.astype(np.float32))
            _grid_png(images, layout.sample_grid(tmp, number))
        if models:
            latents = fixed_latents(run, GRID_IMAGES)
            for number, model in models.items():
                shutil.copyfile(model.path, onnx_path(tmp, number))
                _grid_png(model(latents, size=image_size), layout.sample_grid(tmp, number))
        if history_rows is not None:
            layout.history_csv(tmp).write_text(history_text(history_rows), encoding="utf-8")
        layout.run_json(tmp).write_text(json_text(run), encoding="utf-8")
    return run


# ----------------------------------------------------------------------------- generation

def stored_count(run: dict) -> int | None:
    """Fewest images any checkpoint of a sample-folder import holds (None for ONNX imports)."""
    counts = run.get("n_images")
    return min(int(v) for v in counts.values()) if counts else None


def _check_epoch(run_dir: Path, epoch: int) -> None:
    known = [e for e, _ in list_checkpoints(run_dir)]
    if epoch not in known:
        raise InputError(f"{run_dir} has no checkpoint for epoch {epoch}; it has epochs "
                         f"{known or 'none'}")


def stored_images(run: dict, epoch: int, n: int) -> np.ndarray:
    """The first ``n`` stored images of checkpoint ``epoch`` of a sample-folder import."""
    run_dir = Path(run["path"])
    _check_epoch(run_dir, epoch)
    path = samples_path(run_dir, epoch)
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is damaged ({exc}); import the run again") from exc
    if len(images) < n:
        raise InputError(f"checkpoint {epoch} of {run_dir} holds {len(images)} images but {n} "
                         f"were asked for; use --n {len(images)} or fewer, or import more images "
                         "per checkpoint")
    return np.array(images[:n], dtype=np.float32)


def load_generator(run: dict, epoch: int) -> OnnxGenerator:
    """The ONNX generator of checkpoint ``epoch`` of an ONNX import, checked against run.json."""
    run_dir = Path(run["path"])
    if run["source"]["type"] != "onnx":
        raise InputError(f"{run_dir} was imported from sample folders and has no generator; its "
                         f"images are stored in {layout.checkpoints_dir(run_dir)} (import ONNX generators "
                         "with --generators to sample new images)")
    _check_epoch(run_dir, epoch)
    model = OnnxGenerator(onnx_path(run_dir, epoch))
    if model.latent_dim != int(run["latent_dim"]):
        raise InputError(f"{model.path} takes latents of size {model.latent_dim} but run.json "
                         f"says latent_dim={run['latent_dim']}: the file belongs to another run")
    return model
