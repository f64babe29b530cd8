"""JAX training step: pure functions over explicit state, ``lax.scan`` over a block of steps.

Model and optimizer state live in JAX arrays between calls (``stateless_call`` and
``optimizer.stateless_apply``); ``sync()`` writes them back into the Keras variables before a
checkpoint is saved.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


class JaxStepper:
    def __init__(self, gan):
        self.gan = gan
        self.reload()
        self._block = jax.jit(self._block_fn)

    def reload(self) -> None:
        gan = self.gan
        self.state = (
            [v.value for v in gan.generator.trainable_variables],
            [v.value for v in gan.generator.non_trainable_variables],
            [v.value for v in gan.discriminator.trainable_variables],
            [v.value for v in gan.discriminator.non_trainable_variables],
            [v.value for v in gan.g_optimizer.variables],
            [v.value for v in gan.d_optimizer.variables],
        )

    def _penalty(self, d_tv, d_ntv, real, fake, eps):
        """WGAN-GP term E[(‖∇D(x̂)‖ − 1)²] at x̂ = ε x + (1 − ε) G(z) (Gulrajani et al. 2017)."""
        eps = eps.reshape((-1,) + (1,) * (real.ndim - 1)).astype(real.dtype)
        mixed = eps * real + (1.0 - eps) * fake.astype(real.dtype)

        def total_score(x):
            scores, _ = self.gan.discriminator.stateless_call(d_tv, d_ntv, x, training=True)
            return jnp.sum(scores.astype(jnp.float32))

        grads = jax.grad(total_score)(mixed).astype(jnp.float32)
        norms = jnp.sqrt(jnp.sum(jnp.square(grads), axis=tuple(range(1, real.ndim))) + 1e-12)
        return jnp.mean(jnp.square(norms - 1.0))

    def _step(self, state, inputs):
        gan = self.gan
        loss = gan.gan_loss
        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov = state
        real, z_d, z_g, eps = inputs

        # The generator runs in training mode in both updates, so its batch-norm statistics
        # move twice per step (as they do in place under TensorFlow).
        def d_loss_fn(d_tv):
            fake, g_ntv_after = gan.generator.stateless_call(g_tv, g_ntv, z_d, training=True)
            real_logits, new_ntv = gan.discriminator.stateless_call(d_tv, d_ntv, real, training=True)
            fake_logits, new_ntv = gan.discriminator.stateless_call(d_tv, new_ntv, fake, training=True)
            real_logits = real_logits.astype(jnp.float32)
            fake_logits = fake_logits.astype(jnp.float32)
            value = loss.discriminator(real_logits, fake_logits)
            if loss.gradient_penalty:
                value = value + loss.gradient_penalty * self._penalty(d_tv, d_ntv, real, fake, eps)
            return value, (real_logits, fake_logits, new_ntv, g_ntv_after)

        (d_loss, (real_logits, fake_logits, d_ntv, g_ntv)), grads = jax.value_and_grad(
            d_loss_fn, has_aux=True)(d_tv)
        d_tv, d_ov = gan.d_optimizer.stateless_apply(d_ov, grads, d_tv)

        def g_loss_fn(g_tv):
            fake, new_g_ntv = gan.generator.stateless_call(g_tv, g_ntv, z_g, training=True)
            logits, new_d_ntv = gan.discriminator.stateless_call(d_tv, d_ntv, fake, training=True)
            return loss.generator(logits.astype(jnp.float32)), (new_g_ntv, new_d_ntv)

        (g_loss, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_tv)
        g_tv, g_ov = gan.g_optimizer.stateless_apply(g_ov, grads, g_tv)
        metrics = jnp.stack([
            d_loss, g_loss,
            jnp.mean((real_logits > 0).astype(jnp.float32)),
            jnp.mean((fake_logits < 0).astype(jnp.float32)),
        ])
        return (g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov), metrics

    def _block_fn(self, state, real, z_d, z_g, eps):
        return jax.lax.scan(self._step, state, (real, z_d, z_g, eps))

    def run(self, real, z_d, z_g, eps) -> np.ndarray:
        self.state, metrics = self._block(self.state, real, z_d, z_g, eps)
        return np.asarray(metrics)

    def sync(self) -> None:
        gan = self.gan
        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov = self.state
        for variables, values in (
            (gan.generator.trainable_variables, g_tv),
            (gan.generator.non_trainable_variables, g_ntv),
            (gan.discriminator.trainable_variables, d_tv),
            (gan.discriminator.non_trainable_variables, d_ntv),
            (gan.g_optimizer.variables, g_ov),
            (gan.d_optimizer.variables, d_ov),
        ):
            for variable, value in zip(variables, values):
                variable.assign(value)


def make_stepper(gan):
    return JaxStepper(gan)
