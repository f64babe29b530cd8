"""Feature extractors: a checked registry, batched extraction with a cache, reference z-scoring.

An extractor is a callable taking images as float32 (N, H, W) in [-1, 1] and returning float64
features (N, D); it has a ``name`` and a JSON-able ``settings`` dict (part of the cache key).

Built in:

- ``radiomics`` (default, no downloads): Fréchet Radiomics Distance style features
  (:mod:`ganaudit.evaluation.features.radiomics`);
- ``pixels``: area-averaged downsampled intensities (:mod:`ganaudit.evaluation.features.pixels`);
- ``inception``: Inception-v3 pool features from a local weights file
  (:mod:`ganaudit.evaluation.features.inception`).

User extractors are given as a spec: ``keras:PATH.keras`` (a Keras model file) or
``module:function`` (a Python function images → features), see
:mod:`ganaudit.evaluation.features.user`. More can be added with :func:`register_extractor`.

Distances on these features (FD, KID, precision/recall, ...) are only comparable between runs
that used the same extractor and settings.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from ganaudit.gan_models.errors import InputError

__all__ = [
    "FeatureExtractor",
    "register_extractor",
    "get_extractor",
    "known_extractors",
    "extract",
    "check_images",
    "zscore_with_reference",
]

DEFAULT_EXTRACTOR = "radiomics"


def check_images(images, *, name: str = "images") -> np.ndarray:
    """Return ``images`` as float32 (N, H, W) or raise :class:`InputError`.

    A trailing channel axis of size 1 is dropped.
    """
    try:
        array = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be a numeric array of shape (N, H, W)") from e
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise InputError(f"{name} must have shape (N, H, W) (grayscale); got shape {array.shape}")
    if array.shape[0] == 0:
        raise InputError(f"{name} is empty; give at least one image")
    if not np.isfinite(array).all():
        raise InputError(f"{name} contain NaN or infinite pixels; fix or remove those images")
    return np.ascontiguousarray(array)


class FeatureExtractor:
    """Base class: subclasses set ``name`` and ``settings`` and implement ``_features``."""

    name: str = ""
    settings: dict = {}
    #: False when the result cannot be keyed reliably (e.g. code that is not inspectable).
    cacheable: bool = True

    def __call__(self, images) -> np.ndarray:
        return self._features(check_images(images))

    def _features(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"<{type(self).__name__} {self.name} ({options})>"


_REGISTRY: dict[str, Callable[..., FeatureExtractor]] = {}


def register_extractor(name: str, factory: Callable[..., FeatureExtractor], *, replace: bool = False) -> None:
    """Make ``factory(**options)`` available as ``get_extractor(name, **options)``.

    Parameters
    ----------
    name : str
        A plain name without ``:`` (``:`` marks user specs such as ``keras:PATH``).
    factory : callable
        Takes keyword options only (no ``**kwargs``, so misspelled options are caught) and
        returns a :class:`FeatureExtractor`.
    replace : bool, default False
        Allow replacing an existing registration.
    """
    if not isinstance(name, str) or not name or ":" in name or name != name.strip():
        raise InputError(f"extractor name must be a non-empty string without ':' or spaces; got {name!r}")
    if not callable(factory):
        raise InputError(f"factory for extractor {name!r} must be callable; got {type(factory).__name__}")
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(factory).parameters.values()):
        raise InputError(f"factory for extractor {name!r} must list its options explicitly, not take **kwargs")
    if name in _REGISTRY and not replace:
        raise InputError(f"extractor {name!r} is already registered; pass replace=True to replace it")
    _REGISTRY[name] = factory


def known_extractors() -> list[str]:
    """Registered names (user specs ``keras:PATH`` and ``module:function`` work too)."""
    return sorted(_REGISTRY)


def get_extractor(name: str = DEFAULT_EXTRACTOR, **options) -> FeatureExtractor:
    """Build the extractor called ``name`` with ``options``.

    ``name`` is a registered name (see :func:`known_extractors`), ``keras:PATH`` or
    ``module:function``. Unknown names and unknown options raise :class:`InputError`.
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"extractor name must be a string such as 'radiomics'; got {name!r}")
    if ":" in name:
        from ganaudit.evaluation.features.user import user_extractor

        factory: Callable[..., FeatureExtractor] = user_extractor
        options = {"spec": name, **options}
    elif name in _REGISTRY:
        factory = _REGISTRY[name]
    else:
        raise InputError(
            f"unknown feature extractor {name!r}; known: {', '.join(known_extractors())}, "
            "or a spec keras:PATH.keras or module:function"
        )
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as e:
        accepted = [p for p in inspect.signature(factory).parameters if p != "spec"]
        unknown = sorted(set(options) - set(accepted) - {"spec"})
        detail = f"unknown option(s) {', '.join(unknown)}" if unknown else str(e)
        raise InputError(
            f"{detail} for feature extractor {name!r}; accepted options: {', '.join(accepted) or 'none'}"
        ) from e
    return factory(**options)


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def extract(images, extractor, *, cache: bool = True, batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Features of ``images`` (float64 (N, D)), computed in batches and cached.

    Parameters
    ----------
    images : array_like of shape (N, H, W)
        Grayscale images in [-1, 1].
    extractor : FeatureExtractor or str
        An extractor or a name/spec for :func:`get_extractor` (default options).
    cache : bool, default True
        Reuse features stored for the same image bytes, extractor name and settings (in
        ``$GANAUDIT_CACHE/features`` or ``~/.cache/ganaudit/features``); store new ones.
    batch_size : int, default 64
        Images per call of the extractor; does not change the result.
    progress : bool, default True
        Show a progress bar when running in a terminal.
    """
    from tqdm import tqdm

    from ganaudit.evaluation.features import cache as feature_cache

    if isinstance(extractor, str):
        extractor = get_extractor(extractor)
    if not callable(extractor) or not hasattr(extractor, "name"):
        raise InputError(f"extractor must be a FeatureExtractor or a name; got {type(extractor).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer; got {batch_size!r}")
    images = check_images(images)
    use_cache = cache and getattr(extractor, "cacheable", True)
    key = feature_cache.cache_key(images, extractor) if use_cache else None
    if key is not None:
        found = feature_cache.load(extractor.name, key)
        if found is not None and found.shape[0] == images.shape[0]:
            return found
    parts = []
    slices = list(_batches(images.shape[0], int(batch_size)))
    # Counted in images, so the bar shows images/s and an ETA (batches are of equal cost).
    with tqdm(total=images.shape[0], desc=f"{extractor.name} features", unit="img",
              disable=None if progress else True, leave=False) as bar:
        for rows in slices:
            part = np.asarray(extractor(images[rows]), dtype=np.float64)
            bar.update(rows.stop - rows.start)
            if part.ndim != 2 or part.shape[0] != rows.stop - rows.start:
                raise InputError(
                    f"feature extractor {extractor.name!r} returned shape {part.shape} for {rows.stop - rows.start} "
                    "images; it must return one feature row per image, shape (N, D)"
                )
            parts.append(part)
    features = np.concatenate(parts, axis=0)
    if features.shape[1] == 0 or len({p.shape[1] for p in parts}) != 1:
        raise InputError(f"feature extractor {extractor.name!r} returned a varying or zero number of features per batch")
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise InputError(
            f"feature extractor {extractor.name!r} gave NaN or infinite features for {int(bad.sum())} of "
            f"{len(features)} images (first: {np.flatnonzero(bad)[:5].tolist()}); check those images "
            "(constant or corrupt) or use another extractor"
        )
    if key is not None:
        feature_cache.store(extractor.name, key, features)
    return features


# A reference feature whose spread is below this share of its size is constant (round-off).
CONSTANT_RELATIVE_STD = 1e-9


def zscore_with_reference(reference_feats, *others) -> tuple[np.ndarray, ...]:
    """Z-score feature sets with the reference set's per-feature mean and standard deviation.

    Radiomic features live on very different scales (an entropy next to a cluster
    prominence), so Fréchet Radiomics Distance standardizes them with the *reference* (real)
    set's statistics before any distance is computed; generated sets use the same shift and
    scale so that their differences stay visible. Features that are constant in the reference
    set keep scale 1 (they stay finite). "Constant" allows for round-off: a column of equal
    values summed in floating point has a standard deviation of 1e-17 or less, not 0, and
    dividing by that would blow a one-grey-level difference up to 1e14.

    Parameters
    ----------
    reference_feats : array_like of shape (N, D)
    *others : array_like of shape (M, D)

    Returns
    -------
    tuple of ndarray
        The standardized reference set followed by each of ``others``.

    References
    ----------
    Konz, N., Osuala, R. et al. (2024). Fréchet Radiomic Distance (FRD): a versatile metric
    for comparing medical imaging datasets. arXiv:2412.01496.
    """
    from ganaudit.evaluation.frechet import check_features

    reference = check_features(reference_feats, name="reference features", min_samples=1)
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    constant = std <= CONSTANT_RELATIVE_STD * (1.0 + np.abs(mean))
    scale = np.where(constant, 1.0, std)
    out = [(reference - mean) / scale]
    for i, other in enumerate(others):
        other = check_features(other, name=f"feature set {i + 1}", min_samples=1)
        if other.shape[1] != reference.shape[1]:
            raise InputError(
                f"feature set {i + 1} has {other.shape[1]} columns but the reference has {reference.shape[1]}; "
                "use the same extractor and settings for both"
            )
        out.append((other - mean) / scale)
    return tuple(out)


def _register_builtins() -> None:
    from ganaudit.evaluation.features.inception import InceptionExtractor
    from ganaudit.evaluation.features.pixels import PixelsExtractor
    from ganaudit.evaluation.features.radiomics import RadiomicsExtractor

    register_extractor("radiomics", RadiomicsExtractor)
    register_extractor("pixels", PixelsExtractor)
    register_extractor("inception", InceptionExtractor)


_register_builtins()
