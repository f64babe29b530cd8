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

import functools
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
    from scipy import ndimage as ndi

    size = image.shape[0]
    px = fov_mm / size
    lo, hi = np.percentile(image, [1, 99])
    span = max(float(hi - lo), 1e-6)
    air, dark = lo + 0.15 * span, lo + 0.30 * span  # air < skull/CSF < brain tissue
    head = ndi.binary_fill_holes(ndi.binary_closing(image > air, iterations=2))
    labels, n = ndi.label(head)
    if n == 0:
        return np.zeros(image.shape, bool)
    head = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    rows, cols = np.nonzero(head)
    cy, cx = rows.mean(), cols.mean()

    step = 0.5  # px along each ray
    t = np.arange(0.0, 0.75 * size, step)
    angles = np.linspace(-np.pi, np.pi, BRAIN_RAYS, endpoint=False)
    ys, xs = cy + np.outer(np.sin(angles), t), cx + np.outer(np.cos(angles), t)
    profiles = ndi.map_coordinates(ndi.gaussian_filter(image, 0.5), [ys, xs], order=1, cval=float(lo))
    in_head = ndi.map_coordinates(head.astype(np.float32), [ys, xs], order=0, cval=0.0) > 0.5
    # Per ray, from the outside in (indices along a ray grow outwards):
    bright = profiles >= dark
    index = np.arange(len(t))
    # the scalp's outer surface: the outermost tissue sample (closing and hole filling may have
    # added dark specks outside it to the head mask);
    tissue = in_head & bright
    outer = np.where(tissue.any(axis=1), len(t) - 1 - np.argmax(tissue[:, ::-1], axis=1), 0)
    # the skull band's outer end: the first dark sample inside it, at most MAX_SCALP_MM in;
    below_outer = index[None, :] <= outer[:, None]
    band_start = np.where(~bright & below_outer, index[None, :], -1).max(axis=1)
    # its inner end: the first tissue sample inside the band (the brain's edge).
    band_end = np.where(bright & (index[None, :] <= band_start[:, None]), index[None, :], 0).max(axis=1)
    band = ((band_start >= 1) & (band_start >= outer - int(MAX_SCALP_MM / px / step))
            & ((band_start - band_end) * step * px >= MIN_DARK_MM))
    edge = np.where(band, np.minimum(t[band_end], t[outer] - MIN_RIM_MM / px),
                    t[outer] - FALLBACK_RIM_MM / px)
    padded = np.concatenate([edge[-3:], edge, edge[:3]])
    edge = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7), axis=1)
    yy, xx = np.mgrid[0:size, 0:size]
    limit = np.interp(np.arctan2(yy - cy, xx - cx), angles, edge, period=2 * np.pi)
    return head & (np.hypot(yy - cy, xx - cx) <= limit - BRAIN_MARGIN_MM / px)


def _phantom_features(image: np.ndarray) -> tuple[list[float], list[float], tuple[int, int]]:
    """Hand-made features of one slice: (lesion features, ventricle features, brightest spot).

    Lesions in the phantom are small blobs brighter than white matter inside the brain;
    enlarged ventricles are a large dark (CSF) area near the centre of the head. Both are
    looked for inside ``brain_mask`` only: a bright spot on the scalp or skull is no lesion.
    """
    from scipy import ndimage as ndi

    s = image.shape[0]
    px = FOV_MM / s
    head = ndi.binary_fill_holes(ndi.binary_closing(image > -0.7, iterations=2))
    inner = brain_mask(image)
    if head.sum() < 4 or inner.sum() < 4:
        return [-1.0, 0.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0], (s // 2, s // 2)
    # Outside the brain the image is replaced by the brain's median before filtering, so the
    # bright scalp cannot bleed into the brain's edge and pose as a lesion there.
    brain_only = np.where(inner, image, np.float32(np.median(image[inner])))
    smooth = ndi.gaussian_filter(brain_only, 0.75)
    score = np.where(inner, smooth, -np.inf)
    r, c = divmod(int(np.argmax(score)), s)
    white = float(np.percentile(image[inner], 90))
    log = -ndi.gaussian_laplace(brain_only, sigma=max(0.75, 5.6 / px))
    lesion = [float(score[r, c]), float(score[r, c]) - white, float(log[r, c]), float(image[r, c])]

    rows, cols = np.nonzero(head)
    cy, cx = rows.mean(), cols.mean()
    radius = np.hypot(rows - cy, cols - cx).max()
    yy, xx = np.mgrid[0:s, 0:s]
    central = inner & (np.hypot(yy - cy, xx - cx) < 0.45 * radius)
    dark = (image < -0.45) & central
    labels, n = ndi.label(dark)
    biggest = np.bincount(labels.ravel())[1:].max() if n else 0
    area = max(1, int(central.sum()))
    vent = [dark.sum() / area, biggest / area, inner.sum() / head.sum(), head.sum() / (s * s)]
    return lesion, vent, (r, c)


def _features(images: np.ndarray):
    lesion, vent, spots = zip(*(_phantom_features(img) for img in images))
    return np.array(lesion), np.array(vent), np.array(spots)


@functools.lru_cache(maxsize=4)
def _fit_phantom(size: int, n: int, seed: int):
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
