"""Coverage and cost of the FD confidence interval, by simulation on Gaussian features.

For each scenario two Gaussian populations with a known Fréchet distance are fixed; then, many
times, a real set (N1 rows) and a generated set (N2 rows) are drawn, FD is estimated and its
95 % interval computed (``ganaudit.evaluation.frechet.fd_bootstrap_ci``). Printed per method:

- coverage of **FD at these N** — E[FD̂], the value the interval is for (FD is biased upwards at
  finite N). Its "true" value is the mean of FD̂ over ``--truth-draws`` independent draws, shown
  with its Monte Carlo error; target 93–97 %;
- coverage of the **population FD** (closed form), which an interval around FD̂ can only reach
  where the bias is small against the spread (use FD∞ for the population value);
- the mean half-width and the CPU time of one interval.

Methods: ``gaussian`` (the default: parametric draws from a bias-corrected Gaussian world,
50 draws) and ``resample`` (the nonparametric percentile bootstrap used before, 200 resamples;
fewer replications because it is slow). Then the cost at the scoring size (D = 414,
5,000 real × 2,000 generated), both methods side by side in this process.

    .venv/bin/python bench/fd_interval.py            # full run (about 15 CPU minutes)
    .venv/bin/python bench/fd_interval.py --quick    # a small check (the test suite runs it)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def populations(d: int, shift: float, seed: int):
    """Means and covariances of the real and generated Gaussians.

    Real: a random rotation of a decaying spectrum (like image features). Generated: the same
    covariance mixed along its top directions and scaled by 1.1, mean moved by ``shift`` · z.
    """
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    spectrum = 1.0 / (1.0 + np.arange(d))
    sigma1 = (q * spectrum) @ q.T * d / spectrum.sum()
    q2 = np.linalg.qr(rng.normal(size=(d, d)))[0]
    mix = np.eye(d) + 0.15 * (q2 * spectrum) @ q2.T
    sigma2 = mix @ sigma1 @ mix.T * 1.1
    return np.zeros(d), sigma1, shift * rng.normal(size=d) * 0.05, sigma2


def scenario(name, d, n1, n2, shift, *, replications, resample_replications, truth_draws, seed):
    from threadpoolctl import threadpool_limits

    from ganaudit.evaluation.frechet import fd_bootstrap_ci, frechet_distance, frechet_distance_from_features

    mu1, sigma1, mu2, sigma2 = populations(d, shift, seed)
    l1, l2 = np.linalg.cholesky(sigma1), np.linalg.cholesky(sigma2)
    rng = np.random.default_rng(seed + 1)

    def draw():
        return mu1 + rng.standard_normal((n1, d)) @ l1.T, mu2 + rng.standard_normal((n2, d)) @ l2.T

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        population_fd = frechet_distance(mu1, sigma1, mu2, sigma2)
        values = np.array([frechet_distance_from_features(*draw()) for _ in range(truth_draws)])
        at_n, at_n_error = float(values.mean()), float(values.std(ddof=1) / np.sqrt(truth_draws))
        for method, reps in (("gaussian", replications), ("resample", resample_replications)):
            if reps == 0:
                continue
            hit_n = hit_pop = 0
            widths, cpu = [], 0.0
            for r in range(reps):
                real, fake = draw()
                estimate = frechet_distance_from_features(real, fake)
                start = time.process_time()
                low, high = fd_bootstrap_ci(real, fake, method=method, seed=r)
                cpu += time.process_time() - start
                hit_n += low <= at_n <= high
                hit_pop += low <= population_fd <= high
                widths.append((high - low) / 2)
                assert low <= estimate <= high
            lo, hi = scipy.stats.binomtest(hit_n, reps).proportion_ci(0.95)
            rows.append(f"| {name} | {d} | {n1} / {n2} | {population_fd:.3f} | {at_n:.3f} ± {at_n_error:.3f} "
                        f"| sd {values.std(ddof=1):.3f} | {method} | {reps} | **{100 * hit_n / reps:.1f} %** "
                        f"({100 * lo:.0f}–{100 * hi:.0f}) | {100 * hit_pop / reps:.1f} % | {np.mean(widths):.3f} "
                        f"| {cpu / reps:.3f} s |")
            print(rows[-1], flush=True)
    return rows


def cost_at_scoring_size(d: int, n1: int, n2: int, seed: int) -> list[str]:
    from threadpoolctl import threadpool_info, threadpool_limits

    from ganaudit.evaluation.frechet import fd_bootstrap_ci, frechet_distance_from_features

    mu1, sigma1, mu2, sigma2 = populations(d, 2.0, seed)
    rng = np.random.default_rng(seed)
    real = mu1 + rng.standard_normal((n1, d)) @ np.linalg.cholesky(sigma1).T
    fake = mu2 + rng.standard_normal((n2, d)) @ np.linalg.cholesky(sigma2).T
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        kernel = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})"
                  for i in threadpool_info() if i["user_api"] == "blas"]
        estimate = frechet_distance_from_features(real, fake)
        for method in ("gaussian", "resample"):
            wall, cpu = time.perf_counter(), time.process_time()
            low, high = fd_bootstrap_ci(real, fake, method=method)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows.append(f"| {method} | D = {d}, {n1} × {n2} | {wall:.2f} s | {cpu:.2f} s | "
                        f"FD {estimate:.3f}, interval {low:.3f}–{high:.3f} |")
            print(rows[-1], flush=True)
    rows.append(f"| BLAS (1 thread) | {', '.join(kernel)} | | | |")
    print(rows[-1])
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few replications (a smoke check)")
    parser.add_argument("--replications", type=int, default=1000, help="intervals per scenario (gaussian)")
    parser.add_argument("--resample-replications", type=int, default=200,
                        help="intervals per scenario for the slow resample method (0: skip)")
    parser.add_argument("--truth-draws", type=int, default=2000, help="draws that fix E[FD at these N]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.quick:
        # (name, D, N1, N2, mean shift), replications, cost size
        scenarios = [("quick, small FD", 12, 150, 60, 0.0), ("quick, large FD", 12, 150, 60, 12.0)]
        reps, resample_reps, truth, cost = 40, 10, 200, (30, 300, 120)
    else:
        # D / N as at the scoring size (414 / 5,000 and 414 / 2,000), at D = 50 so that 1,000
        # replications stay affordable; then a low-dimensional case where the bias is small.
        scenarios = [("scoring-like, FD ≈ bias", 50, 600, 250, 0.0),
                     ("scoring-like, FD ≈ E[FD̂] / 2", 50, 600, 250, 4.0),
                     ("scoring-like, FD ≈ 3.5 × bias", 50, 600, 250, 10.0),
                     ("low-dimensional", 8, 2000, 2000, 3.0)]
        reps, resample_reps, truth, cost = args.replications, args.resample_replications, args.truth_draws, (414, 5000, 2000)

    print(f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}; BLAS threads 1\n")
    header = ("| scenario | D | N real / gen | population FD | E[FD̂] at these N | spread of FD̂ | method | "
              "intervals | covers E[FD̂] (95 % CI) | covers population FD | mean half-width | CPU per interval |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(header)
    rows = []
    for k, (name, d, n1, n2, shift) in enumerate(scenarios):
        rows += scenario(name, d, n1, n2, shift, replications=reps, resample_replications=resample_reps,
                         truth_draws=truth, seed=args.seed + 10 * k)
    print("\ncost of one interval at the scoring size (Gaussian features):")
    print("| method | size | wall | CPU | result |\n|---|---|---|---|---|")
    cost_at_scoring_size(*cost, seed=args.seed)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
