"""The 1D teaching patterns: curves in the plane that a GAN learns from (x, y) samples.

A pattern is a parametric curve t ∈ [0, 1] → (x, y). Real examples are points at uniformly
random t; the dense curve (used to measure coverage) is the same map on a fine grid of t.
``circle`` is not a function of x, which is the point of it. Users add patterns without
touching the package: a :class:`Pattern`, a callable ``sampler(n, rng) -> (n, 2) array`` or a
``module:function`` spec naming either. A sampler becomes a :class:`SampledPattern`: real
examples are ``sampler(n, rng)`` with the run's generator; its ranges and dense curve come from
a fixed reference sample drawn from a stream of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.specs import load_object


@dataclass(frozen=True)
class Pattern:
    """A named curve with the x- and y-ranges a GAN must learn."""

    name: str
    curve: Callable[[np.ndarray], np.ndarray]  # t in [0, 1] → (len(t), 2)
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    description: str = ""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` real examples: points at uniform random positions along the curve."""
        return self.curve(rng.uniform(0.0, 1.0, size=n)).astype(np.float32)

    def dense(self, n: int = 20_000) -> np.ndarray:
        """The curve sampled on a fine regular grid of its parameter (float64)."""
        return np.asarray(self.curve(np.linspace(0.0, 1.0, n)), dtype=np.float64)

    @property
    def y_span(self) -> float:
        return float(self.y_range[1] - self.y_range[0])

    def to_json(self) -> dict:
        return {"name": self.name, "x_range": list(self.x_range), "y_range": list(self.y_range),
                "description": self.description}


def _graph(fn, x0, x1):
    def curve(t):
        x = x0 + (x1 - x0) * np.asarray(t, dtype=np.float64)
        return np.stack([x, fn(x)], axis=1)
    return curve


def _polyline(vertices):
    """Curve through ``vertices`` at uniform speed along its length (vertical edges included:
    a square wave or sawtooth as drawn, which a continuous generator can follow)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    lengths = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(lengths)]) / lengths.sum()

    def curve(t):
        t = np.asarray(t, dtype=np.float64)
        return np.stack([np.interp(t, cumulative, vertices[:, 0]),
                         np.interp(t, cumulative, vertices[:, 1])], axis=1)
    return curve


def _circle(t):
    angle = 2 * np.pi * np.asarray(t, dtype=np.float64)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


PATTERNS: dict[str, Pattern] = {
    "sine": Pattern("sine", _graph(np.sin, -np.pi, np.pi), (-np.pi, np.pi), (-1.0, 1.0),
                    "y = sin x on [−π, π]"),
    "square": Pattern("square", _polyline([(-3, -1), (-1.5, -1), (-1.5, 1), (1.5, 1), (1.5, -1), (3, -1)]),
                      (-3.0, 3.0), (-1.0, 1.0), "one period of a square wave on [−3, 3], edges drawn"),
    "parabola": Pattern("parabola", _graph(np.square, -1.5, 1.5), (-1.5, 1.5), (0.0, 2.25),
                        "y = x² on [−1.5, 1.5]"),
    "sawtooth": Pattern("sawtooth", _polyline([(0, 0), (1, 1), (1, 0), (2, 1)]), (0.0, 2.0), (0.0, 1.0),
                        "two teeth of y = x − ⌊x⌋ on [0, 2], drop drawn"),
    "circle": Pattern("circle", _circle, (-1.0, 1.0), (-1.0, 1.0), "unit circle (not a function of x)"),
}


# The reference sample of a sampler pattern: its ranges and its dense curve. Its own 128-bit
# entropy, whose last word no training or scoring stream ``[seed, k]`` (k = 1, 2) can have;
# sharing a stream would score the true error against the training points themselves.
_REFERENCE_ENTROPY = 0x6A5E_D1C0_7E57_A11D_0F5E_ED5E_9DE5_0001
_REFERENCE_SIZE = 50_000


def _draw(name: str, sampler: Callable, n: int, rng: np.random.Generator) -> np.ndarray:
    """Call a user sampler and check what it returns.

    Parameters
    ----------
    name : str
        The pattern's name or spec, for the error messages.
    sampler : callable
        The user's ``sampler(n, rng)``.
    n : int
        Number of points asked for.
    rng : numpy.random.Generator
        Passed on to the sampler.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` float64 array of finite (x, y) points.

    Raises
    ------
    InputError
        If the sampler raises, or returns anything but ``n`` finite (x, y) points.
    """
    try:
        points = np.asarray(sampler(n, rng), dtype=np.float64)
    except Exception as exc:  # any failure of user code becomes one clear message, not a traceback
        raise InputError(f"pattern {name!r} failed when called as sampler(n, rng): "
                         f"{type(exc).__name__}: {exc}; a pattern must be a function sampler(n, rng) "
                         "returning an (n, 2) array of (x, y) numbers") from exc
    if points.shape != (n, 2):
        raise InputError(f"pattern {name!r} returned shape {points.shape} when asked for {n} points; "
                         "a pattern sampler must return an (n, 2) array of (x, y) points")
    if not np.all(np.isfinite(points)):
        bad = int((~np.isfinite(points)).any(axis=1).sum())
        raise InputError(f"pattern {name!r} returned {bad} non-finite (NaN/inf) points out of "
                         f"{n}; fix the function so every (x, y) is a finite number")
    return points


@dataclass(frozen=True)
class SampledPattern(Pattern):
    """A user pattern known only through its ``sampler(n, rng) -> (n, 2)``.

    It has no curve parameter, so real examples come straight from the sampler with the
    caller's generator (each seed its own points), and ``curve(t)`` looks ``t`` up in a fixed
    reference sample drawn from a stream of its own (the dense curve for the true error; asked
    for more than its 50,000 points, ``dense`` repeats some).
    """

    sampler: Callable[[int, np.random.Generator], np.ndarray] = field(kw_only=True)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` real examples: ``sampler(n, rng)`` with the given generator (float32)."""
        return _draw(self.name, self.sampler, n, rng).astype(np.float32)


def _from_sampler(name: str, sampler: Callable) -> SampledPattern:
    """Wrap a user sampler as a Pattern whose ranges are measured on its reference sample."""
    reference = _draw(name, sampler, _REFERENCE_SIZE,
                      np.random.default_rng(np.random.SeedSequence(_REFERENCE_ENTROPY)))

    def curve(t):
        # Evenly strided, so a sampler that returns its points in order still spans its curve.
        index = np.rint(np.asarray(t, dtype=np.float64) * (len(reference) - 1)).astype(np.intp)
        return reference[index]

    x, y = reference[:, 0], reference[:, 1]
    return SampledPattern(name, curve, (float(x.min()), float(x.max())),
                          (float(y.min()), float(y.max())), f"user pattern {name}", sampler=sampler)


def resolve_pattern(spec) -> Pattern:
    """A Pattern from a built-in name, a Pattern, a sampler callable or ``module:function``."""
    if isinstance(spec, Pattern):
        return spec
    if callable(spec):
        return _from_sampler(getattr(spec, "__name__", "custom"), spec)
    if not isinstance(spec, str) or not spec:
        raise InputError(f"pattern must be a name or 'module:function', got {spec!r}")
    if spec in PATTERNS:
        return PATTERNS[spec]
    if ":" not in spec:
        raise InputError(f"unknown pattern {spec!r}; known patterns: {', '.join(PATTERNS)}; "
                         "or give your own as 'module:function'")
    obj = load_object(spec, what="pattern")
    pattern = obj if isinstance(obj, Pattern) else _from_sampler(spec, obj) if callable(obj) else None
    if pattern is None:
        raise InputError(f"{spec!r} is neither a Pattern nor a callable sampler(n, rng)")
    return pattern
