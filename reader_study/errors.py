"""Errors of the reader study.

All are ``ganaudit.gan_models.errors.InputError`` (a ``ValueError``), so the command line prints the
message on one line and exits 2. Each message names the problem and the fix.
"""

from __future__ import annotations

from ganaudit.gan_models.errors import InputError


class StudyError(InputError):
    """A study folder, a reader or a case is not what the request expects."""


class UnknownReader(StudyError):
    """The reader id is not enrolled in the study."""


class UnknownCase(StudyError):
    """The case id is not part of the study (or not of this reader's list)."""


class AnswerRejected(StudyError):
    """An answer that cannot be stored: a case not in the reader's list or a bad value.

    A *duplicate* answer is not an error (see ``AnswerStore.add_answer``).
    """


class MissingKey(StudyError):
    """The study folder has no ``key/key.csv``: the analysis cannot tell real from fake."""
