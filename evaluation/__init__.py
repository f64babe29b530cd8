"""Scores and audits for GAN checkpoints and folders of images.

Public names are resolved lazily so that importing one metric does not import every
extractor (and TensorFlow) with it.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "frechet_distance": "evaluation.frechet",
    "frechet_distance_from_features": "evaluation.frechet",
    "fd_infinity": "evaluation.frechet",
    "fd_bootstrap_ci": "evaluation.frechet",
    "kid": "evaluation.kid",
    "precision_recall": "evaluation.prdc",
    "density_coverage": "evaluation.prdc",
    "true_error_1d": "evaluation.true_error",
    "memorization_audit": "evaluation.memorization",
    "findings_audit": "evaluation.findings",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
