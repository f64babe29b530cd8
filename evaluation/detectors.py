"""Finding detectors for the hallucinated-findings audit.

A detector is a callable: images (N, S, S) in [-1, 1] → pandas DataFrame with one row per
image, one 0/1 column per finding and optional location columns (text columns such as
``lesion_side`` take part in the "impossible combination" check; numeric ones such as
``lesion_x`` are only reported). ``Detector`` objects also name their columns.

Specs accepted by ``get_detector``:

- ``builtin:phantom`` (default): rule features + logistic regression, fitted on a labelled
  phantom population (``ganaudit.gan_models.phantom``, fixed seed) at the images' size.
- ``keras:PATH.keras``: a Keras classifier with one sigmoid output per finding; names from
  ``findings=`` or a sidecar JSON next to the model (``PATH.json`` or ``PATH.keras.json``
  holding ``{"findings": [...]}``); an output ≥ 0.5 counts as present.
- ``module:function``: ``function(images) -> DataFrame`` imported from ``module``.

Accuracy of the built-in detector on held-out labelled slices: ``evaluate_detector`` (numbers
in docs/audits.md); higher is better.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.phantom import FOV_MM
from ganaudit.gan_models.specs import load_object

SPEC_FORMS = "builtin:phantom, keras:PATH.keras, or module:function"
CALIBRATION_SEED = 20_240_601
CALIBRATION_N = 600


class Detector:
    """A named finding detector.

    Attributes
    ----------
    name : the spec it was built from.
    findings : 0/1 finding columns.
    categories : text location columns that join the impossible-combination check.
    """

    def __init__(self, name: str, function: Callable[[np.ndarray], pd.DataFrame], *,
                 findings: list[str] | None = None, categories: list[str] | None = None):
        self.name = name
        self._function = function
        self.findings = list(findings) if findings is not None else None
        self.categories = list(categories) if categories is not None else None

    def __call__(self, images: np.ndarray) -> pd.DataFrame:
        images = np.asarray(images, dtype=np.float32)
        out = self._function(images)
        if not isinstance(out, pd.DataFrame):
            try:
                out = pd.DataFrame(out)
            except Exception as exc:
                raise InputError(f"detector {self.name} returned {type(out).__name__}, not a table; "
                                 "return a pandas DataFrame with one row per image") from exc
            # An array has numbered columns; findings are named everywhere downstream.
            out.columns = [f"finding_{c}" if isinstance(c, (int, np.integer)) else str(c) for c in out.columns]
        out = out.reset_index(drop=True)
        if len(out) != len(images):
            raise InputError(f"detector {self.name} returned {len(out)} rows for {len(images)} images; "
                             "return one row per image")
        if self.findings is None:
            self.findings = [c for c in out.columns if _is_binary(out[c])]
        if self.categories is None:
            self.categories = [c for c in out.columns
                               if c not in self.findings and not pd.api.types.is_numeric_dtype(out[c])]
        if not self.findings:
            raise InputError(f"detector {self.name} returned no 0/1 finding columns "
                             f"(columns: {list(out.columns)}); give each finding a 0/1 column")
        missing = [c for c in self.findings + self.categories if c not in out.columns]
        if missing:
            raise InputError(f"detector {self.name} did not return columns {missing}")
        for c in self.findings:
            if not _is_binary(out[c]):
                raise InputError(f"detector {self.name}: finding column {c!r} must hold only 0/1")
            out[c] = out[c].astype(int)
        for c in self.categories:
            out[c] = out[c].fillna("").astype(str)
        return out

    def __repr__(self) -> str:
        return f"Detector({self.name!r}, findings={self.findings}, categories={self.categories})"


def _is_binary(column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column):
        return True
    if not pd.api.types.is_numeric_dtype(column):
        return False
    values = column.dropna().unique()
    return len(column.dropna()) == len(column) and set(np.asarray(values, dtype=float)) <= {0.0, 1.0}


# ----------------------------------------------------------------------------- phantom
BRAIN_RAYS = 96  # rays cast from the head's centre to find the brain's edge
MIN_DARK_MM = 4.0  # a skull (+ CSF) band must be at least this thick to count as one
MAX_SCALP_MM = 30.0  # a scalp looks thicker than this only where no skull is seen (e.g. cut obliquely at the vertex, up to ~25 mm)
MIN_RIM_MM = 10.0  # thinnest scalp + skull of the phantom (skin 1.5 + fat 4 + bone 5 mm)
FALLBACK_RIM_MM = 20.0  # rim left out where no skull band is seen (scalp + skull ≤ ~18 mm)
BRAIN_MARGIN_MM = 3.0  # lesions lie in white matter, ≥ 6 mm inside the brain surface


def brain_mask(image: np.ndarray, *, fov_mm: float = FOV_MM) -> np.ndarray:
    """Brain (inside the skull) of one axial head slice, found from the image alone.

    The generated images have no labels, so the mask is read off the image: rays cast from
    the head's centre cross, from the outside in, air, the bright scalp (fat), the dark skull
    (with the CSF under it) and then the brain. On each ray the brain starts where the first
    dark band at least ``MIN_DARK_MM`` thick ends; a ray without such a band within
    ``MAX_SCALP_MM`` of the head's edge leaves a ``FALLBACK_RIM_MM`` rim out. The edge is
    median-smoothed over neighbouring rays (a bright blob on the scalp hides the skull on one
    or two rays) and pulled ``BRAIN_MARGIN_MM`` inwards. Scalp, skull and air are never in
    the mask, so nothing there can be called a lesion.

    Parameters
    ----------
    image : (S, S) slice in [-1, 1] (air dark, fat bright: T1 weighting).
    fov_mm : field of view, for the pixel size.

    Returns
    -------
    (S, S) bool mask, empty when no head is found.
    """
    return brain_masks(np.asarray(image)[None], fov_mm=fov_mm)[0]


def _slices():
    """Structuring element of the 2D operations applied to a stack (N, S, S) at once: the
    default 4-connectivity within each image, nothing across images."""
    from scipy import ndimage as ndi

    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndi.generate_binary_structure(2, 1)
    return structure


def _closed_filled(masks: np.ndarray) -> np.ndarray:
    """Each mask closed (two steps) and its holes filled, as one 2D operation per image."""
    from scipy import ndimage as ndi

    return ndi.binary_fill_holes(ndi.binary_closing(masks, structure=_slices(), iterations=2),
                                 structure=_slices())


def _components(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Connected components of every image of a stack: labels (N, S, S), the image of each
    label and each label's size (index 0: background)."""
    from scipy import ndimage as ndi

    labels, n = ndi.label(masks, structure=_slices())
    size = np.bincount(labels.ravel(), minlength=n + 1)
    owner = np.zeros(n + 1, np.int64)
    owner[labels.ravel()] = np.repeat(np.arange(len(masks)), masks[0].size)
    return labels, owner, size


def _largest_component(masks: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of each mask (the first in raster order on a tie;
    empty masks stay empty)."""
    labels, owner, size = _components(masks)
    n = len(size) - 1
    best_size = np.zeros(len(masks), np.int64)
    np.maximum.at(best_size, owner[1:], size[1:])
    label = np.arange(1, n + 1)
    largest = label[size[1:] == best_size[owner[1:]]]
    images, first = np.unique(owner[largest], return_index=True)
    best = np.zeros(len(masks), np.int64)  # 0: no component (the background label)
    best[images] = largest[first]
    return (labels == best[:, None, None]) & (best > 0)[:, None, None]


def _centroids(masks: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel count, mean row and mean column of each mask (NaN-free: 0 for empty masks)."""
    yy, xx = grid
    count = masks.sum(axis=(1, 2))
    safe = np.maximum(count, 1)
    return count, (masks * yy).sum(axis=(1, 2)) / safe, (masks * xx).sum(axis=(1, 2)) / safe


def brain_masks(images: np.ndarray, *, fov_mm: float = FOV_MM) -> np.ndarray:
    """:func:`brain_mask` of every slice of a stack (N, S, S), computed for all at once."""
    from scipy import ndimage as ndi

    images = np.asarray(images)
    count, size = len(images), images.shape[1]
    px = fov_mm / size
    lo, hi = np.percentile(images, [1, 99], axis=(1, 2))
    span = np.maximum(hi - lo, 1e-6)
    air, dark = lo + 0.15 * span, lo + 0.30 * span  # air < skull/CSF < brain tissue
    head = _largest_component(_closed_filled(images > air[:, None, None]))
    grid = np.mgrid[0:size, 0:size]
    found, cy, cx = _centroids(head, grid)

    step = 0.5  # px along each ray
    t = np.arange(0.0, 0.75 * size, step)
    angles = np.linspace(-np.pi, np.pi, BRAIN_RAYS, endpoint=False)
    ys = cy[:, None, None] + np.outer(np.sin(angles), t)[None]
    xs = cx[:, None, None] + np.outer(np.cos(angles), t)[None]
    # The stack is sampled as one tall image (slice i's rows start at i·S): 2D interpolation
    # reads 4 pixels per sample where a 3D one would read 8. Samples outside a slice read its
    # own 1st percentile, as map_coordinates(..., cval=lo) does for one slice.
    inside = (ys >= 0) & (ys <= size - 1) & (xs >= 0) & (xs <= size - 1)
    rows = np.where(inside, ys + (size * np.arange(count))[:, None, None], 0.0)
    cols = np.where(inside, xs, 0.0)
    smooth = ndi.gaussian_filter(images, (0, 0.5, 0.5)).reshape(count * size, size)
    profiles = ndi.map_coordinates(smooth, [rows, cols], order=1, cval=0.0)
    profiles = np.where(inside, profiles, lo.astype(smooth.dtype)[:, None, None])
    # Nearest pixel (order-0 interpolation: the pixel at floor(coordinate + 0.5)).
    nearest = (np.floor(rows + 0.5).astype(np.intp) * size + np.floor(cols + 0.5).astype(np.intp))
    in_head = inside & head.reshape(-1)[nearest]
    # Per ray, from the outside in (indices along a ray grow outwards):
    bright = profiles >= dark[:, None, None]
    index = np.arange(len(t))
    # the scalp's outer surface: the outermost tissue sample (closing and hole filling may have
    # added dark specks outside it to the head mask);
    tissue = in_head & bright
    outer = np.where(tissue.any(axis=2), len(t) - 1 - np.argmax(tissue[:, :, ::-1], axis=2), 0)
    # the skull band's outer end: the first dark sample inside it, at most MAX_SCALP_MM in;
    below_outer = index <= outer[:, :, None]
    band_start = np.where(~bright & below_outer, index, -1).max(axis=2)
    # its inner end: the first tissue sample inside the band (the brain's edge).
    band_end = np.where(bright & (index <= band_start[:, :, None]), index, 0).max(axis=2)
    band = ((band_start >= 1) & (band_start >= outer - int(MAX_SCALP_MM / px / step))
            & ((band_start - band_end) * step * px >= MIN_DARK_MM))
    edge = np.where(band, np.minimum(t[band_end], t[outer] - MIN_RIM_MM / px),
                    t[outer] - FALLBACK_RIM_MM / px)
    padded = np.concatenate([edge[:, -3:], edge, edge[:, :3]], axis=1)
    edge = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7, axis=1), axis=2)
    yy, xx = grid
    dy, dx = yy - cy[:, None, None], xx - cx[:, None, None]
    direction = np.arctan2(dy, dx)
    limit = np.stack([np.interp(direction[i], angles, edge[i], period=2 * np.pi) for i in range(count)])
    return head & (np.hypot(dy, dx) <= limit - BRAIN_MARGIN_MM / px) & (found > 0)[:, None, None]


_DETECT_CHUNK = 256  # images per vectorized pass (memory: ~0.2 MB per 64² image)


def _features(images: np.ndarray):
    """Hand-made features of every slice: (lesion features (N, 4), ventricle features (N, 4),
    brightest spot (N, 2) as row, column).

    Lesions in the phantom are small blobs brighter than white matter inside the brain;
    enlarged ventricles are a large dark (CSF) area near the centre of the head. Both are
    looked for inside ``brain_mask`` only: a bright spot on the scalp or skull is no lesion.
    Slices are processed in stacks (the 2D image operations run on all at once).
    """
    parts = [_stack_features(images[i:i + _DETECT_CHUNK]) for i in range(0, len(images), _DETECT_CHUNK)]
    if not parts:
        return np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 2), np.int64)
    return tuple(np.concatenate(p) for p in zip(*parts))


def _stack_features(images: np.ndarray):
    from scipy import ndimage as ndi

    count, s = len(images), images.shape[1]
    px = FOV_MM / s
    lesion = np.tile([-1.0, 0.0, 0.0, -1.0], (count, 1))
    vent = np.zeros((count, 4))
    spots = np.full((count, 2), s // 2, np.int64)
    head = _closed_filled(images > -0.7)
    inner = brain_masks(images)
    head_n, inner_n = head.sum(axis=(1, 2)), inner.sum(axis=(1, 2))
    ok = np.flatnonzero((head_n >= 4) & (inner_n >= 4))
    if not ok.size:
        return lesion, vent, spots
    images, head, inner, head_n, inner_n = images[ok], head[ok], inner[ok], head_n[ok], inner_n[ok]
    # The brain's pixel values sorted, for its median and 90th percentile.
    inside = np.sort(np.where(inner, images, np.inf).reshape(len(ok), -1), axis=1)
    median = np.array([np.median(row[:n]) for row, n in zip(inside, inner_n)], dtype=np.float32)
    white = np.array([np.percentile(row[:n], 90) for row, n in zip(inside, inner_n)], dtype=np.float64)
    # Outside the brain the image is replaced by the brain's median before filtering, so the
    # bright scalp cannot bleed into the brain's edge and pose as a lesion there.
    brain_only = np.where(inner, images, median[:, None, None])
    smooth = ndi.gaussian_filter(brain_only, (0, 0.75, 0.75))
    score = np.where(inner, smooth, -np.inf).reshape(len(ok), -1)
    flat = np.argmax(score, axis=1)
    r, c = np.divmod(flat, s)
    # -∇²G: the two second derivatives of each image (scipy's gaussian_laplace on a stack
    # would add a smoothed copy for the stack axis).
    sigma = (0, max(0.75, 5.6 / px), max(0.75, 5.6 / px))
    log = ndi.gaussian_filter(brain_only, sigma, order=(0, 2, 0))
    log += ndi.gaussian_filter(brain_only, sigma, order=(0, 0, 2))
    at = np.arange(len(ok))
    peak = score[at, flat].astype(np.float64)
    lesion[ok] = np.stack([peak, peak - white, -log[at, r, c].astype(np.float64),
                           images[at, r, c].astype(np.float64)], axis=1)
    spots[ok] = np.stack([r, c], axis=1)

    yy, xx = np.mgrid[0:s, 0:s]
    _, cy, cx = _centroids(head, (yy, xx))
    distance = np.hypot(yy - cy[:, None, None], xx - cx[:, None, None])
    radius = np.where(head, distance, -np.inf).max(axis=(1, 2))
    central = inner & (distance < 0.45 * radius[:, None, None])
    dark = (images < -0.45) & central
    _, owner, size = _components(dark)
    biggest = np.zeros(len(ok), np.int64)
    np.maximum.at(biggest, owner[1:], size[1:])
    area = np.maximum(1, central.sum(axis=(1, 2)))
    vent[ok] = np.stack([dark.sum(axis=(1, 2)) / area, biggest / area, inner_n / head_n,
                         head_n / (s * s)], axis=1)
    return lesion, vent, spots


_CALIBRATED: dict = {}  # (size, n, seed) → fitted models; the last few sizes


def _fit_phantom(size: int, n: int, seed: int):
    """The detector's two logistic regressions for one image size (fitted once per process, or
    handed over with :func:`restore_calibration`)."""
    key = (size, n, seed)
    if key not in _CALIBRATED:
        while len(_CALIBRATED) >= 4:
            _CALIBRATED.pop(next(iter(_CALIBRATED)))
        _CALIBRATED[key] = _calibrate(size, n, seed)
    return _CALIBRATED[key]


def calibration_state() -> dict:
    """The fitted phantom detectors of this process, to hand to another (scoring workers)."""
    return dict(_CALIBRATED)


def restore_calibration(state: dict) -> None:
    """Use detectors fitted in another process (from :func:`calibration_state`)."""
    _CALIBRATED.update(state)


def _calibrate(size: int, n: int, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ganaudit.gan_models.phantom import make_population

    images, labels = make_population(n, size, seed=seed)
    # Fit on the phantom's own intensity scale and on the 0.5–99.5 percentile rescale that
    # image folders get when loaded (ganaudit.gan_models.data), so both inputs are read alike.
    lo, hi = np.percentile(images, [0.5, 99.5], axis=(1, 2), keepdims=True)
    rescaled = np.clip((images - lo) / np.maximum(hi - lo, 1e-6), 0, 1) * 2 - 1
    lesion, vent, _ = _features(np.concatenate([images, rescaled.astype(np.float32)]))
    models = {}
    for name, x in (("lesion", lesion), ("enlarged_ventricles", vent)):
        y = np.tile(labels[name].to_numpy().astype(int), 2)
        if len(np.unique(y)) < 2:
            raise InputError(f"phantom calibration set has no variation in {name}; raise its size")
        models[name] = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    return models


def phantom_detector(*, calibration_n: int = CALIBRATION_N, seed: int = CALIBRATION_SEED) -> Detector:
    """Built-in detector of the phantom population's findings.

    ``lesion`` (0/1) with ``lesion_side`` ("left"/"right", patient side in radiological
    orientation: image right = patient left; empty without lesion), ``lesion_x`` (column),
    ``lesion_y`` (row); ``enlarged_ventricles`` (0/1). Two logistic regressions on
    hand-made features, fitted on ``calibration_n`` labelled phantom slices (fixed ``seed``)
    of the images' size the first time that size is seen.
    """

    def detect(images: np.ndarray) -> pd.DataFrame:
        if images.ndim != 3 or images.shape[1] != images.shape[2]:
            raise InputError(f"the phantom detector needs square images (N, S, S), got {images.shape}")
        size = images.shape[1]
        if not 16 <= size <= 512:
            raise InputError(f"the phantom detector works on 16 to 512 px images, got {size}")
        models = _fit_phantom(size, calibration_n, seed)
        lesion, vent, spots = _features(images)
        has_lesion = models["lesion"].predict(lesion).astype(int)
        enlarged = models["enlarged_ventricles"].predict(vent).astype(int)
        side = np.where(spots[:, 1] > (size - 1) / 2.0, "left", "right")
        return pd.DataFrame({
            "lesion": has_lesion,
            "lesion_side": np.where(has_lesion == 1, side, ""),
            "lesion_x": np.where(has_lesion == 1, spots[:, 1], np.nan),
            "lesion_y": np.where(has_lesion == 1, spots[:, 0], np.nan),
            "enlarged_ventricles": enlarged,
        })

    return Detector("builtin:phantom", detect, findings=["lesion", "enlarged_ventricles"],
                    categories=["lesion_side"])


# ----------------------------------------------------------------------------- others
def keras_detector(path, *, findings: list[str] | None = None, threshold: float = 0.5) -> Detector:
    """Detector from a Keras classifier file with one sigmoid output per finding."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"detector model {path} does not exist; give keras:PATH to a .keras file")
    if findings is None:
        for sidecar in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
            if sidecar.is_file():
                try:
                    findings = list(json.loads(sidecar.read_text())["findings"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(f"{sidecar} must hold {{\"findings\": [names...]}}") from exc
                break
    if not findings:
        raise InputError(f"finding names for {path} are unknown; pass --findings a,b or write "
                         f"{path.with_suffix('.json')} with {{\"findings\": [...]}}")
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise InputError(f"cannot load Keras model {path}: {exc}") from exc

    def detect(images: np.ndarray) -> pd.DataFrame:
        expected = tuple(model.input_shape[1:3])
        if None not in expected and expected != images.shape[1:3]:
            raise InputError(f"model {path.name} expects {expected[0]}x{expected[1]} images, got "
                             f"{images.shape[1]}x{images.shape[2]}; resize the images (--size)")
        probs = np.asarray(model.predict(images[..., None], verbose=0, batch_size=64))
        probs = probs.reshape(len(images), -1)
        if probs.shape[1] != len(findings):
            raise InputError(f"model {path.name} has {probs.shape[1]} outputs but {len(findings)} "
                             f"finding names ({findings}); give one name per output")
        return pd.DataFrame((probs >= threshold).astype(int), columns=findings)

    return Detector(f"keras:{path}", detect, findings=findings, categories=[])


def function_detector(spec: str) -> Detector:
    """Detector from ``module:function`` (the function maps images to a DataFrame)."""
    if not spec.partition(":")[0] or not spec.partition(":")[2]:
        raise InputError(f"detector spec {spec!r} is not module:function; use {SPEC_FORMS}")
    function = load_object(spec, what="detector")
    if not callable(function):
        raise InputError(f"{spec!r} is not a function; point module:function at images -> DataFrame")
    return Detector(spec, function)


def get_detector(spec: str | None = None, *, findings: list[str] | None = None) -> Detector:
    """Build a detector from a spec string (see the module docstring for the forms)."""
    if spec is None or spec == "":
        spec = "builtin:phantom"
    if not isinstance(spec, str):
        raise InputError(f"detector spec must be a string ({SPEC_FORMS}), got {type(spec).__name__}")
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        if name != "phantom":
            raise InputError(f"unknown built-in detector {name!r}; known: phantom")
        return phantom_detector()
    if spec.startswith("keras:"):
        return keras_detector(spec.split(":", 1)[1], findings=findings)
    if ":" in spec:
        return function_detector(spec)
    raise InputError(f"detector spec {spec!r} not understood; use {SPEC_FORMS}")


def evaluate_detector(detector: Callable, images: np.ndarray, labels: pd.DataFrame) -> pd.DataFrame:
    """Accuracy of a detector against true labels (higher is better).

    Returns one row per finding column found in both (``accuracy``, ``sensitivity``,
    ``specificity``, ``n``) and per text location column (``accuracy`` on the images where
    both the labels and the detector give a value, e.g. lesion side of detected lesions).
    """
    predicted = detector(images)
    labels = labels.reset_index(drop=True)
    rows = []
    findings = getattr(detector, "findings", None) or [c for c in predicted.columns if _is_binary(predicted[c])]
    for c in findings:
        if c not in labels.columns:
            continue
        truth = labels[c].to_numpy().astype(int)
        pred = predicted[c].to_numpy().astype(int)
        rows.append({"column": c, "n": len(truth), "accuracy": float(np.mean(truth == pred)),
                     "sensitivity": float(np.mean(pred[truth == 1])) if (truth == 1).any() else np.nan,
                     "specificity": float(np.mean(1 - pred[truth == 0])) if (truth == 0).any() else np.nan})
    for c in getattr(detector, "categories", None) or []:
        if c not in labels.columns:
            continue
        truth = labels[c].fillna("").astype(str).to_numpy()
        pred = predicted[c].fillna("").astype(str).to_numpy()
        both = (truth != "") & (pred != "")
        rows.append({"column": c, "n": int(both.sum()),
                     "accuracy": float(np.mean(truth[both] == pred[both])) if both.any() else np.nan,
                     "sensitivity": np.nan, "specificity": np.nan})
    return pd.DataFrame(rows, columns=["column", "n", "accuracy", "sensitivity", "specificity"])
