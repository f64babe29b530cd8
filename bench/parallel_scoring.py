"""Scoring a run serially, with ``--workers 2`` and on an existing local Dask cluster of 2 workers.

A 2D run folder with K checkpoints is scored four times by ``ganaudit.evaluation.scoring2d.score_run_2d``:

1. serially (``workers=1``);
2. ``workers=2``: a LocalCluster of two single-threaded worker processes started for the call
   (its start-up is part of the time, overlapping the real features' computation);
3. ``scheduler=ADDRESS`` of a LocalCluster of two workers started beforehand, as an existing
   cluster would be (its start-up is not part of the time), without Dask's
   ``MALLOC_TRIM_THRESHOLD_`` setting (as docs/scoring.md says to start workers);
4. the same with Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``, which doubles a worker's CPU
   time per checkpoint (page faults), to show what that setting costs.

Each mode starts from an empty feature cache, so each computes the real features once. The
"generated" images of checkpoint k are phantom slices of new subjects (a different slice set per
checkpoint), so the memorization and findings audits do their full work; they are handed to the
scorer where it would call the generator (Keras is not timed). The four score tables must be
identical; the speed-ups are printed next to the machine's load.

    .venv/bin/python bench/parallel_scoring.py              # 4 checkpoints × 500 vs 2,000 real
    .venv/bin/python bench/parallel_scoring.py --quick      # tiny (the test suite runs it)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def make_run(scratch: Path, train, train_labels, heldout, heldout_labels, epochs: int) -> Path:
    """A 2D run folder (run.json, data, history) whose checkpoint files are placeholders."""
    run = scratch / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "data").mkdir()
    (run / "run.json").write_text(json.dumps({
        "kind": "2d", "image_size": int(train.shape[1]), "latent_dim": 64, "loss": "modified", "seed": 0,
        "backend": "tensorflow", "epochs": epochs, "batch_size": 64,
        "data": {"source": "phantom", "n": len(train) + len(heldout)},
    }))
    np.save(run / "data" / "train.npy", train)
    np.save(run / "data" / "heldout.npy", heldout)
    train_labels.to_csv(run / "data" / "train_labels.csv", index=False)
    heldout_labels.to_csv(run / "data" / "heldout_labels.csv", index=False)
    lines = ["epoch,d_loss,g_loss,d_acc_real,d_acc_fake,seconds,healthy"]
    lines += [f"{e},1.3,0.7,0.6,0.4,1.0,True" for e in range(1, epochs + 1)]
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    for e in range(1, epochs + 1):
        (run / "checkpoints" / f"generator-epoch-{e:04d}.keras").write_bytes(b"placeholder")
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=4)
    parser.add_argument("--n-generated", type=int, default=500)
    parser.add_argument("--n-real", type=int, default=2000)
    parser.add_argument("--n-heldout", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="2 checkpoints × 40 vs 150 real (a smoke check)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "ganaudit-bench-score"))
    args = parser.parse_args(argv)
    if args.quick:
        args.checkpoints, args.n_generated, args.n_real, args.n_heldout = 2, 40, 150, 40

    import dask
    import pandas as pd
    from distributed import LocalCluster

    from ganaudit.evaluation import scoring2d
    from score_checkpoint import population

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    pool, labels = population(workdir, args.n_real + args.n_heldout, 64, seed=1)
    fakes = population(workdir, args.checkpoints * args.n_generated, 64, seed=2)[0]
    scratch = Path(tempfile.mkdtemp(prefix="parallel-", dir=workdir))
    try:
        run = make_run(scratch, pool[:args.n_real], labels.iloc[:args.n_real].reset_index(drop=True),
                       pool[args.n_real:], labels.iloc[args.n_real:].reset_index(drop=True), args.checkpoints)
        n = args.n_generated
        # Where score_run_2d would run the checkpoint's generator: checkpoint e makes slice set e.
        scoring2d.generate = lambda run_dir, epoch, count, *, seed: fakes[(epoch - 1) * n:epoch * n][:count]
        options = dict(n=n, features="radiomics", progress=False, detectability=False)
        print(f"{args.checkpoints} checkpoints × {n} generated vs {args.n_real} real ({args.n_heldout} held-out) "
              f"at 64², radiomics; {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}", flush=True)
        results, times = {}, {}
        modes = ("serial", "workers=2", "existing cluster, 2 workers",
                 "existing cluster, 2 workers, Dask's MALLOC_TRIM_THRESHOLD_")
        for mode in modes:
            os.environ["GANAUDIT_CACHE"] = str(scratch / f"cache-{len(results)}")
            cluster = None
            if mode.startswith("existing"):
                # As docs/scoring.md says to start workers: without Dask's malloc setting
                # (the last mode keeps it, to show what it costs).
                unset = {} if "MALLOC" in mode else {
                    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
                with dask.config.set(unset):
                    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
            try:
                start, cpu = time.perf_counter(), time.process_time()
                if mode == "serial":
                    frame = scoring2d.score_run_2d(run, **options)
                elif mode == "workers=2":
                    frame = scoring2d.score_run_2d(run, workers=2, **options)
                else:
                    frame = scoring2d.score_run_2d(run, scheduler=cluster.scheduler_address, **options)
                times[mode] = (time.perf_counter() - start, time.process_time() - cpu)
            finally:
                if cluster is not None:
                    cluster.close()
            results[mode] = frame
            print(f"  {mode:<58s} {times[mode][0]:7.1f} s wall (this process {times[mode][1]:.1f} s CPU), "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        serial = results["serial"]
        print("\n| mode | wall | speed-up vs serial | per checkpoint | scores identical to serial |")
        print("|---|---|---|---|---|")
        for mode, frame in results.items():
            same = frame.equals(serial)
            if not same:
                pd.testing.assert_frame_equal(frame, serial, check_exact=False, rtol=1e-9)
            wall = times[mode][0]
            print(f"| {mode} | {wall:.1f} s | {times['serial'][0] / wall:.2f}× | {wall / args.checkpoints:.1f} s | "
                  f"{'yes (bit for bit)' if same else 'yes (to 1e-9)'} |")
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
