"""Many checkpoints on Dask: same results as the serial run, in the same order."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from ganaudit.evaluation import parallel
from ganaudit.evaluation.parallel import map_ordered
from ganaudit.evaluation.scoring2d import score_run_2d
from ganaudit.gan_models.errors import InputError
from tests.evaluation.test_scoring2d import make_tiny_run


def slow_first(item: int, *, scale: float) -> float:
    """Items finish out of order (the first is slowest), results must still come back in order."""
    time.sleep(0.3 if item == 0 else 0.0)
    rng = np.random.default_rng(item)
    matrix = rng.standard_normal((50, 50))
    return float(np.linalg.eigvalsh(matrix @ matrix.T).sum() * scale)


def refuse_three(item: int) -> int:
    if item == 3:
        raise InputError("item 3 is bad input")
    return item


@pytest.fixture(autouse=True)
def _feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def scheduler():
    """An "existing" Dask cluster of two worker processes, shared by the tests of this file."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_local_cluster_returns_serial_results_in_item_order():
    items = [0, 1, 2, 3]
    serial = map_ordered(slow_first, items, shared={"scale": 2.0}, progress=False)
    assert serial == [slow_first(i, scale=2.0) for i in items]
    assert map_ordered(slow_first, items, workers=2, shared={"scale": 2.0}, progress=False) == serial


def finish_time(item: int) -> float:
    time.sleep(0.2)
    return time.time()


def test_items_are_drawn_lazily_with_at_most_max_pending_in_flight(scheduler):
    drawn_at = []

    def items():
        for i in range(6):
            drawn_at.append(time.time())
            yield i

    finished_at = map_ordered(finish_time, items(), scheduler=scheduler, max_pending=2, total=6,
                              progress=False)
    assert len(finished_at) == 6
    for k in range(2, 6):
        # Item k may only be drawn once k - 1 tasks have finished (2 in flight at most).
        assert sum(t <= drawn_at[k] for t in finished_at) >= k - 1


def test_input_error_in_a_task_reaches_the_caller(scheduler):
    with pytest.raises(InputError, match="item 3 is bad input"):
        map_ordered(refuse_three, [1, 2, 3, 4], scheduler=scheduler, progress=False)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_worker_count(workers):
    with pytest.raises(InputError, match=r"workers must be a whole number ≥ 1"):
        map_ordered(refuse_three, [1], workers=workers, progress=False)


def test_unreachable_scheduler(monkeypatch):
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"):
        map_ordered(refuse_three, [1], scheduler="tcp://127.0.0.1:9", progress=False)


def test_a_port_that_is_not_a_scheduler_fails_instead_of_hanging(monkeypatch):
    """Something that accepts the connection but never speaks Dask (a dashboard port)."""
    import socket
    import threading

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(InputError, match=r"(did not answer as a Dask scheduler|cannot reach the Dask scheduler)"):
            map_ordered(refuse_three, [1], scheduler=address, progress=False)
    finally:
        server.close()


def test_a_scheduler_without_workers_fails_instead_of_hanging(monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        with pytest.raises(InputError, match=r"has no workers; start one with `dask worker "):
            map_ordered(refuse_three, [1], scheduler=empty.scheduler_address, progress=False)


def test_scoring_a_run_on_a_cluster_equals_the_serial_run(tmp_path, scheduler):
    run = make_tiny_run(tmp_path, epochs=(1, 2))
    options = dict(features="pixels", n=40, n_boot=20, progress=False)
    serial = score_run_2d(run, **options)
    serial_audit = pd.read_csv(run / "audit" / "epoch-0002" / "memorization" / "memorization.csv")
    on_cluster = score_run_2d(run, scheduler=scheduler, **options)
    pd.testing.assert_frame_equal(on_cluster, serial, check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_csv(run / "audit" / "epoch-0002" / "memorization" / "memorization.csv"), serial_audit,
        check_exact=True)
    pd.testing.assert_frame_equal(pd.read_csv(run / "scores.csv"), serial, check_dtype=False)


def test_workers_get_the_parents_search_preparation_and_detector_calibration(tmp_path, monkeypatch):
    # What a worker would redo before its first checkpoint is done once in the parent and sent.
    import pickle

    from ganaudit.evaluation import detectors, nn_search, scoring2d

    run = make_tiny_run(tmp_path, epochs=(1,))
    reference = scoring2d.prepare_reference(run, features="pixels")
    reference.detector = "builtin:phantom"  # as for a phantom run
    monkeypatch.setattr(detectors, "_CALIBRATED", {(16, 1, 2): "fitted models"})
    warm = pickle.loads(pickle.dumps(scoring2d._warm_state(run, reference)))
    nn_search.clear_caches()
    detectors._CALIBRATED.clear()
    scoring2d._install_warm_state(warm)
    train, heldout = scoring2d._run_data(run)
    timings: dict = {}
    nn_search.invariant_nn(heldout, train, timings=timings)
    assert timings["cached result"] is True
    assert detectors._CALIBRATED == {(16, 1, 2): "fitted models"}
