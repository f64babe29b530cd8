"""Study creation: balance, blinding, per-reader orders, credentials, refusals, atomicity."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_models.data import write_png16
from gan_models.errors import InputError
from reader_study import create as create_mod
from reader_study.create import create_study, parse_readers
from reader_study.errors import StudyError, UnknownCase, UnknownReader
from reader_study.study import Study, verify_password


def _folders(base: Path, *, n_real=14, n_fake=(9, 9), size_real=24, size_fake=32, seed=0):
    rng = np.random.default_rng(seed)
    write_png16(rng.uniform(-1, 1, (n_real, size_real, size_real)).astype(np.float32), base / "real_scans",
                [f"patient_{i:03d}" for i in range(n_real)])
    fakes = []
    for j, n in enumerate(n_fake):
        # Smooth fakes compress very differently from the noisy reals: file size must not tell.
        smooth = np.tanh(np.cumsum(rng.normal(0, 0.2, (n, size_fake, size_fake)), axis=2)).astype(np.float32)
        write_png16(smooth, base / f"gen_{j}", [f"generated_{j}_{i:03d}" for i in range(n)])
        fakes.append((str(base / f"gen_{j}"), f"epoch-{(j + 1) * 10:04d}"))
    return base / "real_scans", fakes


@pytest.fixture()
def made(tmp_path):
    real, fakes = _folders(tmp_path)
    created = create_study(real, fakes, "alice,bob,carol", 12, tmp_path / "study", seed=3, practice=3,
                           admin_password="admin-secret-1")
    return created, real, fakes


def _key(path: Path, name="key.csv"):
    with open(path / "key" / name, newline="") as fh:
        return list(csv.DictReader(fh))


def test_layout_and_public_settings(made):
    created, _, _ = made
    path = created.path
    assert sorted(p.name for p in path.iterdir()) == ["answers.db", "credentials.txt", "images", "key",
                                                      "practice.json", "readers.json", "study.json"]
    settings = json.loads((path / "study.json").read_text())
    assert set(settings) == {"study_id", "n_cases", "allow_change", "practice", "created", "image_size"}
    assert settings["n_cases"] == 12 and settings["practice"] == 3 and settings["allow_change"] is False
    assert settings["image_size"] == 24  # the smaller size: fakes were shrunk, never reals blown up


def test_balance_real_fake_and_labels(made):
    created, _, _ = made
    key = _key(created.path)
    assert len(key) == 12
    assert sum(r["truth"] == "real" for r in key) == 6
    per_label = {lab: sum(r["label"] == lab for r in key) for lab in ("epoch-0010", "epoch-0020")}
    assert per_label == {"epoch-0010": 3, "epoch-0020": 3}
    assert all(r["label"] == "real" for r in key if r["truth"] == "real")
    practice = json.loads((created.path / "practice.json").read_text())
    assert len(practice) == 3 and set(practice.values()) == {"real", "fake"}
    assert not set(practice) & {r["case_id"] for r in key}
    sources = [r["source"] for r in key] + [r["source"] for r in _key(created.path, "practice_key.csv")]
    assert len(set(sources)) == 15  # no image used twice


def test_uneven_label_split_differs_by_at_most_one(tmp_path):
    real, fakes = _folders(tmp_path, n_fake=(9, 9, 9))
    created = create_study(real, fakes, ["r1"], 10, tmp_path / "s", seed=0)
    counts = sorted(sum(r["label"] == lab for r in _key(created.path)) for _, lab in fakes)
    assert sum(counts) == 5 and counts[-1] - counts[0] <= 1


def test_images_are_blinded(made):
    created, _, _ = made
    images = sorted((created.path / "images").iterdir())
    assert len(images) == 15
    sizes = {p.stat().st_size for p in images}
    assert len(sizes) == 1, "file size must not reveal real vs fake"
    assert len({p.stat().st_mtime for p in images}) == 1
    for p in images:
        assert re.fullmatch(r"[0-9a-f]{16}\.png", p.name)
        data = p.read_bytes()
        chunks = set(re.findall(rb"(tEXt|zTXt|iTXt|tIME|eXIf|pHYs|gAMA|iCCP)", data))
        assert not chunks, f"metadata chunk in {p.name}: {chunks}"
        with Image.open(p) as im:
            assert im.mode == "L" and im.size == (24, 24)
    key_ids = {r["case_id"] for r in _key(created.path)}
    assert key_ids <= {p.stem for p in images}


def test_public_files_hold_no_truth_or_sources(made):
    created, real, fakes = made
    public = "".join((created.path / name).read_text() for name in ("study.json", "readers.json"))
    for needle in ("real_scans", "patient_", "generated_", "epoch-00", '"fake"', '"real"', "truth"):
        assert needle not in public
    for cred in created.readers.values():
        assert cred["password"] not in public and cred["invite_token"] not in public


def test_orders_per_reader_seeded_and_saved(made, tmp_path):
    created, real, fakes = made
    study = Study.open(created.path)
    orders = {r: study.order(r) for r in study.reader_ids}
    key_ids = {r["case_id"] for r in _key(created.path)}
    assert all(set(o) == key_ids and len(o) == 12 for o in orders.values())
    assert len({tuple(o) for o in orders.values()}) == 3
    assert all(set(study.practice(r)) == set(json.loads((created.path / "practice.json").read_text()))
               for r in study.reader_ids)

    def source_order(path, reader):
        src = {r["case_id"]: r["source"] for r in _key(path)}
        return [src[c] for c in Study.open(path).order(reader)]

    again = create_study(real, fakes, "alice,bob,carol", 12, tmp_path / "again", seed=3, practice=3)
    other = create_study(real, fakes, "alice,bob,carol", 12, tmp_path / "other", seed=4, practice=3)
    # Case ids are fresh random tokens; the images and their order per reader follow the seed.
    assert source_order(again.path, "bob") == source_order(created.path, "bob")
    assert source_order(other.path, "bob") != source_order(created.path, "bob")
    assert not set(Study.open(again.path).order("bob")) & set(orders["bob"])


def test_credentials_file_and_authentication(made):
    created, _, _ = made
    cred_file = created.path / "credentials.txt"
    assert stat.S_IMODE(cred_file.stat().st_mode) == 0o600
    text = cred_file.read_text()
    study = Study.open(created.path)
    for reader, cred in created.readers.items():
        assert cred["password"] in text and cred["invite_token"] in text
        assert study.authenticate(reader, cred["password"])
        assert not study.authenticate(reader, cred["password"] + "x")
        assert study.authenticate_token(cred["invite_token"]) == reader
    assert not study.authenticate("alice", created.readers["bob"]["password"])
    assert not study.authenticate("mallory", created.readers["bob"]["password"])
    assert study.authenticate_token("not-a-token") is None and study.authenticate_token("") is None
    assert study.authenticate_admin("admin-secret-1")
    assert not study.authenticate_admin(created.readers["alice"]["password"])
    assert not study.authenticate_admin("")
    stored = json.loads((created.path / "readers.json").read_text())
    assert stored["admin"]["password_hash"].startswith("scrypt$")
    assert verify_password("admin-secret-1", stored["admin"]["password_hash"])
    assert stored["readers"]["alice"]["password_hash"] != stored["readers"]["bob"]["password_hash"]


def test_study_open_works_without_the_key(made):
    created, _, _ = made
    for p in (created.path / "key").iterdir():
        p.unlink()
    (created.path / "key").rmdir()
    study = Study.open(created.path)
    case = study.order("carol")[0]
    assert study.image_path(case).is_file()
    practice = study.practice("carol")[0]
    assert study.practice_truth(practice) in {"real", "fake"}


def test_study_refuses_unknown_reader_and_case(made):
    created, _, _ = made
    study = Study.open(created.path)
    with pytest.raises(UnknownReader, match="unknown reader 'mallory'.*reader ids given"):
        study.order("mallory")
    for bad in ("../key/key", "0123456789abcdef", "readers"):
        with pytest.raises(UnknownCase, match="unknown case"):
            study.image_path(bad)
    with pytest.raises(UnknownCase, match="not a practice case"):
        study.practice_truth(study.order("alice")[0])
    with pytest.raises(StudyError, match="no study at .*ganaudit study create"):
        Study.open(created.path / "nowhere")


def test_readers_from_file(tmp_path):
    f = tmp_path / "readers.txt"
    f.write_text("# radiologists\nalice\n\n bob  \ncarol # senior\n")
    assert parse_readers(str(f)) == ["alice", "bob", "carol"]
    assert parse_readers("x, y") == ["x", "y"]


@pytest.mark.parametrize("readers, match", [
    ("", "no readers given"),
    ("alice,alice", "given twice: alice"),
    ("al ice", "not allowed"),
    ("../etc", "not allowed"),
])
def test_bad_readers(readers, match):
    with pytest.raises(InputError, match=match):
        parse_readers(readers)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_cases": 13}, "even number"),
    ({"n_cases": 0}, "even number"),
    ({"n_cases": 40}, "too few real images .*needs 20 .*has 14.*lower --cases"),
    ({"n_cases": 12, "practice": 20}, "too few real .*6 counted \\+ 10 practice"),
    ({"n_cases": 12, "practice": -1}, "--practice must be"),
    ({"n_cases": 12, "labels": ("a", "a")}, "labels repeat"),
    ({"n_cases": 12, "labels": ("real", "b")}, "not allowed"),
    ({"n_cases": 12, "admin_password": "short"}, "at least 8 characters"),
])
def test_bad_inputs_write_nothing(tmp_path, kwargs, match):
    real, fakes = _folders(tmp_path)
    labels = kwargs.pop("labels", None)
    if labels:
        fakes = [(d, lab) for (d, _), lab in zip(fakes, labels)]
    n = kwargs.pop("n_cases")
    with pytest.raises(InputError, match=match):
        create_study(real, fakes, "alice", n, tmp_path / "study", **kwargs)
    assert not (tmp_path / "study").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".study")]


def test_same_folder_twice_is_refused(tmp_path):
    real, fakes = _folders(tmp_path)
    with pytest.raises(InputError, match="same folder is given twice"):
        create_study(real, [(str(real), "epoch-0001")], "alice", 4, tmp_path / "study")
    with pytest.raises(InputError, match="same folder is given twice"):
        create_study(real, [fakes[0], (fakes[0][0] + "/", "epoch-0002")], "alice", 4, tmp_path / "study")
    assert not (tmp_path / "study").exists()


def test_refuses_non_empty_out_dir_and_accepts_empty(tmp_path):
    real, fakes = _folders(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="already exists and is not empty"):
        create_study(real, fakes, "alice", 4, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert create_study(real, fakes, "alice", 4, tmp_path / "empty").path == tmp_path / "empty"


def test_crash_during_creation_leaves_nothing(tmp_path, monkeypatch):
    real, fakes = _folders(tmp_path)
    calls = {"n": 0}
    original = create_mod.encode_png8

    def failing(image):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return original(image)

    monkeypatch.setattr(create_mod, "encode_png8", failing)
    with pytest.raises(OSError, match="disk full"):
        create_study(real, fakes, "alice", 8, tmp_path / "study")
    assert not (tmp_path / "study").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".study")]


def test_mixed_sizes_in_one_folder_need_size(tmp_path):
    real, fakes = _folders(tmp_path)
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(Path(real) / "odd_one.png")
    with pytest.raises(InputError, match="mixed sizes"):
        create_study(real, fakes, "alice", 4, tmp_path / "study")
    created = create_study(real, fakes, "alice", 4, tmp_path / "study", size=16)
    assert json.loads((created.path / "study.json").read_text())["image_size"] == 16
    for p in (created.path / "images").iterdir():
        with Image.open(p) as im:
            assert im.size == (16, 16)
    assert os.access(created.path / "answers.db", os.R_OK)
