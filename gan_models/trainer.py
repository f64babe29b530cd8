"""The GAN as a ``keras.Model`` and the epoch loop shared by the 1D and 2D GANs.

``GAN.compile(d_optimizer, g_optimizer, loss)`` follows the keras-io GAN examples; the
gradient code is in ``gan_models/backends/<backend>_backend.py``. ``fit_gan`` runs epochs over
an in-memory array, draws all randomness from one seeded NumPy generator (so the same seed on
the same backend gives the same history, and a resumed run continues the same stream), and
after every epoch calls ``on_epoch_end(epoch, row)`` where the caller writes checkpoints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from ganaudit.gan_models.backends import make_stepper
from ganaudit.gan_models.losses import GANLoss, get_loss
from ganaudit.schema import metrics as M

METRICS = (M.D_LOSS, M.G_LOSS, M.D_ACC_REAL, M.D_ACC_FAKE)


class GAN(keras.Model):
    """Generator and discriminator trained together; ``call`` generates from latents."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self._stepper = None

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def compile(self, d_optimizer, g_optimizer, loss: GANLoss | str = "modified", **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.gan_loss = get_loss(loss) if isinstance(loss, str) else loss
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self._stepper = None

    @property
    def stepper(self):
        if self._stepper is None:
            self._stepper = make_stepper(self)
        return self._stepper

    # Full training state, for resuming: weights of both networks and both optimizers.
    def state_arrays(self) -> dict[str, np.ndarray]:
        self.stepper.sync()
        out = {}
        for prefix, variables in self._state_groups():
            for i, variable in enumerate(variables):
                out[f"{prefix}/{i:04d}"] = np.asarray(keras.ops.convert_to_numpy(variable.value))
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for prefix, variables in self._state_groups():
            for i, variable in enumerate(variables):
                key = f"{prefix}/{i:04d}"
                if key not in arrays or tuple(arrays[key].shape) != tuple(variable.shape):
                    raise ValueError(f"training state does not match the model at {key}")
                variable.assign(arrays[key])
        if self._stepper is not None:
            self._stepper.reload()

    def _state_groups(self):
        return (("generator", self.generator.weights), ("discriminator", self.discriminator.weights),
                ("g_optimizer", self.g_optimizer.variables), ("d_optimizer", self.d_optimizer.variables))


@dataclass
class LoopSettings:
    epochs: int
    batch_size: int
    steps_per_call: int = 25
    health_low: float = 0.1
    health_high: float = 0.9


def epoch_health(d_acc_real: float, d_acc_fake: float, *, low: float = 0.1, high: float = 0.9) -> bool:
    """The seed article's restart rule: an epoch is unhealthy when the discriminator's
    accuracy over the epoch stays above ``high`` (it wins, the generator gets no signal) or
    below ``low`` (it has collapsed)."""
    accuracy = (d_acc_real + d_acc_fake) / 2.0
    return bool(low <= accuracy <= high)


def fit_gan(gan: GAN, data: np.ndarray, settings: LoopSettings, rng: np.random.Generator, *,
            start_epoch: int = 1, on_epoch_end: Callable[[int, dict], None] | None = None,
            progress=None) -> list[dict]:
    """Train epochs ``start_epoch..settings.epochs``; return the history rows written."""
    n = len(data)
    batch = min(settings.batch_size, n)
    n_batches = max(n // batch, 1)
    rows = []
    for epoch in range(start_epoch, settings.epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(n)[: n_batches * batch]
        sums = np.zeros(len(METRICS))
        done = 0
        while done < n_batches:
            k = min(settings.steps_per_call, n_batches - done)
            idx = order[done * batch:(done + k) * batch]
            real = data[idx].reshape((k, batch) + data.shape[1:])
            z_d = rng.standard_normal((k, batch, gan.latent_dim), dtype=np.float32)
            z_g = rng.standard_normal((k, batch, gan.latent_dim), dtype=np.float32)
            eps = rng.uniform(size=(k, batch)).astype(np.float32)
            metrics = gan.stepper.run(real, z_d, z_g, eps)
            if not np.all(np.isfinite(metrics)):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch}: a loss became NaN or infinite")
            sums += metrics.sum(axis=0)
            done += k
            if progress is not None:
                means = sums / done
                progress.update(k)
                progress.set_postfix(epoch=epoch, d_loss=f"{means[0]:.3f}", g_loss=f"{means[1]:.3f}",
                                     acc_r=f"{means[2]:.2f}", acc_f=f"{means[3]:.2f}", refresh=False)
        gan.stepper.sync()
        means = sums / n_batches
        row = {"epoch": epoch, **{name: float(v) for name, v in zip(METRICS, means)},
               "seconds": round(time.perf_counter() - started, 3)}
        row[M.HEALTHY] = epoch_health(row[M.D_ACC_REAL], row[M.D_ACC_FAKE],
                                      low=settings.health_low, high=settings.health_high)
        rows.append(row)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return rows
