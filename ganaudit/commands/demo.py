"""``ganaudit demo``: the whole pipeline on embedded data, CPU-friendly.

1D: train the five teaching patterns, score every checkpoint, write one report each.
2D: train a DCGAN on the phantom population, score and audit every checkpoint, create a
small ready-to-serve reading study, write the report. An index page links every report.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

PATTERN_NAMES = ("sine", "square", "parabola", "sawtooth", "circle")


def register(sub):
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded data",
                       description="Train, score, audit and report on the embedded data (the five 1D "
                                   "patterns and the phantom MR population); prints the index page.")
    p.add_argument("--out", default="ganaudit-demo", help="output folder (default: ./ganaudit-demo)")
    p.add_argument("--skip-2d", action="store_true", help="only the 1D part")
    p.add_argument("--epochs-1d", type=int, default=None, help="epochs per pattern (default 30)")
    p.add_argument("--epochs-2d", type=int, default=12, help="epochs of the 2D GAN")
    p.add_argument("--n-phantom", type=int, default=2000, help="phantom slices for the 2D GAN")
    p.add_argument("--n-generated", type=int, default=400, help="images generated per 2D checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _log(message: str) -> None:
    print(message, flush=True)


def run_1d(out: Path, *, epochs: int | None, quiet: bool) -> list[dict]:
    import json

    from evaluation.scoring1d import score_run_1d
    from gan_models.gan1d import train_1d
    from reports.build import build_report

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
        report = json.loads((index.parent / "report.json").read_text())
        chosen = report.get("stopping_epoch")
        row = next((r for r in report.get("checkpoints", []) if r.get("epoch") == chosen), {})
        results.append({"name": f"1D {name}", "report": index, "stopping_epoch": chosen,
                        "headline": (f"true error {100 * row['true_error_rel']:.2f} % of the y-range"
                                     if row.get("true_error_rel") is not None
                                     else report["rationale"][0] if report.get("rationale") else ""),
                        "train_seconds": seconds})
        _log(f"  {name:9s} trained in {seconds:5.1f} s, stopping epoch {chosen}: {results[-1]['headline']}")
    _log(f"  five patterns trained in {train_seconds:.1f} s")
    return results


def run_2d(out: Path, *, epochs: int, n_phantom: int, n_generated: int, quiet: bool) -> list[dict]:
    import json

    import numpy as np

    from evaluation.scoring2d import score_run_2d
    from gan_models.checkpoints import list_checkpoints
    from gan_models.data import write_png16
    from gan_models.gan2d import train_2d
    from gan_models.sampling import generate
    from reader_study.create import create_study
    from reports.build import build_report

    run_dir = out / "2d" / "phantom-64"
    started = time.perf_counter()
    train_2d("phantom", run_dir, size=64, epochs=epochs, seed=0, quiet=quiet, n_phantom=n_phantom)
    _log(f"  trained the 64² DCGAN for {epochs} epochs in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    score_run_2d(run_dir, n=n_generated, progress=not quiet)
    _log(f"  scored and audited every checkpoint in {time.perf_counter() - started:.0f} s")
    index = build_report(run_dir)
    report = json.loads((index.parent / "report.json").read_text())
    chosen = report.get("stopping_epoch")

    # A small reading study: held-out real slices against the chosen and the last checkpoint.
    epochs_done = [e for e, _ in list_checkpoints(run_dir)]
    picks = sorted({chosen if chosen else epochs_done[len(epochs_done) // 2], epochs_done[-1]})
    study_in = out / "2d" / "study-inputs"
    heldout = np.load(run_dir / "data" / "heldout.npy")
    write_png16(heldout[:40], study_in / "real")
    fakes = []
    for epoch in picks:
        folder = study_in / f"epoch-{epoch:04d}"
        write_png16(generate(run_dir, epoch, 40, seed=1), folder)
        fakes.append((str(folder), f"epoch-{epoch:04d}"))
    study_dir = out / "2d" / "study"
    created = create_study(study_in / "real", fakes, ["reader1", "reader2"], 40, study_dir)
    _log(f"  reading study with 2 readers × 40 cases in {study_dir} (credentials in "
         f"{study_dir / 'credentials.txt'})")
    _log(f"  serve it with: ganaudit study serve {study_dir}")
    del created
    return [{"name": "2D phantom MR, 64²", "report": index, "stopping_epoch": chosen,
             "headline": report["rationale"][0] if report.get("rationale") else "",
             "study": study_dir}]


def write_index(out: Path, results: list[dict]) -> Path:
    from gan_models.atomic import write_text

    rows = "\n".join(
        f"<tr><td><a href=\"{html.escape(str(Path(r['report']).relative_to(out)))}\">{html.escape(r['name'])}</a></td>"
        f"<td>{r['stopping_epoch'] if r['stopping_epoch'] is not None else '—'}</td>"
        f"<td>{html.escape(str(r['headline']))}</td></tr>" for r in results)
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ganaudit demo</title><style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}
</style></head><body><h1>ganaudit demo</h1>
<p>Every run trained, scored and reported by <code>ganaudit demo</code>. Each report says which
epoch to use and why.</p>
<table><thead><tr><th>Run</th><th>Stopping epoch</th><th>Summary</th></tr></thead>
<tbody>{rows}</tbody></table></body></html>
"""
    path = out / "index.html"
    write_text(path, page)
    return path


def run(args) -> int:
    from gan_models.errors import InputError

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"output folder {out} is not empty; choose a new --out or remove it")
    started = time.perf_counter()
    _log("1D teaching GANs (sine, square, parabola, sawtooth, circle):")
    results = run_1d(out, epochs=args.epochs_1d, quiet=args.quiet)
    if not args.skip_2d:
        _log("2D MR GAN on the phantom population:")
        results += run_2d(out, epochs=args.epochs_2d, n_phantom=args.n_phantom,
                          n_generated=args.n_generated, quiet=args.quiet)
    index = write_index(out, results)
    _log(f"demo finished in {time.perf_counter() - started:.0f} s")
    _log(f"reports: {index.resolve()}")
    return 0
