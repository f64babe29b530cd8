"""``ganaudit audit findings`` on phantom folders written by ``ganaudit data phantom`` (issue 9):
two honest populations pass; 20 % of the lesion-bearing generated images mirrored left-right
fail, naming ``lesion_side``; bright blobs on the scalp are no lesions; the console tells the
truth; options are recorded; labels next to the images only measure the detector."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from ganaudit.cli import main
from ganaudit.gan_models.data import load_images, write_png16


@pytest.fixture(scope="module")
def populations(tmp_path_factory):
    root = tmp_path_factory.mktemp("findings-cli")
    assert main(["data", "phantom", "--n", "400", "--size", "64", "--seed", "51", "--out", str(root / "real")]) == 0
    assert main(["data", "phantom", "--n", "300", "--size", "64", "--seed", "52", "--out", str(root / "gen")]) == 0
    generated = load_images(root / "gen" / "images")
    labels = pd.read_csv(root / "gen" / "labels.csv")
    assert [f"{n}.png" for n in generated.names] == labels["file"].tolist()
    # The scenario is built from the generated population's own labels; the audit never sees them.
    lesions = np.nonzero(labels["lesion"].to_numpy() == 1)[0]
    mirrored = np.random.default_rng(0).choice(lesions, size=round(0.2 * len(lesions)), replace=False)
    images = generated.images.copy()
    images[mirrored] = images[mirrored][:, :, ::-1]
    write_png16(images, root / "mirrored", list(generated.names))
    from tests.evaluation.test_findings import _scalp_blobs

    write_png16(_scalp_blobs(generated.images), root / "blobs", list(generated.names))
    shutil.copytree(root / "gen" / "images", root / "gen-no-labels")
    return {"root": root, "mirrored": [generated.names[i] for i in mirrored]}


def _audit(populations, generated: str, out: str, *extra: str) -> tuple[int, dict, pd.DataFrame]:
    root = populations["root"]
    code = main(["audit", "findings", "--real", str(root / "real" / "images"), "--generated",
                 str(root / generated), "--detector", "builtin:phantom", "--out", str(root / out), *extra])
    summary = json.loads((root / out / "summary.json").read_text())
    return code, summary, pd.read_csv(root / out / "findings.csv")


def test_two_honest_populations_pass(populations, capsys):
    code, summary, table = _audit(populations, "gen-no-labels", "honest")
    assert code == 0
    assert summary["passed"] is True and summary["failed"] == []
    assert summary["significant"] is False
    assert summary["impossible"] == 0 and not table["impossible"].any()
    assert summary["real_source"] == "detector"
    assert (summary["alpha"], summary["margin"], summary["correction"]) == (0.05, 0.02, "holm")
    # labels.csv next to real/images measures the detector (and only that).
    assert summary["labels"].endswith("labels.csv")
    assert summary["detector_accuracy"]["lesion"]["sensitivity"] >= 0.9
    out = capsys.readouterr().out
    assert "findings audit passed; impossible generated images: 0" in out
    assert "significant" not in out.splitlines()[0]


def test_mirrored_lesions_fail_naming_lesion_side(populations, capsys):
    code, summary, table = _audit(populations, "mirrored", "out-mirrored")
    assert code == 0
    assert "lesion_side=right" in summary["failed"] and summary["passed"] is False
    flagged = set(table.loc[table["impossible"], "file"])
    assert len(flagged & set(populations["mirrored"])) >= 0.9 * len(populations["mirrored"])
    assert flagged <= set(populations["mirrored"])
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("findings audit FAILED (") and "lesion_side=right" in first
    # Every failed test is printed with its rates, counts and orientation words.
    right = [line for line in out.splitlines() if "[lesion_side=right]" in line]
    assert right and all("patient's right (image left)" in line and "failed" in line for line in right)
    assert re.search(r"generated \d+\.\d % \(\d+/300, CI", right[0])


def test_scalp_blobs_are_no_lesions(populations):
    code, summary, table = _audit(populations, "blobs", "out-blobs")
    if not (populations["root"] / "honest").exists():
        _audit(populations, "gen-no-labels", "honest")
    plain = pd.read_csv(populations["root"] / "honest" / "findings.csv")
    assert code == 0
    assert table["lesion"].sum() <= plain["lesion"].sum()
    assert summary["passed"] is True and summary["impossible"] == 0


def test_options_are_recorded(populations):
    code, summary, _ = _audit(populations, "gen-no-labels", "options", "--alpha", "0.01",
                              "--margin", "0.05", "--correction", "bonferroni", "--min-real", "500")
    assert code == 0
    assert (summary["alpha"], summary["margin"], summary["correction"]) == (0.01, 0.05, "bonferroni")
    assert summary["impossible_checked"] is False and summary["impossible"] is None


def test_help_defaults_match_the_library(capsys):
    from ganaudit.evaluation.findings import DEFAULT_ALPHA, DEFAULT_CORRECTION, DEFAULT_MARGIN, DEFAULT_MIN_REAL

    with pytest.raises(SystemExit):
        main(["audit", "findings", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {DEFAULT_ALPHA:g})" in text
    assert f"(default {DEFAULT_MARGIN:g}: {100 * DEFAULT_MARGIN:g} percentage points)" in text
    assert f"(default {DEFAULT_CORRECTION})" in text
    assert f"(default {DEFAULT_MIN_REAL})" in text


@pytest.mark.parametrize("extra,match", [
    (["--alpha", "0"], "alpha must be a probability"),
    (["--margin", "1.5"], "margin must be a prevalence difference"),
    (["--real-labels", "/no/such/labels.csv"], "--real-labels /no/such/labels.csv does not exist"),
])
def test_bad_options_exit_2_and_write_nothing(populations, capsys, extra, match):
    root = populations["root"]
    out = root / "never"
    code = main(["audit", "findings", "--real", str(root / "real" / "images"), "--generated",
                 str(root / "gen-no-labels"), "--out", str(out), *extra])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganaudit audit: error:") and re.search(match, err), err
    assert not out.exists()


def test_explicit_labels_must_cover_every_image(populations, capsys):
    root = populations["root"]
    partial = root / "partial.csv"
    pd.read_csv(root / "real" / "labels.csv").iloc[:10].to_csv(partial, index=False)
    code = main(["audit", "findings", "--real", str(root / "real" / "images"), "--generated",
                 str(root / "gen-no-labels"), "--out", str(root / "never2"), "--real-labels", str(partial)])
    assert code == 2
    assert "has no row for 390 of the 400 real images" in capsys.readouterr().err
