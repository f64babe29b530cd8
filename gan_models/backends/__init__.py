"""Backend-specific gradient code, one small module per Keras backend.

Each module exposes ``make_stepper(gan) -> Stepper`` where a Stepper runs a block of training
steps (``run(real, z_d, z_g, eps) -> (k, 4) array of d_loss, g_loss, d_acc_real, d_acc_fake``),
writes its state back into the Keras variables (``sync()``) and re-reads them after a resume
(``reload()``).
"""

from __future__ import annotations

import importlib

import keras

from ganaudit.gan_models.errors import InputError

SUPPORTED = ("tensorflow", "jax")


def make_stepper(gan):
    backend = keras.backend.backend()
    if backend not in SUPPORTED:
        raise InputError(f"Keras backend {backend!r} is not supported for training; set "
                         f"KERAS_BACKEND to one of {', '.join(SUPPORTED)}")
    module = importlib.import_module(f"ganaudit.gan_models.backends.{backend}_backend")
    return module.make_stepper(gan)
