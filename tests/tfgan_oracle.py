"""Load TF-GAN's pure modules as a test oracle.

tensorflow-gan 2.1.0 cannot be imported normally on TensorFlow >= 2.16 because its package
``__init__`` pulls in ``tf.estimator``. Its loss and eval modules are plain TensorFlow, so we
register the two packages as empty namespaces pointing at the installed folders and import
only those modules. This lives in the tests on purpose: it is an oracle, not product code.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest


def _register_empty_package(name: str, path: Path) -> None:
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    sys.modules[name] = module


def load_tfgan():
    """Return ``(losses_wargs, eval)`` modules of TF-GAN, or skip the test if not installed."""
    registered = sys.modules.get("tensorflow_gan")
    if registered is not None and getattr(registered, "__path__", None):
        # Already loaded by an earlier test module: find_spec fails on the bare namespace.
        root = Path(list(registered.__path__)[0])
    else:
        spec = importlib.util.find_spec("tensorflow_gan")
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("tensorflow-gan is not installed (pip install -e '.[test]')")
        root = Path(list(spec.submodule_search_locations)[0])
    _register_empty_package("tensorflow_gan", root)
    _register_empty_package("tensorflow_gan.python", root / "python")
    losses = importlib.import_module("tensorflow_gan.python.losses.losses_wargs")
    tfgan_eval = importlib.import_module("tensorflow_gan.python.eval")
    return losses, tfgan_eval
