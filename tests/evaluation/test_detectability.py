"""Classifier two-sample test: its statistics against independent oracles, cross-fitting,
reproducibility, power on planted artefacts, the null, the occlusion map, bad input, the
scoring hook and the benchmark script.

The small training tests are marked ``training`` (run again under JAX); the power checks train
the full-size recipe on 300 images and run under the default backend only.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats
from sklearn.metrics import roc_auc_score

from ganaudit.evaluation import detectability as det
from ganaudit.evaluation.detectability import (DetectabilitySettings, auc_delong, auc_test, detectability,
                                      feature_detectability, stratified_folds)
from ganaudit.gan_models.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32


# ----------------------------------------------------------------------------- statistics

def _delong_by_definition(scores, labels):
    """AUC and DeLong's SE straight from the pairwise kernel ψ (O(m·n), no ranks)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), math.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


@pytest.mark.parametrize("seed,decimals,shift", [(0, None, 0.7), (1, 1, 0.7), (2, 0, 0.3), (3, None, -0.5)])
def test_auc_and_delong_se_match_the_definition(seed, decimals, shift):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(37, int), np.ones(53, int)]
    scores = rng.normal(size=labels.size) + shift * labels
    if decimals is not None:
        scores = np.round(scores, decimals)  # ties count one half
    result = auc_delong(scores, labels, alpha=0.1)
    auc, se = _delong_by_definition(scores, labels)
    assert result["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert result["auc"] == pytest.approx(auc, abs=1e-12)
    assert result["se"] == pytest.approx(se, rel=1e-10)
    z = stats.norm.ppf(0.95)
    assert result["ci_low"] == pytest.approx(max(0, auc - z * se))
    assert result["ci_high"] == pytest.approx(min(1, auc + z * se))


def test_p_value_agrees_with_a_permutation_test():
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(40, int), np.ones(40, int)]
    scores = rng.normal(size=80) + 0.1 * labels
    p = auc_test(scores, labels)["p_value"]
    ranks = stats.rankdata(scores)
    observed = ranks[labels == 1].sum()
    perm = np.array([ranks[rng.permutation(labels) == 1].sum() for _ in range(20000)])
    p_perm = (np.sum(perm >= observed) + 1) / (len(perm) + 1)
    assert 0.005 < p < 0.1
    assert p == pytest.approx(p_perm, abs=0.01)
    assert auc_test(-scores, labels)["p_value"] > 0.9  # one-sided: AUC < 0.5 is no evidence


def test_folds_are_stratified_seeded_and_checked():
    labels = np.r_[np.zeros(23, int), np.ones(41, int)]
    folds = stratified_folds(labels, 5, seed=3)
    for value in (0, 1):
        counts = np.bincount(folds[labels == value], minlength=5)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, stratified_folds(labels, 5, seed=3))
    assert not np.array_equal(folds, stratified_folds(labels, 5, seed=4))
    with pytest.raises(InputError, match="3 images in one set cannot fill 5 folds"):
        stratified_folds(np.r_[np.zeros(3, int), np.ones(10, int)], 5, seed=0)


# ----------------------------------------------------------------------------- feature tables

def test_feature_test_matches_sklearn_cross_fitting_and_finds_a_shift():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import PredefinedSplit, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 6))
    fake = rng.normal(size=(90, 6))
    fake[:, 2] += 0.8
    result = feature_detectability(real, fake, folds=4, seed=1)
    table = result.table
    labels = np.r_[np.zeros(120, int), np.ones(90, int)]
    expected = cross_val_predict(
        make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000)),
        np.concatenate([real, fake]), labels, cv=PredefinedSplit(table["fold"].to_numpy()),
        method="decision_function")
    np.testing.assert_allclose(table["score"], expected, rtol=1e-6, atol=1e-9)
    assert result.summary["auc"] == pytest.approx(roc_auc_score(table["label"], table["score"]))
    assert result.summary["auc"] > 0.7 and result.summary["p_value"] < 1e-4


def test_feature_test_under_the_null():
    """Same distribution on both sides, 100 replicates: the one-sided test keeps its level and
    the doubled variance brings the two-sided coverage near the nominal 95 % (plain DeLong
    gave about 82 % in this setting)."""
    assert det.FEATURE_VARIANCE_FACTOR == 2
    covers, rejects, aucs = [], [], []
    for k in range(100):
        rng = np.random.default_rng(1000 + k)
        s = feature_detectability(rng.normal(size=(120, 6)), rng.normal(size=(90, 6)), folds=4, seed=k).summary
        covers.append(s["auc_ci_low"] <= 0.5 <= s["auc_ci_high"])
        rejects.append(s["p_value"] < 0.05)
        aucs.append(s["auc"])
    assert abs(np.mean(aucs) - 0.5) < 0.015
    assert np.mean(rejects) <= 0.08
    assert np.mean(covers) >= 0.85


@pytest.mark.parametrize("real,fake,match", [
    (np.zeros((10, 3)), np.zeros((10, 4)), "have 3 and 4 columns"),
    (np.zeros(10), np.zeros((10, 4)), "expected a feature table"),
    (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN or infinite"),
])
def test_feature_table_errors(real, fake, match):
    with pytest.raises(InputError, match=match):
        feature_detectability(real, fake)


# ----------------------------------------------------------------------------- images

@pytest.fixture(scope="module")
def phantoms():
    from ganaudit.gan_models.phantom import make_population

    real, _ = make_population(150, SIZE, seed=101)
    other, _ = make_population(150, SIZE, seed=102)
    return real, other


def checkerboard(images, share=0.03):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return np.clip(images + np.where((yy + xx) % 2 == 0, share, -share), -1, 1).astype(np.float32)


BLOB = (11, 21)  # row, column: inside the head, upper right


def plant_blob(images, amplitude=0.5, sigma=1.0):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    bump = amplitude * np.exp(-((yy - BLOB[0]) ** 2 + (xx - BLOB[1]) ** 2) / (2 * sigma ** 2))
    return np.clip(images + bump, -1, 1).astype(np.float32)


@pytest.fixture(scope="module")
def checker_result(phantoms):
    real, other = phantoms
    return detectability(real, checkerboard(other))


def test_out_of_fold_auc_is_sklearns_and_every_image_is_scored_once(checker_result):
    table, s = checker_result.table, checker_result.summary
    assert len(table) == 300 and table["file"].is_unique
    assert (table["set"] == np.where(table["label"] == 1, "generated", "real")).all()
    assert s["auc"] == pytest.approx(roc_auc_score(table["label"], table["score"]), abs=1e-12)
    assert s["auc_ci_low"] <= s["auc"] <= s["auc_ci_high"]
    assert s["n_real"] == s["n_generated"] == 150
    assert sorted(table["fold"].unique()) == [0, 1, 2, 3, 4]


def test_power_checkerboard_at_3_percent_and_its_map_covers_the_head(phantoms, checker_result):
    s = checker_result.summary
    assert s["auc"] >= 0.9, s
    assert s["p_value"] < 1e-6
    head = phantoms[0].mean(axis=0) > -0.8
    sal = checker_result.saliency
    assert sal is not None and sal.shape == (SIZE, SIZE)
    assert (sal[head] > 0).mean() >= 0.8
    half = SIZE // 2
    quadrants = [sal[r, c][head[r, c]].mean() for r in (slice(0, half), slice(half, None))
                 for c in (slice(0, half), slice(half, None))]
    assert min(quadrants) > 0.2 * max(quadrants)  # no part of the head is left out


def test_power_blur_sigma_0_8(phantoms):
    real, other = phantoms
    blurred = np.stack([ndimage.gaussian_filter(img, 0.8) for img in other])
    assert detectability(real, blurred).summary["auc"] >= 0.8


def test_a_planted_blobs_map_peaks_at_the_blob(phantoms):
    real, other = phantoms
    result = detectability(real, plant_blob(other))
    assert result.summary["auc"] > 0.7
    peak = np.unravel_index(int(np.argmax(result.saliency)), result.saliency.shape)
    assert math.dist(peak, BLOB) <= 2.5, peak


def test_real_against_real_is_not_detected(phantoms):
    """One seed here; the coverage over 40 seeds is bench/detectability.py --null."""
    real, other = phantoms
    s = detectability(real, other, settings=DetectabilitySettings(saliency_images=0)).summary
    assert s["auc_ci_low"] <= 0.5 <= s["auc_ci_high"]
    assert s["p_value"] > 0.05


@pytest.mark.training
def test_each_image_is_scored_by_a_model_that_never_saw_it(phantoms, monkeypatch):
    real, other = phantoms
    seen = []
    fit, predict = det._Trainer.fit, det._Trainer.predict

    def spy_fit(self, x, y, settings, fold):
        seen.append(("fit", fold, {row.tobytes() for row in x}))
        return fit(self, x, y, settings, fold)

    def spy_predict(self, x, batch=256):
        if seen and seen[-1][0] == "fit":
            seen.append(("predict", seen[-1][1], {row.tobytes() for row in x}))
        return predict(self, x, batch)

    monkeypatch.setattr(det._Trainer, "fit", spy_fit)
    monkeypatch.setattr(det._Trainer, "predict", spy_predict)
    settings = DetectabilitySettings(folds=3, epochs=1, min_steps=1, saliency_images=0)
    detectability(real[:30], other[:30], settings=settings)
    fits = {fold: rows for kind, fold, rows in seen if kind == "fit"}
    scored = {fold: rows for kind, fold, rows in seen if kind == "predict"}
    assert sorted(fits) == sorted(scored) == [0, 1, 2]
    everything = set()
    for fold in fits:
        assert not fits[fold] & scored[fold]
        assert not everything & scored[fold]  # no image is scored twice
        everything |= scored[fold]
    assert len(everything) == 60


@pytest.mark.training
def test_same_seed_same_scores_other_seed_other_scores(phantoms):
    real, other = phantoms
    settings = DetectabilitySettings(epochs=1, min_steps=10, saliency_images=2)
    first = detectability(real[:40], other[:40], settings=settings)
    detectability(real[:20], other[:20], settings=DetectabilitySettings(folds=2, min_steps=5, saliency_images=0))
    again = detectability(real[:40], other[:40], settings=settings)
    pd.testing.assert_frame_equal(first.table, again.table)
    np.testing.assert_array_equal(first.saliency, again.saliency)
    other_seed = detectability(real[:40], other[:40], settings=DetectabilitySettings(
        epochs=1, min_steps=10, saliency_images=0, seed=1))
    assert not np.allclose(first.table["score"], other_seed.table["score"])


@pytest.mark.training
def test_max_per_set_uses_a_seeded_subset(phantoms, tmp_path):
    real, other = phantoms
    settings = DetectabilitySettings(max_per_set=20, epochs=1, min_steps=2, saliency_images=0)
    result = detectability(real[:50], other[:30], settings=settings,
                           generated_names=[f"g{i}" for i in range(30)])
    assert result.summary["n_real"] == result.summary["n_generated"] == 20
    assert len(result.generated_index) == 20
    assert list(result.table["file"][result.table["label"] == 1]) == [f"g{i}" for i in result.generated_index]
    det.write_detectability(result, tmp_path / "out", real[:50], other[:30])
    assert len(pd.read_csv(tmp_path / "out" / "scores.csv")) == 40


@pytest.mark.parametrize("kwargs,match", [
    (dict(folds=1), "folds must be a whole number ≥ 2"),
    (dict(epochs=0), "epochs must be a whole number ≥ 1"),
    (dict(alpha=1.5), r"alpha must be in \(0, 1\)"),
    (dict(max_per_set=3), "max_per_set must be None or a whole number ≥ 10"),
    (dict(seed=-1), "seed must be a whole number ≥ 0"),
    (dict(variance_factor=0.5), "variance_factor must be ≥ 1"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(InputError, match=match):
        DetectabilitySettings(**kwargs)


def test_bad_images():
    good = np.zeros((20, 16, 16), np.float32)
    with pytest.raises(InputError, match="image sizes differ: real 16² vs generated 8²"):
        detectability(good, np.zeros((20, 8, 8), np.float32))
    with pytest.raises(InputError, match="NaN or infinite"):
        detectability(good, np.full((20, 16, 16), np.nan, np.float32))
    with pytest.raises(InputError, match="4 generated images are too few for 5-fold cross-fitting"):
        detectability(good, good[:4])


# ----------------------------------------------------------------------------- scoring hook

@pytest.mark.training
def test_scoring_adds_the_auc_per_checkpoint_and_can_skip_it(tmp_path, monkeypatch):
    from ganaudit.evaluation.scoring2d import score_checkpoint
    from ganaudit.gan_models.sampling import generate
    from tests.evaluation.test_scoring2d import make_tiny_run

    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    run = make_tiny_run(tmp_path)
    options = dict(n=40, extractor="pixels", n_boot=20)
    row = score_checkpoint(run, 2, **options)
    heldout = np.load(run / "data" / "heldout.npy")
    direct = det.checkpoint_detectability(heldout, generate(run, 2, 40, seed=0), seed=0, epoch=2)
    assert row["detectability_auc"] == direct.summary["auc"]
    assert row["detectability_auc_ci_low"] == direct.summary["auc_ci_low"]
    assert row["detectability_auc_ci_high"] == direct.summary["auc_ci_high"]
    folder = run / "audit" / "epoch-0002" / "detectability"
    assert {p.name for p in folder.iterdir()} >= {"summary.json", "scores.csv", "gallery.png", "saliency.png"}
    assert len(pd.read_csv(folder / "scores.csv")) == 160
    off = score_checkpoint(run, 2, **options, detectability=False)
    assert all(math.isnan(off[c]) for c in det.SCORING_COLUMNS)
    assert not (run / "audit" / "epoch-0002" / "detectability").exists()


def test_scoring_says_when_the_held_out_set_is_too_small():
    with pytest.warns(UserWarning, match="detectability of epoch 3 not computed: 6 held-out real images"):
        assert det.checkpoint_detectability(np.zeros((6, 16, 16)), np.zeros((40, 16, 16)), epoch=3) is None


# ----------------------------------------------------------------------------- bench

def test_bench_quick_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "detectability.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "next checkpoint" in out and "checkerboard 3 %" in out and "blur σ 0.8 px" in out
    assert "map peak" in out and "CI covers 0.5 in" in out and "plain DeLong" in out
