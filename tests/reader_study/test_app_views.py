"""Server side of the reader-study app without a browser: the reader view, sign-in cookies,
the admin tables. (The browser itself is exercised in ``test_browser.py``.)"""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest

from tests.reader_study.conftest import LABELS, N_CASES, N_PRACTICE


@pytest.fixture(scope="module")
def opened(study):
    from reader_study.store import AnswerStore
    from reader_study.study import Study

    s = Study.open(study.path)
    store = AnswerStore.for_study(s)
    yield s, store
    store.close()


def _view(opened, reader):
    from reader_study.app.reader import ReaderView
    from reader_study.session import ReaderSession

    s, store = opened
    return ReaderView(s, ReaderSession(s, store, reader))


def _answer(view, *, call="fake", confidence=2, **extra):
    msg = {"type": "submit", "case": view.viewer.case, "call": call, "confidence": confidence,
           "marks": [], "note": ""}
    msg.update(extra)
    return msg


def _rows(opened, reader):
    frame = opened[1].answers_frame()
    return frame[frame["reader_id"] == reader]


def test_view_shows_cases_in_the_readers_order_with_progress(opened):
    s, _ = opened
    view = _view(opened, "alice")
    expected = s.practice("alice") + s.order("alice")
    seen = []
    for i in range(N_PRACTICE + 2):
        v = view.viewer
        seen.append(v.case)
        assert v.image.startswith("data:image/png;base64,")
        assert v.practice == (i < N_PRACTICE)
        want = f"practice case {i + 1} of {N_PRACTICE}" if i < N_PRACTICE else f"case {i - N_PRACTICE + 1} of {N_CASES}"
        assert v.progress == want
        revision = v.revision
        view.submit(_answer(view))
        assert view.viewer.revision == revision + 1
    assert seen == expected[:N_PRACTICE + 2]
    # Feedback follows practice cases only.
    assert view.viewer.feedback == ""


def test_practice_feedback_names_the_practice_truth(opened, study):
    view = _view(opened, "bob")
    case = view.viewer.case
    truth = json.loads((study.path / "practice.json").read_text())[case]
    view.submit(_answer(view, call="real"))
    assert f"this image is {truth}" in view.viewer.feedback


def test_double_submit_and_stale_retry_store_one_answer_without_a_notice(opened):
    view = _view(opened, "carol")
    msg = _answer(view, call="real", confidence=3)
    view.submit(msg)
    after_first = view.viewer.case
    view.submit(msg)  # double click: the same message again
    view.submit(dict(msg))  # a retried request
    assert view.viewer.case == after_first
    assert view.viewer.notice == ""
    rows = _rows(opened, "carol")
    assert (rows["case_id"] == msg["case"]).sum() == 1
    assert len(rows) == 1


@pytest.mark.parametrize("bad, match", [
    ({"call": "maybe"}, "not stored"),
    ({"confidence": 7}, "not stored"),
    ({"confidence": 2.5}, "not stored"),
    ({"confidence": "2"}, "not stored"),
    ({"case": "0123456789abcdef"}, "not stored"),
])
def test_refused_answers_keep_the_case_and_say_why(opened, bad, match):
    view = _view(opened, "dave")
    case = view.viewer.case
    before = len(_rows(opened, "dave"))
    view.submit(_answer(view, **bad))
    assert match in view.viewer.notice
    assert view.viewer.case == case
    assert len(_rows(opened, "dave")) == before


def test_malformed_messages_are_ignored(opened):
    view = _view(opened, "dave")
    case, revision = view.viewer.case, view.viewer.revision
    for data in (None, "submit", {"type": "other"}, ["submit"]):
        view._on_msg(type("Event", (), {"data": data})())
    assert (view.viewer.case, view.viewer.revision) == (case, revision)


def test_marks_are_cleaned_before_storing(opened):
    from reader_study.app.reader import _clean_marks

    marks = [{"x": 0.2, "y": 0.3, "kind": "finding"}, {"x": 1.5, "y": 0.3, "kind": "finding"},
             {"x": 0.1, "y": 0.1, "kind": "label"}, {"x": "a", "y": 0, "kind": "artifact"}, "junk",
             {"x": 0.9, "y": 0.95, "kind": "artifact"}]
    assert _clean_marks(marks) == [{"x": 0.2, "y": 0.3, "kind": "finding"},
                                   {"x": 0.9, "y": 0.95, "kind": "artifact"}]
    assert _clean_marks("nope") == []
    assert len(_clean_marks([{"x": 0.5, "y": 0.5, "kind": "finding"}] * 50)) == 20
    view = _view(opened, "erin")
    case = view.viewer.case
    view.submit(_answer(view, marks=marks, note="edge"))
    row = _rows(opened, "erin").set_index("case_id").loc[case]
    assert json.loads(row["marks"]) == _clean_marks(marks)
    assert row["note"] == "edge"


def test_viewer_state_never_holds_truth_labels_or_sources(opened, study):
    view = _view(opened, "erin")
    values = json.dumps({k: v for k, v in view.viewer.param.values().items() if isinstance(v, (str, bool, int))})
    for word in (*LABELS, *study.sources, "truth"):
        assert word not in values


def test_signed_cookie_roles(opened, tmp_path):
    from tornado.web import create_signed_value

    from reader_study.app.login import COOKIE, load_cookie_secret, role_from_cookie

    s, _ = opened
    secret = load_cookie_secret(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / ".cookie_secret").st_mode) == 0o600
    assert load_cookie_secret(tmp_path) == secret
    good = create_signed_value(secret, COOKIE, "reader:alice")
    assert role_from_cookie(good, secret, s) == "reader:alice"
    assert role_from_cookie(create_signed_value(secret, COOKIE, "admin"), secret, s) == "admin"
    assert role_from_cookie(create_signed_value(secret, COOKIE, "reader:mallory"), secret, s) is None
    assert role_from_cookie(create_signed_value("x" * 64, COOKIE, "admin"), secret, s) is None
    tampered = good.decode().replace("cmVhZGVyOmFsaWNl", "YWRtaW4=")  # base64 "admin"
    assert role_from_cookie(tampered, secret, s) is None
    assert role_from_cookie(None, secret, s) is None


@pytest.mark.parametrize("target, expected", [
    ("/admin", "/admin"), ("/admin/", "/admin"), ("/", "/"), (None, "/"),
    ("//evil.example/admin-x", "/"), ("https://evil.example/", "/"),
])
def test_sign_in_only_redirects_to_the_apps_pages(target, expected):
    from reader_study.app.login import _safe_next

    assert _safe_next(target) == expected


def test_websocket_origins():
    from reader_study.app.serve import _origins

    assert "127.0.0.1:6000" in _origins("127.0.0.1", 6000, None)
    assert _origins("0.0.0.0", 6000, None) == ["*"]
    assert _origins("0.0.0.0", 6000, ["reading.example:443"]) == ["reading.example:443"]


def test_serve_refuses_a_folder_that_is_not_a_study(tmp_path):
    from reader_study.app.serve import serve
    from reader_study.errors import StudyError

    with pytest.raises(StudyError, match="no study at .*study.json missing"):
        serve(tmp_path / "missing", port=0)


def test_admin_tables_and_exports(opened):
    from reader_study.app.admin import AdminView

    s, store = opened
    reader_view = _view(opened, "bob")
    for _ in range(N_PRACTICE + 1):
        reader_view.submit(_answer(reader_view))
    view = AdminView(s, store)
    try:
        frame = view.progress_frame()
        assert list(frame["reader"]) == s.reader_ids
        answered = store.answers_frame()
        counted = answered[~answered["practice"]].groupby("reader_id").size()
        for _, row in frame.iterrows():
            assert row["answered"] == counted.get(row["reader"], 0)
            assert row["percent"] == pytest.approx(100 * row["answered"] / N_CASES, abs=0.05)
        rows = list(csv.DictReader(io.StringIO(view._answers_csv().getvalue())))
        assert len(rows) == len(answered)
        assert {"reader_id", "case_id", "call", "confidence", "score6", "seconds"} <= set(rows[0])
        summary = view._summary().object
        assert f"{len(answered[~answered['practice']])} of {N_CASES * len(s.reader_ids)} answers" in summary
    finally:
        view._callback.stop()


def test_serve_on_a_busy_port_says_how_to_fix_it(study):
    import socket

    import panel as pn

    from gan_models.errors import InputError
    from reader_study.app.serve import serve

    before = pn.config.authorize_callback
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
                serve(study.path, port=port)
        finally:
            pn.config.authorize_callback = before


@pytest.fixture(scope="module")
def change_study(study, tmp_path_factory):
    """A second study (same images) created with allow_change=True, one reader."""
    from reader_study.create import create_study
    from reader_study.store import AnswerStore
    from reader_study.study import Study

    base = study.path.parent
    created = create_study(base / study.folders[0], [(str(base / study.folders[1]), LABELS[0])],
                           ["ann"], 4, tmp_path_factory.mktemp("change") / "study", seed=2,
                           allow_change=True)
    s = Study.open(created.path)
    store = AnswerStore.for_study(s)
    yield s, store
    store.close()


def test_back_changes_an_answer_when_the_study_allows_it(change_study):
    view = _view(change_study, "ann")
    s, store = change_study
    order = s.order("ann")
    assert view.viewer.can_change
    view.submit(_answer(view, call="real", confidence=1))
    view.submit(_answer(view, call="fake", confidence=3))
    assert view.viewer.case == order[2]
    view.back()
    assert (view.viewer.case, view.viewer.reviewing) == (order[1], True)
    assert (view.viewer.prev_call, view.viewer.prev_confidence) == ("fake", 3)
    assert view.viewer.progress == f"changing your answer to case 2 of {len(order)}"
    view.back()
    assert view.viewer.case == order[0] and view.viewer.prev_call == "real"
    view.back()  # nothing earlier
    assert "no earlier answer" in view.viewer.notice and view.viewer.case == order[0]
    view.submit(_answer(view, call="fake", confidence=2))
    assert view.viewer.case == order[2] and not view.viewer.reviewing
    row = store.answer("ann", order[0])
    assert (row["call"], row["confidence"], bool(row["changed"])) == ("fake", 2, True)
    assert len(store.answers_frame()) == 2
    view.back()
    view.resume()
    assert view.viewer.case == order[2] and not view.viewer.reviewing


def test_back_is_refused_when_the_study_does_not_allow_changes(opened):
    view = _view(opened, "erin")
    assert not view.viewer.can_change
    case = view.viewer.case
    view.back()
    assert "does not allow changing" in view.viewer.notice
    assert view.viewer.case == case and not view.viewer.reviewing


def test_a_database_failure_keeps_the_case_and_says_so(opened, monkeypatch):
    view = _view(opened, "dave")
    case, revision = view.viewer.case, view.viewer.revision

    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(view._session, "submit", broken)
    monkeypatch.setattr(view._session, "current_case", broken)
    view.submit(_answer(view))
    assert "could not be saved" in view.viewer.notice
    assert view.viewer.case == case and view.viewer.revision == revision + 1
