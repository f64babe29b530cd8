"""Benchmark: our Fréchet distance vs the scipy.linalg.sqrtm route, and per-checkpoint metric cost.

Part 1 (the issue's target): d = 2048, N = 10,000 correlated random features per set. The
covariances are computed once; then the same (μ, Σ) go through
- ours: Cholesky Σ1 = L Lᵀ, values-only symmetric eigensolver on Lᵀ Σ2 L, Σ √λ;
- the pytorch-fid / clean-fid route: sqrtm(Σ1 Σ2) with scipy.linalg.sqrtm, imaginary part
  dropped.
Target: ours ≥ 10× faster, |Δ| / FD ≤ 1e-6.

Part 2: the distribution metrics at the per-checkpoint size (5,000 real × 2,000 generated,
D = 414 radiomic-sized features): FD, FD∞, the FD interval (default Gaussian draws and the
resampling used before), KID (100 × 1,000), precision/recall, density/coverage; and radiomics
extraction throughput at 64², today's extractor next to the one before issue 15.

Run quietly (nothing else on the machine) for figures worth recording:

    .venv/bin/python bench/frechet.py                      # full run, prints a Markdown table
    .venv/bin/python bench/frechet.py --write docs/benchmarks/frechet.md --device "…"
    .venv/bin/python bench/frechet.py --d 512 --n 3000     # quick look
    .venv/bin/python bench/frechet.py --quick              # smoke check (the test suite runs it)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganaudit.evaluation.frechet import (  # noqa: E402
    fd_bootstrap_ci,
    fd_infinity,
    features_to_statistics,
    frechet_distance,
    frechet_distance_from_features,
)


def correlated_features(rng: np.random.Generator, n: int, d: int, *, shift: float, scale: float) -> np.ndarray:
    """Rows z @ A with a random mixing A (decaying spectrum, like network features)."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    spectrum = 1.0 / np.sqrt(1.0 + np.arange(d))
    mixing = (q * spectrum) @ np.linalg.qr(rng.normal(size=(d, d)))[0]
    return rng.normal(size=(n, d)) @ mixing * scale + shift


def sqrtm_route(mu1, sigma1, mu2, sigma2) -> float:
    """FD as pytorch-fid / clean-fid compute it: sqrtm of the non-symmetric Σ1 Σ2, real part."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real  # dropped, as those libraries do
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def timed(fn, *args, repeat: int = 1, **kwargs):
    """Best wall time and the CPU time (all threads) of that run, and the result.

    On a shared machine the CPU time is the steadier figure: waiting for a core is not counted.
    """
    best, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn(*args, **kwargs)
        wall = time.perf_counter() - start
        if wall < best:
            best, cpu = wall, time.process_time() - start_cpu
    return best, cpu, result


def part_fd(d: int, n: int, repeat: int) -> list[str]:
    rng = np.random.default_rng(0)
    print(f"generating 2 × {n} × {d} correlated features ...", flush=True)
    a = correlated_features(rng, n, d, shift=0.0, scale=1.0)
    b = correlated_features(rng, n, d, shift=0.01, scale=1.05)
    mu1, s1 = features_to_statistics(a)
    mu2, s2 = features_to_statistics(b)
    t_ours, c_ours, fd_ours = timed(frechet_distance, mu1, s1, mu2, s2, repeat=repeat)
    print(f"ours:  {t_ours:.3f} s wall, {c_ours:.3f} s CPU  FD = {fd_ours:.10g}", flush=True)
    t_sqrtm, c_sqrtm, fd_sqrtm = timed(sqrtm_route, mu1, s1, mu2, s2, repeat=1)
    print(f"sqrtm: {t_sqrtm:.3f} s wall, {c_sqrtm:.3f} s CPU  FD = {fd_sqrtm:.10g}", flush=True)
    rel = abs(fd_ours - fd_sqrtm) / abs(fd_ours)
    print(f"speed-up {t_sqrtm / t_ours:.1f}× wall, {c_sqrtm / c_ours:.1f}× CPU; |Δ|/FD = {rel:.2e}", flush=True)
    return [
        f"| FD, d = {d}, N = {n} per set: ours (Cholesky + eigvalsh) | {t_ours:.3f} s | {c_ours:.3f} s | FD = {fd_ours:.8g} |",
        f"| FD, same covariances: scipy.linalg.sqrtm(Σ1 Σ2) route | {t_sqrtm:.3f} s | {c_sqrtm:.3f} s | FD = {fd_sqrtm:.8g} |",
        f"| speed-up; relative difference | {t_sqrtm / t_ours:.1f}× | {c_sqrtm / c_ours:.1f}× | \\|Δ\\|/FD = {rel:.1e} |",
    ]


def part_checkpoint(n_real: int, n_fake: int, d: int) -> list[str]:
    from ganaudit.evaluation.kid import kid
    from ganaudit.evaluation.prdc import density_coverage, precision_recall

    rng = np.random.default_rng(1)
    real = correlated_features(rng, n_real, d, shift=0.0, scale=1.0)
    fake = correlated_features(rng, n_fake, d, shift=0.05, scale=1.1)
    rows = []
    for label, fn in [
        ("FD", lambda: frechet_distance_from_features(real, fake)),
        ("FD∞ (15 subsets)", lambda: fd_infinity(real, fake)),
        ("FD interval (Gaussian draws, 50; the default)", lambda: fd_bootstrap_ci(real, fake)),
        ("FD interval (resampled rows, 200; before)", lambda: fd_bootstrap_ci(real, fake, method="resample")),
        (f"KID (100 subsets of {min(1000, n_fake):,})", lambda: kid(real, fake, subset_size=min(1000, n_fake))),
        ("precision/recall (k = 3)", lambda: precision_recall(real, fake)),
        ("density/coverage (k = 5)", lambda: density_coverage(real, fake)),
    ]:
        seconds, cpu, _ = timed(fn)
        print(f"{label}: {seconds:.3f} s wall, {cpu:.3f} s CPU", flush=True)
        rows.append(f"| {label}, {n_real} real × {n_fake} generated, D = {d} | {seconds:.3f} s | {cpu:.3f} s | |")
    return rows


def part_radiomics(n: int, size: int) -> list[str]:
    """Radiomics throughput, today's extractor and the one before the speed-up (kept in the tests
    as the oracle), on the same phantom slices, alternating so that load hits both alike."""
    from threadpoolctl import threadpool_limits

    from ganaudit.evaluation.features import extract, get_extractor
    from ganaudit.gan_models.phantom import make_population
    from tests.evaluation.radiomics_before_speedup import RadiomicsExtractor as Before

    images = make_population(n, size, seed=7)[0].astype(np.float32)
    extractors = {"radiomics extraction (today)": get_extractor("radiomics"),
                  "radiomics extraction (before issue 15)": Before()}
    best = {}
    with threadpool_limits(limits=1):
        for extractor in extractors.values():
            extractor(images[:8])  # warm up imports
        for _ in range(2):
            for label, extractor in extractors.items():
                seconds, cpu, features = timed(extract, images, extractor, cache=False, progress=False)
                if label not in best or cpu < best[label][1]:
                    best[label] = (seconds, cpu)
    rows = []
    for label, (seconds, cpu) in best.items():
        print(f"{label}: {n / seconds:.0f} images/s wall, {n / cpu:.0f} images/s CPU at {size}²", flush=True)
        rows.append(f"| {label}, {n} phantom slices at {size}², BLAS 1 thread | {seconds:.2f} s | {cpu:.2f} s | "
                    f"{n / seconds:.0f} images/s wall, {n / cpu:.0f} images/s per CPU second |")
    (_, new_cpu), (_, old_cpu) = best.values()
    rows.append(f"| radiomics speed-up (CPU time, same run) | | | {old_cpu / new_cpu:.2f}× |")
    print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=2048, help="feature dimension for part 1 (default 2048)")
    parser.add_argument("--n", type=int, default=10_000, help="samples per set for part 1 (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of our FD (best time is kept)")
    parser.add_argument("--skip-fd", action="store_true", help="skip part 1")
    parser.add_argument("--skip-checkpoint", action="store_true", help="skip part 2")
    parser.add_argument("--device", default="2-core CPU container, shared during development",
                        help="how to describe the machine in the written table")
    parser.add_argument("--write", type=Path, help="write the results as Markdown to this file (atomically)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke check; the test suite runs it)")
    args = parser.parse_args(argv)
    sizes = dict(checkpoint=(5000, 2000, 414), radiomics=(512, 64))
    if args.quick:
        args.d, args.n, args.repeat = 128, 600, 1
        sizes = dict(checkpoint=(400, 150, 64), radiomics=(32, 64))

    rows = []
    if not args.skip_fd:
        rows += part_fd(args.d, args.n, args.repeat)
    if not args.skip_checkpoint:
        rows += part_checkpoint(*sizes["checkpoint"])
        rows += part_radiomics(*sizes["radiomics"])
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    text = "\n".join([
        "# Benchmark: Fréchet distance and per-checkpoint metrics",
        "",
        f"Device: {args.device}; {os.cpu_count()} CPUs visible, BLAS threads: {threads}; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}.",
        "Command: `.venv/bin/python bench/frechet.py`",
        "",
        "| what | wall time | CPU time | result |",
        "|---|---|---|---|",
        *rows,
        "",
    ])
    print()
    print(text)
    if args.write:
        from ganaudit.gan_models.atomic import write_text

        write_text(args.write, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
