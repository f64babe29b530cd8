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

from ganaudit.gan_models.errors import InputError

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
    import dask

    # One thread per process: the metrics use NumPy/BLAS and Keras, which are not all
    # thread-safe and would only compete for the same cores.
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting it switches off glibc's
    # adaptive mmap threshold, so every large temporary array (the NCC search's score blocks,
    # the features' image stacks) is mapped and unmapped afresh: a scoring worker spent 5 s of
    # a checkpoint's 14 s CPU in page faults, twice the serial run's CPU. Unset, workers run
    # at the serial speed (6.4 s per checkpoint of the parallel benchmark).
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
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


def _preload(modules: tuple[str, ...]) -> None:
    import importlib

    for name in modules:
        importlib.import_module(name)


class Workers:
    """Dask workers for :func:`map_ordered`, got ready while the caller does other work.

    ``Workers(workers=N)`` starts a local cluster in a background thread: while the caller
    prepares what every task shares (a run's real features), the worker processes start and
    import ``preload`` (NumPy, SciPy, pandas and the scoring modules take seconds per process),
    instead of doing both after the preparation. ``Workers(scheduler=ADDRESS)`` connects at
    once, so a wrong address fails before any work, and asks the workers to import
    ``preload`` without waiting for them. Close it (or use it as a context manager).
    """

    def __init__(self, *, workers: int = 1, scheduler: str | None = None, preload: tuple[str, ...] = ()):
        import concurrent.futures

        check_workers(workers)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._preloading = None
        if scheduler is not None:
            self._started = concurrent.futures.Future()
            self._started.set_result(_connect(scheduler, workers))
            if preload:
                self._preloading = self._pool.submit(self._started.result()[0].run, _preload, tuple(preload))
        else:
            self._started = self._pool.submit(self._start, workers, tuple(preload))

    @staticmethod
    def _start(workers, preload):
        client, cluster = _connect(None, workers)
        if preload:
            client.run(_preload, preload)
        return client, cluster

    def connection(self):
        """``(client, cluster)``, waiting for the start if it is still under way."""
        return self._started.result()

    def close(self) -> None:
        if self._preloading is not None:
            self._preloading.exception()  # wait; an import error shows again in the tasks
        try:
            client, cluster = self._started.result()
        except Exception:
            client = cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        self._pool.shutdown(wait=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _seconds(timeout: str) -> float:
    import dask.utils

    return float(dask.utils.parse_timedelta(timeout))


_SHOWING: list = []  # the bars of serial loops running in this process, innermost last


def stage(text: str) -> None:
    """Say on the progress bar of the serial loop running in this process what its item is
    doing now ("epoch 12: memorization audit"), so a slow item moves the bar (redrawn with
    its ETA) stage by stage. Does nothing where no bar is shown (a Dask worker, no bar)."""
    if _SHOWING:
        _SHOWING[-1].stage(text)


class Progress:
    """A progress bar for slow items (checkpoints): items per minute and an ETA that holds.

    tqdm's own rate and ETA average over every item, and the first item of a run (or of each
    worker) is slower than the rest: it loads Keras, calibrates the findings detector and
    warms caches. Here the rate is counted from the first completion on (the steady state),
    so the ETA is the remaining items at that rate; before any item has finished it says so.
    """

    def __init__(self, *, total: int | None, desc: str, unit: str, enabled: bool, clock=None):
        import time

        from tqdm.auto import tqdm

        self.clock = clock or time.monotonic
        self.total, self.unit = total, unit
        self.doing = ""
        self.times: list[float] = []
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        self.start = self.clock()
        self.bar.set_postfix_str(self.describe(), refresh=False)

    def rate_per_minute(self) -> float | None:
        """Items per minute since the first completion (None until two have finished)."""
        if len(self.times) < 2:
            return None
        span = self.times[-1] - self.times[0]
        return 60.0 * (len(self.times) - 1) / span if span > 0 else None

    def eta_seconds(self) -> float | None:
        rate = self.rate_per_minute()
        if self.total is None:
            return None
        left = self.total - len(self.times)
        if left <= 0:
            return 0.0
        if rate is None:
            return None
        return max(60.0 * left / rate - (self.clock() - self.times[-1]), 0.0)

    def describe(self) -> str:
        rate, eta = self.rate_per_minute(), self.eta_seconds()
        doing = f" · {self.doing}" if self.doing else ""
        if rate is None:
            return (", first ones warming up" if not self.times else ", measuring the rate") + doing
        text = f", {rate:.1f} {self.unit}s/min" if rate >= 1 else f", {60 / rate:.0f} s/{self.unit}"
        if eta is not None:
            minutes, seconds = divmod(int(round(eta)), 60)
            hours, minutes = divmod(minutes, 60)
            text += f", ETA {hours:d}:{minutes:02d}:{seconds:02d}" if hours else f", ETA {minutes:02d}:{seconds:02d}"
        return text + doing

    def stage(self, text: str) -> None:
        """Show what the current item is doing now (the bar is redrawn with a fresh ETA)."""
        self.doing = text
        self.bar.set_postfix_str(self.describe(), refresh=True)

    def update(self) -> None:
        self.times.append(self.clock())
        self.doing = ""
        self.bar.set_postfix_str(self.describe(), refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
    unit: str = "item",
    pool: Workers | None = None,
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
        Show a progress bar as tasks finish (items per minute and an ETA, see :class:`Progress`).
    desc : str
        Label of the progress bar.
    unit : str, default "item"
        What an item is called on the bar ("checkpoint").
    pool : Workers, optional
        Workers started beforehand (see :class:`Workers`); ``workers`` and ``scheduler`` are
        then ignored, and the caller closes them.

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
    check_workers(workers)
    shared = dict(shared or {})
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if pool is None and scheduler is None and workers == 1:
        results = []
        with Progress(total=total, desc=desc, unit=unit, enabled=progress) as bar:
            _SHOWING.append(bar)
            try:
                for item in items:
                    results.append(func(item, **shared))
                    bar.update()
            finally:
                _SHOWING.remove(bar)
        return results

    from distributed import as_completed

    own = pool is None
    if own:
        pool = Workers(workers=workers, scheduler=scheduler)
    client, _ = pool.connection()
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
            with Progress(total=total, desc=desc, unit=unit, enabled=progress) as bar:
                for future in running:
                    results[index[future.key]] = future.result()
                    bar.update()
                    submit_next()
        except BaseException:
            client.cancel(submitted)
            raise
        return [results[i] for i in range(len(results))]
    finally:
        if own:
            pool.close()
