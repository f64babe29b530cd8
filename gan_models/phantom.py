"""Embedded phantom population: T1-weighted axial MR head slices with planted findings.

Built from the MNI152 2009 T1 template and its grey/white-matter maps that nilearn ships
inside its wheel (nothing is downloaded). Each synthetic subject gets a smooth random
deformation, a small rotation/scale/shift, a slightly tilted axial slice somewhere between the
skull base and the vertex, its own T1 contrast (grey/white-matter/CSF intensities), a smooth
bias field and Rician noise. A scalp (bright, like fat on T1) and a skull (dark) are added
around the skull-stripped template brain.

Planted findings (labels, one row per image):

- ``lesion`` (0/1): a round white-matter lesion that is *hyperintense* on T1 (brighter than
  white matter, like a contrast-enhancing lesion on a post-gadolinium T1), 4–8 mm in radius.
  Population rule: lesions appear only in the patient's LEFT hemisphere. Location columns:
  ``lesion_side`` ("left"/"right", missing without a lesion), ``lesion_x`` (image column) and
  ``lesion_y`` (image row) of its centre in pixels, ``lesion_radius_px``.
- ``enlarged_ventricles`` (0/1): the lateral ventricles dilated by 4–8 mm of CSF; such slices
  are always taken at ventricle level so that the finding is visible.

Orientation: radiological convention, as DICOM axial images with ImageOrientationPatient
``1\\0\\0\\0\\1\\0``: row 0 is anterior, and the patient's LEFT is on the image's RIGHT.
A planted lesion lies anatomically in its hemisphere *and* wholly in the matching half of the
image: a left lesion has ``lesion_x - lesion_radius_px > (S - 1) / 2``. So the population
rule is also a plain image rule: a lesion in the image's left half is impossible.

Images are float32 (N, S, S) in [-1, 1] with a fixed intensity scale (air ≈ -1).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganaudit.gan_models.errors import InputError
from ganaudit.schema.values import folder_problem

FOV_MM = 240.0  # square field of view; the head spans about 150 x 205 mm
FOV_CENTRE_RAS = (0.0, -18.0)  # MNI (x, y) at the image centre
SLICE_RANGE_MM = (-22.0, 66.0)  # MNI z of axial slices: from the temporal lobes to the vertex
VENTRICLE_RANGE_MM = (2.0, 26.0)  # MNI z where the lateral ventricle bodies are visible
DISPLAY_GAIN = 1.2  # signal / gain -> [0, 1] -> [-1, 1]
FINDINGS = ("lesion", "enlarged_ventricles")  # the 0/1 finding columns of the labels
LABEL_COLUMNS = ["file", "lesion", "lesion_side", "lesion_x", "lesion_y", "lesion_radius_px",
                 "enlarged_ventricles", "slice_z", "rotation_deg", "seed", "index"]


@dataclass(frozen=True)
class _Grid:
    """Channels on a regular RAS grid: ``data`` is (X, Y, Z, C) float32."""

    data: np.ndarray
    origin: tuple[float, float, float]  # RAS mm of voxel (0, 0, 0)
    spacing: float  # mm
    cval: np.ndarray  # value per channel outside the grid

    def sample(self, ras: np.ndarray) -> np.ndarray:
        """Trilinear interpolation at RAS points (3, P) → (C, P)."""
        coords = (ras - np.asarray(self.origin)[:, None]) / self.spacing
        shape = np.asarray(self.data.shape[:3])
        floor = np.floor(coords)
        index = floor.astype(np.int64)
        frac = (coords - floor).astype(np.float32)
        inside = np.all((index >= 0) & (index < shape[:, None] - 1), axis=0)
        index = np.where(inside, index, 0)
        sx, sy = int(shape[1] * shape[2]), int(shape[2])
        base = index[0] * sx + index[1] * sy + index[2]
        flat = self.data.reshape(-1, self.data.shape[3])
        out = np.zeros((coords.shape[1], self.data.shape[3]), dtype=np.float32)
        fx, fy, fz = frac
        for dx, wx in ((0, 1 - fx), (sx, fx)):
            for dy, wy in ((0, 1 - fy), (sy, fy)):
                wxy = wx * wy
                for dz, wz in ((0, 1 - fz), (1, fz)):
                    out += flat[base + (dx + dy + dz)] * (wxy * wz)[:, None]
        out[~inside] = self.cval
        return out.T


@dataclass(frozen=True)
class _Template:
    """Tissue channels (GM, WM, CSF, T1) and distance channels (mm; negative inside): skull
    envelope, brain, lateral ventricles."""

    tissue: _Grid
    fields: _Grid


def _template_files() -> dict[str, Path]:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or spec.origin is None:
        raise InputError("the phantom needs nilearn (its wheel ships the MNI152 template); "
                         "install it with pip install nilearn")
    folder = Path(spec.origin).parent / "datasets" / "data"
    files = {k: folder / f"mni_icbm152_{k}_tal_nlin_sym_09a_converted.nii.gz"
             for k in ("t1", "gm", "wm")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise InputError(f"nilearn's bundled MNI152 template is missing ({', '.join(missing)}); "
                         "reinstall nilearn (>= 0.10)")
    return files


def _block_mean(volume: np.ndarray) -> np.ndarray:
    """2x2x2 block average (1 mm → 2 mm); the volume shape must be even."""
    x, y, z = (d // 2 for d in volume.shape)
    return volume.reshape(x, 2, y, 2, z, 2).mean(axis=(1, 3, 5), dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _base_template() -> tuple[dict, _Grid, tuple[float, float, float]]:
    """Load the MNI152 2009 maps once per process; derive CSF, skull and ventricle fields.

    Reads the same files as ``nilearn.datasets.load_mni152_template(resolution=1)`` and its
    GM/WM siblings, with nibabel directly (importing nilearn.datasets costs seconds).
    Returns the 1 mm tissue maps, the 2 mm distance fields and the 1 mm grid origin.
    """
    import nibabel as nib
    from scipy import ndimage as ndi

    vols = {}
    for key, path in _template_files().items():
        img = nib.load(path)
        vols[key] = np.asarray(img.dataobj)  # uint8; scaled to [0, 1] after cropping
        affine = img.affine
    if not np.allclose(affine[:3, :3], np.eye(3)):
        raise InputError(f"unexpected MNI152 template affine {affine.tolist()}; "
                         "the phantom expects nilearn's 1 mm template")
    # Crop/pad to the head region: brain bounding box plus room for CSF, skull and scalp, and
    # only the slices the population uses (plus room for tilt); even sizes for 2 mm blocks.
    brain = vols["t1"] > 0
    idx = np.nonzero(brain)
    margin = 26
    lo = [int(a.min()) - margin for a in idx]
    hi = [int(a.max()) + margin + 1 for a in idx]
    lo[2] = max(lo[2], int(SLICE_RANGE_MM[0] - 30 - affine[2, 3]))
    hi[2] = min(hi[2], int(SLICE_RANGE_MM[1] + 30 - affine[2, 3]))
    hi = [h + (h - l) % 2 for l, h in zip(lo, hi)]
    pad = [(max(-l, 0), max(h - s, 0)) for l, h, s in zip(lo, hi, brain.shape)]
    crop = tuple(slice(max(l, 0), min(h, s)) for l, h, s in zip(lo, hi, brain.shape))
    t1, gm, wm = (np.pad(vols[k][crop], pad).astype(np.float32) / 255.0 for k in ("t1", "gm", "wm"))
    brain = np.pad(brain[crop], pad)
    origin = tuple(float(affine[i, 3] + lo[i]) for i in range(3))
    csf = np.clip(brain.astype(np.float32) - gm - wm, 0.0, 1.0)

    # Distance fields on the 2 mm grid: smooth quantities, cheap transforms.
    origin2 = tuple(o + 0.5 for o in origin)
    brain2 = _block_mean(brain.astype(np.float32)) > 0.5
    brain_dist = _signed_distance(brain2, 2.0)
    # Skull inner surface: the brain mask closed over sulci and smoothed into an envelope.
    envelope = ndi.binary_fill_holes(ndi.gaussian_filter(brain2.astype(np.float32), 4.0) > 0.25)
    head_dist = _signed_distance(envelope, 2.0)
    # Lateral ventricles: CSF deep inside the brain near the midline.
    csf2 = _block_mean(csf)
    xx, yy, zz = np.meshgrid(*(o + 2.0 * np.arange(n) for o, n in zip(origin2, csf2.shape)),
                             indexing="ij")
    vent = ((csf2 > 0.45) & (brain_dist < -12.0) & (np.abs(xx) < 32) & (yy > -60) & (yy < 30)
            & (zz > -8) & (zz < 36))
    labels, n = ndi.label(vent)
    if n:
        sizes = ndi.sum(vent, labels, index=np.arange(1, n + 1))
        vent = np.isin(labels, np.arange(1, n + 1)[sizes >= 0.15 * sizes.max()])
    vent_dist = _signed_distance(vent, 2.0)
    fields = _Grid(np.stack([head_dist, brain_dist, vent_dist], axis=-1), origin2, 2.0,
                   np.full(3, 100.0, dtype=np.float32))
    return {"gm": gm, "wm": wm, "csf": csf, "t1": t1}, fields, origin


def _signed_distance(mask: np.ndarray, spacing: float) -> np.ndarray:
    from scipy import ndimage as ndi

    outside = ndi.distance_transform_edt(~mask) * spacing
    inside = ndi.distance_transform_edt(mask) * spacing
    return (outside - inside).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _template_for_pixel(pixel_mm: float) -> _Template:
    """Tissue maps anti-aliased for a pixel size (Gaussian, sigma = 0.45 pixel).

    Pixels of 3 mm or more sample a 2 mm grid (block average, then the rest of the blur),
    which is 8 times smaller and faster to build and to sample.
    """
    from scipy import ndimage as ndi

    maps, fields, origin = _base_template()
    names = ("gm", "wm", "csf", "t1")
    sigma_mm = 0.45 * pixel_mm if pixel_mm > 1.2 else 0.0
    if pixel_mm >= 3.0:
        spacing, origin = 2.0, tuple(o + 0.5 for o in origin)
        # A 2 mm block average already blurs by about 0.58 mm (sd of a 2 mm box).
        sigma = np.sqrt(max(sigma_mm ** 2 - 0.58 ** 2, 0.0)) / spacing
        channels = [ndi.gaussian_filter(_block_mean(maps[k]), sigma) for k in names]
    else:
        spacing = 1.0
        channels = [ndi.gaussian_filter(maps[k], sigma_mm) if sigma_mm else maps[k] for k in names]
    tissue = _Grid(np.ascontiguousarray(np.stack(channels, axis=-1)), origin, spacing,
                   np.zeros(4, dtype=np.float32))
    return _Template(tissue=tissue, fields=fields)


@functools.lru_cache(maxsize=8)
def _cosine_basis(size: int, k: int) -> np.ndarray:
    """(size, k) low-frequency cosine basis used for smooth random fields."""
    t = (np.arange(size) + 0.5) / size
    return np.stack([np.cos(np.pi * j * t) for j in range(k)], axis=1)


def _smooth_field(rng: np.random.Generator, size: int, k: int, amplitude: float) -> np.ndarray:
    basis = _cosine_basis(size, k)
    coeffs = rng.normal(size=(k, k)) / (1.0 + np.add.outer(np.arange(k), np.arange(k)))
    coeffs[0, 0] = 0.0
    field = basis @ coeffs @ basis.T
    return field * (amplitude / max(np.abs(field).max(), 1e-9))


def _smoothstep(x: np.ndarray, edge0: float, edge1: float) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _check_probability(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise InputError(f"{name} must be a probability between 0 and 1, got {value!r}; "
                         f"e.g. 0.3 (command line: --{name.replace('_', '-')} 0.3)")
    return float(value)


def _subject(size: int, tmpl: _Template, rng: np.random.Generator, *, lesion: bool,
             enlarged: bool, lesion_side: str) -> tuple[np.ndarray, dict]:
    px = FOV_MM / size
    # Slice position: ventricle level when the ventricles are enlarged, so it shows.
    z_range = VENTRICLE_RANGE_MM if enlarged else SLICE_RANGE_MM
    z0 = rng.uniform(*z_range)
    theta = np.deg2rad(rng.uniform(-8.0, 8.0))
    scale = rng.uniform(0.9, 1.08) * np.exp(rng.normal(0.0, 0.03, size=2))
    shift = rng.normal(0.0, 4.0, size=2)
    tilt = rng.normal(0.0, 0.06, size=2)  # dz/dx, dz/dy: a few degrees of slice tilt

    # Image pixel (row r, col c) -> patient mm in the image plane (radiological: col -> left).
    centre = (size - 1) / 2.0
    c = (np.arange(size) - centre) * px
    u = np.broadcast_to(c[None, :], (size, size))  # towards patient left (-x RAS)
    v = np.broadcast_to(c[:, None], (size, size))  # towards posterior (-y RAS)
    u = u + _smooth_field(rng, size, 4, rng.uniform(1.5, 4.0))
    v = v + _smooth_field(rng, size, 4, rng.uniform(1.5, 4.0))
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    x_ras = -(cos_t * u - sin_t * v) / scale[0] + FOV_CENTRE_RAS[0] + shift[0]
    y_ras = -(sin_t * u + cos_t * v) / scale[1] + FOV_CENTRE_RAS[1] + shift[1]
    z_ras = z0 + tilt[0] * x_ras + tilt[1] * (y_ras - FOV_CENTRE_RAS[1])

    ras = np.stack([x_ras, y_ras, z_ras]).reshape(3, -1)
    gm, wm, csf, t1 = tmpl.tissue.sample(ras).reshape(4, size, size)
    head_d, brain_d, vent_d = tmpl.fields.sample(ras).reshape(3, size, size)

    # Per-subject T1 contrast (arbitrary units, white matter ~ 1).
    i_wm = rng.uniform(0.88, 1.0)
    i_gm = i_wm * rng.uniform(0.55, 0.7)
    i_csf = rng.uniform(0.08, 0.2)
    i_fat = rng.uniform(0.95, 1.12)
    i_skin = rng.uniform(0.45, 0.6)
    i_bone = rng.uniform(0.03, 0.08)
    i_marrow = rng.uniform(0.3, 0.5)

    if enlarged:
        dilate = rng.uniform(4.0, 8.0)
        edge = max(px / 2, 1.5)  # the ventricle distance is on a 2 mm grid: keep edges soft
        m = _smoothstep(-vent_d, -dilate - edge, -dilate + edge) * (brain_d < -6.0)
        gm, wm = gm * (1 - m), wm * (1 - m)
        csf = csf * (1 - m) + m
        t1 = t1 * (1 - m) + m * 0.25  # the template's own CSF value, so no grey halo

    brain = gm * i_gm + wm * i_wm + csf * i_csf
    brain = 0.8 * brain + 0.2 * t1 * i_wm / 0.75  # template texture (deep grey nuclei)
    tissue = np.clip(gm + wm + csf, 0.0, 1.0)
    # Outside the brain: CSF up to the skull envelope, then bone (with marrow), fat, skin, air.
    # Skull and scalp thickness vary smoothly around the head.
    t_skull = rng.uniform(5.0, 8.0) * np.exp(_smooth_field(rng, size, 3, 0.25))
    t_fat = rng.uniform(4.0, 7.0) * np.exp(_smooth_field(rng, size, 3, 0.35))
    t_skin = rng.uniform(1.5, 3.0)
    soft = max(px / 2, 0.8)
    d = head_d + rng.uniform(0.0, 2.0)
    in_env = 1 - _smoothstep(d, -soft, soft)
    bone = _smoothstep(d, -soft, soft) * (1 - _smoothstep(d, t_skull - soft, t_skull + soft))
    marrow = np.exp(-((d - t_skull / 2) / (t_skull / 5)) ** 2) * bone
    fat = _smoothstep(d, t_skull - soft, t_skull + soft) * (
        1 - _smoothstep(d, t_skull + t_fat - soft, t_skull + t_fat + soft))
    skin_end = t_skull + t_fat + t_skin
    skin = _smoothstep(d, t_skull + t_fat - soft, t_skull + t_fat + soft) * (
        1 - _smoothstep(d, skin_end - soft, skin_end + soft))
    signal = (brain + (1 - tissue) * i_csf) * in_env
    signal = signal + bone * (i_bone * (1 - marrow) + i_marrow * marrow) + fat * i_fat + skin * i_skin

    info = {"lesion": 0, "lesion_side": None, "lesion_x": np.nan, "lesion_y": np.nan,
            "lesion_radius_px": np.nan, "enlarged_ventricles": int(enlarged),
            "slice_z": round(float(z0), 2), "rotation_deg": round(float(np.rad2deg(theta)), 2)}
    if lesion:
        # Anatomically in that hemisphere AND wholly in that half of the image, so that the
        # population rule is also a plain image rule (left hemisphere = image right half).
        side_sign = {"left": -1.0, "right": 1.0}[lesion_side]  # RAS x < 0 is patient left
        radius = rng.uniform(4.0, 8.0) / px
        cols = np.arange(size)[None, :] - centre
        in_half = -side_sign * cols > radius + max(1.0, 0.04 * size)
        candidates = np.argwhere((wm > 0.8) & (side_sign * x_ras > 10.0) & (brain_d < -6.0) & in_half)
        if len(candidates) == 0:
            candidates = np.argwhere((wm > 0.5) & (side_sign * x_ras > 5.0) & in_half)
        if len(candidates):
            row, col = candidates[rng.integers(len(candidates))]
            rr = np.hypot(np.arange(size)[:, None] - row, np.arange(size)[None, :] - col)
            m = 1 - _smoothstep(rr, 0.5 * radius, radius + 0.5)  # plateau, soft rim
            signal = signal * (1 - m) + m * i_wm * rng.uniform(1.35, 1.55)
            info.update(lesion=1, lesion_side=lesion_side, lesion_x=float(col),
                        lesion_y=float(row), lesion_radius_px=round(float(radius), 3))

    signal = signal * np.exp(_smooth_field(rng, size, 3, rng.uniform(0.05, 0.18)))
    sigma = rng.uniform(0.012, 0.035)
    noisy = np.hypot(signal + rng.normal(0.0, sigma, signal.shape), rng.normal(0.0, sigma, signal.shape))
    image = np.clip(noisy / DISPLAY_GAIN, 0.0, 1.0) * 2.0 - 1.0
    return image.astype(np.float32), info


def make_population(n: int, size: int = 64, *, seed: int = 0, lesion_prevalence: float = 0.3,
                    ventricle_prevalence: float = 0.3, lesion_side: str = "left",
                    progress: bool = False):
    """Make ``n`` phantom T1 axial head slices with planted findings.

    Parameters
    ----------
    n : int
        Number of slices (one synthetic subject each).
    size : int
        Image side in pixels (16 to 512); the field of view is always 240 mm.
    seed : int
        Seed; image ``i`` depends only on ``(seed, i)``, so a larger ``n`` extends a population.
    lesion_prevalence, ventricle_prevalence : float
        Probability that a subject has each finding (drawn independently per subject).
    lesion_side : {"left", "right", "any"}
        Hemisphere of planted lesions. ``"left"`` is the population rule; the others exist to
        build "impossible" images for testing a findings audit.
    progress : bool
        Show a progress bar.

    Returns
    -------
    images : np.ndarray
        float32 (n, size, size) in [-1, 1].
    labels : pandas.DataFrame
        One row per image, columns ``LABEL_COLUMNS``; ``file`` is ``phantom-NNNNN.png``.
    """
    import pandas as pd

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive number of images, got {n!r}; e.g. 300 (command line: --n 300)")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 16 <= size <= 512:
        raise InputError(f"size must be an image side between 16 and 512 pixels, got {size!r}; "
                         "e.g. 64 (command line: --size 64)")
    if lesion_side not in ("left", "right", "any"):
        raise InputError(f"lesion_side must be 'left', 'right' or 'any', got {lesion_side!r}; "
                         "'left' is the population rule")
    p_lesion = _check_probability("lesion_prevalence", lesion_prevalence)
    p_vent = _check_probability("ventricle_prevalence", ventricle_prevalence)
    tmpl = _template_for_pixel(round(FOV_MM / int(size), 4))

    images = np.empty((n, size, size), dtype=np.float32)
    rows = []
    iterator = range(int(n))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="phantom", unit="img")
    for i in iterator:
        rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(i,)))
        has_lesion = bool(rng.random() < p_lesion)
        enlarged = bool(rng.random() < p_vent)
        side = lesion_side if lesion_side != "any" else ("left" if rng.random() < 0.5 else "right")
        images[i], info = _subject(int(size), tmpl, rng, lesion=has_lesion, enlarged=enlarged,
                                   lesion_side=side)
        rows.append({"file": f"phantom-{i:05d}.png", **info, "seed": int(seed), "index": i})
    labels = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    return images, labels


def write_population(out_dir, n: int, size: int = 64, *, seed: int = 0, fmt: str = "png",
                     lesion_prevalence: float = 0.3, ventricle_prevalence: float = 0.3,
                     progress: bool = False) -> Path:
    """Write a phantom population: ``OUT/images/*.png`` (16-bit) or ``*.dcm``, ``OUT/labels.csv``.

    The whole folder appears at once (written under a temporary name, then renamed). Refuses
    an existing non-empty ``out_dir``.
    """
    from ganaudit.gan_models.atomic import atomic_path

    out_dir = Path(out_dir)
    if fmt not in ("png", "dicom"):
        raise InputError(f"format must be 'png' or 'dicom', got {fmt!r}")
    problem = folder_problem(out_dir)
    if problem:
        raise InputError(f"output folder {out_dir} already exists and {problem}; "
                         "choose a new folder or remove it")
    images, labels = make_population(n, size, seed=seed, lesion_prevalence=lesion_prevalence,
                                     ventricle_prevalence=ventricle_prevalence, progress=progress)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        names = [Path(f).stem for f in labels["file"]]
        if fmt == "png":
            from ganaudit.gan_models.data.folders import write_png16

            write_png16(images, tmp / "images", names)
        else:
            from ganaudit.gan_models.data.dicom import write_dicom_series

            write_dicom_series(images, tmp / "images", names, pixel_mm=FOV_MM / size,
                               description="ganaudit synthetic phantom (MNI152-based), not a patient",
                               slice_positions=labels["slice_z"].to_numpy())
            labels = labels.assign(file=[f"{s}.dcm" for s in names])
        labels.to_csv(tmp / "labels.csv", index=False)
    return out_dir


def plot_population(images: np.ndarray, labels, path, *, cols: int = 8, mark: bool = True) -> Path:
    """Save a grid of phantom slices as a PNG; with ``mark``, circle lesions (red) and tag
    enlarged ventricles ("EV", yellow). Radiological orientation: R on the left, L on the right.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    from ganaudit.gan_models.atomic import atomic_path

    n = len(images)
    rows = (n + cols - 1) // cols
    size = images.shape[1]
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows + 0.3),
                             squeeze=False, facecolor="black")
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        ax.imshow(images[k], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        row = labels.iloc[k]
        if mark and row["lesion"] == 1:
            ax.add_patch(Circle((row["lesion_x"], row["lesion_y"]), row["lesion_radius_px"] + 2.5,
                                fill=False, color="red", lw=1.0))
        if mark and row["enlarged_ventricles"] == 1:
            ax.text(0.04, 0.96, "EV", color="yellow", fontsize=7, va="top",
                    transform=ax.transAxes)
        if k < cols:
            ax.text(0.02, 0.5, "R", color="white", fontsize=6, transform=ax.transAxes)
            ax.text(0.93, 0.5, "L", color="white", fontsize=6, transform=ax.transAxes)
    fig.suptitle(f"ganaudit phantom: {n} T1 axial slices at {size}x{size} "
                 "(red: lesion, left hemisphere only; EV: enlarged ventricles)",
                 color="white", fontsize=8)
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 0.97))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, facecolor="black")
    plt.close(fig)
    return path
