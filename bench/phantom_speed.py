"""Benchmark: phantom population speed and variety.

Times, in a fresh process: loading the MNI152 template and deriving its fields (once per
process), preparing the grid for a pixel size (once per size), then generating N slices
(default 1,000 at 64², target < 60 s on 2 CPU cores). Also reports the variety of the slices
(median / max pairwise normalised cross-correlation; the issue's prototype gave 0.63 / 0.92)
and the measured prevalences.

    .venv/bin/python bench/phantom_speed.py                         # prints the figures
    .venv/bin/python bench/phantom_speed.py --write docs/benchmarks/phantom.md \\
        --device "2-core CPU container, quiet"
    .venv/bin/python bench/phantom_speed.py --grid docs/img/phantom-grid.png   # docs picture
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganaudit.gan_models import phantom  # noqa: E402


def pairwise_ncc(images: np.ndarray) -> np.ndarray:
    x = images.reshape(len(images), -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (x @ x.T)[np.triu_indices(len(x), 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed generations (best kept)")
    parser.add_argument("--device", default="2-core CPU container, shared during development")
    parser.add_argument("--write", type=Path, help="write the Markdown results here")
    parser.add_argument("--grid", type=Path, help="also save a 8x4 grid at 128² here")
    parser.add_argument("--quick", action="store_true",
                        help="20 slices, one timed run: checks that the benchmark still works (tests)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 20, 1

    t0 = time.perf_counter()
    phantom._base_template()
    t_template = time.perf_counter() - t0
    t0 = time.perf_counter()
    phantom._template_for_pixel(round(phantom.FOV_MM / args.size, 4))
    t_prepare = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        images, labels = phantom.make_population(args.n, args.size, seed=args.seed)
        times.append(time.perf_counter() - t0)
    best = min(times)
    sample = images[: min(len(images), 1000)]
    ncc = pairwise_ncc(sample)
    rows = [
        ("device", args.device),
        ("CPU cores visible", str(os.cpu_count())),
        ("python / numpy", f"{platform.python_version()} / {np.__version__}"),
        ("template load + fields (once per process)", f"{t_template:.2f} s"),
        (f"grid for {args.size}² (once per size)", f"{t_prepare:.2f} s"),
        (f"{args.n} slices at {args.size}² (best of {args.repeats})",
         f"{best:.2f} s ({args.n / best:,.0f} slices/s; all runs: "
         + ", ".join(f"{t:.2f}" for t in times) + " s)"),
        (f"pairwise NCC over {len(sample)} slices: median / 95th pct / max",
         f"{np.median(ncc):.3f} / {np.percentile(ncc, 95):.3f} / {ncc.max():.3f}"),
        ("lesion prevalence (configured 0.3)", f"{labels['lesion'].mean():.3f}"),
        ("enlarged-ventricle prevalence (configured 0.3)",
         f"{labels['enlarged_ventricles'].mean():.3f}"),
        ("lesions in the left hemisphere", f"{(labels.loc[labels['lesion'] == 1, 'lesion_side'] == 'left').mean():.0%}"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    if args.write:
        from ganaudit.gan_models.atomic import write_text

        write_text(args.write, "# Phantom population speed\n\n"
                   "Measured with `.venv/bin/python bench/phantom_speed.py`"
                   f" (n={args.n}, size={args.size}, seed={args.seed}).\n\n" + table + "\n\n"
                   "Target (issue 3): at least 1,000 slices at 64² in under a minute on 2 CPU "
                   "cores; the issue's prototype gave median/max NCC 0.63/0.92.\n")
        print(f"wrote {args.write}")
    if args.grid:
        grid_images, grid_labels = phantom.make_population(32, 128, seed=args.seed)
        phantom.plot_population(grid_images, grid_labels, args.grid)
        print(f"wrote {args.grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
