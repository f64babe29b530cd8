"""Time scoring one checkpoint: 2,000 generated vs 5,000 real phantom slices at 64².

Every metric and both audits, stage by stage, as ``ganaudit.evaluation.scoring2d`` runs them:

    .venv/bin/python bench/score_checkpoint.py                 # defaults of the issue
    .venv/bin/python bench/score_checkpoint.py --n-real 1000 --n-generated 500   # quick look

The real set (training) and the held-out set come from ``ganaudit.gan_models.phantom.make_population``;
the "generated" set is either a third phantom population (``--generated phantom``, default: new
subjects, so the audits do real work) or the output of a small untrained Keras generator
(``--generated untrained``, adds the generation time). Populations are cached in ``--workdir``
(making 8,000 slices takes minutes; scoring is what is timed).

Two totals are printed: *cold* (the first checkpoint of a run: real features, the findings
detector's calibration, preparing the training set for the NCC search and the held-out search,
which gives the same answer for every checkpoint) and *per further checkpoint* (all of those
reused, as ``score_run_2d`` does; the further checkpoint's audit is timed on a second set of new
images). Targets on 2 CPU cores: ≤ 25 s per further checkpoint, ≤ 60 s for the first.

    .venv/bin/python bench/score_checkpoint.py --quick   # tiny sizes (the test suite runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def population(workdir: Path, n: int, size: int, seed: int, **options):
    """Phantom images and labels, cached as .npy/.csv in ``workdir``."""
    import pandas as pd

    from ganaudit.gan_models.phantom import make_population

    tag = "-".join([f"phantom-{n}-{size}-{seed}"] + [f"{k}={v}" for k, v in sorted(options.items())])
    images_path, labels_path = workdir / f"{tag}.npy", workdir / f"{tag}.csv"
    if images_path.is_file() and labels_path.is_file():
        return np.load(images_path), pd.read_csv(labels_path)
    print(f"making {n} phantom slices at {size}² (seed {seed}), cached in {workdir} …", flush=True)
    images, labels = make_population(n, size, seed=seed, progress=True, **options)
    np.save(images_path, images)
    labels.to_csv(labels_path, index=False)
    return images, labels


def make_run(scratch: Path, train, train_labels, heldout, heldout_labels, *, size: int, latent_dim: int) -> Path:
    """A 2D run folder as ``ganaudit train2d`` writes it, with one untrained generator."""
    import keras

    run = scratch / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "data").mkdir()
    (run / "run.json").write_text(json.dumps({
        "kind": "2d", "image_size": size, "latent_dim": latent_dim, "loss": "modified", "seed": 0,
        "backend": keras.backend.backend(), "epochs": 1, "batch_size": 64,
        "data": {"source": "phantom", "n": len(train) + len(heldout)},
    }))
    np.save(run / "data" / "train.npy", train)
    np.save(run / "data" / "heldout.npy", heldout)
    train_labels.to_csv(run / "data" / "train_labels.csv", index=False)
    heldout_labels.to_csv(run / "data" / "heldout_labels.csv", index=False)
    history = "epoch,d_loss,g_loss,d_acc_real,d_acc_fake,seconds,healthy\n1,1.3,0.7,0.6,0.4,1.0,True\n"
    (run / "history.csv").write_text(history)
    small = size // 8
    generator = keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(small * small * 32, activation="relu"),
        keras.layers.Reshape((small, small, 32)),
        keras.layers.Conv2DTranspose(16, 4, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
    ])
    generator.save(run / "checkpoints" / "generator-epoch-0001.keras")
    return run


class Timer:
    """Wall time and CPU time (this process, all threads) of each stage.

    On a shared machine the wall time includes waiting for a core; the CPU time does not, and
    with one BLAS thread it is close to the wall time on a quiet core.
    """

    def __init__(self):
        self.stages: list[tuple[str, float, float, bool]] = []
        self.machine: tuple[float, float] = (0.0, 0.0)

    def __call__(self, name: str, func, *, cold_only: bool = False, counted: bool = True, machine: bool = False):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if machine:
            self.machine = (wall, cpu)
        if counted:
            self.stages.append((name, wall, cpu, cold_only))
        print(f"  {name:<52s} {wall:8.2f} s {cpu:8.2f} s", flush=True)
        return result

    def add(self, name: str, wall: float, cpu: float, *, cold_only: bool) -> None:
        self.stages.append((name, wall, cpu, cold_only))
        print(f"  {name:<52s} {wall:8.2f} s {cpu:8.2f} s", flush=True)

    def total(self, *, cold: bool) -> tuple[float, float]:
        chosen = [s for s in self.stages if cold or not s[3]]
        return sum(s[1] for s in chosen), sum(s[2] for s in chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-real", type=int, default=5000, help="training (real) images")
    parser.add_argument("--n-heldout", type=int, default=1000, help="held-out real images")
    parser.add_argument("--n-generated", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--features", default="radiomics")
    parser.add_argument("--generated", choices=["phantom", "untrained"], default="phantom")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (as score_run_2d)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "ganaudit-bench-score"))
    parser.add_argument("--quick", action="store_true", help="300 real, 100 held-out, 100 generated (a smoke check)")
    args = parser.parse_args()
    if args.quick:
        args.n_real, args.n_heldout, args.n_generated = 300, 100, 100

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=workdir))
    # A fresh feature cache: the first checkpoint's real features are really computed.
    os.environ["GANAUDIT_CACHE"] = str(scratch / "cache")
    try:
        bench(args, workdir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def bench(args, workdir: Path, scratch: Path) -> None:
    from ganaudit.evaluation import nn_search, scoring2d
    from ganaudit.evaluation.detectability import checkpoint_detectability, write_detectability
    from ganaudit.evaluation.detectors import get_detector
    from ganaudit.evaluation.findings import findings_audit, write_findings
    from ganaudit.evaluation.frechet import fd_bootstrap_ci, fd_infinity, frechet_distance_from_features
    from ganaudit.evaluation.kid import kid
    from ganaudit.evaluation.memorization import memorization_audit, write_memorization
    from ganaudit.evaluation.nn_search import invariant_nn
    from ganaudit.evaluation.prdc import density_coverage, precision_recall
    from ganaudit.gan_models.sampling import generate

    pool, pool_labels = population(workdir, args.n_real + args.n_heldout, args.size, seed=1)
    train, train_labels = pool[:args.n_real], pool_labels.iloc[:args.n_real].reset_index(drop=True)
    heldout = pool[args.n_real:]
    heldout_labels = pool_labels.iloc[args.n_real:].reset_index(drop=True)
    run = make_run(scratch, train, train_labels, heldout, heldout_labels, size=args.size, latent_dim=64)
    n = args.n_generated
    fake_pool = population(workdir, n, args.size, seed=2)[0] if args.generated == "phantom" else None
    # The images of a second checkpoint: its audit reuses what the first one prepared.
    next_pool = population(workdir, n, args.size, seed=3)[0]

    print(f"\none checkpoint: {n} generated vs {len(train)} real ({len(heldout)} held-out) at "
          f"{args.size}², features={args.features}, BLAS threads={args.threads}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}\n")
    print(f"  {'stage':<52s} {'wall':>10s} {'CPU':>10s}")
    t = Timer()
    extractor = t("build feature extractor", lambda: scoring2d._extractor(args.features, None), cold_only=True)
    with scoring2d._blas_threads(args.threads):
        reference = t("real features (train + held-out, z-scored)",
                      lambda: scoring2d.prepare_reference(run, features=args.features), cold_only=True)
        if fake_pool is None:
            generated = t("generate (untrained Keras generator)", lambda: generate(run, 1, n, seed=0))
        else:
            generated = fake_pool
        raw = t("generated features", lambda: scoring2d._features(
            generated, extractor, cache=False, what="generated"))
        fake = scoring2d._zscore(reference.train_raw, raw)[1]
        real = reference.train_features
        fd = t("FD", lambda: frechet_distance_from_features(real, fake))
        t("FD interval (50 Gaussian draws)", lambda: fd_bootstrap_ci(real, fake))
        t("FD∞ with CI (15 subset sizes)", lambda: fd_infinity(real, fake))
        t(f"KID (100 subsets of {min(1000, n, len(train))})",
          lambda: kid(real, fake, subset_size=min(1000, n, len(train))))
        t("precision / recall (k = 3)", lambda: precision_recall(real, fake, k=3))
        t("density / coverage (k = 5)", lambda: density_coverage(real, fake, k=5))
        nn_search.clear_caches()
        t("  (inside the audit: held-out × train NCC search, cold)", lambda: invariant_nn(heldout, train),
          counted=False)
        t("  (inside the audit: generated × train NCC search)", lambda: invariant_nn(generated, train),
          counted=False)
        nn_search.clear_caches()

        def audit(images, features):
            return memorization_audit(
                train, heldout, images, train_names=reference.train_names,
                generated_names=[f"g-{i:05d}" for i in range(n)], train_features=real,
                generated_features=features, heldout_features=reference.heldout_features, real_fd=fd)

        wall, cpu = time.perf_counter(), time.process_time()
        memo = audit(generated, fake)
        cold = time.perf_counter() - wall, time.process_time() - cpu
        next_fake = scoring2d._zscore(reference.train_raw, scoring2d._features(
            next_pool, extractor, cache=False, what="generated"))[1]
        # A further checkpoint (new images): the training set is prepared, the held-out search known.
        t("memorization audit (invariant NCC, C_T, …)", lambda: audit(next_pool, next_fake))
        _, warm_wall, warm_cpu, _ = t.stages[-1]
        t.add("memorization audit: first checkpoint's extra (training set, held-out search)",
              max(cold[0] - warm_wall, 0.0), max(cold[1] - warm_cpu, 0.0), cold_only=True)
        detector = get_detector("builtin:phantom")
        t("findings detector calibration (once per size)", lambda: detector(generated[:1]), cold_only=True)
        found = t("findings audit", lambda: findings_audit(train, generated, detector,
                                                          real_detected=reference.train_detected,
                                                          real_labels=reference.train_labels))
        # The machine reader (issue 11, after issue 15 was filed): `score` runs it for every
        # checkpoint. Its first call also starts Keras and traces the CNN: timed apart.
        t("machine reader: Keras start-up and tracing (once per process)",
          lambda: checkpoint_detectability(heldout[:50], generated[:50], seed=1), cold_only=True)
        machine = t("machine reader (CNN two-sample test, 500 + 500, 5 folds)",
                    lambda: checkpoint_detectability(heldout, generated, seed=0, epoch=1), machine=True)
        out = scratch / "audit"
        t("write audits (tables, galleries)", lambda: (write_memorization(memo, out / "memorization", train, generated),
                                                       write_findings(found, out / "findings", generated),
                                                       write_detectability(machine, out / "detectability",
                                                                           heldout, generated)))
    cold, warm = t.total(cold=True), t.total(cold=False)
    slowest = max((s for s in t.stages if not s[3]), key=lambda s: s[2])
    print()
    print(f"  {'total, first checkpoint (cold)':<52s} {cold[0]:8.2f} s {cold[1]:8.2f} s   (target ≤ 60 s)")
    print(f"  {'total, each further checkpoint':<52s} {warm[0]:8.2f} s {warm[1]:8.2f} s   (target ≤ 25 s)")
    print(f"  {'  of which the machine reader (issue 11)':<52s} {t.machine[0]:8.2f} s {t.machine[1]:8.2f} s")
    print(f"  {'  without it (the metrics and audits of issue 15)':<52s} {warm[0] - t.machine[0]:8.2f} s "
          f"{warm[1] - t.machine[1]:8.2f} s")
    print(f"  slowest per-checkpoint stage: {slowest[0]} ({slowest[2]:.1f} s CPU)")

    # End to end through the public function, real features reused: the orchestration's cost.
    if fake_pool is not None:
        scoring2d.generate = lambda run_dir, epoch, n, *, seed: fake_pool[:n]
    # As a further checkpoint finds them: the training set prepared, the held-out search known.
    nn_search.clear_caches()
    invariant_nn(heldout, train)
    row = t("score_checkpoint end to end (real features reused)", lambda: scoring2d.score_checkpoint(
        run, 1, n=n, extractor=args.features, reference=reference, threads=args.threads), counted=False)
    print(f"\nfd={row['fd']:.3f} fd_inf={row['fd_inf']:.3f} kid={row['kid_mean']:.4f} "
          f"precision={row['precision']:.3f} recall={row['recall']:.3f} "
          f"memorization={row['memorization_rate']:.3f} impossible={row['findings_impossible']}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.processor() or platform.machine()}")


if __name__ == "__main__":
    main()
