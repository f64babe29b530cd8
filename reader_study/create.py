"""Create a blinded reader study from a folder of real images and folders of generated ones.

Blinding: every image (real, fake, practice) is loaded the same way, resized to one size,
written as an 8-bit grayscale PNG by the same encoder with *no compression* (so every file
has exactly the same byte size: size cannot reveal the class), without metadata, under an
opaque random id (``secrets.token_hex``), in id order with one common modification time. The
key (case → truth, checkpoint label, source file) goes to ``STUDY/key/``, which the reading
app never opens, and so does the seed (``key/seed.json``): it decides every reader's order,
so whoever knows it can compute the truth of each position. Without an explicit seed a
random one is drawn.

Same pipeline for real and fake: the folders must hold images of one native size, bit depth
and value range (``ganaudit.reader_study.blinding``); otherwise creation is refused, unless
``resample_both`` puts every image through the same resampler from a common size. Then the
images as readers will see them are checked for low-level cues (file size, sharpness, noise,
histogram statistics) with a cross-validated classifier; a warning names a cue that alone
separates real from fake, and the figures go to ``STUDY/key/blinding.json``.

Balance: half the counted cases are real, half fake; the fakes are split evenly across the
fake folders (labels), differing by at most one when the numbers do not divide.

Secrets are private: ``key/`` is mode 0700 and the key, the seed, the blinding figures,
``readers.json`` (password hashes), ``credentials.txt`` and ``answers.db`` are mode 0600.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import os
import re
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from ganaudit.gan_models.atomic import atomic_path
from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study import blinding as _blinding
from ganaudit.reader_study.blinding import (BLINDING_FILE, BlindingWarning, FolderProfile, check_same_format,
                                   cue_check, cue_features, folder_profile)
from ganaudit.reader_study.csvsafe import neutralise_csv_cell
from ganaudit.reader_study.study import hash_password, hash_token
from ganaudit.schema.values import folder_problem, json_text

_READER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_READER_FILE_SUFFIXES = {".txt", ".csv", ".tsv", ".lst"}


@dataclass
class CreatedStudy:
    """A new study: where it is and the credentials to hand out (shown once).

    ``readers`` maps reader id → {"password", "invite_token"}. The same text is in
    ``credentials_path`` (mode 0600) for the admin; delete it once handed out.
    """

    path: Path
    study_id: str
    n_cases: int
    readers: dict[str, dict[str, str]]
    admin_password: str
    credentials_path: Path
    counts: dict[str, int] = field(default_factory=dict)
    blinding_warnings: list[str] = field(default_factory=list)

    def credentials_text(self) -> str:
        lines = [f"ganaudit reader study {self.study_id} ({self.path})",
                 "Hand each reader their own line; passwords are stored only as hashes.",
                 "Invite tokens sign a reader in without typing a password (open the study URL with /?invite=TOKEN).",
                 "",
                 f"admin  password: {self.admin_password}", ""]
        for reader_id, cred in self.readers.items():
            lines.append(f"reader {reader_id}  password: {cred['password']}  invite token: {cred['invite_token']}")
        return "\n".join(lines) + "\n"


def _looks_like_path(text: str) -> bool:
    """Whether a ``--readers`` value without commas was meant as a file name."""
    return "/" in text or os.sep in text or Path(text).suffix.lower() in _READER_FILE_SUFFIXES


def parse_readers(value: str | os.PathLike | Sequence[str]) -> list[str]:
    """Reader ids from a list, a comma-separated string, or a file with one id per line.

    A path object, or a string without commas that looks like a file name (it holds a path
    separator or ends in .txt/.csv/.tsv/.lst), must name an existing file: otherwise a typo in
    the file name would silently enrol one reader called after the file.
    """
    if isinstance(value, (str, os.PathLike)):
        text = str(value)
        path = Path(text)
        if path.is_file():
            items = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        elif isinstance(value, os.PathLike) or ("," not in text and _looks_like_path(text)):
            raise InputError(f"--readers {text!r} looks like a file name, but there is no such file; give "
                             "an existing file with one reader id per line, or the reader ids themselves "
                             "separated by commas (--readers alice,bob)")
        else:
            items = [s.strip() for s in text.split(",")]
        items = [s for s in items if s]
    else:
        items = list(value)
    if not items:
        raise InputError("no readers given; pass --readers alice,bob or a file with one reader id per line")
    for reader_id in items:
        if not isinstance(reader_id, str) or not _READER_ID.match(reader_id):
            raise InputError(f"reader id {reader_id!r} is not allowed; use 1-64 letters, digits, '.', '_', '-' or '@'")
    dupes = sorted({r for r in items if items.count(r) > 1})
    if dupes:
        raise InputError(f"reader ids given twice: {', '.join(dupes)}; list each reader once")
    return items


def _split_even(total: int, n_parts: int, rng: np.random.Generator) -> list[int]:
    """Split ``total`` into ``n_parts`` counts differing by at most one (extras placed at random)."""
    counts = [total // n_parts] * n_parts
    for i in rng.permutation(n_parts)[: total % n_parts]:
        counts[i] += 1
    return counts


def _reader_rng(seed: int, reader_id: str) -> np.random.Generator:
    # Depends on the seed and the reader id only, so adding a reader never reshuffles others.
    digest = int.from_bytes(hashlib.sha256(reader_id.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


def to_u8(image: np.ndarray) -> np.ndarray:
    """Image in [-1, 1] → the 8-bit pixels readers see."""
    return np.round((np.clip(np.asarray(image, dtype=np.float64), -1, 1) + 1) / 2 * 255).astype(np.uint8)


def encode_png8(image: np.ndarray) -> bytes:
    """Image in [-1, 1] → 8-bit grayscale PNG bytes, uncompressed, no metadata chunks."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_u8(image), mode="L").save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def _write_private(path: Path, text: str) -> None:
    """Write a new file readable by its owner only (0600 from the start, not chmod-ed later)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([neutralise_csv_cell(v) for v in row])
    return buf.getvalue()


def _profile(source) -> FolderProfile:
    """Native format of a folder; for images already in memory (an ``ImageSet``), their size
    only (bit depth and value range are those of the generator's float output)."""
    from ganaudit.gan_models.data import ImageSet

    if isinstance(source, ImageSet):
        prof = FolderProfile(folder=str(source.meta.get("source", "images in memory")))
        prof.sizes[tuple(int(n) for n in source.images.shape[1:])] = len(source)
        return prof
    return folder_profile(source)


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1:] == (size, size):
        return images
    from skimage.transform import resize

    return np.stack([resize(im, (size, size), anti_aliasing=True, preserve_range=True) for im in images]).astype(np.float32)


def create_study(real_dir, fakes: list[tuple[str, str]], readers, n_cases: int, out_dir, *,
                 seed: int | None = None, practice: int = 0, allow_change: bool = False,
                 admin_password: str | None = None, size: int | None = None,
                 resample_both: bool = False) -> CreatedStudy:
    """Create a blinded real-vs-fake reading study.

    Parameters
    ----------
    real_dir
        Folder of real images (anything ``ganaudit.gan_models.data.load_images`` reads), or an
        ``ImageSet`` already loaded (also accepted in place of a fake folder).
    fakes
        ``[(folder, label), ...]``: generated images, one folder per checkpoint; ``label``
        names the checkpoint (``epoch-0040`` for run checkpoints).
    readers
        Reader ids: a list, a comma-separated string, or a file with one id per line.
    n_cases
        Counted cases per reader (even: half real, half fake). Every reader reads the same
        cases, each in their own seeded order.
    out_dir
        The study folder to create (must not exist or be empty); created atomically.
    seed
        Seeds the choice of images and each reader's order. None (default): a random 63-bit
        seed is drawn. The seed used is saved only in ``STUDY/key/seed.json``; passing it again
        with the same inputs gives the same images and orders (new case ids and credentials).
        Whoever knows the seed can work out from "case k of N" whether a case is real, so it
        must stay as secret as the key: give an explicit seed only for reproducible tests.
    practice
        Extra practice cases shown first, with feedback, not counted (about half fake).
    allow_change
        Whether readers may change an answer they gave.
    admin_password
        Admin password; a random one is generated when None.
    size
        Side length of the images shown; default: the (common) native size, or with
        ``resample_both`` the smallest native size.
    resample_both
        Accept real and fake folders whose native size, bit depth or value range differ: every
        image, real and fake, is scaled to [-1, 1], resampled to a common size (the largest
        native side) and then, by the same resampler, to the size shown. Without it such
        folders are refused. Either way the low-level cue check runs and warns when a cue is
        left (``STUDY/key/blinding.json``).

    Returns
    -------
    CreatedStudy
        The folder and the credentials (also in ``STUDY/credentials.txt``, mode 0600).
    """
    from ganaudit.gan_models.data import ImageSet, load_images

    reader_ids = parse_readers(readers)
    if isinstance(n_cases, bool) or not isinstance(n_cases, (int, np.integer)) or n_cases < 2 or n_cases % 2:
        raise InputError(f"--cases must be an even number >= 2 (half real, half fake), got {n_cases!r}")
    if isinstance(practice, bool) or not isinstance(practice, (int, np.integer)) or practice < 0:
        raise InputError(f"--practice must be a whole number >= 0, got {practice!r}")
    if not fakes:
        raise InputError("no fake images given; pass --fake DIR[=LABEL] at least once")
    labels = [label for _, label in fakes]
    for label in labels:
        if not isinstance(label, str) or not _LABEL.match(label) or label == "real":
            raise InputError(f"checkpoint label {label!r} is not allowed; use letters, digits, '.', '_', '-' "
                             "(not 'real'), e.g. --fake DIR=epoch-0040")
    if len(set(labels)) != len(labels):
        raise InputError(f"checkpoint labels repeat ({', '.join(labels)}); give each --fake folder its own =LABEL")
    # Images already in memory (a run's checkpoints, see `study create --run`) have no folder.
    _check_folders_apart(None if isinstance(real_dir, ImageSet) else real_dir,
                         [folder for folder, _ in fakes if not isinstance(folder, ImageSet)], out_dir)
    if seed is None:
        seed = secrets.randbits(63)
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be a whole number >= 0, got {seed!r}; omit it to draw a random "
                         "(secret) seed, as real studies should")
    seed = int(seed)
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8):
        raise InputError(f"--size must be a whole number >= 8, got {size!r}")
    if admin_password is None:
        admin_password = secrets.token_urlsafe(12)
    elif not isinstance(admin_password, str) or len(admin_password) < 8:
        raise InputError("admin password must be at least 8 characters; choose a longer one or omit it to get a random one")
    out_dir = Path(out_dir)
    problem = folder_problem(out_dir)
    if problem:
        raise InputError(f"study folder {out_dir} already exists and {problem}; choose a new --out folder")

    profiles = [("real", _profile(real_dir))] + [(label, _profile(folder)) for folder, label in fakes]
    if resample_both:
        # One common size first (nothing is lost before the last step), then every image
        # through the same resampler to the size shown.
        sides = [max(hw) for _, prof in profiles for hw in prof.sizes]
        load_size = max(sides) if sides else size
        side = size or (min(sides) if sides else None)
    else:
        check_same_format(profiles[0][1], profiles[1:])
        load_size = side = size

    def load(source):
        if isinstance(source, ImageSet):
            return source if load_size is None else ImageSet(_resize(source.images, load_size),
                                                             source.names, source.meta, source.groups)
        return load_images(source, size=load_size)

    sources = [("real", "real", load(real_dir))]
    sources += [("fake", label, load(folder)) for folder, label in fakes]
    side = side or min(s[2].images.shape[1] for s in sources)

    rng = np.random.default_rng(seed)
    half = n_cases // 2
    p_fake = practice // 2
    fake_counts = _split_even(half, len(fakes), rng)
    fake_practice = _split_even(p_fake, len(fakes), rng)
    need = [(half, practice - p_fake)] + list(zip(fake_counts, fake_practice))
    for (truth, label, images), (n_main, n_prac) in zip(sources, need):
        if len(images) < n_main + n_prac:
            what = "real" if truth == "real" else f"fake ({label})"
            raise InputError(
                f"too few {what} images in {images.meta.get('source')}: the study needs {n_main + n_prac} "
                f"({n_main} counted + {n_prac} practice) but the folder has {len(images)}; "
                "lower --cases/--practice or add images")

    cases = []  # (case_id, truth, label, source, image, is_practice)
    used_ids: set[str] = set()

    def new_id() -> str:
        while True:
            case_id = secrets.token_hex(8)
            if case_id not in used_ids:
                used_ids.add(case_id)
                return case_id

    for (truth, label, images), (n_main, n_prac) in zip(sources, need):
        chosen = rng.choice(len(images), size=n_main + n_prac, replace=False)
        picked = _resize(images.images[chosen], side)
        src = images.meta.get("source", "")
        for j, idx in enumerate(chosen):
            cases.append((new_id(), truth, label, f"{src}/{images.names[idx]}", picked[j], j >= n_main))

    blinding = _blinding_report(cases, profiles, resample_both=resample_both, seed=seed)
    for message in blinding["warnings"]:
        warnings.warn(message, BlindingWarning, stacklevel=2)

    # Shuffled by the seeded generator rather than kept in selection order: that order is all
    # reals, then each checkpoint's fakes in blocks, which a reader's permutation would carry
    # over. Not sorted by the random ids either, so that the orders follow the seed.
    main_ids = [c[0] for c in cases if not c[5]]
    main_ids = [main_ids[i] for i in rng.permutation(len(main_ids))]
    practice_ids = [c[0] for c in cases if c[5]]
    practice_ids = [practice_ids[i] for i in rng.permutation(len(practice_ids))]
    creds: dict[str, dict[str, str]] = {}
    reader_entries = {}
    for reader_id in reader_ids:
        r_rng = _reader_rng(seed, reader_id)
        order = [main_ids[i] for i in r_rng.permutation(len(main_ids))]
        prac = [practice_ids[i] for i in r_rng.permutation(len(practice_ids))]
        password, token = secrets.token_urlsafe(12), secrets.token_urlsafe(24)
        creds[reader_id] = {"password": password, "invite_token": token}
        reader_entries[reader_id] = {"password_hash": hash_password(password),
                                     "invite_token_hash": hash_token(token),
                                     "order": order, "practice": prac}
    study_id = secrets.token_hex(6)
    settings = {"study_id": study_id, "n_cases": n_cases, "allow_change": bool(allow_change),
                "practice": int(practice), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "image_size": int(side)}

    created = CreatedStudy(path=out_dir, study_id=study_id, n_cases=n_cases, readers=creds,
                           admin_password=admin_password, credentials_path=out_dir / "credentials.txt",
                           counts={"real": half, **dict(zip(labels, fake_counts)), "practice": int(practice)},
                           blinding_warnings=list(blinding["warnings"]))
    with atomic_path(out_dir) as tmp:
        (tmp / "images").mkdir(parents=True)
        (tmp / "key").mkdir(mode=0o700)
        os.chmod(tmp / "key", 0o700)
        stamp = datetime(2000, 1, 1, tzinfo=timezone.utc).timestamp()
        for case in sorted(cases, key=lambda c: c[0]):
            path = tmp / "images" / f"{case[0]}.png"
            path.write_bytes(encode_png8(case[4]))
            os.utime(path, (stamp, stamp))
        _write_json(tmp / "study.json", settings)
        # Password and invite-token hashes: the owner's only.
        _write_json(tmp / "readers.json", {"readers": reader_entries,
                                           "admin": {"password_hash": hash_password(admin_password)}},
                    private=True)
        _write_json(tmp / "practice.json", {c[0]: c[1] for c in sorted(cases, key=lambda c: c[0]) if c[5]})
        for name, keep in (("key.csv", False), ("practice_key.csv", True)):
            rows = [["case_id", "truth", "label", "source"]]
            rows += [[c[0], c[1], c[2], c[3]] for c in sorted(cases, key=lambda c: c[0]) if c[5] == keep]
            _write_private(tmp / "key" / name, _csv_text(rows))
        # The seed reproduces every reader's order, so it goes with the key, never into a
        # file the reading app opens.
        _write_json(tmp / "key" / "seed.json", {
            "seed": seed,
            "note": "decides which images were used and each reader's order: keep it as secret as key.csv; "
                    "'ganaudit study create --seed SEED' with the same inputs reproduces them"}, private=True)
        _write_json(tmp / "key" / BLINDING_FILE, blinding, private=True)
        fd = os.open(tmp / "credentials.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(created.credentials_text())
        os.chmod(tmp / "credentials.txt", 0o600)
        _init_store(tmp)
    return created


def _check_folders_apart(real_dir, fake_dirs: list, out_dir) -> None:
    """Refuse --real/--fake/--out folders that are the same or lie one inside another.

    Images are read from sub-folders too, so generated images inside the real folder would be
    shown as real cases, and a study written inside an image folder would be read back as
    images by the next ``create``.
    """
    named = [("--real", Path(real_dir).resolve())] if real_dir is not None else []
    named += [("--fake", Path(d).resolve()) for d in fake_dirs]
    named.append(("--out", Path(out_dir).resolve()))
    for (name_a, a), (name_b, b) in itertools.combinations(named, 2):
        if a == b and name_b != "--out":
            raise InputError(f"the same folder is given twice among --real/--fake ({a}); give each checkpoint "
                             "its own folder and keep real images apart from generated ones")
        if a == b:
            raise InputError(f"--out is the {name_a} folder {a}; write the study to a new folder outside "
                             "the image folders")
        for (name_in, inner), (name_out, outer) in (((name_a, a), (name_b, b)), ((name_b, b), (name_a, a))):
            if outer not in inner.parents:
                continue
            if "--out" in (name_in, name_out):
                raise InputError(f"{name_in} folder {inner} lies inside {name_out} folder {outer}; keep the "
                                 "study apart from the images: choose an --out folder that neither lies in "
                                 "nor holds a --real/--fake folder")
            what = "real images" if name_out == "--real" else "that checkpoint's generated images"
            raise InputError(f"{name_in} folder {inner} lies inside {name_out} folder {outer}; images are read "
                             f"from sub-folders too, so its images would also count as {what}: move it out "
                             "so that no --real/--fake folder contains another")


def _write_json(path: Path, obj, *, private: bool = False) -> None:
    text = json_text(obj)
    if private:
        _write_private(path, text)
    else:
        path.write_text(text, encoding="utf-8")


def _blinding_report(cases: list, profiles: list, *, resample_both: bool, seed: int) -> dict:
    """Native formats and the low-level cue check of the images as readers will see them."""
    features = cue_features(np.stack([to_u8(c[4]) for c in cases]))
    is_fake = np.array([c[1] == "fake" for c in cases])
    labels = np.array([c[2] for c in cases])
    checks = [cue_check(features, is_fake, name="all fakes", seed=seed % 2**32)]
    fake_labels = list(dict.fromkeys(c[2] for c in cases if c[1] == "fake"))
    if len(fake_labels) > 1:
        for label in fake_labels:
            keep = ~is_fake | (labels == label)
            checks.append(cue_check(features[keep], is_fake[keep], name=label, seed=seed % 2**32))
    return {
        "native": {name: prof.to_dict() for name, prof in profiles},
        "resample_both": bool(resample_both),
        "cue_warn_auc": _blinding.CUE_WARN_AUC, "cue_warn_p": _blinding.CUE_WARN_P,
        "method": "per cue and for all cues together: standardised logistic regression, stratified "
                  "k-fold cross_val_predict, ROC AUC of the out-of-fold scores (0.5 = no cue); "
                  "cues measured on the 8-bit images as shown to readers",
        "comparisons": checks,
        "warnings": [c["message"] for c in checks if c["warn"]],
    }


def _init_store(folder: Path) -> None:
    """Create the default SQLite answers file with the readers' case lists registered."""
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    store = AnswerStore(f"sqlite:///{folder.resolve() / 'answers.db'}", study=Study.open(folder))
    store.close()
