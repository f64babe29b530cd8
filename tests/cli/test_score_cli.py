"""`ganaudit score`: runs (2D, 1D dispatch), folders, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import re
import sys
import types

import pandas as pd
import pytest

from ganaudit.evaluation.scoring2d import FOLDER_COLUMNS, SCORE_COLUMNS_2D
from ganaudit.cli import main
from ganaudit.gan_models.data import write_png16
from tests.evaluation.test_scoring2d import blob_images, make_tiny_run


@pytest.fixture(autouse=True)
def _feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def test_score_a_2d_run(tmp_path, capsys):
    run = make_tiny_run(tmp_path, epochs=(3,))
    code = main(["score", str(run), "--features", "pixels", "--n", "30", "--quiet"])
    assert code == 0
    frame = pd.read_csv(run / "scores.csv")
    assert list(frame.columns) == SCORE_COLUMNS_2D
    assert frame["epoch"].tolist() == [3]
    assert (frame["n_generated"] == 30).all()
    assert (run / "audit" / "epoch-0003" / "memorization" / "summary.json").is_file()
    assert "scored 1 checkpoint →" in capsys.readouterr().out


def test_score_a_1d_run_calls_the_1d_scorer(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run1d"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"kind": "1d", "latent_dim": 5}))
    calls = []

    def score_run_1d(run_dir, *, n, seed, every, progress):
        calls.append((str(run_dir), n, seed, progress))
        return pd.DataFrame({"epoch": [1, 2, 3]})

    monkeypatch.setitem(sys.modules, "ganaudit.evaluation.scoring1d",
                        types.SimpleNamespace(score_run_1d=score_run_1d))
    assert main(["score", str(run)]) == 0
    assert main(["score", str(run), "--quiet", "--n", "50", "--seed", "7"]) == 0
    assert calls == [(str(run), 2000, 0, True), (str(run), 50, 7, False)]
    assert "scored 3 checkpoints" in capsys.readouterr().out


@pytest.mark.parametrize("extra, named", [
    (["--features", "pixels"], "--features"),
    (["--workers", "3", "--kid-subset", "10"], "--kid-subset, --workers"),
])
def test_image_options_on_a_1d_run_are_refused(tmp_path, capsys, extra, named):
    run = tmp_path / "run1d"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"kind": "1d", "latent_dim": 5}))
    assert main(["score", str(run), *extra]) == 2
    err = capsys.readouterr().err
    assert f"{named} apply to 2D runs and image folders, not to the 1D run" in err
    assert not (run / "scores.csv").exists()


def test_score_out_that_is_a_folder_or_unwritable_is_refused_before_scoring(tmp_path, capsys, monkeypatch):
    import ganaudit.evaluation.scoring2d

    def never(*args, **kwargs):
        raise AssertionError("scored although --out was unusable")

    monkeypatch.setattr(ganaudit.evaluation.scoring2d, "score_folders", never)
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "keep.txt").write_text("keep")
    (tmp_path / "a-file").write_text("x")
    base = ["score", "--real", str(tmp_path), "--fake", str(tmp_path), "--out"]
    assert main(base + [str(tmp_path / "earlier")]) == 2
    assert "is a folder; give the path of a .csv file" in capsys.readouterr().err
    assert (tmp_path / "earlier" / "keep.txt").read_text() == "keep"
    assert main(base + [str(tmp_path / "a-file" / "scores.csv")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_every_kth_epoch_and_the_last(tmp_path):
    run = make_tiny_run(tmp_path, epochs=(1, 2, 3, 4, 5))
    assert main(["score", str(run), "--features", "pixels", "--n", "30", "--every", "2", "--quiet"]) == 0
    assert pd.read_csv(run / "scores.csv")["epoch"].tolist() == [2, 4, 5]


def test_score_folders_to_csv(tmp_path):
    write_png16(blob_images(40, seed=1), tmp_path / "real")
    write_png16(blob_images(30, seed=2), tmp_path / "fake")
    out = tmp_path / "out" / "scores.csv"
    code = main(["score", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
                 "--features", "pixels", "--out", str(out)])
    assert code == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == FOLDER_COLUMNS
    assert len(frame) == 1 and frame["n_real"].item() == 40 and frame["n_generated"].item() == 30


def test_score_folders_prints_a_short_rounded_summary(tmp_path, capsys):
    # Without --out: a few rounded lines, not the full-precision CSV; the numbers are the CSV's.
    write_png16(blob_images(30, seed=1), tmp_path / "real")
    write_png16(blob_images(30, seed=2), tmp_path / "fake")
    base = ["score", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--features", "pixels"]
    assert main([*base, "--out", str(tmp_path / "scores.csv")]) == 0
    capsys.readouterr()
    row = pd.read_csv(tmp_path / "scores.csv").iloc[0]
    assert main(base) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "scored 30 generated images against 30 real (pixels features)"
    assert len(lines) == 5 and "n_real" not in out and "," in lines[3]
    assert f"FD {row['fd']:.4g} [95 % CI {row['fd_ci_low']:.4g}, {row['fd_ci_high']:.4g}]" in out
    assert f"precision {row['precision']:.3g}, recall {row['recall']:.3g}" in out
    # 30 and 30 images: every KID subset is the whole set, so there is no spread (was ~1e-14).
    assert row["kid_std"] == 0.0
    assert f"KID {row['kid_mean']:.3g} ± 0 (s.d." in out
    for number in re.findall(r"\d+\.\d+", out):
        assert len(number.replace(".", "").lstrip("0")) <= 4, number


@pytest.mark.parametrize("argv, message", [
    (["score"], r"nothing to score: give a RUN folder, or --real DIR --fake DIR"),
    (["score", "--real", "x"], r"needs both --real DIR and --fake DIR"),
    (["score", "somerun", "--real", "a", "--fake", "b"], r"either RUN or --real DIR --fake DIR"),
    (["score", "{tmp}"], r"not a ganaudit run \(no run.json\)"),
    (["score", "--real", "{tmp}/empty", "--fake", "{tmp}/empty"], r"empty is empty"),
    (["score", "{run}", "--workers", "0"], r"workers must be a whole number ≥ 1"),
    (["score", "{run}", "--every", "0"], r"--every must be a whole number of epochs ≥ 1, got 0"),
    (["score", "--real", "{tmp}/empty", "--fake", "{tmp}/empty", "--every", "5"], r"--every picks checkpoints of a RUN"),
    (["score", "{run}", "--n", "0"], r"--n must be a whole number ≥ 1 \(images generated per checkpoint\), got 0"),
    (["score", "{run}", "--features", "pixels", "--n", "30", "--kid-subset", "31"],
     r"KID subset size 31 needs at least 31 images"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    run = make_tiny_run(tmp_path, epochs=(1,)) if "{run}" in argv else None
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(run)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganaudit score: error: ")
    assert err.count("\n") == 1
    assert re.search(message, err)


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["score", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ["--features", "--weights", "--n", "--workers", "--scheduler", "--real", "--fake", "--out"]:
        assert option in out
