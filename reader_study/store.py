"""Answers store: insert-only, one answer per (reader, case), committed before returning.

SQLite file in the study folder by default (WAL journal, ``synchronous=FULL``, so a committed
answer survives a killed server or a power cut; only the first-shown times are written without
waiting for the disk, see ``mark_shown``); PostgreSQL by URL
(``postgresql+psycopg://user@host:port/db``; ``postgresql://`` is read the same way).

Tables
- ``assignments``: (reader_id, case_id, position, practice): which cases each reader may
  answer. Written from the study's public ``readers.json`` (never the key).
- ``shown``: first time the server showed a case to a reader (first time wins).
- ``answers``: one row per (reader_id, case_id), unique; never updated. A retried request or
  a double click hits the unique constraint and is reported as a duplicate, not an error.
- ``answer_changes``: later versions of an answer, only when the study allows changes
  (insert-only as well; the latest one counts).
- ``sessions``: the reading app's sign-in sessions (hash of the random session id, the study,
  the role, expiry, revocation). A cookie is only as good as its row: signing out revokes it,
  and a re-created study (a new study id) knows none of the old ones.

Limits: ``MAX_NOTE`` characters per note and ``MAX_MARKS`` marks per case, defined here once;
the reading app shows them to the reader and refuses (never cuts) anything longer.

A new SQLite file is created mode 0600 (its journal files inherit that mode).

Times are server clock, seconds since the epoch (float); time per case is
``answered_at - shown_at``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ganaudit.reader_study.errors import AnswerRejected, StudyError, UnknownReader

if TYPE_CHECKING:
    import pandas as pd

    from ganaudit.reader_study.study import Study

CALLS = ("real", "fake")
CONFIDENCES = (1, 2, 3)
MARK_KINDS = ("finding", "artifact")
# The one place these limits are defined: the browser (through the viewer's parameters), the
# server and the store all read them from here.
MAX_NOTE = 2000
MAX_MARKS = 20

_meta = sa.MetaData()
studies = sa.Table(
    "studies", _meta,
    sa.Column("study_id", sa.String(64), primary_key=True),
)
assignments = sa.Table(
    "assignments", _meta,
    sa.Column("reader_id", sa.String(200), primary_key=True),
    sa.Column("case_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("practice", sa.Boolean, nullable=False),
)
shown = sa.Table(
    "shown", _meta,
    sa.Column("reader_id", sa.String(200), primary_key=True),
    sa.Column("case_id", sa.String(64), primary_key=True),
    sa.Column("shown_at", sa.Float, nullable=False),
)
answers = sa.Table(
    "answers", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reader_id", sa.String(200), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("practice", sa.Boolean, nullable=False),
    sa.Column("call", sa.String(8), nullable=False),
    sa.Column("confidence", sa.Integer, nullable=False),
    sa.Column("score6", sa.Integer, nullable=False),
    sa.Column("marks", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("shown_at", sa.Float, nullable=True),
    sa.Column("answered_at", sa.Float, nullable=False),
    sa.UniqueConstraint("reader_id", "case_id", name="uq_answers_reader_case"),
)
answer_changes = sa.Table(
    "answer_changes", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reader_id", sa.String(200), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("call", sa.String(8), nullable=False),
    sa.Column("confidence", sa.Integer, nullable=False),
    sa.Column("score6", sa.Integer, nullable=False),
    sa.Column("marks", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("changed_at", sa.Float, nullable=False),
)
sessions = sa.Table(
    "sessions", _meta,
    sa.Column("sid_hash", sa.String(64), primary_key=True),
    sa.Column("study_id", sa.String(64), nullable=False),
    sa.Column("role", sa.String(220), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)
# Tables that hold the study's data; ``sessions`` is the server's and may be missing from a
# store written by an older version (the analysis does not need it).
_DATA_TABLES = ("studies", "assignments", "shown", "answers", "answer_changes")


def score6(call: str, confidence: int) -> int:
    """Six-point score for ROC analysis: 1 = surely real … 6 = surely fake.

    real/3 → 1, real/2 → 2, real/1 → 3, fake/1 → 4, fake/2 → 5, fake/3 → 6.
    """
    call, confidence = _check_call(call, confidence)
    return 4 - confidence if call == "real" else 3 + confidence


def _check_call(call, confidence) -> tuple[str, int]:
    if call not in CALLS:
        raise AnswerRejected(f"call must be 'real' or 'fake', got {call!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or confidence not in CONFIDENCES:
        raise AnswerRejected(f"confidence must be 1 (unsure), 2 or 3 (certain), got {confidence!r}")
    return call, int(confidence)


def clean_marks(marks) -> list[dict]:
    if marks is None:
        return []
    if isinstance(marks, (str, bytes, dict)) or not isinstance(marks, Iterable):
        raise AnswerRejected(f"marks must be a list of {{'x', 'y', 'kind'}} dicts, got {type(marks).__name__}")
    out = []
    for mark in marks:
        if not isinstance(mark, dict) or set(mark) - {"x", "y", "kind"} or not {"x", "y"} <= set(mark):
            raise AnswerRejected(f"each mark must be a dict with keys x, y (0..1) and kind, got {mark!r}")
        x, y, kind = mark["x"], mark["y"], mark.get("kind", "finding")
        for name, v in (("x", x), ("y", y)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 1:
                raise AnswerRejected(f"mark {name} must be a number from 0 to 1 (fraction of the image), got {v!r}")
        if kind not in MARK_KINDS:
            raise AnswerRejected(f"mark kind must be 'finding' or 'artifact', got {kind!r}")
        out.append({"x": float(x), "y": float(y), "kind": kind})
    if len(out) > MAX_MARKS:
        raise AnswerRejected(f"at most {MAX_MARKS} marks per case, got {len(out)}; remove some marks")
    return out


def clean_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise AnswerRejected(f"note must be text, got {type(note).__name__}")
    if len(note) > MAX_NOTE:
        raise AnswerRejected(f"the note is {len(note)} characters long, over the limit of {MAX_NOTE}; "
                             "shorten it")
    return note


def _seconds(at) -> float:
    if at is None:
        return time.time()
    if isinstance(at, datetime):
        return at.timestamp()
    return float(at)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` (and ``postgres://``) as psycopg 3 URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class AddResult:
    """Outcome of ``add_answer``: ``stored`` (a new row) or ``duplicate`` (already answered)."""

    stored: bool
    duplicate: bool
    changed: bool = False


class AnswerStore:
    """Insert-only answers database.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///STUDY/answers.db`` or ``postgresql+psycopg://…``.
    study
        Optional ``Study``: its reader orders are registered (idempotently) as the cases each
        reader may answer. Without it the store uses the assignments already in the database
        (``create_study`` registers them in the default SQLite file).
    create
        False: open a store that must already exist (for reading, e.g. the analysis): a
        SQLite URL must name an existing file, the tables must be there, nothing is created
        or registered, and ``study`` is only checked to be the study the store belongs to.
    """

    def __init__(self, url: str, *, study: "Study | None" = None, create: bool = True):
        if not isinstance(url, str) or "://" not in url:
            raise StudyError(f"database URL must look like sqlite:///STUDY/answers.db or "
                             f"postgresql+psycopg://user@host:port/db, got {url!r}")
        self.url = normalize_url(url)
        self._sqlite = self.url.startswith("sqlite")
        try:
            if self._sqlite:
                if not create:
                    self._require_sqlite_file()
                else:
                    self._create_private_sqlite_file()
                self.engine = sa.create_engine(self.url, connect_args={"timeout": 30})
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            if create:
                _meta.create_all(self.engine)
            else:
                self._require_tables()
        except sa.exc.ArgumentError as exc:
            raise StudyError(f"cannot use database URL {url!r} ({exc}); give sqlite:///PATH or "
                             "postgresql+psycopg://user@host:port/db") from exc
        except (sa.exc.DatabaseError, ModuleNotFoundError) as exc:
            raise StudyError(f"cannot open answers database {self._safe_url()}: "
                             f"{str(exc).splitlines()[0]}; check the URL and that the server is running") from exc
        self._lock = threading.Lock()
        self._allowed: dict[str, dict[str, bool]] | None = None
        if study is not None and create:
            try:
                self.register_study(study)
            except sa.exc.DBAPIError as exc:
                raise self._not_writable(exc) from exc
        elif study is not None:
            with self.engine.connect() as conn:
                self._check_owner(conn, study)

    @classmethod
    def for_study(cls, study: "Study", url: str | None = None) -> "AnswerStore":
        """Open the store of ``study`` (its SQLite file unless ``url`` is given)."""
        return cls(url or study.default_db_url(), study=study)

    def _safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def _require_sqlite_file(self) -> None:
        # Connecting would create a missing file, so a mistyped path would read as "no answers".
        path = sa.engine.make_url(self.url).database
        if not path or path == ":memory:" or not Path(path).is_file():
            raise StudyError(f"no answers database file at {path or '(no path)'} (from {self._safe_url()}); "
                             "check the path in --db (an absolute path needs four slashes: "
                             "sqlite:////abs/answers.db) or omit --db to use STUDY/answers.db")

    def _create_private_sqlite_file(self) -> None:
        # Answers name readers and their calls: readable by the owner only. SQLite would create
        # the file with the umask's mode (usually 0644), so it is created here first.
        url = sa.engine.make_url(self.url)
        path = url.database
        if not path or path == ":memory:" or path.startswith("file:") or url.query.get("uri"):
            return
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError:
            pass  # a missing folder or no permission: connecting says so in its own words

    def _require_tables(self) -> None:
        missing = sorted(set(_DATA_TABLES) - set(sa.inspect(self.engine).get_table_names()))
        if missing:
            raise StudyError(f"answers database {self._safe_url()} is not a reader-study answers store "
                             f"(tables {', '.join(missing)} missing); give the database the study was served "
                             "with, or omit --db to use STUDY/answers.db")

    def _check_owner(self, conn, study: "Study") -> set[str]:
        """Study ids recorded in the store; refuses a store that belongs to another study."""
        known = set(conn.execute(sa.select(studies.c.study_id)).scalars())
        if known and known != {study.study_id}:
            raise StudyError(f"answers database {self._safe_url()} belongs to study {', '.join(sorted(known))}, "
                             f"not {study.study_id}; give each study its own database")
        return known

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- assignments -----------------------------------------------------------------------
    def register_study(self, study: "Study") -> None:
        """Record which cases each reader may answer (idempotent; never stores truth)."""
        rows = []
        for reader_id in study.reader_ids:
            for i, case_id in enumerate(study.practice(reader_id)):
                rows.append({"reader_id": reader_id, "case_id": case_id, "position": -1 - i, "practice": True})
            for i, case_id in enumerate(study.order(reader_id)):
                rows.append({"reader_id": reader_id, "case_id": case_id, "position": i, "practice": False})
        with self.engine.begin() as conn:
            known = self._check_owner(conn, study)
            if not known:
                conn.execute(studies.insert().values(study_id=study.study_id))
            have = {(r.reader_id, r.case_id) for r in conn.execute(sa.select(assignments.c.reader_id, assignments.c.case_id))}
            new = [r for r in rows if (r["reader_id"], r["case_id"]) not in have]
            if new:
                conn.execute(assignments.insert(), new)
        with self._lock:
            self._allowed = None

    def _assignments(self) -> dict[str, dict[str, bool]]:
        with self._lock:
            if self._allowed is None:
                allowed: dict[str, dict[str, bool]] = {}
                with self.engine.connect() as conn:
                    for r in conn.execute(sa.select(assignments)):
                        allowed.setdefault(r.reader_id, {})[r.case_id] = bool(r.practice)
                self._allowed = allowed
            return self._allowed

    def _check_case(self, reader_id: str, case_id: str) -> bool:
        """Return whether the case is a practice case; refuse cases not in the reader's list."""
        allowed = self._assignments()
        if not allowed:
            raise AnswerRejected("the answers store knows no study cases; open it with "
                                 "AnswerStore(url, study=Study.open(STUDY)) so it can check answers")
        if reader_id not in allowed:
            raise UnknownReader(f"unknown reader {reader_id!r}: not enrolled in this study; use a "
                                "reader id given at 'ganaudit study create --readers'")
        if case_id not in allowed[reader_id]:
            raise AnswerRejected(f"case {case_id!r} is not in reader {reader_id!r}'s list; answer only "
                                 "the cases the study shows you")
        return allowed[reader_id][case_id]

    def check_writable(self) -> None:
        """Refuse a store that cannot be written (a read-only file, folder or database user).

        Makes one real write (a row in ``sessions``, deleted again in the same transaction is
        not enough for SQLite, so it is committed and then removed).
        """
        probe = {"sid_hash": "write-check-" + secrets.token_hex(8), "study_id": "-", "role": "-",
                 "created_at": time.time(), "expires_at": 0.0}
        try:
            with self.engine.begin() as conn:
                conn.execute(sessions.insert().values(**probe))
            with self.engine.begin() as conn:
                conn.execute(sessions.delete().where(sessions.c.sid_hash == probe["sid_hash"]))
        except sa.exc.DBAPIError as exc:
            raise self._not_writable(exc) from exc

    def _not_writable(self, exc: Exception) -> StudyError:
        where = self._safe_url()
        if self._sqlite:
            where = sa.engine.make_url(self.url).database or where
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return StudyError(f"the answers database {where} cannot be written ({reason}); make the file and "
                          "its folder writable by the user running the server, or give --db a database "
                          "it may write to")

    # --- sign-in sessions ------------------------------------------------------------------
    def create_session(self, study_id: str, role: str, *, days: float) -> str:
        """A new random session id for ``role``; only its hash is stored."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(
                sid_hash=_sid_hash(sid), study_id=study_id, role=role, created_at=now,
                expires_at=now + days * 86400.0, revoked_at=None))
        return sid

    def session_role(self, study_id: str, sid: str) -> str | None:
        """The role of a live (not revoked, not expired) session of this study, else None."""
        if not isinstance(sid, str) or not sid:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sessions.c.role, sessions.c.expires_at).where(
                sessions.c.sid_hash == _sid_hash(sid), sessions.c.study_id == study_id,
                sessions.c.revoked_at.is_(None))).first()
        if row is None or row.expires_at < time.time():
            return None
        return row.role

    def revoke_session(self, sid: str) -> None:
        """Sign a session out for good (its cookie no longer opens anything)."""
        if not isinstance(sid, str) or not sid:
            return
        with self.engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.sid_hash == _sid_hash(sid),
                                                 sessions.c.revoked_at.is_(None)).values(revoked_at=time.time()))

    # --- writes ----------------------------------------------------------------------------
    def mark_shown(self, reader_id: str, case_id: str, at=None) -> float:
        """Record when a case was first shown (server clock); returns the stored time.

        Only the first showing writes. That write is committed without waiting for the disk
        (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit=off``, for
        this transaction only): it survives a killed server, and a power cut can at worst lose
        the time a case was first shown, never an answer. Every answer still waits for the disk,
        so each answer costs one disk flush, not two.
        """
        self._check_case(reader_id, case_id)
        where = (shown.c.reader_id == reader_id, shown.c.case_id == case_id)
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(shown.c.shown_at).where(*where)).scalar_one_or_none()
        if stored is not None:
            return stored
        row = {"reader_id": reader_id, "case_id": case_id, "shown_at": _seconds(at)}
        with self.engine.connect() as conn:
            if self._sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
            try:
                if not self._sqlite:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                conn.execute(self._insert_ignore(shown, ["reader_id", "case_id"]).values(**row))
                stored = conn.execute(sa.select(shown.c.shown_at).where(*where)).scalar_one()
                conn.commit()
            finally:
                if self._sqlite:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA synchronous=FULL")
                    conn.commit()
        return stored

    def _insert_ignore(self, table, keys):
        if self._sqlite:
            from sqlalchemy.dialects.sqlite import insert
        elif self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise StudyError(f"unsupported database {self.engine.dialect.name}; use SQLite or PostgreSQL")
        return insert(table).on_conflict_do_nothing(index_elements=keys)

    def add_answer(self, reader_id: str, case_id: str, call: str, confidence: int, *,
                   marks=(), note: str = "", at=None) -> AddResult:
        """Insert an answer; committed before returning.

        Returns ``AddResult(stored=True)`` for a new answer and ``AddResult(duplicate=True)``
        when (reader, case) already has one (a retried request or a double click: the first
        answer stays, nothing is raised). Raises ``AnswerRejected`` for a case not in the
        reader's list or a bad value.
        """
        practice = self._check_case(reader_id, case_id)
        call, confidence = _check_call(call, confidence)
        row = {
            "reader_id": reader_id, "case_id": case_id, "practice": practice, "call": call,
            "confidence": confidence, "score6": score6(call, confidence),
            "marks": json.dumps(clean_marks(marks)), "note": clean_note(note),
            "answered_at": _seconds(at),
        }
        shown_at = sa.select(shown.c.shown_at).where(
            shown.c.reader_id == reader_id, shown.c.case_id == case_id).scalar_subquery()
        try:
            with self.engine.begin() as conn:
                conn.execute(answers.insert().values(**row, shown_at=shown_at))
        except IntegrityError:
            return AddResult(stored=False, duplicate=True)
        return AddResult(stored=True, duplicate=False)

    def change_answer(self, reader_id: str, case_id: str, call: str, confidence: int, *,
                      marks=(), note: str = "", at=None) -> AddResult:
        """Store a new version of an existing answer (only for studies that allow changes).

        The first answer row is kept; the change is a new row in ``answer_changes``. The
        caller (``ReaderSession``) checks that the study allows changes.
        """
        self._check_case(reader_id, case_id)
        call, confidence = _check_call(call, confidence)
        row = {
            "reader_id": reader_id, "case_id": case_id, "call": call, "confidence": confidence,
            "score6": score6(call, confidence), "marks": json.dumps(clean_marks(marks)),
            "note": clean_note(note), "changed_at": _seconds(at),
        }
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(answers.c.id).where(
                answers.c.reader_id == reader_id, answers.c.case_id == case_id)).first()
            if exists is None:
                raise AnswerRejected(f"case {case_id!r} has no answer from {reader_id!r} to change; answer it first")
            conn.execute(answer_changes.insert().values(**row))
        return AddResult(stored=True, duplicate=False, changed=True)

    # --- reads -----------------------------------------------------------------------------
    def answered(self, reader_id: str) -> set[str]:
        """Case ids (practice included) that the reader has answered."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(answers.c.case_id).where(answers.c.reader_id == reader_id)).scalars())

    def shown_at(self, reader_id: str, case_id: str) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(shown.c.shown_at).where(
                shown.c.reader_id == reader_id, shown.c.case_id == case_id)).scalar_one_or_none()

    def answer(self, reader_id: str, case_id: str) -> dict | None:
        """The current answer of (reader, case) (latest change applied), or None."""
        frame = self.answers_frame(reader_id=reader_id)
        rows = frame[frame["case_id"] == case_id]
        return None if rows.empty else rows.iloc[0].to_dict()

    def answers_frame(self, *, reader_id: str | None = None) -> "pd.DataFrame":
        """All answers, latest change applied, one row per (reader, case).

        Columns: reader_id, case_id, practice, call, confidence, score6, marks (JSON text),
        note, shown_at, answered_at, seconds (answered_at − shown_at), changed.
        """
        import pandas as pd

        query = sa.select(answers).order_by(answers.c.id)
        changes_q = sa.select(answer_changes).order_by(answer_changes.c.id)
        if reader_id is not None:
            query = query.where(answers.c.reader_id == reader_id)
            changes_q = changes_q.where(answer_changes.c.reader_id == reader_id)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in answers.c])
            changes = pd.DataFrame(conn.execute(changes_q).mappings().all(), columns=[c.name for c in answer_changes.c])
        frame = frame.drop(columns=["id"])
        frame["changed"] = False
        if not changes.empty:
            latest = changes.groupby(["reader_id", "case_id"]).tail(1).set_index(["reader_id", "case_id"])
            frame = frame.set_index(["reader_id", "case_id"])
            hit = frame.index.isin(latest.index)
            cols = ["call", "confidence", "score6", "marks", "note"]
            frame.loc[hit, cols] = latest.loc[frame.index[hit], cols].to_numpy()
            frame.loc[hit, "changed"] = True
            frame = frame.reset_index()
        frame["practice"] = frame["practice"].astype(bool)
        frame["confidence"] = frame["confidence"].astype(int)
        frame["score6"] = frame["score6"].astype(int)
        frame["seconds"] = frame["answered_at"] - frame["shown_at"]
        return frame

    def progress(self, study: "Study") -> "pd.DataFrame":
        """Per reader: counted cases answered and total (practice answers not counted)."""
        import pandas as pd

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(answers.c.reader_id, sa.func.count()).where(
                answers.c.practice.is_(False)).group_by(answers.c.reader_id)).all()
        done = dict(rows)
        return pd.DataFrame(
            [{"reader": r, "answered": int(done.get(r, 0)), "total": len(study.order(r))} for r in study.reader_ids],
            columns=["reader", "answered", "total"],
        )


def _sid_hash(sid: str) -> str:
    # Session ids are 256 random bits: a plain hash cannot be reversed, and whoever reads the
    # database cannot reuse a stored value as a cookie.
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
