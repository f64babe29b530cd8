"""One reader's walk through a study: practice first, then the counted cases in their order.

The state lives in the answers store, not in memory: after a reload, a dropped connection or
a server restart a new ``ReaderSession`` continues at the next unanswered case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ganaudit.reader_study.errors import AnswerRejected
from ganaudit.reader_study.store import AnswerStore, clean_marks, clean_note, score6
from ganaudit.reader_study.study import Study

__all__ = ["ReaderSession", "SubmitResult", "score6"]


@dataclass(frozen=True)
class SubmitResult:
    """Outcome of ``ReaderSession.submit``.

    ``stored``: a new answer was committed; ``duplicate``: the case already had an answer
    (retried request or double click; nothing went wrong); ``changed``: an answer was revised
    (studies with ``allow_change``); ``feedback``: text for practice cases, else None.
    """

    case_id: str
    stored: bool
    duplicate: bool
    changed: bool = False
    feedback: str | None = None


class ReaderSession:
    """Cases, progress and answers of one reader.

    Parameters
    ----------
    study
        ``Study.open(STUDY)``.
    store
        The study's ``AnswerStore``.
    reader_id
        An enrolled reader (``UnknownReader`` otherwise).
    """

    def __init__(self, study: Study, store: AnswerStore, reader_id: str):
        self.study = study
        self.store = store
        self.reader_id = reader_id
        self._order = study.order(reader_id)  # raises UnknownReader
        self._practice = study.practice(reader_id)
        self._practice_set = set(self._practice)
        self._cases = set(self._order) | self._practice_set

    def is_practice(self, case_id: str) -> bool:
        return case_id in self._practice_set

    def _next(self) -> tuple[str | None, set[str]]:
        done = self.store.answered(self.reader_id)
        for case_id in self._practice:
            if case_id not in done:
                return case_id, done
        for case_id in self._order:
            if case_id not in done:
                return case_id, done
        return None, done

    def current_case(self) -> str | None:
        """The case to show now (marked shown on first call), or None when all are answered."""
        case_id, _ = self._next()
        if case_id is not None:
            self.store.mark_shown(self.reader_id, case_id)
        return case_id

    def finished(self) -> bool:
        return self._next()[0] is None

    def position(self) -> tuple[int, int]:
        """(1-based index, total) of the current case within practice or the counted cases."""
        return self._position(*self._next())

    def _position(self, case_id: str | None, done: set[str]) -> tuple[int, int]:
        if case_id is not None and case_id in self._practice_set:
            return self._practice.index(case_id) + 1, len(self._practice)
        answered = sum(c in done for c in self._order)
        total = len(self._order)
        return min(answered + 1, total), total

    def progress_text(self) -> str:
        """"case 17 of 100", "practice case 1 of 3", or "all 100 cases answered"."""
        case_id, done = self._next()
        index, total = self._position(case_id, done)
        if case_id is None:
            return f"all {total} cases answered"
        if case_id in self._practice_set:
            return f"practice case {index} of {total}"
        return f"case {index} of {total}"

    def submit(self, case_id: str, call: str, confidence: int, marks=(), note: str = "") -> SubmitResult:
        """Store the reader's answer for ``case_id`` (committed before this returns).

        A second answer for the same case is a duplicate (reported, not raised) unless the
        study allows changes and the values differ, in which case it is stored as a change.
        Raises ``AnswerRejected`` for a case not in the reader's list, a case not shown yet,
        or a bad value.
        """
        if case_id not in self._cases:
            raise AnswerRejected(f"case {case_id!r} is not in reader {self.reader_id!r}'s list; "
                                 "answer only the cases the study shows you")
        if self.store.shown_at(self.reader_id, case_id) is None:
            raise AnswerRejected(f"case {case_id!r} has not been shown to {self.reader_id!r} yet; "
                                 "answer the current case first")
        result = self.store.add_answer(self.reader_id, case_id, call, confidence, marks=marks, note=note)
        changed = False
        if result.duplicate and self.study.allow_change and not self.is_practice(case_id):
            current = self.store.answer(self.reader_id, case_id)
            # A change is any difference the reader can make: call, confidence, marks or note.
            given = (call, int(confidence), json.dumps(clean_marks(marks)), clean_note(note))
            if current is not None and (current["call"], int(current["confidence"]),
                                        current["marks"], current["note"]) != given:
                self.store.change_answer(self.reader_id, case_id, call, confidence, marks=marks, note=note)
                changed = True
        feedback = None
        if self.is_practice(case_id):
            truth = self.study.practice_truth(case_id)
            verdict = "correct" if truth == call else "not correct"
            feedback = f"Practice case: this image is {truth}; your answer ({call}) was {verdict}. Practice answers do not count."
        return SubmitResult(case_id=case_id, stored=result.stored, duplicate=result.duplicate and not changed,
                            changed=changed, feedback=feedback)
