"""GAN losses against TF-GAN's ``losses_wargs`` (the oracle) and the gradient penalty against
hand-written gradients (TensorFlow's GradientTape and the closed-form gradient of a small MLP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from ganaudit.gan_models import losses
from ganaudit.gan_models.errors import InputError
from tests.tfgan_oracle import load_tfgan

REPO = Path(__file__).resolve().parents[2]


def _np(value) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(value)))


@pytest.fixture(scope="module")
def tfgan():
    return load_tfgan()[0]


@pytest.fixture(scope="module")
def logits():
    rng = np.random.default_rng(42)
    # Wide spread so that the stable log-sigmoid path is exercised (|logit| up to ~12).
    real = (rng.standard_normal((64, 1)) * 4.0 + 0.7).astype(np.float32)
    fake = (rng.standard_normal((64, 1)) * 4.0 - 0.4).astype(np.float32)
    return real, fake


# (our discriminator loss, TF-GAN's name, keyword arguments for both)
DISCRIMINATOR_CASES = [
    ("minimax_discriminator_loss", {"label_smoothing": 0.0}),
    ("minimax_discriminator_loss", {"label_smoothing": 0.25}),
    ("modified_discriminator_loss", {"label_smoothing": 0.0}),
    ("modified_discriminator_loss", {"label_smoothing": 0.25}),
    ("least_squares_discriminator_loss", {}),
    ("least_squares_discriminator_loss", {"real_label": 0.9, "fake_label": -0.3}),
    ("wasserstein_discriminator_loss", {}),
]
GENERATOR_CASES = [
    ("minimax_generator_loss", {"label_smoothing": 0.0}),
    ("minimax_generator_loss", {"label_smoothing": 0.25}),
    ("modified_generator_loss", {"label_smoothing": 0.0}),
    ("modified_generator_loss", {"label_smoothing": 0.25}),
    ("least_squares_generator_loss", {}),
    ("least_squares_generator_loss", {"real_label": 0.8}),
    ("wasserstein_generator_loss", {}),
]


@pytest.mark.parametrize("name, kwargs", DISCRIMINATOR_CASES)
def test_discriminator_losses_equal_tfgan(tfgan, logits, name, kwargs):
    real, fake = logits
    ours = _np(getattr(losses, name)(keras.ops.convert_to_tensor(real),
                                     keras.ops.convert_to_tensor(fake), **kwargs))
    theirs = float(getattr(tfgan, name)(real, fake, **kwargs).numpy())
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name, kwargs", GENERATOR_CASES)
def test_generator_losses_equal_tfgan(tfgan, logits, name, kwargs):
    _, fake = logits
    ours = _np(getattr(losses, name)(keras.ops.convert_to_tensor(fake), **kwargs))
    theirs = float(getattr(tfgan, name)(fake, **kwargs).numpy())
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6)


def test_tfgan_default_discriminator_smoothing_is_ours(tfgan, logits):
    """Both default to one-sided label smoothing 0.25 on the discriminator's real term."""
    real, fake = logits
    for name in ("minimax_discriminator_loss", "modified_discriminator_loss"):
        ours = _np(getattr(losses, name)(real, fake))
        assert ours == pytest.approx(float(getattr(tfgan, name)(real, fake).numpy()), rel=1e-6)


@pytest.mark.parametrize("name", losses.LOSSES)
def test_get_loss_pairs_match_the_named_functions(logits, name):
    real, fake = logits
    pair = losses.get_loss(name, label_smoothing=0.25)
    d_fn = getattr(losses, f"{name}_discriminator_loss")
    g_fn = getattr(losses, f"{name}_generator_loss")
    d_kwargs = {"label_smoothing": 0.25} if name in ("modified", "minimax") else {}
    assert pair.name == name
    assert _np(pair.discriminator(real, fake)) == pytest.approx(_np(d_fn(real, fake, **d_kwargs)))
    assert _np(pair.generator(fake)) == pytest.approx(_np(g_fn(fake)))
    assert (pair.gradient_penalty > 0) == (name == "wasserstein")


def test_unknown_loss_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown loss 'hinge'; choose one of modified, minimax, "
                                         "wasserstein, least_squares"):
        losses.get_loss("hinge")


# ---- gradient penalty -------------------------------------------------------------------

def _mlp_weights(seed: int = 3):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((2, 8)).astype(np.float32) * 0.9,
            rng.standard_normal(8).astype(np.float32) * 0.3,
            rng.standard_normal((8, 1)).astype(np.float32) * 0.7,
            rng.standard_normal(1).astype(np.float32)]


def _penalty_inputs(seed: int = 4):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((16, 2)).astype(np.float32)
    fake = rng.standard_normal((16, 2)).astype(np.float32) * 2.0
    eps = rng.uniform(size=16).astype(np.float32)
    return real, fake, eps


def _closed_form_penalty(weights, real, fake, eps) -> float:
    """E[(‖∇D(x̂)‖ − 1)²] for D(x) = tanh(x W1 + b1) w2 + b2: ∇D = W1 (w2 ⊙ (1 − tanh²))."""
    w1, b1, w2, _ = (np.asarray(w, np.float64) for w in weights)
    mixed = eps[:, None] * real + (1.0 - eps[:, None]) * fake
    hidden = np.tanh(mixed @ w1 + b1)
    grads = ((1.0 - hidden ** 2) * w2[:, 0]) @ w1.T
    return float(np.mean((np.linalg.norm(grads, axis=1) - 1.0) ** 2))


def _mlp():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1)])
    model.set_weights(_mlp_weights())
    return model


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow stepper")
def test_tensorflow_gradient_penalty_matches_gradient_tape_and_closed_form():
    import tensorflow as tf

    from ganaudit.gan_models.backends.tensorflow_backend import TensorFlowStepper

    model = _mlp()
    real, fake, eps = _penalty_inputs()
    stepper = TensorFlowStepper(types.SimpleNamespace(discriminator=model))
    ours = float(stepper._penalty(tf.constant(real), tf.constant(fake), tf.constant(eps)))

    mixed = tf.constant(eps[:, None] * real + (1.0 - eps[:, None]) * fake)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = model(mixed)
    jacobian = tape.batch_jacobian(scores, mixed)[:, 0, :]  # per-sample ∇D
    tape_value = float(tf.reduce_mean((tf.norm(jacobian, axis=1) - 1.0) ** 2))

    assert ours == pytest.approx(tape_value, rel=1e-5)
    assert ours == pytest.approx(_closed_form_penalty(_mlp_weights(), real, fake, eps), rel=1e-5)
    assert ours > 0.01  # the weights are chosen so the penalty is far from 0


_JAX_SCRIPT = textwrap.dedent("""
    import json, sys, types
    import numpy as np
    import keras
    import jax.numpy as jnp
    from ganaudit.gan_models.backends.jax_backend import JaxStepper
    from tests.gan_models.test_losses import _mlp, _penalty_inputs

    model = _mlp()
    real, fake, eps = _penalty_inputs()
    stepper = JaxStepper.__new__(JaxStepper)
    stepper.gan = types.SimpleNamespace(discriminator=model)
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    value = stepper._penalty(tv, ntv, jnp.asarray(real), jnp.asarray(fake), jnp.asarray(eps))
    print(json.dumps({"backend": keras.backend.backend(), "penalty": float(value)}))
""")


def test_jax_gradient_penalty_matches_closed_form(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax"
    real, fake, eps = _penalty_inputs()
    assert result["penalty"] == pytest.approx(_closed_form_penalty(_mlp_weights(), real, fake, eps),
                                              rel=1e-5)
