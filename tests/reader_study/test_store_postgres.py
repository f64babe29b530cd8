"""Answers store on a real PostgreSQL server (``GANAUDIT_TEST_PG_URL``, started by scripts/test.sh)."""

from __future__ import annotations

import os
import threading

import pytest
import sqlalchemy as sa

from ganaudit.reader_study import store as store_mod
from ganaudit.reader_study.errors import AnswerRejected, StudyError
from ganaudit.reader_study.session import ReaderSession
from ganaudit.reader_study.store import AnswerStore
from ganaudit.reader_study.study import Study
from tests.reader_study.test_store import make_study

PG_URL = os.environ.get("GANAUDIT_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="GANAUDIT_TEST_PG_URL is not set: scripts/test.sh starts a "
                                          "PostgreSQL server and sets it (or: eval \"$(bash scripts/start-postgres.sh)\")"),
]


@pytest.fixture()
def pg(tmp_path):
    engine = sa.create_engine(store_mod.normalize_url(PG_URL))
    store_mod._meta.drop_all(engine)  # each test starts from an empty database
    engine.dispose()
    study = Study.open(make_study(tmp_path, readers="alice,bob,carol", practice=1))
    store = AnswerStore(PG_URL, study=study)
    yield study, store
    store.close()
    engine = sa.create_engine(store_mod.normalize_url(PG_URL))
    store_mod._meta.drop_all(engine)
    engine.dispose()


def test_add_duplicate_and_frame(pg):
    study, store = pg
    case = study.order("alice")[0]
    store.mark_shown("alice", case, at=10.0)
    assert store.mark_shown("alice", case, at=20.0) == 10.0
    assert store.add_answer("alice", case, "fake", 3, marks=[{"x": 0.1, "y": 0.9, "kind": "finding"}],
                            at=12.5).stored
    assert store.add_answer("alice", case, "real", 1).duplicate
    frame = store.answers_frame()
    assert len(frame) == 1 and frame.iloc[0]["call"] == "fake" and frame.iloc[0]["seconds"] == pytest.approx(2.5)
    with pytest.raises(AnswerRejected, match="not in reader 'alice'.s list"):
        store.add_answer("alice", "0123456789abcdef", "real", 1)


def test_concurrent_double_clicks_store_one(pg):
    study, store = pg
    case = study.order("bob")[0]
    barrier = threading.Barrier(6)
    results = []

    def click():
        barrier.wait()
        results.append(store.add_answer("bob", case, "real", 2))

    threads = [threading.Thread(target=click) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.stored for r in results) == 1 and sum(r.duplicate for r in results) == 5


def test_session_resumes_from_postgres(pg):
    study, store = pg
    s = ReaderSession(study, store, "carol")
    for _ in range(3):
        s.submit(s.current_case(), "fake", 1)
    store.close()
    fresh = AnswerStore(PG_URL)
    resumed = ReaderSession(study, fresh, "carol")
    assert resumed.current_case() == study.order("carol")[2]
    assert fresh.progress(study).set_index("reader").loc["carol", "answered"] == 2
    fresh.close()


def test_other_study_refused(pg, tmp_path):
    other = Study.open(make_study(tmp_path / "other"))
    with pytest.raises(StudyError, match="belongs to study"):
        AnswerStore(PG_URL, study=other)


def test_analysis_reads_postgres(pg):
    from ganaudit.reader_study.analysis import analyze_study

    study, store = pg
    for reader in study.reader_ids:
        s = ReaderSession(study, store, reader)
        while (case := s.current_case()) is not None:
            s.submit(case, "fake" if hash((reader, case)) % 2 else "real", 2)
    result = analyze_study(study.path, db=PG_URL, n_boot=50)
    assert result.summary["n_answers"] == 18 and result.summary["complete"]
