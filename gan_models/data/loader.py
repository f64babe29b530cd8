"""``load_images``: a file or a folder tree of DICOM / NIfTI / PNG / JPEG / TIFF / .npy images
→ one :class:`ImageSet` of float32 (N, S, S) images in [-1, 1].
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ganaudit.gan_models.data.folders import RASTER_SUFFIXES, ImageSet, read_npy, read_raster
from ganaudit.gan_models.data.policy import IntensityPolicy, pad_to_square, resize_square
from ganaudit.gan_models.data.raw import RawImage
from ganaudit.gan_models.errors import InputError

SUPPORTED = "DICOM, NIfTI (.nii/.nii.gz), PNG/JPEG/TIFF or .npy"
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def image_kind(path: Path) -> str | None:
    """Which reader handles ``path``: "raster", "npy", "nifti", "dicom" (None: not an image)."""
    from ganaudit.gan_models.data.dicom import is_dicom_file
    from ganaudit.gan_models.data.nifti import is_nifti

    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return "raster"
    if suffix == ".npy":
        return "npy"
    if is_nifti(path):
        return "nifti"
    if suffix in DICOM_SUFFIXES or is_dicom_file(path):
        return "dicom"
    return None


def _base_name(path: Path, root: Path | None) -> str:
    from ganaudit.gan_models.data.nifti import is_nifti, nifti_stem

    stem = nifti_stem(path) if is_nifti(path) else path.stem
    if root is None:
        return stem
    parts = path.relative_to(root).parent.parts
    return "__".join([*parts, stem])


def _find_files(source: Path) -> tuple[list[Path], Path | None]:
    if not source.exists():
        raise InputError(f"{source} does not exist; give an image file or a folder of {SUPPORTED} files")
    if source.is_file():
        if image_kind(source) is None:
            raise InputError(f"{source.name} is not a supported image file; expected {SUPPORTED}")
        return [source], None
    # Hidden files/folders (and our own temporary ones) and DICOMDIR indexes are not images.
    files = sorted((p for p in source.rglob("*") if p.is_file() and p.name != "DICOMDIR"
                    and not any(part.startswith(".") for part in p.relative_to(source).parts)),
                   key=lambda p: p.relative_to(source).as_posix())
    if not files:
        raise InputError(f"folder {source} is empty; put {SUPPORTED} files in it")
    candidates = [p for p in files if image_kind(p) is not None]
    if not candidates:
        shown = ", ".join(p.relative_to(source).as_posix() for p in files[:5])
        more = f" and {len(files) - 5} more" if len(files) > 5 else ""
        raise InputError(f"no image files in {source}: found {len(files)} file(s) ({shown}{more}) "
                         f"but none is {SUPPORTED}")
    return candidates, source


def _read(path: Path, name: str, *, axis: int, min_foreground: float) -> list[RawImage]:
    kind = image_kind(path)
    group = f"file:{name}"
    if kind == "raster":
        return read_raster(path, name, group)
    if kind == "npy":
        return read_npy(path, name, group)
    if kind == "nifti":
        from ganaudit.gan_models.data.nifti import read_nifti

        return read_nifti(path, name, group, axis=axis, min_foreground=min_foreground)
    from ganaudit.gan_models.data.dicom import read_dicom

    return read_dicom(path, name, group)


def _unique_names(files: list[Path], root: Path | None) -> list[str]:
    names = [_base_name(p, root) for p in files]
    counts = Counter(names)
    # Two files with the same stem (a.png, a.npy): keep the suffix to tell them apart.
    return [n if counts[n] == 1 else f"{n}_" + "".join(p.suffixes).lstrip(".").replace(".", "_")
            for n, p in zip(names, files)]


def load_images(source, *, size: int | None = None,
                policy: IntensityPolicy | dict | None = None, axis: int = 2,
                strict: bool = False, min_foreground: float = 0.05,
                progress: bool = False) -> ImageSet:
    """Load images from a file or a folder (searched recursively) as float32 in [-1, 1].

    Parameters
    ----------
    source : str or Path
        A DICOM file (single- or multi-frame), a NIfTI volume, a PNG/JPEG/TIFF, a ``.npy``
        stack, or a folder tree holding any mix of them (hidden files are ignored; DICOM files
        are recognised by suffix or by their "DICM" preamble).
    size : int, optional
        Resize every image to (size, size) with anti-aliasing. Without it all images must have
        the same size. Non-square images are centre-padded to square first.
    policy : IntensityPolicy or dict, optional
        How raw values become [-1, 1]; default ``IntensityPolicy()`` (``auto``).
    axis : int
        NIfTI slicing axis of the RAS-reoriented volume (2 = axial).
    strict : bool
        Fail when any file cannot be read; by default such files are skipped with a warning
        as long as at least one image loads.
    min_foreground : float
        NIfTI slices with less foreground than this share are skipped.
    progress : bool
        Show a progress bar over files.

    Returns
    -------
    ImageSet
        ``images`` (N, S, S) float32, ``names`` (file stem, plus ``-NNNNN`` for frames or
        slices; sub-folders joined with ``__``), ``groups`` (file / DICOM series), ``meta``.
    """
    if isinstance(policy, dict):
        policy = IntensityPolicy.from_dict(policy)
    policy = policy or IntensityPolicy()
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))
                             or size < 1):
        raise InputError(f"size must be a positive number of pixels, got {size!r}")
    source = Path(source)
    files, root = _find_files(source)
    names = _unique_names(files, root)

    raws: list[tuple[int, RawImage]] = []
    failures: list[tuple[Path, InputError]] = []
    iterator = list(zip(files, names))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="reading", unit="file")
    for index, (path, name) in enumerate(iterator):
        try:
            raws.extend((index, raw) for raw in _read(path, name, axis=axis,
                                                       min_foreground=min_foreground))
        except InputError as exc:
            failures.append((path, exc))

    if failures:
        if len(files) == 1:
            raise failures[0][1]
        details = "; ".join(str(exc) for _, exc in failures[:10])
        if len(failures) > 10:
            details += f"; and {len(failures) - 10} more"
        if not raws:
            raise InputError(f"no readable image in {source}: tried {len(files)} file(s): {details}")
        message = f"{len(failures)} of {len(files)} files could not be read: {details}"
        if strict:
            raise InputError(f"{message}; remove them, or load with strict=False (command line: "
                             "without --strict) to skip them")
        warnings.warn(f"{message}; the rest was loaded", stacklevel=2)

    # Files in path order; single-frame DICOM slices of one series together, in slice order.
    group_rank: dict[str, int] = {}
    for index, raw in raws:
        group_rank.setdefault(raw.group, index)
    raws.sort(key=lambda item: (group_rank[item[1].group], item[1].sort_key, item[0]))

    images = [pad_to_square(policy.apply(raw.array, stored_range=raw.stored_range,
                                         dicom_window=raw.dicom_window, name=raw.name))
              for _, raw in raws]
    shapes = Counter(img.shape for img in images)
    if size is None and len(shapes) > 1:
        listed = ", ".join(f"{h}x{w} ({n})" for (h, w), n in sorted(shapes.items()))
        raise InputError(f"images in {source} have mixed sizes {listed}; pass size=S "
                         "(command line: --size S) to resize them all")
    if size is not None:
        images = [resize_square(img, int(size)) for img in images]
    out_names = [raw.name for _, raw in raws]
    if len(set(out_names)) != len(out_names):
        dup = [n for n, c in Counter(out_names).items() if c > 1][:5]
        raise InputError(f"image names are not unique ({', '.join(dup)}); rename the files")
    meta = {"source": str(source), "policy": policy.to_dict(),
            "size": int(images[0].shape[0]), "axis": axis,
            "formats": dict(Counter(raw.fmt for _, raw in raws)), "n_files": len(files),
            "skipped": [str(exc) for _, exc in failures]}
    return ImageSet(np.stack(images).astype(np.float32, copy=False), out_names, meta,
                    groups=[raw.group for _, raw in raws])
