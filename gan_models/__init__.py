"""Data, models and training for ganaudit's 1D and 2D GANs."""

from ganaudit.gan_models.patterns import PATTERNS, Pattern, resolve_pattern

__all__ = ["PATTERNS", "Pattern", "resolve_pattern"]
