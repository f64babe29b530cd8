"""Feature extractors: registry, cache, and each radiomic feature family against an oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats

from ganaudit.evaluation import features as feats
from ganaudit.evaluation.features import extract, get_extractor, known_extractors, register_extractor, zscore_with_reference
from ganaudit.evaluation.features import cache as feature_cache
from ganaudit.evaluation.features import radiomics
from ganaudit.gan_models.errors import InputError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))


def smooth_images(n, size=32, seed=0):
    rng = np.random.default_rng(seed)
    field = scipy.ndimage.gaussian_filter(rng.normal(size=(n, size, size)), (0, 1.5, 1.5))
    return np.tanh(3 * field).astype(np.float32)


def simple_features(images):
    """A module:function extractor used by the tests."""
    return np.stack([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], axis=1)


def nan_features(images):
    out = simple_features(images)
    out[0, 0] = np.nan
    return out


# ----------------------------------------------------------------------------- registry

def test_builtins_are_registered():
    assert {"radiomics", "pixels", "inception"} <= set(known_extractors())


def test_unknown_name_lists_known_ones():
    with pytest.raises(InputError, match=r"unknown feature extractor 'radiomix'; known: inception, pixels, radiomics"):
        get_extractor("radiomix")


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("radiomics", {"level": 16}, r"unknown option\(s\) level for feature extractor 'radiomics'; accepted options: levels"),
        ("pixels", {"sise": 8}, r"unknown option\(s\) sise .*accepted options: size"),
        ("pixels", {"size": 0}, "size must be a positive integer"),
        ("radiomics", {"log_sigmas": [2, -1]}, "every LoG sigma must be > 0"),
        ("radiomics", {"wavelet": "nope"}, "unknown wavelet 'nope'"),
        ("radiomics", {"levels": 1}, "levels must be an integer >= 2"),
    ],
)
def test_bad_options(name, options, match):
    with pytest.raises(InputError, match=match):
        get_extractor(name, **options)


def test_register_checks_names_and_factories():
    with pytest.raises(InputError, match="already registered"):
        register_extractor("pixels", feats.pixels.PixelsExtractor)
    with pytest.raises(InputError, match="without ':'"):
        register_extractor("a:b", feats.pixels.PixelsExtractor)
    with pytest.raises(InputError, match=r"not take \*\*kwargs"):
        register_extractor("loose", lambda **kw: None)


def test_register_and_use_a_new_extractor(monkeypatch):
    monkeypatch.setattr(feats, "_REGISTRY", dict(feats._REGISTRY))

    class Means(feats.FeatureExtractor):
        name = "means"

        def __init__(self, *, scale: float = 1.0):
            self.scale = scale
            self.settings = {"scale": scale}

        def _features(self, images):
            return images.mean(axis=(1, 2))[:, None] * self.scale

    register_extractor("means", Means)
    images = smooth_images(5)
    out = extract(images, get_extractor("means", scale=2.0))
    np.testing.assert_allclose(out[:, 0], 2.0 * images.mean(axis=(1, 2)), rtol=1e-6)


# ----------------------------------------------------------------------------- extract and cache

def test_extract_uses_the_cache(monkeypatch, tmp_path):
    images = smooth_images(6)
    extractor = get_extractor("pixels", size=4)
    first = extract(images, extractor)
    files = list((tmp_path / "cache" / "features" / "pixels").glob("*.npy"))
    assert len(files) == 1
    assert not [p for p in (tmp_path / "cache" / "features" / "pixels").iterdir() if p.suffix != ".npy"]
    monkeypatch.setattr(type(extractor), "_features", lambda self, x: pytest.fail("cache was not used"))
    np.testing.assert_array_equal(extract(images, extractor), first)


def test_cache_key_depends_on_images_and_settings():
    images = smooth_images(3)
    a = feature_cache.cache_key(images, get_extractor("pixels", size=4))
    assert a == feature_cache.cache_key(images.copy(), get_extractor("pixels", size=4))
    assert a != feature_cache.cache_key(images, get_extractor("pixels", size=8))
    changed = images.copy()
    changed[0, 0, 0] += 1e-3
    assert a != feature_cache.cache_key(changed, get_extractor("pixels", size=4))


@pytest.mark.parametrize("content", ["garbled", "empty", "nan"])
def test_corrupt_cache_entry_is_recomputed(tmp_path, content):
    import io

    images = smooth_images(4)
    extractor = get_extractor("pixels", size=4)
    expected = extract(images, extractor, cache=False)
    key = feature_cache.cache_key(images, extractor)
    path = feature_cache.cache_dir() / "pixels" / f"{key}.npy"
    path.parent.mkdir(parents=True)
    if content == "nan":
        buffer = io.BytesIO()
        np.save(buffer, np.full_like(expected, np.nan))
        path.write_bytes(buffer.getvalue())
    else:
        path.write_bytes(b"not a numpy file" if content == "garbled" else b"")
    np.testing.assert_array_equal(extract(images, extractor), expected)
    np.testing.assert_array_equal(np.load(path), expected)


def test_module_function_cache_key_follows_the_whole_module(tmp_path, monkeypatch):
    """A changed constant or helper next to the function changes the features: no stale cache."""
    import importlib
    import sys

    module = tmp_path / "feats_for_cache_test.py"
    module.write_text("SCALE = 1.0\ndef feats(images):\n    return images.reshape(len(images), -1)[:, :3] * SCALE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    images = smooth_images(3)
    first = extract(images, get_extractor("feats_for_cache_test:feats"))
    module.write_text(module.read_text().replace("SCALE = 1.0", "SCALE = 1000.0"))
    sys.modules.pop("feats_for_cache_test", None)
    importlib.invalidate_caches()
    second = extract(images, get_extractor("feats_for_cache_test:feats"))
    np.testing.assert_allclose(second, 1000 * first)
    sys.modules.pop("feats_for_cache_test", None)


def test_cache_dir_defaults_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("GANAUDIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert feature_cache.cache_dir() == tmp_path / "xdg" / "ganaudit" / "features"


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((3, 8)), r"shape \(N, H, W\)"),
        (np.zeros((0, 8, 8)), "is empty"),
        (np.full((2, 8, 8), np.nan), "NaN or infinite pixels"),
    ],
)
def test_extract_bad_images(images, match):
    with pytest.raises(InputError, match=match):
        extract(images, "pixels")


def test_extract_rejects_nan_features():
    with pytest.raises(InputError, match=r"gave NaN or infinite features for 1 of 4 images .*another extractor"):
        extract(smooth_images(4), f"{__name__}:nan_features")


def test_zscore_with_reference():
    rng = np.random.default_rng(0)
    ref = rng.normal(3, 2, size=(500, 4))
    ref[:, 3] = 7.0  # constant in the reference
    other = rng.normal(size=(50, 4))
    z_ref, z_other = zscore_with_reference(ref, other)
    np.testing.assert_allclose(z_ref[:, :3].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z_ref[:, :3].std(0), 1, rtol=1e-12)
    np.testing.assert_allclose(z_other[:, 0], (other[:, 0] - ref[:, 0].mean()) / ref[:, 0].std(), rtol=1e-12)
    np.testing.assert_allclose(z_other[:, 3], other[:, 3] - 7.0)
    with pytest.raises(InputError, match="feature set 1 has 3 columns but the reference has 4"):
        zscore_with_reference(ref, other[:, :3])


def test_zscore_treats_round_off_spread_as_constant():
    """Equal values summed in floating point have a tiny non-zero std; dividing by it turned a
    one-grey-level difference into 1e14 and the FD into 1e26."""
    ref = np.full((50, 2), 0.1)
    ref[:, 1] = np.linspace(0, 1, 50)
    assert 0 < ref[:, 0].std() < 1e-15
    other = ref + 1 / 255
    _, z_other = zscore_with_reference(ref, other)
    np.testing.assert_allclose(z_other[:, 0], 1 / 255)
    np.testing.assert_allclose(z_other[:, 1], (other[:, 1] - ref[:, 1].mean()) / ref[:, 1].std())


# ----------------------------------------------------------------------------- pixels

def test_pixels_block_average():
    images = smooth_images(3, size=32)
    out = get_extractor("pixels", size=8)(images)
    expected = images.astype(np.float64).reshape(3, 8, 4, 8, 4).mean(axis=(2, 4)).reshape(3, -1)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


def test_pixels_fractional_area_keeps_the_mean():
    images = smooth_images(2, size=30)
    out = get_extractor("pixels", size=16)(images)
    np.testing.assert_allclose(out.mean(axis=1), images.astype(np.float64).mean(axis=(1, 2)), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- radiomics

def test_radiomics_shape_names_and_finite_on_constant_images():
    extractor = get_extractor("radiomics")
    images = np.concatenate([smooth_images(3, size=32), np.zeros((1, 32, 32), np.float32),
                             np.full((1, 32, 32), -1.0, np.float32)])
    out = extractor(images)
    assert out.shape == (5, len(extractor.feature_names)) == (5, 414)
    assert len(set(extractor.feature_names)) == 414
    assert np.isfinite(out).all()
    # Different images give different features; the two constant images differ only in level.
    assert np.abs(out[0] - out[1]).max() > 0


def test_radiomics_options_change_the_feature_list():
    extractor = get_extractor("radiomics", log_sigmas=[2], wavelet=None, glcm_distances=[1, 2], levels=16)
    assert extractor.image_names == ["original", "log-sigma-2"]
    assert extractor(smooth_images(2)).shape == (2, 2 * (19 + 24 + 10 + 5))


def test_first_order_matches_numpy_and_scipy():
    images = smooth_images(4, size=24).astype(np.float64)
    values = images.reshape(4, -1)
    q = radiomics.quantize(images, 16).reshape(4, -1)
    out = radiomics.first_order(values, q, 16)
    names = radiomics.FIRST_ORDER
    col = {n: out[:, i] for i, n in enumerate(names)}
    np.testing.assert_allclose(col["skewness"], scipy.stats.skew(values, axis=1), rtol=1e-10)
    np.testing.assert_allclose(col["kurtosis"], scipy.stats.kurtosis(values, axis=1, fisher=False), rtol=1e-10)
    for name, pct in zip(["p10", "p25", "median", "p75", "p90"], [10, 25, 50, 75, 90]):
        np.testing.assert_allclose(col[name], np.percentile(values, pct, axis=1), rtol=1e-12)
    np.testing.assert_allclose(col["std"], values.std(axis=1), rtol=1e-12)
    hist = np.stack([np.bincount(row, minlength=16) / row.size for row in q])
    np.testing.assert_allclose(col["entropy"], scipy.stats.entropy(hist, axis=1), rtol=1e-12)
    for i in range(4):
        inner = values[i][(values[i] >= col["p10"][i]) & (values[i] <= col["p90"][i])]
        assert col["rmad"][i] == pytest.approx(np.abs(inner - inner.mean()).mean(), rel=1e-12)


def test_glcm_matches_skimage():
    from skimage.feature import graycomatrix, graycoprops

    images = smooth_images(3, size=20)
    q = radiomics.quantize(images.astype(np.float64), 8)
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    ours = radiomics.glcm_matrices(q, 8, 1)
    features = radiomics.glcm_features(ours)
    for n in range(3):
        ref = graycomatrix(q[n].astype(np.uint8), [1], angles, levels=8, symmetric=True, normed=True)
        np.testing.assert_allclose(ours[n], np.moveaxis(ref[:, :, 0, :], -1, 0), rtol=1e-12)
        for prop in ["mean", "variance", "contrast", "dissimilarity", "homogeneity", "ASM", "correlation", "entropy"]:
            index = radiomics.GLCM.index(prop.lower())
            np.testing.assert_allclose(features[n, :, index], graycoprops(ref, prop)[0], rtol=1e-9, atol=1e-12)


def test_glcm_cluster_and_difference_features_match_direct_sums():
    q = radiomics.quantize(smooth_images(2, size=16).astype(np.float64), 8)
    p = radiomics.glcm_matrices(q, 8, 2)
    out = radiomics.glcm_features(p)
    i, j = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    for n, a in itertools.product(range(2), range(4)):
        m = p[n, a]
        mu = (m * i).sum()
        assert out[n, a, radiomics.GLCM.index("cluster_shade")] == pytest.approx(((i + j - 2 * mu) ** 3 * m).sum(), abs=1e-9)
        assert out[n, a, radiomics.GLCM.index("cluster_prominence")] == pytest.approx(((i + j - 2 * mu) ** 4 * m).sum(), rel=1e-9)
        pd = np.array([m[np.abs(i - j) == k].sum() for k in range(8)])
        assert out[n, a, radiomics.GLCM.index("difference_entropy")] == pytest.approx(scipy.stats.entropy(pd), rel=1e-12)


def _runs_naive(q, levels):
    rows = []
    for image in (q, q.T):
        r = np.zeros((levels, image.shape[1]))
        for line in image:
            for value, group in itertools.groupby(line):
                r[value, len(list(group)) - 1] += 1
        rows.append(r)
    return rows


def test_glrlm_matches_a_naive_run_count():
    q = radiomics.quantize(smooth_images(3, size=12).astype(np.float64), 6)
    ours = radiomics.glrlm_matrices(q, 6)
    for n in range(3):
        naive = _runs_naive(q[n], 6)
        np.testing.assert_array_equal(ours[0][n], naive[0])
        np.testing.assert_array_equal(ours[1][n], naive[1])
    r = ours[0][:1]
    p = r[0] / r[0].sum()
    lengths = np.arange(1, r.shape[2] + 1)
    f = radiomics.glrlm_features(r, 144)[0]
    assert f[radiomics.GLRLM.index("sre")] == pytest.approx((p / lengths**2).sum(), rel=1e-12)
    assert f[radiomics.GLRLM.index("run_percentage")] == pytest.approx(r.sum() / 144, rel=1e-12)


def test_ngtdm_matches_a_pixel_loop():
    levels = 5
    q = radiomics.quantize(smooth_images(1, size=9).astype(np.float64), levels)[0]
    h, w = q.shape
    s, count = np.zeros(levels), np.zeros(levels)
    for r, c in itertools.product(range(h), range(w)):
        neighbours = [q[rr, cc] + 1 for rr in range(r - 1, r + 2) for cc in range(c - 1, c + 2)
                      if (rr, cc) != (r, c) and 0 <= rr < h and 0 <= cc < w]
        s[q[r, c]] += abs(q[r, c] + 1 - np.mean(neighbours))
        count[q[r, c]] += 1
    p = count / (h * w)
    g = np.arange(1, levels + 1)
    present = np.flatnonzero(p > 0)
    ngp = len(present)
    coarseness = 1 / (p * s).sum()
    contrast = sum(p[a] * p[b] * (g[a] - g[b]) ** 2 for a in present for b in present) / (ngp * (ngp - 1)) * s.sum() / (h * w)
    busyness = (p * s).sum() / sum(abs(g[a] * p[a] - g[b] * p[b]) for a in present for b in present)
    complexity = sum(abs(g[a] - g[b]) * (p[a] * s[a] + p[b] * s[b]) / (p[a] + p[b])
                     for a in present for b in present) / (h * w)
    strength = sum((p[a] + p[b]) * (g[a] - g[b]) ** 2 for a in present for b in present) / s.sum()
    out = radiomics.ngtdm_features(q[None], levels)[0]
    np.testing.assert_allclose(out, [coarseness, contrast, busyness, complexity, strength], rtol=1e-10)


def test_log_filter_matches_scipy_ndimage():
    images = smooth_images(2, size=48).astype(np.float64)
    for sigma, ours in zip([2.0, 3.5], radiomics.log_filter(images, [2.0, 3.5])):
        ref = np.stack([scipy.ndimage.gaussian_laplace(image, sigma, mode="reflect") for image in images]) * sigma**2
        scale = np.abs(ref).max()
        assert np.abs(ours - ref).max() < 0.02 * scale


# ----------------------------------------------------------------------------- user and inception

def test_function_spec():
    images = smooth_images(5)
    out = extract(images, f"{__name__}:simple_features")
    np.testing.assert_allclose(out, simple_features(images), rtol=1e-12)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'.*PYTHONPATH"),
        (f"{__name__}:missing", "has no attribute 'missing'"),
        ("keras:/nonexistent/model.keras", "does not exist"),
    ],
)
def test_bad_user_specs(spec, match):
    with pytest.raises(InputError, match=match):
        get_extractor(spec)


def test_keras_model_file(tmp_path):
    import keras

    inputs = keras.Input((16, 16, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "features.keras"
    model.save(path)
    images = smooth_images(4, size=16)
    out = extract(images, f"keras:{path}")
    np.testing.assert_allclose(out, model.predict(images[..., None], verbose=0), rtol=1e-5, atol=1e-6)


def test_inception_without_weights_says_where_to_get_them():
    with pytest.raises(InputError, match="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5.*--weights PATH"):
        get_extractor("inception")
    with pytest.raises(InputError, match="does not exist"):
        get_extractor("inception", weights="/nonexistent/weights.h5")


def test_inception_with_random_weights(tmp_path):
    import keras

    model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None, input_shape=(299, 299, 3))
    path = tmp_path / "random.weights.h5"
    model.save_weights(path)
    extractor = get_extractor("inception", weights=str(path))
    images = smooth_images(2, size=32)
    out = extractor(images)
    assert out.shape == (2, 2048) and np.isfinite(out).all()
    x = keras.ops.image.resize(images[..., None], (299, 299), interpolation="bilinear", antialias=False)
    expected = model.predict(np.repeat(keras.ops.convert_to_numpy(x), 3, axis=-1), verbose=0)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_constant_images_have_no_filtered_texture():
    """A collapsed generator that draws one flat grey: its LoG bands must not turn FFT round-off
    or a padding edge into texture once quantized."""
    extractor = get_extractor("radiomics")
    flat = np.stack([np.full((64, 64), v, np.float32) for v in (-1.0, 0.3, 0.7)])
    features = extract(flat, extractor, cache=False)
    contrast = [i for i, name in enumerate(extractor.feature_names) if name.endswith("glcm-d1:contrast")]
    assert len(contrast) >= 5
    np.testing.assert_array_equal(features[:, contrast], 0.0)


# ----------------------------------------------------------------------------- radiomics speed-up oracle

def _oracle_inputs(size=(64, 64)):
    """Smooth textures, blobs on a background, noise, a binary image and flat images."""
    h, w = size
    rng = np.random.default_rng(15)
    textures = np.tanh(3 * scipy.ndimage.gaussian_filter(rng.normal(size=(6, h, w)), (0, 2, 2)))
    yy, xx = np.mgrid[:h, :w]
    blobs = np.stack([np.where((yy - h / 2 - dy) ** 2 + (xx - w / 2) ** 2 < r * r, 0.6, -0.9)
                      for dy, r in [(0, h / 3), (3, h / 4), (-5, h / 5)]])
    noise = rng.uniform(-1, 1, size=(2, h, w))
    binary = np.sign(rng.normal(size=(1, h, w)))
    flat = np.stack([np.zeros((h, w)), np.full((h, w), 0.25)])
    return np.concatenate([textures, blobs, noise, binary, flat]).astype(np.float32)


@pytest.mark.parametrize("size, options", [
    ((64, 64), {}),
    ((40, 56), {"levels": 16, "log_sigmas": (1.5, 3.0), "wavelet": "haar", "glcm_distances": (1, 2)}),
])
def test_radiomics_matches_the_implementation_before_the_speed_up(size, options):
    from tests.evaluation import radiomics_before_speedup as before

    images = _oracle_inputs(size)
    new = get_extractor("radiomics", **options)
    old = before.RadiomicsExtractor(**options)
    assert new.feature_names == old.feature_names
    # Batches of different sizes too: a feature never depends on the other images of its batch.
    ours = np.concatenate([new(images[:5]), new(images[5:])])
    theirs = old(images)
    scale = np.abs(theirs).max(axis=0)  # round-off is judged against each feature's size
    bad = np.abs(ours - theirs) > 1e-9 * (np.abs(theirs) + scale)
    assert not bad.any(), [new.feature_names[j] for j in np.flatnonzero(bad.any(axis=0))]
