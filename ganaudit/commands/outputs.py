"""Checks on ``--out`` paths, made before any work starts.

An output folder is replaced as a whole when its results are written (atomically), so a
command must never be pointed at a folder holding anything else: a typo such as
``--out $GENERATED`` would otherwise delete the user's images.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from ganaudit.gan_models.errors import InputError
from ganaudit.schema.values import folder_problem


def _writable_parent(path: Path, flag: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we may write into."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {flag} {path}: {parent} is not writable; choose another place")


def check_out_file(path: str | os.PathLike, *, flag: str = "--out") -> Path:
    """``path`` may be written as a file: not an existing folder, and its folder is writable."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give the path of a .csv file to write")
    _writable_parent(path, flag)
    return path


def check_out_folder(path: str | os.PathLike, produces: tuple[str, ...], *, flag: str = "--out") -> Path:
    """``path`` may be replaced by a folder holding ``produces``: it does not exist, is empty,
    or holds only what an earlier run of the same command wrote."""
    path = Path(path)
    problem = folder_problem(path, ours=produces)
    if problem == "is a file":
        raise InputError(f"{flag} {path} is a file; give a folder to write the results into")
    if problem:
        raise InputError(f"{flag} {path} already {problem} and would be replaced; "
                         "choose a new folder (or the folder of an earlier run of this audit)")
    _writable_parent(path, flag)
    return path


@contextlib.contextmanager
def reporting_write_errors(path: str | os.PathLike, *, flag: str = "--out") -> Iterator[None]:
    """Turn an operating-system error while writing ``path`` into one clear message."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot write {flag} {path}: {reason}; nothing was written there") from exc
