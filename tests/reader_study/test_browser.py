"""The reader-study app driven in Chromium (Playwright): what readers and the admin do.

One server per module (``python -m ganaudit study serve``); each scenario uses its own reader
so the scenarios do not depend on each other's answers. Every page records all HTTP responses
and websocket frames it receives; the last test searches them for the truth, the source file
names and the checkpoint labels.
"""

from __future__ import annotations

import csv
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.reader_study.conftest import LABELS, N_CASES, N_PRACTICE

pytestmark = pytest.mark.browser

READY = ".ga-reader[data-state=ready]"
# Everything the reader's browser received, over all scenarios: (kind, where, text).
TRAFFIC: list[tuple[str, str, str]] = []


def _record(page) -> None:
    def on_response(response):
        try:
            body = response.body()
        except Exception:  # redirects and aborted requests have no body
            return
        TRAFFIC.append(("http", response.url, body.decode("utf-8", "replace")))

    def on_websocket(ws):
        def on_frame(payload):
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            TRAFFIC.append(("ws", ws.url, text))

        ws.on("framereceived", on_frame)

    page.on("response", on_response)
    page.on("websocket", on_websocket)


def _count_sent_frames(page) -> list[int]:
    """A one-element list holding the number of websocket frames the page has sent."""
    counter = [0]
    page.on("websocket", lambda ws: ws.on("framesent", lambda _p: counter.__setitem__(0, counter[0] + 1)))
    return counter


def _new_page(browser, *, record: bool = True):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    if record:
        _record(page)
    return page


def _login(page, served, study, reader: str) -> None:
    page.goto(f"{served.url}/")
    page.fill("#reader", reader)
    page.fill("#password", study.passwords[reader])
    page.click("#login-submit")
    page.wait_for_selector(READY)


def _state(page) -> dict:
    root = page.locator(".ga-reader")
    return {
        "case": root.get_attribute("data-case"),
        "state": root.get_attribute("data-state"),
        "progress": page.locator(".ga-progress").text_content(),
        "call": root.get_attribute("data-call"),
        "confidence": root.get_attribute("data-confidence"),
        "marks": int(root.get_attribute("data-marks") or 0),
        "window": float(root.get_attribute("data-window")),
        "level": float(root.get_attribute("data-level")),
        "zoom": float(root.get_attribute("data-zoom")),
    }


def _wait_for_new_case(page, old_case: str) -> None:
    """Wait (Playwright polls; shadow roots are pierced) until another case or the end shows."""
    page.wait_for_selector(f'.ga-reader[data-state=ready]:not([data-case="{old_case}"]), '
                           '.ga-reader[data-state=finished]')


def _answer_by_keys(page, call: str = "f", confidence: str = "2") -> str:
    case = _state(page)["case"]
    page.keyboard.press(call)
    page.keyboard.press(confidence)
    page.keyboard.press("Enter")
    _wait_for_new_case(page, case)
    return case


def _answers(study, reader: str):
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    s = Study.open(study.path)
    store = AnswerStore.for_study(s)
    try:
        frame = store.answers_frame()
    finally:
        store.close()
    return frame[frame["reader_id"] == reader]


def _canvas_sum(page) -> float:
    return page.locator(".ga-canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }")


def test_reader_answers_by_mouse_and_keyboard_window_level_marks_and_reload(browser, served, study):
    from ganaudit.reader_study.study import Study

    reader = "alice"
    s = Study.open(study.path)
    expected = s.practice(reader) + s.order(reader)
    page = _new_page(browser)
    sent = _count_sent_frames(page)
    _login(page, served, study, reader)

    first = _state(page)
    assert first["case"] == expected[0]
    assert first["progress"] == f"practice case 1 of {N_PRACTICE}"
    assert page.locator(".ga-practice").is_visible()

    # Practice case by mouse: feedback for practice only.
    page.locator(".ga-call-real").click()
    page.locator(".ga-confidence[data-confidence='1']").click()
    assert _state(page)["call"] == "real" and _state(page)["confidence"] == "1"
    page.locator(".ga-submit").click()
    _wait_for_new_case(page, first["case"])
    assert "Practice case" in page.locator(".ga-feedback").text_content()
    assert _state(page)["case"] == expected[1]

    # Second practice case by keyboard.
    assert _answer_by_keys(page, "r", "3") == expected[1]
    state = _state(page)
    assert state["case"] == expected[2] and state["progress"] == f"case 1 of {N_CASES}"
    assert page.locator(".ga-feedback").text_content().startswith("Practice case")
    assert not page.locator(".ga-practice").is_visible()

    # Window/level and zoom change the picture without a single message to the server.
    before_frames, before_pixels = sent[0], _canvas_sum(page)
    box = page.locator(".ga-canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down(button="right")
    page.mouse.move(cx - 150, cy - 60, steps=5)
    page.mouse.up(button="right")
    after = _state(page)
    assert after["window"] < 255 and after["level"] > 127.5
    assert _canvas_sum(page) != before_pixels
    page.keyboard.press("+")
    assert _state(page)["zoom"] > 1
    page.keyboard.press("0")
    assert _state(page)["zoom"] == 1 and _state(page)["window"] == 255
    page.locator(".ga-level").evaluate("e => { e.value = 40; e.dispatchEvent(new Event('input')); }")
    assert _state(page)["level"] == 40
    assert sent[0] == before_frames

    # Mark a region (top-left quarter of the image), type a note containing shortcut letters.
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    assert _state(page)["marks"] == 1
    page.locator(".ga-note").click()
    page.keyboard.type("r f 1 n looks off")
    page.keyboard.press("Enter")  # a new line in the note, not a submit
    assert _state(page)["call"] == "" and _state(page)["case"] == expected[2]
    page.keyboard.press("Escape")
    marked = _answer_by_keys(page, "f", "3")
    assert marked == expected[2]

    # Reload mid-study: the reader continues at the next unanswered case.
    assert _answer_by_keys(page, "r", "2") == expected[3]
    before_reload = _state(page)
    page.reload()
    page.wait_for_selector(READY)
    resumed = _state(page)
    assert resumed["case"] == before_reload["case"] == expected[4]
    assert resumed["progress"] == f"case 3 of {N_CASES}"

    rows = _answers(study, reader).set_index("case_id")
    assert list(rows.index) == expected[:4]
    assert rows.loc[expected[0], "call"] == "real" and rows.loc[expected[0], "confidence"] == 1
    assert rows.loc[expected[1], "call"] == "real" and rows.loc[expected[1], "confidence"] == 3
    assert rows.loc[marked, "score6"] == 6
    marks = json.loads(rows.loc[marked, "marks"])
    assert len(marks) == 1 and marks[0]["kind"] == "finding"
    assert marks[0]["x"] == pytest.approx(0.25, abs=0.03) and marks[0]["y"] == pytest.approx(0.25, abs=0.03)
    assert rows.loc[marked, "note"] == "r f 1 n looks off\n"
    assert (rows["seconds"] > 0).all()
    page.context.close()


def test_double_click_stores_one_answer_and_shows_no_error(browser, served, study):
    reader = "erin"
    page = _new_page(browser)
    _login(page, served, study, reader)
    for _ in range(N_PRACTICE):
        _answer_by_keys(page)
    case = _state(page)["case"]
    page.keyboard.press("r")
    page.keyboard.press("1")
    page.locator(".ga-submit").dblclick()
    page.keyboard.press("Enter")  # a retry while the answer is on its way
    _wait_for_new_case(page, case)
    page.keyboard.press("Enter")  # one more that lands on the next case: a bounce, not a request
    assert page.locator(".ga-notice").text_content() == ""
    rows = _answers(study, reader)
    assert (rows["case_id"] == case).sum() == 1
    assert len(rows) == N_PRACTICE + 1

    # Once the case has been on screen a moment, Enter with nothing chosen is explained.
    next_case = _state(page)["case"]
    notice = page.locator(".ga-notice")
    for _ in range(50):  # poll: the bounce window closes about a second after the case showed
        page.keyboard.press("Enter")
        if notice.text_content():
            break
        page.wait_for_timeout(100)
    assert notice.text_content() == "Choose real or fake (R/F) and a confidence (1/2/3) first."
    assert _state(page)["case"] == next_case
    assert len(_answers(study, reader)) == N_PRACTICE + 1
    page.context.close()


def test_two_readers_at_once_see_their_own_orders(browser, served, study):
    from ganaudit.reader_study.study import Study

    s = Study.open(study.path)
    pages = {}
    for reader in ("bob", "carol"):
        pages[reader] = _new_page(browser)
        _login(pages[reader], served, study, reader)
    seen = {reader: [] for reader in pages}
    for _ in range(N_PRACTICE + 3):  # interleaved: one answer each in turn
        for reader, page in pages.items():
            seen[reader].append(_answer_by_keys(page))
    for reader in pages:
        expected = s.practice(reader) + s.order(reader)
        assert seen[reader] == expected[:N_PRACTICE + 3]
        assert list(_answers(study, reader)["case_id"]) == seen[reader]
    assert seen["bob"][N_PRACTICE:] != seen["carol"][N_PRACTICE:]
    for page in pages.values():
        page.context.close()


def test_sigkill_and_restart_lose_no_answer_and_the_reader_resumes(browser, served, study):
    from ganaudit.reader_study.study import Study

    reader = "dave"
    expected = Study.open(study.path).practice(reader) + Study.open(study.path).order(reader)
    page = _new_page(browser)
    _login(page, served, study, reader)
    answered = [_answer_by_keys(page) for _ in range(N_PRACTICE + 2)]
    served.kill()
    assert list(_answers(study, reader)["case_id"]) == answered
    page.wait_for_selector(".ga-reader[data-state=offline]")
    served.start()
    # The page notices the server is back and reloads itself at the next unanswered case.
    page.wait_for_selector(READY, timeout=60_000)
    state = _state(page)
    assert state["case"] == expected[N_PRACTICE + 2]
    assert state["progress"] == f"case 3 of {N_CASES}"
    # The remaining cases, then the end.
    for _ in range(N_CASES - 2):
        _answer_by_keys(page)
    assert page.locator(".ga-reader").get_attribute("data-state") == "finished"
    assert page.locator(".ga-finished").is_visible()
    assert list(_answers(study, reader)["case_id"]) == expected
    page.context.close()


def test_a_page_loaded_while_the_server_dies_recovers_by_itself(browser, served, study):
    """The page arrives, then the server is killed before its scripts and websocket: the page
    must not stay blank for good but reload once the server is back."""
    page = _new_page(browser, record=False)
    _login(page, served, study, "carol")
    killed = []

    def serve_then_kill(route):
        response = route.fetch()
        if not killed:
            served.kill()
            killed.append(True)
        route.fulfill(response=response)

    page.route(f"{served.url}/", serve_then_kill)
    page.goto(f"{served.url}/", wait_until="commit")
    page.wait_for_load_state("load")
    assert killed and page.locator(READY).count() == 0
    page.unroute(f"{served.url}/")
    served.start()
    page.wait_for_selector(READY, timeout=90_000)
    page.context.close()


def test_sign_out_button_signs_out_for_good(browser, served, study):
    page = _new_page(browser, record=False)
    _login(page, served, study, "bob")
    cookies = page.context.cookies()
    page.locator(".ga-who").wait_for()
    assert page.locator(".ga-who").text_content() == "Signed in as bob"
    page.locator(".ga-logout").click()
    page.wait_for_selector("#login-form")
    # The cookie from before signing out, replayed in another browser, opens nothing.
    other = browser.new_context()
    other.add_cookies(cookies)
    replay = other.new_page()
    replay.goto(f"{served.url}/")
    replay.wait_for_selector("#login-form")
    assert replay.locator(".ga-reader").count() == 0
    other.close()
    page.context.close()


def test_an_over_long_note_is_refused_with_a_message_not_cut(browser, served, study):
    from ganaudit.reader_study.store import MAX_NOTE

    page = _new_page(browser, record=False)
    _login(page, served, study, "bob")
    case = _state(page)["case"]
    before = len(_answers(study, "bob"))
    page.fill(".ga-note", "n" * (MAX_NOTE + 5))  # a paste: no length attribute cuts it
    assert page.locator(".ga-note").input_value() == "n" * (MAX_NOTE + 5)
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    page.wait_for_selector(f".ga-notice:has-text('over the limit of {MAX_NOTE}')")
    assert page.locator(".ga-note-count").text_content() == f"{MAX_NOTE + 5} of at most {MAX_NOTE} characters"
    assert _state(page)["case"] == case and len(_answers(study, "bob")) == before
    page.fill(".ga-note", "n" * MAX_NOTE)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    _wait_for_new_case(page, case)
    stored = _answers(study, "bob").set_index("case_id").loc[case]
    assert stored["note"] == "n" * MAX_NOTE and stored["call"] == "real"
    page.context.close()


def test_invite_link_signs_the_reader_in(browser, served, study):
    from ganaudit.reader_study.study import Study

    page = _new_page(browser)
    page.goto(f"{served.url}/?invite={study.tokens['carol']}")
    page.wait_for_selector(READY)
    carol = Study.open(study.path)
    done = set(_answers(study, "carol")["case_id"])
    expected_next = next(c for c in carol.practice("carol") + carol.order("carol") if c not in done)
    assert _state(page)["case"] == expected_next
    bad = _new_page(browser)
    bad.goto(f"{served.url}/login?invite=not-a-token")
    bad.wait_for_selector("#login-error:has-text('not valid')")
    page.context.close()
    bad.context.close()


def test_invite_link_clicked_on_another_site_signs_the_reader_in(browser, served, study):
    """Invite links are clicked in mail and chat pages: a cross-site navigation, on which the
    browser withholds SameSite=Strict cookies from redirects."""
    page = _new_page(browser, record=False)
    link = f"{served.url}/?invite={study.tokens['carol']}"
    page.route("http://mail.example.test/**", lambda route: route.fulfill(
        content_type="text/html", body=f'<a id="go" href="{link}">Join the reading study</a>'))
    page.goto("http://mail.example.test/inbox")
    page.click("#go")
    page.wait_for_selector(READY)
    assert page.url.rstrip("/") == served.url
    page.context.close()


def test_wrong_password_is_refused(browser, served, study):
    page = _new_page(browser)
    page.goto(f"{served.url}/")
    page.fill("#reader", "alice")
    page.fill("#password", "wrong-password")
    page.click("#login-submit")
    assert "wrong password" in page.locator("#login-error").text_content()
    page.fill("#reader", "mallory")
    page.fill("#password", study.passwords["alice"])
    page.click("#login-submit")
    assert "Unknown reader id or wrong password" in page.locator("#login-error").text_content()
    assert page.locator(".ga-reader").count() == 0
    page.context.close()


def test_admin_page_shows_progress_and_exports_and_readers_cannot_reach_it(browser, served, study):
    reader_page = _new_page(browser)
    _login(reader_page, served, study, "alice")
    response = reader_page.goto(f"{served.url}/admin")
    assert response.status == 403
    assert reader_page.locator(".ga-admin-progress").count() == 0
    reader_page.context.close()
    # Without a cookie the admin page only offers the sign-in page.
    with pytest.raises(urllib.error.HTTPError, match="302"):
        urllib.request.build_opener(_NoRedirect).open(f"{served.url}/admin")

    admin = _new_page(browser, record=False)
    admin.goto(f"{served.url}/login?next=/admin")
    admin.fill("#password", "not-the-admin-password")
    admin.click("#login-submit")
    assert "Wrong admin password" in admin.locator("#login-error").text_content()
    admin.fill("#password", study.admin_password)
    admin.click("#login-submit")
    admin.wait_for_selector(".ga-admin-progress table")
    table = admin.locator(".ga-admin-progress table").inner_text()
    for reader in ("alice", "bob", "dave"):
        assert reader in table
    dave_row = next(line for line in table.splitlines() if line.startswith("dave"))
    assert re.split(r"\s+", dave_row)[1:3] == [str(N_CASES), str(N_CASES)]
    with admin.expect_download() as download:
        admin.get_by_text("Download answers (CSV)").click()
    with open(download.value.path(), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"reader_id", "case_id", "call", "confidence", "seconds"} <= set(rows[0])
    assert sum(r["reader_id"] == "dave" for r in rows) == N_CASES + N_PRACTICE
    # The admin's cookie does not open the reader page: it is sent to /admin.
    admin.goto(f"{served.url}/")
    assert admin.url.rstrip("/").endswith("/admin")
    admin.context.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_nothing_sent_to_readers_names_the_truth_sources_or_labels(study):
    if not TRAFFIC:
        pytest.skip("the browser scenarios above did not run")
    with open(study.path / "key" / "key.csv", newline="") as fh:
        key = list(csv.DictReader(fh))
    assert {row["label"] for row in key} >= set(LABELS)
    practice = json.loads((study.path / "practice.json").read_text())
    forbidden = set(LABELS) | set(study.sources) | set(study.folders) | {"key.csv"}
    forbidden |= {row["source"] for row in key if row.get("source")}
    feedback = re.compile(r"Practice case: this image is (real|fake); your answer \((real|fake)\) "
                          r"was (not )?correct")
    ws_texts = [text for kind, _url, text in TRAFFIC if kind == "ws"]
    assert ws_texts, "no websocket frames were captured"
    assert any("data:image/png;base64" in t for t in ws_texts)
    for kind, url, text in TRAFFIC:
        for word in forbidden:
            assert word not in text, f"{word!r} sent to a reader in {kind} {url}"
        if "/static/" not in url:  # library bundles may say "truthy"; our pages and messages may not
            assert "truth" not in text.lower(), f"'truth' sent to a reader in {kind} {url}"
        for row in key:
            if row["case_id"] in practice:
                continue
            assert f'{row["case_id"]},{row["truth"]}' not in text
            assert f'"{row["case_id"]}": "{row["truth"]}"' not in text
        if kind == "ws":
            # Outside the component's own code, "real"/"fake" only appear in practice feedback.
            data = feedback.sub("", _without_code(text))
            assert not re.search(r"\b(real|fake)\b", data), f"truth-like word in {data[:300]}"


def _without_code(text: str) -> str:
    """A websocket frame with the component's JavaScript source ("esm") left out."""
    try:
        obj = json.loads(text)
    except ValueError:
        return text

    def strip(node):
        if isinstance(node, dict):
            return {k: ("" if k == "esm" else strip(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return json.dumps(strip(obj))


@pytest.mark.postgres
def test_served_with_postgresql_keeps_answers_across_sigkill(browser, study, tmp_path):
    import os
    import secrets

    import sqlalchemy as sa

    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study
    from tests.reader_study.conftest import ServedStudy

    base_url = os.environ.get("GANAUDIT_TEST_PG_URL")
    if not base_url:
        pytest.skip("set GANAUDIT_TEST_PG_URL (scripts/test.sh starts a PostgreSQL server)")
    # A database of its own: an answers database belongs to exactly one study.
    name = f"ganaudit_app_{secrets.token_hex(4)}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    db_url = base_url.rsplit("/", 1)[0] + "/" + name
    server = ServedStudy(study.path, db=db_url, log=tmp_path / "server.log")
    try:
        server.start()
        s = Study.open(study.path)
        expected = s.practice("bob") + s.order("bob")
        page = _new_page(browser)
        page.goto(f"{server.url}/?invite={study.tokens['bob']}")
        page.wait_for_selector(READY)
        answered = [_answer_by_keys(page, "r", "1") for _ in range(3)]
        assert answered == expected[:3]
        server.kill()
        store = AnswerStore(db_url, study=s)
        try:
            frame = store.answers_frame()
            assert list(frame["case_id"]) == answered and set(frame["reader_id"]) == {"bob"}
            assert (frame["score6"] == 3).all()
        finally:
            store.close()
        page.wait_for_selector(".ga-reader[data-state=offline]")
        server.start()
        page.wait_for_selector(READY, timeout=60_000)
        assert _state(page)["case"] == expected[3]
        page.context.close()
    finally:
        server.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_changing_an_answer_in_a_study_that_allows_it(browser, study, tmp_path):
    from ganaudit.reader_study.create import create_study
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study
    from tests.reader_study.conftest import ServedStudy

    base = study.path.parent
    created = create_study(base / study.folders[0], [(str(base / study.folders[2]), LABELS[1])],
                           ["ann"], 4, tmp_path / "study", seed=4, allow_change=True)
    order = Study.open(created.path).order("ann")
    server = ServedStudy(Path(created.path), log=tmp_path / "server.log")
    try:
        server.start()
        page = _new_page(browser)
        page.goto(f"{server.url}/?invite={created.readers['ann']['invite_token']}")
        page.wait_for_selector(READY)
        assert page.locator(".ga-back").is_visible() and not page.locator(".ga-resume").is_visible()
        _answer_by_keys(page, "r", "1")
        _answer_by_keys(page, "r", "2")
        page.keyboard.press("b")
        _wait_for_new_case(page, order[2])
        state = _state(page)
        assert state["case"] == order[1] and (state["call"], state["confidence"]) == ("real", "2")
        assert page.locator(".ga-progress").text_content() == "changing your answer to case 2 of 4"
        page.keyboard.press("f")
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        _wait_for_new_case(page, order[1])
        assert _state(page)["case"] == order[2]
        page.locator(".ga-back").click()
        _wait_for_new_case(page, order[2])
        page.keyboard.press("Escape")  # back to the current case without changing anything
        _wait_for_new_case(page, order[1])
        assert _state(page)["case"] == order[2]
        page.context.close()
        store = AnswerStore.for_study(Study.open(created.path))
        try:
            row = store.answer("ann", order[1])
            assert (row["call"], row["confidence"], bool(row["changed"])) == ("fake", 3, True)
            assert store.answer("ann", order[0])["changed"] == False  # noqa: E712
        finally:
            store.close()
    finally:
        server.stop()
