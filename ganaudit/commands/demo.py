"""``ganaudit demo``: the whole pipeline on embedded data, CPU-friendly.

1D: train the five teaching patterns, score every checkpoint, write one report each.
2D: train a DCGAN on the phantom population, score and audit every checkpoint, create a
small ready-to-serve reading study, write the report. An index page links every report.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from ganaudit.schema import layout
from ganaudit.schema import metrics as M
from ganaudit.schema.values import folder_problem

PATTERN_NAMES = ("sine", "square", "parabola", "sawtooth", "circle")


def register(sub):
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded data",
                       description="Train, score, audit and report on the embedded data (the five 1D "
                                   "patterns and the phantom MR population); prints the index page.")
    p.add_argument("--out", default="ganaudit-demo", help="output folder (default: ./ganaudit-demo)")
    p.add_argument("--skip-2d", action="store_true", help="only the 1D part")
    p.add_argument("--epochs-1d", type=int, default=None, help="epochs per pattern (default 30)")
    p.add_argument("--epochs-2d", type=int, default=30, help="epochs of the 2D GAN (default 30)")
    p.add_argument("--n-phantom", type=int, default=2000, help="phantom slices for the 2D GAN")
    p.add_argument("--n-generated", type=int, default=400, help="images generated per 2D checkpoint")
    p.add_argument("--every-2d", type=int, default=3, metavar="K",
                   help="score every K-th 2D checkpoint and the last (default 3)")
    p.add_argument("--no-detectability", action="store_true",
                   help="skip the classifier two-sample test when scoring the 2D run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _log(message: str) -> None:
    print(message, flush=True)


def run_1d(out: Path, *, epochs: int | None, quiet: bool) -> list[dict]:
    import json

    from ganaudit.evaluation.scoring1d import score_run_1d
    from ganaudit.gan_models.gan1d import train_1d
    from ganaudit.reports.build import build_report

    results = []
    train_seconds = 0.0
    for name in PATTERN_NAMES:
        run_dir = out / "1d" / name
        started = time.perf_counter()
        train_1d(name, run_dir, epochs=epochs, seed=0, quiet=quiet)
        seconds = time.perf_counter() - started
        train_seconds += seconds
        score_run_1d(run_dir, progress=not quiet)
        index = build_report(run_dir)
        report = json.loads((index.parent / layout.REPORT_JSON).read_text())
        chosen = report.get("stopping_epoch")
        shown = chosen if chosen is not None else (report.get("candidate_epoch")
                                                   or report.get("closest_epoch"))
        row = next((r for r in report.get("checkpoints", []) if r.get("epoch") == shown), {})
        detail = (f"true error {100 * row[M.TRUE_ERROR_REL]:.2f} % of the y-range"
                  f"{'' if chosen is not None else f' at epoch {shown}'}"
                  if row.get(M.TRUE_ERROR_REL) is not None else "")
        results.append({"name": f"1D {name}", "report": index, "stopping_epoch": chosen,
                        "verdict": report["verdict"], "headline": report["headline"],
                        "detail": detail, "train_seconds": seconds})
        _log(f"  {name:9s} trained in {seconds:5.1f} s — verdict {report['verdict']}: "
             f"{report['headline']}; {detail}")
    _log(f"  five patterns trained in {train_seconds:.1f} s")
    return results


def _ordinal(n: int) -> str:
    """2 → "2nd", 3 → "3rd", 11 → "11th", 21 → "21st"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def run_2d(out: Path, *, epochs: int, n_phantom: int, n_generated: int, quiet: bool,
           every: int = 1, detectability: bool = True) -> list[dict]:
    import json

    import numpy as np

    from ganaudit.evaluation.scoring2d import score_run_2d
    from ganaudit.gan_models.checkpoints import list_checkpoints
    from ganaudit.gan_models.data import write_png16
    from ganaudit.gan_models.gan2d import train_2d
    from ganaudit.gan_models.sampling import generate
    from ganaudit.reader_study.create import create_study
    from ganaudit.reports.build import build_report

    run_dir = out / "2d" / "phantom-64"
    started = time.perf_counter()
    _log(f"  making {n_phantom} phantom slices and training the 64² DCGAN for {epochs} epochs "
         "…")
    train_2d("phantom", run_dir, size=64, epochs=epochs, seed=0, quiet=quiet, n_phantom=n_phantom)
    _log(f"  trained the 64² DCGAN for {epochs} epochs in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    score_run_2d(run_dir, n=n_generated, progress=not quiet, every=every,
                 detectability=detectability)
    _log(f"  scored and audited every {'' if every == 1 else _ordinal(every) + ' '}checkpoint in "
         f"{time.perf_counter() - started:.0f} s")
    index = build_report(run_dir)
    report = json.loads((index.parent / layout.REPORT_JSON).read_text())
    chosen = report.get("stopping_epoch")
    _log(f"  verdict {report['verdict']}: {report['headline']}")
    for sentence in report["rationale"][:2]:
        _log(f"    {sentence}")

    # A small reading study: held-out real slices against the chosen and the last checkpoint.
    epochs_done = [e for e, _ in list_checkpoints(run_dir)]
    first = chosen or report.get("candidate_epoch") or report.get("closest_epoch")
    picks = sorted({first if first else epochs_done[len(epochs_done) // 2], epochs_done[-1]})
    study_in = out / "2d" / "study-inputs"
    heldout = np.load(layout.heldout_images(run_dir))
    write_png16(heldout[:40], study_in / "real")
    fakes = []
    for epoch in picks:
        folder = study_in / layout.epoch_label(epoch)
        write_png16(generate(run_dir, epoch, 40, seed=1), folder)
        fakes.append((str(folder), layout.epoch_label(epoch)))
    study_dir = out / "2d" / "study"
    created = create_study(study_in / "real", fakes, ["reader1", "reader2"], 40, study_dir)
    _log(f"  reading study with 2 readers × 40 cases in {study_dir} (credentials in "
         f"{study_dir / 'credentials.txt'})")
    _log(f"  serve it with: ganaudit study serve {study_dir}")
    del created
    return [{"name": "2D phantom MR, 64²", "report": index, "stopping_epoch": chosen,
             "verdict": report["verdict"], "headline": report["headline"],
             "detail": _detail(report),
             "study": study_dir}]


VERDICT_COLOURS = {"stop": "#0b7a3e", "train-longer": "#b26a00", "restart": "#c0392b",
                   "no-checkpoint-passes": "#c0392b"}


def _detail(report: dict) -> str:
    """One line for the index: the reason for a stop, or what blocked the run and what to do."""
    if report["verdict"] == "stop":
        return report["rationale"][0] if report.get("rationale") else ""
    blocked = report.get("blocked") or {}
    head = (f"Epoch {report['closest_epoch']} came closest; blocked by: {', '.join(blocked)}. "
            if report.get("closest_epoch") is not None and blocked else "")
    recs = report.get("recommendations") or []
    return head + (recs[-1] if recs else "")


def write_index(out: Path, results: list[dict]) -> Path:
    from ganaudit.gan_models.atomic import write_text

    def link(path, text):
        return f"<a href=\"{html.escape(str(Path(path).relative_to(out)))}\">{html.escape(text)}</a>"

    rows = []
    for r in results:
        study = ""
        if r.get("study"):
            study = (f"<br><small>reading study: {link(r['study'], str(Path(r['study']).relative_to(out)))} "
                     f"(serve it with <code>ganaudit study serve "
                     f"{html.escape(str(r['study']))}</code>)</small>")
        colour = VERDICT_COLOURS.get(r["verdict"], "#222")
        rows.append(f"<tr><td>{link(r['report'], r['name'])}{study}</td>"
                    f"<td style=\"color:{colour};font-weight:600\">{html.escape(r['headline'])}</td>"
                    f"<td>{html.escape(str(r.get('detail', '')))}</td></tr>")
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ganaudit demo</title><style>
body{{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}}
</style></head><body><h1>ganaudit demo</h1>
<p>Every run trained, scored and reported by <code>ganaudit demo</code>. Each report gives a
verdict — stop (and at which epoch), train longer, restart, or no checkpoint passes — and says
why.</p>
<table><thead><tr><th>Run (report)</th><th>Verdict</th><th>Summary</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></body></html>
"""
    path = out / "index.html"
    write_text(path, page)
    return path


def run(args) -> int:
    from ganaudit.gan_models.errors import InputError

    out = Path(args.out)
    problem = folder_problem(out)
    if problem:
        raise InputError(f"output folder {out} {problem}; choose a new --out or remove it")
    started = time.perf_counter()
    _log("1D teaching GANs (sine, square, parabola, sawtooth, circle):")
    results = run_1d(out, epochs=args.epochs_1d, quiet=args.quiet)
    if not args.skip_2d:
        _log("2D MR GAN on the phantom population:")
        results += run_2d(out, epochs=args.epochs_2d, n_phantom=args.n_phantom,
                          n_generated=args.n_generated, quiet=args.quiet,
                          every=args.every_2d, detectability=not args.no_detectability)
    index = write_index(out, results)
    _log("verdicts:")
    for r in results:
        _log(f"  {r['name']:22s} {r['verdict']:22s} {r['headline']}")
    _log(f"demo finished in {time.perf_counter() - started:.0f} s")
    _log(f"reports: {index.resolve()}")
    return 0
