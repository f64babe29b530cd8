"""The DCGAN gets one upsampling block per doubling of the image size."""

import numpy as np
import pytest

from ganaudit.gan_models import models
from ganaudit.gan_models.errors import InputError


@pytest.mark.parametrize("size, blocks", [(64, 4), (128, 5), (256, 6)])
def test_2d_models_match_the_image_size(size, blocks):
    generator = models.generator_2d(size, 16, base=8)
    discriminator = models.discriminator_2d(size, base=8)
    assert generator.output_shape == (None, size, size, 1)
    assert discriminator.output_shape == (None, 1)
    ups = [layer for layer in generator.layers if layer.name.startswith("up_")]
    downs = [layer for layer in discriminator.layers if layer.name.startswith("down_")]
    assert len(ups) == len(downs) == blocks
    images = np.asarray(generator(np.zeros((2, 16), np.float32)))
    assert images.shape == (2, size, size, 1)
    assert np.all(np.abs(images) <= 1.0)  # tanh output, the training range


def test_minibatch_std_channel_sees_a_collapsed_batch():
    layer = models.MinibatchStdDev()
    same = np.ones((4, 3, 3, 2), np.float32)
    varied = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype(np.float32)
    assert np.asarray(layer(same))[..., -1].max() < 1e-3
    assert np.asarray(layer(varied))[..., -1].min() > 0.5


def test_unsupported_size_is_refused():
    with pytest.raises(InputError, match="image size 96 is not supported"):
        models.generator_2d(96)
