"""Findings audit and detectors: impossible right-sided lesions, prevalence shifts, the
built-in phantom detector's accuracy, detector specs and their errors."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from evaluation.detectors import Detector, evaluate_detector, get_detector
from evaluation.findings import findings_audit, write_findings
from gan_models.errors import InputError


@pytest.fixture(scope="module")
def phantom():
    from gan_models.phantom import make_population

    real, real_labels = make_population(220, 64, seed=31)
    honest, honest_labels = make_population(80, 64, seed=32)
    right, _ = make_population(12, 64, seed=33, lesion_side="right", lesion_prevalence=1.0)
    heavy, _ = make_population(60, 64, seed=34, lesion_prevalence=0.9)
    return {"real": real, "real_labels": real_labels, "honest": honest,
            "honest_labels": honest_labels, "right": right, "heavy": heavy}


@pytest.fixture(scope="module")
def detector():
    return get_detector("builtin:phantom")


def test_phantom_detector_accuracy_on_heldout_slices(phantom, detector):
    scores = evaluate_detector(detector, phantom["honest"], phantom["honest_labels"]).set_index("column")
    assert scores.loc["lesion", "accuracy"] >= 0.9
    assert scores.loc["enlarged_ventricles", "accuracy"] >= 0.9
    assert scores.loc["lesion_side", "accuracy"] >= 0.9


def test_right_hemisphere_lesions_are_impossible(phantom, detector):
    generated = np.concatenate([phantom["honest"], phantom["right"]])
    result = findings_audit(phantom["real"], generated, detector)
    flags = result.table["impossible"].to_numpy()
    assert flags[-12:].mean() >= 0.9
    assert flags[:-12].sum() == 0
    combos = [c["combination"] for c in result.summary["impossible_combinations"]]
    assert "lesion_side=right" in combos
    assert result.summary["impossible"] == int(flags.sum())


def test_honest_generator_passes(phantom, detector):
    result = findings_audit(phantom["real"], phantom["honest"], detector)
    assert result.summary["impossible"] == 0
    assert result.summary["significant"] is False


def test_prevalence_shift_is_significant(phantom, detector):
    result = findings_audit(phantom["real"], phantom["heavy"], detector)
    lesion = result.summary["findings"]["lesion"]
    assert lesion["generated_prevalence"] > lesion["real_prevalence"] + 0.3
    assert result.summary["significant"] is True
    # p-value recomputed independently from the written tables.
    g1 = int(result.table["lesion"].sum())
    r1 = int(result.real_table["lesion"].sum())
    expected = fisher_exact([[g1, len(phantom["heavy"]) - g1], [r1, len(phantom["real"]) - r1]])[1]
    assert lesion["p_value"] == pytest.approx(expected)
    assert lesion["generated_ci_low"] <= lesion["generated_prevalence"] <= lesion["generated_ci_high"]


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


def test_toy_detector_counts_and_cooccurrence():
    real = _toy_images(250, bright=0.3, seed=1)
    generated = np.concatenate([_toy_images(40, bright=0.3, seed=2),
                                _toy_images(10, bright=1.0, right=True, seed=3)])
    result = findings_audit(real, generated, _toy_detector, min_real=200)
    assert result.table["impossible"].to_numpy()[-10:].all()
    assert not result.table["impossible"].to_numpy()[:40].any()
    assert result.summary["categories"]["side"]["right"]["generated_count"] == 10
    assert result.summary["categories"]["side"]["right"]["real_count"] == 0


def test_too_few_real_images_means_not_judged():
    real = _toy_images(50, bright=0.3, seed=1)
    generated = _toy_images(20, bright=1.0, right=True, seed=3)
    result = findings_audit(real, generated, _toy_detector)  # default min_real 200
    assert result.summary["impossible"] is None
    assert result.summary["impossible_checked"] is False
    assert not result.table["impossible"].any()


def test_write_findings(tmp_path):
    real = _toy_images(220, bright=0.3, seed=1)
    generated = _toy_images(20, bright=0.5, right=True, seed=4)
    result = findings_audit(real, generated, _toy_detector)
    out = write_findings(result, tmp_path / "f", generated)
    table = pd.read_csv(out / "findings.csv")
    assert {"file", "bright", "side", "impossible"} <= set(table.columns)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("findings", "cooccurrence", "impossible_combinations", "impossible", "min_p", "significant"):
        assert key in summary
    assert summary["impossible"] == int(table["impossible"].sum()) > 0
    assert (out / "gallery.png").read_bytes()[:4] == b"\x89PNG"


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
    result = findings_audit(real, generated, Detector("array", as_array), min_real=20)
    assert list(result.summary["findings"]) == ["finding_0", "finding_1"]
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


def test_real_labels_as_floats_match_detector_ints():
    real = _toy_images(210, bright=0.3, seed=1)
    labels = _toy_detector(real)
    labels["bright"] = labels["bright"].astype(float)  # as read from a CSV with gaps
    generated = _toy_images(20, bright=0.3, seed=5)
    result = findings_audit(real, generated, _toy_detector, real_labels=labels)
    assert result.summary["real_source"] == "labels"
    assert result.summary["impossible"] == 0
    labels.loc[0, "bright"] = 2
    with pytest.raises(InputError, match="must hold only 0/1"):
        findings_audit(real, generated, _toy_detector, real_labels=labels)
