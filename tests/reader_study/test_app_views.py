"""Server side of the reader-study app without a browser: the reader view, sign-in sessions,
the admin tables, and the served app's routes over HTTP (sign-in, sign-out, throttling,
closed framework routes). (The browser itself is exercised in ``test_browser.py``.)"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import socket
import stat
import time
import urllib.parse

import pytest

from tests.reader_study.conftest import LABELS, N_CASES, N_PRACTICE


@pytest.fixture(scope="module")
def opened(study):
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    s = Study.open(study.path)
    store = AnswerStore.for_study(s)
    yield s, store
    store.close()


def _view(opened, reader):
    from ganaudit.reader_study.app.reader import ReaderView
    from ganaudit.reader_study.session import ReaderSession

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
    from ganaudit.reader_study.app.reader import _clean_marks

    marks = [{"x": 0.2, "y": 0.3, "kind": "finding"}, {"x": 1.5, "y": 0.3, "kind": "finding"},
             {"x": 0.1, "y": 0.1, "kind": "label"}, {"x": "a", "y": 0, "kind": "artifact"}, "junk",
             {"x": 0.9, "y": 0.95, "kind": "artifact"}]
    assert _clean_marks(marks) == [{"x": 0.2, "y": 0.3, "kind": "finding"},
                                   {"x": 0.9, "y": 0.95, "kind": "artifact"}]
    assert _clean_marks("nope") == []
    # Never cut to the limit: the store refuses too many, with a message (see below).
    assert len(_clean_marks([{"x": 0.5, "y": 0.5, "kind": "finding"}] * 50)) == 50
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


def test_session_cookie_roles(opened, tmp_path):
    from tornado.web import create_signed_value

    from ganaudit.reader_study.app.login import COOKIE, Sessions, load_cookie_secret

    s, store = opened
    secret = load_cookie_secret(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / ".cookie_secret").st_mode) == 0o600
    assert load_cookie_secret(tmp_path) == secret
    sessions = Sessions(s, store, secret)

    def cookie(role, key=secret):
        return create_signed_value(key, COOKIE, store.create_session(s.study_id, role, days=1))

    good = cookie("reader:alice")
    assert sessions.role(good) == "reader:alice"
    assert sessions.role(cookie("admin")) == "admin"
    assert sessions.role(cookie("reader:mallory")) is None  # not enrolled
    assert sessions.role(cookie("admin", "x" * 64)) is None  # not signed with the study's secret
    # The role is not in the cookie: a signed value naming a role is no session.
    assert sessions.role(create_signed_value(secret, COOKIE, "admin")) is None
    assert sessions.role(None) is None
    expired = create_signed_value(secret, COOKIE, store.create_session(s.study_id, "admin", days=-1))
    assert sessions.role(expired) is None


def test_recreated_study_revokes_earlier_cookies(study, tmp_path):
    """A study created again (same readers, even the same cookie secret) knows no old session."""
    import shutil

    from tornado.web import create_signed_value

    from ganaudit.reader_study.app.login import COOKIE, Sessions
    from ganaudit.reader_study.create import create_study
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    base = study.path.parent
    secret = "s" * 64

    def made(out):
        created = create_study(base / study.folders[0], [(str(base / study.folders[1]), LABELS[0])],
                               ["alice"], 4, out, seed=1)
        s = Study.open(created.path)
        return s, AnswerStore.for_study(s)

    first, store = made(tmp_path / "study")
    old = create_signed_value(secret, COOKIE, store.create_session(first.study_id, "reader:alice", days=1))
    assert Sessions(first, store, secret).role(old) == "reader:alice"
    store.close()
    shutil.rmtree(tmp_path / "study")
    again, store = made(tmp_path / "study")
    try:
        assert Sessions(again, store, secret).role(old) is None
    finally:
        store.close()


@pytest.mark.parametrize("target, expected", [
    ("/admin", "/admin"), ("/admin/", "/admin"), ("/", "/"), (None, "/"),
    ("//evil.example/admin-x", "/"), ("https://evil.example/", "/"),
])
def test_sign_in_only_redirects_to_the_apps_pages(target, expected):
    from ganaudit.reader_study.app.login import _safe_next

    assert _safe_next(target) == expected


def test_websocket_origins():
    from ganaudit.reader_study.app.serve import _origins

    assert "127.0.0.1:6000" in _origins("127.0.0.1", 6000, None)
    assert _origins("0.0.0.0", 6000, None) == ["*"]
    assert _origins("0.0.0.0", 6000, ["reading.example:443"]) == ["reading.example:443"]


def test_serve_refuses_a_folder_that_is_not_a_study(tmp_path):
    from ganaudit.reader_study.app.serve import serve
    from ganaudit.reader_study.errors import StudyError

    with pytest.raises(StudyError, match="no study at .*study.json missing"):
        serve(tmp_path / "missing", port=0)


def test_admin_tables_and_exports(opened):
    from ganaudit.reader_study.app.admin import AdminView

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

    from ganaudit.gan_models.errors import InputError
    from ganaudit.reader_study.app.serve import serve

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
    from ganaudit.reader_study.create import create_study
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

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


# --- limits, exports, pages without tracebacks ----------------------------------------------
def test_over_long_notes_and_too_many_marks_are_refused_with_a_message(opened):
    from ganaudit.reader_study.app.reader import CaseViewer
    from ganaudit.reader_study.store import MAX_MARKS, MAX_NOTE

    view = _view(opened, "erin")
    case = view.viewer.case
    before = len(_rows(opened, "erin"))
    view.submit(_answer(view, note="x" * (MAX_NOTE + 1)))
    assert f"over the limit of {MAX_NOTE}" in view.viewer.notice and "not stored" in view.viewer.notice
    assert view.viewer.case == case and len(_rows(opened, "erin")) == before
    mark = {"x": 0.5, "y": 0.5, "kind": "finding"}
    view.submit(_answer(view, marks=[mark] * (MAX_MARKS + 1)))
    assert f"at most {MAX_MARKS} marks" in view.viewer.notice
    assert view.viewer.case == case and len(_rows(opened, "erin")) == before
    # At the limit: stored whole, nothing cut.
    view.submit(_answer(view, note="y" * MAX_NOTE, marks=[mark] * MAX_MARKS))
    row = _rows(opened, "erin").set_index("case_id").loc[case]
    assert row["note"] == "y" * MAX_NOTE and len(json.loads(row["marks"])) == MAX_MARKS
    # One limit, defined once: the browser gets it from the viewer, and holds no copy.
    assert (view.viewer.max_note, view.viewer.max_marks) == (MAX_NOTE, MAX_MARKS)
    js = CaseViewer._esm.read_text(encoding="utf-8")
    assert ".maxLength" not in js and "model.max_note" in js and "model.max_marks" in js
    assert str(MAX_NOTE) not in js


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+2", "'+1+2"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("fine = ok", "fine = ok"), ("", ""), (-0.5, -0.5), (3, 3),
])
def test_csv_cells_that_start_a_formula_are_neutralised(cell, expected):
    from ganaudit.reader_study.csvsafe import neutralise_csv_cell

    assert neutralise_csv_cell(cell) == expected


def test_admin_export_neutralises_formula_notes(opened):
    from ganaudit.reader_study.app.admin import AdminView

    s, store = opened
    view = _view(opened, "alice")
    case = view.viewer.case
    view.submit(_answer(view, note="=cmd|' /C calc'!A0"))
    admin = AdminView(s, store)
    try:
        rows = list(csv.DictReader(io.StringIO(admin._answers_csv().getvalue())))
    finally:
        admin._callback.stop()
    note = next(r["note"] for r in rows if r["case_id"] == case and r["reader_id"] == "alice")
    assert note == "'=cmd|' /C calc'!A0"
    assert all(not r["note"].startswith(("=", "+", "-", "@")) for r in rows)


def test_reader_page_shows_no_traceback_when_the_database_fails(opened, monkeypatch):
    import sqlalchemy as sa

    from ganaudit.reader_study.app import login, serve

    s, store = opened

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO shown ...", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(login, "session_role", lambda sessions: "reader:dave")
    monkeypatch.setattr(store, "mark_shown", broken)
    page = serve.build_apps(s, store, sessions=None)["/"]()
    text = page.object
    assert serve.SERVER_PROBLEM in text
    for leak in ("Traceback", "INSERT", "readonly", "sqlite", str(s.path)):
        assert leak not in text


def test_serve_refuses_a_database_it_cannot_write(study, tmp_path):
    import shutil

    import panel as pn

    from ganaudit.reader_study.app.serve import serve
    from ganaudit.reader_study.errors import StudyError

    db = tmp_path / "answers.db"
    shutil.copy(study.path / "answers.db", db)
    before = pn.config.authorize_callback
    with socket.socket() as busy:
        # A busy port: a server that skipped the check fails to listen instead of serving.
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            with pytest.raises(StudyError, match="answers database .*cannot be written.*writable"):
                serve(study.path, port=busy.getsockname()[1], db=f"sqlite:///file:{db}?mode=ro&uri=true")
        finally:
            pn.config.authorize_callback = before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_serve_refuses_a_read_only_database_file(study, tmp_path):
    import shutil

    import panel as pn

    from ganaudit.reader_study.app.serve import serve
    from ganaudit.reader_study.errors import StudyError

    db = tmp_path / "ro" / "answers.db"
    db.parent.mkdir()
    shutil.copy(study.path / "answers.db", db)
    db.chmod(0o444)
    db.parent.chmod(0o555)
    before = pn.config.authorize_callback
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            with pytest.raises(StudyError, match="cannot be written"):
                serve(study.path, port=busy.getsockname()[1], db=f"sqlite:///{db}")
        finally:
            db.parent.chmod(0o755)
            pn.config.authorize_callback = before


# --- the served app over HTTP ----------------------------------------------------------------
def _http(served, method: str, path: str, *, form: dict | None = None, cookie: str | None = None,
          origin: str | None = "same", referer: str | None = None):
    """(status, headers, body) of one request; ``origin="same"`` names the server itself."""
    headers = {}
    if origin == "same":
        origin = served.url
    if origin:
        headers["Origin"] = origin
    if referer:
        headers["Referer"] = referer
    if cookie:
        headers["Cookie"] = cookie
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _sign_in(served, form: dict, **kwargs) -> str:
    status, response, body = _http(served, "POST", "/login", form=form, **kwargs)
    assert status == 303, body[-300:]
    return response.getheader("Set-Cookie").split(";")[0]


def _signed_in(served, cookie: str) -> bool:
    status, response, _ = _http(served, "GET", "/", cookie=cookie, origin=None)
    return status == 200


def test_component_and_resource_routes_need_sign_in_and_answer_at_once(served, study):
    # Panel's component route imports the module a URL names, before any sign-in check.
    for path in ("/components/tensorflow/x/_css/y", "/components/this/x/_css/y",
                 "/components/ganaudit.reader_study.app.reader/CaseViewer/_stylesheets/0"):
        started = time.perf_counter()
        status, _, body = _http(served, "GET", path, origin=None)
        assert time.perf_counter() - started < 1.0
        assert status in (403, 404) and "Traceback" not in body
    cookie = _sign_in(served, {"reader": "bob", "password": study.passwords["bob"]})
    for path in ("/static/js/bokeh.min.js", "/favicon.ico", "/metadata"):
        assert _http(served, "GET", path, origin=None)[0] == 403
    assert _http(served, "GET", "/static/js/bokeh.min.js", cookie=cookie, origin=None)[0] == 200
    assert _http(served, "GET", "/components/tensorflow/x/_css/y", cookie=cookie, origin=None)[0] == 404
    assert _http(served, "GET", "/health", origin=None)[0] == 200


@pytest.mark.parametrize("origin, referer", [
    ("http://evil.example", None), ("null", None), (None, None), (None, "http://evil.example/page"),
])
def test_sign_in_refuses_cross_site_requests(served, study, origin, referer):
    for form in ({"reader": "carol", "password": study.passwords["carol"]},
                 {"password": study.admin_password, "next": "/admin"},
                 {"invite": study.tokens["carol"]}):
        status, response, body = _http(served, "POST", "/login", form=form, origin=origin, referer=referer)
        assert status == 403 and response.getheader("Set-Cookie") is None
        assert "did not come from this study" in body
    # The same sign-in from the study's own page works (Referer alone is enough).
    _sign_in(served, {"reader": "carol", "password": study.passwords["carol"]}, origin=None,
             referer=f"{served.url}/login")


def test_sign_out_refuses_cross_site_requests_and_a_get(served, study):
    cookie = _sign_in(served, {"reader": "dave", "password": study.passwords["dave"]})
    status, _, body = _http(served, "GET", "/logout", cookie=cookie, origin=None)
    assert status == 200 and 'method="post"' in body
    assert _http(served, "POST", "/logout", cookie=cookie, origin="http://evil.example")[0] == 403
    assert _http(served, "POST", "/logout", cookie=cookie, origin=None)[0] == 403
    assert _signed_in(served, cookie)


@pytest.mark.parametrize("who", ["reader", "admin"])
def test_sign_out_revokes_the_cookie(served, study, who):
    form = ({"reader": "alice", "password": study.passwords["alice"]} if who == "reader"
            else {"password": study.admin_password, "next": "/admin"})
    cookie = _sign_in(served, form)
    page = "/" if who == "reader" else "/admin"
    assert _http(served, "GET", page, cookie=cookie, origin=None)[0] == 200
    status, response, _ = _http(served, "POST", "/logout", cookie=cookie)
    assert status == 303 and response.getheader("Location") == "./login"
    # The old cookie, replayed, opens nothing any more.
    status, response, _ = _http(served, "GET", page, cookie=cookie, origin=None)
    assert status == 302 and "login" in response.getheader("Location")
    assert _http(served, "GET", "/static/js/bokeh.min.js", cookie=cookie, origin=None)[0] == 403


def test_invite_link_signs_in_by_a_same_site_post_and_asks_before_switching_reader(served, study):
    status, _, body = _http(served, "GET", f"/login?invite={study.tokens['erin']}", origin=None)
    assert status == 200 and 'name="invite"' in body and ".submit()" in body
    assert _http(served, "GET", "/", origin=None)[0] == 302  # the GET itself signed nobody in
    carol = _sign_in(served, {"reader": "carol", "password": study.passwords["carol"]})
    status, response, body = _http(served, "POST", "/login", form={"invite": study.tokens["erin"]},
                                   cookie=carol)
    assert status == 200 and "signed in as reader carol" in body and response.getheader("Set-Cookie") is None
    erin = _sign_in(served, {"invite": study.tokens["erin"], "confirm": "1"}, cookie=carol)
    assert _signed_in(served, erin) and not _signed_in(served, carol)


def test_failed_sign_ins_are_throttled_and_other_readers_are_not(served, study):
    statuses = [_http(served, "POST", "/login", form={"reader": "erin", "password": f"guess-{i}"})[0]
                for i in range(6)]
    assert statuses[:5] == [403] * 5 and statuses[5] == 429
    status, response, body = _http(served, "POST", "/login",
                                   form={"reader": "erin", "password": study.passwords["erin"]})
    assert status == 429 and int(response.getheader("Retry-After")) > 0 and "Too many" in body
    started = time.perf_counter()
    cookie = _sign_in(served, {"reader": "bob", "password": study.passwords["bob"]})
    assert _signed_in(served, cookie) and time.perf_counter() - started < 5


def test_sign_in_throttle_per_reader_per_client_and_window():
    from ganaudit.reader_study.app.login import SignInThrottle

    now = [1000.0]
    throttle = SignInThrottle(per_reader=3, per_client=5, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1", "alice") == 0
        throttle.failed("10.0.0.1", "alice")
    assert throttle.retry_after("10.0.0.1", "alice") == pytest.approx(60)
    assert throttle.retry_after("10.0.0.2", "alice") > 0  # per reader, from any client
    assert throttle.retry_after("10.0.0.2", "bob") == 0  # another reader elsewhere: unaffected
    for reader in ("r1", "r2"):  # per client, whatever reader ids it tries
        throttle.failed("10.0.0.1", reader)
    assert throttle.retry_after("10.0.0.1", "bob") > 0
    throttle.failed("10.0.0.3", None)  # a wrong invite token counts for its client only
    assert throttle.retry_after("10.0.0.3", "carol") == 0
    now[0] += 61
    assert throttle.retry_after("10.0.0.1", "alice") == 0 and throttle.retry_after("10.0.0.1", "bob") == 0


def test_reader_load_bench_quick_runs_and_loses_nothing():
    """``bench/reader_load.py --quick``: protocol readers sign in by invite link, answer, and
    survive two SIGKILLs of the server with every confirmed answer stored once."""
    import subprocess
    import sys

    from tests.reader_study.conftest import ROOT

    done = subprocess.run([sys.executable, str(ROOT / "bench" / "reader_load.py"), "--quick", "--no-doc"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "invite sign-in failed" not in done.stdout + done.stderr
    assert done.stdout.count("-> OK") == 2
    assert "lost 0" in done.stdout and "server killed 2 of 2 times" in done.stdout
