"""ReaderSession: practice first, the reader's own order, resume from the store, refusals."""

from __future__ import annotations

import json

import pytest

from ganaudit.reader_study.errors import AnswerRejected, UnknownReader
from ganaudit.reader_study.session import ReaderSession, score6
from ganaudit.reader_study.store import AnswerStore
from ganaudit.reader_study.study import Study
from tests.reader_study.test_store import make_study


@pytest.fixture()
def opened(tmp_path):
    study = Study.open(make_study(tmp_path, practice=2))
    store = AnswerStore(study.default_db_url())
    yield study, store
    store.close()


def test_walks_practice_then_order(opened):
    study, store = opened
    s = ReaderSession(study, store, "alice")
    seen = []
    texts = []
    while (case := s.current_case()) is not None:
        texts.append(s.progress_text())
        result = s.submit(case, "fake", 2)
        assert result.stored
        if s.is_practice(case):
            truth = json.loads((study.path / "practice.json").read_text())[case]
            assert result.feedback is not None and f"this image is {truth}" in result.feedback
        else:
            assert result.feedback is None
        seen.append(case)
    assert seen == study.practice("alice") + study.order("alice")
    assert texts[:3] == ["practice case 1 of 2", "practice case 2 of 2", "case 1 of 6"]
    assert texts[-1] == "case 6 of 6"
    assert s.finished() and s.progress_text() == "all 6 cases answered" and s.position() == (6, 6)


def test_resume_after_restart_continues_at_next_unanswered(opened):
    study, store = opened
    s = ReaderSession(study, store, "bob")
    for _ in range(4):
        s.submit(s.current_case(), "real", 3)
    store.close()
    fresh_store = AnswerStore(study.default_db_url())  # as after a server restart
    resumed = ReaderSession(Study.open(study.path), fresh_store, "bob")
    assert resumed.current_case() == study.order("bob")[2]
    assert resumed.position() == (3, 6) and resumed.progress_text() == "case 3 of 6"
    fresh_store.close()


def test_readers_have_their_own_orders(opened):
    study, store = opened
    a, b = ReaderSession(study, store, "alice"), ReaderSession(study, store, "bob")
    for _ in range(2):
        a.submit(a.current_case(), "real", 1)
    assert a.current_case() == study.order("alice")[0]
    assert b.current_case() == study.practice("bob")[0]
    assert set(study.order("alice")) == set(study.order("bob"))


def test_double_submit_is_duplicate_not_error(opened):
    study, store = opened
    s = ReaderSession(study, store, "alice")
    case = s.current_case()
    assert s.submit(case, "fake", 3).stored
    again = s.submit(case, "real", 1)
    assert again.duplicate and not again.stored and not again.changed
    assert store.answer("alice", case)["call"] == "fake"


def test_change_allowed_only_when_study_allows(tmp_path):
    study = Study.open(make_study(tmp_path, practice=0, allow_change=True))
    store = AnswerStore(study.default_db_url())
    s = ReaderSession(study, store, "alice")
    case = s.current_case()
    s.submit(case, "fake", 3)
    assert s.submit(case, "fake", 3).duplicate  # same answer again: a retry, nothing to change
    changed = s.submit(case, "real", 2)
    assert changed.changed and not changed.duplicate
    assert store.answer("alice", case)["call"] == "real"
    # Going back only to add a mark or a note is a change too.
    mark = [{"x": 0.5, "y": 0.25, "kind": "artifact"}]
    noted = s.submit(case, "real", 2, marks=mark, note="checkerboard artifact")
    assert noted.changed and not noted.duplicate
    stored = store.answer("alice", case)
    assert stored["note"] == "checkerboard artifact" and json.loads(stored["marks"])[0]["kind"] == "artifact"
    assert s.submit(case, "real", 2, marks=mark, note="checkerboard artifact").duplicate
    store.close()


def test_refusals(opened):
    study, store = opened
    with pytest.raises(UnknownReader, match="unknown reader 'mallory'"):
        ReaderSession(study, store, "mallory")
    s = ReaderSession(study, store, "alice")
    with pytest.raises(AnswerRejected, match="not in reader 'alice'.s list"):
        s.submit("0123456789abcdef", "real", 1)
    later = study.order("alice")[-1]
    with pytest.raises(AnswerRejected, match="has not been shown"):
        s.submit(later, "real", 1)
    case = s.current_case()
    with pytest.raises(AnswerRejected, match="confidence must be"):
        s.submit(case, "real", 0)
    assert store.answered("alice") == set()


def test_current_case_marks_shown_once(opened):
    study, store = opened
    s = ReaderSession(study, store, "alice")
    case = s.current_case()
    first = store.shown_at("alice", case)
    assert s.current_case() == case and store.shown_at("alice", case) == first


def test_score6_exported():
    assert [score6("real", c) for c in (3, 2, 1)] + [score6("fake", c) for c in (1, 2, 3)] == [1, 2, 3, 4, 5, 6]
