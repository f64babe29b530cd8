"""Answers store (SQLite): insert-only, one answer per (reader, case), committed, durable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from ganaudit.gan_models.data import write_png16
from ganaudit.reader_study.create import create_study
from ganaudit.reader_study.errors import AnswerRejected, StudyError, UnknownReader
from ganaudit.reader_study.store import AnswerStore, normalize_url, score6
from ganaudit.reader_study.study import Study

ROOT = Path(__file__).resolve().parents[2]


def make_study(base: Path, *, readers="alice,bob", n_cases=6, practice=2, allow_change=False, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    write_png16(rng.uniform(-1, 1, (8, 16, 16)).astype(np.float32), base / "real")
    write_png16(rng.uniform(-1, 1, (8, 16, 16)).astype(np.float32), base / "fake")
    return create_study(base / "real", [(str(base / "fake"), "epoch-0001")], readers, n_cases, base / "study",
                        practice=practice, allow_change=allow_change, seed=seed).path


@pytest.fixture()
def opened(tmp_path):
    study = Study.open(make_study(tmp_path))
    store = AnswerStore(study.default_db_url())
    yield study, store
    store.close()


@pytest.mark.parametrize("call, confidence, expected", [
    ("real", 3, 1), ("real", 2, 2), ("real", 1, 3), ("fake", 1, 4), ("fake", 2, 5), ("fake", 3, 6),
])
def test_score6(call, confidence, expected):
    assert score6(call, confidence) == expected


def test_add_answer_then_duplicate_keeps_first(opened):
    study, store = opened
    case = study.order("alice")[0]
    first = store.add_answer("alice", case, "fake", 3, marks=[{"x": 0.2, "y": 0.7, "kind": "artifact"}], note="ring")
    assert first.stored and not first.duplicate
    again = store.add_answer("alice", case, "real", 1)
    assert again.duplicate and not again.stored
    frame = store.answers_frame()
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["call"], row["confidence"], row["score6"], row["note"]) == ("fake", 3, 6, "ring")
    assert '"artifact"' in row["marks"]
    assert store.answered("alice") == {case} and store.answered("bob") == set()


def test_committed_before_returning(opened):
    study, store = opened
    case = study.order("bob")[1]
    store.add_answer("bob", case, "real", 2)
    other = AnswerStore(study.default_db_url())  # a separate connection pool sees it at once
    try:
        assert other.answered("bob") == {case}
    finally:
        other.close()


def test_sqlite_is_wal_and_synchronous_full(opened):
    study, store = opened
    # Recording a first showing relaxes the flush for its own transaction only.
    store.mark_shown("alice", study.order("alice")[0])
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    other = AnswerStore(study.default_db_url())  # what was recorded is committed
    try:
        assert other.shown_at("alice", study.order("alice")[0]) is not None
    finally:
        other.close()


@pytest.mark.parametrize("kwargs, match", [
    ({"call": "maybe"}, "call must be 'real' or 'fake'"),
    ({"confidence": 4}, "confidence must be 1"),
    ({"confidence": True}, "confidence must be 1"),
    ({"marks": [{"x": 1.5, "y": 0.1}]}, "mark x must be a number from 0 to 1"),
    ({"marks": [{"x": 0.5, "y": 0.1, "kind": "tumour"}]}, "kind must be 'finding' or 'artifact'"),
    ({"marks": [{"x": 0.5}]}, "keys x, y"),
    ({"marks": "here"}, "marks must be a list"),
    ({"note": "x" * 2001}, "2001 characters long, over the limit of 2000; shorten it"),
    ({"marks": [{"x": 0.5, "y": 0.5}] * 21}, "at most 20 marks per case, got 21; remove some"),
])
def test_bad_values_rejected(opened, kwargs, match):
    study, store = opened
    args = {"call": "fake", "confidence": 2} | kwargs
    call, confidence = args.pop("call"), args.pop("confidence")
    with pytest.raises(AnswerRejected, match=match):
        store.add_answer("alice", study.order("alice")[0], call, confidence, **args)
    assert store.answers_frame().empty


def test_case_not_in_list_and_unknown_reader(opened, tmp_path):
    study, store = opened
    with pytest.raises(AnswerRejected, match="not in reader 'alice'.s list"):
        store.add_answer("alice", "0123456789abcdef", "real", 1)
    with pytest.raises(UnknownReader, match="unknown reader 'mallory'"):
        store.add_answer("mallory", study.order("alice")[0], "real", 1)
    with pytest.raises(UnknownReader, match="unknown reader"):
        store.mark_shown("mallory", study.order("alice")[0])


def test_mark_shown_first_time_wins_and_timing(opened):
    study, store = opened
    case = study.order("alice")[2]
    assert store.mark_shown("alice", case, at=100.0) == 100.0
    assert store.mark_shown("alice", case, at=150.0) == 100.0
    store.add_answer("alice", case, "real", 1, at=104.5)
    row = store.answers_frame().iloc[0]
    assert row["shown_at"] == 100.0 and row["answered_at"] == 104.5 and row["seconds"] == pytest.approx(4.5)


def test_double_click_from_many_threads_stores_one(opened):
    study, store = opened
    case = study.order("alice")[3]
    results = []
    barrier = threading.Barrier(8)

    def click():
        barrier.wait()
        results.append(store.add_answer("alice", case, "fake", 2))

    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.stored for r in results) == 1 and sum(r.duplicate for r in results) == 7
    assert len(store.answers_frame()) == 1


def test_concurrent_readers_all_stored(tmp_path):
    path = make_study(tmp_path, readers="r1,r2,r3,r4", n_cases=6, practice=0)
    study = Study.open(path)
    errors = []

    def read_all(reader):
        try:
            own = AnswerStore(study.default_db_url())
            for case in study.order(reader):
                own.mark_shown(reader, case)
                own.add_answer(reader, case, "real", 1)
            own.close()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=read_all, args=(r,)) for r in study.reader_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = AnswerStore(study.default_db_url())
    assert len(store.answers_frame()) == 24
    assert store.progress(study)["answered"].tolist() == [6, 6, 6, 6]
    store.close()


def test_answer_survives_sigkill_right_after_commit(opened):
    study, store = opened
    case = study.order("bob")[0]
    script = textwrap.dedent(f"""
        import os, signal
        from ganaudit.reader_study.store import AnswerStore
        s = AnswerStore({study.default_db_url()!r})
        r = s.add_answer("bob", {case!r}, "fake", 3)
        print("stored" if r.stored else "dup", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9 and proc.stdout.strip() == "stored"
    fresh = AnswerStore(study.default_db_url())
    assert fresh.answered("bob") == {case}
    fresh.close()


def test_insert_only_change_keeps_original(opened):
    study, store = opened
    case = study.order("alice")[0]
    store.add_answer("alice", case, "real", 3)
    res = store.change_answer("alice", case, "fake", 1)
    assert res.changed
    frame = store.answers_frame()
    assert frame.iloc[0]["call"] == "fake" and bool(frame.iloc[0]["changed"])
    with store.engine.connect() as conn:
        original = conn.exec_driver_sql("SELECT call, confidence FROM answers").all()
        changes = conn.exec_driver_sql("SELECT call, confidence FROM answer_changes").all()
    assert original == [("real", 3)] and changes == [("fake", 1)]
    with pytest.raises(AnswerRejected, match="no answer from 'alice' to change"):
        store.change_answer("alice", study.order("alice")[1], "fake", 1)


def test_unique_constraint_is_in_the_database(opened):
    study, store = opened
    case = study.order("alice")[0]
    store.add_answer("alice", case, "real", 3)
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO answers (reader_id, case_id, practice, call, confidence, score6, marks, note, answered_at)"
                f" VALUES ('alice', '{case}', 0, 'fake', 1, 4, '[]', '', 1.0)")


def test_practice_answers_not_counted_in_progress(opened):
    study, store = opened
    store.add_answer("alice", study.practice("alice")[0], "real", 1)
    store.add_answer("alice", study.order("alice")[0], "real", 1)
    progress = store.progress(study).set_index("reader")
    assert progress.loc["alice", "answered"] == 1 and progress.loc["alice", "total"] == 6
    frame = store.answers_frame()
    assert sorted(frame["practice"].tolist()) == [False, True]


def test_database_of_another_study_is_refused(tmp_path):
    a = Study.open(make_study(tmp_path / "a"))
    b = Study.open(make_study(tmp_path / "b"))
    with pytest.raises(StudyError, match="belongs to study .*give each study its own database"):
        AnswerStore(a.default_db_url(), study=b)


def test_store_without_study_cases_refuses_answers(tmp_path):
    store = AnswerStore(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(AnswerRejected, match="knows no study cases"):
        store.add_answer("alice", "0123456789abcdef", "real", 1)
    store.close()


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u@h:1/db", "postgresql+psycopg://u@h:1/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///a.db", "sqlite:///a.db"),
])
def test_postgresql_urls_use_psycopg3(url, expected):
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url, match", [
    ("answers.db", "database URL must look like"),
    ("mysql+nosuchdriver://x/y", "cannot"),
])
def test_bad_url(url, match):
    with pytest.raises(StudyError, match=match):
        AnswerStore(url)


def test_a_new_sqlite_store_is_private_and_sessions_are_revocable(tmp_path):
    import os
    import stat

    from ganaudit.reader_study.store import AnswerStore

    path = tmp_path / "answers.db"
    store = AnswerStore(f"sqlite:///{path}")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        store.check_writable()
        sid = store.create_session("study-a", "reader:alice", days=1)
        assert store.session_role("study-a", sid) == "reader:alice"
        assert store.session_role("study-b", sid) is None  # another study's session
        assert store.session_role("study-a", sid + "x") is None
        store.revoke_session(sid)
        assert store.session_role("study-a", sid) is None
        # Only a hash of the id is stored: the database holds nothing to replay.
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("answers.db*"))
        assert sid.encode() not in stored and store.engine.dialect.name == "sqlite"
    finally:
        store.close()


def test_analysis_reads_a_store_written_before_sessions_existed(opened):
    import sqlalchemy as sa

    from ganaudit.reader_study.store import AnswerStore

    study, store = opened
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE sessions"))
    reader = AnswerStore(study.default_db_url(), study=study, create=False)
    try:
        assert reader.answers_frame().empty
    finally:
        reader.close()
