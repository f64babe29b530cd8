"""`ganaudit score`: score every checkpoint of a run, or a folder of generated images.

    ganaudit score RUN [--features NAME] [--weights PATH] [--n N] [--workers N] [--scheduler ADDR]
    ganaudit score --real DIR --fake DIR [--features NAME] [--out CSV]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganaudit.commands.outputs import check_out_file, reporting_write_errors
from ganaudit.schema import layout
from ganaudit.schema import metrics as M

DEFAULT_FEATURES = "radiomics"


def register(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score every checkpoint of a run (RUN/scores.csv), or a folder of fakes",
        description=(
            "Score every checkpoint of a training run: FD (with CI), FD∞, KID, precision/recall, "
            "density/coverage, the memorization audit and (phantom data) the findings audit, one "
            "row per checkpoint in RUN/scores.csv. With --real and --fake: score a folder of "
            "generated images against real ones (one-row CSV). Lower is better for the "
            "distances and the memorization rate; higher for precision, recall, density, coverage."
        ),
    )
    p.add_argument("run", nargs="?", metavar="RUN", help="training run folder (from train1d/train2d)")
    p.add_argument("--real", metavar="DIR", help="folder of real images (with --fake)")
    p.add_argument("--fake", metavar="DIR", help="folder of generated images (with --real)")
    p.add_argument("--out", metavar="CSV", help="with --real/--fake: write the one-row table here "
                   "(default: print it)")
    p.add_argument("--features", default=None, metavar="NAME",
                   help="feature extractor: radiomics (default), pixels, inception, a Keras model "
                   "file or module:function (2D runs and folders)")
    p.add_argument("--weights", metavar="PATH", help="weights file for the extractor (inception)")
    p.add_argument("--n", type=int, default=2000, metavar="N",
                   help="images generated per checkpoint (default 2000; same latents for all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents and metric subsets")
    p.add_argument("--every", type=int, default=1, metavar="K",
                   help="score only the epochs that are multiples of K, and the last one (default 1: all)")
    p.add_argument("--kid-subset", type=int, default=None, metavar="M",
                   help="KID subset size (default min(1000, N, real images))")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="score checkpoints in N processes on a local Dask cluster (default 1)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="address of an existing Dask scheduler (tcp://host:port); workers must "
                   "see the run folder")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="BLAS threads per worker (default 1: results do not depend on the machine's "
                   "thread count; use --workers for more cores)")
    p.add_argument("--no-detectability", action="store_true",
                   help="skip the classifier two-sample test per checkpoint (detectability_auc "
                   "and its CI stay empty; saves about 10-30 s per checkpoint)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    from ganaudit.gan_models.errors import InputError

    folders = args.real is not None or args.fake is not None
    if folders and args.run is not None:
        raise InputError("give either RUN or --real DIR --fake DIR, not both")
    if folders:
        if args.real is None or args.fake is None:
            raise InputError("folder scoring needs both --real DIR and --fake DIR")
        if args.every != 1:
            raise InputError("--every picks checkpoints of a RUN; a folder of fakes is scored as it is")
        return _score_folders(args)
    if args.run is None:
        raise InputError("nothing to score: give a RUN folder, or --real DIR --fake DIR")
    if args.n < 1:
        raise InputError(f"--n must be a whole number ≥ 1 (images generated per checkpoint), got {args.n}")
    if args.out is not None:
        raise InputError("--out is only for --real/--fake; a run's scores go to RUN/scores.csv")
    return _score_run(args)


def _score_run(args: argparse.Namespace) -> int:
    from ganaudit.gan_models.errors import InputError

    run_dir = Path(args.run)
    run_json = layout.run_json(run_dir)
    if not run_json.is_file():
        raise InputError(
            f"{run_dir} is not a ganaudit run (no run.json); give a folder written by "
            "`ganaudit train1d` or `ganaudit train2d`, or score folders with --real DIR --fake DIR"
        )
    kind = json.loads(run_json.read_text(encoding="utf-8")).get("kind")
    if kind == "1d":
        from ganaudit.evaluation.scoring1d import score_run_1d

        image_only = {"--features": args.features, "--weights": args.weights,
                      "--kid-subset": args.kid_subset, "--scheduler": args.scheduler,
                      "--workers": None if args.workers == 1 else args.workers,
                      "--no-detectability": True if args.no_detectability else None}
        given = [flag for flag, value in image_only.items() if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} apply to 2D runs and image folders, not to the 1D run "
                             f"{run_dir} (scored by true error); drop {'them' if len(given) > 1 else 'it'}")
        frame = score_run_1d(run_dir, n=args.n, seed=args.seed, every=args.every, progress=not args.quiet)
    elif kind in ("2d", "imported"):
        from ganaudit.evaluation.scoring2d import score_run_2d

        frame = score_run_2d(
            run_dir, workers=args.workers, scheduler=args.scheduler, n=args.n,
            features=args.features or DEFAULT_FEATURES, weights=args.weights, seed=args.seed,
            kid_subset_size=args.kid_subset, threads=args.threads, every=args.every,
            progress=not args.quiet, detectability=not args.no_detectability,
        )
    else:
        raise InputError(f"{run_json} has kind {kind!r}; expected '1d', '2d' or 'imported'")
    print(f"scored {len(frame)} checkpoint{'' if len(frame) == 1 else 's'} → {layout.scores_csv(run_dir)}")
    return 0


def _score_folders(args: argparse.Namespace) -> int:
    import pandas as pd

    from ganaudit.evaluation.scoring2d import score_folders
    from ganaudit.gan_models.atomic import write_csv

    if args.out:
        check_out_file(args.out)
    row = score_folders(args.real, args.fake, features=args.features or DEFAULT_FEATURES,
                        weights=args.weights,
                        seed=args.seed, kid_subset_size=args.kid_subset, threads=args.threads)
    frame = pd.DataFrame([row])
    if args.out:
        with reporting_write_errors(args.out):
            write_csv(args.out, frame)
        print(f"scores → {args.out}")
    else:
        print(folder_summary(row))
    return 0


def _num(value, digits: int = 4) -> str:
    """``value`` to ``digits`` significant figures; '—' when missing or NaN."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if value != value else f"{value:.{digits}g}"


def folder_summary(row: dict) -> str:
    """The one-row folder scores, rounded, a few lines for the console (the CSV written with
    --out keeps every column at full precision)."""
    def with_ci(name: str) -> str:
        return f"{_num(row.get(name))} [95 % CI {_num(row.get(name + '_ci_low'))}, {_num(row.get(name + '_ci_high'))}]"

    return "\n".join([
        f"scored {row.get('n_generated')} generated images against {row.get('n_real')} real "
        f"({row.get('features')} features)",
        f"  FD {with_ci(M.FD)}, FD∞ {with_ci(M.FD_INF)}  (lower is better)",
        f"  KID {_num(row.get(M.KID_MEAN), 3)} ± {_num(row.get(M.KID_STD), 2)} (s.d. over subsets; lower is better)",
        "  " + ", ".join(f"{name} {_num(row.get(name), 3)}"
                         for name in (M.PRECISION, M.RECALL, M.DENSITY, M.COVERAGE))
        + "  (higher is better)",
        "every column at full precision: add --out scores.csv",
    ])
