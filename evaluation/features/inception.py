"""``inception`` extractor: Inception-v3 pool features (2048-d) through Keras.

Weights are read from a local file (option ``weights``, ``--weights PATH`` on the command
line); nothing is downloaded. Preprocessing, fixed and documented because it changes scores:
grayscale repeated to 3 channels, bilinear resize (no antialiasing) to 299 × 299, values kept
in [-1, 1] (the range Inception-v3 was trained on). Scores from other tools (pytorch-fid,
clean-fid, ...) resize differently: never compare numbers across tools.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ganaudit.evaluation.features import FeatureExtractor
from ganaudit.gan_models.errors import InputError

__all__ = ["InceptionExtractor", "WEIGHTS_FILE"]

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INPUT_SIZE = 299

_WHERE = (
    f"use the Keras applications weights file {WEIGHTS_FILE} (from the Keras applications "
    "releases; on a machine with internet access, "
    "python -c \"import keras; keras.applications.InceptionV3(include_top=False)\" saves it in "
    "~/.keras/models/) and pass it with --weights PATH"
)


def _file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class InceptionExtractor(FeatureExtractor):
    """Inception-v3 average-pool features from a local weights file.

    Parameters
    ----------
    weights : str or path
        Keras weights file of ``InceptionV3(include_top=False)``.

    References
    ----------
    Szegedy, C., Vanhoucke, V., Ioffe, S., Shlens, J. & Wojna, Z. (2016). Rethinking the
    Inception architecture for computer vision. CVPR.
    Heusel, M. et al. (2017). GANs trained by a two time-scale update rule converge to a local
    Nash equilibrium. NeurIPS.
    """

    name = "inception"

    def __init__(self, *, weights: str | Path | None = None):
        if weights is None:
            raise InputError(f"the inception extractor needs a weights file: {_WHERE}")
        path = Path(weights).expanduser()
        if not path.is_file():
            raise InputError(f"inception weights file {path} does not exist: {_WHERE}")
        import keras

        try:
            self.model = keras.applications.InceptionV3(
                include_top=False, pooling="avg", weights=str(path), input_shape=(INPUT_SIZE, INPUT_SIZE, 3)
            )
        except Exception as e:  # Keras raises several types for a wrong or corrupt file
            raise InputError(f"could not load inception weights from {path} ({type(e).__name__}: {e}); {_WHERE}") from e
        self.weights = path
        self.settings = {"weights_digest": _file_digest(path), "resize": f"bilinear {INPUT_SIZE}",
                         "channels": "gray x3", "range": "[-1, 1]", "version": 1}

    def _features(self, images: np.ndarray) -> np.ndarray:
        import keras

        x = keras.ops.convert_to_tensor(images[..., None])
        x = keras.ops.image.resize(x, (INPUT_SIZE, INPUT_SIZE), interpolation="bilinear", antialias=False)
        x = keras.ops.repeat(x, 3, axis=-1)
        return np.asarray(keras.ops.convert_to_numpy(self.model(x, training=False)), dtype=np.float64)
