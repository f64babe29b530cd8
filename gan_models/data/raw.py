"""One decoded 2-D image before the intensity policy: physical values plus what the policy needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RawImage:
    """A 2-D image as read from disk.

    ``array`` holds physical values (DICOM: Rescale Slope/Intercept applied, MONOCHROME1
    already inverted). ``group`` names what the image belongs to (a file, a DICOM series, a
    volume) so that a train/held-out split can keep neighbouring slices together.
    ``sort_key`` orders images within a group (e.g. a slice position).
    """

    name: str
    array: np.ndarray
    group: str
    fmt: str
    stored_range: tuple[float, float] | None = None
    dicom_window: tuple[float, float] | None = None
    sort_key: tuple = ()
