"""``ganaudit audit memorization|findings``: copy detection and hallucinated-findings audit on
folders of images. Each writes its OUT folder atomically (all files appear at once)."""

from __future__ import annotations

import argparse

from ganaudit.commands.outputs import check_out_folder, reporting_write_errors


def register(sub) -> None:
    p = sub.add_parser("audit", help="memorization (copy) and findings audits on image folders",
                       description="Audit generated images for copies of training images "
                                   "(memorization) or for invented/suppressed findings.")
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
        description="Run a finding detector on real and generated images; prevalence with CIs and "
                    "Fisher's exact test per finding, impossible combinations, gallery. Writes "
                    "OUT/findings.csv, OUT/summary.json, OUT/gallery.png.")
    f.add_argument("--real", required=True, help="folder of real images")
    f.add_argument("--generated", required=True, help="folder of generated images")
    f.add_argument("--detector", default="builtin:phantom",
                   help="builtin:phantom (default), keras:PATH.keras or module:function")
    f.add_argument("--findings", default=None,
                   help="comma-separated finding names of a keras detector's outputs")
    f.add_argument("--out", required=True, help="output folder: new, empty, or an earlier output of this audit "
                   "(replaced atomically); a folder holding anything else is refused")
    f.add_argument("--min-real", type=int, default=200,
                   help="real images needed to call a combination impossible (default 200)")
    f.add_argument("--size", type=int, default=None, help="resize all images to SxS")
    f.set_defaults(func=run_findings)


def _load(folder: str, size: int | None, what: str):
    from gan_models.data import load_images
    from gan_models.errors import InputError

    try:
        return load_images(folder, size=size)
    except InputError as exc:
        raise InputError(f"--{what}: {exc}") from exc


def _same_size(**sets) -> None:
    from gan_models.errors import InputError

    sizes = {k: v.images.shape[1] for k, v in sets.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"--{k} {v}x{v}" for k, v in sizes.items())
        raise InputError(f"image sizes differ ({listed}); pass --size S to resize all to one size")


MEMORIZATION_FILES = ("memorization.csv", "summary.json", "gallery.png")
FINDINGS_FILES = ("findings.csv", "summary.json", "gallery.png")


def run_memorization(args: argparse.Namespace) -> int:
    from evaluation.memorization import memorization_audit, write_memorization
    from gan_models.atomic import atomic_path

    check_out_folder(args.out, MEMORIZATION_FILES)
    train = _load(args.train, args.size, "train")
    heldout = _load(args.heldout, args.size, "heldout")
    generated = _load(args.generated, args.size, "generated")
    _same_size(train=train, heldout=heldout, generated=generated)
    feats = {}
    real_fd = None
    if args.features:
        from evaluation.features import extract, get_extractor
        from evaluation.frechet import frechet_distance_from_features

        extractor = get_extractor(args.features)
        feats = {"train_features": extract(train.images, extractor),
                 "heldout_features": extract(heldout.images, extractor),
                 "generated_features": extract(generated.images, extractor)}
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
          f"at NCC > {s['threshold']:.4f} ({s['threshold_source']}); C_T {s['ct_score']:.2f}, "
          f"authenticity {s['authenticity']:.2f}")
    print(f"wrote {args.out}")
    return 0


def run_findings(args: argparse.Namespace) -> int:
    from evaluation.detectors import get_detector
    from evaluation.findings import findings_audit, write_findings
    from gan_models.atomic import atomic_path

    check_out_folder(args.out, FINDINGS_FILES)
    names = [x.strip() for x in args.findings.split(",") if x.strip()] if args.findings else None
    detector = get_detector(args.detector, findings=names)
    real = _load(args.real, args.size, "real")
    generated = _load(args.generated, args.size, "generated")
    _same_size(real=real, generated=generated)
    result = findings_audit(real.images, generated.images, detector, min_real=args.min_real,
                            generated_names=generated.names)
    with reporting_write_errors(args.out), atomic_path(args.out) as tmp:
        write_findings(result, tmp, generated.images)
    s = result.summary
    impossible = "not judged (too few real images)" if s["impossible"] is None else str(s["impossible"])
    print(f"impossible generated images: {impossible}; smallest p {s['min_p']:.3g} "
          f"({'significant' if s['significant'] else 'not significant'} after Bonferroni)")
    for name, row in s["findings"].items():
        print(f"  {name}: real {100 * row['real_prevalence']:.1f} %, generated "
              f"{100 * row['generated_prevalence']:.1f} %, p {row['p_value']:.3g}")
    print(f"wrote {args.out}")
    return 0
