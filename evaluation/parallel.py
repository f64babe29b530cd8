"""Run one function over many items, serially or on a dask.distributed cluster.

Used to score many checkpoints at once. ``workers=1`` and no scheduler runs in this process;
``workers=N`` starts a ``LocalCluster`` of N single-threaded worker processes for the call
and closes it afterwards; ``scheduler="tcp://host:port"`` sends the work to an existing Dask
cluster (its workers must see the same files, e.g. a shared disk).

Results come back in the order of the items whatever order the tasks finish in, and each task
is computed exactly as the serial loop would compute it (same inputs, same seeds), so the
results equal those of the serial run.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from gan_models.errors import InputError

# How long to wait for an external scheduler before giving up.
CONNECT_TIMEOUT = "10s"
_DONE = object()


def check_workers(workers: int) -> int:
    """Validate a worker count (a positive integer) and return it."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a whole number ≥ 1, got {workers!r}; pass --workers 1 to run serially")
    return workers


def _connect(scheduler: str | None, workers: int):
    """Return ``(client, cluster)``; ``cluster`` is None for an external scheduler."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return _connect_external(scheduler, Client), None
    # One thread per process: the metrics use NumPy/BLAS and Keras, which are not all
    # thread-safe and would only compete for the same cores.
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster), cluster


def _connect_external(scheduler: str, Client):
    """A client of an existing scheduler that has at least one worker, or one clear error.

    ``Client(timeout=…)`` bounds only the TCP connect: something else listening on the port
    (the dashboard's 8787, say) never completes the handshake, and a scheduler without workers
    never runs a task. Both would hang forever, so both are waited for with a deadline.
    """
    import concurrent.futures

    fix = "start one with `dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler"
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    attempt = pool.submit(Client, scheduler, timeout=CONNECT_TIMEOUT)
    deadline = _seconds(CONNECT_TIMEOUT) + 5
    try:
        client = attempt.result(timeout=deadline)
    except concurrent.futures.TimeoutError as exc:
        raise InputError(f"{scheduler!r} did not answer as a Dask scheduler within "
                         f"{deadline:.0f} s (is it the dashboard port?); {fix}") from exc
    except Exception as exc:  # distributed raises many types for a bad or foreign address
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); {fix}") from exc
    finally:
        pool.shutdown(wait=False)
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except Exception as exc:
        client.close()
        raise InputError(f"the Dask scheduler at {scheduler!r} has no workers; start one with "
                         f"`dask worker {scheduler}`") from exc
    return client


def _seconds(timeout: str) -> float:
    import dask.utils

    return float(dask.utils.parse_timedelta(timeout))


def map_ordered(
    func: Callable[..., Any],
    items: Iterable[Any],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    shared: dict[str, Any] | None = None,
    total: int | None = None,
    max_pending: int | None = None,
    progress: bool = True,
    desc: str = "",
) -> list[Any]:
    """Compute ``func(item, **shared)`` for every item and return the results in item order.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled and sent to the workers).
    items : iterable
        One task per item. Read lazily: at most ``max_pending`` items are in flight, so a
        generator that makes large items (a checkpoint's images) keeps memory bounded.
    workers : int, default 1
        Worker processes of a local cluster; 1 with no ``scheduler`` runs serially here.
    scheduler : str, optional
        Address of an existing Dask scheduler; ``workers`` is then ignored.
    shared : dict, optional
        Keyword arguments passed to every call. Large values are sent to each worker once.
    total : int, optional
        Number of items, for the progress bar when ``items`` has no length.
    max_pending : int, optional
        Tasks submitted but not finished; default twice the number of workers.
    progress : bool, default True
        Show a tqdm progress bar as tasks finish.
    desc : str
        Label of the progress bar.

    Returns
    -------
    list
        ``[func(item, **shared) for item in items]``.

    Raises
    ------
    InputError
        Bad ``workers``, an unreachable scheduler, or an ``InputError`` raised by a task
        (re-raised unchanged; the remaining tasks are cancelled).
    """
    from tqdm.auto import tqdm

    check_workers(workers)
    shared = dict(shared or {})
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if scheduler is None and workers == 1:
        return [func(item, **shared) for item in tqdm(items, total=total, desc=desc, disable=not progress)]

    from distributed import as_completed

    client, cluster = _connect(scheduler, workers)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        limit = max_pending or 2 * n_workers
        scattered = {}
        for key, value in shared.items():
            # Small plain values travel inside each task; arrays and objects once per worker.
            if value is None or isinstance(value, (bool, int, float, str)):
                scattered[key] = value
            else:
                scattered[key] = client.scatter(value, broadcast=True)
        source = iter(items)
        results: dict[int, Any] = {}
        index: dict[str, int] = {}
        submitted = []
        running = as_completed()

        def submit_next() -> bool:
            item = next(source, _DONE)
            if item is _DONE:
                return False
            future = client.submit(func, item, pure=False, **scattered)
            index[future.key] = len(index)
            submitted.append(future)
            running.add(future)
            return True

        try:
            while len(index) < limit and submit_next():
                pass
            with tqdm(total=total, desc=desc, disable=not progress) as bar:
                for future in running:
                    results[index[future.key]] = future.result()
                    bar.update(1)
                    submit_next()
        except BaseException:
            client.cancel(submitted)
            raise
        return [results[i] for i in range(len(results))]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
