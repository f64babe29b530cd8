"""Time scoring one checkpoint: 2,000 generated vs 5,000 real phantom slices at 64².

Every metric and both audits, stage by stage, as ``evaluation.scoring2d`` runs them:

    .venv/bin/python bench/score_checkpoint.py                 # defaults of the issue
    .venv/bin/python bench/score_checkpoint.py --n-real 1000 --n-generated 500   # quick look

The real set (training) and the held-out set come from ``gan_models.phantom.make_population``;
the "generated" set is either a third phantom population (``--generated phantom``, default: new
subjects, so the audits do real work) or the output of a small untrained Keras generator
(``--generated untrained``, adds the generation time). Populations are cached in ``--workdir``
(making 8,000 slices takes minutes; scoring is what is timed).

Two totals are printed: *cold* (the first checkpoint of a run: real features, the findings
detector's calibration) and *per further checkpoint* (real features and the detector reused, as
``score_run_2d`` does). Target: ≤ 60 s per checkpoint on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def population(workdir: Path, n: int, size: int, seed: int, **options):
    """Phantom images and labels, cached as .npy/.csv in ``workdir``."""
    import pandas as pd

    from gan_models.phantom import make_population

    tag = "-".join([f"phantom-{n}-{size}-{seed}"] + [f"{k}={v}" for k, v in sorted(options.items())])
    images_path, labels_path = workdir / f"{tag}.npy", workdir / f"{tag}.csv"
    if images_path.is_file() and labels_path.is_file():
        return np.load(images_path), pd.read_csv(labels_path)
    print(f"making {n} phantom slices at {size}² (seed {seed}), cached in {workdir} …", flush=True)
    images, labels = make_population(n, size, seed=seed, progress=True, **options)
    np.save(images_path, images)
    labels.to_csv(labels_path, index=False)
    return images, labels


def make_run(workdir: Path, train, train_labels, heldout, heldout_labels, *, size: int, latent_dim: int) -> Path:
    """A 2D run folder as ``ganaudit train2d`` writes it, with one untrained generator."""
    import keras

    run = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    (run / "checkpoints").mkdir()
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
    def __init__(self):
        self.stages: list[tuple[str, float, bool]] = []

    def __call__(self, name: str, func, *, cold_only: bool = False):
        start = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - start
        self.stages.append((name, seconds, cold_only))
        print(f"  {name:<44s} {seconds:8.2f} s", flush=True)
        return result


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
    args = parser.parse_args()

    os.environ.setdefault("GANAUDIT_CACHE", os.path.join(args.workdir, "cache"))
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    from evaluation import scoring2d
    from evaluation.detectors import get_detector
    from evaluation.findings import findings_audit, write_findings
    from evaluation.frechet import fd_bootstrap_ci, fd_infinity, frechet_distance_from_features
    from evaluation.kid import kid
    from evaluation.memorization import memorization_audit, write_memorization
    from evaluation.prdc import density_coverage, precision_recall
    from gan_models.sampling import generate

    pool, pool_labels = population(workdir, args.n_real + args.n_heldout, args.size, seed=1)
    train, train_labels = pool[:args.n_real], pool_labels.iloc[:args.n_real].reset_index(drop=True)
    heldout = pool[args.n_real:]
    heldout_labels = pool_labels.iloc[args.n_real:].reset_index(drop=True)
    run = make_run(workdir, train, train_labels, heldout, heldout_labels, size=args.size, latent_dim=64)
    n = args.n_generated
    fake_pool = population(workdir, n, args.size, seed=2)[0] if args.generated == "phantom" else None

    print(f"\none checkpoint: {n} generated vs {len(train)} real ({len(heldout)} held-out) at "
          f"{args.size}², features={args.features}, BLAS threads={args.threads}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}")
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
        t("FD bootstrap CI (200 resamples)", lambda: fd_bootstrap_ci(real, fake, n_boot=200))
        t("FD∞ with CI (15 subset sizes)", lambda: fd_infinity(real, fake))
        t(f"KID (100 subsets of {min(1000, n, len(train))})",
          lambda: kid(real, fake, subset_size=min(1000, n, len(train))))
        t("precision / recall (k = 3)", lambda: precision_recall(real, fake, k=3))
        t("density / coverage (k = 5)", lambda: density_coverage(real, fake, k=5))
        memo = t("memorization audit (invariant NCC, C_T, …)", lambda: memorization_audit(
            train, heldout, generated, train_names=reference.train_names,
            generated_names=[f"g-{i:05d}" for i in range(n)], train_features=real,
            generated_features=fake, heldout_features=reference.heldout_features, real_fd=fd))
        detector = get_detector("builtin:phantom")
        t("findings detector calibration (once per size)", lambda: detector(generated[:1]), cold_only=True)
        found = t("findings audit", lambda: findings_audit(train, generated, detector,
                                                          real_labels=reference.train_labels))
        out = Path(tempfile.mkdtemp(prefix="audit-", dir=workdir))
        t("write audits (tables, galleries)", lambda: (write_memorization(memo, out / "memorization", train, generated),
                                                       write_findings(found, out / "findings", generated)))
    cold = sum(s for _, s, _ in t.stages)
    warm = sum(s for _, s, c in t.stages if not c)
    slowest = max((s for s in t.stages if not s[2]), key=lambda s: s[1])
    print(f"\n  {'total, first checkpoint (cold)':<44s} {cold:8.2f} s")
    print(f"  {'total, each further checkpoint':<44s} {warm:8.2f} s   (target ≤ 60 s)")
    print(f"  slowest per-checkpoint stage: {slowest[0]} ({slowest[1]:.1f} s)")

    # End to end through the public function, real features reused: the orchestration's cost.
    if fake_pool is not None:
        scoring2d.generate = lambda run_dir, epoch, n, *, seed: fake_pool[:n]
    start = time.perf_counter()
    row = scoring2d.score_checkpoint(run, 1, n=n, extractor=args.features, reference=reference,
                                     threads=args.threads)
    print(f"  {'score_checkpoint end to end (warm)':<44s} {time.perf_counter() - start:8.2f} s")
    print(f"\nfd={row['fd']:.3f} fd_inf={row['fd_inf']:.3f} kid={row['kid_mean']:.4f} "
          f"precision={row['precision']:.3f} recall={row['recall']:.3f} "
          f"memorization={row['memorization_rate']:.3f} impossible={row['findings_impossible']}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.processor() or platform.machine()}")


if __name__ == "__main__":
    main()
