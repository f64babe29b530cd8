"""User feature extractors: a Keras model file or a Python function.

- ``keras:PATH.keras``: a saved Keras model. Images (N, H, W) in [-1, 1] are given as
  (N, H, W, 1) — or repeated to 3 channels when the model expects 3 — and resized bilinearly
  when the model has a fixed, different input size. The output is flattened to (N, D).
- ``module:function``: ``function(images)`` with images float32 (N, H, W) in [-1, 1] must return
  an array (N, D). The module must be importable (installed or on PYTHONPATH).

The cache key includes a digest of the model file or of the function's source code.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Callable

import numpy as np

from ganaudit.evaluation.features import FeatureExtractor
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.specs import load_object

__all__ = ["KerasModelExtractor", "FunctionExtractor", "user_extractor"]


class KerasModelExtractor(FeatureExtractor):
    """Features from a saved Keras model (``keras:PATH``)."""

    def __init__(self, path: str | Path):
        path = Path(path).expanduser()
        if not path.is_file():
            raise InputError(f"Keras model file {path} does not exist; give keras:PATH to a .keras file")
        import keras

        try:
            self.model = keras.saving.load_model(path, compile=False)
        except Exception as e:  # Keras raises several types for unreadable files
            raise InputError(f"could not load Keras model {path} ({type(e).__name__}: {e}); "
                             "save it with model.save('features.keras')") from e
        shape = tuple(self.model.inputs[0].shape)
        if len(shape) not in (3, 4) or (len(shape) == 4 and shape[-1] not in (1, 3)):
            raise InputError(f"Keras model {path} takes inputs of shape {shape}; a feature model must take "
                             "(N, H, W), (N, H, W, 1) or (N, H, W, 3) images")
        self.input_shape = shape
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        self.name = f"keras:{path.name}"
        self.settings = {"file_digest": digest, "input_shape": [d for d in shape[1:]], "version": 1}

    def _features(self, images: np.ndarray) -> np.ndarray:
        import keras

        shape = self.input_shape
        x = keras.ops.convert_to_tensor(images if len(shape) == 3 else images[..., None])
        target = shape[1:3]
        if None not in target and tuple(target) != images.shape[1:3]:
            if len(shape) == 3:
                x = keras.ops.image.resize(x[..., None], target, interpolation="bilinear")[..., 0]
            else:
                x = keras.ops.image.resize(x, target, interpolation="bilinear")
        if len(shape) == 4 and shape[-1] == 3:
            x = keras.ops.repeat(x, 3, axis=-1)
        out = np.asarray(keras.ops.convert_to_numpy(self.model(x, training=False)), dtype=np.float64)
        return out.reshape(out.shape[0], -1)


class FunctionExtractor(FeatureExtractor):
    """Features from a Python function (``module:function``)."""

    def __init__(self, spec: str, function: Callable):
        self.function = function
        self.name = spec
        # The cache key covers the whole module file, not only the function: a changed
        # constant or helper next to it changes the features too. Without a source file a
        # changed function could silently reuse stale features, so nothing is cached.
        # (What the function reads from elsewhere, e.g. a weights file, is not covered.)
        try:
            source = Path(inspect.getsourcefile(function)).read_bytes() + inspect.getsource(function).encode()
        except (OSError, TypeError):
            source = None
        self.cacheable = source is not None
        digest = hashlib.blake2b(source or b"", digest_size=16).hexdigest()
        self.settings = {"source_digest": digest, "version": 2}

    def _features(self, images: np.ndarray) -> np.ndarray:
        out = self.function(images)
        try:
            return np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(f"feature function {self.name} returned {type(out).__name__}; "
                             "it must return a numeric array of shape (N, D)") from e


def _load_function(spec: str) -> Callable:
    function = load_object(spec, what="feature extractor")
    if not callable(function):
        raise InputError(f"{spec!r} is not callable; point module:function at a function images -> features")
    return function


def user_extractor(*, spec: str) -> FeatureExtractor:
    """Build a user extractor from ``keras:PATH`` or ``module:function``."""
    if spec.startswith("keras:"):
        return KerasModelExtractor(spec[len("keras:"):])
    return FunctionExtractor(spec, _load_function(spec))
