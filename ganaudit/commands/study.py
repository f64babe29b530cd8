"""`ganaudit study create | serve | analyze`: blinded real-vs-fake reading studies."""

from __future__ import annotations

import argparse
import re


def register(sub) -> None:
    p = sub.add_parser("study", help="blinded real-vs-fake reader study: create, serve, analyze",
                       description="Blinded real-vs-fake reader study for radiologists.")
    ssub = p.add_subparsers(dest="study_command", metavar="STEP")
    ssub.required = True

    c = ssub.add_parser("create", help="create a blinded study folder with reader credentials",
                        description="Create a blinded study: half real, half fake (fakes split evenly "
                                    "across --fake folders), per-reader seeded orders, hashed credentials, "
                                    "the key stored apart in STUDY/key/.")
    c.add_argument("--real", required=True, metavar="DIR", help="folder of real images")
    c.add_argument("--fake", required=True, action="append", metavar="DIR[=LABEL]",
                   help="folder of generated images; LABEL names the checkpoint (default: folder name); repeat per checkpoint")
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
                   help="image side shown to readers (default: smallest size among the folders)")
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
                                    "regions.csv, mrmc.csv, imrmc.csv, summary.json, reader_accuracy.png.")
    a.add_argument("study", metavar="STUDY")
    a.add_argument("--db", default=None, metavar="URL",
                   help="existing answers database (default sqlite in STUDY); it is only read")
    a.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for AUC intervals (default 2000)")
    a.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples, >= 0 (default 0)")
    a.set_defaults(func=_analyze)


def parse_fake(value: str) -> tuple[str, str]:
    """``DIR=LABEL`` → (DIR, LABEL); ``DIR`` → (DIR, folder name)."""
    from pathlib import Path

    if "=" in value:
        folder, label = value.rsplit("=", 1)
        if folder and re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$", label):
            return folder, label
    return value, Path(value.rstrip("/")).name


def _create(args: argparse.Namespace) -> int:
    from reader_study.create import create_study

    created = create_study(args.real, [parse_fake(v) for v in args.fake], args.readers, args.cases, args.out,
                           seed=args.seed, practice=args.practice, allow_change=args.allow_change, size=args.size)
    counts = ", ".join(f"{k} {v}" for k, v in created.counts.items())
    print(f"created study {created.study_id} in {created.path} ({counts})")
    print(created.credentials_text(), end="")
    print(f"credentials also saved to {created.credentials_path} (mode 0600); delete it once handed out")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from reader_study.app.serve import serve

    return serve(args.study, port=args.port, db=args.db, address=args.address) or 0


def _analyze(args: argparse.Namespace) -> int:
    from reader_study.analysis import analyze_study

    result = analyze_study(args.study, db=args.db, n_boot=args.n_boot, seed=args.seed)
    print(result.text())
    print(f"tables written to {result.out_dir}")
    return 0
