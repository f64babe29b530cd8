"""Simulation checks of the checkpoint comparison (or_compare) and of the planner (study plan).

1. Null rate, split design: identical checkpoints (the same fake distribution), real cases
   shared, each checkpoint its own fakes. The share of simulated studies with p < 0.05 must
   be 5 % ± 2 %; printed with its exact binomial 95 % interval, for jackknife and DeLong
   covariances, on three designs.
2. Planner vs simulation: variance components measured on simulated pilot studies (averaged
   over pilots), the planner's power for a design, and the share of simulated studies of
   that design that reject, side by side; for a difference between two checkpoints at the
   pilot's size, at twice the cases and with more readers, and for detection of one
   checkpoint against AUC 0.5.

Usage::

    python bench/mrmc_validation.py            # 2000 null studies per design, 1000 per power row
    python bench/mrmc_validation.py --quick    # a few hundred (what the test suite runs)

The last line is a JSON summary (used by the test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganaudit.reader_study.mrmc import or_analysis, or_compare  # noqa: E402
from ganaudit.reader_study.power import (VarianceComponents, components_from_scores, power_comparison,  # noqa: E402
                                power_detection, simulate_split_study)

NULL_DESIGNS = [  # (readers, real cases, fakes per checkpoint, checkpoints)
    (5, 40, 20, 2),
    (3, 20, 10, 2),
    (8, 60, 20, 3),
]
# Latent-score model of the power checks (see simulate_split_study).
MODEL = {"sd_case": 0.7, "sd_reader_case": 0.7, "sd_reader": 0.3, "sd_reader_condition": 0.2}


def _rate(hits: int, n: int) -> tuple[float, float, float]:
    ci = stats.binomtest(hits, n).proportion_ci(method="exact")
    return hits / n, float(ci.low), float(ci.high)


def null_rates(n_studies: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for readers, n_real, n_fake, t in NULL_DESIGNS:
        hits = {"jackknife": 0, "delong": 0}
        for _ in range(n_studies):
            scores, truth = simulate_split_study(rng, readers=readers, n_real=n_real, n_fake=n_fake,
                                                 shifts=(0.5,) * t)
            for method in hits:
                hits[method] += or_compare(scores, truth, covariance=method).p_value < 0.05
        for method, h in hits.items():
            rate, lo, hi = _rate(h, n_studies)
            rows.append({"readers": readers, "n_real": n_real, "n_fake": n_fake, "checkpoints": t,
                         "covariance": method, "studies": n_studies, "rate": rate, "ci_low": lo, "ci_high": hi})
            print(f"null  {readers} readers, {n_real} real + {t} x {n_fake} fakes, {method:9s}: "
                  f"{100 * rate:5.2f} % reject (95 % CI {100 * lo:.2f}-{100 * hi:.2f} %, {n_studies} studies)",
                  flush=True)
    return rows


def pilot_components(rng, *, readers, n_real, n_fake, shifts, n_pilots) -> VarianceComponents:
    """Components averaged over simulated pilot studies of the model (the planner's input)."""
    comps = [components_from_scores(*simulate_split_study(rng, readers=readers, n_real=n_real, n_fake=n_fake,
                                                          shifts=shifts, **MODEL)) for _ in range(n_pilots)]
    mean = comps[0]
    return VarianceComponents(
        fom="auc", var_r=float(np.mean([c.var_r for c in comps])), var_tr=float(np.mean([c.var_tr for c in comps])),
        real={k: float(np.mean([c.real[k] for c in comps])) for k in mean.real},
        fake={k: float(np.mean([c.fake[k] for c in comps])) for k in mean.fake},
        n_real=n_real, n_fake=n_fake, n_readers=readers, n_conditions=len(shifts),
        source=f"mean of {n_pilots} simulated pilots")


def power_rows(n_studies: int, n_pilots: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    shifts = (0.35, 0.75)
    pilot = pilot_components(rng, readers=5, n_real=40, n_fake=20, shifts=shifts, n_pilots=n_pilots)
    # The model's true difference in mean AUC, from one very large simulated study.
    big, truth = simulate_split_study(np.random.default_rng(1), readers=200, n_real=2000, n_fake=2000,
                                      shifts=shifts, **{**MODEL, "sd_reader_condition": 0.0})
    diff = float(np.diff(or_compare(big, truth).auc_mean)[0])
    for readers, n_real, n_fake in [(5, 40, 20), (5, 80, 40), (8, 40, 20)]:
        planned = power_comparison(pilot, readers=readers, n_real=n_real, n_fake=n_fake, difference=diff)
        hits = sum(or_compare(*simulate_split_study(rng, readers=readers, n_real=n_real, n_fake=n_fake,
                                                    shifts=shifts, **MODEL)).p_value < 0.05
                   for _ in range(n_studies))
        rate, lo, hi = _rate(hits, n_studies)
        rows.append({"effect": f"difference {diff:.3f}", "readers": readers, "n_real": n_real, "n_fake": n_fake,
                     "planned": planned, "simulated": rate, "ci_low": lo, "ci_high": hi, "studies": n_studies})
        print(f"power difference {diff:.3f}, {readers} readers, {n_real} real + 2 x {n_fake} fakes: planned "
              f"{planned:.3f}, simulated {rate:.3f} (95 % CI {lo:.3f}-{hi:.3f})", flush=True)

    # Detection: one checkpoint's fakes against AUC 0.5.
    shift = (0.3,)
    pilot1 = pilot_components(rng, readers=5, n_real=40, n_fake=40, shifts=shift, n_pilots=n_pilots)
    big, truth = simulate_split_study(np.random.default_rng(2), readers=200, n_real=2000, n_fake=2000, shifts=shift,
                                      **MODEL)
    level = float(or_analysis(big[0], truth).auc)
    for readers, n_real in [(5, 40), (5, 80)]:
        planned = power_detection(pilot1, readers=readers, n_real=n_real, n_fake=n_real, value=level)
        hits = sum(or_analysis(simulate_split_study(rng, readers=readers, n_real=n_real, n_fake=n_real, shifts=shift,
                                                    **MODEL)[0][0],
                               np.r_[np.zeros(n_real, int), np.ones(n_real, int)]).p_value < 0.05
                   for _ in range(n_studies))
        rate, lo, hi = _rate(hits, n_studies)
        rows.append({"effect": f"detection AUC {level:.3f}", "readers": readers, "n_real": n_real, "n_fake": n_real,
                     "planned": planned, "simulated": rate, "ci_low": lo, "ci_high": hi, "studies": n_studies})
        print(f"power detection AUC {level:.3f}, {readers} readers, {n_real} real + {n_real} fakes: planned "
              f"{planned:.3f}, simulated {rate:.3f} (95 % CI {lo:.3f}-{hi:.3f})", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few studies (the test suite's run)")
    parser.add_argument("--null-studies", type=int, default=None, help="null studies per design (default 2000)")
    parser.add_argument("--power-studies", type=int, default=None, help="studies per power row (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_null = args.null_studies or (150 if args.quick else 2000)
    n_power = args.power_studies or (150 if args.quick else 1000)
    n_pilots = 20 if args.quick else 200
    print(f"device: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    start = time.perf_counter()
    nulls = null_rates(n_null, args.seed)
    powers = power_rows(n_power, n_pilots, args.seed + 1)
    print(f"took {time.perf_counter() - start:.0f} s")
    print(json.dumps({"null": nulls, "power": powers}))


if __name__ == "__main__":
    main()
