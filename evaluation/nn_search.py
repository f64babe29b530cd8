"""Shift- and flip-invariant nearest-neighbour search by normalized cross-correlation (NCC).

For every query (generated) image, find the reference (training) image with the highest NCC,
maximised over the 2 × (2m + 1)² variants of the query: shifts of up to ``m`` pixels (default 3)
in each direction, with and without a horizontal flip (98 variants for m = 3). Higher NCC means
more similar (1 = identical up to brightness and contrast).

Borders are handled with one fixed crop: the reference is compared on its central window
``[m:S-m, m:S-m]``, the query on the same-size window moved by the shift, so every variant is
compared on exactly ``(S - 2m)²`` real pixels (no padding, no wrap-around). Each window is
centred and scaled to unit norm on its own, so NCC is a plain dot product.

Two searches give the same answer up to the shortlist's recall:

- ``invariant_nn_brute``: all variants against all references (about 2 × (2m + 1)² plain
  matrix products), blocked over query rows. The reference.
- ``invariant_nn`` (fast path): images are moved so their intensity centre of mass sits at
  the centre; a shortlist of ``k`` references per query comes from 18 variants (shifts of
  -1/0/+1 px × flip) of the centred query projected on the top principal directions of the
  references' windows (one small matrix product per block); the exact invariant NCC of the
  original images is then computed on the shortlist only. Float32 BLAS, blocked over query
  rows so memory stays bounded. It assumes images of one object on a background (a head);
  on object-free textures its shortlist misses more often.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ganaudit.gan_models.errors import InputError

_EPS = 1e-8


@dataclass
class NNResult:
    """Nearest reference for each query.

    Attributes
    ----------
    index : (N,) int64 index of the nearest reference image.
    ncc : (N,) float32 maximal NCC over the variants (in [-1, 1]; higher = more similar).
    shift : (N, 2) int dy, dx of the best variant (query window moved by this).
    flipped : (N,) bool, whether the best variant is the horizontally flipped query.
    """

    index: np.ndarray
    ncc: np.ndarray
    shift: np.ndarray
    flipped: np.ndarray


def check_images(images, what: str) -> np.ndarray:
    """Validate an image stack: float (N, S, S), N ≥ 1, finite. Returns float32."""
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1] != array.shape[2]:
        raise InputError(
            f"{what}: expected square images as an array (N, S, S), got shape {array.shape}; "
            "pass grayscale images of one size")
    if array.shape[0] == 0:
        raise InputError(f"{what}: no images; give at least one image")
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what}: images contain NaN or infinite values; clean or drop those images")
    return array


def _check_pair(queries, references, max_shift: int) -> tuple[np.ndarray, np.ndarray]:
    queries = check_images(queries, "queries")
    references = check_images(references, "references")
    if queries.shape[1:] != references.shape[1:]:
        raise InputError(
            f"image sizes differ: queries {queries.shape[1]}² vs references {references.shape[1]}²; "
            "resize both sets to one size (e.g. --size S)")
    if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise InputError(f"max_shift must be a non-negative integer, got {max_shift!r}")
    if queries.shape[1] - 2 * max_shift < 4:
        raise InputError(
            f"images of size {queries.shape[1]} are too small for shifts of ±{max_shift} px; "
            "use larger images or a smaller max_shift")
    return queries, references


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    """Centre and scale the last axis to unit norm (constant rows become 0)."""
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
    return (x / np.maximum(norm, _EPS)).astype(np.float32, copy=False)


def reference_windows(references: np.ndarray, max_shift: int) -> np.ndarray:
    """Central ``(S-2m)²`` windows of the references, normalized: (N, P) float32."""
    m, s = max_shift, references.shape[1]
    crop = references[:, m:s - m, m:s - m]
    return _normalize_rows(crop.reshape(len(references), -1))


def _variant_list(max_shift: int, flip: bool) -> list[tuple[bool, int, int]]:
    r = range(-max_shift, max_shift + 1)
    return [(f, dy, dx) for f in ((False, True) if flip else (False,)) for dy in r for dx in r]


def query_variants(queries: np.ndarray, max_shift: int, *, flip: bool = True) -> np.ndarray:
    """All shifted (and flipped) windows of the queries, normalized: (N, V, P) float32."""
    m, s = max_shift, queries.shape[1]
    w = s - 2 * m
    out = np.empty((len(queries), len(_variant_list(max_shift, flip)), w * w), np.float32)
    for v, (f, dy, dx) in enumerate(_variant_list(max_shift, flip)):
        src = queries[:, :, ::-1] if f else queries
        out[:, v] = src[:, m + dy:m + dy + w, m + dx:m + dx + w].reshape(len(queries), -1)
    return _normalize_rows(out)


def _result(best_idx, best_ncc, best_var, max_shift, flip) -> NNResult:
    table = np.array(_variant_list(max_shift, flip), dtype=np.int64)  # columns: flip, dy, dx
    picked = table[best_var]
    return NNResult(best_idx.astype(np.int64), best_ncc.astype(np.float32),
                    picked[:, 1:].copy(), picked[:, 0].astype(bool))


def _prepare_exclude(exclude, n_queries: int) -> np.ndarray | None:
    if exclude is None:
        return None
    exclude = np.asarray(exclude, dtype=np.int64).reshape(-1)
    if exclude.shape[0] != n_queries:
        raise InputError(f"exclude must give one reference index (or -1) per query: "
                         f"got {exclude.shape[0]} for {n_queries} queries")
    return exclude


def invariant_nn_brute(queries, references, *, max_shift: int = 3, flip: bool = True,
                       block: int = 64, exclude=None, threads: int | None = 1) -> NNResult:
    """Exact invariant nearest neighbour: every variant against every reference.

    Parameters
    ----------
    queries, references : (N, S, S) float arrays of one size.
    max_shift : largest shift in pixels along each axis.
    flip : also try the horizontally flipped query.
    block : query rows per block (bounds memory to about ``block × len(references)`` floats).
    exclude : optional (N,) reference index to skip for each query (-1: none), e.g. itself.
    threads : BLAS threads (None: the library's default).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        return _brute(queries, references, max_shift=max_shift, flip=flip, block=block,
                      exclude=exclude)


def _brute(queries, references, *, max_shift, flip, block, exclude) -> NNResult:
    queries, references = _check_pair(queries, references, max_shift)
    exclude = _prepare_exclude(exclude, len(queries))
    ref = reference_windows(references, max_shift)
    n = len(queries)
    best_ncc = np.full(n, -np.inf, np.float32)
    best_idx = np.zeros(n, np.int64)
    best_var = np.zeros(n, np.int64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        var = query_variants(queries[start:stop], max_shift, flip=flip)
        rows = np.arange(stop - start)
        for v in range(var.shape[1]):
            scores = var[:, v] @ ref.T
            if exclude is not None:
                ex = exclude[start:stop]
                keep = ex >= 0
                scores[rows[keep], ex[keep]] = -np.inf
            idx = np.argmax(scores, axis=1)
            val = scores[rows, idx]
            better = val > best_ncc[start:stop]
            best_ncc[start:stop][better] = val[better]
            best_idx[start:stop][better] = idx[better]
            best_var[start:stop][better] = v
    return _result(best_idx, best_ncc, best_var, max_shift, flip)


def _variant_norms(images: np.ndarray, max_shift: int, *, flip: bool,
                   window: int | None = None) -> np.ndarray:
    """Norm of every centred query window, in ``_variant_list`` order: (N, V) float32
    (``inf`` for constant windows).

    Box sums over running sums give each window's sum and sum of squares without copying
    the 98 windows; a flipped window holds the same pixels as the unflipped window at the
    mirrored column offset.
    """
    m, s = max_shift, images.shape[1]
    w = s - 2 * m if window is None else window
    lo = (s - w) // 2 - m  # offset of the most negative shift
    x = images.astype(np.float64)

    o = lo + np.arange(2 * m + 1)

    def box(a):
        # Separable: running sums along each row give every strip's row sums (N, S, 2m + 1),
        # then running sums down those columns give the window sums (N, 2m + 1, 2m + 1).
        # Only the first pass touches the whole image, and it runs along contiguous rows.
        along = np.zeros((len(a), s, s + 1))
        np.cumsum(a, axis=2, out=along[:, :, 1:])
        strips = along[:, :, o + w] - along[:, :, o]
        down = np.zeros((len(a), s + 1, len(o)))
        np.cumsum(strips, axis=1, out=down[:, 1:])
        return down[:, o + w] - down[:, o]

    total, squares = box(x), box(x * x)
    norms = np.sqrt(np.maximum(squares - total * total / (w * w), 0.0))  # (N, 2m+1, 2m+1)
    parts = [norms.reshape(len(images), -1)]
    if flip:
        parts.append(norms[:, :, ::-1].reshape(len(images), -1))
    norms = np.concatenate(parts, axis=1)
    # A constant window has no defined correlation: count it as NCC 0 (dividing by inf),
    # instead of amplifying rounding noise by 1 / tiny.
    return np.where(norms > 1e-6, norms, np.inf).astype(np.float32)


def _raw_variants(images: np.ndarray, max_shift: int, out: np.ndarray, *, flip: bool) -> np.ndarray:
    """Copy every (un-normalized) shifted / flipped window into ``out`` (N, V, P), in
    ``_variant_list`` order: one strided copy per orientation (all (2m + 1)² shifts at once
    from a sliding-window view) instead of one per variant."""
    m, s = max_shift, images.shape[1]
    w = s - 2 * m
    side = 2 * m + 1
    grid = out.reshape(len(images), 2 if flip else 1, side, side, w, w)
    sources = (images, images[:, :, ::-1]) if flip else (images,)
    for f, src in enumerate(sources):
        np.copyto(grid[:, f], np.lib.stride_tricks.sliding_window_view(src, (w, w), axis=(1, 2)))
    return out


def _centre(images: np.ndarray) -> np.ndarray:
    """Move each image's intensity centre of mass to the image centre (integer shift, edges
    repeated), so that the remaining shift between two images is small."""
    s = images.shape[1]
    weight = images - images.min(axis=(1, 2), keepdims=True)
    total = np.maximum(weight.sum(axis=(1, 2)), _EPS)
    grid = np.arange(s)
    cy = (weight.sum(axis=2) @ grid) / total
    cx = (weight.sum(axis=1) @ grid) / total
    centre = (s - 1) / 2.0
    dy = np.clip(np.rint(centre - cy), -s // 4, s // 4).astype(int)
    dx = np.clip(np.rint(centre - cx), -s // 4, s // 4).astype(int)
    # Gather with clipped indices (edges repeated), without a padded copy of the set.
    rows = np.clip(grid[None, :] - dy[:, None], 0, s - 1)
    cols = np.clip(grid[None, :] - dx[:, None], 0, s - 1)
    return images[np.arange(len(images))[:, None, None], rows[:, :, None], cols[:, None, :]]


def _pca_basis(windows: np.ndarray, dims: int, *, seed: int = 0, max_rows: int = 1000) -> np.ndarray:
    """Top principal directions of normalized windows (P, dims), from at most ``max_rows`` rows.

    Rows are centred (zero mean each), so the basis is orthogonal to the constant vector and
    projecting an un-centred window gives the same numbers as projecting the centred one.
    """
    rng = np.random.default_rng(seed)
    rows = windows if len(windows) <= max_rows else windows[rng.choice(len(windows), max_rows, replace=False)]
    gram = (rows @ rows.T).astype(np.float64)
    from scipy.linalg import eigh

    top = min(dims, len(gram))
    with _one_blas_thread():
        values, vectors = eigh(gram, subset_by_index=[len(gram) - top, len(gram) - 1])
    order = np.argsort(values)[::-1]
    values, vectors = np.maximum(values[order], _EPS), vectors[:, order]
    basis = (rows.T.astype(np.float64) @ vectors) / np.sqrt(values)
    return basis.astype(np.float32)


def invariant_nn(queries, references, *, max_shift: int = 3, flip: bool = True, k: int = 16,
                 dims: int = 64, block: int = 128, exclude=None, seed: int = 0,
                 threads: int | None = 1, timings: dict | None = None) -> NNResult:
    """Fast invariant nearest neighbour: shortlist in a small PCA space, then exact NCC.

    1. Every image is moved so that its intensity centre of mass sits at the image centre
       (integer shift). After that, two images of the same subject are within about a pixel.
    2. Shortlist: the centred reference windows are projected onto their top ``dims``
       principal directions; each centred query is projected in 18 variants (shifts of
       -1/0/+1 px, with and without flip). The best variant score against every reference is
       one small float32 matrix product per block; the ``k`` best references are kept.
    3. Exact: the full invariant NCC (all 2 × (2m + 1)² variants of the *original* query
       against the original references) is computed on the shortlist only.

    Parameters
    ----------
    queries, references : (N, S, S) float arrays of one size.
    max_shift, flip : as in ``invariant_nn_brute``.
    k : shortlist size per query (larger: closer to brute force, slower).
    dims : principal directions used for the shortlist.
    block : query rows per block (memory is about ``block × 18 × 2048`` floats for scores plus
        ``block × V × P`` for the exact stage).
    exclude : optional (N,) reference index to skip per query (-1: none).
    seed : seed of the subsample used to fit the principal directions.
    threads : BLAS threads for the shortlist products (None: the library's default). One
        thread is the default because the products are small and, on a shared machine, extra
        BLAS threads mostly wait; the exact stage always uses one.
    timings : dict, optional
        Filled with the seconds spent in each stage (``prepare references``, ``shortlist``,
        ``exact``) and whether the prepared references came from the cache.

    The prepared references (windows, principal directions, projections) of the last few
    reference sets are kept in memory, and so are the last few results: scoring searches the
    same training set for every checkpoint, and the held-out × training search gives the
    same answer every time.

    Returns
    -------
    NNResult
        Same fields as the brute force; the NCC is exact for the returned neighbour, and the
        neighbour equals the brute force's whenever it is in the shortlist.
    """
    from threadpoolctl import threadpool_limits

    queries, references = _check_pair(queries, references, max_shift)
    exclude = _prepare_exclude(exclude, len(queries))
    ref_digest = _digest(references)
    key = (_digest(queries), ref_digest, max_shift, flip, k, dims, seed,
           None if exclude is None else _digest(exclude))
    with _CACHE_LOCK:
        found = _RESULTS.get(key)
        if found is not None:
            _RESULTS.move_to_end(key)  # a result asked for again stays (the held-out search)
    if found is not None:
        if timings is not None:
            timings.update({"prepare references": 0.0, "shortlist": 0.0, "exact": 0.0, "cached result": True})
        return NNResult(*(a.copy() for a in (found.index, found.ncc, found.shift, found.flipped)))
    with threadpool_limits(limits=threads, user_api="blas"):
        result = _invariant_nn(queries, references, max_shift=max_shift, flip=flip, k=k, dims=dims,
                               block=block, exclude=exclude, seed=seed, ref_digest=ref_digest,
                               timings=timings if timings is not None else {})
    _remember(_RESULTS, key, result, keep=4)
    return result


_EXACT_SUB = 8
# References scored at once in the shortlist's first round: one variant's (block × chunk)
# scores stay in cache while the running maximum over the variants is taken.
_SCORE_CHUNK = 1024
_CACHE_LOCK = threading.Lock()
_RESULTS: OrderedDict = OrderedDict()
_PREPARED: OrderedDict = OrderedDict()


def clear_caches() -> None:
    """Forget the prepared reference sets and the remembered results (benchmarks use this)."""
    with _CACHE_LOCK:
        _RESULTS.clear()
        _PREPARED.clear()


def cache_state() -> dict:
    """The prepared reference sets and remembered results, to hand to another process
    (scoring workers get the parent's, instead of preparing the training set again)."""
    with _CACHE_LOCK:
        return {"prepared": list(_PREPARED.items()), "results": list(_RESULTS.items())}


def restore_cache(state: dict) -> None:
    """Add what :func:`cache_state` returned (in another process) to this process's caches."""
    for key, value in state["prepared"]:
        _remember(_PREPARED, key, value, keep=2)
    for key, value in state["results"]:
        _remember(_RESULTS, key, value, keep=4)


def _digest(x: np.ndarray) -> bytes:
    """Cache key of an array: its shape, type and a hash of its bytes (read in place; SHA-1
    runs at about 1.6× BLAKE2b's speed here, and a cache key needs no stronger hash)."""
    x = np.ascontiguousarray(x)
    hashed = hashlib.sha1(memoryview(x).cast("B"), usedforsecurity=False).digest()
    return hashed + repr((x.shape, x.dtype.str)).encode()


def _remember(cache: OrderedDict, key, value, *, keep: int) -> None:
    with _CACHE_LOCK:  # scoring may run checkpoints in threads
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > keep:
            cache.popitem(last=False)


def _prepared_references(references: np.ndarray, max_shift: int, dims: int, seed: int, digest: bytes):
    """Exact-stage windows, shortlist basis and projected references, cached per reference
    set; and whether they came from the cache."""
    key = (digest, max_shift, dims, seed)
    with _CACHE_LOCK:
        found = _PREPARED.get(key)
    if found is not None:
        return found, True
    ref = reference_windows(references, max_shift)                 # exact stage
    ref_c = reference_windows(_centre(references), max_shift)       # shortlist stage
    basis = _pca_basis(ref_c, dims, seed=seed)
    ref_p = np.ascontiguousarray((ref_c @ basis).T)                 # (dims, n_ref)
    prepared = (ref, basis, ref_p)
    # Each holds about N × 3,364 float32 windows: keep the last two reference sets.
    _remember(_PREPARED, key, prepared, keep=2)
    return prepared, False


def _invariant_nn(queries, references, *, max_shift, flip, k, dims, block, exclude, seed, ref_digest,
                  timings) -> NNResult:
    n_ref = len(references)
    k = int(max(1, min(k, n_ref)))
    dims = int(max(1, min(dims, n_ref - 1)))
    if k >= n_ref // 2 or n_ref < 8:
        return _brute(queries, references, max_shift=max_shift, flip=flip, block=64, exclude=exclude)
    m, s = max_shift, queries.shape[1]
    w = s - 2 * m
    clock = time.perf_counter()
    (ref, basis, ref_p), cached = _prepared_references(references, max_shift, dims, seed, ref_digest)
    timings["prepare references"] = time.perf_counter() - clock
    timings["cached references"] = cached
    timings["cached result"] = False
    shortlist_s = exact_s = 0.0
    coarse = 1 if max_shift >= 1 else 0
    coarse_list = _variant_list(coarse, flip)
    n = len(queries)
    best_ncc = np.empty(n, np.float32)
    best_idx = np.empty(n, np.int64)
    best_var = np.empty(n, np.int64)
    n_var = len(_variant_list(max_shift, flip))
    # Queries whose 2 × (2m + 1)² windows are copied at once in the exact stage: few, so that
    # the copies (1.3 MB per 64² query) stay in cache until the product reads them.
    sub = _EXACT_SUB
    buffer = np.empty((min(sub, n), n_var, w * w), np.float32)
    for start in range(0, n, block):
        clock = time.perf_counter()
        stop = min(start + block, n)
        b = stop - start
        q = queries[start:stop]
        # Shortlist: centred query windows shifted by at most one pixel, projected.
        # Projections of the raw windows equal those of the centred windows (the basis is
        # orthogonal to constants); dividing by each window's norm normalizes them.
        qc = _centre(q)
        small = np.empty((b, len(coarse_list), w * w), np.float32)
        for v, (f, dy, dx) in enumerate(coarse_list):
            src = qc[:, :, ::-1] if f else qc
            small[:, v] = src[:, m + dy:m + dy + w, m + dx:m + dx + w].reshape(b, -1)
        small_norms = _variant_norms(qc, coarse, flip=flip, window=w)
        proj = np.ascontiguousarray(((small @ basis) / small_norms[:, :, None]).transpose(1, 0, 2))
        shortlist = _shortlist(proj, ref_p, k, None if exclude is None else exclude[start:stop])
        shortlist_s += time.perf_counter() - clock
        clock = time.perf_counter()
        # Exact invariant NCC on the shortlist: raw windows · normalized reference windows,
        # divided by each window's norm (reference windows have zero mean, so the query
        # window's mean drops out).
        # Window norms of the whole block at once (integral images; per image the same numbers
        # as for a few at a time).
        norms = _variant_norms(q, max_shift, flip=flip)
        with _one_blas_thread():
            for s0 in range(0, b, sub):
                s1 = min(s0 + sub, b)
                variants = _raw_variants(q[s0:s1], max_shift, buffer[:s1 - s0], flip=flip)
                _rerank(variants, norms[s0:s1], ref, shortlist[s0:s1],
                        None if exclude is None else exclude[start + s0:start + s1],
                        best_ncc[start + s0:start + s1], best_idx[start + s0:start + s1],
                        best_var[start + s0:start + s1])
        exact_s += time.perf_counter() - clock
    timings["shortlist"] = shortlist_s
    timings["exact"] = exact_s
    return _result(best_idx, best_ncc, best_var, max_shift, flip)


def _one_blas_thread():
    """Small matrix products run faster on one BLAS thread (threads mostly wait on each
    other, badly so on a busy machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _shortlist(proj, ref_p, k, exclude) -> np.ndarray:
    """The ``k`` best references of each query of a block: every reference scored with every
    variant's projection (one small product per variant and chunk of references), the
    running maximum over the variants, then the top ``k``."""
    n_var, b, n_ref = proj.shape[0], proj.shape[1], ref_p.shape[1]
    stacked = proj.reshape(n_var * b, -1)
    scores = np.empty((b, n_ref), np.float32)
    part = np.empty((n_var * b, min(_SCORE_CHUNK, n_ref)), np.float32)
    for c0 in range(0, n_ref, _SCORE_CHUNK):
        c1 = min(c0 + _SCORE_CHUNK, n_ref)
        every = part[:, :c1 - c0]
        np.matmul(stacked, ref_p[:, c0:c1], out=every)
        np.max(every.reshape(n_var, b, c1 - c0), axis=0, out=scores[:, c0:c1])
    if exclude is not None:
        rows = np.flatnonzero(exclude >= 0)
        scores[rows, exclude[rows]] = -np.inf
    return np.argpartition(scores, n_ref - k, axis=1)[:, n_ref - k:]


def _rerank(variants, norms, ref, shortlist, exclude, best_ncc, best_idx, best_var) -> None:
    """Exact NCC of every variant of a few queries against their shortlists, all at once:
    (q, V, P) · (q, P, k) in one batched product (one BLAS call per query, as before)."""
    ncc = np.matmul(variants, ref[shortlist].transpose(0, 2, 1)) / norms[:, :, None]   # (q, V, k)
    if exclude is not None:
        ncc[np.broadcast_to((shortlist == exclude[:, None])[:, None, :], ncc.shape)] = -np.inf
    flat = ncc.reshape(len(ncc), -1).argmax(axis=1)
    v, c = np.divmod(flat, ncc.shape[2])
    at = np.arange(len(ncc))
    best_ncc[:] = ncc[at, v, c]
    best_idx[:] = shortlist[at, c]
    best_var[:] = v
