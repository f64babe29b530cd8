"""A GAN made to memorize by real training, and the report's stopping epoch.

Trains the default 64² DCGAN on a handful of phantom slices (100: 80 for training, 20 held out;
scoring's real-vs-real baselines need at least 20 held-out images, so 40 no longer runs)
for many epochs, scores every K-th checkpoint (pixel features, memorization audit calibrated on
the held-out slices), writes the report and prints, per scored epoch, the share of generated
images flagged as copies, and the report's stopping epoch and rationale. The slices are written
as plain PNGs without labels, so only memorization (not the findings audit) is judged.

    python bench/memorizing_run.py --epochs 600 --every 25 --out /tmp/memorizing
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="new folder for the slices, the run and its report")
    parser.add_argument("--n", type=int, default=100, help="phantom slices (20 %% held out, at least 20)")
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--every", type=int, default=25, help="score every K-th epoch")
    parser.add_argument("--generated", type=int, default=128, help="images generated per checkpoint")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs, both scored, 20 images each: checks that the benchmark still works (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.every, args.generated = 2, 1, 20

    import pandas as pd

    from ganaudit.evaluation.scoring2d import score_run_2d
    from ganaudit.gan_models.data import write_png16
    from ganaudit.gan_models.gan2d import train_2d
    from ganaudit.gan_models.phantom import make_population
    from ganaudit.reports.build import build_report

    out = Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new folder")
    images, _ = make_population(args.n, 64, seed=args.seed, progress=False)
    write_png16(images, out / "slices")
    started = time.perf_counter()
    train_2d(str(out / "slices"), out / "run", size=64, epochs=args.epochs, batch_size=args.batch_size,
             seed=args.seed, quiet=True)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    scores = score_run_2d(out / "run", n=args.generated, features="pixels", every=args.every,
                          n_boot=50, progress=False)
    scored = time.perf_counter() - started
    build_report(out / "run")
    report = json.loads((out / "run" / "report" / "report.json").read_text())
    history = pd.read_csv(out / "run" / "history.csv")

    print(f"{args.n} phantom slices ({args.n - args.n // 5} training), {args.epochs} epochs at batch {args.batch_size}: "
          f"trained in {trained:.0f} s, {len(scores)} checkpoints scored in {scored:.0f} s; "
          f"{int((~history['healthy']).sum())} unhealthy epochs")
    print("epoch  flagged as copies  FD∞      healthy")
    for row in scores.itertuples():
        print(f"{row.epoch:5d}  {100 * row.memorization_rate:6.1f} %           {row.fd_inf:8.1f}  {row.healthy}")
    print(f"stopping epoch {report['stopping_epoch']} (best {report['best_epoch']})")
    for sentence in report["rationale"]:
        print("  " + sentence)
    print(f"report: {out / 'run' / 'report' / 'index.html'}")


if __name__ == "__main__":
    main()
