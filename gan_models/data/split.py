"""Deterministic train / held-out split (the held-out images calibrate the memorization audit).

Rule: a seeded permutation (``numpy.random.default_rng(seed).permutation``). Without
``groups`` it permutes image indices and holds out the first ``round(n * heldout_fraction)``
(at least one, and at least one image is left for training). With ``groups`` (e.g.
``ImageSet.groups``: the DICOM series or volume of each slice) it permutes the distinct groups
(in sorted order) and holds out whole groups until the held-out count reaches
``heldout_fraction * n``, so neighbouring slices of one volume never fall on both sides — they
would look like copies to a memorization audit. When every image comes from one series or
volume, it holds out one contiguous block of slices at a seeded position and leaves
``SINGLE_VOLUME_GAP`` slices on either side of it unused, so that no training slice is a direct
neighbour of a held-out one.
"""

from __future__ import annotations

import numpy as np

from ganaudit.gan_models.errors import InputError

SINGLE_VOLUME_GAP = 2


def split_train_heldout(n: int, *, heldout_fraction: float = 0.2, seed: int = 0,
                        groups: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted (train_idx, heldout_idx) index arrays; see module doc."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise InputError(f"need at least 2 images to split into train and held-out, got n={n!r}")
    if not isinstance(heldout_fraction, (int, float)) or not 0.0 < heldout_fraction < 1.0:
        raise InputError(f"heldout_fraction must be between 0 and 1 (exclusive), got "
                         f"{heldout_fraction!r}; the default is 0.2")
    rng = np.random.default_rng(seed)
    target = min(max(int(round(n * heldout_fraction)), 1), n - 1)
    if groups is None:
        perm = rng.permutation(n)
        return np.sort(perm[target:]), np.sort(perm[:target])
    groups = list(groups)
    if len(groups) != n:
        raise InputError(f"groups must have one entry per image: {len(groups)} groups for n={n}")
    unique = sorted(set(groups))
    if len(unique) < 2:
        return _single_volume_split(n, target, rng)
    members: dict[str, list[int]] = {g: [] for g in unique}
    for i, g in enumerate(groups):
        members[g].append(i)
    held: list[int] = []
    for k in rng.permutation(len(unique)):
        if len(held) >= target:
            break
        if len(held) + len(members[unique[k]]) >= n:
            continue
        held.extend(members[unique[k]])
    held_idx = np.sort(np.asarray(held, dtype=int))
    train_idx = np.setdiff1d(np.arange(n), held_idx)
    return train_idx, held_idx


def _single_volume_split(n: int, target: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One series/volume (slices in anatomical order): a contiguous held-out block, with up to
    ``SINGLE_VOLUME_GAP`` slices either side left out of both sets (fewer when the volume is
    too short to keep a training slice)."""
    if n < 3:
        raise InputError(f"one series or volume of {n} slices is too short to hold slices out for the "
                         "memorization audit; give at least 3 slices (better: several series)")
    target = min(target, n - 2)
    gap = min(SINGLE_VOLUME_GAP, (n - target - 1) // 2)
    start = int(rng.integers(0, n - target + 1))
    held_idx = np.arange(start, start + target)
    unused = (np.arange(n) >= start - gap) & (np.arange(n) < start + target + gap)
    train_idx = np.flatnonzero(~unused)
    return train_idx, held_idx
