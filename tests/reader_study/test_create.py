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

from ganaudit.gan_models.data import write_png16
from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study import create as create_mod
from ganaudit.reader_study.create import create_study, parse_readers
from ganaudit.reader_study.errors import StudyError, UnknownCase, UnknownReader
from ganaudit.reader_study.study import Study, verify_password


def _folders(base: Path, *, n_real=14, n_fake=(9, 9), size_real=24, size_fake=24, seed=0):
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
    assert settings["image_size"] == 24  # the common native size


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


def _truths(path: Path, reader: str) -> list[tuple[str, str]]:
    key = {r["case_id"]: (r["truth"], r["label"]) for r in _key(path)}
    return [key[c] for c in Study.open(path).order(reader)]


def test_default_seed_is_random_and_kept_only_in_the_key(tmp_path):
    real, fakes = _folders(tmp_path)
    first = create_study(real, fakes, "alice,bob", 16, tmp_path / "first")
    second = create_study(real, fakes, "alice,bob", 16, tmp_path / "second")
    # With a fixed default seed, anyone knowing the code and a reader id could work out the
    # truth from "case k of N"; 16 cases have 900,900 (truth, label) sequences.
    assert _truths(first.path, "alice") != _truths(second.path, "alice")
    seeds = [json.loads((c.path / "key" / "seed.json").read_text())["seed"] for c in (first, second)]
    assert seeds[0] != seeds[1] and all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)


def test_seed_in_the_key_reproduces_images_and_orders(tmp_path):
    real, fakes = _folders(tmp_path)
    created = create_study(real, fakes, "alice,bob", 12, tmp_path / "study", practice=3)
    seed = json.loads((created.path / "key" / "seed.json").read_text())["seed"]
    again = create_study(real, fakes, "alice,bob", 12, tmp_path / "again", practice=3, seed=seed)

    def sources(path, reader):
        src = {r["case_id"]: r["source"] for r in _key(path) + _key(path, "practice_key.csv")}
        study = Study.open(path)
        return [src[c] for c in study.practice(reader) + study.order(reader)]

    for reader in ("alice", "bob"):
        assert sources(again.path, reader) == sources(created.path, reader)


def test_seed_is_nowhere_outside_the_key(tmp_path):
    real, fakes = _folders(tmp_path)
    created = create_study(real, fakes, "alice,bob", 12, tmp_path / "study", practice=3)
    seed = json.loads((created.path / "key" / "seed.json").read_text())["seed"]
    needles = [str(seed).encode(), f"{seed:x}".encode(), seed.to_bytes(8, "little"), seed.to_bytes(8, "big")]
    public = [p for p in created.path.rglob("*") if p.is_file() and "key" not in p.relative_to(created.path).parts]
    assert {p.name for p in public} >= {"study.json", "readers.json", "practice.json", "answers.db", "credentials.txt"}
    for p in public:
        data = p.read_bytes()
        assert not [n for n in needles if n in data], f"the seed is in {p.name}"
    assert str(seed) not in created.credentials_text()


def test_position_alone_does_not_reveal_the_truth(made):
    # Against the old layout (reals first, then each checkpoint's fakes in blocks), a reader's
    # seeded permutation alone told which positions held the reals.
    created, _, _ = made
    for reader in ("alice", "bob", "carol"):
        perm = create_mod._reader_rng(3, reader).permutation(12)
        guess = [("real" if i < 6 else "fake") for i in perm]
        assert guess != [truth for truth, _ in _truths(created.path, reader)]


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
    assert parse_readers(f) == ["alice", "bob", "carol"]
    assert parse_readers("dr.smith") == ["dr.smith"]  # dots are allowed in ids; not taken for a file
    with pytest.raises(InputError, match="looks like a file name, but there is no such file"):
        parse_readers(tmp_path / "radiologists")
    with pytest.raises(InputError, match="looks like a file name, but there is no such file"):
        parse_readers(str(tmp_path))  # a folder is not a readers file


@pytest.mark.parametrize("readers, match", [
    ("", "no readers given"),
    ("alice,alice", "given twice: alice"),
    ("al ice", "not allowed"),
    ("alice,../etc", "'../etc' is not allowed"),
    # A missing file must not turn into a reader named after it.
    ("readers.txt", "'readers.txt' looks like a file name, but there is no such file.*alice,bob"),
    ("team/readers", "'team/readers' looks like a file name.*one reader id per line"),
    ("panel.CSV", "looks like a file name"),
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
    ({"n_cases": 12, "seed": -1}, "--seed must be a whole number >= 0, got -1; omit it"),
    ({"n_cases": 12, "seed": 2.5}, "--seed must be a whole number"),
    ({"n_cases": 12, "seed": True}, "--seed must be a whole number"),
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


@pytest.mark.parametrize("layout, match", [
    ("fake_in_real", "--fake folder .*real_scans/gen lies inside --real folder .*count as real images"),
    ("real_in_fake", "--real folder .*gen_0/real lies inside --fake folder .*generated images"),
    ("fake_in_fake", "--fake folder .*gen_0/gen lies inside --fake folder .*gen_0"),
    ("out_in_real", "--out folder .*real_scans/study lies inside --real folder .*choose an --out folder"),
    ("out_in_fake", "--out folder .*gen_1/study lies inside --fake folder"),
    ("out_is_real", "--out is the --real folder .*new folder outside"),
])
def test_nested_folders_are_refused(tmp_path, layout, match):
    real, fakes = _folders(tmp_path)
    out = tmp_path / "study"
    inner = np.random.default_rng(1).uniform(-1, 1, (9, 32, 32)).astype(np.float32)
    if layout == "fake_in_real":
        write_png16(inner, real / "gen")
        fakes = [(str(real / "gen"), "epoch-0001")]
    elif layout == "real_in_fake":
        write_png16(inner, Path(fakes[0][0]) / "real")
        real = Path(fakes[0][0]) / "real"
    elif layout == "fake_in_fake":
        write_png16(inner, Path(fakes[0][0]) / "gen")
        fakes = [fakes[0], (str(Path(fakes[0][0]) / "gen"), "epoch-0099")]
    elif layout == "out_in_real":
        out = real / "study"
    elif layout == "out_in_fake":
        out = Path(fakes[1][0]) / "study"
    else:
        out = real
    listing = sorted(tmp_path.rglob("*"))
    with pytest.raises(InputError, match=match):
        create_study(real, fakes, "alice", 4, out)
    assert sorted(tmp_path.rglob("*")) == listing


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


def test_mixed_sizes_in_one_folder_need_resample_both(tmp_path):
    real, fakes = _folders(tmp_path)
    Image.fromarray(np.zeros((40, 40), np.uint16)).save(Path(real) / "odd_one.png")
    with pytest.raises(InputError, match="differ in native size: real .* 24x24 or 40x40.*--resample-both"):
        create_study(real, fakes, "alice", 4, tmp_path / "study", size=16)
    created = create_study(real, fakes, "alice", 4, tmp_path / "study", size=16, resample_both=True)
    assert json.loads((created.path / "study.json").read_text())["image_size"] == 16
    for p in (created.path / "images").iterdir():
        with Image.open(p) as im:
            assert im.size == (16, 16)
    assert os.access(created.path / "answers.db", os.R_OK)


# --- blinding: one pipeline for real and fake, and no low-level cue ------------------------
def _write_png8(images: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(np.round((img + 1) / 2 * 255).astype(np.uint8)).save(folder / f"img_{i:03d}.png")


def _alike(rng, n, size):
    """Images from one distribution (smooth blobs plus noise): nothing tells two draws apart."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size), np.float32)
    for i in range(n):
        cx, cy = rng.uniform(0.3, 0.7, 2)
        img = -0.6 + 1.2 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / 0.05))
        out[i] = np.clip(img + rng.normal(0, 0.08, (size, size)), -1, 1)
    return out


@pytest.mark.parametrize("what, match", [
    ("size", r"differ in native size: real .*real has 24x24, 16-bit integer.*; fake .*gen \(epoch-0001\) "
             r"has 32x32, 16-bit integer.*Generate the fakes at the real images' size.*--resample-both"),
    ("bit depth", r"differ in native bit depth( and value range)?: real .* 16-bit integer.*fake .* 8-bit integer.*--resample-both"),
    ("value range", r"differ in native value range: real .*float32, values -1..1;.*fake .*float32, values 1\d.*\.\.2\d\d"),
])
def test_folders_of_different_native_format_are_refused(tmp_path, what, match):
    rng = np.random.default_rng(0)
    write_png16(_alike(rng, 8, 24), tmp_path / "real")
    if what == "size":
        write_png16(_alike(rng, 8, 32), tmp_path / "gen")
    elif what == "bit depth":
        _write_png8(_alike(rng, 8, 24), tmp_path / "gen")
    else:
        (tmp_path / "real").rename(tmp_path / "png")
        (tmp_path / "real").mkdir()
        np.save(tmp_path / "real" / "stack.npy", _alike(rng, 8, 24))
        np.save(tmp_path / "gen.npy", ((_alike(rng, 8, 24) + 1) * 127.5).astype(np.float32))
        (tmp_path / "gen").mkdir()
        (tmp_path / "gen.npy").rename(tmp_path / "gen" / "stack.npy")
    with pytest.raises(InputError, match=match):
        create_study(tmp_path / "real", [(str(tmp_path / "gen"), "epoch-0001")], "alice", 4, tmp_path / "study")
    assert not (tmp_path / "study").exists()


def test_resample_both_puts_every_image_through_one_resampler(tmp_path):
    rng = np.random.default_rng(1)
    write_png16(_alike(rng, 8, 24), tmp_path / "real")
    write_png16(_alike(rng, 8, 48), tmp_path / "gen")
    created = create_study(tmp_path / "real", [(str(tmp_path / "gen"), "epoch-0001")], "alice", 8,
                           tmp_path / "study", resample_both=True)
    assert json.loads((created.path / "study.json").read_text())["image_size"] == 24
    for p in (created.path / "images").iterdir():
        with Image.open(p) as im:
            assert im.size == (24, 24)
    report = json.loads((created.path / "key" / "blinding.json").read_text())
    assert report["resample_both"] is True
    assert report["native"]["real"]["sizes"] == ["24x24"] and report["native"]["epoch-0001"]["sizes"] == ["48x48"]


def test_cues_that_separate_real_from_fake_are_flagged_by_name(made):
    created, _, _ = made
    # The fixture's fakes are smooth and its reals pure noise: any cue tells them apart.
    report = json.loads((created.path / "key" / "blinding.json").read_text())
    overall = report["comparisons"][0]
    assert overall["comparison"] == "all fakes" and overall["n_real"] + overall["n_fake"] == 15
    assert overall["warn"] and overall["auc"] >= 0.9
    assert overall["cues"]["noise"] >= 0.9 and overall["cues"]["sharpness"] >= 0.9
    assert {c["comparison"] for c in report["comparisons"]} == {"all fakes", "epoch-0010", "epoch-0020"}
    assert created.blinding_warnings and report["warnings"] == created.blinding_warnings
    from ganaudit.reader_study.blinding import CUES

    assert CUES[overall["strongest_cue"]] in created.blinding_warnings[0]
    from ganaudit.reader_study.blinding import load_blinding

    assert load_blinding(created.path) == report
    assert f"AUC {overall['auc']:.2f}" in created.blinding_warnings[0]


def test_the_issues_resampling_cue_is_caught(tmp_path):
    """Real 32² against fakes drawn at 64² and shrunk: the shrunk fakes are smoother."""
    from ganaudit.reader_study.blinding import BlindingWarning

    rng = np.random.default_rng(2)
    write_png16(_alike(rng, 30, 32), tmp_path / "real")
    write_png16(_alike(rng, 30, 64), tmp_path / "gen")
    with pytest.warns(BlindingWarning, match=r"tell real from fake .*AUC .*strongest cue is"):
        created = create_study(tmp_path / "real", [(str(tmp_path / "gen"), "epoch-0001")], "alice", 40,
                               tmp_path / "study", seed=0, resample_both=True)
    overall = json.loads((created.path / "key" / "blinding.json").read_text())["comparisons"][0]
    assert overall["warn"] and overall["auc"] >= 0.8


def test_no_warning_when_real_and_fake_come_from_one_distribution(tmp_path):
    import warnings

    rng = np.random.default_rng(3)
    write_png16(_alike(rng, 25, 32), tmp_path / "real")
    write_png16(_alike(rng, 25, 32), tmp_path / "gen")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        created = create_study(tmp_path / "real", [(str(tmp_path / "gen"), "epoch-0001")], "alice", 40,
                               tmp_path / "study", seed=0)
    overall = json.loads((created.path / "key" / "blinding.json").read_text())["comparisons"][0]
    assert not overall["warn"] and overall["auc"] < 0.7 and created.blinding_warnings == []


def test_cue_features_against_direct_formulas():
    from scipy import ndimage, stats

    from ganaudit.reader_study.blinding import CUES, cue_check, cue_features

    rng = np.random.default_rng(4)
    noise = np.clip(np.round(128 + rng.normal(0, 10, (2, 96, 96))), 0, 255).astype(np.uint8)
    feats = cue_features(noise)
    col = {name: j for j, name in enumerate(CUES)}
    # Immerkær's estimate of pure Gaussian noise is its standard deviation.
    assert feats[:, col["noise"]] == pytest.approx([10, 10], rel=0.05)
    img = noise[0].astype(float)
    assert feats[0, col["sharpness"]] == pytest.approx(ndimage.laplace(img).var())
    assert feats[0, col["hist_skew"]] == pytest.approx(stats.skew(img.ravel()))
    assert feats[0, col["hist_std"]] == pytest.approx(img.std())
    # A cue that separates perfectly gives AUC 1; a constant one 0.5 and no warning.
    x = np.zeros((20, len(CUES)))
    y = np.array([0] * 10 + [1] * 10)
    assert cue_check(x, y)["auc"] == 0.5 and not cue_check(x, y)["warn"]
    x[:, 1] = y + rng.normal(0, 0.01, 20)
    result = cue_check(x, y)
    assert result["auc"] == 1.0 and result["cues"]["sharpness"] == 1.0 and result["warn"]
    assert result["strongest_cue"] == "sharpness"


def test_key_seed_database_and_credential_files_are_private(made):
    created, _, _ = made
    path = created.path
    assert stat.S_IMODE((path / "key").stat().st_mode) == 0o700
    for name in ("key/key.csv", "key/practice_key.csv", "key/seed.json", "key/blinding.json",
                 "answers.db", "credentials.txt", "readers.json"):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o600, name
    # What the reading app shows stays readable.
    assert stat.S_IMODE((path / "study.json").stat().st_mode) & 0o044
