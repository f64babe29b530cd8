"""Resolve the ``module:function`` specs users give for patterns, extractors and detectors."""

from __future__ import annotations

import importlib

from ganaudit.gan_models.errors import InputError


def load_object(spec: str, *, what: str):
    """The object named by ``module:attr`` (dotted ``attr`` allowed); ``what`` names its role
    in the error messages (e.g. "pattern", "feature extractor")."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InputError(f"{what} spec {spec!r} is not module:function")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import module {module_name!r} for {what} {spec!r} ({exc}); "
                         "install it or add its folder to PYTHONPATH") from exc
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise InputError(f"module {module_name!r} has no attribute {attr!r} for {what} {spec!r}; "
                             "check the spec module:function")
    return obj
