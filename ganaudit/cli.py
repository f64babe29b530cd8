"""``ganaudit`` entry point: argument parsing, dispatch, exit codes.

Each sub-command lives in ``ganaudit/commands/<name>.py`` with ``register(subparsers)``; that
function adds its parser and sets ``func`` (called with the parsed args, returns an exit code
or None). Bad input raises ``ganaudit.gan_models.errors.InputError``: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

from ganaudit import __version__

COMMANDS = ["demo", "data", "train", "sample", "score", "audit", "study", "report", "import_run"]  # modules in ganaudit/commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganaudit",
        description="Train, score and audit GANs for radiology; pick the checkpoint to trust.",
    )
    parser.add_argument("--version", action="version", version=f"ganaudit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"ganaudit.commands.{name}")
        module.register(sub)
    return parser


# Warnings raised by ganaudit's own packages are messages for the user (a skipped file, an
# unhealthy epoch): shown as one line, not with Python's source-line format.
_OURS = tuple(str(Path(__file__).resolve().parents[1] / name) + os.sep
              for name in ("ganaudit", "gan_models", "evaluation", "reader_study", "reports"))


def _warning_printer(command: str, default):
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, UserWarning) and str(Path(filename).resolve()).startswith(_OURS):
            print(f"ganaudit {command}: warning: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)
    return show


def main(argv: list[str] | None = None) -> int:
    from ganaudit.gan_models.errors import InputError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args.command, warnings.showwarning)
            code = args.func(args)
    except InputError as exc:
        print(f"ganaudit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganaudit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
