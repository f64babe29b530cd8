"""`ganaudit study create | serve | analyze`: blinded real-vs-fake reading studies."""

from __future__ import annotations

import argparse
import re
import sys

from ganaudit.schema import layout


def register(sub) -> None:
    p = sub.add_parser("study", help="blinded real-vs-fake reader study: create, serve, analyze",
                       description="Blinded real-vs-fake reader study for radiologists.")
    ssub = p.add_subparsers(dest="study_command", metavar="STEP")
    ssub.required = True

    c = ssub.add_parser("create", help="create a blinded study folder with reader credentials",
                        description="Create a blinded study: half real, half fake (fakes split evenly "
                                    "across --fake folders), per-reader seeded orders, hashed credentials, "
                                    "the key stored apart in STUDY/key/.")
    c.add_argument("--real", metavar="DIR", help="folder of real images (with --run: default the "
                   "run's held-out images)")
    c.add_argument("--fake", action="append", metavar="DIR[=LABEL]",
                   help="folder of generated images; LABEL names the checkpoint (default: folder name); repeat per checkpoint")
    c.add_argument("--run", metavar="RUN", help="take the fakes from checkpoints of this run (trained "
                   "or imported) instead of --fake folders; with --epochs")
    c.add_argument("--epochs", metavar="E1,E2,…", help="with --run: the checkpoints to read, e.g. 10,40")
    c.add_argument("--readers", required=True, metavar="FILE_OR_LIST",
                   help="comma-separated reader ids, or an existing file with one id per line")
    c.add_argument("--cases", required=True, type=int, metavar="N", help="counted cases per reader (even)")
    c.add_argument("--out", required=True, metavar="STUDY", help="study folder to create (new or empty)")
    c.add_argument("--seed", type=int, default=None,
                   help="seed for the image choice and reader orders (default: a random one, saved only in "
                        "STUDY/key/seed.json). Whoever knows it can tell from 'case k of N' which cases are "
                        "real, so keep it as secret as the key: an explicit seed is for reproducible tests, "
                        "not for real studies")
    c.add_argument("--practice", type=int, default=0, metavar="K",
                   help="practice cases shown first with feedback, not counted (default 0)")
    c.add_argument("--allow-change", action="store_true", help="let readers change answers they gave")
    c.add_argument("--size", type=int, default=None, metavar="S",
                   help="image side shown to readers (default: the images' native size)")
    c.add_argument("--resample-both", action="store_true",
                   help="accept real and fake folders of different native size, bit depth or value range: "
                        "every image, real and fake, goes through the same resampler from a common size "
                        "(without it such folders are refused: readers would see the preprocessing)")
    c.set_defaults(func=_create)

    s = ssub.add_parser("serve", help="serve the reading app in the browser")
    s.add_argument("study", metavar="STUDY")
    s.add_argument("--port", type=int, default=5006, help="TCP port, 1 to 65535 (default 5006)")
    s.add_argument("--db", default=None, metavar="URL",
                   help="answers database (default sqlite in STUDY; or postgresql://user@host:port/db)")
    s.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.set_defaults(func=_serve)

    a = ssub.add_parser("analyze", help="statistics of the answers: accuracy, AUC, agreement, fool rates, MRMC",
                        description="Write STUDY/analysis/: readers.csv, pairs_kappa.csv, checkpoints.csv, "
                                    "regions.csv, mrmc.csv, imrmc.csv, summary.json, reader_accuracy.png, "
                                    "variance_components.json, comparison.json and, with two or more "
                                    "checkpoints, comparison.csv (Obuchowski-Rockette comparison of the "
                                    "checkpoints' mean AUCs).")
    a.add_argument("study", metavar="STUDY")
    a.add_argument("--db", default=None, metavar="URL",
                   help="existing answers database (default sqlite in STUDY); it is only read")
    a.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for AUC intervals (default 2000)")
    a.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples, >= 0 (default 0)")
    a.set_defaults(func=_analyze)

    pl = ssub.add_parser(
        "plan", help="reading-study power and sample size (Obuchowski-Rockette, Hillis et al. 2011)",
        description="Power of a planned reading study, or the counted cases per reader needed for a target "
                    "power. Effect: an AUC difference between checkpoints (--difference), or detection of one "
                    "checkpoint's fakes against 50 % (--auc or --accuracy). Cases follow 'study create': half "
                    "real, the fakes split evenly over the checkpoints. Variance components come from a pilot "
                    "study analysed by 'study analyze' (--pilot) or from stated defaults (docs/reader-study.md).")
    pl.add_argument("--readers", required=True, metavar="R[,R2,...]",
                    help="number of readers (>= 2); a comma-separated list gives one row each")
    size = pl.add_mutually_exclusive_group(required=True)
    size.add_argument("--cases", type=int, metavar="N", help="counted cases per reader: print the power")
    size.add_argument("--power", type=float, metavar="P", help="target power, e.g. 0.8: print the cases needed")
    pl.add_argument("--checkpoints", type=int, default=None, metavar="T",
                    help="checkpoints in the study (default 2 with --difference, else 1)")
    effect = pl.add_mutually_exclusive_group()
    effect.add_argument("--difference", type=float, metavar="D",
                        help="expected difference in mean AUC between two checkpoints' fakes, e.g. 0.1")
    effect.add_argument("--accuracy", type=float, metavar="A",
                        help="expected mean reader accuracy on one checkpoint (vs 50 %%), e.g. 0.6")
    pl.add_argument("--auc", type=float, metavar="A",
                    help="expected mean AUC of one checkpoint's fakes (vs 0.5); with --difference the lower "
                         "checkpoint's AUC, for the default variances (default 0.6)")
    pl.add_argument("--pilot", metavar="STUDY", help="take the variance components from this analysed study")
    pl.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    pl.set_defaults(func=_plan)


def parse_fake(value: str) -> tuple[str, str]:
    """``DIR=LABEL`` → (DIR, LABEL); ``DIR`` → (DIR, folder name)."""
    from pathlib import Path

    if "=" in value:
        folder, label = value.rsplit("=", 1)
        if folder and re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$", label):
            return folder, label
    return value, Path(value.rstrip("/")).name


def _run_sources(args: argparse.Namespace):
    """``--run RUN --epochs E1,E2``: each checkpoint's images (labelled epoch-NNNN, as the report
    matches them) and, without --real, the run's held-out images."""
    import secrets
    from pathlib import Path

    from ganaudit.gan_models.data import ImageSet
    from ganaudit.gan_models.errors import InputError
    from ganaudit.gan_models.imported import stored_count
    from ganaudit.gan_models.runs import load_run, load_run_data
    from ganaudit.gan_models.sampling import generate, run_checkpoints

    run = load_run(args.run)
    if run["kind"] == "1d":
        raise InputError(f"{args.run} is a 1D run; a reading study needs images (a 2D or imported run)")
    try:
        epochs = [int(e) for e in args.epochs.split(",")]
    except ValueError as exc:
        raise InputError(f"--epochs {args.epochs!r} is not a comma-separated list of checkpoint "
                         "numbers, e.g. --epochs 10,40") from exc
    known = [e for e, _ in run_checkpoints(args.run)]
    unknown = [e for e in epochs if e not in known]
    if unknown:
        raise InputError(f"{args.run} has no checkpoint for epoch {unknown[0]}; it has epochs {known}")
    # Enough for any checkpoint's share of counted and practice cases.
    n = args.cases + max(args.practice, 0)
    if run["kind"] == "imported" and stored_count(run) is not None:
        n = min(n, stored_count(run))
    # Fresh latents unless the study is seeded: whoever had the generator and a fixed latent
    # seed could regenerate the fakes and so tell them apart.
    latent_seed = args.seed if args.seed is not None else secrets.randbits(32)
    fakes = []
    for epoch in epochs:
        label = layout.epoch_label(epoch)
        images = generate(args.run, epoch, n, seed=latent_seed)
        fakes.append((ImageSet(images, layout.sample_names(epoch, len(images)),
                               {"source": str(layout.checkpoints_dir(args.run) / label)}), label))
    real = args.real
    if real is None:
        heldout = load_run_data(args.run)[1]
        real = ImageSet(heldout, [f"heldout-{i:05d}" for i in range(len(heldout))],
                        {"source": str(layout.heldout_images(args.run))})
    return real, fakes


def _create(args: argparse.Namespace) -> int:
    from ganaudit.gan_models.errors import InputError
    from ganaudit.reader_study.create import create_study

    if args.run is not None:
        if args.fake or args.epochs is None:
            raise InputError("--run takes its fakes from the run's checkpoints: give --epochs "
                             "E1,E2 and no --fake")
        real, fakes = _run_sources(args)
    elif args.epochs is not None:
        raise InputError("--epochs picks checkpoints of a run: give --run RUN too")
    elif args.real is None or not args.fake:
        raise InputError("give --real DIR and --fake DIR[=LABEL] (repeat per checkpoint), or "
                         "--run RUN --epochs E1,E2")
    else:
        real, fakes = args.real, [parse_fake(v) for v in args.fake]
    import warnings

    from ganaudit.reader_study.blinding import BlindingWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BlindingWarning)  # printed below, once, in the CLI's words
        created = create_study(real, fakes, args.readers, args.cases, args.out,
                               seed=args.seed, practice=args.practice, allow_change=args.allow_change,
                               size=args.size, resample_both=args.resample_both)
    for message in created.blinding_warnings:
        print(f"ganaudit study create: warning: {message}", file=sys.stderr)
    counts = ", ".join(f"{k} {v}" for k, v in created.counts.items())
    print(f"created study {created.study_id} in {created.path} ({counts})")
    print(created.credentials_text(), end="")
    print(f"credentials also saved to {created.credentials_path} (mode 0600); delete it once handed out")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ganaudit.reader_study.app.serve import serve

    return serve(args.study, port=args.port, db=args.db, address=args.address) or 0


def _analyze(args: argparse.Namespace) -> int:
    from ganaudit.reader_study.analysis import analyze_study

    result = analyze_study(args.study, db=args.db, n_boot=args.n_boot, seed=args.seed)
    print(result.text())
    print(f"tables written to {result.out_dir}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from ganaudit.gan_models.errors import InputError
    from ganaudit.reader_study.power import default_components, load_pilot, plan

    try:
        readers = [int(x) for x in args.readers.split(",")]
    except ValueError as exc:
        raise InputError(f"--readers {args.readers!r} is not a number or a comma-separated list of numbers, "
                         "e.g. --readers 5 or --readers 4,6,8") from exc
    if args.difference is not None:
        effect, fom, size = "difference", "auc", args.difference
        base = 0.6 if args.auc is None else args.auc
        level = base + args.difference / 2
        if not 0 < abs(args.difference) < 1:
            raise InputError(f"--difference must be between -1 and 1 and not 0, got {args.difference}")
    elif args.accuracy is not None:
        effect, fom, size = "detection", "accuracy", args.accuracy
        level = size
        if args.auc is not None:
            raise InputError("give --auc or --accuracy for the detection effect, not both")
    elif args.auc is not None:
        effect, fom, size = "detection", "auc", args.auc
        level = size
    else:
        raise InputError("give the expected effect: --difference D, --auc A or --accuracy A")
    if effect == "detection" and (not 0 < size < 1 or size == 0.5):
        raise InputError(f"the expected {fom} must be between 0 and 1 and differ from 0.5 (no effect), got {size}")
    if not 0 < level < 1:
        raise InputError(f"--auc {base} with --difference {args.difference} puts an AUC outside 0-1")
    checkpoints = args.checkpoints if args.checkpoints is not None else (2 if effect == "difference" else 1)
    if args.pilot:
        pilot = load_pilot(args.pilot, fom=fom)
        source = f"pilot {args.pilot}: {pilot.n_readers} readers, {pilot.n_real:g} real cases, {pilot.n_fake:g} fakes " \
                 f"per checkpoint, var_r {pilot.var_r:.3g}, var_tr {pilot.var_tr:.3g}"

        def components_for(n_real, n_fake):
            return pilot
    else:
        source = default_components(fom=fom, value=level).source

        def components_for(n_real, n_fake):
            return default_components(fom=fom, value=level, n_real=n_real, n_fake=n_fake)

    rows = [plan(components_for, readers=r, checkpoints=checkpoints, effect=effect, size=size, cases=args.cases,
                 target_power=args.power, alpha=args.alpha, fom=fom) for r in readers]
    print(f"effect: {rows[0].effect}; {checkpoints} checkpoint(s); alpha {args.alpha:g} (two-sided); "
          f"random readers and cases (Obuchowski-Rockette, Hillis ddf)")
    print(f"variance components: {source}")
    print(f"{'readers':>7} {'cases':>7} {'real':>7} {'fakes/ckpt':>10} {'power':>7}")
    for row in rows:
        note = "" if row.reached else f"  (target not reached by {row.cases} cases)"
        print(f"{row.readers:>7} {row.cases:>7} {row.n_real:>7g} {row.n_fake:>10g} {row.power:>7.3f}{note}")
    return 0
