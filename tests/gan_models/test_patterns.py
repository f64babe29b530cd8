"""The 1D patterns: samples on their curves (checked with each shape's own equation), ranges,
the circle is not a function of x, user patterns, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudit.gan_models import PATTERNS, Pattern, resolve_pattern
from ganaudit.evaluation.true_error import true_error_1d
from ganaudit.gan_models.errors import InputError


TOL = 1e-5  # float32 samples: their rounding, nothing more


def _on_square(x, y):
    # y = +1 for |x| < 1.5, y = −1 outside; vertical edges at x = ±1.5 from −1 to +1.
    level = np.where(np.abs(x) < 1.5, 1.0, -1.0)
    edge = np.isclose(np.abs(x), 1.5, atol=TOL) & (np.abs(y) <= 1.0 + TOL)
    return np.isclose(y, level, atol=TOL) | edge


def _on_sawtooth(x, y):
    # y = x − ⌊x⌋ on each tooth; the drop at x = 1 from 1 to 0.
    frac = x - np.floor(x)
    tooth = np.isclose(y, frac, atol=TOL) | np.isclose(y, frac + 1.0, atol=TOL)
    drop = np.isclose(x, 1.0, atol=TOL) & (y >= -TOL) & (y <= 1.0 + TOL)
    return tooth | drop


# Each shape's own equation, independent of the package's curve code.
ON_CURVE = {
    "sine": lambda x, y: np.isclose(y, np.sin(x), atol=TOL),
    "parabola": lambda x, y: np.isclose(y, x ** 2, atol=TOL),
    "circle": lambda x, y: np.isclose(x ** 2 + y ** 2, 1.0, atol=TOL),
    "square": _on_square,
    "sawtooth": _on_sawtooth,
}
RANGES = {
    "sine": ((-np.pi, np.pi), (-1.0, 1.0)),
    "square": ((-3.0, 3.0), (-1.0, 1.0)),
    "parabola": ((-1.5, 1.5), (0.0, 2.25)),
    "sawtooth": ((0.0, 2.0), (0.0, 1.0)),
    "circle": ((-1.0, 1.0), (-1.0, 1.0)),
}


def test_the_five_builtin_patterns_exist():
    assert set(PATTERNS) == {"sine", "square", "parabola", "sawtooth", "circle"}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_samples_lie_on_the_curve(name):
    pattern = PATTERNS[name]
    points = pattern.sample(5000, np.random.default_rng(1)).astype(np.float64)
    assert points.shape == (5000, 2)
    assert pattern.sample(10, np.random.default_rng(1)).dtype == np.float32
    assert ON_CURVE[name](points[:, 0], points[:, 1]).all()


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_real_samples_have_near_zero_true_error(name):
    pattern = PATTERNS[name]
    scores = true_error_1d(pattern.sample(5000, np.random.default_rng(7)), pattern)
    assert scores["precision_error_rel"] < 1e-3  # on the dense curve (its grid spacing)
    assert scores["true_error_rel"] < 5e-3


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_dense_curve_lies_on_the_curve_and_spans_its_ranges(name):
    pattern = PATTERNS[name]
    dense = pattern.dense(20_000)
    assert dense.dtype == np.float64 and dense.shape == (20_000, 2)
    assert ON_CURVE[name](dense[:, 0], dense[:, 1]).all()
    (x0, x1), (y0, y1) = RANGES[name]
    assert pattern.x_range == pytest.approx((x0, x1))
    assert pattern.y_range == pytest.approx((y0, y1))
    assert pattern.y_span == pytest.approx(y1 - y0)
    assert dense[:, 0].min() == pytest.approx(x0, abs=1e-3)
    assert dense[:, 0].max() == pytest.approx(x1, abs=1e-3)
    assert dense[:, 1].min() == pytest.approx(y0, abs=1e-3)
    assert dense[:, 1].max() == pytest.approx(y1, abs=1e-3)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_samples_stay_in_range_and_reach_both_ends(name):
    pattern = PATTERNS[name]
    points = pattern.sample(20_000, np.random.default_rng(2))
    (x0, x1), (y0, y1) = RANGES[name]
    assert points[:, 0].min() >= x0 - 1e-5 and points[:, 0].max() <= x1 + 1e-5
    assert points[:, 1].min() >= y0 - 1e-5 and points[:, 1].max() <= y1 + 1e-5
    span = x1 - x0
    assert points[:, 0].min() < x0 + 0.02 * span and points[:, 0].max() > x1 - 0.02 * span


def _max_y_spread_in_x_bins(points, bins=40):
    edges = np.linspace(points[:, 0].min(), points[:, 0].max(), bins + 1)
    which = np.clip(np.digitize(points[:, 0], edges) - 1, 0, bins - 1)
    return max(np.ptp(points[which == b, 1]) for b in range(bins) if (which == b).sum() > 1)


def test_circle_is_not_a_function_of_x_but_sine_is():
    circle = PATTERNS["circle"].sample(5000, np.random.default_rng(3))
    sine = PATTERNS["sine"].sample(5000, np.random.default_rng(3))
    assert _max_y_spread_in_x_bins(circle) > 1.5  # both halves of the circle over one x
    assert _max_y_spread_in_x_bins(sine) < 0.2


def test_samples_depend_on_the_generator_only():
    pattern = PATTERNS["sine"]
    a = pattern.sample(100, np.random.default_rng(5))
    b = pattern.sample(100, np.random.default_rng(5))
    c = pattern.sample(100, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# ---- user patterns ---------------------------------------------------------------------

def steep_line(n, rng):
    x = rng.uniform(0.0, 2.0, n)
    return np.stack([x, 3.0 * x - 1.0], axis=1)


def test_user_pattern_from_a_callable():
    pattern = resolve_pattern(steep_line)
    assert isinstance(pattern, Pattern)
    assert pattern.name == "steep_line"
    assert pattern.x_range == pytest.approx((0.0, 2.0), abs=1e-3)
    assert pattern.y_range == pytest.approx((-1.0, 5.0), abs=1e-2)
    points = pattern.sample(500, np.random.default_rng(0)).astype(np.float64)
    np.testing.assert_allclose(points[:, 1], 3.0 * points[:, 0] - 1.0, atol=1e-5)
    dense = pattern.dense(2000)
    np.testing.assert_allclose(dense[:, 1], 3.0 * dense[:, 0] - 1.0, atol=1e-9)


def test_a_pattern_object_is_returned_as_is():
    assert resolve_pattern(PATTERNS["circle"]) is PATTERNS["circle"]
    assert resolve_pattern("circle") is PATTERNS["circle"]


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``ganaudit_user_patterns`` on sys.path with good and bad samplers."""
    (tmp_path / "ganaudit_user_patterns.py").write_text(
        "import numpy as np\n"
        "def ring(n, rng):\n"
        "    a = rng.uniform(0, 2 * np.pi, n)\n"
        "    return np.stack([2 * np.cos(a), 2 * np.sin(a)], axis=1)\n"
        "def with_nan(n, rng):\n"
        "    out = rng.uniform(0, 1, (n, 2))\n"
        "    out[::7, 1] = np.nan\n"
        "    return out\n"
        "def cloud(n, rng):\n"
        "    return rng.uniform(-1, 1, (n, 2))\n"
        "def wrong_shape(n, rng):\n"
        "    return rng.uniform(0, 1, (n, 3))\n"
        "def fixed_count(n, rng):\n"
        "    return rng.uniform(0, 1, (100, 2))\n"
        "def raises(n, rng):\n"
        "    raise RuntimeError('sensor offline')\n"
        "def strings(n, rng):\n"
        "    return [['a', 'b']] * n\n"
        "NOT_CALLABLE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "ganaudit_user_patterns", raising=False)
    return "ganaudit_user_patterns"


def test_user_pattern_from_module_function(user_module):
    pattern = resolve_pattern(f"{user_module}:ring")
    assert pattern.name == f"{user_module}:ring"
    assert pattern.x_range == pytest.approx((-2.0, 2.0), abs=1e-3)
    points = pattern.sample(300, np.random.default_rng(0)).astype(np.float64)
    np.testing.assert_allclose(np.hypot(points[:, 0], points[:, 1]), 2.0, atol=1e-5)


def test_user_pattern_returning_nan_is_refused(user_module):
    with pytest.raises(InputError, match=r"pattern '.*with_nan' returned \d+ non-finite \(NaN/inf\) "
                                         r"points.*fix the function"):
        resolve_pattern(f"{user_module}:with_nan")


def test_user_pattern_callable_returning_nan_is_refused():
    def nan_sampler(n, rng):
        return np.full((n, 2), np.nan)

    with pytest.raises(InputError, match="non-finite"):
        resolve_pattern(nan_sampler)


@pytest.mark.parametrize("spec, message", [
    ("zigzag", r"unknown pattern 'zigzag'; known patterns: sine, square, parabola, sawtooth, "
               r"circle; or give your own as 'module:function'"),
    ("no_such_module_xyz:f", r"cannot import module 'no_such_module_xyz'.*PYTHONPATH"),
    ("", r"pattern must be a name or 'module:function'"),
    (3, r"pattern must be a name or 'module:function', got 3"),
])
def test_bad_pattern_specs(spec, message):
    with pytest.raises(InputError, match=message):
        resolve_pattern(spec)


@pytest.mark.parametrize("attr, message", [
    ("missing", r"has no attribute 'missing'"),
    ("wrong_shape", r"returned shape \(50000, 3\) when asked for 50000 points; a pattern sampler "
                    r"must return an \(n, 2\) array"),
    ("fixed_count", r"returned shape \(100, 2\) when asked for 50000 points"),
    ("raises", r"pattern '.*:raises' failed when called as sampler\(n, rng\): RuntimeError: "
               r"sensor offline; a pattern must be a function sampler\(n, rng\)"),
    ("strings", r"pattern '.*:strings' failed when called as sampler\(n, rng\): ValueError: "
                r"could not convert string to float"),
    ("NOT_CALLABLE", r"is neither a Pattern nor a callable sampler"),
])
def test_bad_user_module_functions(user_module, attr, message):
    with pytest.raises(InputError, match=message):
        resolve_pattern(f"{user_module}:{attr}")


def test_a_function_with_the_wrong_signature_is_refused():
    with pytest.raises(InputError, match=r"pattern 'os:getcwd' failed when called as sampler\(n, rng\): "
                                         r"TypeError: .*takes no arguments"):
        resolve_pattern("os:getcwd")


def test_user_pattern_samples_follow_the_run_generator(user_module):
    pattern = resolve_pattern(f"{user_module}:ring")
    a = pattern.sample(50, np.random.default_rng([0, 1]))
    again = pattern.sample(50, np.random.default_rng([0, 1]))
    other_seed = pattern.sample(50, np.random.default_rng([1, 1]))
    assert a.dtype == np.float32 and a.shape == (50, 2)
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a, other_seed)


@pytest.mark.parametrize("seed", [0, 1, 12345, [0, 1], [0, 2], [7, 1]])
def test_user_pattern_dense_curve_is_not_a_training_stream(user_module, seed):
    # Points filling a square: independent draws meet at float32 precision with odds ~1e-6
    # (on a curve, one chance match in 2·10⁷ pairs is likely).
    pattern = resolve_pattern(f"{user_module}:cloud")
    training = pattern.sample(1000, np.random.default_rng(seed))
    dense = pattern.dense(20_000)
    shared = set(map(tuple, dense.astype(np.float32))) & set(map(tuple, training))
    assert not shared


def test_user_pattern_dense_curve_is_fixed_and_its_ranges_come_from_it(user_module):
    pattern = resolve_pattern(f"{user_module}:ring")
    dense = pattern.dense(50_000)
    np.testing.assert_array_equal(dense, resolve_pattern(f"{user_module}:ring").dense(50_000))
    assert pattern.x_range == (dense[:, 0].min(), dense[:, 0].max())
    assert pattern.y_range == (dense[:, 1].min(), dense[:, 1].max())


def test_user_pattern_training_points_are_scored_as_a_fresh_sample(user_module):
    # Scored against an independent reference, real points sit the reference's sampling gaps
    # away (~1e-4 here); scored against themselves, only float32 rounding (~1e-7) would remain.
    pattern = resolve_pattern(f"{user_module}:ring")
    scores = true_error_1d(pattern.sample(2000, np.random.default_rng([0, 1])), pattern)
    assert scores["precision_error"] > 1e-5
    assert scores["true_error_rel"] < 5e-3
