"""``ganaudit data phantom`` (write the embedded phantom population) and ``ganaudit data inspect``."""

from __future__ import annotations

import argparse
import sys


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, got {text!r}")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability between 0 and 1, got {text}")
    return value


def register(sub) -> None:
    parser = sub.add_parser("data", help="make the phantom population or inspect an image source",
                            description="Make the embedded phantom population or inspect images.")
    data_sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True

    ph = data_sub.add_parser(
        "phantom", help="write N phantom T1 head slices with planted findings",
        description="Write N synthetic T1-weighted axial MR head slices (MNI152-based) to "
                    "DIR/images/ and their finding labels to DIR/labels.csv. Lesions are "
                    "planted only in the patient's left hemisphere (image right).")
    ph.add_argument("--n", type=int, required=True, metavar="N", help="number of slices")
    ph.add_argument("--size", type=int, default=64, metavar="S", help="image side in pixels (default 64)")
    ph.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist or be empty)")
    ph.add_argument("--seed", type=int, default=0, metavar="K", help="seed (default 0)")
    ph.add_argument("--format", choices=["png", "dicom"], default="png",
                    help="16-bit PNG (default) or MR DICOM files")
    ph.add_argument("--lesion-prevalence", type=_probability, default=0.3, metavar="P",
                    help="probability of a lesion per slice (default 0.3)")
    ph.add_argument("--ventricle-prevalence", type=_probability, default=0.3, metavar="P",
                    help="probability of enlarged ventricles per slice (default 0.3)")
    ph.set_defaults(func=run_phantom)

    ins = data_sub.add_parser(
        "inspect", help="load an image file or folder and summarise it",
        description="Load DICOM/NIfTI/PNG/JPEG/TIFF/.npy images the way training does and print "
                    "how many there are, their size and value range, and the DICOM decoders.")
    ins.add_argument("source", help="image file or folder")
    ins.add_argument("--size", type=int, default=None, metavar="S", help="resize to SxS (needed for mixed sizes)")
    ins.add_argument("--axis", type=int, default=2, choices=[0, 1, 2], help="NIfTI slice axis")
    ins.add_argument("--strict", action="store_true", help="fail on any unreadable file")
    ins.set_defaults(func=run_inspect)


def run_phantom(args) -> int:
    from ganaudit.gan_models.phantom import write_population

    out = write_population(args.out, args.n, args.size, seed=args.seed, fmt=args.format,
                           lesion_prevalence=args.lesion_prevalence,
                           ventricle_prevalence=args.ventricle_prevalence,
                           progress=sys.stderr.isatty())
    import pandas as pd

    labels = pd.read_csv(out / "labels.csv")
    print(f"wrote {len(labels)} {args.format.upper()} images ({args.size}x{args.size}) to "
          f"{out / 'images'}")
    print(f"labels: {out / 'labels.csv'}  lesion {labels['lesion'].mean():.1%} "
          f"(all left hemisphere), enlarged ventricles {labels['enlarged_ventricles'].mean():.1%}")
    return 0


def run_inspect(args) -> int:
    import warnings

    import numpy as np

    from ganaudit.gan_models.data import load_images
    from ganaudit.gan_models.data.dicom import available_handlers

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        images = load_images(args.source, size=args.size, axis=args.axis, strict=args.strict)
    for w in caught:
        if "could not be read" in str(w.message):
            print(f"warning: {w.message}", file=sys.stderr)
    meta = images.meta
    formats = ", ".join(f"{k} {v}" for k, v in meta["formats"].items())
    print(f"{len(images)} images from {meta['n_files']} file(s) ({formats}) in {meta['source']}")
    print(f"size {meta['size']}x{meta['size']}, intensity policy {meta['policy']['mode']}, "
          f"values {float(np.min(images.images)):.3f} to {float(np.max(images.images)):.3f}")
    print(f"groups (files / DICOM series / volumes): {len(set(images.groups))}")
    shown = ", ".join(images.names[:5]) + (", ..." if len(images) > 5 else "")
    print(f"names: {shown}")
    print("DICOM decoders installed:")
    for syntax, plugins in available_handlers().items():
        print(f"  {syntax}: {', '.join(plugins) if plugins else 'none installed'}")
    return 0
