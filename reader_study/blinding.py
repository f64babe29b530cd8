"""Blinding checks of a reading study: real and fake images must reach readers the same way.

Two checks run when a study is created (``ganaudit.reader_study.create.create_study``):

1. **Same native format** (``folder_profile`` / ``check_same_format``). Real and fake folders
   must hold images of the same native size, bit depth and value range. Any difference means
   the two sets would go through different preprocessing (one resampled, the other not; one
   quantised to 8 bits, the other not), and readers learn that difference instead of anatomy:
   with real 64² and fake 128² images, the resampled fakes are smoother and one sharpness
   statistic alone separates them.
2. **Low-level cues** (``cue_features`` / ``cue_check``), measured on the images exactly as
   readers will see them. For each cue (file size, sharpness, noise level, histogram
   statistics) and for all together, a logistic regression is cross-validated (stratified
   k-fold) and its out-of-fold scores give a real-vs-fake AUC. 0.5 means the cue says nothing;
   a study whose cues alone reach ``CUE_WARN_AUC`` (with a one-sided Mann-Whitney p below
   ``CUE_WARN_P``) gets a warning naming the strongest cue. Higher AUC = worse blinding.

The result goes to ``STUDY/key/blinding.json`` (mode 0600, next to the key, since it is read
with the analysis; it holds no per-case information).

References
----------
Immerkær, J. (1996). Fast noise variance estimation. Computer Vision and Image Understanding
64(2), 300-302. (The noise-level cue.)
Pech-Pacheco, J. L. et al. (2000). Diatom autofocusing in brightfield microscopy: a comparative
study. ICPR 2000. (Variance of the Laplacian as a sharpness measure.)
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganaudit.gan_models.data.loader import image_kind
from ganaudit.gan_models.errors import InputError

CUE_WARN_AUC = 0.7
CUE_WARN_P = 0.05
BLINDING_FILE = "blinding.json"  # inside STUDY/key/

# Cue columns and the family each belongs to (the name a warning gives).
CUES = {
    "file_size": "file size",
    "sharpness": "sharpness",
    "noise": "noise level",
    "hist_mean": "histogram mean",
    "hist_std": "histogram spread",
    "hist_skew": "histogram skewness",
    "hist_kurtosis": "histogram kurtosis",
    "hist_entropy": "histogram entropy",
    "clipped": "clipped pixels",
}


class BlindingWarning(UserWarning):
    """Low-level image statistics alone separate the study's real and fake images."""


# --- native format ------------------------------------------------------------------------
@dataclass
class FolderProfile:
    """Native size(s), bit depth(s) and value range of one folder's images, before any
    preprocessing."""

    folder: str
    sizes: Counter = field(default_factory=Counter)   # (h, w) -> number of images
    depths: Counter = field(default_factory=Counter)  # "16-bit integer", "float32", ...
    low: float = float("inf")
    high: float = float("-inf")

    def describe(self) -> str:
        parts = [" or ".join(f"{h}x{w}" for (h, w) in sorted(self.sizes)) or "no readable image"]
        if self.depths:
            parts.append(" or ".join(sorted(self.depths)))
        if np.isfinite(self.low) and np.isfinite(self.high):
            parts.append(f"values {_num(self.low)}..{_num(self.high)}")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        finite = bool(np.isfinite(self.low) and np.isfinite(self.high))
        return {"folder": self.folder, "sizes": [f"{h}x{w}" for (h, w) in sorted(self.sizes)],
                "depths": sorted(self.depths), "value_range": [self.low, self.high] if finite else None}


def _num(value: float) -> str:
    return f"{value:.6g}"


def _png_depth(path: Path) -> str | None:
    # The PNG header (IHDR) holds the bit depth at byte 24; Pillow's mode does not say it
    # reliably (a 16-bit PNG opens as "I" in some versions).
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return f"{head[24]}-bit integer"


_PIL_DEPTHS = {"1": "1-bit integer", "L": "8-bit integer", "P": "8-bit integer", "LA": "8-bit integer",
               "RGB": "8-bit integer", "RGBA": "8-bit integer", "I": "32-bit integer", "F": "float32"}


def _depth(path: Path, kind: str) -> str:
    if kind == "raster":
        if path.suffix.lower() == ".png":
            depth = _png_depth(path)
            if depth:
                return depth
        from PIL import Image

        with Image.open(path) as im:
            mode = im.mode
        return "16-bit integer" if mode.startswith("I;16") else _PIL_DEPTHS.get(mode, mode)
    if kind == "npy":
        return str(np.load(path, mmap_mode="r", allow_pickle=False).dtype)
    if kind == "dicom":
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        bits = getattr(ds, "BitsStored", None)
        return f"{int(bits)}-bit integer" if bits else "DICOM"
    import nibabel as nib

    return str(nib.load(path).get_data_dtype())


def _raw_images(path: Path, kind: str):
    from ganaudit.gan_models.data.folders import read_npy, read_raster

    if kind == "raster":
        return read_raster(path, path.stem, path.stem)
    if kind == "npy":
        return read_npy(path, path.stem, path.stem)
    if kind == "dicom":
        from ganaudit.gan_models.data.dicom import read_dicom

        return read_dicom(path, path.stem, path.stem)
    from ganaudit.gan_models.data.nifti import read_nifti

    return read_nifti(path, path.stem, path.stem)


def folder_profile(folder) -> FolderProfile:
    """Native sizes, bit depths and value range of the images in ``folder`` (recursively).

    Unreadable files are skipped here; ``load_images`` reports them.
    """
    root = Path(folder)
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and p.name != "DICOMDIR"
        and not any(part.startswith(".") for part in p.relative_to(root).parts))
    profile = FolderProfile(folder=str(folder))
    for path in files:
        kind = image_kind(path)
        if kind is None:
            continue
        try:
            raws = _raw_images(path, kind)
            depth = _depth(path, kind)
        except (InputError, OSError, ValueError):
            continue
        for raw in raws:
            profile.sizes[tuple(int(n) for n in raw.array.shape)] += 1
            profile.depths[depth] += 1
            if raw.stored_range is not None:
                lo, hi = raw.stored_range
            else:
                finite = raw.array[np.isfinite(raw.array)]
                if not finite.size:
                    continue
                lo, hi = float(finite.min()), float(finite.max())
            profile.low, profile.high = min(profile.low, lo), max(profile.high, hi)
    return profile


def _ranges_differ(a: FolderProfile, b: FolderProfile) -> bool:
    """Value ranges that overlap on less than half of their union (0..255 against 0..65535,
    -1..1 against 0..255); the natural spread between two image sets stays well above that."""
    union = max(a.high, b.high) - min(a.low, b.low)
    if not np.isfinite(union) or union <= 0:
        return False
    overlap = max(0.0, min(a.high, b.high) - max(a.low, b.low))
    return overlap / union < 0.5


def format_differences(real: FolderProfile, fake: FolderProfile) -> list[str]:
    """What differs between two folders' native formats: "size", "bit depth", "value range"."""
    out = []
    if set(real.sizes) != set(fake.sizes):
        out.append("size")
    if real.depths and fake.depths and set(real.depths) != set(fake.depths):
        out.append("bit depth")
    if _ranges_differ(real, fake):
        out.append("value range")
    return out


def check_same_format(real: FolderProfile, fakes: list[tuple[str, FolderProfile]]) -> None:
    """Refuse fake folders whose native size, bit depth or value range differ from the reals'."""
    for label, fake in fakes:
        differ = format_differences(real, fake)
        if differ:
            raise InputError(
                f"real and fake images differ in native {' and '.join(differ)}: real {real.folder} has "
                f"{real.describe()}; fake {fake.folder} ({label}) has {fake.describe()}. Readers would see "
                "the difference in preprocessing instead of the anatomy. Generate the fakes at the real "
                "images' size, bit depth and value range (e.g. write both with the same writer), or pass "
                "--resample-both to put every image, real and fake, through the same resampler from a "
                "common size (the cue check then says whether a cue is left)")


# --- low-level cues -----------------------------------------------------------------------
def _noise_sigma(image: np.ndarray) -> float:
    """Immerkær (1996): sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|."""
    from scipy.signal import convolve2d

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    h, w = image.shape
    if h < 3 or w < 3:
        return 0.0
    response = convolve2d(image, kernel, mode="valid")
    return float(np.sqrt(np.pi / 2) * np.abs(response).sum() / (6.0 * (w - 2) * (h - 2)))


def cue_features(images_u8: np.ndarray) -> np.ndarray:
    """One row of ``CUES`` per 8-bit image (as shown to readers).

    ``file_size`` is the image's size compressed with zlib at PNG's default level: the study's
    own PNGs are stored uncompressed (all the same size), but the compressed size is what a file
    size would betray in any other pipeline, and it tracks how much detail and noise an image
    has.
    """
    from scipy import ndimage, stats

    images_u8 = np.asarray(images_u8, dtype=np.uint8)
    rows = []
    for u8 in images_u8:
        img = u8.astype(np.float64)
        flat = img.ravel()
        hist = np.bincount(u8.ravel(), minlength=256) / u8.size
        nz = hist[hist > 0]
        std = flat.std()
        rows.append([
            float(len(zlib.compress(u8.tobytes(), 6))),
            float(ndimage.laplace(img).var()),
            _noise_sigma(img),
            float(flat.mean()),
            float(std),
            float(stats.skew(flat)) if std > 0 else 0.0,
            float(stats.kurtosis(flat)) if std > 0 else 0.0,
            float(-(nz * np.log2(nz)).sum()),
            float(np.mean((u8 == 0) | (u8 == 255))),
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(images_u8), len(CUES))


def _cv_auc(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """Out-of-fold AUC of a standardised logistic regression (stratified k-fold)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if np.all(np.ptp(x, axis=0) == 0):
        return 0.5  # a constant cue says nothing
    folds = int(min(5, np.bincount(y).min()))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, scores))


def cue_check(features: np.ndarray, is_fake: np.ndarray, *, name: str = "all fakes",
              seed: int = 0) -> dict:
    """Cross-validated AUC of real vs fake from the cues, each alone and all together.

    Returns a dict with ``auc`` (all cues), ``p_value``, ``cues`` ({cue: AUC}),
    ``strongest_cue``, ``warn`` and ``message`` (the warning text, or "").
    """
    y = np.asarray(is_fake, dtype=int)
    n_fake, n_real = int(y.sum()), int((1 - y).sum())
    out = {"comparison": name, "n_real": n_real, "n_fake": n_fake}
    if min(n_fake, n_real) < 2:
        out.update(auc=None, p_value=None, cues={}, strongest_cue=None, warn=False,
                   message=f"too few images to check cues ({n_real} real, {n_fake} fake)")
        return out
    x = np.asarray(features, dtype=np.float64)
    cues = {cue: _cv_auc(x[:, [j]], y, seed) for j, cue in enumerate(CUES)}
    if np.all(np.ptp(x, axis=0) == 0):
        auc, p = 0.5, 1.0  # constant cues say nothing
    else:
        # The machine reader's feature test (ganaudit.evaluation.detectability): cross-fitted logistic
        # regression, AUC with a variance that allows for the folds' correlated scores (a plain
        # Mann-Whitney p on cross-fitted scores gives too many false alarms).
        from ganaudit.evaluation.detectability import feature_detectability

        test = feature_detectability(x[y == 0], x[y == 1], folds=int(min(5, n_fake, n_real)),
                                     seed=seed)
        auc, p = float(test.summary["auc"]), float(test.summary["p_value"])
    strongest = max(cues, key=lambda c: cues[c])
    warn = auc >= CUE_WARN_AUC and p < CUE_WARN_P
    message = ""
    if warn:
        message = (f"low-level image statistics alone tell real from fake ({name}): cross-validated "
                   f"AUC {auc:.2f} (p = {p:.2g}, {n_real} real, {n_fake} fake); the strongest cue is "
                   f"{CUES[strongest]} (AUC {cues[strongest]:.2f} alone). Readers may learn this cue "
                   "instead of the anatomy: match the fakes' preprocessing to the reals' (size, "
                   "intensity scaling, smoothing) before reading")
    out.update(auc=auc, p_value=p, cues=cues, strongest_cue=strongest, warn=warn, message=message)
    return out


def load_blinding(study_dir) -> dict | None:
    """The blinding figures of a study (``STUDY/key/blinding.json``), or None for a study
    created before the check existed. Keys: ``native``, ``resample_both``, ``comparisons``
    (one per "all fakes" and per checkpoint: ``auc``, ``p_value``, ``cues``, ``strongest_cue``,
    ``warn``, ``message``), ``warnings``."""
    import json

    path = Path(study_dir) / "key" / BLINDING_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is damaged ({exc}); create the study again to redo the blinding check") from exc
    missing = {"native", "comparisons", "warnings"} - set(data)
    if missing:
        raise InputError(f"{path} lacks {sorted(missing)}; create the study again to redo the blinding check")
    return data
