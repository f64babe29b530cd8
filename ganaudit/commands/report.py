"""`ganaudit report RUN`: the report that picks the stopping epoch and says why."""

from __future__ import annotations

import argparse


def _share(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write the run's report: stopping epoch, rationale, plots, per-checkpoint pages",
        description=(
            "Read RUN/run.json, history.csv, scores.csv and the audits (and a reading study's "
            "analysis with --study); pick the stopping epoch with the documented rule and write "
            "RUN/report/index.html, report.json, scores.csv and checkpoints/epoch-NNNN.html."),
    )
    p.add_argument("run", metavar="RUN", help="training run folder, scored by `ganaudit score RUN`")
    p.add_argument("--study", metavar="STUDY", default=None,
                   help="reading-study folder analysed by `ganaudit study analyze STUDY`")
    p.add_argument("--metric", choices=["fd_inf", "fd", "kid_mean", "true_error"], default=None,
                   help="ranking metric, lower is better (default: fd_inf for 2D, true_error for 1D)")
    p.add_argument("--tolerance", type=_share, default=None, metavar="X",
                   help="relative tolerance around the best value instead of its confidence "
                        "interval (e.g. 0.05 = within 5 %% of the best)")
    p.add_argument("--memorization-max", type=_share, default=0.05, metavar="R",
                   help="largest acceptable share of generated images that copy a training "
                        "image (default 0.05)")
    p.add_argument("--alpha", type=_share, default=0.05, metavar="A",
                   help="significance level for 'readers recognise the fakes' (default 0.05)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="report folder (default RUN/report; replaced as a whole)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from reports.build import build_report

    index = build_report(args.run, study_dir=args.study, metric=args.metric,
                         tolerance=args.tolerance, memorization_max=args.memorization_max,
                         alpha=args.alpha, out_dir=args.out)
    report = json.loads((index.parent / "report.json").read_text(encoding="utf-8"))
    epoch = report["stopping_epoch"]
    if epoch is None:
        print("No checkpoint passed the gates; see the recommendation in the report.")
    else:
        print(f"Stopping epoch: {epoch}")
    for sentence in report["rationale"][:3]:
        print(f"  {sentence}")
    print(index)
    return 0
