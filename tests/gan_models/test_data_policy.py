"""Intensity policy (JSON round trip, windows, validation) and the train / held-out split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganaudit.gan_models.data import IntensityPolicy, split_train_heldout
from ganaudit.gan_models.errors import InputError


def test_policy_round_trips_through_json():
    policy = IntensityPolicy(mode="fixed", window_center=40.0, window_width=400.0,
                             from_dicom_tags=True)
    again = IntensityPolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert again == policy
    assert IntensityPolicy().to_dict()["mode"] == "auto"


@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "minmax"}, "mode must be one of auto, percentile, fixed, got 'minmax'"),
    ({"low_percentile": 50, "high_percentile": 10}, "0 <= low < high <= 100"),
    ({"mode": "fixed"}, "needs window_center and window_width"),
    ({"mode": "fixed", "window_center": 1, "window_width": 0}, "window_width must be positive"),
])
def test_policy_rejects_bad_settings(kwargs, message):
    with pytest.raises(InputError, match=message):
        IntensityPolicy(**kwargs)


def test_policy_rejects_unknown_keys():
    with pytest.raises(InputError, match=r"unknown intensity policy option\(s\) \['lo'\]"):
        IntensityPolicy.from_dict({"mode": "auto", "lo": 1})


def test_fixed_window_and_percentile_windows():
    x = np.linspace(-500, 1500, 101).reshape(1, 101)
    fixed = IntensityPolicy(mode="fixed", window_center=500, window_width=1000).apply(x)
    np.testing.assert_allclose(fixed, np.clip((x - 0) / 1000 * 2 - 1, -1, 1), atol=1e-6)
    pct = IntensityPolicy(mode="percentile", low_percentile=10, high_percentile=90).apply(x)
    lo, hi = np.percentile(x, [10, 90])
    np.testing.assert_allclose(pct, np.clip((x - lo) / (hi - lo) * 2 - 1, -1, 1), atol=1e-6)
    assert np.all(IntensityPolicy().apply(np.full((4, 4), 7.0)) == -1)  # constant image


def test_split_is_deterministic_disjoint_and_sized():
    train, held = split_train_heldout(100, heldout_fraction=0.2, seed=3)
    again = split_train_heldout(100, heldout_fraction=0.2, seed=3)
    other = split_train_heldout(100, heldout_fraction=0.2, seed=4)
    np.testing.assert_array_equal(held, again[1])
    assert not np.array_equal(held, other[1])
    assert len(held) == 20 and len(train) == 80
    assert set(train).isdisjoint(held) and set(train) | set(held) == set(range(100))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(held) > 0)


def test_split_keeps_groups_together():
    groups = [f"vol{i // 10}" for i in range(100)]  # ten volumes of ten slices
    train, held = split_train_heldout(100, heldout_fraction=0.2, seed=0, groups=groups)
    assert len(held) == 20
    held_groups = {groups[i] for i in held}
    assert held_groups.isdisjoint({groups[i] for i in train})


@pytest.mark.parametrize("n,kwargs,message", [
    (1, {}, "need at least 2 images"),
    (10, {"heldout_fraction": 1.0}, "heldout_fraction must be between 0 and 1"),
    (2, {"groups": ["a", "a"]}, "one series or volume of 2 slices is too short"),
    (3, {"groups": ["a", "b"]}, "one entry per image: 2 groups for n=3"),
])
def test_split_rejects_bad_input(n, kwargs, message):
    with pytest.raises(InputError, match=message):
        split_train_heldout(n, **kwargs)


def test_split_of_two_holds_one_out():
    train, held = split_train_heldout(2, heldout_fraction=0.01)
    assert len(train) == 1 and len(held) == 1


@pytest.mark.parametrize("n", [3, 10, 40, 101])
def test_split_of_one_volume_holds_out_a_block_away_from_the_training_slices(n):
    train, held = split_train_heldout(n, heldout_fraction=0.2, seed=4, groups=["vol"] * n)
    assert len(train) >= 1 and len(held) >= 1
    assert set(train).isdisjoint(held)
    assert np.all(np.diff(held) == 1)  # one contiguous block of slices
    gap = np.abs(train[:, None] - held[None, :]).min()
    assert gap == (1 if n == 3 else 3)  # two unused slices either side when there is room
    again = split_train_heldout(n, heldout_fraction=0.2, seed=4, groups=["vol"] * n)
    assert all(np.array_equal(a, b) for a, b in zip((train, held), again))
