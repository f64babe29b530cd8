"""Generators and discriminators (Keras 3 layers only, so they run on every backend).

Discriminators output logits. Generators are plain functional models of built-in layers, so
a checkpoint file loads with ``keras.saving.load_model`` anywhere, no ganaudit needed.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from ganaudit.gan_models.errors import InputError

SIZES_2D = (64, 128, 256)


def generator_1d(latent_dim: int = 8, *, width: int = 128, depth: int = 3) -> keras.Model:
    """MLP mapping a latent vector to an (x, y) point (linear output: it learns the ranges)."""
    z = keras.Input((latent_dim,), name="z")
    h = z
    for i in range(depth):
        h = layers.Dense(width, activation="leaky_relu", name=f"dense_{i}")(h)
    out = layers.Dense(2, name="xy")(h)
    return keras.Model(z, out, name="generator_1d")


def discriminator_1d(*, width: int = 128, depth: int = 3) -> keras.Model:
    """MLP scoring an (x, y) point as real (positive logit) or fake."""
    xy = keras.Input((2,), name="xy")
    h = xy
    for i in range(depth):
        h = layers.Dense(width, activation="leaky_relu", name=f"dense_{i}")(h)
    out = layers.Dense(1, name="logit")(h)
    return keras.Model(xy, out, name="discriminator_1d")


def _check_size(size: int) -> int:
    if size not in SIZES_2D:
        raise InputError(f"image size {size} is not supported; choose one of {SIZES_2D}")
    return int(math.log2(size)) - 2  # number of ×2 upsampling blocks from 4×4


def generator_2d(size: int = 64, latent_dim: int = 100, *, base: int = 64,
                 batch_norm: bool = True) -> keras.Model:
    """DCGAN generator (Radford et al. 2016): dense → 4×4, transposed convolutions ×2 per block.

    Blocks are added by size (4 for 64², 5 for 128², 6 for 256²); channels halve per block
    from ``base·2^(blocks-1)``. Batch normalisation after every hidden layer, as in DCGAN
    (without it the discriminator wins within two epochs on the phantom data).
    """
    blocks = _check_size(size)
    z = keras.Input((latent_dim,), name="z")
    channels = base * 2 ** (blocks - 1)
    h = layers.Dense(4 * 4 * channels, use_bias=not batch_norm, name="project")(z)
    h = layers.Reshape((4, 4, channels))(h)
    if batch_norm:
        h = layers.BatchNormalization(name="bn_project")(h)
    h = layers.LeakyReLU(0.2)(h)
    for i in range(blocks - 1):
        channels //= 2
        h = layers.Conv2DTranspose(max(channels, 16), 4, strides=2, padding="same",
                                   use_bias=not batch_norm, name=f"up_{i}")(h)
        if batch_norm:
            h = layers.BatchNormalization(name=f"bn_{i}")(h)
        h = layers.LeakyReLU(0.2)(h)
    h = layers.Conv2DTranspose(1, 4, strides=2, padding="same", name=f"up_{blocks - 1}")(h)
    out = layers.Activation("tanh", dtype="float32", name="image")(h)
    return keras.Model(z, out, name=f"generator_{size}")


class MinibatchStdDev(layers.Layer):
    """Appends the batch's mean feature standard deviation as one more channel (Karras et al.
    2018, "Progressive growing of GANs"): a collapsed generator makes whole batches alike, which
    the discriminator then sees directly, so collapse stops paying off."""

    def call(self, x):
        std = ops.sqrt(ops.var(ops.cast(x, "float32"), axis=0) + 1e-8)
        stat = ops.mean(std)
        extra = ops.ones_like(x[..., :1]) * ops.cast(stat, x.dtype)
        return ops.concatenate([x, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def discriminator_2d(size: int = 64, *, base: int = 64, minibatch_std: bool = True) -> keras.Model:
    """DCGAN discriminator: strided convolutions ×½ per block, LeakyReLU, dense logit; a
    minibatch standard-deviation channel before the last block against mode collapse."""
    blocks = _check_size(size)
    x = keras.Input((size, size, 1), name="image")
    h = x
    channels = base
    for i in range(blocks):
        if minibatch_std and i == blocks - 1:
            h = MinibatchStdDev(name="minibatch_std")(h)
        h = layers.Conv2D(min(channels, 512), 4, strides=2, padding="same", name=f"down_{i}")(h)
        h = layers.LeakyReLU(0.2)(h)
        channels *= 2
    h = layers.Flatten()(h)
    out = layers.Dense(1, dtype="float32", name="logit")(h)
    return keras.Model(x, out, name=f"discriminator_{size}")
