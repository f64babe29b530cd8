"""GAN losses on discriminator logits, written with ``keras.ops`` (any backend).

They follow TF-GAN's ``losses_wargs`` definitions (Goodfellow et al. 2014 minimax and
"modified"/non-saturating; Arjovsky et al. 2017 Wasserstein with the gradient penalty of
Gulrajani et al. 2017; Mao et al. 2017 least squares) so that a model trained here optimises
the same objective. The tests compare every function with TF-GAN on the same inputs.

All discriminator outputs are *logits* (no sigmoid in the model). Lower loss is better for
the network that minimises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from keras import ops

from ganaudit.gan_models.errors import InputError


def _sigmoid_cross_entropy(labels, logits, label_smoothing: float = 0.0):
    """Mean sigmoid cross-entropy with TF's label smoothing (labels → l(1−s) + s/2)."""
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    # Numerically stable form: max(x, 0) - x*z + log(1 + exp(-|x|)).
    per_item = ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.mean(per_item)


def minimax_discriminator_loss(real_logits, fake_logits, *, label_smoothing: float = 0.25):
    """−log σ(D(x)) − log(1 − σ(D(G(z)))), one-sided label smoothing on the real term."""
    return _sigmoid_cross_entropy(ops.ones_like(real_logits), real_logits, label_smoothing) + \
        _sigmoid_cross_entropy(ops.zeros_like(fake_logits), fake_logits)


def minimax_generator_loss(fake_logits, *, label_smoothing: float = 0.0):
    """The saturating generator loss: −(discriminator loss on the fakes)."""
    return -minimax_discriminator_loss(ops.ones_like(fake_logits), fake_logits,
                                       label_smoothing=label_smoothing)


def modified_discriminator_loss(real_logits, fake_logits, *, label_smoothing: float = 0.25):
    """Same as the minimax discriminator loss (the modification is on the generator side)."""
    return minimax_discriminator_loss(real_logits, fake_logits, label_smoothing=label_smoothing)


def modified_generator_loss(fake_logits, *, label_smoothing: float = 0.0):
    """Non-saturating generator loss −log σ(D(G(z)))."""
    return _sigmoid_cross_entropy(ops.ones_like(fake_logits), fake_logits, label_smoothing)


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Critic loss E[D(G(z))] − E[D(x)]."""
    return ops.mean(fake_logits) - ops.mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    """Generator loss −E[D(G(z))]."""
    return -ops.mean(fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits, *, real_label: float = 1.0,
                                     fake_label: float = 0.0):
    """½ E[(D(x) − 1)²] + ½ E[(D(G(z)) − 0)²]."""
    return ops.mean(ops.square(real_logits - real_label)) / 2.0 + \
        ops.mean(ops.square(fake_logits - fake_label)) / 2.0


def least_squares_generator_loss(fake_logits, *, real_label: float = 1.0):
    """½ E[(D(G(z)) − 1)²]."""
    return ops.mean(ops.square(fake_logits - real_label)) / 2.0


@dataclass(frozen=True)
class GANLoss:
    """A named pair of losses; ``gradient_penalty`` > 0 adds the WGAN-GP term to the critic."""

    name: str
    discriminator: Callable
    generator: Callable
    gradient_penalty: float = 0.0


def _modified(label_smoothing):
    return GANLoss(
        "modified",
        lambda r, f: modified_discriminator_loss(r, f, label_smoothing=label_smoothing),
        lambda f: modified_generator_loss(f),
    )


def _minimax(label_smoothing):
    return GANLoss(
        "minimax",
        lambda r, f: minimax_discriminator_loss(r, f, label_smoothing=label_smoothing),
        lambda f: minimax_generator_loss(f),
    )


LOSSES = ("modified", "minimax", "wasserstein", "least_squares")


def get_loss(name: str, *, label_smoothing: float = 0.0, gradient_penalty: float = 10.0) -> GANLoss:
    """Return the loss pair called ``name`` (one of ``LOSSES``).

    ``label_smoothing`` defaults to 0 (TF-GAN's discriminator losses default to 0.25); the
    runs set it explicitly (1D 0, 2D 0.25, see ``ganaudit.gan_models.runs``).
    """
    if name == "modified":
        return _modified(label_smoothing)
    if name == "minimax":
        return _minimax(label_smoothing)
    if name == "wasserstein":
        return GANLoss("wasserstein", wasserstein_discriminator_loss, wasserstein_generator_loss,
                       gradient_penalty=gradient_penalty)
    if name == "least_squares":
        return GANLoss("least_squares", least_squares_discriminator_loss,
                       least_squares_generator_loss)
    raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
