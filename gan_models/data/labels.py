"""Finding labels that travel with an image folder (e.g. a phantom population's labels.csv)."""

from __future__ import annotations

import warnings
from pathlib import Path

LABELS_FILE = "labels.csv"


def find_labels(source, names: list[str]):
    """Labels aligned with ``names`` (as ``load_images(source).names``), or None.

    Looks for ``labels.csv`` (with a ``file`` column) in ``source`` and, when ``source`` is a
    folder called ``images``, in its parent — the layout ``ganaudit data phantom`` writes.
    A row matches an image when the stem of ``file`` equals the image name's last ``__``
    component. Returns None (with a warning when a labels file exists) unless every image has
    exactly one row.
    """
    import pandas as pd

    source = Path(source)
    folder = source if source.is_dir() else source.parent
    candidates = [folder / LABELS_FILE]
    if folder.name == "images":
        candidates.append(folder.parent / LABELS_FILE)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    labels = pd.read_csv(path)
    if "file" not in labels.columns:
        warnings.warn(f"{path} has no 'file' column; labels ignored", stacklevel=2)
        return None
    stems = labels["file"].map(lambda f: Path(str(f)).stem)
    if stems.duplicated().any():
        warnings.warn(f"{path} lists a file name twice; labels ignored", stacklevel=2)
        return None
    row_of = dict(zip(stems, range(len(labels))))
    keys = [name.rsplit("__", 1)[-1] for name in names]
    missing = [n for n, k in zip(names, keys) if k not in row_of]
    if missing:
        warnings.warn(f"{path} has no row for {len(missing)} of {len(names)} images "
                      f"(e.g. {missing[0]}); labels ignored", stacklevel=2)
        return None
    return labels.iloc[[row_of[k] for k in keys]].reset_index(drop=True)
