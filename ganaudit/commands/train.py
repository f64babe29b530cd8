"""``ganaudit train1d`` and ``ganaudit train2d``: train a GAN into a run folder."""

from __future__ import annotations


def _common(p):
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the run type's)")
    p.add_argument("--out", required=True, help="run folder to create (must be empty unless --resume)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, initialisation and noise")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last complete checkpoint")
    p.add_argument("--loss", choices=["modified", "minimax", "wasserstein", "least_squares"], default=None,
                   help="GAN loss (default: modified, the non-saturating loss)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def register(sub):
    p = sub.add_parser("train1d", help="train a 1D GAN on a pattern",
                       description="Train a 1D GAN on (x, y) points of a pattern. Writes RUN/run.json, "
                                   "history.csv, checkpoints/ and samples/.")
    p.add_argument("--pattern", required=True,
                   help="sine, square, parabola, sawtooth, circle, or your own as module:function "
                        "(a sampler(n, rng) returning (n, 2) points)")
    _common(p)
    p.set_defaults(func=run_1d)

    p = sub.add_parser("train2d", help="train a 2D DCGAN on MR images",
                       description="Train a DCGAN on the phantom population or a folder/file of "
                                   "DICOM, NIfTI, PNG/JPEG/TIFF or .npy images.")
    p.add_argument("--data", required=True, help="'phantom' or a folder/file of images")
    p.add_argument("--size", type=int, default=None, choices=[64, 128, 256],
                   help="training image size; images are resized to it (default 64, and then a folder "
                        "of images of different sizes is refused)")
    p.add_argument("--n-phantom", type=int, default=1000, help="phantom slices to make when --data phantom")
    p.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"], default="auto",
                   help="auto: mixed_bfloat16 on a GPU/TPU, float32 on CPU (default); mixed_bfloat16 "
                        "also speeds up CPUs with native bf16 units")
    _common(p)
    p.set_defaults(func=run_2d)


def _overrides(args) -> dict:
    out = {}
    if args.loss:
        out["loss"] = args.loss
    if args.batch_size is not None:
        out["batch_size"] = args.batch_size
    return out


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _report(summary) -> int:
    # Unhealthy epochs are reported once, by the training's own warning (ganaudit CMD: warning: …).
    epochs, now = summary["epochs"], summary.get("trained_now", summary["epochs"])
    if now == 0:
        print(f"nothing left to train: {summary['run_dir']} already has all {_epochs(epochs)}; "
              f"add --epochs N (more than {epochs}) to train further")
    elif now < epochs:
        print(f"trained {_epochs(epochs)} into {summary['run_dir']} (resumed: epochs "
              f"{summary['first_epoch']}-{epochs} trained now)")
    else:
        print(f"trained {_epochs(epochs)} into {summary['run_dir']}")
    return 0


def run_1d(args) -> int:
    from ganaudit.gan_models.gan1d import train_1d

    return _report(train_1d(args.pattern, args.out, epochs=args.epochs, seed=args.seed,
                            resume=args.resume, quiet=args.quiet, **_overrides(args)))


def run_2d(args) -> int:
    from ganaudit.gan_models.gan2d import train_2d

    return _report(train_2d(args.data, args.out, size=args.size, epochs=args.epochs, seed=args.seed,
                            resume=args.resume, quiet=args.quiet, n_phantom=args.n_phantom,
                            precision=args.precision, **_overrides(args)))
