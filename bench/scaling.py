"""How the cost of scoring one checkpoint grows with the number of generated and real images.

Two sweeps at 64², radiomic features, every metric and both audits timed stage by stage as
``ganaudit.evaluation.scoring2d`` runs them (BLAS on one thread, as scoring does):

- generated images N_gen ∈ {500, 1000, 2000, 5000} against 5,000 real images;
- real (training) images N_real ∈ {1000, 2000, 5000, 10000, 20000} against 2,000 generated.

For each stage the exponent b of time ∝ N^b is fitted (least squares on log–log) along each
sweep: b ≈ 1 is linear, b ≈ 2 quadratic. The real-image features are computed once per run (and
cached), so they are timed once per real-set size but not counted per checkpoint.

    .venv/bin/python bench/scaling.py            # both sweeps (tens of CPU minutes; makes 21,000 phantom slices once)
    .venv/bin/python bench/scaling.py --reduced  # N_gen ≤ 2,000, N_real ≤ 5,000 (a few CPU minutes)
    .venv/bin/python bench/scaling.py --quick    # tiny sizes (the test suite runs it)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# Which stages are quadratic in which set, by construction (what the fitted exponents check).
QUADRATIC = {
    "precision / recall (k = 3)": "k-NN radii within each set and ball tests across: N_real² + N_gen² + N_real·N_gen",
    "density / coverage (k = 5)": "N_real² (radii, cached per run) + N_real·N_gen",
    "KID (100 subsets)": "kernel rows of the subsets: (N_real + N_gen)² when the subsets cover the sets",
    "memorization audit": "invariant NCC shortlist: N_gen·N_real (and N_held·N_real, once per run)",
}


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def checkpoint_stages(real_img, real_raw, held_img, held_raw, gen_img, extractor, detector, labels
                      ) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each per-checkpoint stage (real features given)."""
    from ganaudit.evaluation import nn_search
    from ganaudit.evaluation.features import extract, zscore_with_reference
    from ganaudit.evaluation.findings import findings_audit
    from ganaudit.evaluation.frechet import fd_bootstrap_ci, fd_infinity, frechet_distance_from_features
    from ganaudit.evaluation.kid import kid
    from ganaudit.evaluation.memorization import memorization_audit
    from ganaudit.evaluation.prdc import _NEIGHBOUR_CACHE, density_coverage, precision_recall

    stages = {}
    gen_raw, w, c = timed(lambda: extract(gen_img, extractor, cache=False, progress=False))
    stages["generated features"] = (w, c)
    real, held, fake = zscore_with_reference(real_raw, held_raw, gen_raw)
    fd, w, c = timed(lambda: frechet_distance_from_features(real, fake))
    stages["FD"] = (w, c)
    for name, fn in [
        ("FD interval (50 Gaussian draws)", lambda: fd_bootstrap_ci(real, fake)),
        ("FD∞ (15 subset sizes)", lambda: fd_infinity(real, fake)),
        ("KID (100 subsets)", lambda: kid(real, fake, subset_size=min(1000, len(real), len(fake)))),
    ]:
        stages[name] = timed(fn)[1:]
    # The real set's k-NN radii are cached per run: time them as a further checkpoint does,
    # after one warm-up call.
    _NEIGHBOUR_CACHE.clear()
    precision_recall(real[:, :1], fake[:, :1], k=3)
    stages["real k-NN radii (once per run)"] = timed(lambda: (precision_recall(real, real[:20], k=3),
                                                              density_coverage(real, real[:20], k=5)))[1:]
    stages["precision / recall (k = 3)"] = timed(lambda: precision_recall(real, fake, k=3))[1:]
    stages["density / coverage (k = 5)"] = timed(lambda: density_coverage(real, fake, k=5))[1:]

    def audit():
        return memorization_audit(real_img, held_img, gen_img, train_features=real, generated_features=fake,
                                  heldout_features=held, real_fd=fd)

    nn_search.clear_caches()
    stages["memorization audit, first checkpoint"] = timed(audit)[1:]
    stages["memorization audit"] = timed(audit)[1:]  # training set prepared, held-out search remembered
    if detector is not None:
        detector(gen_img[:1])  # calibration, once per process
        # The detector reads the training images once per run (as prepare_reference does).
        real_detected, wall, cpu = timed(lambda: detector(real_img))
        stages["findings: detector on the real set (once per run)"] = (wall, cpu)
        stages["findings audit"] = timed(lambda: findings_audit(real_img, gen_img, detector, real_labels=labels,
                                                                real_detected=real_detected))[1:]
    return stages


PER_CHECKPOINT = ["generated features", "FD", "FD interval (50 Gaussian draws)", "FD∞ (15 subset sizes)",
                  "KID (100 subsets)", "precision / recall (k = 3)", "density / coverage (k = 5)",
                  "memorization audit", "findings audit"]
ONCE = ["real features", "real k-NN radii (once per run)", "memorization audit, first checkpoint",
        "findings: detector on the real set (once per run)"]


def exponent(sizes, seconds) -> float:
    x, y = np.log(np.asarray(sizes, float)), np.log(np.maximum(np.asarray(seconds, float), 1e-4))
    return float(np.polyfit(x, y, 1)[0]) if len(set(sizes)) > 1 else float("nan")


def table(axis: str, sizes, results, fixed: str) -> list[str]:
    names = [n for n in ONCE + PER_CHECKPOINT if all(n in r for r in results)]
    lines = [f"\n{axis} sweep ({fixed}); CPU seconds, BLAS 1 thread\n",
             "| stage | " + " | ".join(f"{s:,}" for s in sizes) + " | exponent |",
             "|---|" + "---|" * (len(sizes) + 1)]
    for name in names:
        cpu = [r[name][1] for r in results]
        label = name + (" (once per run)" if name in ONCE and "once" not in name and "first" not in name else "")
        lines.append(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cpu) + f" | {exponent(sizes, cpu):.2f} |")
    per = [sum(r[n][1] for n in PER_CHECKPOINT if n in r) for r in results]
    wall = [sum(r[n][0] for n in PER_CHECKPOINT if n in r) for r in results]
    lines.append("| **per further checkpoint (CPU)** | " + " | ".join(f"**{p:.1f}**" for p in per)
                 + f" | {exponent(sizes, per):.2f} |")
    lines.append("| per further checkpoint (wall) | " + " | ".join(f"{p:.1f}" for p in wall) + " | |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke check)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "ganaudit-bench-score"))
    parser.add_argument("--no-findings", action="store_true", help="skip the findings audit")
    parser.add_argument("--reduced", action="store_true",
                        help="N_gen 500–2,000 and N_real 1,000–5,000 only (a few CPU minutes)")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from ganaudit.evaluation.detectors import get_detector
    from ganaudit.evaluation.features import extract, get_extractor
    from score_checkpoint import population

    if args.quick:
        gen_sizes, real_sizes, fixed_real, fixed_gen, n_held = [40, 80], [120, 240], 120, 40, 40
    elif args.reduced:
        gen_sizes, real_sizes, fixed_real, fixed_gen, n_held = [500, 1000, 2000], [1000, 2000, 5000], 5000, 2000, 1000
    else:
        gen_sizes, real_sizes, fixed_real, fixed_gen, n_held = ([500, 1000, 2000, 5000],
                                                                [1000, 2000, 5000, 10000, 20000], 5000, 2000, 1000)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    n_real_max = max(real_sizes + [fixed_real])
    pool, labels = population(workdir, n_real_max + n_held, 64, seed=1)
    gen_pool = population(workdir, max(gen_sizes + [fixed_gen]), 64, seed=2)[0]
    real_img, held_img = pool[:n_real_max], pool[n_real_max:]
    extractor = get_extractor("radiomics")
    detector = None if args.no_findings else get_detector("builtin:phantom")
    print(f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f} at start", flush=True)

    with threadpool_limits(limits=1):
        held_raw = extract(held_img, extractor, cache=False, progress=False)
        real_raw_all, w, c = timed(lambda: extract(real_img, extractor, cache=False, progress=False))
        rate = len(real_img) / c
        print(f"real features: {len(real_img)} images in {c:.1f} s CPU ({rate:.0f} images/s)", flush=True)

        def run(n_real, n_gen):
            stages = checkpoint_stages(real_img[:n_real], real_raw_all[:n_real], held_img, held_raw,
                                       gen_pool[:n_gen], extractor, detector, labels.iloc[:n_real])
            stages["real features"] = (n_real / rate, n_real / rate)  # at the measured rate
            print(f"  N_real {n_real:>6}, N_gen {n_gen:>5}: per further checkpoint "
                  f"{sum(stages[n][1] for n in PER_CHECKPOINT if n in stages):.1f} s CPU", flush=True)
            return stages

        # One untimed pass first: imports, the detector's calibration and first-call costs
        # would otherwise land on the smallest size and flatten the fitted exponents.
        print("  (warm-up, not counted)", flush=True)
        run(min(real_sizes), min(gen_sizes))
        gen_results = [run(fixed_real, n) for n in gen_sizes]
        real_results = [run(n, fixed_gen) for n in real_sizes]
    lines = table("Generated-image", gen_sizes, gen_results, f"{fixed_real:,} real, {n_held:,} held-out")
    lines += table("Real-image", real_sizes, real_results, f"{fixed_gen:,} generated, {n_held:,} held-out")
    lines.append("\nQuadratic parts (by construction; the exponents above show how much of it is visible):")
    lines += [f"- {k}: {v}" for k, v in QUADRATIC.items()]
    lines.append(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
