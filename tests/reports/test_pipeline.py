"""End to end with the real scorer and memorization audit: a run whose late checkpoints copy
training images gets a stopping epoch before the copying starts, and the rationale says so.

The "generators" are tiny Keras models (no training): a sharpened softmax of the latent picks
one row of a Dense layer whose weights are images, so a checkpoint draws from a chosen image
set — noisy held-out images (bad), held-out images (honest and good), or training images
(perfect FD, pure memorization).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("evaluation.memorization")


def _blobs(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.zeros((n, size, size), dtype=np.float32)
    for i in range(n):
        for _ in range(4):
            cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.2)
            images[i] += rng.uniform(0.5, 1.0) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    images = images / images.max(axis=(1, 2), keepdims=True)
    return (2 * images - 1).astype(np.float32)


def _lookup_generator(images: np.ndarray, latent_dim: int):
    import keras

    n, size, _ = images.shape
    rows = np.resize(np.arange(n), latent_dim)  # latent unit k draws image rows[k]
    weights = images[rows].reshape(latent_dim, size * size)
    model = keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Rescaling(60.0),
        keras.layers.Activation("softmax"),
        keras.layers.Dense(size * size, use_bias=False),
        keras.layers.Reshape((size, size)),
    ])
    model.layers[-2].set_weights([weights])
    return model


@pytest.fixture(scope="module")
def memorizing_run(tmp_path_factory):
    rng = np.random.default_rng(0)
    size, latent_dim = 32, 64
    train, heldout = _blobs(64, size, rng), _blobs(64, size, rng)
    run = tmp_path_factory.mktemp("pipeline") / "run"
    (run / "data").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    np.save(run / "data" / "train.npy", train)
    np.save(run / "data" / "heldout.npy", heldout)
    epochs = 6
    (run / "run.json").write_text(json.dumps({
        "kind": "2d", "image_size": size, "latent_dim": latent_dim, "loss": "modified",
        "seed": 0, "backend": "tensorflow", "epochs": epochs, "batch_size": 32,
        "data": {"source": "blobs (test)", "n_train": 64, "n_heldout": 64}}))
    sources = {1: np.clip(heldout + rng.normal(0, 0.6, heldout.shape), -1, 1),
               2: np.clip(heldout + rng.normal(0, 0.3, heldout.shape), -1, 1),
               3: heldout, 4: heldout, 5: train, 6: train}
    for epoch, images in sources.items():
        _lookup_generator(images.astype(np.float32), latent_dim).save(
            run / "checkpoints" / f"generator-epoch-{epoch:04d}.keras")
    pd.DataFrame({"epoch": range(1, epochs + 1), "d_loss": 1.3, "g_loss": 0.8,
                  "d_acc_real": 0.6, "d_acc_fake": 0.6, "seconds": 1.0, "healthy": True}
                 ).to_csv(run / "history.csv", index=False)
    return run


def test_stopping_epoch_before_memorization(memorizing_run):
    from evaluation.scoring2d import score_run_2d
    from reports import build_report

    scores = score_run_2d(memorizing_run, n=128, features="pixels", n_boot=20, progress=False)
    copying = scores.set_index("epoch")["memorization_rate"]
    assert copying.loc[5] > 0.5 and copying.loc[3] < 0.05, copying
    index = build_report(memorizing_run)
    report = json.loads((index.parent / "report.json").read_text())
    assert report["stopping_epoch"] is not None and report["stopping_epoch"] <= 4
    text = " ".join(report["rationale"])
    assert "From epoch 5 on, every checkpoint memorizes training images" in text
    assert "it memorizes" in text
    page = index.read_text()
    assert "Memorization audit" in page and "Closest generated / training pairs" in page
