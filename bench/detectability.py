"""Benchmark and validation of the classifier two-sample test (``ganaudit.evaluation.detectability``).

Modes (default: ``--speed --power``):

- ``--speed``: one checkpoint's test, 500 real + 500 generated phantom slices at 64², default
  settings (as ``ganaudit score RUN`` runs it). Prints wall-clock and CPU seconds of the first
  call (Keras start-up and tracing included) and of the next one (what every further
  checkpoint costs), and the load average. Target: ≤ 30 s per checkpoint on 2 CPU cores.
- ``--power``: real vs (honest phantom subjects +) a faint checkerboard at 3 % of the
  intensity range (±0.03 on [-1, 1]; target AUC ≥ 0.9, and its occlusion map covers the
  head), a Gaussian blur with σ = 0.8 px (target AUC ≥ 0.8), and one planted blob at a fixed
  place (its map peaks at the blob).
- ``--null``: real vs real — two phantom populations with different seeds, a different model
  seed each time — for ``--seeds`` replicates (≥ 40 for the figure): share of 95 % CIs that
  cover 0.5 (target ≥ 95 %), mean AUC, share of p < 0.05 (should be ≈ 5 %).
- ``--quick``: all three at a tiny size (the test suite runs it to keep this script working).

``--figures DIR`` writes the occlusion maps of the power cases as PNGs (for the docs);
``--csv FILE`` the per-seed null results. Phantom populations are cached in ``--cache``.

    .venv/bin/python bench/detectability.py                 # speed + power at 500 + 500, 64²
    .venv/bin/python bench/detectability.py --null --seeds 40
    .venv/bin/python bench/detectability.py --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def population(n: int, size: int, seed: int, cache: Path | None) -> np.ndarray:
    from ganaudit.gan_models.phantom import make_population

    path = None if cache is None else cache / f"phantom-{n}-{size}-{seed}.npy"
    if path is not None and path.exists():
        return np.load(path)
    images, _ = make_population(n, size, seed=seed)
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, images)
    return images


def checkerboard(images: np.ndarray, share: float) -> np.ndarray:
    """Add a one-pixel checkerboard of ±share, then clip to [-1, 1]: its peak-to-peak height
    2·share is ``share`` of the intensity range (2)."""
    size = images.shape[1]
    yy, xx = np.mgrid[:size, :size]
    pattern = np.where((yy + xx) % 2 == 0, share, -share).astype(np.float32)
    return np.clip(images + pattern, -1, 1)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    return np.stack([ndimage.gaussian_filter(img, sigma) for img in images]).astype(np.float32)


def blob_centre(size: int) -> tuple[int, int]:
    """Inside the head, upper right: away from the centre and the rim."""
    return int(round(size * 0.35)), int(round(size * 0.65))


def plant_blob(images: np.ndarray, amplitude: float, sigma: float) -> np.ndarray:
    size = images.shape[1]
    cy, cx = blob_centre(size)
    yy, xx = np.mgrid[:size, :size]
    bump = amplitude * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    return np.clip(images + bump.astype(np.float32), -1, 1)


def head_mask(real: np.ndarray) -> np.ndarray:
    """Pixels inside the head on the mean real image (air is ≈ -1)."""
    return real.mean(axis=0) > -0.8


def head_coverage(saliency: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Share of head pixels where the map is positive, and the weakest head quadrant's mean
    map value relative to the strongest (1 = even; ≤ 0 = one quadrant carries nothing)."""
    size = saliency.shape[0]
    half = size // 2
    quadrants = []
    for rows in (slice(0, half), slice(half, size)):
        for cols in (slice(0, half), slice(half, size)):
            q = mask[rows, cols]
            quadrants.append(float(saliency[rows, cols][q].mean()) if q.any() else 0.0)
    return {"positive_share": float((saliency[mask] > 0).mean()),
            "quadrant_balance": min(quadrants) / max(quadrants) if max(quadrants) > 0 else 0.0}


def peak_distance(saliency: np.ndarray) -> float:
    cy, cx = blob_centre(saliency.shape[0])
    py, px = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return float(np.hypot(py - cy, px - cx))


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run_speed(args, settings_kw: dict) -> None:
    from ganaudit.evaluation.detectability import SCORING_MAX_PER_SET, DetectabilitySettings, detectability

    real = population(args.n, args.size, 11, args.cache)
    fake = population(args.n, args.size, 12, args.cache)
    settings = DetectabilitySettings(max_per_set=max(SCORING_MAX_PER_SET, args.n), **settings_kw)
    print(f"speed: {args.n} real + {args.n} generated at {args.size}², {settings.folds} folds, "
          f"{settings.epochs} epochs (≥ {settings.min_steps} steps), batch {settings.batch_size}; "
          f"load before {load()}", flush=True)
    for label in ("first call (Keras start-up, tracing)", "next checkpoint"):
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = detectability(real, fake, settings=settings)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        print(f"  {label:40s} {wall:6.1f} s wall, {cpu:6.1f} s CPU  (AUC {result.summary['auc']:.3f}); "
              f"load {load()}", flush=True)
    print(f"  target ≤ 30 s per checkpoint on 2 CPU cores: {wall:.1f} s wall "
          f"({'met' if wall <= 30 else 'NOT MET'}; measured at the load shown)", flush=True)


def run_power(args, settings_kw: dict) -> dict:
    from ganaudit.evaluation.detectability import DetectabilitySettings, detectability

    real = population(args.n, args.size, 11, args.cache)
    honest = population(args.n, args.size, 12, args.cache)
    mask = head_mask(real)
    blob_sigma = max(1.0, args.size / 32)
    cases = {
        "checkerboard 3 %": (checkerboard(honest, 0.03), 0.9),
        "blur σ 0.8 px": (blur(honest, 0.8), 0.8),
        f"blob +{args.blob:.2f}, σ {blob_sigma:.0f} px": (plant_blob(honest, args.blob, blob_sigma), None),
    }
    settings = DetectabilitySettings(**settings_kw)
    print(f"power: {args.n} real + {args.n} generated at {args.size}²; load {load()}", flush=True)
    out = {}
    for name, (fake, target) in cases.items():
        wall = time.perf_counter()
        result = detectability(real, fake, settings=settings)
        s = result.summary
        line = (f"  {name:22s} AUC {s['auc']:.3f} [{s['auc_ci_low']:.3f}, {s['auc_ci_high']:.3f}] "
                f"p {s['p_value']:.2g}, {s['n_detected']} detected")
        if target is not None:
            line += f" (target ≥ {target}: {'met' if s['auc'] >= target else 'NOT MET'})"
        sal = result.saliency
        if sal is not None and name.startswith("checker"):
            cov = head_coverage(sal, mask)
            line += (f"; map > 0 on {100 * cov['positive_share']:.0f} % of the head, weakest "
                     f"quadrant {cov['quadrant_balance']:.2f} of the strongest")
        if sal is not None and name.startswith("blob"):
            line += f"; map peak {peak_distance(sal):.1f} px from the blob centre"
        print(line + f"  [{time.perf_counter() - wall:.0f} s]", flush=True)
        out[name] = result
        if args.figures is not None and sal is not None:
            from ganaudit.evaluation.detectability import _saliency_png

            args.figures.mkdir(parents=True, exist_ok=True)
            stem = name.split()[0]
            (args.figures / f"detectability-{stem}.png").write_bytes(_saliency_png(result, real, fake))
    return out


def run_null(args, settings_kw: dict) -> None:
    import pandas as pd

    from ganaudit.evaluation.detectability import DetectabilitySettings, auc_test, detectability

    print(f"null: {args.seeds} seeds, {args.null_n} + {args.null_n} real images at {args.size}² "
          f"(two phantom populations per seed); load {load()}", flush=True)
    rows = []
    wall = time.perf_counter()
    for k in range(args.first_seed, args.first_seed + args.seeds):
        a = population(args.null_n, args.size, 1000 + 2 * k, args.cache)
        b = population(args.null_n, args.size, 1001 + 2 * k, args.cache)
        result = detectability(a, b, settings=DetectabilitySettings(seed=k, saliency_images=0, **settings_kw))
        s = result.summary
        covers = s["auc_ci_low"] <= 0.5 <= s["auc_ci_high"]
        # The same scores with plain DeLong / Mann-Whitney variances, side by side.
        plain = auc_test(result.table["score"], result.table["label"], alpha=s["settings"]["alpha"])
        rows.append({"seed": k, "auc": s["auc"], "auc_ci_low": s["auc_ci_low"],
                     "auc_ci_high": s["auc_ci_high"], "p_value": s["p_value"], "covers": covers,
                     "plain_ci_low": plain["ci_low"], "plain_ci_high": plain["ci_high"],
                     "plain_p_value": plain["p_value"],
                     "plain_covers": plain["ci_low"] <= 0.5 <= plain["ci_high"]})
        print(f"  seed {k:3d}: AUC {s['auc']:.3f} [{s['auc_ci_low']:.3f}, {s['auc_ci_high']:.3f}] "
              f"p {s['p_value']:.3f}{'' if covers else '  <- CI misses 0.5'}", flush=True)
    table = pd.DataFrame(rows)
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
    covered = int(table["covers"].sum())
    plain = int(table["plain_covers"].sum())
    print(f"null: CI covers 0.5 in {covered}/{len(table)} seeds ({100 * covered / len(table):.1f} %; "
          f"target ≥ 95 %); mean AUC {table['auc'].mean():.3f} (sd {table['auc'].std():.3f}); "
          f"p < 0.05 in {int((table['p_value'] < 0.05).sum())}/{len(table)}; "
          f"{time.perf_counter() - wall:.0f} s; load {load()}", flush=True)
    print(f"      plain DeLong/Mann-Whitney variances (factor 1) on the same scores: CI covers 0.5 in "
          f"{plain}/{len(table)}, p < 0.05 in {int((table['plain_p_value'] < 0.05).sum())}/{len(table)}",
          flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--speed", action="store_true")
    p.add_argument("--power", action="store_true")
    p.add_argument("--null", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    p.add_argument("--n", type=int, default=500, help="images per set (speed, power)")
    p.add_argument("--null-n", type=int, default=None, help="images per set for --null (default --n)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seeds", type=int, default=40)
    p.add_argument("--first-seed", type=int, default=0,
                   help="--null replicates use seeds FIRST … FIRST+SEEDS-1 (another range: an independent study)")
    p.add_argument("--blob", type=float, default=0.3, help="amplitude of the planted blob")
    p.add_argument("--cache", type=Path, default=Path("/tmp/ganaudit-bench-detectability"))
    p.add_argument("--figures", type=Path, default=None)
    p.add_argument("--csv", type=Path, default=None)
    args = p.parse_args(argv)
    settings_kw: dict = {}
    if args.quick:
        args.speed = args.power = args.null = True
        args.n, args.size, args.seeds, args.cache = 40, 32, 2, None
        settings_kw = {"epochs": 2, "min_steps": 4}
    elif not (args.speed or args.power or args.null):
        args.speed = args.power = True
    args.null_n = args.null_n or args.n
    if args.speed:
        run_speed(args, settings_kw)
    if args.power:
        run_power(args, settings_kw)
    if args.null:
        run_null(args, settings_kw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
