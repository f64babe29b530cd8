"""Phantom population: shape and range, determinism, variety, prevalences, the left-hemisphere
rule, visible findings, and PNG/DICOM output that the loader reads back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest

from ganaudit.gan_models.data import load_images
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.phantom import LABEL_COLUMNS, make_population, write_population

S = 64


@pytest.fixture(scope="module")
def population():
    return make_population(160, S, seed=5)


def test_images_and_labels(population):
    images, labels = population
    assert images.shape == (160, S, S) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    assert list(labels.columns) == LABEL_COLUMNS
    assert labels["file"].tolist()[:2] == ["phantom-00000.png", "phantom-00001.png"]
    assert set(labels["lesion"]) <= {0, 1} and set(labels["enlarged_ventricles"]) <= {0, 1}
    # Air around the head is dark, the head itself is not.
    assert images[:, :3, :3].mean() < -0.85 and images[:, 24:40, 24:40].mean() > -0.2


def test_deterministic_and_extendable():
    a, la = make_population(6, S, seed=11)
    b, lb = make_population(6, S, seed=11)
    c, _ = make_population(3, S, seed=11)
    d, _ = make_population(6, S, seed=12)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(la, lb)
    np.testing.assert_array_equal(a[:3], c)  # image i depends on (seed, i) only
    assert np.abs(a - d).mean() > 0.05


def test_variety_not_one_template_repeated(population):
    images, _ = population
    x = images.reshape(len(images), -1).astype(np.float64)
    x -= x.mean(1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ncc = (x @ x.T)[np.triu_indices(len(x), 1)]
    assert 0.45 < np.median(ncc) < 0.75
    assert ncc.max() < 0.98


def test_prevalences_follow_the_settings():
    _, labels = make_population(200, 32, seed=2, lesion_prevalence=0.5, ventricle_prevalence=0.1)
    # Binomial(200, p): 4 standard deviations.
    assert abs(labels["lesion"].mean() - 0.5) < 4 * np.sqrt(0.25 / 200)
    assert abs(labels["enlarged_ventricles"].mean() - 0.1) < 4 * np.sqrt(0.09 / 200)
    _, none = make_population(20, 32, seed=2, lesion_prevalence=0.0, ventricle_prevalence=0.0)
    assert none["lesion"].sum() == 0 and none["enlarged_ventricles"].sum() == 0


def test_lesions_only_in_the_left_hemisphere_which_is_the_image_right(population):
    _, labels = population
    lesions = labels[labels["lesion"] == 1]
    assert len(lesions) > 20
    assert (lesions["lesion_side"] == "left").all()
    assert (lesions["lesion_x"] - lesions["lesion_radius_px"] > (S - 1) / 2).all()
    assert labels.loc[labels["lesion"] == 0, "lesion_side"].isna().all()


def test_right_side_lesions_on_request_for_testing_audits():
    _, labels = make_population(40, S, seed=1, lesion_prevalence=1.0, lesion_side="right")
    assert labels["lesion"].all() and (labels["lesion_side"] == "right").all()
    assert (labels["lesion_x"] + labels["lesion_radius_px"] < (S - 1) / 2).all()


def test_lesions_are_visible_bright_spots(population):
    images, labels = population
    yy, xx = np.mgrid[:S, :S]
    for i in np.flatnonzero(labels["lesion"] == 1):
        row = labels.iloc[i]
        d = np.hypot(yy - row["lesion_y"], xx - row["lesion_x"])
        inner = images[i][d <= max(row["lesion_radius_px"] - 0.8, 0.8)].mean()
        ring = images[i][(d > row["lesion_radius_px"] + 1.5) & (d < row["lesion_radius_px"] + 4)]
        assert inner > np.percentile(ring, 95), f"lesion of image {i} is not brighter than around it"


def test_enlarged_ventricles_show_as_more_central_csf(population):
    images, labels = population
    centre = images[:, 20:44, 20:44]
    dark = (centre < -0.6).sum(axis=(1, 2))
    same_level = labels["slice_z"].between(2, 26)
    enlarged = dark[labels["enlarged_ventricles"] == 1]
    normal = dark[(labels["enlarged_ventricles"] == 0) & same_level]
    assert len(enlarged) > 10 and len(normal) > 5
    assert np.median(enlarged) > 3 * max(np.median(normal), 1)


@pytest.mark.parametrize("kwargs,message", [
    ({"n": 0}, "n must be a positive number of images, got 0"),
    ({"n": 5, "size": 8}, "size must be an image side between 16 and 512 pixels, got 8"),
    ({"n": 5, "lesion_prevalence": 1.5}, "lesion_prevalence must be a probability between 0 and 1"),
    ({"n": 5, "ventricle_prevalence": -0.1}, "ventricle_prevalence must be a probability"),
    ({"n": 5, "lesion_side": "middle"}, "lesion_side must be 'left', 'right' or 'any'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        make_population(**kwargs)


def test_write_png_population_loads_back_unchanged(tmp_path):
    out = write_population(tmp_path / "ph", 12, 32, seed=3)
    labels = pd.read_csv(out / "labels.csv")
    images, expected_labels = make_population(12, 32, seed=3)
    assert labels["file"].tolist() == expected_labels["file"].tolist()
    back = load_images(out / "images")
    assert back.names == [f[:-4] for f in labels["file"]]
    assert np.abs(back.images - images).max() < 1e-4


def test_write_dicom_population_is_synthetic_mr_and_loads_back(tmp_path):
    out = write_population(tmp_path / "ph", 6, 32, seed=3, fmt="dicom")
    labels = pd.read_csv(out / "labels.csv")
    assert labels["file"].str.endswith(".dcm").all()
    ds = pydicom.dcmread(out / "images" / labels["file"][0])
    assert ds.Modality == "MR" and list(ds.ImageType) == ["DERIVED", "SECONDARY"]
    assert "phantom" in ds.SeriesDescription.lower()
    images, _ = make_population(6, 32, seed=3)
    back = load_images(out / "images")
    assert np.abs(back.images - images).max() < 1e-4


def test_write_refuses_non_empty_folder_and_is_atomic(tmp_path, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(InputError, match="already exists and is not empty"):
        write_population(tmp_path / "full", 3, 32)
    assert (tmp_path / "full" / "x").read_text() == "keep me"

    import ganaudit.gan_models.data.folders as folders

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(folders, "write_png16", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_population(tmp_path / "new", 3, 32)
    assert list(tmp_path.iterdir()) == [tmp_path / "full"]


def test_labels_are_found_for_a_loaded_phantom_folder(tmp_path):
    from ganaudit.gan_models.data import find_labels

    out = write_population(tmp_path / "ph", 8, 32, seed=9, lesion_prevalence=0.5)
    expected = pd.read_csv(out / "labels.csv")
    for source in (out, out / "images"):
        images = load_images(source)
        order = np.random.default_rng(0).permutation(len(images))
        names = [images.names[i] for i in order]
        labels = find_labels(source, names)
        assert [f[:-4] for f in labels["file"]] == [n.rsplit("__", 1)[-1] for n in names]
        pd.testing.assert_frame_equal(labels, expected.iloc[order].reset_index(drop=True))
    assert find_labels(tmp_path, ["nothing"]) is None
    with pytest.warns(UserWarning, match=r"has no row for 1 of 1 images \(e.g. other\)"):
        assert find_labels(out, ["other"]) is None
