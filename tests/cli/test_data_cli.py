"""``ganaudit data phantom`` and ``ganaudit data inspect`` through the CLI entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganaudit.cli import main


def test_phantom_writes_images_and_labels(tmp_path, capsys):
    out = tmp_path / "ph"
    code = main(["data", "phantom", "--n", "12", "--size", "32", "--out", str(out), "--seed", "4",
                 "--lesion-prevalence", "0.5", "--ventricle-prevalence", "0.25"])
    assert code == 0
    labels = pd.read_csv(out / "labels.csv")
    assert len(labels) == 12
    assert {"file", "lesion", "lesion_side", "lesion_x", "lesion_y", "enlarged_ventricles"} <= set(labels)
    files = sorted(p.name for p in (out / "images").iterdir())
    assert files == sorted(labels["file"])
    with Image.open(out / "images" / files[0]) as im:
        assert im.mode == "I;16" and im.size == (32, 32)
    assert "wrote 12 PNG images (32x32)" in capsys.readouterr().out


def test_phantom_dicom_format(tmp_path):
    out = tmp_path / "ph"
    assert main(["data", "phantom", "--n", "3", "--size", "32", "--out", str(out),
                 "--format", "dicom"]) == 0
    assert sorted(p.suffix for p in (out / "images").iterdir()) == [".dcm"] * 3


def test_phantom_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    code = main(["data", "phantom", "--n", "3", "--out", str(tmp_path / "busy")])
    err = capsys.readouterr().err
    assert code == 2
    assert "ganaudit data: error: output folder" in err and "is not empty" in err
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("args,message", [
    (["--n", "0"], "n must be a positive number of images"),
    (["--n", "3", "--size", "4"], "size must be an image side between 16 and 512"),
])
def test_phantom_bad_numbers(tmp_path, capsys, args, message):
    code = main(["data", "phantom", "--out", str(tmp_path / "o"), *args])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_phantom_bad_prevalence_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "phantom", "--n", "3", "--out", str(tmp_path / "o"),
              "--lesion-prevalence", "2"])
    assert exc.value.code == 2
    assert "expected a probability between 0 and 1, got 2" in capsys.readouterr().err


def test_inspect_summarises_a_folder(tmp_path, capsys):
    np.save(tmp_path / "stack.npy", np.random.default_rng(0).normal(size=(5, 20, 30)))
    assert main(["data", "inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 images from 1 file(s) (npy 5)" in out and "size 30x30" in out
    assert "Explicit VR Little Endian: pydicom" in out


def test_inspect_bad_source(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "inspect", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err
