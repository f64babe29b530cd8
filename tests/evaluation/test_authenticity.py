"""Authenticity (Alaa et al. 2022): a tie with the training image's own nearest-neighbour
distance counts as NOT authentic, so an exact copy of a duplicated training image is caught
(issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from ganaudit.evaluation.memorization import authenticity_share, memorization_audit
from tests.evaluation.test_nn_search import smooth_images


def test_a_tie_is_not_authentic():
    # Training points 0 and 1 are duplicates (distance 0); point 2 is 5.0 from its neighbour.
    train_to_train = np.array([0.0, 0.0, 5.0])
    gen_dist = np.array([0.0, 1e-9, 5.0, 5.0 + 1e-3])
    nearest = np.array([0, 1, 2, 2])
    assert authenticity_share(gen_dist, nearest, train_to_train).tolist() == [False, True, False, True]
    # Within the tolerance a distance is a tie.
    assert authenticity_share(gen_dist, nearest, train_to_train,
                              tie_tolerance=1e-6).tolist() == [False, False, False, True]


def test_nan_distance_is_not_authentic():
    assert authenticity_share(np.array([np.nan]), np.array([0]), np.array([1.0])).tolist() == [False]


@pytest.mark.parametrize("space", ["pixels", "features"])
def test_exact_copy_of_a_duplicated_training_image_is_not_authentic(space):
    train = smooth_images(30, 32, seed=11)
    train[7] = train[3]  # a duplicate inside the training set
    heldout = smooth_images(20, 32, seed=12)
    fresh = smooth_images(6, 32, seed=13)
    generated = np.concatenate([train[3:4], fresh]).astype(np.float32)
    options = {}
    if space == "features":
        rng = np.random.default_rng(0)
        basis = rng.normal(size=(32 * 32, 12))
        options = {"train_features": train.reshape(len(train), -1) @ basis,
                   "heldout_features": heldout.reshape(len(heldout), -1) @ basis,
                   "generated_features": generated.reshape(len(generated), -1) @ basis}
    result = memorization_audit(train, heldout, generated, method="brute", **options)
    authentic = result.table["authentic"].to_numpy()
    assert not authentic[0], "an exact copy of a duplicated training image passed as authentic"
    # It is a tie: the copy sits at distance 0 from a training image that has a twin.
    assert result.table["ncc"].iloc[0] == pytest.approx(1.0, abs=1e-6)
    assert authentic[1:].any()  # new images are not all called copies
