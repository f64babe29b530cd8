"""Scores and audits for GAN checkpoints and folders of images.

Public names are resolved lazily so that importing one metric does not import every
extractor (and TensorFlow) with it.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "frechet_distance": "ganaudit.evaluation.frechet",
    "frechet_distance_from_features": "ganaudit.evaluation.frechet",
    "fd_infinity": "ganaudit.evaluation.frechet",
    "fd_bootstrap_ci": "ganaudit.evaluation.frechet",
    "kid": "ganaudit.evaluation.kid",
    "precision_recall": "ganaudit.evaluation.prdc",
    "density_coverage": "ganaudit.evaluation.prdc",
    "true_error_1d": "ganaudit.evaluation.true_error",
    "memorization_audit": "ganaudit.evaluation.memorization",
    "findings_audit": "ganaudit.evaluation.findings",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
