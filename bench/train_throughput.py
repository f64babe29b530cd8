"""Training throughput: the seed notebook's loop against ganaudit's trainer, same models.

(a) seed style, as in the notebook: ``G.predict`` the fakes, ``D.train_on_batch`` on the real
    and on the fake half, then ``combined.train_on_batch`` with D frozen;
(b) ganaudit: ``GAN.compile(d_optimizer, g_optimizer, loss)`` and the backend stepper (a block
    of compiled steps per call; D and G updated once per step each, as in (a)).
Same generator/discriminator architecture, same batch size, same device, one process. Prints
images/s (real images consumed per second) for both and the ratio.

    python bench/train_throughput.py --size 64 --batch 64 --steps 30
    python bench/train_throughput.py --batch 32 --parts   # + what one step's arithmetic costs
    KERAS_BACKEND=jax python bench/train_throughput.py --batch 2048 --steps 200   # GPU
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ganaudit.gan_models import models  # noqa: E402
from ganaudit.gan_models.trainer import GAN  # noqa: E402


def seed_style(size, batch, steps, warmup, latent, base):
    generator = models.generator_2d(size, latent, base=base)
    discriminator = models.discriminator_2d(size, base=base)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    discriminator.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss=bce)
    discriminator.trainable = False
    z = keras.Input((latent,))
    combined = keras.Model(z, discriminator(generator(z)))
    combined.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss=bce)
    discriminator.trainable = True
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
    ones, zeros = np.ones((batch, 1), np.float32), np.zeros((batch, 1), np.float32)

    def step():
        noise = rng.standard_normal((batch, latent)).astype(np.float32)
        fake = generator.predict(noise, verbose=0)
        discriminator.train_on_batch(real, ones)
        discriminator.train_on_batch(fake, zeros)
        combined.train_on_batch(rng.standard_normal((batch, latent)).astype(np.float32), ones)

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - started)


def ganaudit_style(size, batch, steps, warmup, latent, base, block):
    gan = GAN(models.generator_2d(size, latent, base=base), models.discriminator_2d(size, base=base), latent)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5), "modified")
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (block, batch, size, size, 1)).astype(np.float32)

    def run_block():
        z_d = rng.standard_normal((block, batch, latent), dtype=np.float32)
        z_g = rng.standard_normal((block, batch, latent), dtype=np.float32)
        eps = rng.uniform(size=(block, batch)).astype(np.float32)
        gan.stepper.run(real, z_d, z_g, eps)

    for _ in range(max(warmup // block, 1)):
        run_block()
    calls = max(steps // block, 1)
    started = time.perf_counter()
    for _ in range(calls):
        run_block()
    return batch * block * calls / (time.perf_counter() - started)


def step_parts(size, batch, latent, base, repeats=30):
    """Milliseconds of the pieces every GAN step is made of (TensorFlow, compiled, no loop
    overhead): the floor under both (a) and (b). Returns {piece: ms}."""
    import tensorflow as tf

    generator = models.generator_2d(size, latent, base=base)
    discriminator = models.discriminator_2d(size, base=base)
    z = tf.random.normal((batch, latent))
    x = tf.random.uniform((batch, size, size, 1), -1, 1)

    g_vars = generator.trainable_variables
    d_vars = discriminator.trainable_variables

    @tf.function
    def g_forward():
        return generator(z, training=True)

    @tf.function
    def d_forward():
        return discriminator(x, training=True)

    @tf.function
    def g_backward():
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(generator(z, training=True))
        return tape.gradient(out, g_vars)

    @tf.function
    def d_backward():
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(discriminator(x, training=True))
        return tape.gradient(out, d_vars)

    @tf.function
    def d_backward_input():
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(discriminator(x, training=True))
        return tape.gradient(out, x)

    pieces = {"G forward": g_forward, "D forward": d_forward,
              "G forward+backward (weights)": g_backward,
              "D forward+backward (weights)": d_backward,
              "D forward+backward (input only)": d_backward_input}
    out = {}
    for name, fn in pieces.items():
        for _ in range(3):
            fn()
        started = time.perf_counter()
        for _ in range(repeats):
            result = fn()
        tf.nest.map_structure(lambda t: t.numpy(), result)
        out[name] = (time.perf_counter() - started) / repeats * 1e3
    # One step = D update (G forward, D on the real and on the fake batch) + G update (G
    # forward+backward through a D forward+backward to its input).
    out["one step (sum)"] = (out["G forward"] + 2 * out["D forward+backward (weights)"]
                             + out["G forward+backward (weights)"] + out["D forward+backward (input only)"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="measured steps per method")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--block", type=int, default=10, help="ganaudit steps per compiled call")
    parser.add_argument("--base", type=int, default=32, help="channel width (ganaudit default 32)")
    parser.add_argument("--latent", type=int, default=100)
    parser.add_argument("--mixed", action="store_true", help="mixed_bfloat16 policy for (b)")
    parser.add_argument("--parts", action="store_true",
                        help="also time the pieces of one step (TensorFlow only): the arithmetic floor")
    parser.add_argument("--quick", action="store_true",
                        help="64², batch 8, 2 steps of each: checks that the benchmark still works (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.steps, args.warmup, args.block, args.base = 64, 8, 2, 1, 2, 8
    device = "CPU"
    if keras.backend.backend() == "jax":
        import jax
        device = str(jax.devices()[0])
    print(f"backend {keras.backend.backend()}, device {device}, {os.cpu_count()} CPUs, "
          f"{args.size}², batch {args.batch}, base {args.base}")
    a = seed_style(args.size, args.batch, args.steps, args.warmup, args.latent, args.base)
    print(f"(a) seed-style train_on_batch loop: {a:10.1f} images/s")
    if args.mixed:
        keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    b = ganaudit_style(args.size, args.batch, args.steps, args.warmup, args.latent, args.base, args.block)
    print(f"(b) ganaudit trainer:               {b:10.1f} images/s{' (mixed_bfloat16)' if args.mixed else ''}")
    print(f"ratio (b)/(a): {b / a:.2f}×")
    if args.parts and keras.backend.backend() == "tensorflow":
        parts = step_parts(args.size, args.batch, args.latent, args.base)
        for name, ms in parts.items():
            print(f"   {name:34s} {ms:7.1f} ms")
        per_a, per_b = 1e3 * args.batch / a, 1e3 * args.batch / b
        needed = per_a / 2
        verdict = ("(b) is already there" if per_b <= needed
                   else f"{100 * (1 - needed / per_b):.0f} % less than (b) spends")
        print(f"(a) {per_a:.1f} ms per step, (b) {per_b:.1f} ms per step, the pieces one by one "
              f"{parts['one step (sum)']:.1f} ms; 2× over (a) needs {needed:.1f} ms per step: {verdict}")


if __name__ == "__main__":
    main()
