"""Shift/flip-invariant NCC nearest neighbour: brute force against a direct loop, fast path
against brute force, invariances, and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudit.evaluation.nn_search import (
    _raw_variants,
    _variant_list,
    _variant_norms,
    invariant_nn,
    invariant_nn_brute,
)
from ganaudit.gan_models.errors import InputError


def smooth_images(n: int, size: int = 32, *, seed: int = 0) -> np.ndarray:
    """Small smooth random images (independent of the phantom), in [-1, 1]."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    raw = gaussian_filter(rng.normal(size=(n, size, size)), sigma=(0, 2.0, 2.0))
    raw /= np.abs(raw).max(axis=(1, 2), keepdims=True)
    return raw.astype(np.float32)


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift content by (dy, dx) with edge padding (not wrap-around)."""
    pad = max(abs(dy), abs(dx)) + 1
    p = np.pad(images, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    s = images.shape[1]
    return p[:, pad - dy:pad - dy + s, pad - dx:pad - dx + s]


def direct_invariant_ncc(q: np.ndarray, t: np.ndarray, m: int = 3) -> float:
    """Max Pearson correlation over the 98 variants, one pair at a time (the oracle)."""
    s = q.shape[0]
    w = s - 2 * m
    target = t[m:m + w, m:m + w].ravel()
    best = -np.inf
    for src in (q, q[:, ::-1]):
        for dy in range(-m, m + 1):
            for dx in range(-m, m + 1):
                win = src[m + dy:m + dy + w, m + dx:m + dx + w].ravel()
                best = max(best, np.corrcoef(win, target)[0, 1])
    return best


def test_brute_matches_direct_loop():
    refs = smooth_images(7, 20, seed=1)
    queries = smooth_images(4, 20, seed=2)
    result = invariant_nn_brute(queries, refs)
    for i, q in enumerate(queries):
        scores = [direct_invariant_ncc(q, t) for t in refs]
        assert result.index[i] == int(np.argmax(scores))
        assert result.ncc[i] == pytest.approx(max(scores), abs=1e-5)


@pytest.mark.parametrize("dy,dx,flip", [(0, 0, False), (2, -3, False), (-1, 1, True), (3, 3, True)])
@pytest.mark.parametrize("search", [invariant_nn_brute, invariant_nn])
def test_shifted_and_flipped_copies_are_found(search, dy, dx, flip):
    refs = smooth_images(60, 32, seed=3)
    source = refs[[5, 17, 42]]
    copies = shifted(source[:, :, ::-1] if flip else source, dy, dx)
    result = search(copies, refs)
    assert list(result.index) == [5, 17, 42]
    assert np.all(result.ncc > 0.9999)
    assert np.all(result.flipped == flip)
    # The query window is moved by the shift that undoes the copy's displacement.
    assert np.all(result.shift == [dy, -dx if flip else dx])


@pytest.fixture(scope="module")
def phantom_slices():
    from ganaudit.gan_models.phantom import make_population

    images, _ = make_population(320, 32, seed=11)
    return images


def test_fast_equals_brute_on_small_set(phantom_slices):
    # The shortlist assumes images of one object (a head) on a background, as the phantom.
    refs, honest = phantom_slices[:240], phantom_slices[240:]
    queries = np.concatenate([honest, shifted(refs[:20, :, ::-1], 1, 2)])
    brute = invariant_nn_brute(queries, refs)
    fast = invariant_nn(queries, refs, k=16)
    agree = brute.index == fast.index
    assert agree.mean() >= 0.97
    assert np.array_equal(fast.index[-20:], np.arange(20))
    np.testing.assert_allclose(fast.ncc[agree], brute.ncc[agree], atol=1e-5)
    # Where they differ, the fast NCC can only be lower (it is exact for what it returns).
    assert np.all(fast.ncc <= brute.ncc + 1e-5)


def test_exclude_skips_self():
    refs = smooth_images(40, 32, seed=6)
    ex = np.arange(40)
    for search in (invariant_nn_brute, invariant_nn):
        result = search(refs, refs, exclude=ex)
        assert not np.any(result.index == ex)
        assert np.all(result.ncc < 0.9999)
    with pytest.raises(InputError, match="one reference index"):
        invariant_nn(refs, refs, exclude=[1, 2])


def test_variant_norms_match_explicit_windows():
    images = smooth_images(3, 24, seed=7)
    norms = _variant_norms(images, 3, flip=True)
    w, k = 18, 0
    for f in (False, True):
        src = images[:, :, ::-1] if f else images
        for dy in range(7):
            for dx in range(7):
                win = src[:, dy:dy + w, dx:dx + w].reshape(3, -1).astype(np.float64)
                expected = np.linalg.norm(win - win.mean(1, keepdims=True), axis=1)
                np.testing.assert_allclose(norms[:, k], expected, rtol=1e-5)
                k += 1


@pytest.mark.parametrize("flip", [True, False])
def test_raw_variants_are_the_shifted_windows_in_variant_order(flip):
    images = smooth_images(3, 20, seed=8)
    m, w = 2, 16
    variants = _variant_list(m, flip)
    out = _raw_variants(images, m, np.empty((3, len(variants), w * w), np.float32), flip=flip)
    for v, (f, dy, dx) in enumerate(variants):
        src = images[:, :, ::-1] if f else images
        np.testing.assert_array_equal(out[:, v], src[:, m + dy:m + dy + w, m + dx:m + dx + w].reshape(3, -1))


def test_fast_path_scores_are_each_querys_own_exact_ncc(phantom_slices):
    # The exact stage scores a few queries per batched product: each query's NCC must be the
    # best over all variants of its own windows against the reference it names, and no
    # reference may score higher than the best of the whole set (all variants, all references).
    from ganaudit.evaluation import nn_search

    queries, refs = phantom_slices[:40], phantom_slices[40:]
    nn_search.clear_caches()
    fast = invariant_nn(queries, refs, k=4)
    ref_windows = nn_search.reference_windows(refs, 3)
    variants = _raw_variants(queries, 3, np.empty((40, 98, 26 * 26), np.float32), flip=True)
    norms = _variant_norms(queries, 3, flip=True)
    for i in range(40):
        ncc = (variants[i] @ ref_windows.T) / norms[i][:, None]
        assert fast.ncc[i] == pytest.approx(ncc[:, fast.index[i]].max(), rel=1e-6)
        assert fast.ncc[i] <= ncc.max() + 1e-6


def test_order_of_references_does_not_matter():
    refs = smooth_images(50, 32, seed=8)
    queries = smooth_images(10, 32, seed=9)
    perm = np.random.default_rng(0).permutation(50)
    a = invariant_nn_brute(queries, refs)
    b = invariant_nn_brute(queries, refs[perm])
    assert np.array_equal(perm[b.index], a.index)
    np.testing.assert_allclose(a.ncc, b.ncc, atol=1e-6)


@pytest.mark.parametrize("queries,refs,kwargs,match", [
    (np.zeros((0, 32, 32)), smooth_images(5), {}, "queries: no images"),
    (smooth_images(3), np.zeros((0, 32, 32)), {}, "references: no images"),
    (smooth_images(3, 32), smooth_images(5, 24), {}, "image sizes differ"),
    (np.full((2, 32, 32), np.nan), smooth_images(5), {}, "NaN"),
    (np.zeros((3, 32, 16)), smooth_images(5), {}, "square images"),
    (smooth_images(3), smooth_images(5), {"max_shift": -1}, "non-negative"),
    (smooth_images(3, 16), smooth_images(5, 16), {"max_shift": 7}, "too small"),
])
@pytest.mark.parametrize("search", [invariant_nn_brute, invariant_nn])
def test_bad_inputs(search, queries, refs, kwargs, match):
    with pytest.raises(InputError, match=match):
        search(queries, refs, **kwargs)


@pytest.mark.parametrize("search", [invariant_nn_brute, invariant_nn])
def test_constant_images_have_zero_ncc(search, phantom_slices):
    # A collapsed generator's blank images correlate with nothing (not 1 / rounding noise).
    blank = np.full((4, 32, 32), -1.0, np.float32)
    result = search(blank, phantom_slices[:100])
    np.testing.assert_array_equal(result.ncc, 0.0)


# ----------------------------------------------------------------------------- caches and stage times (issue 15)

def test_prepared_references_and_results_are_reused_but_never_stale():
    from ganaudit.evaluation.nn_search import clear_caches

    clear_caches()
    refs, queries = smooth_images(40, seed=21), smooth_images(12, seed=22)
    first: dict = {}
    a = invariant_nn(queries, refs, k=4, timings=first)
    assert first["cached references"] is False and first["cached result"] is False
    assert set(first) >= {"prepare references", "shortlist", "exact"}
    # Other queries against the same references: the references' preparation is reused …
    other: dict = {}
    b = invariant_nn(queries[::-1].copy(), refs, k=4, timings=other)
    assert other["cached references"] is True and other["cached result"] is False
    np.testing.assert_array_equal(b.index, a.index[::-1])
    # … the same queries again give the remembered result, as a copy the caller may change.
    again: dict = {}
    c = invariant_nn(queries, refs, k=4, timings=again)
    assert again["cached result"] is True
    np.testing.assert_array_equal(c.index, a.index)
    np.testing.assert_array_equal(c.ncc, a.ncc)
    c.index[:] = -1
    assert (invariant_nn(queries, refs, k=4).index == a.index).all()
    # Changed images (one pixel) or other options are computed afresh.
    changed = queries.copy()
    changed[0, 16, 16] += 0.5
    fresh: dict = {}
    d = invariant_nn(changed, refs, k=4, timings=fresh)
    assert fresh["cached result"] is False and d.ncc[0] != a.ncc[0]
    clear_caches()
    cold = invariant_nn(changed, refs, k=4)
    np.testing.assert_array_equal(d.index, cold.index)
    np.testing.assert_array_equal(d.ncc, cold.ncc)
    e = invariant_nn(queries, refs, k=4, exclude=np.zeros(12, dtype=int))
    assert (e.index != 0).all()
    clear_caches()


def test_cache_state_moves_to_another_process_and_a_result_in_use_stays():
    import pickle

    from ganaudit.evaluation import nn_search

    nn_search.clear_caches()
    refs, held = smooth_images(40, seed=23), smooth_images(10, seed=24)
    expected = invariant_nn(held, refs, k=4)
    state = pickle.loads(pickle.dumps(nn_search.cache_state()))  # as a worker receives it
    nn_search.clear_caches()
    nn_search.restore_cache(state)
    timings: dict = {}
    got = invariant_nn(held, refs, k=4, timings=timings)
    assert timings["cached result"] is True
    np.testing.assert_array_equal(got.index, expected.index)
    # Scoring asks for the held-out result at every checkpoint while adding new results:
    # asked for each time, it is never the one forgotten.
    for seed in range(6):
        invariant_nn(smooth_images(3, seed=30 + seed), refs, k=4)
        again: dict = {}
        invariant_nn(held, refs, k=4, timings=again)
        assert again["cached result"] is True
    fresh: dict = {}
    invariant_nn(smooth_images(3, seed=30), refs, k=4, timings=fresh)
    assert fresh["cached references"] is True
