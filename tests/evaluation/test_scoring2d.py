"""Scoring 2D checkpoints and folders: the table, the audits on disk, what the numbers show."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from ganaudit.evaluation import scoring2d
from ganaudit.evaluation.scoring2d import FOLDER_COLUMNS, SCORE_COLUMNS_2D, score_checkpoint, score_folders, score_run_2d
from ganaudit.gan_models.data import write_png16
from ganaudit.gan_models.errors import InputError

SIZE = 16
LATENT = 8


def blob_images(n: int, *, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """Smooth random images in [-1, 1]: one or two Gaussian blobs on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    images = np.empty((n, size, size), np.float32)
    for i in range(n):
        img = np.zeros((size, size))
        for _ in range(rng.integers(1, 3)):
            cy, cx = rng.uniform(0.25, 0.75, 2)
            r = rng.uniform(0.08, 0.2)
            img += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img += rng.normal(0, 0.03, img.shape)
        images[i] = np.clip(img, 0, 1) * 2 - 1
    return images


def save_generator(path: Path, *, seed: int, size: int = SIZE, latent_dim: int = LATENT) -> None:
    import keras

    model = keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(size * size, activation="tanh",
                           kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=seed)),
        keras.layers.Reshape((size, size)),
    ])
    model.save(path)


def make_tiny_run(root: Path, *, epochs=(1, 2), n_train: int = 120, n_heldout: int = 120,
                  size: int = SIZE) -> Path:
    """A hand-built 2D run folder: run.json, history.csv, data/*.npy, tiny Dense generators."""
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "data").mkdir()
    (run / "run.json").write_text(json.dumps({
        "kind": "2d", "image_size": size, "latent_dim": LATENT, "loss": "modified", "seed": 0,
        "backend": "tensorflow", "epochs": len(epochs), "batch_size": 16,
        "data": {"source": str(root / "images")},
    }))
    np.save(run / "data" / "train.npy", blob_images(n_train, size=size, seed=1))
    np.save(run / "data" / "heldout.npy", blob_images(n_heldout, size=size, seed=2))
    pd.DataFrame({
        "epoch": list(epochs), "d_loss": [1.3 - 0.1 * e for e in epochs],
        "g_loss": [0.7 + 0.1 * e for e in epochs], "d_acc_real": [0.6] * len(epochs),
        "d_acc_fake": [0.4] * len(epochs), "seconds": [1.0] * len(epochs),
        "healthy": [True] * len(epochs),
    }).to_csv(run / "history.csv", index=False)
    for epoch in epochs:
        save_generator(run / "checkpoints" / f"generator-epoch-{epoch:04d}.keras", seed=epoch, size=size)
    return run


@pytest.fixture(autouse=True)
def _feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def tiny_run(tmp_path) -> Path:
    return make_tiny_run(tmp_path)


FAST = dict(features="pixels", n=40, n_boot=20, progress=False)


def test_run_scores_one_row_per_checkpoint_with_history_and_audits(tiny_run):
    frame = score_run_2d(tiny_run, **FAST)
    assert list(frame.columns) == SCORE_COLUMNS_2D
    assert frame["epoch"].tolist() == [1, 2]
    assert (frame["n_generated"] == 40).all()
    history = pd.read_csv(tiny_run / "history.csv")
    np.testing.assert_allclose(frame["d_loss"], history["d_loss"])
    np.testing.assert_allclose(frame["g_loss"], history["g_loss"])
    for column in ["fd", "fd_inf", "kid_mean", "precision", "recall", "density", "coverage",
                   "memorization_rate", "memorization_threshold", "authenticity"]:
        assert frame[column].notna().all(), column
    assert (frame["fd_ci_low"] <= frame["fd_ci_high"]).all()
    assert frame["fd"].iloc[0] != frame["fd"].iloc[1]  # two different generators
    # Not phantom data: no detector, so the findings columns are NaN and the note says why.
    assert frame[["findings_impossible", "findings_min_p", "findings_significant"]].isna().all().all()
    notes = json.loads((tiny_run / "audit" / "scoring.json").read_text())["notes"]
    assert any("findings audit skipped" in note for note in notes)
    on_disk = pd.read_csv(tiny_run / "scores.csv")
    pd.testing.assert_frame_equal(on_disk, frame, check_dtype=False)
    for epoch in (1, 2):
        memo = tiny_run / "audit" / f"epoch-{epoch:04d}" / "memorization"
        table = pd.read_csv(memo / "memorization.csv")
        assert len(table) == 40
        assert {"file", "nearest_train", "ncc", "flagged"} <= set(table.columns)
        assert json.loads((memo / "summary.json").read_text())["rate"] == pytest.approx(
            frame.loc[frame.epoch == epoch, "memorization_rate"].item())
    leftovers = [p.name for p in tiny_run.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_checkpoint_scores_are_reproducible_and_use_the_same_latents(tiny_run, monkeypatch):
    seen = []
    generate = scoring2d.generate

    def spy(run_dir, epoch, n, *, seed):
        seen.append((epoch, n, seed))
        return generate(run_dir, epoch, n, seed=seed)

    monkeypatch.setattr(scoring2d, "generate", spy)
    options = dict(n=40, extractor="pixels", n_boot=20, write_audits=False)
    first = score_checkpoint(tiny_run, 2, **options)
    again = score_checkpoint(tiny_run, 2, **options)
    score_checkpoint(tiny_run, 1, **options)
    assert first == again
    assert [s[2] for s in seen] == [0, 0, 0]
    assert not (tiny_run / "audit").exists()


def _real_features(images):
    from ganaudit.evaluation.features import extract, get_extractor

    return np.asarray(extract(images, get_extractor("pixels"), cache=False), dtype=np.float64)


def _scipy_fd(a, b):
    """Independent FD: textbook formula with scipy's matrix square root."""
    mu = a.mean(0) - b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(mu @ mu + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


def test_folder_fd_uses_features_standardized_with_the_real_set(tmp_path):
    real, fake = blob_images(80, seed=5), blob_images(60, seed=6) * 0.8
    write_png16(real, tmp_path / "real")
    write_png16(fake, tmp_path / "fake")
    row = score_folders(tmp_path / "real", tmp_path / "fake", features="pixels", n_boot=20)
    assert list(row) == FOLDER_COLUMNS
    assert (row["n_real"], row["n_generated"], row["features"]) == (80, 60, "pixels")
    from ganaudit.gan_models.data import load_images

    a = _real_features(load_images(tmp_path / "real").images)
    b = _real_features(load_images(tmp_path / "fake").images)
    mean, std = a.mean(0), a.std(0)
    std[std == 0] = 1
    assert row["fd"] == pytest.approx(_scipy_fd((a - mean) / std, (b - mean) / std), rel=1e-5)
    assert row["kid_mean"] > 0


def _fake_generator(monkeypatch, images):
    monkeypatch.setattr(scoring2d, "generate", lambda run_dir, epoch, n, *, seed: images[:n].copy())


def test_copies_of_training_images_look_perfect_to_fd_but_the_audit_catches_them(tmp_path, monkeypatch):
    run = make_tiny_run(tmp_path, n_train=150, n_heldout=150)
    train = np.load(run / "data" / "train.npy")
    heldout = np.load(run / "data" / "heldout.npy")
    options = dict(n=100, extractor="pixels", n_boot=20, write_audits=False)

    noise = score_checkpoint(run, 1, **options)  # an untrained generator: far from the data
    _fake_generator(monkeypatch, heldout)
    honest = score_checkpoint(run, 1, **options)
    _fake_generator(monkeypatch, train)
    copies = score_checkpoint(run, 1, **options)

    # FD: both the held-out "GAN" and the copying "GAN" are near zero compared with a bad one.
    assert honest["fd"] < 0.1 * noise["fd"]
    assert copies["fd"] < 0.1 * noise["fd"]
    # The memorization audit tells them apart.
    assert honest["memorization_rate"] <= 0.1
    assert copies["memorization_rate"] >= 0.9
    assert copies["authenticity"] < honest["authenticity"]


# ----------------------------------------------------------------------------- phantom data

PHANTOM_SIZE = 32


@pytest.fixture(scope="module")
def phantom_run(tmp_path_factory) -> Path:
    """A 2D run on the phantom population (240 training, 120 held-out slices at 32²)."""
    from ganaudit.gan_models.phantom import make_population

    root = tmp_path_factory.mktemp("phantom")
    images, labels = make_population(360, PHANTOM_SIZE, seed=11)
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "data").mkdir()
    (run / "run.json").write_text(json.dumps({
        "kind": "2d", "image_size": PHANTOM_SIZE, "latent_dim": LATENT, "loss": "modified",
        "seed": 0, "backend": "tensorflow", "epochs": 1, "batch_size": 16,
        "data": {"source": "phantom", "n": 360, "seed": 11},
    }))
    np.save(run / "data" / "train.npy", images[:240])
    np.save(run / "data" / "heldout.npy", images[240:])
    labels.iloc[:240].to_csv(run / "data" / "train_labels.csv", index=False)
    labels.iloc[240:].reset_index(drop=True).to_csv(run / "data" / "heldout_labels.csv", index=False)
    save_generator(run / "checkpoints" / "generator-epoch-0001.keras", seed=1, size=PHANTOM_SIZE)
    return run


def test_on_phantom_data_fd_cannot_tell_copies_from_new_subjects_but_the_audits_can(
        phantom_run, monkeypatch, tmp_path):
    """Held-out set as the "GAN": FD near 0, no copies, no impossible findings. Training copies:
    FD near 0 too, ~100 % memorization. Lesions in the right hemisphere (never in the
    population): caught by the findings audit."""
    from ganaudit.gan_models.phantom import make_population

    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    train = np.load(phantom_run / "data" / "train.npy")
    heldout = np.load(phantom_run / "data" / "heldout.npy")
    planted, _ = make_population(120, PHANTOM_SIZE, seed=99, lesion_side="right", lesion_prevalence=1.0)
    options = dict(n=120, n_boot=20, write_audits=False)  # default extractor: radiomics

    untrained = score_checkpoint(phantom_run, 1, **options)
    _fake_generator(monkeypatch, heldout)
    honest = score_checkpoint(phantom_run, 1, **options)
    _fake_generator(monkeypatch, train)
    copies = score_checkpoint(phantom_run, 1, **options)
    _fake_generator(monkeypatch, planted)
    hallucinating = score_checkpoint(phantom_run, 1, **options)

    assert honest["fd"] < 0.1 * untrained["fd"]
    assert copies["fd"] < 0.1 * untrained["fd"]
    assert honest["memorization_rate"] <= 0.05
    assert copies["memorization_rate"] >= 0.95
    assert honest["findings_impossible"] <= 0.05 * 120
    assert hallucinating["findings_impossible"] >= 0.5 * 120
    assert hallucinating["findings_significant"]


def test_phantom_run_writes_both_audits(phantom_run, tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    row = score_checkpoint(phantom_run, 1, n=40, extractor="pixels", n_boot=20)
    folder = phantom_run / "audit" / "epoch-0001"
    assert pd.read_csv(folder / "memorization" / "memorization.csv").shape[0] == 40
    findings = pd.read_csv(folder / "findings" / "findings.csv")
    assert len(findings) == 40 and "impossible" in findings.columns
    summary = json.loads((folder / "findings" / "summary.json").read_text())
    # One instrument: the detector read the training images too; their labels only measure it.
    assert summary["real_source"] == "detector"
    assert summary["labels"] == "data/train_labels.csv"
    assert summary["detector_accuracy"]["lesion"]["n_positive"] > 0
    assert row["findings_impossible"] == summary["impossible"]
    assert row["findings_significant"] == (not summary["passed"])
    assert (folder / "memorization" / "gallery.png").is_file()


def test_too_few_training_images_to_judge_impossible_findings_is_noted(phantom_run, tmp_path, monkeypatch):
    import shutil

    from ganaudit.evaluation.scoring2d import prepare_reference

    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    assert not prepare_reference(phantom_run, features="pixels").notes
    small = tmp_path / "small-run"
    shutil.copytree(phantom_run, small)
    np.save(small / "data" / "train.npy", np.load(small / "data" / "train.npy")[:120])
    labels = pd.read_csv(small / "data" / "train_labels.csv").iloc[:120]
    labels.to_csv(small / "data" / "train_labels.csv", index=False)
    notes = prepare_reference(small, features="pixels").notes
    assert len(notes) == 1 and "the run has 120 training images and at least 200 are needed" in notes[0]


def test_a_run_trained_on_a_phantom_folder_gets_the_findings_audit(phantom_run, tmp_path, monkeypatch):
    """`ganaudit data phantom --out D` then `train2d --data D`: the labels travel with the folder."""
    import shutil

    from ganaudit.evaluation.scoring2d import prepare_reference

    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    folder_run = tmp_path / "folder-run"
    shutil.copytree(phantom_run, folder_run)
    run = json.loads((folder_run / "run.json").read_text())
    run["data"] = {"source": str(tmp_path / "phantom-folder"), "n": 360}
    (folder_run / "run.json").write_text(json.dumps(run))
    reference = prepare_reference(folder_run, features="pixels")
    assert reference.detector == "builtin:phantom" and reference.train_labels is not None
    assert not reference.notes
    (folder_run / "data" / "train_labels.csv").unlink()
    assert prepare_reference(folder_run, features="pixels").detector is None


# ----------------------------------------------------------------------------- bad input

def test_run_without_checkpoints_says_to_train_first(tiny_run):
    for path in (tiny_run / "checkpoints").iterdir():
        path.unlink()
    with pytest.raises(InputError, match=r"no checkpoints.*ganaudit train2d"):
        score_run_2d(tiny_run, **FAST)


def test_corrupt_checkpoint_is_named(tiny_run):
    bad = tiny_run / "checkpoints" / "generator-epoch-0002.keras"
    bad.write_bytes(b"not a keras file")
    with pytest.raises(InputError, match=r"generator-epoch-0002\.keras is corrupt"):
        score_run_2d(tiny_run, **FAST)
    assert not (tiny_run / "scores.csv").exists()


def test_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(InputError, match=r"not a training run \(no run.json\)"):
        score_run_2d(tmp_path, **FAST)


@pytest.mark.parametrize("n, subset, message", [
    (5, None, r"generated set has 5 images but at least 20 are needed"),
    (40, 50, r"KID subset size 50 needs at least 50 images in each set.*generated set has 40"),
])
def test_too_few_generated_images(tiny_run, n, subset, message):
    with pytest.raises(InputError, match=message):
        score_run_2d(tiny_run, features="pixels", n=n, kid_subset_size=subset, progress=False)


def test_empty_folder(tmp_path):
    (tmp_path / "real").mkdir()
    write_png16(blob_images(30), tmp_path / "fake")
    with pytest.raises(InputError, match=r"real is empty"):
        score_folders(tmp_path / "real", tmp_path / "fake", features="pixels")


def test_mismatched_sizes(tmp_path):
    write_png16(blob_images(30, size=16), tmp_path / "real")
    write_png16(blob_images(30, size=8), tmp_path / "fake")
    with pytest.raises(InputError, match=r"real images are 16×16 but generated images are 8×8"):
        score_folders(tmp_path / "real", tmp_path / "fake", features="pixels")


def test_folder_smaller_than_kid_subset(tmp_path):
    write_png16(blob_images(60), tmp_path / "real")
    write_png16(blob_images(30, seed=3), tmp_path / "fake")
    with pytest.raises(InputError, match=r"needs at least 50 images in each set, but the generated set has 30"):
        score_folders(tmp_path / "real", tmp_path / "fake", features="pixels", kid_subset_size=50)


def nan_for_dim_images(images):
    """A user extractor (``module:function``) that fails on black images: NaN features."""
    features = images.reshape(len(images), -1)[:, ::8].astype(np.float64)
    features[images.max(axis=(1, 2)) <= -0.999] = np.nan
    return features


def test_nan_features(tmp_path):
    write_png16(blob_images(30), tmp_path / "real")
    fake = blob_images(30, seed=3)
    fake[4] = -1.0  # one black image
    write_png16(fake, tmp_path / "fake")
    with pytest.raises(InputError, match=r"generated images in .*fake: .*gave NaN or infinite features for 1 of 30 images"):
        score_folders(tmp_path / "real", tmp_path / "fake",
                      features="tests.evaluation.test_scoring2d:nan_for_dim_images")


def test_nan_features_of_a_checkpoint_name_the_epoch(tiny_run, monkeypatch):
    generated = blob_images(40, seed=9)
    generated[7] = -1.0
    _fake_generator(monkeypatch, generated)
    with pytest.raises(InputError, match=r"images generated by the checkpoint of epoch 1: .*NaN or infinite features"):
        score_checkpoint(tiny_run, 1, n=40, extractor="tests.evaluation.test_scoring2d:nan_for_dim_images",
                         write_audits=False)
