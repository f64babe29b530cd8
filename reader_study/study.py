"""The public side of a study folder: settings, blinded images, reader orders, credentials.

``Study.open`` reads ``study.json``, ``readers.json`` and ``practice.json`` only. It never
opens ``key/``: whatever a reader's session can reach holds no truth, no source file name and
no checkpoint label (the truth of *practice* cases is public on purpose: practice gives
feedback and does not count).

Study folder layout (written by ``ganaudit.reader_study.create.create_study``)::

    STUDY/study.json        public settings
    STUDY/images/<id>.png   blinded 8-bit PNGs, opaque random ids
    STUDY/readers.json      per reader: password hash, invite-token hash, order, practice
    STUDY/practice.json     {case_id: "real" | "fake"} for practice cases only
    STUDY/key/key.csv       case_id, truth, label, source (analysis only)
    STUDY/key/seed.json     the seed of the image choice and reader orders (secret like the key)
    STUDY/answers.db        SQLite answers store (default)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path

from ganaudit.reader_study.errors import StudyError, UnknownCase, UnknownReader

# scrypt cost (RFC 7914): n = 2**14, r = 8 needs 16 MiB and ~50 ms, slow enough for guessing.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_CASE_ID = re.compile(r"^[0-9a-f]{8,64}$")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Hash a password with scrypt and a per-user random salt: ``scrypt$n$r$p$salt$hash``."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R,
                            p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a ``hash_password`` string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def hash_token(token: str) -> str:
    """Hash an invite token (``sha256$hex``).

    Invite tokens are 192 random bits, so a fast unsalted hash cannot be reversed by guessing;
    it lets ``Study.authenticate_token`` find the reader without one scrypt run per reader.
    """
    return "sha256$" + hashlib.sha256(token.encode("utf-8")).hexdigest()


# A valid hash to compare against for unknown readers, so a wrong reader id takes as long to
# refuse as a wrong password (no reader-id enumeration by timing).
_DUMMY_HASH = hash_password("unused", salt=b"\0" * 16)


class Study:
    """An opened study folder (public part only).

    Use ``Study.open(path)``. Attributes: ``path``, ``settings`` (``study.json``),
    ``reader_ids``.
    """

    def __init__(self, path: Path, settings: dict, readers: dict, admin: dict, practice_truth: dict):
        self.path = path
        self.settings = settings
        self._readers = readers
        self._admin = admin
        self._practice_truth = practice_truth
        self._cases = {c for r in readers.values() for c in (*r["order"], *r.get("practice", []))}

    @classmethod
    def open(cls, path: str | Path) -> "Study":
        """Open the study folder at ``path`` (reads ``study.json``, ``readers.json``, ``practice.json``)."""
        path = Path(path)
        if not (path / "study.json").is_file():
            raise StudyError(f"no study at {path} (study.json missing); create one with "
                             "'ganaudit study create --real DIR --fake DIR --readers ... --cases N --out STUDY'")
        try:
            settings = json.loads((path / "study.json").read_text(encoding="utf-8"))
            creds = json.loads((path / "readers.json").read_text(encoding="utf-8"))
            practice_file = path / "practice.json"
            practice = json.loads(practice_file.read_text(encoding="utf-8")) if practice_file.is_file() else {}
        except FileNotFoundError as exc:
            raise StudyError(f"study {path} is incomplete ({Path(exc.filename).name} missing); "
                             "create it again with 'ganaudit study create'") from exc
        except json.JSONDecodeError as exc:
            raise StudyError(f"study {path} has a damaged file ({exc}); create it again with "
                             "'ganaudit study create'") from exc
        return cls(path, settings, creds.get("readers", {}), creds.get("admin", {}), practice)

    # --- public settings -------------------------------------------------------------------
    @property
    def study_id(self) -> str:
        return self.settings["study_id"]

    @property
    def allow_change(self) -> bool:
        return bool(self.settings.get("allow_change", False))

    @property
    def reader_ids(self) -> list[str]:
        return list(self._readers)

    def default_db_url(self) -> str:
        """SQLite answers file inside the study folder."""
        return f"sqlite:///{(self.path / 'answers.db').resolve()}"

    # --- cases -----------------------------------------------------------------------------
    def _reader(self, reader_id: str) -> dict:
        try:
            return self._readers[reader_id]
        except (KeyError, TypeError):
            raise UnknownReader(f"unknown reader {reader_id!r}: not enrolled in study "
                                f"{self.settings.get('study_id')}; use one of the reader ids given at "
                                "'ganaudit study create --readers'") from None

    def order(self, reader_id: str) -> list[str]:
        """The reader's counted cases in reading order (seeded, saved at enrolment)."""
        return list(self._reader(reader_id)["order"])

    def practice(self, reader_id: str) -> list[str]:
        """The reader's practice cases (shown first, with feedback, not counted)."""
        return list(self._reader(reader_id).get("practice", []))

    def has_case(self, case_id: str) -> bool:
        return case_id in self._cases

    def image_path(self, case_id: str) -> Path:
        """Path of the blinded PNG of ``case_id``; refuses ids that are not study cases."""
        if not isinstance(case_id, str) or not _CASE_ID.match(case_id) or case_id not in self._cases:
            raise UnknownCase(f"unknown case {case_id!r}: not a case of study "
                              f"{self.settings.get('study_id')}; use an id from the reader's order")
        return self.path / "images" / f"{case_id}.png"

    def is_practice(self, case_id: str) -> bool:
        return case_id in self._practice_truth

    def practice_truth(self, case_id: str) -> str:
        """Truth ("real" | "fake") of a practice case; refuses counted cases."""
        try:
            return self._practice_truth[case_id]
        except (KeyError, TypeError):
            raise UnknownCase(f"case {case_id!r} is not a practice case; feedback is only given "
                              "for practice cases") from None

    # --- credentials -----------------------------------------------------------------------
    def authenticate(self, reader_id: str, password: str) -> bool:
        """True when ``password`` is the reader's; False for a wrong password or unknown reader."""
        if not isinstance(password, str):
            return False
        reader = self._readers.get(reader_id) if isinstance(reader_id, str) else None
        stored = reader["password_hash"] if reader else _DUMMY_HASH
        return verify_password(password, stored) and reader is not None

    def authenticate_token(self, token: str) -> str | None:
        """Reader id whose invite token is ``token``, or None."""
        if not isinstance(token, str) or not token:
            return None
        digest = hash_token(token)
        found = None
        for reader_id, reader in self._readers.items():
            if hmac.compare_digest(digest, reader.get("invite_token_hash", "")):
                found = reader_id
        return found

    def authenticate_admin(self, password: str) -> bool:
        """True when ``password`` is the admin password (separate from every reader's)."""
        if not isinstance(password, str):
            return False
        stored = self._admin.get("password_hash")
        return verify_password(password, stored or _DUMMY_HASH) and stored is not None
