"""TensorFlow training step: GradientTape, a block of steps per ``tf.function`` call."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class TensorFlowStepper:
    def __init__(self, gan):
        self.gan = gan
        self._block = tf.function(self._block_fn, reduce_retracing=True)

    def _penalty(self, real, fake, eps):
        """WGAN-GP term E[(‖∇D(x̂)‖ − 1)²] at x̂ = ε x + (1 − ε) G(z) (Gulrajani et al. 2017)."""
        shape = [-1] + [1] * (len(real.shape) - 1)
        eps = tf.reshape(tf.cast(eps, real.dtype), shape)
        mixed = eps * real + (1.0 - eps) * tf.cast(fake, real.dtype)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.gan.discriminator(mixed, training=True)
        grads = tape.gradient(scores, mixed)
        norms = tf.sqrt(tf.reduce_sum(tf.square(tf.cast(grads, tf.float32)),
                                      axis=list(range(1, len(real.shape)))) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def _step(self, real, z_d, z_g, eps):
        gan = self.gan
        loss = gan.gan_loss
        d_vars = gan.discriminator.trainable_variables
        g_vars = gan.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = gan.generator(z_d, training=True)
            real_logits = tf.cast(gan.discriminator(real, training=True), tf.float32)
            fake_logits = tf.cast(gan.discriminator(fake, training=True), tf.float32)
            d_loss = loss.discriminator(real_logits, fake_logits)
            if loss.gradient_penalty:
                d_loss = d_loss + loss.gradient_penalty * self._penalty(real, fake, eps)
        gan.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        with tf.GradientTape() as tape:
            fake = gan.generator(z_g, training=True)
            g_loss = loss.generator(tf.cast(gan.discriminator(fake, training=True), tf.float32))
        gan.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        acc_real = tf.reduce_mean(tf.cast(real_logits > 0, tf.float32))
        acc_fake = tf.reduce_mean(tf.cast(fake_logits < 0, tf.float32))
        return tf.stack([d_loss, g_loss, acc_real, acc_fake])

    def _block_fn(self, real, z_d, z_g, eps):
        k = tf.shape(real)[0]
        out = tf.TensorArray(tf.float32, size=k)
        for i in tf.range(k):
            out = out.write(i, self._step(real[i], z_d[i], z_g[i], eps[i]))
        return out.stack()

    def run(self, real, z_d, z_g, eps) -> np.ndarray:
        return self._block(real, z_d, z_g, eps).numpy()

    def sync(self) -> None:
        """Variables are updated in place under TensorFlow."""

    def reload(self) -> None:
        """Nothing cached outside the variables."""


def make_stepper(gan):
    return TensorFlowStepper(gan)
