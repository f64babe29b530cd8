"""Data, models and training for ganaudit's 1D and 2D GANs."""

from gan_models.patterns import PATTERNS, Pattern, resolve_pattern

__all__ = ["PATTERNS", "Pattern", "resolve_pattern"]
