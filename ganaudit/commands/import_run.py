"""`ganaudit import`: a run trained elsewhere (sample folders or ONNX generators) as a run folder.

    ganaudit import --samples DIR --train DIR --heldout DIR --out RUN [--history CSV] [--labels CSV]
    ganaudit import --generators DIR --train DIR --heldout DIR --out RUN [...]
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import a GAN trained elsewhere (sample folders or ONNX generators) as a run",
        description=(
            "Make a run folder from a GAN trained elsewhere, so that `ganaudit score RUN`, "
            "`ganaudit report RUN` and `ganaudit study create --run RUN` work on it. Give one "
            "sub-folder of generated images per checkpoint (--samples) or one ONNX generator "
            "file per checkpoint (--generators), named after the epoch or step (epoch-0010, "
            "ckpt_20, step-050000: the number sets the order), plus the training images and "
            "real images the GAN never saw. See docs/importing.md."
        ),
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", metavar="DIR",
                        help="folder with one sub-folder of generated images per checkpoint")
    source.add_argument("--generators", metavar="DIR",
                        help="folder with one ONNX generator (latent → image) per checkpoint; "
                        "needs the extra ganaudit[onnx]")
    p.add_argument("--train", required=True, metavar="DIR", help="the images the GAN was trained on")
    p.add_argument("--heldout", required=True, metavar="DIR",
                   help="real images the GAN never saw (they calibrate the memorization audit)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder to create (new or empty)")
    p.add_argument("--history", metavar="CSV",
                   help="training log: a CSV with 'epoch' and any of d_loss, g_loss, d_acc_real, "
                   "d_acc_fake (for the report's training-health gate)")
    p.add_argument("--labels", metavar="CSV",
                   help="finding labels of the training images ('file' plus one column per "
                   "finding); default: a labels.csv beside the training images")
    p.add_argument("--size", type=int, default=None, metavar="S",
                   help="resize every image to S×S (default: all images must have one size)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample grids' latents (ONNX)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from ganaudit.evaluation.scoring2d import MIN_IMAGES
    from ganaudit.gan_models.imported import import_run

    run = import_run(args.out, train=args.train, heldout=args.heldout, samples=args.samples,
                     generators=args.generators, history=args.history, labels=args.labels,
                     size=args.size, seed=args.seed, min_images=MIN_IMAGES,
                     progress=not args.quiet)
    checkpoints = sorted(int(n) for n in run["source"]["checkpoints"])
    what = "ONNX generators" if run["source"]["type"] == "onnx" else "sample folders"
    print(f"imported {len(checkpoints)} checkpoints ({what}, epochs {checkpoints[0]}–"
          f"{checkpoints[-1]}, {run['image_size']}×{run['image_size']}) → {args.out}")
    if run["history"] is None:
        print("no training history given (--history): the report's health gate will say so")
    print(f"next: ganaudit score {args.out} && ganaudit report {args.out}")
    return 0
