"""`ganaudit report RUN`: the report that picks the stopping epoch and says why."""

from __future__ import annotations

import argparse

from ganaudit.schema import layout
from ganaudit.schema import metrics as M


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
    p.add_argument("--metric", choices=M.RANKING_METRICS, default=None,
                   help="ranking metric, lower is better (default: fd_inf for 2D, true_error for 1D)")
    p.add_argument("--tolerance", type=_share, default=None, metavar="X",
                   help="relative tolerance around the best value instead of its confidence "
                        "interval (e.g. 0.05 = within 5 %% of the best)")
    p.add_argument("--memorization-max", type=_share, default=0.05, metavar="R",
                   help="largest acceptable share of generated images that copy a training "
                        "image (default 0.05)")
    p.add_argument("--alpha", type=_share, default=0.05, metavar="A",
                   help="significance level for 'readers recognise the fakes' (default 0.05)")
    p.add_argument("--trend-window", type=int, default=4, metavar="K",
                   help="convergence: the last K scored checkpoints are tested for a downward "
                        "trend (default 4)")
    p.add_argument("--trend-alpha", type=_share, default=0.05, metavar="A",
                   help="convergence: one-sided significance level of the Kendall trend test "
                        "(default 0.05)")
    p.add_argument("--min-improvement", type=_share, default=0.10, metavar="R",
                   help="convergence: smallest fitted fall over the trend window, as a share of "
                        "the metric's level, that counts as still improving (default 0.10)")
    p.add_argument("--max-true-error", type=_share, default=0.05, metavar="R",
                   help="1D absolute quality: largest true error as a share of the y-range "
                        "(default 0.05)")
    p.add_argument("--baseline-factor", type=_share, default=None, metavar="F",
                   help="2D absolute quality: largest ratio of the ranking metric to its "
                        "real-vs-real baseline (default: the ratio of real images blurred by "
                        "half a pixel, measured by ganaudit score)")
    p.add_argument("--detectability-max", type=_share, default=None, metavar="AUC",
                   help="2D machine-reader gate, off by default: a checkpoint is out when the "
                        "interval of its detectability AUC (ganaudit score) lies wholly above "
                        "this (e.g. 0.6)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="report folder (default RUN/report; replaced as a whole)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ganaudit.reports.build import build_report
    from ganaudit.reports.stopping import RuleOptions

    options = RuleOptions(metric=args.metric, tolerance=args.tolerance,
                          memorization_max=args.memorization_max, alpha=args.alpha,
                          trend_window=args.trend_window, trend_alpha=args.trend_alpha,
                          min_improvement=args.min_improvement,
                          max_true_error=args.max_true_error,
                          baseline_factor=args.baseline_factor,
                          detectability_max=args.detectability_max)
    index = build_report(args.run, study_dir=args.study, out_dir=args.out, options=options)
    report = json.loads((index.parent / layout.REPORT_JSON).read_text(encoding="utf-8"))
    print_verdict(report)
    print(index)
    return 0


def print_verdict(report: dict, *, indent: str = "", sentences: int = 3) -> None:
    """The verdict, its reasons and the recommendation, as the console shows them."""
    print(f"{indent}Verdict: {report['verdict']} — {report['headline']}")
    for sentence in report["rationale"][:sentences]:
        print(f"{indent}  {sentence}")
    for sentence in report.get("recommendations", [])[:2]:
        print(f"{indent}  → {sentence}")
