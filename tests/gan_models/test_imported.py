"""Runs trained elsewhere (ganaudit.gan_models.imported): checkpoint names, ONNX generators built here
with the ``onnx`` helper API, training logs, labels, and one clear error per bad input.

The ONNX generators are small real graphs: image = softmax(z A) T + z P (a "generator" that
picks one of the template images T and adds a latent-driven pattern), reshaped to images. Their
outputs are checked against the same formula computed with NumPy, and the intensity window
against ``np.percentile``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganaudit.gan_models import imported
from ganaudit.gan_models.data import write_png16
from ganaudit.gan_models.errors import InputError

SIZE = 16


# ----------------------------------------------------------------------------- helpers

def template_images(n: int, size: int = SIZE, *, seed: int) -> np.ndarray:
    """``n`` distinct blob images in [-1, 1] (cheap stand-ins for slices)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    out = []
    for _ in range(n):
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.35)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r ** 2))
        out.append(blob * 1.6 - 0.8 + 0.1 * rng.standard_normal((size, size)))
    return np.clip(np.stack(out), -1, 1).astype(np.float32)


def generator_weights(templates: np.ndarray, noise: float, latent_dim: int, *, seed: int = 0,
                      sharpness: float = 30.0) -> dict:
    rng = np.random.default_rng(seed)
    n_t, size = templates.shape[0], templates.shape[1]
    return {"A": (rng.standard_normal((latent_dim, n_t)) * sharpness).astype(np.float32),
            "T": templates.reshape(n_t, size * size).astype(np.float32),
            "P": (rng.standard_normal((latent_dim, size * size)) * noise).astype(np.float32),
            "size": size}


def numpy_generator(weights: dict, z: np.ndarray, *, select: str = "softmax") -> np.ndarray:
    """The oracle: what the ONNX graph computes, in NumPy (float64)."""
    from scipy.special import ndtr

    if select == "uniform":
        n_t = weights["T"].shape[0]
        index = np.minimum(np.floor(ndtr(z[:, 0].astype(np.float64)) * n_t), n_t - 1).astype(int)
        w = np.eye(n_t)[index]
    else:
        logits = z.astype(np.float64) @ weights["A"]
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
    flat = w @ weights["T"] + z.astype(np.float64) @ weights["P"]
    return flat.reshape(len(z), weights["size"], weights["size"])


def write_onnx(path, weights: dict, *, layout: str = "NCHW", batch="N", latent_shape: str = "2d",
               output_shape=None, inputs: int = 1, select: str = "softmax") -> Path:
    """Save the template generator as an ONNX file.

    ``layout``: NCHW, NHWC, NHW or RGB (three equal channels, NCHW); ``batch``: a symbolic
    name or a fixed size; ``latent_shape``: "2d" (batch, d) or "4d" (batch, d, 1, 1);
    ``output_shape``: reshape the output to this instead (to make a bad generator);
    ``select``: "softmax" (weights softmax(z A): some templates win more often than others)
    or "uniform" (template number floor(Φ(z₀) · n): every template equally likely).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    size, d = weights["size"], weights["A"].shape[0]
    shapes = {"NCHW": [1, size, size], "NHWC": [size, size, 1], "NHW": [size, size],
              "RGB": [1, size, size]}
    target = list(output_shape) if output_shape is not None else [-1] + shapes[layout]
    z_shape = [batch, d] if latent_shape == "2d" else [batch, d, 1, 1]
    graph_inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, z_shape)]
    if inputs == 2:
        graph_inputs.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, [batch, 0]))
    nodes = []
    z_name = "z"
    if latent_shape == "4d":
        nodes.append(helper.make_node("Flatten", ["z"], ["z2"], axis=1))
        z_name = "z2"
    n_t = weights["T"].shape[0]
    if select == "uniform":
        nodes += [helper.make_node("Slice", [z_name, "zero", "one", "one"], ["z0"]),
                  helper.make_node("Div", ["z0", "sqrt2"], ["z0s"]),
                  helper.make_node("Erf", ["z0s"], ["erf"]),
                  helper.make_node("Add", ["erf", "f_one"], ["erf1"]),
                  helper.make_node("Mul", ["erf1", "half_n"], ["scaled"]),
                  helper.make_node("Floor", ["scaled"], ["floor"]),
                  helper.make_node("Min", ["floor", "last"], ["index"]),
                  helper.make_node("Equal", ["index", "numbers"], ["hit"]),
                  helper.make_node("Cast", ["hit"], ["w"], to=TensorProto.FLOAT)]
    else:
        nodes += [helper.make_node("MatMul", [z_name, "A"], ["logits"]),
                  helper.make_node("Softmax", ["logits"], ["w"], axis=1)]
    nodes += [helper.make_node("MatMul", ["w", "T"], ["mix"]),
              helper.make_node("MatMul", [z_name, "P"], ["pattern"]),
              helper.make_node("Add", ["mix", "pattern"], ["flat"]),
              helper.make_node("Reshape", ["flat", "shape"], ["gray" if layout == "RGB" else "img"])]
    if layout == "RGB":
        nodes.append(helper.make_node("Concat", ["gray", "gray", "gray"], ["img"], axis=1))
    initializers = [numpy_helper.from_array(weights[k], k) for k in ("A", "T", "P")]
    initializers.append(numpy_helper.from_array(np.array(target, np.int64), "shape"))
    if select == "uniform":
        constants = {"zero": np.array([0], np.int64), "one": np.array([1], np.int64),
                     "sqrt2": np.array(np.sqrt(2), np.float32), "f_one": np.array(1, np.float32),
                     "half_n": np.array(n_t / 2, np.float32), "last": np.array(n_t - 1, np.float32),
                     "numbers": np.arange(n_t, dtype=np.float32)[None]}
        initializers += [numpy_helper.from_array(v, k) for k, v in constants.items()]
    output = helper.make_tensor_value_info("img", TensorProto.FLOAT,
                                           [f"d{i}" for i in range(len(target))])
    graph = helper.make_graph(nodes, "template_generator", graph_inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def percentile_window(image: np.ndarray) -> np.ndarray:
    """The oracle of the import's intensity policy: 0.5–99.5 % window to [-1, 1], clipped."""
    lo, hi = np.percentile(image, [0.5, 99.5])
    return np.clip((image - lo) / (hi - lo) * 2 - 1, -1, 1)


def make_sample_run_inputs(root: Path, *, n_train=30, n_heldout=24, n_fake=24, size=SIZE,
                           names=None) -> dict:
    """train/, heldout/ and samples/<name>/ folders of 16-bit PNGs."""
    names = names or ["epoch-0010", "epoch-0020", "epoch-0030"]
    write_png16(template_images(n_train, size, seed=1), root / "train")
    write_png16(template_images(n_heldout, size, seed=2), root / "heldout")
    for k, name in enumerate(names):
        write_png16(template_images(n_fake, size, seed=10 + k), root / "samples" / name)
    return {"train": root / "train", "heldout": root / "heldout", "samples": root / "samples"}


# ----------------------------------------------------------------------------- names

@pytest.mark.parametrize("name, number", [
    ("epoch-0010", 10), ("ckpt_20", 20), ("step-050000", 50000), ("G_ema-12.onnx", 12),
    ("run2_epoch7", 7), ("network-snapshot-000400.onnx", 400),
])
def test_checkpoint_number_is_the_last_number_in_the_name(name, number):
    assert imported.checkpoint_number(name) == number


def test_a_checkpoint_name_without_a_number_is_refused():
    with pytest.raises(InputError, match=r"checkpoint 'final' has no number in its name.*epoch-0010"):
        imported.checkpoint_number("final")


def test_checkpoints_are_ordered_by_number_not_by_name(tmp_path):
    for name in ("ckpt_100", "ckpt_20", "ckpt_3", ".hidden_1"):
        (tmp_path / name).mkdir()
    found = imported.find_checkpoints(tmp_path, generators=False)
    assert [(n, p.name) for n, p in found] == [(3, "ckpt_3"), (20, "ckpt_20"), (100, "ckpt_100")]


def test_two_checkpoints_with_one_number_are_refused(tmp_path):
    (tmp_path / "epoch-10").mkdir()
    (tmp_path / "ckpt_0010").mkdir()
    with pytest.raises(InputError, match="both have the number 10"):
        imported.find_checkpoints(tmp_path, generators=False)


def test_a_samples_folder_of_loose_images_is_refused(tmp_path):
    write_png16(template_images(3, seed=0), tmp_path / "flat")
    with pytest.raises(InputError, match="holds files but no sub-folders"):
        imported.find_checkpoints(tmp_path / "flat", generators=False)


def test_min_images_matches_the_scorer():
    from ganaudit.evaluation.scoring2d import MIN_IMAGES

    assert imported.MIN_IMAGES == MIN_IMAGES


# ----------------------------------------------------------------------------- ONNX

@pytest.mark.parametrize("layout, batch, latent_shape, select", [
    ("NCHW", "N", "2d", "softmax"), ("NHWC", "N", "2d", "softmax"), ("NHW", "N", "2d", "softmax"),
    ("RGB", "N", "2d", "softmax"), ("NCHW", 2, "2d", "softmax"), ("NCHW", "N", "4d", "softmax"),
    ("NCHW", "N", "2d", "uniform"),
])
def test_onnx_generator_matches_numpy(tmp_path, layout, batch, latent_shape, select):
    weights = generator_weights(template_images(5, seed=3), 0.2, latent_dim=6)
    path = write_onnx(tmp_path / "g.onnx", weights, layout=layout, batch=batch,
                      latent_shape=latent_shape, select=select)
    model = imported.OnnxGenerator(path)
    assert (model.latent_dim, model.image_size) == (6, SIZE)
    z = np.random.default_rng(4).standard_normal((7, 6)).astype(np.float32)
    got = model(z)
    expected = np.stack([percentile_window(img) for img in numpy_generator(weights, z, select=select)])
    assert got.shape == (7, SIZE, SIZE) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"output_shape": [-1, SIZE * SIZE]}, r"outputs an array of shape \(2, 256\).*not a batch of 2 images"),
    ({"output_shape": [-1, 1, 8, 32]}, r"not a batch of 2 square images"),
    ({"output_shape": [-1, 4, 8, 8]}, r"not a batch of 2 images"),
    ({"inputs": 2}, r"takes 2 inputs \(z .*, c .*\); export a generator that takes only the latent"),
])
def test_onnx_models_that_do_not_make_images_are_refused(tmp_path, kwargs, message):
    weights = generator_weights(template_images(3, seed=3), 0.2, latent_dim=4)
    path = write_onnx(tmp_path / "bad.onnx", weights, **kwargs)
    with pytest.raises(InputError, match=message):
        imported.OnnxGenerator(path)


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    path = tmp_path / "g.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(InputError, match="is not a readable ONNX model"):
        imported.OnnxGenerator(path)


# ----------------------------------------------------------------------------- import

def test_import_samples_writes_a_normal_run(tmp_path):
    from ganaudit.gan_models.runs import load_run, load_run_data
    from ganaudit.gan_models.sampling import generate, run_checkpoints

    inputs = make_sample_run_inputs(tmp_path)
    run = imported.import_run(tmp_path / "run", **inputs)
    assert load_run(tmp_path / "run")["kind"] == "imported"
    assert run["source"]["type"] == "samples"
    assert [e for e, _ in run_checkpoints(tmp_path / "run")] == [10, 20, 30]
    train, heldout = load_run_data(tmp_path / "run")
    assert train.shape == (30, SIZE, SIZE) and heldout.shape == (24, SIZE, SIZE)
    # The stored images are the PNGs under the per-image percentile window.
    expected = np.stack([percentile_window(img) for img in template_images(24, seed=11)])
    np.testing.assert_allclose(generate(tmp_path / "run", 20, 24), expected, atol=1e-4)
    assert (tmp_path / "run" / "samples" / "epoch-0030.png").is_file()
    assert not (tmp_path / "run" / "history.csv").exists()
    with pytest.raises(InputError, match="holds 24 images but 25 were asked for"):
        generate(tmp_path / "run", 20, 25)


def test_onnx_import_equals_importing_its_outputs_as_npy_folders(tmp_path):
    """One intensity rule for both sources: a generator's outputs dumped to .npy sample folders
    import to exactly the images the ONNX import generates on the same latents."""
    from ganaudit.gan_models.sampling import generate, latents

    inputs = make_sample_run_inputs(tmp_path, names=[])
    gens = tmp_path / "gens"
    gens.mkdir()
    dumps = tmp_path / "dumps"
    z = latents(0, 30, 5)
    for k, noise in ((10, 0.5), (20, 0.1)):
        weights = generator_weights(template_images(6, seed=20 + k), noise, latent_dim=5, seed=k)
        write_onnx(gens / f"G-{k}.onnx", weights)
        (dumps / f"ckpt_{k}").mkdir(parents=True)
        np.save(dumps / f"ckpt_{k}" / "fakes.npy", numpy_generator(weights, z).astype(np.float32))
    common = dict(train=inputs["train"], heldout=inputs["heldout"])
    onnx_run = imported.import_run(tmp_path / "onnx", generators=gens, **common)
    imported.import_run(tmp_path / "npy", samples=dumps, **common)
    assert onnx_run["latent_dim"] == 5 and onnx_run["source"]["type"] == "onnx"
    for epoch in (10, 20):
        np.testing.assert_allclose(generate(tmp_path / "onnx", epoch, 30),
                                   generate(tmp_path / "npy", epoch, 30), atol=2e-4)


def test_checkpoints_of_different_sizes_are_refused_and_nothing_is_written(tmp_path):
    inputs = make_sample_run_inputs(tmp_path)
    write_png16(template_images(24, 24, seed=9), inputs["samples"] / "epoch-0040")
    with pytest.raises(InputError, match=r"different image sizes \(16×16: --train, --heldout, "
                                         r"epoch-0010 and 2 more; 24×24: epoch-0040\); pass --size S"):
        imported.import_run(tmp_path / "run", **inputs)
    assert not (tmp_path / "run").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


def test_size_resizes_every_set(tmp_path):
    inputs = make_sample_run_inputs(tmp_path)
    write_png16(template_images(24, 24, seed=9), inputs["samples"] / "epoch-0040")
    run = imported.import_run(tmp_path / "run", size=16, **inputs)
    assert run["image_size"] == 16 and run["resized"]


@pytest.mark.parametrize("where, match", [
    ("samples", r"checkpoint epoch-0020 .* has 19 images but the metrics need at least 20"),
    ("heldout", r"--heldout .* has 19 images but the metrics need at least 20"),
])
def test_too_few_images_are_refused(tmp_path, where, match):
    inputs = make_sample_run_inputs(tmp_path)
    folder = inputs["samples"] / "epoch-0020" if where == "samples" else inputs["heldout"]
    for extra in sorted(folder.iterdir())[19:]:
        extra.unlink()
    with pytest.raises(InputError, match=match):
        imported.import_run(tmp_path / "run", **inputs)


def test_a_used_output_folder_is_refused(tmp_path):
    inputs = make_sample_run_inputs(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty"):
        imported.import_run(tmp_path / "run", **inputs)
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- history, labels

def test_training_log_becomes_history_with_ganaudits_health_rule(tmp_path):
    from ganaudit.gan_models.runs import read_history

    inputs = make_sample_run_inputs(tmp_path)
    log = tmp_path / "log.csv"
    pd.DataFrame({"epoch": [0, 10, 20, 30], "d_loss": [1.4, 1.2, 1.1, 0.2],
                  "d_acc_real": [0.5, 0.6, 0.7, 0.99], "d_acc_fake": [0.5, 0.55, 0.6, 0.95],
                  "lr": [1e-3] * 4}).to_csv(log, index=False)
    imported.import_run(tmp_path / "run", history=log, **inputs)
    history = read_history(tmp_path / "run")
    assert history["epoch"].tolist() == [0, 10, 20, 30]
    assert history["d_loss"].tolist() == [1.4, 1.2, 1.1, 0.2]
    assert history["g_loss"].isna().all()
    # (0.99 + 0.95) / 2 = 0.97 > 0.9: the discriminator wins.
    assert history["healthy"].tolist() == [True, True, True, False]


def test_a_log_without_accuracies_leaves_health_unknown(tmp_path):
    from ganaudit.gan_models.runs import read_history

    inputs = make_sample_run_inputs(tmp_path)
    log = tmp_path / "log.csv"
    pd.DataFrame({"epoch": [10, 20, 30], "g_loss": [3.0, 2.0, 1.5]}).to_csv(log, index=False)
    imported.import_run(tmp_path / "run", history=log, **inputs)
    history = read_history(tmp_path / "run")
    assert history["healthy"].isna().all()


@pytest.mark.parametrize("frame, match", [
    ({"step": [10, 20, 30], "d_loss": [1, 1, 1]}, "has no 'epoch' column"),
    ({"epoch": [10, 20, 30], "loss": [1, 1, 1]}, "has none of the columns d_loss, g_loss"),
    ({"epoch": [10, 30], "d_loss": [1, 1]}, "has no row for checkpoint 20"),
    ({"epoch": [10, 20, 20, 30], "d_loss": [1, 1, 1, 1]}, "lists epoch 20 more than once"),
    ({"epoch": [10, 20, 30], "d_loss": [1, "x", 1]}, "column d_loss holds 'x', not a number"),
])
def test_bad_training_logs_are_refused(tmp_path, frame, match):
    inputs = make_sample_run_inputs(tmp_path)
    log = tmp_path / "log.csv"
    pd.DataFrame(frame).to_csv(log, index=False)
    with pytest.raises(InputError, match=match):
        imported.import_run(tmp_path / "run", history=log, **inputs)
    assert not (tmp_path / "run").exists()


def test_labels_are_aligned_with_the_training_images(tmp_path):
    inputs = make_sample_run_inputs(tmp_path)
    names = [f"img-{i:05d}" for i in range(30)]
    labels = pd.DataFrame({"file": [f"{n}.png" for n in reversed(names)],
                           "lesion": [i % 2 for i in range(30)][::-1]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    imported.import_run(tmp_path / "run", labels=tmp_path / "labels.csv", **inputs)
    stored = pd.read_csv(tmp_path / "run" / "data" / "train_labels.csv")
    assert stored["file"].tolist() == [f"{n}.png" for n in names]
    assert stored["lesion"].tolist() == [i % 2 for i in range(30)]
    labels.iloc[1:].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(InputError, match=r"has no row for 1 of 30 training images \(e.g. img-00029\)"):
        imported.import_run(tmp_path / "run2", labels=tmp_path / "short.csv", **inputs)


def test_an_imported_run_cannot_be_resumed(tmp_path):
    from ganaudit.gan_models.runs import resumed_settings

    inputs = make_sample_run_inputs(tmp_path)
    imported.import_run(tmp_path / "run", **inputs)
    with pytest.raises(InputError, match="was imported with `ganaudit import`"):
        resumed_settings(tmp_path / "run", {}, kind="2d")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["kind"] == "imported"
    assert math.isfinite(float(np.load(tmp_path / "run" / "data" / "train.npy").sum()))
