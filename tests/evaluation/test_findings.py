"""Findings audit and detectors: one instrument on both sides, exact tests with a correction
and a margin, impossible combinations judged against the real rate, the brain mask (nothing
on the scalp is a lesion), the built-in phantom detector's accuracy, detector specs and their
errors, and the sentences a radiologist reads."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from ganaudit.evaluation.detectors import Detector, brain_mask, evaluate_detector, get_detector
from ganaudit.evaluation.findings import (
    E_DIFFERENCE_CI_HIGH,
    E_DIFFERENCE_CI_LOW,
    E_P_ADJUSTED,
    E_P_VALUE,
    E_PASSED,
    KEY_DETECTOR_ACCURACY,
    KEY_FAILED,
    KEY_FINDINGS,
    KEY_IMPOSSIBLE,
    KEY_IMPOSSIBLE_COMBINATIONS,
    KEY_PASSED,
    FindingsSettings,
    adjust_p_values,
    describe_findings,
    difference_interval,
    findings_audit,
    write_findings,
)
from ganaudit.gan_models.errors import InputError


@pytest.fixture(scope="module")
def phantom():
    from ganaudit.gan_models.phantom import make_population

    real, real_labels = make_population(400, 64, seed=31)
    honest, honest_labels = make_population(300, 64, seed=32)
    right, _ = make_population(12, 64, seed=33, lesion_side="right", lesion_prevalence=1.0)
    heavy, _ = make_population(60, 64, seed=34, lesion_prevalence=0.9)
    return {"real": real, "real_labels": real_labels, "honest": honest,
            "honest_labels": honest_labels, "right": right, "heavy": heavy}


@pytest.fixture(scope="module")
def detector():
    return get_detector("builtin:phantom")


@pytest.fixture(scope="module")
def real_detected(phantom, detector):
    return detector(phantom["real"])


# ----------------------------------------------------------------------------- statistics

@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_corrections_match_statsmodels(method):
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for p in (rng.uniform(size=7), np.array([0.01, 0.04, 0.03, 0.5]), np.array([0.2]), rng.uniform(size=1) ** 8):
        expected = multipletests(p, method=method)[1]
        np.testing.assert_allclose(adjust_p_values(p, method), expected, rtol=1e-12)
    assert len(adjust_p_values([], method)) == 0


@pytest.mark.parametrize("k1,n1,k2,n2,alpha", [(24, 400, 0, 400, 0.01), (5, 30, 12, 40, 0.05),
                                               (127, 400, 109, 400, 0.0125), (0, 50, 0, 80, 0.05)])
def test_difference_interval_matches_statsmodels_newcombe(k1, n1, k2, n2, alpha):
    from statsmodels.stats.proportion import confint_proportions_2indep

    expected = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff", alpha=alpha)
    assert difference_interval(k1, n1, k2, n2, alpha=alpha) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("kwargs,match", [
    ({"alpha": 0}, "alpha must be a probability"),
    ({"alpha": 1.5}, "alpha must be a probability"),
    ({"margin": -0.1}, "margin must be a prevalence difference"),
    ({"margin": 2}, "margin must be a prevalence difference"),
    ({"correction": "fdr"}, "correction must be one of holm, bonferroni"),
    ({"min_real": 0}, "min_real must be a positive"),
    ({"max_order": 0}, "max_order must be a positive"),
])
def test_settings_are_checked_once(kwargs, match):
    with pytest.raises(InputError, match=match):
        FindingsSettings(**kwargs)


# ----------------------------------------------------------------------------- toy detector

def _toy_detector(images: np.ndarray) -> pd.DataFrame:
    """Finding = bright image; side from which half is brighter."""
    bright = (images.mean(axis=(1, 2)) > 0).astype(int)
    half = images.shape[2] // 2
    side = np.where(images[:, :, half:].mean(axis=(1, 2)) > images[:, :, :half].mean(axis=(1, 2)),
                    "left", "right")
    return pd.DataFrame({"bright": bright, "side": np.where(bright == 1, side, "")})


def _toy_images(n: int, *, bright: float, right: bool = False, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, -0.5, size=(n, 16, 16)).astype(np.float32)
    is_bright = rng.random(n) < bright
    images[is_bright] += 1.2
    if right:
        images[is_bright, :, :8] += 0.2
    else:
        images[is_bright, :, 8:] += 0.2
    return images


def _exact_images(n: int, n_bright: int, n_right: int = 0) -> np.ndarray:
    """Exactly ``n_bright`` bright images, the first ``n_right`` of them right-sided."""
    images = np.full((n, 16, 16), -0.8, np.float32)
    images[:n_bright] += 1.2
    images[:n_bright, :, 8:] += 0.2
    images[:n_right, :, 8:] -= 0.2
    images[:n_right, :, :8] += 0.2
    return images


def test_toy_detector_counts():
    real = _toy_images(250, bright=0.3, seed=1)
    generated = np.concatenate([_toy_images(40, bright=0.3, seed=2),
                                _toy_images(10, bright=1.0, right=True, seed=3)])
    result = findings_audit(real, generated, _toy_detector)
    assert result.table["impossible"].to_numpy()[-10:].all()
    assert not result.table["impossible"].to_numpy()[:40].any()
    right = result.summary[KEY_FINDINGS]["side=right"]
    assert (right["generated_count"], right["generated_n"], right["real_count"], right["real_n"]) == (10, 50, 0, 250)
    assert not right[E_PASSED] and "side=right" in result.summary[KEY_FAILED]
    assert result.summary[KEY_IMPOSSIBLE] == 10


def test_p_values_difference_and_correction_recomputed_independently():
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import confint_proportions_2indep

    real = _exact_images(300, 90)
    generated = _exact_images(200, 100, n_right=12)
    s = findings_audit(real, generated, _toy_detector).summary
    entries = list(s[KEY_FINDINGS].values()) + s[KEY_IMPOSSIBLE_COMBINATIONS]
    assert [e["name"] for e in entries] == ["bright", "side=left", "side=right", "side=right"]
    assert [e["alternative"] for e in entries] == ["two-sided"] * 3 + ["greater"]
    counts = [(100, 90), (88, 90), (12, 0), (12, 0)]
    for entry, (g, r) in zip(entries, counts):
        assert (entry["generated_count"], entry["real_count"]) == (g, r)
        expected_p = fisher_exact([[g, 200 - g], [r, 300 - r]], alternative=entry["alternative"])[1]
        assert entry[E_P_VALUE] == pytest.approx(expected_p, rel=1e-9)
        low, high = confint_proportions_2indep(g, 200, r, 300, method="newcomb", compare="diff",
                                               alpha=0.05 / len(entries))
        assert (entry[E_DIFFERENCE_CI_LOW], entry[E_DIFFERENCE_CI_HIGH]) == pytest.approx((low, high), abs=1e-9)
    holm = multipletests([e[E_P_VALUE] for e in entries], method="holm")[1]
    assert [e[E_P_ADJUSTED] for e in entries] == pytest.approx(list(holm), rel=1e-9)
    assert s["n_tests"] == 4 and s["difference_ci_level"] == pytest.approx(1 - 0.05 / 4)
    assert s["min_p"] == pytest.approx(min(holm))


def test_significant_but_negligible_difference_passes_and_fails_without_margin():
    # 30.0 % vs 33.5 % of 4000 images each: p < 0.01, but the interval reaches inside ±2 points.
    real, generated = _exact_images(4000, 1200), _exact_images(4000, 1340)
    result = findings_audit(real, generated, _toy_detector)
    bright = result.summary[KEY_FINDINGS]["bright"]
    assert bright[E_P_ADJUSTED] < 0.05 and bright["significant"]
    assert bright[E_DIFFERENCE_CI_LOW] < 0.02 < bright["difference"]
    assert bright[E_PASSED] and "clinically negligible" in bright["reason"]
    assert result.summary[KEY_PASSED] and result.summary["significant"]
    strict = findings_audit(real, generated, _toy_detector, settings=FindingsSettings(margin=0.0),
                            real_detected=result.real_table)
    assert not strict.summary[KEY_FINDINGS]["bright"][E_PASSED]
    assert strict.summary[KEY_FAILED] == ["bright", "side=left"]
    assert strict.summary["margin"] == 0.0


def test_large_difference_fails_and_says_suppressed():
    result = findings_audit(_exact_images(300, 90), _exact_images(300, 30), _toy_detector)
    bright = result.summary[KEY_FINDINGS]["bright"]
    assert not bright[E_PASSED] and "suppressed" in bright["reason"]
    assert bright[E_DIFFERENCE_CI_HIGH] < -0.02


def test_correction_option_changes_adjusted_p_and_is_recorded():
    real, generated = _exact_images(300, 90), _exact_images(200, 80, n_right=3)
    holm = findings_audit(real, generated, _toy_detector).summary
    bonf = findings_audit(real, generated, _toy_detector,
                          settings=FindingsSettings(correction="bonferroni", alpha=0.01)).summary
    assert holm["correction"] == "holm" and bonf["correction"] == "bonferroni" and bonf["alpha"] == 0.01
    m = bonf["n_tests"]
    for name, entry in bonf[KEY_FINDINGS].items():
        assert entry[E_P_ADJUSTED] == pytest.approx(min(1.0, m * entry[E_P_VALUE]))
        assert holm[KEY_FINDINGS][name][E_P_ADJUSTED] <= entry[E_P_ADJUSTED] + 1e-15


def test_impossible_combination_is_judged_against_the_real_rate_not_zero():
    # One right-sided image among 300 generated, none among 300 real: the old "never seen
    # among real images" rule called it impossible; against the real rate it is no evidence.
    result = findings_audit(_exact_images(300, 90), _exact_images(300, 90, n_right=1), _toy_detector)
    combos = result.summary[KEY_IMPOSSIBLE_COMBINATIONS]
    assert [c["name"] for c in combos] == ["side=right"]
    assert combos[0][E_PASSED] and result.summary[KEY_IMPOSSIBLE] == 0
    assert not result.table["impossible"].any()
    # Right-sided images in 1.3 % of real ones (≤ the 2-point margin: negligible, a candidate)
    # and as often among generated ones: judged against that rate, nothing is impossible.
    result = findings_audit(_exact_images(300, 90, n_right=4), _exact_images(300, 90, n_right=4), _toy_detector)
    assert [c["name"] for c in result.summary[KEY_IMPOSSIBLE_COMBINATIONS]] == ["side=right"]
    assert result.summary[KEY_IMPOSSIBLE] == 0 and result.summary[KEY_PASSED]


def test_pairs_are_checked_and_only_the_smallest_combination_is_named():
    def two_findings(images):
        mean = images.mean(axis=(1, 2))
        return pd.DataFrame({"a": (mean > 0).astype(int), "b": (images[:, 0, 0] > 0.5).astype(int)})

    def make(n, n_a, n_b, n_ab):
        images = np.full((n, 16, 16), -0.8, np.float32)
        images[:n_a] += 1.2  # a only
        images[n_a:n_a + n_b, 0, 0] = 0.9  # b only
        images[n_a + n_b:n_a + n_b + n_ab] += 1.2
        images[n_a + n_b:n_a + n_b + n_ab, 0, 0] = 0.9  # a and b
        return images

    # a and b each common among real images, never together; generated: 30 % together.
    result = findings_audit(make(300, 90, 90, 0), make(200, 40, 40, 60), Detector("two", two_findings))
    combos = {c["name"]: c for c in result.summary[KEY_IMPOSSIBLE_COMBINATIONS]}
    assert list(combos) == ["a=1, b=1"]
    assert not combos["a=1, b=1"][E_PASSED]
    assert result.table["impossible"].sum() == 60
    assert set(result.table.loc[result.table["impossible"], "impossible_reason"]) == {"a=1, b=1"}


def test_too_few_real_images_means_not_judged():
    real = _toy_images(50, bright=0.3, seed=1)
    generated = _toy_images(20, bright=1.0, right=True, seed=3)
    result = findings_audit(real, generated, _toy_detector)  # default min_real 200
    assert result.summary[KEY_IMPOSSIBLE] is None
    assert result.summary["impossible_checked"] is False
    assert result.summary[KEY_IMPOSSIBLE_COMBINATIONS] == []
    assert not result.table["impossible"].any()
    assert "side=right" in result.summary[KEY_FINDINGS]  # prevalences are still compared


def test_write_findings(tmp_path):
    real = _toy_images(220, bright=0.3, seed=1)
    generated = _toy_images(20, bright=0.5, right=True, seed=4)
    result = findings_audit(real, generated, _toy_detector)
    out = write_findings(result, tmp_path / "f", generated)
    table = pd.read_csv(out / "findings.csv")
    assert {"file", "bright", "side", "impossible", "impossible_reason"} <= set(table.columns)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("detector", "n_real", "n_generated", "real_source", "alpha", "margin", "correction",
                "ci_level", "difference_ci_level", "n_tests", "findings", "impossible_combinations",
                "impossible_checked", "min_real", "impossible", "impossible_rate", "min_p",
                "significant", "failed", "passed", "detector_accuracy", "labels", "cooccurrence"):
        assert key in summary, key
    assert summary["real_source"] == "detector"
    entry = summary["findings"]["side=right"]
    for key in ("name", "kind", "atoms", "alternative", "real_count", "real_n", "real_prevalence",
                "real_ci_low", "real_ci_high", "generated_count", "generated_n", "generated_prevalence",
                "generated_ci_low", "generated_ci_high", "difference", "difference_ci_low",
                "difference_ci_high", "odds_ratio", "p_value", "p_adjusted", "significant",
                "beyond_margin", "passed", "reason"):
        assert key in entry, key
    assert summary["impossible"] == int(table["impossible"].sum()) > 0
    assert (out / "gallery.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------- labels

def test_labels_measure_the_detector_only():
    """Labels never replace the detector's reading of the real images; they give its
    sensitivity and specificity (checked against scikit-learn)."""
    from sklearn.metrics import recall_score

    real = _toy_images(210, bright=0.3, seed=1)
    labels = _toy_detector(real)
    labels["bright"] = labels["bright"].astype(float)  # as read from a CSV with gaps
    flip = np.arange(0, 210, 7)
    labels.loc[flip, "bright"] = 1 - labels.loc[flip, "bright"]  # the detector errs on these
    generated = _toy_images(60, bright=0.3, seed=5)
    with_labels = findings_audit(real, generated, _toy_detector, real_labels=labels, labels_source="x.csv")
    without = findings_audit(real, generated, _toy_detector)
    assert with_labels.summary[KEY_FINDINGS] == without.summary[KEY_FINDINGS]
    assert without.summary[KEY_DETECTOR_ACCURACY] is None and without.summary["labels"] is None
    accuracy = with_labels.summary[KEY_DETECTOR_ACCURACY]["bright"]
    truth, predicted = labels["bright"].astype(int), _toy_detector(real)["bright"]
    assert accuracy["sensitivity"] == pytest.approx(recall_score(truth, predicted))
    assert accuracy["specificity"] == pytest.approx(recall_score(1 - truth, 1 - predicted))
    assert accuracy["n_positive"] + accuracy["n_negative"] == 210
    assert with_labels.summary["labels"] == "x.csv"
    labels.loc[0, "bright"] = 2
    with pytest.raises(InputError, match="must hold only 0/1"):
        findings_audit(real, generated, _toy_detector, real_labels=labels)
    with pytest.raises(InputError, match="none of the detector's columns"):
        findings_audit(real, generated, _toy_detector, real_labels=pd.DataFrame({"x": np.zeros(210)}))
    with pytest.raises(InputError, match="5 rows for 210 real images"):
        findings_audit(real, generated, _toy_detector, real_labels=labels.iloc[:5])


def test_real_detected_must_be_the_detectors_output():
    real, generated = _toy_images(30, bright=0.3, seed=1), _toy_images(10, bright=0.3, seed=2)
    det = Detector("toy", _toy_detector)
    det(real[:1])  # names its columns
    with pytest.raises(InputError, match="lacks the detector's columns"):
        findings_audit(real, generated, det, real_detected=pd.DataFrame({"bright": np.zeros(30)}))
    with pytest.raises(InputError, match="3 rows for 30 images"):
        findings_audit(real, generated, det, real_detected=_toy_detector(real[:3]))


# ----------------------------------------------------------------------------- words

def test_describe_findings_names_rates_counts_intervals_and_orientation():
    real = _exact_images(300, 90)
    generated = _exact_images(200, 100, n_right=20)
    detector = Detector("toy", lambda im: _toy_detector(im).rename(columns={"side": "lesion_side"}))
    summary = findings_audit(real, generated, detector).summary
    text = describe_findings(summary)
    assert "Holm-corrected over 4 tests at α = 0.05" in text[0] and "±2.0 points" in text[0]
    assert "accuracy is not known" in text[1]
    assert text[2].startswith("FAILED: ")
    right = next(t for t in text if t.startswith("Lesion side: patient's right (image left) [lesion_side=right]"))
    assert "real 0.0 % (0/300, CI 0.0 %–1.3 %)" in right
    assert "generated 10.0 % (20/200" in right and "invented" in right
    left = next(t for t in text if "[lesion_side=left]" in t)
    assert "patient's left (image right)" in left
    assert any(t.startswith("Impossible combination — ") for t in text)


# ----------------------------------------------------------------------------- phantom detector

def test_phantom_detector_accuracy_on_heldout_slices(phantom, detector):
    scores = evaluate_detector(detector, phantom["honest"], phantom["honest_labels"]).set_index("column")
    assert scores.loc["lesion", "accuracy"] >= 0.95
    assert scores.loc["enlarged_ventricles", "accuracy"] >= 0.95
    assert scores.loc["lesion_side", "accuracy"] >= 0.95


def test_brain_mask_holds_every_lesion_and_no_scalp(phantom):
    from scipy import ndimage as ndi

    labels = phantom["real_labels"]
    for image, row in zip(phantom["real"][:120], labels.iloc[:120].itertuples()):
        mask = brain_mask(image)
        head = ndi.binary_fill_holes(image > -0.7)
        rim = head & (ndi.distance_transform_edt(head) <= 2.5)  # skin + fat + bone ≥ 10.5 mm = 2.8 px
        assert not (mask & rim).any()
        if row.lesion == 1:
            assert mask[int(row.lesion_y), int(row.lesion_x)]


def _synthetic_head(*, blob=None, seed=0, size=64):
    """A head with a 26 mm bright scalp (as where the scalp is cut obliquely, or in a GAN's
    images), a dark skull, brain and a small dark ventricle."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    r = np.hypot(yy - c, (xx - c) / 0.85)
    image = np.full((size, size), -1.0)
    image[r < 28] = 0.75
    image[r < 21] = -0.9
    image[r < 18.5] = 0.3
    image[r < 6] = -0.7
    if blob is not None:
        image[np.hypot(yy - blob[0], xx - blob[1]) < 1.8] = 1.0
    return (image + rng.normal(0, 0.03, image.shape)).astype(np.float32)


def test_bright_blob_on_a_thick_scalp_is_no_lesion_but_one_in_the_brain_is(detector):
    """A fixed 20 mm rim (the detector before issue 9) called these scalp blobs lesions."""
    c = 31.5
    on_scalp = [_synthetic_head(blob=(c - d, c), seed=s) for d in (21.8, 22.4, 23.0) for s in range(2)]
    on_scalp += [_synthetic_head(blob=(c, c - 0.85 * d), seed=s) for d in (21.8, 22.4) for s in range(2)]
    found = detector(np.stack(on_scalp))
    assert found["lesion"].sum() == 0
    in_brain = detector(np.stack([_synthetic_head(blob=(c - 13, c + 3)), _synthetic_head(blob=(c + 9, c - 8))]))
    assert in_brain["lesion"].tolist() == [1, 1]
    assert in_brain["lesion_side"].tolist() == ["left", "right"]  # image right = patient left


def _scalp_blobs(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each image gets two bright blobs on the scalp (1–2.5 px inside the head's edge)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    out = images.copy()
    yy, xx = np.mgrid[0:images.shape[1], 0:images.shape[2]]
    for image in out:
        head = ndi.binary_fill_holes(image > -0.7)
        dist = ndi.distance_transform_edt(head)
        spots = np.argwhere((dist >= 1) & (dist <= 2.5))
        for r, c in spots[rng.choice(len(spots), 2, replace=False)]:
            image[np.hypot(yy - r, xx - c) <= 1.5] = 1.0
    return out


def test_honest_generator_passes(phantom, detector, real_detected):
    result = findings_audit(phantom["real"], phantom["honest"], detector, real_detected=real_detected)
    assert result.summary[KEY_IMPOSSIBLE] == 0
    assert result.summary["significant"] is False and result.summary[KEY_PASSED] is True


def test_mirrored_lesions_fail_naming_lesion_side(phantom, detector, real_detected):
    honest = phantom["honest"]
    lesions = np.nonzero(detector(honest)["lesion"].to_numpy() == 1)[0]
    mirrored = np.random.default_rng(0).choice(lesions, size=round(0.2 * len(lesions)), replace=False)
    generated = honest.copy()
    generated[mirrored] = generated[mirrored][:, :, ::-1]
    result = findings_audit(phantom["real"], generated, detector, real_detected=real_detected)
    assert "lesion_side=right" in result.summary[KEY_FAILED]
    assert result.summary[KEY_IMPOSSIBLE] >= 0.9 * len(mirrored)
    assert result.table["impossible"].to_numpy()[mirrored].mean() >= 0.9


def test_scalp_blobs_are_no_lesions(phantom, detector, real_detected):
    honest = phantom["honest"][:150]
    before = detector(honest)
    blobbed = _scalp_blobs(honest)
    after = detector(blobbed)
    assert after["lesion"].sum() <= before["lesion"].sum()
    result = findings_audit(phantom["real"], blobbed, detector, real_detected=real_detected)
    assert result.summary[KEY_PASSED] and result.summary[KEY_IMPOSSIBLE] == 0


def test_right_hemisphere_lesions_are_impossible(phantom, detector, real_detected):
    generated = np.concatenate([phantom["honest"][:80], phantom["right"]])
    result = findings_audit(phantom["real"], generated, detector, real_detected=real_detected,
                            real_labels=phantom["real_labels"])
    flags = result.table["impossible"].to_numpy()
    assert flags[-12:].mean() >= 0.9
    assert flags[:-12].sum() == 0
    combos = {c["name"]: c for c in result.summary[KEY_IMPOSSIBLE_COMBINATIONS]}
    assert not combos["lesion_side=right"][E_PASSED]
    assert result.summary[KEY_IMPOSSIBLE] == int(flags.sum())
    accuracy = result.summary[KEY_DETECTOR_ACCURACY]
    assert accuracy["lesion"]["sensitivity"] >= 0.9 and accuracy["lesion"]["specificity"] >= 0.95
    assert accuracy["lesion_side"]["accuracy"] >= 0.95


def test_prevalence_shift_fails(phantom, detector, real_detected):
    result = findings_audit(phantom["real"], phantom["heavy"], detector, real_detected=real_detected)
    lesion = result.summary[KEY_FINDINGS]["lesion"]
    assert lesion["generated_prevalence"] > lesion["real_prevalence"] + 0.3
    assert "lesion" in result.summary[KEY_FAILED]
    # p-value recomputed independently from the tables.
    g1 = int(result.table["lesion"].sum())
    r1 = int(result.real_table["lesion"].sum())
    expected = fisher_exact([[g1, len(phantom["heavy"]) - g1], [r1, len(phantom["real"]) - r1]])[1]
    assert lesion[E_P_VALUE] == pytest.approx(expected)
    assert lesion["generated_ci_low"] <= lesion["generated_prevalence"] <= lesion["generated_ci_high"]


# ----------------------------------------------------------------------------- specs and errors

def test_module_function_spec(monkeypatch):
    module = types.ModuleType("toy_detectors_for_test")
    module.detect = _toy_detector
    monkeypatch.setitem(sys.modules, "toy_detectors_for_test", module)
    det = get_detector("toy_detectors_for_test:detect")
    out = det(_toy_images(5, bright=1.0, seed=0))
    assert det.findings == ["bright"] and det.categories == ["side"]
    assert out["bright"].tolist() == [1] * 5


def test_keras_spec(tmp_path):
    import keras

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(2, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([np.array([[50.0, -50.0]], np.float32), np.zeros(2, np.float32)])
    path = tmp_path / "det.keras"
    model.save(path)
    with pytest.raises(InputError, match="finding names .* unknown"):
        get_detector(f"keras:{path}")
    (tmp_path / "det.json").write_text(json.dumps({"findings": ["bright", "dark"]}))
    det = get_detector(f"keras:{path}")
    out = det(np.stack([np.full((16, 16), 0.5), np.full((16, 16), -0.5)]).astype(np.float32))
    assert out["bright"].tolist() == [1, 0]
    assert out["dark"].tolist() == [0, 1]
    with pytest.raises(InputError, match="expects 16x16 images"):
        det(np.zeros((2, 32, 32), np.float32))
    with pytest.raises(InputError, match="3 finding names"):
        get_detector(f"keras:{path}", findings=["a", "b", "c"])(np.zeros((1, 16, 16), np.float32))


@pytest.mark.parametrize("spec,match", [
    ("builtin:nope", "unknown built-in detector 'nope'"),
    ("phantom", "not understood"),
    ("keras:/no/such/model.keras", "does not exist"),
    ("no_such_module_xyz:detect", "cannot import module"),
    ("json:no_such_function", "has no attribute .no_such_function."),
    (":detect", "is not module:function"),
])
def test_detector_spec_errors(spec, match):
    with pytest.raises(InputError, match=match):
        get_detector(spec)


def test_detector_output_errors():
    bad_rows = Detector("rows", lambda images: pd.DataFrame({"a": [1]}))
    with pytest.raises(InputError, match="1 rows for 3 images"):
        bad_rows(np.zeros((3, 8, 8)))
    no_findings = Detector("none", lambda images: pd.DataFrame({"score": np.linspace(0, 0.5, len(images))}))
    with pytest.raises(InputError, match="no 0/1 finding columns"):
        no_findings(np.zeros((3, 8, 8)))


def test_array_detector_gets_named_findings_and_a_gallery(tmp_path):
    """A user detector may return a plain 0/1 array: its columns become finding_0, finding_1…"""
    def as_array(images):
        bright = (images.mean(axis=(1, 2)) > 0).astype(int)
        return np.stack([bright, 1 - bright], axis=1)

    real = _toy_images(30, bright=0.3, seed=1)
    generated = np.concatenate([_toy_images(10, bright=1.0, seed=2), _toy_images(10, bright=-1.0, seed=3)])
    result = findings_audit(real, generated, Detector("array", as_array), settings=FindingsSettings(min_real=20))
    assert list(result.summary[KEY_FINDINGS]) == ["finding_0", "finding_1"]
    out = write_findings(result, tmp_path / "f", generated)
    assert (out / "gallery.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("real,generated,match", [
    (np.zeros((0, 16, 16)), _toy_images(3, bright=0.5), "real images: no images"),
    (_toy_images(3, bright=0.5), np.zeros((3, 8, 8)), "image sizes differ"),
    (_toy_images(3, bright=0.5), np.full((3, 16, 16), np.nan), "NaN"),
])
def test_audit_input_errors(real, generated, match):
    with pytest.raises(InputError, match=match):
        findings_audit(real, generated, _toy_detector)


def test_describe_findings_reports_detector_accuracy_and_unjudged_combinations():
    real = _toy_images(60, bright=0.3, seed=1)
    labels = _toy_detector(real)
    labels.loc[labels.index[labels["bright"] == 1][:2], "bright"] = 0  # two false positives
    result = findings_audit(real, _toy_images(30, bright=0.3, seed=2), _toy_detector, real_labels=labels,
                            labels_source="labels.csv")
    text = describe_findings(json.loads(json.dumps(result.summary, default=float)))  # as read back
    n_pos = int((labels["bright"] == 1).sum())
    n_neg = 60 - n_pos
    assert text[1] == (f"Detector against the real images' labels (labels.csv): bright: sensitivity "
                       f"100.0 % ({n_pos}/{n_pos}), specificity {100 * (n_neg - 2) / n_neg:.1f} % "
                       f"({n_neg - 2}/{n_neg}); side right in 100.0 % ({n_pos + 2}/{n_pos + 2}) of images where "
                       "both labels and detector give one.")
    assert any("were not judged: fewer than 200 real images" in t for t in text)
