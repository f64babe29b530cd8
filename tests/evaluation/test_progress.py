"""The checkpoint progress bar: rate per minute and an ETA that ignores the slow first item."""

from __future__ import annotations

import pytest

from ganaudit.evaluation.parallel import Progress, map_ordered


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_eta_uses_the_steady_rate_not_the_cold_start():
    clock = FakeClock()
    bar = Progress(total=10, desc="scoring checkpoints", unit="checkpoint", enabled=False, clock=clock)
    assert bar.eta_seconds() is None and "warming up" in bar.describe()
    clock.now = 100.0  # the first checkpoint loads Keras and calibrates the detector
    bar.update()
    assert bar.eta_seconds() is None and "measuring" in bar.describe()
    for _ in range(4):  # then one every 20 s
        clock.now += 20.0
        bar.update()
    assert bar.rate_per_minute() == pytest.approx(3.0)
    assert bar.eta_seconds() == pytest.approx(5 * 20.0)
    # Half-way to the next one, the ETA counts down instead of standing still.
    clock.now += 10.0
    assert bar.eta_seconds() == pytest.approx(90.0)
    assert bar.describe() == ", 3.0 checkpoints/min, ETA 01:30"


def test_slow_items_show_seconds_per_item_and_hours():
    clock = FakeClock()
    bar = Progress(total=200, desc="x", unit="checkpoint", enabled=False, clock=clock)
    for t in (5.0, 95.0, 185.0):
        clock.now = t
        bar.update()
    assert bar.describe() == ", 90 s/checkpoint, ETA 4:55:30"


def test_map_ordered_with_a_bar_returns_the_results(capsys):
    assert map_ordered(abs, [-1, 2, -3], progress=True, desc="t", unit="checkpoint") == [1, 2, 3]


def _staged(item: int) -> int:
    from ganaudit.evaluation import parallel

    parallel.stage(f"item {item}: half-way")
    seen.append(parallel._SHOWING[-1].describe())
    return item


seen: list[str] = []


def test_a_serial_item_moves_the_bar_stage_by_stage():
    # Slow items (a checkpoint takes tens of seconds) say what they are doing, and the bar is
    # redrawn then; the stage is forgotten when the item is done, and outside a loop (a Dask
    # worker) saying it does nothing.
    from ganaudit.evaluation import parallel

    seen.clear()
    assert map_ordered(_staged, [1, 2], progress=False, unit="checkpoint") == [1, 2]
    assert seen[0].endswith("· item 1: half-way") and seen[1].endswith("· item 2: half-way")
    assert not parallel._SHOWING
    parallel.stage("nobody listens")  # no bar: no error
    clock = FakeClock()
    bar = Progress(total=3, desc="x", unit="checkpoint", enabled=False, clock=clock)
    bar.stage("epoch 1: memorization audit")
    assert bar.describe() == ", first ones warming up · epoch 1: memorization audit"
    clock.now = 10.0
    bar.update()
    assert "memorization" not in bar.describe()
