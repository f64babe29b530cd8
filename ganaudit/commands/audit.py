"""``ganaudit audit memorization|findings|detectability``: copy detection, hallucinated-findings
audit and the classifier two-sample test on folders of images. Each writes its OUT folder
atomically (all files appear at once)."""

from __future__ import annotations

import argparse

from ganaudit.commands.outputs import check_out_folder, reporting_write_errors
from ganaudit.schema import layout
from ganaudit.schema import metrics as M


def register(sub) -> None:
    p = sub.add_parser("audit", help="memorization (copy), findings and detectability audits on image folders",
                       description="Audit generated images for copies of training images "
                                   "(memorization), for invented/suppressed findings, or for cues "
                                   "that let a classifier tell them from real images (detectability).")
    audits = p.add_subparsers(dest="audit", metavar="AUDIT")
    audits.required = True

    m = audits.add_parser(
        "memorization", help="flag generated images that copy training images",
        description="Nearest training image of every generated image by NCC, invariant to shifts "
                    "of ±3 px and a horizontal flip; threshold calibrated on held-out real images. "
                    "Writes OUT/memorization.csv, OUT/summary.json, OUT/gallery.png.")
    m.add_argument("--train", required=True, help="folder of training images")
    m.add_argument("--heldout", required=True, help="folder of real images not used in training")
    m.add_argument("--generated", required=True, help="folder of generated images")
    m.add_argument("--out", required=True, help="output folder: new, empty, or an earlier output of this audit "
                   "(replaced atomically); a folder holding anything else is refused")
    m.add_argument("--threshold", type=float, default=None,
                   help="NCC above which an image is a copy (default: held-out percentile)")
    m.add_argument("--percentile", type=float, default=99.0,
                   help="held-out NCC percentile used as threshold (default 99)")
    m.add_argument("--features", default=None,
                   help="feature extractor name (e.g. radiomics, pixels) for the feature-space "
                        "nearest neighbour, C_T, authenticity and MiFID")
    m.add_argument("--size", type=int, default=None, help="resize all images to SxS")
    m.add_argument("--brute", action="store_true", help="exact all-pairs search (slow)")
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=run_memorization)

    f = audits.add_parser(
        "findings", help="compare findings in real and generated images",
        description="Run one finding detector on the real and the generated images and compare "
                    "what it finds: per finding and location value, prevalence with Wilson "
                    "intervals and Fisher's exact test; combinations negligible among real images "
                    "but shown by generated ones (impossible); all tests corrected together "
                    "(Holm by default). A test fails only when significant AND its simultaneous "
                    "interval of the prevalence difference lies beyond --margin. Labels of the "
                    "real images (--real-labels, or labels.csv of a `ganaudit data phantom` "
                    "folder) only measure the detector's sensitivity and specificity. Writes "
                    "OUT/findings.csv, OUT/summary.json, OUT/gallery.png.")
    f.add_argument("--real", required=True, help="folder of real images")
    f.add_argument("--generated", required=True, help="folder of generated images")
    f.add_argument("--detector", default="builtin:phantom",
                   help="builtin:phantom (default), keras:PATH.keras or module:function")
    f.add_argument("--findings", default=None,
                   help="comma-separated finding names of a keras detector's outputs")
    f.add_argument("--out", required=True, help="output folder: new, empty, or an earlier output of this audit "
                   "(replaced atomically); a folder holding anything else is refused")
    # Defaults (None here) come from ganaudit.evaluation.findings.FindingsSettings, imported only when
    # the audit runs so that the command line starts fast.
    f.add_argument("--alpha", type=float, default=None,
                   help="family-wise error rate of all tests together (default 0.05)")
    f.add_argument("--margin", type=float, default=None,
                   help="clinically negligible prevalence difference, as a share (default 0.02: "
                        "2 percentage points)")
    f.add_argument("--correction", choices=("holm", "bonferroni"), default=None,
                   help="multiple-testing correction (default holm)")
    f.add_argument("--real-labels", default=None,
                   help="CSV of the real images' labels (column file plus the detector's columns), "
                        "used only for the detector's sensitivity/specificity; default: labels.csv "
                        "in --real or, for an images/ folder, next to it, when present")
    f.add_argument("--min-real", type=int, default=None,
                   help="real images needed to call a combination impossible (default 200)")
    f.add_argument("--size", type=int, default=None, help="resize all images to SxS")
    f.set_defaults(func=run_findings)

    d = audits.add_parser(
        "detectability", help="can a classifier tell generated from real images? (machine reader)",
        description="Classifier two-sample test: a small CNN is trained to separate real from "
                    "generated images with k-fold cross-fitting (every image is scored by a model "
                    "that never saw it). Reports the ROC AUC (0.5: indistinguishable, higher: "
                    "the fakes give themselves away) with a DeLong interval and the p-value of "
                    "AUC > 0.5. Writes OUT/summary.json, OUT/scores.csv (one row per image), "
                    "OUT/gallery.png (most and least detectable fakes), OUT/saliency.png and "
                    "OUT/saliency.npy (occlusion map over the detected fakes).")
    d.add_argument("--real", required=True,
                   help="folder of real images the generator never saw (held-out)")
    d.add_argument("--generated", required=True, help="folder of generated images")
    d.add_argument("--out", required=True, help="output folder: new, empty, or an earlier output of this audit "
                   "(replaced atomically); a folder holding anything else is refused")
    d.add_argument("--size", type=int, default=None, help="resize all images to SxS")
    # Defaults (None here) come from ganaudit.evaluation.detectability.DetectabilitySettings.
    d.add_argument("--folds", type=int, default=None, help="cross-fitting folds (default 5)")
    d.add_argument("--epochs", type=int, default=None, help="training passes per fold (default 10)")
    d.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="use at most N images of each set, a seeded random subset (default: all)")
    d.add_argument("--alpha", type=float, default=None, help="1 - confidence of the AUC interval "
                   "(default 0.05)")
    d.add_argument("--seed", type=int, default=None, help="seed of folds, weights and batch order "
                   "(default 0; same seed, same scores)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=run_detectability)


def _load(folder: str, size: int | None, what: str):
    from ganaudit.gan_models.data import load_images
    from ganaudit.gan_models.errors import InputError

    try:
        return load_images(folder, size=size)
    except InputError as exc:
        raise InputError(f"--{what}: {exc}") from exc


def _same_size(**sets) -> None:
    from ganaudit.gan_models.errors import InputError

    sizes = {k: v.images.shape[1] for k, v in sets.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"--{k} {v}x{v}" for k, v in sizes.items())
        raise InputError(f"image sizes differ ({listed}); pass --size S to resize all to one size")


MEMORIZATION_FILES = layout.MEMORIZATION_FILES
FINDINGS_FILES = layout.FINDINGS_FILES


def run_memorization(args: argparse.Namespace) -> int:
    from ganaudit.evaluation.memorization import memorization_audit, write_memorization
    from ganaudit.gan_models.atomic import atomic_path

    check_out_folder(args.out, MEMORIZATION_FILES)
    train = _load(args.train, args.size, "train")
    heldout = _load(args.heldout, args.size, "heldout")
    generated = _load(args.generated, args.size, "generated")
    _same_size(train=train, heldout=heldout, generated=generated)
    feats = {}
    real_fd = None
    if args.features:
        from ganaudit.evaluation.features import extract, get_extractor
        from ganaudit.evaluation.frechet import frechet_distance_from_features
        from ganaudit.evaluation.memorization import standardized_features

        # Standardized as `ganaudit score` does, so both report the same numbers.
        extractor = get_extractor(args.features)
        feats = standardized_features(extract(train.images, extractor), extract(heldout.images, extractor),
                                      extract(generated.images, extractor))
        real_fd = frechet_distance_from_features(feats["train_features"], feats["generated_features"])
    result = memorization_audit(train.images, heldout.images, generated.images,
                                train_names=train.names, generated_names=generated.names,
                                threshold=args.threshold, percentile=args.percentile,
                                real_fd=real_fd, method="brute" if args.brute else "fast",
                                seed=args.seed, **feats)
    with reporting_write_errors(args.out), atomic_path(args.out) as tmp:
        write_memorization(result, tmp, train.images, generated.images)
    s = result.summary
    print(f"flagged {s['n_flagged']}/{s['n_generated']} generated images as copies "
          f"({100 * s['rate']:.1f} %, 95 % CI {100 * s['rate_ci_low']:.1f}–{100 * s['rate_ci_high']:.1f} %) "
          f"at NCC > {s['threshold']:.4f} ({s['threshold_source']}); C_T {_ct_text(s)}, "
          f"authenticity {s[M.AUTHENTICITY]:.2f}")
    print(f"wrote {args.out}")
    return 0


def _ct_text(summary: dict) -> str:
    """C_T with two decimals, or why there is none (no k-means cell of the training set holds
    enough generated images: Meehan et al.'s minimum share is 20 / number generated)."""
    import math

    if not math.isnan(summary[M.CT_SCORE]):
        return f"{summary[M.CT_SCORE]:.2f}"
    return (f"not computed (none of the {summary['ct_cells']} k-means cells of the training set "
            f"holds both a held-out image and more than 20 of the {summary['n_generated']} generated "
            "images; give more generated images)")


def _real_labels(path, folder: str, names: list[str]):
    """Labels of the real images in their order, and where they came from; (None, None) when
    there are none. An explicit --real-labels must cover every image; a labels.csv found
    next to the images is used only when it does."""
    from pathlib import Path

    import pandas as pd

    from ganaudit.gan_models.errors import InputError

    explicit = path is not None
    if explicit:
        candidates = [Path(path)]
        if not candidates[0].is_file():
            raise InputError(f"--real-labels {path} does not exist; give the labels CSV of the real images")
    else:
        root = Path(folder)
        candidates = [root / "labels.csv"] + ([root.parent / "labels.csv"] if root.name == "images" else [])
        candidates = [c for c in candidates if c.is_file()]
        if not candidates:
            return None, None
    source = candidates[0]
    try:
        table = pd.read_csv(source)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read labels {source}: {exc}") from exc
    if "file" not in table.columns:
        if explicit:
            raise InputError(f"{source} has no 'file' column naming each image; add one")
        return None, None
    # Image names are file stems (sub-folders joined with "__").
    by_stem = {Path(str(f)).stem: i for i, f in enumerate(table["file"])}
    rows = [by_stem.get(name.rsplit("__", 1)[-1]) for name in names]
    missing = [name for name, row in zip(names, rows) if row is None]
    if missing:
        if explicit:
            raise InputError(f"{source} has no row for {len(missing)} of the {len(names)} real images "
                             f"(e.g. {missing[0]}); give labels for every image in --real")
        print(f"note: {source} does not list every real image; the detector's accuracy is not reported")
        return None, None
    return table.iloc[rows].reset_index(drop=True), str(source)


def run_findings(args: argparse.Namespace) -> int:
    from ganaudit.evaluation.detectors import get_detector
    from ganaudit.evaluation.findings import (KEY_FAILED, KEY_IMPOSSIBLE, FindingsSettings, describe_findings,
                                     findings_audit, write_findings)
    from ganaudit.gan_models.atomic import atomic_path

    given = {"alpha": args.alpha, "margin": args.margin, "correction": args.correction,
             "min_real": args.min_real}
    settings = FindingsSettings(**{k: v for k, v in given.items() if v is not None})
    check_out_folder(args.out, FINDINGS_FILES)
    names = [x.strip() for x in args.findings.split(",") if x.strip()] if args.findings else None
    detector = get_detector(args.detector, findings=names)
    real = _load(args.real, args.size, "real")
    generated = _load(args.generated, args.size, "generated")
    _same_size(real=real, generated=generated)
    labels, source = _real_labels(args.real_labels, args.real, list(real.names))
    result = findings_audit(real.images, generated.images, detector, settings=settings,
                            real_labels=labels, labels_source=source, generated_names=generated.names)
    with reporting_write_errors(args.out), atomic_path(args.out) as tmp:
        write_findings(result, tmp, generated.images)
    s = result.summary
    impossible = "not judged (too few real images)" if s[KEY_IMPOSSIBLE] is None else str(s[KEY_IMPOSSIBLE])
    verdict = f"FAILED ({', '.join(s[KEY_FAILED])})" if s[KEY_FAILED] else "passed"
    print(f"findings audit {verdict}; impossible generated images: {impossible}")
    for line in describe_findings(s):
        print(f"  {line}")
    print(f"wrote {args.out}")
    return 0


def run_detectability(args: argparse.Namespace) -> int:
    from ganaudit.evaluation.detectability import DetectabilitySettings, detectability, write_detectability
    from ganaudit.gan_models.atomic import atomic_path

    given = {"folds": args.folds, "epochs": args.epochs, "max_per_set": args.max_images,
             "alpha": args.alpha, "seed": args.seed}
    settings = DetectabilitySettings(**{k: v for k, v in given.items() if v is not None})
    from ganaudit.evaluation.detectability import FILES as detectability_files

    check_out_folder(args.out, detectability_files)
    real = _load(args.real, args.size, "real")
    generated = _load(args.generated, args.size, "generated")
    _same_size(real=real, generated=generated)
    result = detectability(real.images, generated.images, settings=settings, real_names=real.names,
                           generated_names=generated.names, progress=not args.quiet)
    with reporting_write_errors(args.out), atomic_path(args.out) as tmp:
        write_detectability(result, tmp, real.images, generated.images)
    s = result.summary
    verdict = "the fakes are detectable" if s["p_value"] < settings.alpha else "not detectable"
    print(f"detectability AUC {s['auc']:.3f} ({100 * (1 - settings.alpha):.0f} % CI "
          f"{s['auc_ci_low']:.3f}–{s['auc_ci_high']:.3f}), p {s['p_value']:.3g} for AUC > 0.5: "
          f"{verdict}; {s['n_detected']} of {s['n_generated']} generated images beat 95 % of "
          f"the real images ({s['n_real']} real)")
    print(f"wrote {args.out}")
    return 0
