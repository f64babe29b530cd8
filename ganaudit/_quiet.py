"""Quiet start-up: keep TensorFlow's native start-up lines off the console.

TensorFlow (2.16 and later) logs through absl from C++ while ``import tensorflow`` runs, before
absl's logging is initialised, and at that point it ignores ``TF_CPP_MIN_LOG_LEVEL``: every
command that loads TensorFlow printed "WARNING: All log messages before absl::InitializeLog()
is called …", "I… port.cc] oneDNN custom operations are on …" and, where the full
``tensorflow`` wheel is installed, "I… cudart_stub.cc] Could not find cuda drivers …" (twice,
once per native library).

``install()`` puts a finder on ``sys.meta_path`` that runs the first ``import tensorflow`` with
file descriptor 2 sent to a temporary file. Afterwards the captured text is written back to
stderr minus absl/glog lines below the level ``TF_CPP_MIN_LOG_LEVEL`` asks for (the letters
I, W, E, F are levels 0-3; fatal lines always pass) and the "before absl::InitializeLog()"
banner. Everything else (Python warnings, tracebacks, anybody's other output) is kept, so
nothing but the start-up chatter disappears. A user who sets ``TF_CPP_MIN_LOG_LEVEL=0`` sees
everything, as TensorFlow intends. TensorFlow's Python logger ("WARNING:tensorflow:… triggered
tf.function retracing") follows the same level: from 2 on only its errors, at 3 nothing below
critical.

We do not set ``TF_ENABLE_ONEDNN_OPTS=0`` to silence the oneDNN line: that changes
TensorFlow's kernels (speed and round-off), not just its console.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager

# absl/glog line: severity letter, MMDD, then the time, e.g. "I0000 00:00:1796.1   13938 port.cc:153] …"
_LOG_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:[\d.]+ +\d+ [^\]]*\] ")
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_LEVELS = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}


def min_log_level() -> int:
    """The level ``TF_CPP_MIN_LOG_LEVEL`` asks for (0 shows everything; unset or unreadable: 0)."""
    try:
        return max(0, int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")))
    except ValueError:
        return 0


def filter_native_log(text: bytes, level: int) -> bytes:
    """``text`` without the absl/glog lines below ``level`` (and the pre-initialisation banner
    when ``level`` is 1 or more). Fatal lines and every other line are kept."""
    kept = []
    for line in text.splitlines(keepends=True):
        if level >= 1 and line.rstrip(b"\r\n") == _BANNER:
            continue
        match = _LOG_LINE.match(line)
        if match and _LEVELS[match.group(1)] < min(level, 3):
            continue
        kept.append(line)
    return b"".join(kept)


@contextmanager
def native_stderr_filtered(level: int):
    """Run the block with file descriptor 2 captured; write back what ``filter_native_log``
    keeps. Does nothing where stderr has no file descriptor to redirect."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = filter_native_log(captured.read(), level)
            if kept:
                os.write(2, kept)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and runs its import under
    ``native_stderr_filtered``; removed from ``sys.meta_path`` once TensorFlow has loaded."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps the real loader (importlib.resources and friends ask it).
        module.__loader__ = self.loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self.loader
        level = min_log_level()
        with native_stderr_filtered(level):
            self.loader.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowImport)]
        # TensorFlow's Python logger follows the same level (its "WARNING:tensorflow:… triggered
        # tf.function retracing" lines are about TensorFlow's internals), unless the user set it.
        logger = logging.getLogger("tensorflow")
        if level >= 2 and logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR if level == 2 else logging.CRITICAL)


def install() -> None:
    """Quiet TensorFlow's start-up unless the user set ``TF_CPP_MIN_LOG_LEVEL=0``; a value the
    user set is never changed. Does nothing once TensorFlow is loaded."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if "tensorflow" in sys.modules or min_log_level() == 0:
        return
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
