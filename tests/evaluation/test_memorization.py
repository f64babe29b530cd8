"""Memorization audit: planted copies caught, honest images not flagged, C_T, authenticity,
MiFID, outputs and input errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter
from scipy.stats import mannwhitneyu

from ganaudit.evaluation.memorization import (
    authenticity_share,
    mann_whitney_z,
    memorization_audit,
    memorization_distance,
    mifid_from_distance,
    wilson_interval,
    write_memorization,
)
from ganaudit.gan_models.errors import InputError
from tests.evaluation.test_nn_search import shifted, smooth_images

N_COPIES_EACH = 16


@pytest.fixture(scope="module")
def population():
    """Phantom slices at 64² (the size the issue measured): train, held-out, fresh."""
    from ganaudit.gan_models.phantom import make_population

    images, _ = make_population(420, 64, seed=21)
    return {"train": images[:220], "heldout": images[220:340], "fresh": images[340:]}


@pytest.fixture(scope="module")
def copies(population):
    """Planted copies of training images: exact, shifted, flipped, noised, blurred."""
    rng = np.random.default_rng(0)
    k = N_COPIES_EACH
    src = population["train"][:5 * k]
    kinds = [
        src[:k],
        shifted(src[k:2 * k], 2, -3),
        src[2 * k:3 * k, :, ::-1],
        np.clip(src[3 * k:4 * k] + rng.normal(0, 0.05, src[3 * k:4 * k].shape), -1, 1),
        gaussian_filter(src[4 * k:5 * k], (0, 0.7, 0.7)),
    ]
    return np.concatenate(kinds).astype(np.float32)


@pytest.fixture(scope="module")
def audits(population, copies):
    copied = memorization_audit(population["train"], population["heldout"], copies)
    honest = memorization_audit(population["train"], population["heldout"], population["fresh"])
    return copied, honest


def test_planted_copies_are_flagged(audits):
    copied, _ = audits
    flagged = copied.table["flagged"].to_numpy()
    assert flagged.mean() >= 0.95
    for kind in range(5):  # each kind of copy on its own
        assert flagged[kind * N_COPIES_EACH:(kind + 1) * N_COPIES_EACH].mean() >= 0.9
    assert np.array_equal(copied.nearest_index, np.arange(5 * N_COPIES_EACH))
    assert copied.summary["threshold_source"] == "heldout-p99"


def test_honest_images_are_rarely_flagged(audits):
    _, honest = audits
    assert honest.summary["rate"] <= 0.05
    assert honest.summary["heldout_rate"] <= 0.02
    low, high = honest.summary["rate_ci_low"], honest.summary["rate_ci_high"]
    assert low <= honest.summary["rate"] <= high


def test_ct_negative_for_copies_and_near_zero_for_heldout(audits):
    copied, honest = audits
    assert copied.summary["ct_score"] < -3
    assert abs(honest.summary["ct_score"]) < 2.5
    assert copied.summary["ct_cells_used"] >= 1


def test_authenticity_lower_for_copies(audits):
    copied, honest = audits
    assert copied.summary["authenticity"] < 0.1
    assert honest.summary["authenticity"] > copied.summary["authenticity"] + 0.2


def test_user_threshold_and_table_columns(population, copies):
    result = memorization_audit(population["train"], population["heldout"], copies[:10],
                                threshold=0.5, generated_names=[f"g{i}" for i in range(10)])
    assert result.summary["threshold_source"] == "user"
    assert list(result.table.columns[:6]) == ["file", "nearest_train", "ncc", "flagged",
                                              "nearest_train_feature", "feature_distance"]
    assert result.table["flagged"].all()
    assert result.table["file"].tolist()[0] == "g0"


def test_feature_space_neighbour_and_mifid():
    rng = np.random.default_rng(1)
    train = smooth_images(40, 32, seed=1)
    heldout = smooth_images(30, 32, seed=2)
    generated = train[:12].copy()
    tf = rng.normal(size=(40, 6))
    hf = rng.normal(size=(30, 6))
    gf = tf[:12] + rng.normal(0, 1e-3, size=(12, 6))
    result = memorization_audit(train, heldout, generated, train_features=tf,
                                heldout_features=hf, generated_features=gf, real_fd=2.0,
                                method="brute")
    assert result.table["nearest_train_feature"].tolist() == [f"train-{i:05d}" for i in range(12)]
    np.testing.assert_allclose(result.table["feature_distance"],
                               np.linalg.norm(gf - tf[:12], axis=1), rtol=1e-6)
    d = np.mean(1 - np.max(np.abs((gf / np.linalg.norm(gf, axis=1, keepdims=True))
                                  @ (tf / np.linalg.norm(tf, axis=1, keepdims=True)).T), axis=1))
    assert result.summary["mifid_distance"] == pytest.approx(d)
    assert result.summary["mifid"] == pytest.approx(2.0 / (d + 1e-14))
    assert result.summary["ct_space"] == "features"
    assert result.summary["authenticity"] == 0.0
    no_fd = memorization_audit(train, heldout, generated, method="brute")
    assert np.isnan(no_fd.summary["mifid"])


def test_mifid_threshold_rule():
    assert mifid_from_distance(10.0, 0.05) == pytest.approx(10.0 / 0.05)
    assert mifid_from_distance(10.0, 0.5) == pytest.approx(10.0)
    assert np.isnan(mifid_from_distance(None, 0.05))
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert memorization_distance(-x, x) == pytest.approx(0.0)  # |cos| ignores the sign


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mann_whitney_z_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=23), 1)  # rounding makes ties
    y = np.round(rng.normal(0.4, 1, size=31), 1)
    u = mannwhitneyu(x, y, alternative="two-sided").statistic  # U of the first sample
    m, n = len(x), len(y)
    expected = (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)
    assert mann_whitney_z(x, y) == pytest.approx(expected, rel=1e-12)


def test_authenticity_definition():
    # Training points 0 and 1 are 1.0 apart; point 2 is 5.0 from its neighbour.
    train_to_train = np.array([1.0, 1.0, 5.0])
    gen_dist = np.array([0.5, 1.5, 4.0])
    nearest = np.array([0, 1, 2])
    assert authenticity_share(gen_dist, nearest, train_to_train).tolist() == [False, True, False]


def test_wilson_interval_against_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 20), (3, 40), (40, 40), (17, 123)]:
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-9)


def test_write_memorization(tmp_path, population, copies):
    result = memorization_audit(population["train"], population["heldout"], copies[:8])
    out = write_memorization(result, tmp_path / "mem", population["train"], copies[:8])
    table = pd.read_csv(out / "memorization.csv")
    assert list(table.columns[:4]) == ["file", "nearest_train", "ncc", "flagged"]
    assert len(table) == 8
    summary = json.loads((out / "summary.json").read_text())
    for key in ("rate", "rate_ci_low", "rate_ci_high", "threshold", "threshold_source",
                "n_flagged", "ct_score", "authenticity", "mifid"):
        assert key in summary
    assert summary["mifid"] is None  # NaN is written as null
    assert (out / "gallery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kwargs,match", [
    ({"train": np.zeros((0, 32, 32))}, "training images: no images"),
    ({"generated": smooth_images(4, 24)}, "image sizes differ"),
    ({"heldout": np.full((3, 32, 32), np.nan, np.float32)}, "held-out images: .*NaN"),
    ({"threshold": 1.5}, "threshold must be an NCC"),
    ({"percentile": 100}, "percentile"),
    ({"generated_names": ["a"]}, "generated_names: 1 names for 4 images"),
    ({"train_features": np.zeros((10, 3))}, "give both train_features and generated_features"),
    ({"train_features": np.zeros((9, 3)), "generated_features": np.zeros((4, 3))},
     "train_features: 9 rows for 10 images"),
    ({"train_features": np.zeros((10, 3)), "generated_features": np.full((4, 3), np.nan)},
     "generated_features: features contain NaN"),
    ({"method": "exact"}, "method must be"),
])
def test_bad_inputs(kwargs, match):
    args = {"train": smooth_images(10, 32, seed=1), "heldout": smooth_images(5, 32, seed=2),
            "generated": smooth_images(4, 32, seed=3)}
    args.update(kwargs)
    train, heldout, generated = args.pop("train"), args.pop("heldout"), args.pop("generated")
    with pytest.raises(InputError, match=match):
        memorization_audit(train, heldout, generated, **args)
