"""The reader's page: one blinded case at a time, answered in the browser.

``CaseViewer`` is the browser side (``reader.js``): the image on a canvas with window/level and
zoom done locally, the real/fake call, the confidence (1 unsure … 3 certain), optional marks
and a note, keyboard shortcuts, and (studies with ``allow_change``) going back to change an
answer. ``ReaderView`` is the thin server side over
``ganaudit.reader_study.session.ReaderSession``: it sends the next case (opaque id and the blinded PNG
as a data URL, nothing else about it) and stores each answer before the next case goes out.

What reaches the browser: the case id (random, opaque), the image bytes, the progress text,
and, for practice cases only, the feedback. Never the truth, a file name or a checkpoint label.
"""

from __future__ import annotations

import base64
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from ganaudit.reader_study.errors import AnswerRejected, StudyError
from ganaudit.reader_study.store import MAX_MARKS, MAX_NOTE

_HERE = Path(__file__).parent
_LOG = logging.getLogger(__name__)
_SERVER_PROBLEM = "The answer could not be saved (server problem); please press Next again."


class CaseViewer(JSComponent):
    """Browser component showing one case; sends ``{"type": "submit", ...}`` messages."""

    case = param.String(default="", doc="Opaque id of the case on screen ('' when finished).")
    image = param.String(default="", doc="The blinded PNG as a data URL.")
    progress = param.String(default="", doc='Progress text, e.g. "case 17 of 100".')
    practice = param.Boolean(default=False, doc="Whether the case on screen is a practice case.")
    feedback = param.String(default="", doc="Feedback on the previous practice case.")
    notice = param.String(default="", doc="Why the last answer was refused, if it was.")
    finished = param.Boolean(default=False, doc="All cases answered.")
    can_change = param.Boolean(default=False, doc="The study lets readers change given answers.")
    reviewing = param.Boolean(default=False, doc="The case on screen was answered before (a change).")
    prev_call = param.String(default="", doc="The stored call of the case under review.")
    prev_confidence = param.Integer(default=0, doc="The stored confidence of the case under review.")
    revision = param.Integer(default=0, doc="Bumped on every push so the browser re-reads the state.")
    reader = param.String(default="", doc="The signed-in reader's id (shown next to 'Sign out').")
    max_note = param.Integer(default=MAX_NOTE, constant=True, doc="Longest note accepted (store.MAX_NOTE).")
    max_marks = param.Integer(default=MAX_MARKS, constant=True, doc="Most marks per case (store.MAX_MARKS).")

    _esm = _HERE / "reader.js"
    _stylesheets = [(_HERE / "reader.css").read_text(encoding="utf-8")]


@lru_cache(maxsize=4096)
def _data_url(path: str) -> str:
    # The study's PNGs are written once and never change, so caching by path is safe.
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _clean_marks(marks: Any) -> list[dict]:
    """Keep well-formed marks only (x, y in 0..1, kind finding|artifact); the store checks again.

    Nothing is cut to the limit: too many marks reach the store, which refuses the answer
    with a message the reader sees.
    """
    if not isinstance(marks, list):
        return []
    clean = []
    for mark in marks:
        if not isinstance(mark, dict):
            continue
        try:
            x, y = float(mark.get("x")), float(mark.get("y"))
        except (TypeError, ValueError):
            continue
        kind = mark.get("kind")
        if 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and kind in ("finding", "artifact"):
            clean.append({"x": x, "y": y, "kind": kind})
    return clean


class ReaderView(pn.viewable.Viewer):
    """One reader's session in the browser (one instance per page load).

    Parameters
    ----------
    study : ganaudit.reader_study.study.Study
        The opened study (public part only: images by opaque id).
    session : ganaudit.reader_study.session.ReaderSession
        The reader's walk through the cases; it marks a case shown when it is handed out and
        commits each answer before returning.
    """

    def __init__(self, study, session, **params):
        super().__init__(**params)
        self._study = study
        self._session = session
        self._review: str | None = None  # an answered case shown again to change its answer
        self._viewer = CaseViewer(sizing_mode="stretch_width", can_change=bool(study.allow_change),
                                  reader=session.reader_id)
        self._viewer.on_msg(self._on_msg)
        self._push()

    def __panel__(self) -> CaseViewer:
        return self._viewer

    @property
    def viewer(self) -> CaseViewer:
        return self._viewer

    def _push(self, *, feedback: str = "", notice: str = "") -> None:
        """Send the case to show (the next unanswered one, or the one under review)."""
        update: dict[str, Any] = {"feedback": feedback, "notice": notice,
                                  "revision": self._viewer.revision + 1,
                                  "reviewing": False, "prev_call": "", "prev_confidence": 0}
        if self._review is not None:
            case = self._review
            previous = self._session.store.answer(self._session.reader_id, case) or {}
            order = self._study.order(self._session.reader_id)
            update.update(reviewing=True, prev_call=str(previous.get("call", "")),
                          prev_confidence=int(previous.get("confidence", 0) or 0),
                          progress=f"changing your answer to case {order.index(case) + 1} of {len(order)}")
        else:
            case = self._session.current_case()
            update["progress"] = self._session.progress_text()
        if case is None:
            update.update(case="", image="", finished=True, practice=False)
        else:
            update.update(case=case, image=_data_url(str(self._study.image_path(case))),
                          finished=False, practice=bool(self._session.is_practice(case)))
        self._viewer.param.update(**update)

    def back(self) -> None:
        """Show the answered counted case before the one on screen, to change its answer.

        Only for studies created with ``--allow-change``; the change is stored as a new row,
        the first answer is kept.
        """
        if not self._study.allow_change:
            self._push(notice="This study does not allow changing given answers.")
            return
        reader = self._session.reader_id
        order = self._study.order(reader)
        answered = self._session.store.answered(reader)
        anchor = self._review if self._review is not None else self._viewer.case
        end = order.index(anchor) if anchor in order else len(order)
        earlier = [c for c in order[:end] if c in answered]
        if not earlier:
            self._push(notice="There is no earlier answer to change.")
            return
        self._review = earlier[-1]
        self._push()

    def resume(self) -> None:
        """Leave a review and go on with the next unanswered case."""
        self._review = None
        self._push()

    def _on_msg(self, event) -> None:
        data = event.data if hasattr(event, "data") else event
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        try:
            if kind == "submit":
                self.submit(data)
            elif kind == "back":
                self.back()
            elif kind == "resume":
                self.resume()
        except Exception:
            # Never a traceback on the reader's screen: say it in words, log the details.
            _LOG.exception("handling a %r message failed", kind)
            self._viewer.param.update(notice=_SERVER_PROBLEM, revision=self._viewer.revision + 1)

    def submit(self, data: dict) -> None:
        """Store one answer from the browser, then show the next unanswered case.

        A double click or a retried message names a case that is already answered: the store
        keeps the first answer and the reader simply sees the next case, no error.
        """
        case = data.get("case")
        note = data.get("note") if isinstance(data.get("note"), str) else ""
        feedback = ""
        try:
            # The values go to the store as received; it refuses anything but the allowed ones.
            result = self._session.submit(case, data.get("call"), data.get("confidence"),
                                          marks=_clean_marks(data.get("marks")), note=note)
        except (AnswerRejected, StudyError) as exc:
            self._push(notice=f"This answer was not stored: {exc}")
            return
        except Exception:
            # A database hiccup: nothing was stored; the same case stays on screen and no
            # further database call is made to say so.
            _LOG.exception("storing an answer failed")
            self._viewer.param.update(notice=_SERVER_PROBLEM, revision=self._viewer.revision + 1)
            return
        if not getattr(result, "duplicate", False):
            feedback = getattr(result, "feedback", None) or ""
        if case == self._review:
            self._review = None
        self._push(feedback=feedback)
