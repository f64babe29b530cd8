"""``ganaudit sample RUN --epoch E --n N --out DIR``: images (or points) from one checkpoint."""

from __future__ import annotations

from ganaudit.schema import layout
from ganaudit.schema.values import folder_problem


def register(sub):
    p = sub.add_parser("sample", help="generate images from one checkpoint into a folder",
                       description="Write N generated images of checkpoint EPOCH as 16-bit PNGs "
                                   "(2D runs) or an (N, 2) points.npy (1D runs), e.g. for an audit "
                                   "or a reading study.")
    p.add_argument("run", help="run folder")
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default: the last)")
    p.add_argument("--n", type=int, default=100, help="number of samples")
    p.add_argument("--seed", type=int, default=0, help="latent seed")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from ganaudit.gan_models.atomic import atomic_path
    from ganaudit.gan_models.data import write_png16
    from ganaudit.gan_models.errors import InputError
    from ganaudit.gan_models.runs import load_run
    from ganaudit.gan_models.sampling import generate, run_checkpoints

    info = load_run(args.run)
    if args.n <= 0:
        raise InputError(f"--n must be positive, got {args.n}")
    out = Path(args.out)
    problem = folder_problem(out)
    if problem:
        raise InputError(f"output folder {out} {problem}; choose a new folder")
    if info["kind"] == "imported" and info["source"]["type"] != "onnx":
        raise InputError(f"{args.run} was imported from sample folders, so it has no generator to "
                         "sample from; import ONNX generators (ganaudit import --generators DIR) "
                         "to sample new images")
    epochs = [e for e, _ in run_checkpoints(args.run)]
    if not epochs:
        raise InputError(f"{args.run} has no checkpoints; train it first")
    epoch = args.epoch if args.epoch is not None else epochs[-1]
    samples = generate(args.run, epoch, args.n, seed=args.seed)
    if out.exists():
        out.rmdir()
    if info["kind"] == "1d":
        with atomic_path(out) as tmp:
            tmp.mkdir()
            np.save(tmp / "points.npy", samples)
    else:
        write_png16(samples, out, layout.sample_names(epoch, len(samples)))
    print(f"wrote {len(samples)} samples of epoch {epoch} to {out}")
    return 0
