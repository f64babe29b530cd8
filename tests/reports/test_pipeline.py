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

pytest.importorskip("ganaudit.evaluation.memorization")


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
    from ganaudit.evaluation.scoring2d import score_run_2d
    from ganaudit.reports import build_report

    scores = score_run_2d(memorizing_run, n=128, features="pixels", n_boot=20, progress=False)
    copying = scores.set_index("epoch")["memorization_rate"]
    assert copying.loc[5] > 0.5 and copying.loc[3] < 0.05, copying
    index = build_report(memorizing_run)
    report = json.loads((index.parent / "report.json").read_text())
    assert report["stopping_epoch"] is not None and report["stopping_epoch"] <= 4
    text = " ".join(report["rationale"])
    assert "From epoch 5 on, every checkpoint memorizes training images" in text
    assert "Epochs 5 and 6 scored the lowest FD∞" in text and ": they memorize." in text
    page = index.read_text()
    assert "Memorization audit" in page and "Closest generated / training pairs" in page


def test_report_reads_a_real_study_analysis(memorizing_run, tmp_path):
    """A study made and analysed by reader_study (answers simulated) changes the report."""
    from ganaudit.gan_models.data import write_png16
    from ganaudit.reader_study.analysis import analyze_study, load_key
    from ganaudit.reader_study.create import create_study
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study
    from ganaudit.reports.load import load_run
    from ganaudit.reports.stopping import decide

    train = np.load(memorizing_run / "data" / "heldout.npy")
    write_png16(train[:40], tmp_path / "real")
    rng = np.random.default_rng(1)
    fakes = []
    for epoch in (2, 3):  # epoch 2: noisy images readers spot; epoch 3: indistinguishable
        noisy = np.clip(train[:40] + rng.normal(0, 0.3, train[:40].shape), -1, 1)
        write_png16((noisy if epoch == 2 else train[:40]).astype(np.float32),
                    tmp_path / f"epoch-{epoch:04d}")
        fakes.append((str(tmp_path / f"epoch-{epoch:04d}"), f"epoch-{epoch:04d}"))
    study_dir = tmp_path / "study"
    create_study(tmp_path / "real", fakes, ["r1", "r2"], 40, study_dir, seed=0)
    study = Study.open(study_dir)
    key = load_key(study_dir).set_index("case_id")
    with AnswerStore.for_study(study) as store:
        for reader in study.reader_ids:
            for case in study.order(reader):
                label = key.loc[case, "label"] if key.loc[case, "truth"] == "fake" else ""
                call = "fake" if label == "epoch-0002" else ("real" if rng.random() < 0.5 else "fake")
                store.add_answer(reader, case, call, 2)
    analyze_study(study_dir, n_boot=50)

    data = load_run(memorizing_run, study_dir=study_dir)
    table = data.study.set_index("epoch")
    assert table.loc[2, "detect_p"] < 0.05 < table.loc[3, "detect_p"]
    # With a wide tolerance and quality limit, epochs 2-4 are all "within"; readers spot
    # epoch 2, so 3 wins.
    from ganaudit.reports.stopping import RuleOptions
    assert decide(data.scores, kind="2d", options=RuleOptions(tolerance=5.0, baseline_factor=10.0),
                  baselines=data.baselines, anchor=data.anchor).candidate_epoch == 2
    decision = decide(data.scores, kind="2d", options=RuleOptions(tolerance=5.0, baseline_factor=10.0), study=data.study,
                      baselines=data.baselines, anchor=data.anchor)
    assert decision.candidate_epoch == 3
    assert "Readers recognised the fakes of epoch 2 better than chance" in " ".join(decision.rationale)
