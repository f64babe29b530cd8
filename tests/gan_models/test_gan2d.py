"""The 2D DCGAN: one tiny phantom epoch writes the stored data, a sample grid, a loadable
checkpoint and a history row; the grid helper; refused inputs."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganaudit.gan_models import runs
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.gan2d import image_grid, train_2d
from ganaudit.gan_models.sampling import generate

N_PHANTOM = 64


@pytest.fixture(scope="module")
def tiny_run_2d(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-run-2d") / "run"
    summary = train_2d("phantom", out, size=64, epochs=1, n_phantom=N_PHANTOM, batch_size=16, quiet=True)
    return out, summary


@pytest.mark.training
def test_phantom_run_writes_its_data(tiny_run_2d):
    out, _ = tiny_run_2d
    train = np.load(out / "data" / "train.npy")
    heldout = np.load(out / "data" / "heldout.npy")
    for images in (train, heldout):
        assert images.dtype == np.float32 and images.ndim == 3 and images.shape[1:] == (64, 64)
        assert images.min() >= -1.0 and images.max() <= 1.0
        assert images.std() > 0.05  # not blank
    assert len(train) + len(heldout) == N_PHANTOM
    assert len(heldout) == round(0.2 * N_PHANTOM)
    loaded_train, loaded_heldout = runs.load_run_data(out)
    np.testing.assert_array_equal(loaded_train, train)
    np.testing.assert_array_equal(loaded_heldout, heldout)
    # No image is in both sets.
    flat_train = {row.tobytes() for row in train}
    assert not any(row.tobytes() in flat_train for row in heldout)
    train_labels = pd.read_csv(out / "data" / "train_labels.csv")
    heldout_labels = pd.read_csv(out / "data" / "heldout_labels.csv")
    assert len(train_labels) == len(train) and len(heldout_labels) == len(heldout)
    assert "file" in train_labels.columns
    assert not set(train_labels["file"]) & set(heldout_labels["file"])


@pytest.mark.training
def test_phantom_run_json_history_checkpoint_and_grid(tiny_run_2d):
    out, summary = tiny_run_2d
    run = json.loads((out / "run.json").read_text())
    assert (run["kind"], run["image_size"], run["epochs"], run["batch_size"]) == ("2d", 64, 1, 16)
    assert run["data"]["source"] == "phantom"
    assert run["backend"] == keras.backend.backend()
    assert {"latent_dim", "loss", "seed"} <= set(run)

    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake",
                                     "seconds", "healthy"]
    assert history["epoch"].tolist() == [1]
    assert np.isfinite(history[["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]].to_numpy()).all()
    assert summary["epochs"] == 1

    generator = keras.saving.load_model(out / "checkpoints" / "generator-epoch-0001.keras", compile=False)
    z = np.random.default_rng(0).standard_normal((3, run["latent_dim"])).astype(np.float32)
    images = keras.ops.convert_to_numpy(generator(z))
    assert images.shape == (3, 64, 64, 1)
    assert np.abs(images).max() <= 1.0

    samples = generate(out, 1, 5)
    assert samples.shape == (5, 64, 64) and samples.dtype == np.float32

    grid = Image.open(out / "samples" / "epoch-0001.png")
    n_grid = runs.DEFAULTS_2D["n_grid"]
    rows = -(-n_grid // 8)
    assert grid.size == (8 * 66 + 2, rows * 66 + 2)  # 8 columns of 64 px with 2 px gutters
    assert np.asarray(grid).std() > 1.0


def test_image_grid_places_each_image():
    images = np.stack([np.full((4, 4), v) for v in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, columns=2)
    assert grid.shape == (2 * 6 + 2, 2 * 6 + 2) and grid.dtype == np.uint8
    assert (grid[2:6, 2:6] == 0).all()       # −1 → black
    assert (grid[2:6, 8:12] == 128).all()    # 0 → mid grey
    assert (grid[8:12, 2:6] == 255).all()    # +1 → white
    assert (grid[8:12, 8:12] == 0).all()     # empty cell
    assert (grid[:2] == 0).all() and (grid[:, 6:8] == 0).all()  # gutters


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 100}, r"--size 100 is not supported; choose one of \(64, 128, 256\)"),
    ({"epochs": 0}, r"--epochs must be a positive number of epochs, got 0"),
    ({"base": 8, "depth": 2}, r"unknown 2D training settings \['depth'\]"),
])
def test_bad_2d_settings_are_refused(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        train_2d("phantom", tmp_path / "run", quiet=True, **kwargs)
    assert not (tmp_path / "run").exists()


def test_missing_data_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"--data .*nowhere does not exist; give 'phantom' or a folder"):
        train_2d(str(tmp_path / "nowhere"), tmp_path / "run", epochs=1, quiet=True)
    assert not (tmp_path / "run").exists()


def test_non_empty_output_is_refused_for_2d(tmp_path):
    from ganaudit.gan_models.data import write_png16

    rng = np.random.default_rng(0)
    write_png16(rng.uniform(-1, 1, (4, 64, 64)).astype(np.float32), tmp_path / "images")
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="is not empty"):
        train_2d(str(tmp_path / "images"), out, epochs=1, quiet=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.training
def test_one_multiframe_dicom_series_trains(tmp_path):
    """The most common real input: one series (here pydicom-data's 10-frame MR head file)."""
    from pydicom.data import get_testdata_file

    out = tmp_path / "run"
    train_2d(get_testdata_file("emri_small.dcm"), out, size=64, epochs=1, batch_size=2, quiet=True)
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["split"].startswith("one series/volume")
    train, held = np.load(out / "data" / "train.npy"), np.load(out / "data" / "heldout.npy")
    assert len(train) + len(held) <= 10 and len(held) == 2 and len(train) >= 4
    assert (out / "checkpoints" / "generator-epoch-0001.keras").is_file()


def test_too_few_images_to_split_leaves_no_folder(tmp_path):
    from ganaudit.gan_models.data import write_png16

    write_png16(np.zeros((1, 64, 64), np.float32), tmp_path / "one")
    with pytest.raises(InputError, match="need at least 2 images"):
        train_2d(str(tmp_path / "one"), tmp_path / "run", epochs=1, quiet=True)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("batch_size", [0, -4])
def test_batch_size_must_be_positive(tmp_path, batch_size):
    with pytest.raises(InputError, match=f"--batch-size must be a whole number ≥ 1, got {batch_size}"):
        train_2d("phantom", tmp_path / "run", epochs=1, batch_size=batch_size, n_phantom=8, quiet=True)
    assert not (tmp_path / "run").exists()


def test_resuming_a_1d_run_as_2d_is_refused(tiny_run_1d, copy_run):
    run = copy_run(tiny_run_1d)
    before = sorted(p.name for p in run.rglob("*"))
    with pytest.raises(InputError, match=r"is a 1D run; resume it with `ganaudit train1d --out .* --resume`"):
        train_2d("phantom", run, epochs=3, resume=True, quiet=True)
    assert sorted(p.name for p in run.rglob("*")) == before


@pytest.mark.parametrize("text", ["{}", "[1]", '{"kind": "3d"}'])
def test_run_json_that_is_not_a_run(tmp_path, text):
    (tmp_path / "run.json").write_text(text)
    with pytest.raises(InputError, match="does not describe a ganaudit run"):
        runs.load_run(tmp_path)


def test_mixed_sizes_without_size_are_refused_and_resized_with_it(tmp_path):
    from ganaudit.gan_models.data import write_png16

    rng = np.random.default_rng(1)
    write_png16(rng.uniform(-1, 1, (6, 32, 32)).astype(np.float32), tmp_path / "mixed" / "a")
    write_png16(rng.uniform(-1, 1, (6, 48, 48)).astype(np.float32), tmp_path / "mixed" / "b")
    with pytest.raises(InputError, match=r"mixed sizes 32x32 \(6\), 48x48 \(6\).*--size S"):
        train_2d(str(tmp_path / "mixed"), tmp_path / "run", epochs=1, quiet=True)
    assert not (tmp_path / "run").exists()


@pytest.mark.training
def test_one_common_size_is_resized_to_the_default(tmp_path):
    from ganaudit.gan_models.data import write_png16

    write_png16(np.random.default_rng(2).uniform(-1, 1, (10, 32, 32)).astype(np.float32), tmp_path / "small")
    train_2d(str(tmp_path / "small"), tmp_path / "run", epochs=1, batch_size=4, quiet=True)
    assert np.load(tmp_path / "run" / "data" / "train.npy").shape[1:] == (64, 64)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["image_size"] == 64
