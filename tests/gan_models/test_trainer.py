"""The trainer: reproducible histories, one history row / generator / sample per epoch, the
health rule, every loss trains, and what a 1D run folder holds."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from ganaudit.gan_models import runs
from ganaudit.gan_models.checkpoints import list_checkpoints
from ganaudit.gan_models.errors import InputError
from ganaudit.gan_models.gan1d import train_1d
from ganaudit.gan_models.losses import LOSSES
from ganaudit.gan_models.sampling import generate
from ganaudit.gan_models.trainer import epoch_health
from tests.conftest import TINY_1D

HISTORY_COLUMNS = ["epoch", "d_loss", "g_loss", "d_acc_real", "d_acc_fake", "seconds", "healthy"]
METRIC_COLUMNS = ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]


# ---- health rule (no training) ----------------------------------------------------------

@pytest.mark.parametrize("acc_real, acc_fake, healthy", [
    (0.5, 0.5, True),
    (0.8, 0.6, True),
    (0.9, 0.9, True),      # the limits themselves are still healthy
    (0.1, 0.1, True),
    (0.95, 0.95, False),   # the discriminator wins: the generator gets no signal
    (1.0, 0.85, False),    # mean 0.925
    (0.05, 0.05, False),   # the discriminator collapsed
    (0.0, 0.15, False),    # mean 0.075
    (1.0, 0.0, True),      # calls everything real: mean 0.5 (the rule looks at the mean only)
])
def test_epoch_health_rule(acc_real, acc_fake, healthy):
    assert epoch_health(acc_real, acc_fake) is healthy


def test_epoch_health_custom_limits():
    assert epoch_health(0.85, 0.85, high=0.8) is False
    assert epoch_health(0.25, 0.25, low=0.3) is False
    assert epoch_health(0.25, 0.25, low=0.2) is True


# ---- a tiny trained run -----------------------------------------------------------------

@pytest.mark.training
def test_run_folder_layout(tiny_run_1d):
    run = json.loads((tiny_run_1d / "run.json").read_text())
    assert run["kind"] == "1d"
    assert run["backend"] == keras.backend.backend()
    assert (run["epochs"], run["seed"], run["batch_size"], run["loss"]) == (2, 0, 64, "modified")
    assert run["latent_dim"] == runs.DEFAULTS_1D["latent_dim"]
    assert run["pattern"]["name"] == "sine"
    assert run["pattern"]["x_range"] == pytest.approx([-np.pi, np.pi])
    assert run["pattern"]["y_range"] == pytest.approx([-1.0, 1.0])
    loaded = runs.load_run(tiny_run_1d)
    assert loaded["path"] == str(tiny_run_1d) and loaded["kind"] == "1d"


@pytest.mark.training
def test_every_epoch_writes_history_checkpoint_and_sample(tiny_run_1d):
    history = pd.read_csv(tiny_run_1d / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2]
    assert np.isfinite(history[METRIC_COLUMNS].to_numpy()).all()
    assert ((history[["d_acc_real", "d_acc_fake"]] >= 0) & (history[["d_acc_real", "d_acc_fake"]] <= 1)).all().all()
    assert (history["seconds"] >= 0).all()
    # healthy follows the rule on the recorded accuracies
    for _, row in history.iterrows():
        assert str(row["healthy"]) == str(epoch_health(row["d_acc_real"], row["d_acc_fake"]))

    ckpts = list_checkpoints(tiny_run_1d)
    assert [e for e, _ in ckpts] == [1, 2]
    assert [p.name for _, p in ckpts] == ["generator-epoch-0001.keras", "generator-epoch-0002.keras"]
    latents = runs.fixed_latents(runs.load_run(tiny_run_1d), 1000)
    outputs = []
    for epoch, path in ckpts:
        generator = keras.saving.load_model(path, compile=False)  # loads without ganaudit
        assert tuple(generator.input_shape[1:]) == (runs.DEFAULTS_1D["latent_dim"],)
        sample = np.load(tiny_run_1d / "samples" / f"epoch-{epoch:04d}.npy")
        assert sample.shape == (1000, 2) and sample.dtype == np.float32
        predicted = keras.ops.convert_to_numpy(generator(latents))
        np.testing.assert_allclose(sample, predicted, rtol=1e-5, atol=1e-5)
        outputs.append(sample)
    assert not np.allclose(outputs[0], outputs[1])  # the generator changed between epochs
    assert sorted(p.name for p in (tiny_run_1d / "checkpoints").glob("state-epoch-*.npz")) == [
        "state-epoch-0001.npz", "state-epoch-0002.npz"]


@pytest.mark.training
def test_generate_from_a_checkpoint(tiny_run_1d):
    points = generate(tiny_run_1d, 2, 50, seed=3)
    assert points.shape == (50, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points, generate(tiny_run_1d, 2, 50, seed=3))
    assert not np.allclose(points, generate(tiny_run_1d, 2, 50, seed=4))
    with pytest.raises(InputError, match=r"has no checkpoint for epoch 7; it has epochs \[1, 2\]"):
        generate(tiny_run_1d, 7, 5)


@pytest.mark.training
def test_same_seed_same_history_other_seed_other_history(tiny_run_1d, tmp_path):
    again = train_1d("sine", tmp_path / "again", epochs=2, seed=0, quiet=True, **TINY_1D)
    other = train_1d("sine", tmp_path / "other", epochs=2, seed=1, quiet=True, **TINY_1D)
    first = pd.read_csv(tiny_run_1d / "history.csv")[METRIC_COLUMNS].to_numpy()
    same = pd.DataFrame(again["history"])[METRIC_COLUMNS].to_numpy()
    different = pd.DataFrame(other["history"])[METRIC_COLUMNS].to_numpy()
    np.testing.assert_array_equal(first, same)
    assert not np.array_equal(first, different)
    for epoch in (1, 2):
        np.testing.assert_array_equal(np.load(tiny_run_1d / "samples" / f"epoch-{epoch:04d}.npy"),
                                      np.load(tmp_path / "again" / "samples" / f"epoch-{epoch:04d}.npy"))


@pytest.mark.training
@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_an_epoch_without_nan(loss, tmp_path):
    summary = train_1d("parabola", tmp_path / loss, epochs=1, seed=0, quiet=True, loss=loss,
                       n_train=256, batch_size=64)
    assert json.loads((tmp_path / loss / "run.json").read_text())["loss"] == loss
    row = summary["history"][0]
    assert np.isfinite([row[m] for m in METRIC_COLUMNS]).all()
    points = generate(tmp_path / loss, 1, 200)
    assert np.isfinite(points).all()


@pytest.mark.training
def test_unhealthy_epochs_warn_and_say_what_to_do(tmp_path, monkeypatch):
    from ganaudit.gan_models import trainer

    monkeypatch.setattr(trainer, "epoch_health", lambda *args, **kwargs: False)
    with pytest.warns(UserWarning, match=r"unhealthy at epochs \[1\].*Restart with another --seed"):
        summary = train_1d("sine", tmp_path / "run", epochs=1, quiet=True, n_train=128, batch_size=64)
    assert summary["unhealthy"] == [1]
    assert pd.read_csv(tmp_path / "run" / "history.csv")["healthy"].tolist() == [False]


# ---- refused settings (no training) -----------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, r"--epochs must be a positive number of epochs, got 0"),
    ({"epochs": -3}, r"--epochs must be a positive number of epochs, got -3"),
    ({"epochs": 1, "learning_rate": 0.1}, r"unknown 1D training settings \['learning_rate'\]; known: "),
])
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        train_1d("sine", tmp_path / "run", quiet=True, **kwargs)
    assert not (tmp_path / "run").exists()


def test_unknown_loss_is_refused(tmp_path):
    with pytest.raises(InputError, match="unknown loss 'hinge'"):
        train_1d("sine", tmp_path / "run", epochs=1, quiet=True, loss="hinge")
    assert not (tmp_path / "run" / "history.csv").exists()


def test_a_non_empty_folder_is_refused_and_kept(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"output folder .*run is not empty; choose a new folder, "
                                         r"or add --resume"):
        train_1d("sine", out, epochs=1, quiet=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


def test_resume_needs_a_run(tmp_path):
    with pytest.raises(InputError, match=r"cannot resume: .* has no run.json; start a new run"):
        train_1d("sine", tmp_path / "nothing", epochs=1, resume=True, quiet=True)


def wide_parabola(n, rng):
    """A user pattern given as a Python callable (module level, so a run can find it again)."""
    x = rng.uniform(-2.0, 2.0, n)
    return np.stack([x, 0.5 * x ** 2], axis=1)


@pytest.mark.training
def test_a_run_on_a_callable_pattern_can_be_scored_and_resumed(tmp_path):
    from ganaudit.evaluation.scoring1d import score_run_1d

    out = tmp_path / "run"
    train_1d(wide_parabola, out, epochs=1, quiet=True, n_train=128, batch_size=64)
    pattern = json.loads((out / "run.json").read_text())["pattern"]
    assert pattern["spec"] == f"{__name__}:wide_parabola"
    assert pattern["x_range"] == pytest.approx([-2.0, 2.0], abs=1e-3)
    scores = score_run_1d(out, n=100, progress=False)
    assert scores["epoch"].tolist() == [1] and np.isfinite(scores["true_error"]).all()
    assert train_1d(wide_parabola, out, epochs=2, resume=True, quiet=True)["epochs"] == 2


@pytest.mark.training
def test_generator_batch_norm_statistics_move_in_both_updates_of_a_step():
    """One step runs the generator in training mode twice (for the discriminator's update and
    for its own), so its batch-norm moving statistics take both batches, on every backend."""
    from ganaudit.gan_models import models
    from ganaudit.gan_models.trainer import GAN

    def build():
        keras.utils.set_random_seed(3)
        return models.generator_2d(64, 16, base=8), models.discriminator_2d(64, base=8)

    generator, discriminator = build()
    gan = GAN(generator, discriminator, 16)
    gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4), "modified")
    reference, _ = build()  # same initial weights, run by hand
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (1, 4, 64, 64, 1)).astype(np.float32)
    z_d = rng.standard_normal((1, 4, 16), dtype=np.float32)
    z_g = rng.standard_normal((1, 4, 16), dtype=np.float32)
    before = [np.asarray(v.value) for v in reference.non_trainable_variables]
    gan.stepper.run(real, z_d, z_g, np.zeros((1, 4), np.float32))
    gan.stepper.sync()
    reference(z_d[0], training=True)  # G's weights change only after both forward passes
    reference(z_g[0], training=True)
    for mine, expected, start in zip(gan.generator.non_trainable_variables,
                                     reference.non_trainable_variables, before):
        assert not np.allclose(np.asarray(expected.value), start)
        np.testing.assert_allclose(np.asarray(mine.value), np.asarray(expected.value), rtol=1e-4, atol=1e-6)
