"""On-disk cache of extracted features, keyed by (image bytes, extractor name, settings).

Location: ``$GANAUDIT_CACHE/features`` when ``GANAUDIT_CACHE`` is set, otherwise
``$XDG_CACHE_HOME/ganaudit/features`` (default ``~/.cache/ganaudit/features``); never inside
the installed package. Files are written atomically (temporary name, then rename), so a killed
process never leaves a truncated entry; an unreadable entry is ignored and recomputed.
Delete the folder at any time to clear the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from ganaudit.gan_models.atomic import write_bytes

__all__ = ["cache_dir", "cache_key", "load", "store"]


def cache_dir() -> Path:
    """The feature cache folder (not created here)."""
    root = os.environ.get("GANAUDIT_CACHE")
    if root:
        return Path(root).expanduser() / "features"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ganaudit" / "features"


def cache_key(images: np.ndarray, extractor) -> str:
    """Hash of the float32 image bytes and shape, the extractor's name and its settings."""
    h = hashlib.blake2b(digest_size=20)
    array = np.ascontiguousarray(images, dtype=np.float32)
    h.update(json.dumps({"shape": list(array.shape), "name": extractor.name, "settings": extractor.settings},
                        sort_keys=True, default=str).encode())
    h.update(memoryview(array).cast("B"))
    return h.hexdigest()


def _path(name: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cache_dir() / safe / f"{key}.npy"


def load(name: str, key: str) -> np.ndarray | None:
    """Cached features or None (missing or unreadable)."""
    path = _path(name, key)
    if not path.is_file():
        return None
    try:
        features = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # truncated or garbled: recompute
        return None
    if features.ndim != 2 or features.dtype != np.float64 or not np.isfinite(features).all():
        return None
    return features


def store(name: str, key: str, features: np.ndarray) -> Path | None:
    """Write features atomically; a cache that cannot be written is skipped, not fatal."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(features, dtype=np.float64), allow_pickle=False)
    path = _path(name, key)
    try:
        write_bytes(path, buffer.getvalue())
    except OSError:
        return None
    return path
